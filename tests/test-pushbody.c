/* test-pushbody.c - the streaming push body reader: splits, escapes, errors, a large blob. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "error.h"
#include "pushbody.h"
#include "util.h"

/* criterion's str takes char *; json-c and literals give const char * */
#define EQ_STR(a, b) eq(str, (char *)(a), (char *)(b))

/* What the blob callback saw. */
struct sink {
	struct strbuf data;
	size_t calls;
	size_t max_piece;
	size_t fail_at;        /* refuse once this many bytes have arrived (0 = never) */
	const char *want;      /* when set, every piece is compared with it as it arrives */
	int mismatch;
};

static int collect(void *ctx, const char *data, size_t len, struct appr_error *err)
{
	struct sink *sk = ctx;
	sk->calls++;
	if (len > sk->max_piece)
		sk->max_piece = len;
	if (sk->want) {
		if (memcmp(sk->want + sk->data.len, data, len))
			sk->mismatch = 1;
		sk->data.len += len;   /* count only, no copy */
	} else {
		sb_append(&sk->data, data, len);
	}
	if (sk->fail_at && sk->data.len >= sk->fail_at)
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "blob is not base64 (test)");
	return 0;
}

/* Feed body in pieces of chunk bytes (the whole at once when 0) and finish.
 * Returns 0 or -1; *out gets the pushbody (caller frees). */
static int run(const char *body, size_t len, size_t chunk, size_t max_member,
	       struct sink *sk, struct pushbody **out, struct appr_error *err)
{
	struct pushbody *p = pushbody_new(collect, sk, max_member);
	*out = p;
	appr_err_clear(err);
	if (!chunk)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		if (pushbody_feed(p, body + off, n, err) < 0)
			return -1;
	}
	return pushbody_finish(p, err);
}

static const char typical[] =
	"{\"blob\": \"SGVsbG8sIHdvcmxkIQ==\", \"release\": \"1.0.0\", \"media_type\": \"helm\",\n"
	" \"metadata\": {\"a\": {\"b\": [1, 2, {\"c\": \"deep\"}]}, \"n\": null},\n"
	" \"force\": true, \"package\": \"ns/name\"}\n";

static void check_typical(struct pushbody *p, const struct sink *sk, const char *how)
{
	cr_assert(eq(sz, sk->data.len, 20), "%s: blob length", how);
	cr_assert(eq(int, memcmp(sk->data.buf, "SGVsbG8sIHdvcmxkIQ==", 20), 0), "%s: blob bytes", how);
	cr_assert(eq(int, pushbody_has(p, "blob"), 1), "%s: has blob", how);
	cr_assert(eq(ptr, pushbody_get(p, "blob"), NULL), "%s: blob is not kept", how);

	struct json_object *rel = pushbody_get(p, "release");
	cr_assert(ne(ptr, rel, NULL), "%s: release present", how);
	cr_assert(eq(int, json_object_is_type(rel, json_type_string), 1), "%s: release is a string", how);
	cr_assert(EQ_STR(json_object_get_string(rel), "1.0.0"), "%s: release value", how);
	cr_assert(EQ_STR(json_object_get_string(pushbody_get(p, "media_type")), "helm"),
		  "%s: media_type value", how);
	cr_assert(EQ_STR(json_object_get_string(pushbody_get(p, "package")), "ns/name"),
		  "%s: package value", how);

	struct json_object *force = pushbody_get(p, "force");
	cr_assert(eq(int, json_object_is_type(force, json_type_boolean), 1), "%s: force is a bool", how);
	cr_assert(eq(int, json_object_get_boolean(force), 1), "%s: force is true", how);

	struct json_object *md = pushbody_get(p, "metadata"), *a, *b, *c;
	cr_assert(eq(int, json_object_is_type(md, json_type_object), 1), "%s: metadata is an object", how);
	cr_assert(eq(int, json_object_object_get_ex(md, "a", &a), 1), "%s: metadata.a", how);
	cr_assert(eq(int, json_object_object_get_ex(a, "b", &b), 1), "%s: metadata.a.b", how);
	cr_assert(eq(sz, json_object_array_length(b), 3), "%s: metadata.a.b length", how);
	cr_assert(eq(int, json_object_get_int(json_object_array_get_idx(b, 1)), 2), "%s: metadata.a.b[1]", how);
	cr_assert(eq(int, json_object_object_get_ex(json_object_array_get_idx(b, 2), "c", &c), 1),
		  "%s: metadata.a.b[2].c", how);
	cr_assert(EQ_STR(json_object_get_string(c), "deep"), "%s: metadata.a.b[2].c value", how);

	cr_assert(eq(int, pushbody_has(p, "name"), 0), "%s: absent member", how);
	cr_assert(eq(ptr, pushbody_get(p, "name"), NULL), "%s: absent member is NULL", how);
}

Test(pushbody, typical_whole)
{
	struct sink sk = {0};
	struct pushbody *p;
	struct appr_error err;
	int rc = run(typical, strlen(typical), 0, 4096, &sk, &p, &err);
	cr_assert(eq(int, rc, 0), "typical body fed whole: %s", err.msg);
	check_typical(p, &sk, "whole");
	cr_assert(eq(sz, sk.calls, 1), "blob fed whole comes in one callback");
	pushbody_free(p);
	sb_free(&sk.data);
}

Test(pushbody, typical_one_byte_chunks)
{
	struct sink sk = {0};
	struct pushbody *p;
	struct appr_error err;
	int rc = run(typical, strlen(typical), 1, 4096, &sk, &p, &err);
	cr_assert(eq(int, rc, 0), "typical body in 1-byte chunks: %s", err.msg);
	check_typical(p, &sk, "1-byte chunks");
	pushbody_free(p);
	sb_free(&sk.data);
}

Test(pushbody, typical_every_split)
{
	size_t len = strlen(typical);
	for (size_t k = 0; k <= len; k++) {
		struct sink sk = {0};
		struct appr_error err;
		struct pushbody *p = pushbody_new(collect, &sk, 4096);
		int rc = pushbody_feed(p, typical, k, &err);
		cr_assert(eq(int, rc, 0), "first part of split at %zu: %s", k, err.msg);
		rc = pushbody_feed(p, typical + k, len - k, &err);
		cr_assert(eq(int, rc, 0), "second part of split at %zu: %s", k, err.msg);
		rc = pushbody_finish(p, &err);
		cr_assert(eq(int, rc, 0), "finish after split at %zu: %s", k, err.msg);
		char how[32];
		snprintf(how, sizeof how, "split at %zu", k);
		check_typical(p, &sk, how);
		cr_assert(le(sz, sk.calls, 2), "split at %zu: at most one callback per chunk", k);
		pushbody_free(p);
		sb_free(&sk.data);
	}
}

Test(pushbody, null_metadata_bom_and_order)
{
	static const char body[] = "\xEF\xBB\xBF \r\n\t{ \"metadata\" : null ,\"force\":false,"
				   "\"release\":\"2.0.0-rc.1\",\"n\":-1.5e+3, \"blob\" : \"\" }  \n";
	struct sink sk = {0};
	struct pushbody *p;
	struct appr_error err;
	int rc = run(body, strlen(body), 1, 64, &sk, &p, &err);
	cr_assert(eq(int, rc, 0), "BOM, whitespace, blob last: %s", err.msg);
	cr_assert(eq(int, pushbody_has(p, "metadata"), 1), "null metadata is present");
	cr_assert(eq(ptr, pushbody_get(p, "metadata"), NULL), "null metadata gives NULL");
	cr_assert(eq(int, json_object_get_boolean(pushbody_get(p, "force")), 0), "force false");
	cr_assert(EQ_STR(json_object_get_string(pushbody_get(p, "release")), "2.0.0-rc.1"),
		  "release after null");
	cr_assert(eq(dbl, json_object_get_double(pushbody_get(p, "n")), -1500.0), "number member");
	cr_assert(eq(int, pushbody_has(p, "blob"), 1), "empty blob is present");
	cr_assert(eq(sz, sk.calls, 0), "empty blob gives no callback");
	pushbody_free(p);
	sb_free(&sk.data);
}

Test(pushbody, empty_object_and_no_blob)
{
	struct sink sk = {0};
	struct pushbody *p;
	struct appr_error err;
	int rc = run("{}", 2, 0, 64, &sk, &p, &err);
	cr_assert(eq(int, rc, 0), "{} is a complete object");
	cr_assert(eq(int, pushbody_has(p, "blob"), 0), "no blob in {}");
	cr_assert(eq(int, pushbody_has(p, "release"), 0), "no release in {}");
	pushbody_free(p);
	pushbody_free(NULL);
}

/* Escapes in the blob at every split point, and in member names. */
Test(pushbody, blob_escapes)
{
	static const char body[] =
		"{\"blob\":\"ab\\/cd\\u0041\\u00e9\\ud83d\\ude00\\ud800x\\\"\\\\\\b\\f\\n\\r\\t+\","
		"\"re\\u006cease\":\"1\"}";
	static const char want[] = "ab/cdA\xC3\xA9\xF0\x9F\x98\x80\xED\xA0\x80x\"\\\b\f\n\r\t+";
	size_t len = strlen(body);
	for (size_t k = 0; k <= len; k++) {
		struct sink sk = {0};
		struct appr_error err;
		struct pushbody *p = pushbody_new(collect, &sk, 64);
		int rc = pushbody_feed(p, body, k, &err);
		if (!rc)
			rc = pushbody_feed(p, body + k, len - k, &err);
		if (!rc)
			rc = pushbody_finish(p, &err);
		cr_assert(eq(int, rc, 0), "escapes, split at %zu: %s", k, err.msg);
		cr_assert(eq(sz, sk.data.len, sizeof want - 1), "escaped blob length, split at %zu", k);
		cr_assert(eq(int, memcmp(sk.data.buf, want, sizeof want - 1), 0),
			  "escaped blob bytes, split at %zu", k);
		cr_assert(EQ_STR(json_object_get_string(pushbody_get(p, "release")), "1"),
			  "escaped member name, split at %zu", k);
		cr_assert(le(sz, sk.calls, 2), "escapes: one callback per chunk, split at %zu", k);
		pushbody_free(p);
		sb_free(&sk.data);
	}
}

/* A client escaping every '/' (as PHP does) still gets one callback per chunk. */
Test(pushbody, batching_with_escapes)
{
	struct strbuf body = {0}, want = {0};
	sb_puts(&body, "{\"blob\":\"");
	for (int i = 0; i < 2000; i++) {
		sb_puts(&body, "abc\\/");
		sb_puts(&want, "abc/");
	}
	sb_puts(&body, "\"}");
	struct sink sk = {0};
	struct pushbody *p;
	struct appr_error err;
	int rc = run(body.buf, body.len, 0, 64, &sk, &p, &err);
	cr_assert(eq(int, rc, 0), "escaped slashes: %s", err.msg);
	cr_assert(eq(sz, sk.calls, 1), "escaped slashes fed whole: one callback");
	cr_assert(eq(sz, sk.data.len, want.len), "escaped slashes: length");
	cr_assert(eq(int, memcmp(sk.data.buf, want.buf, want.len), 0), "escaped slashes: bytes");
	pushbody_free(p);
	sb_free(&sk.data);
	sb_free(&body);
	sb_free(&want);
}

struct bad {
	const char *body;
	size_t len;            /* 0: strlen(body) */
	int http;
	const char *code;
	const char *msg;       /* a substring of the message */
};

static void check_bad(const struct bad *b, size_t chunk, size_t max_member)
{
	size_t len = b->len ? b->len : strlen(b->body);
	struct sink sk = {0};
	struct pushbody *p;
	struct appr_error err;
	int rc = run(b->body, len, chunk, max_member, &sk, &p, &err);
	cr_assert(eq(int, rc, -1), "refused (chunk %zu): %s", chunk, b->body);
	cr_assert(eq(int, err.http, b->http), "status (chunk %zu) of %s: %s", chunk, b->body, err.msg);
	cr_assert(EQ_STR(err.code, (char *)b->code), "code (chunk %zu) of %s", chunk, b->body);
	cr_assert(ne(ptr, strstr(err.msg, b->msg), NULL), "message (chunk %zu) of %s: want \"%s\", got \"%s\"",
		  chunk, b->body, b->msg, err.msg);
	struct appr_error again;
	appr_err_clear(&again);
	cr_assert(eq(int, pushbody_feed(p, "}", 1, &again), -1), "feed after failure fails: %s", b->body);
	cr_assert(EQ_STR(again.msg, err.msg), "feed after failure repeats the error: %s", b->body);
	appr_err_clear(&again);
	cr_assert(eq(int, pushbody_finish(p, &again), -1), "finish after failure fails: %s", b->body);
	cr_assert(eq(int, again.http, b->http), "finish after failure repeats the status: %s", b->body);
	pushbody_free(p);
	sb_free(&sk.data);
}

#define BAD400(body, msg) {body, 0, 400, APPR_E_INVALID_USAGE, msg}

static const struct bad bad_bodies[] = {
	BAD400("", "empty body, expected a JSON object"),
	BAD400(" \n\t ", "empty body, expected a JSON object"),
	BAD400("\xEF\xBB\xBF", "empty body, expected a JSON object"),
	BAD400("[1, 2]", "body must be a JSON object"),
	BAD400("\"blob\"", "body must be a JSON object"),
	BAD400("42", "body must be a JSON object"),
	BAD400("null", "body must be a JSON object"),
	BAD400("blob=abc", "body is not valid JSON: expected '{' (at byte 1)"),
	BAD400("\xEF\xBB{}", "broken byte order mark (at byte 3)"),
	BAD400(" {\"a\":1} x", "unexpected data after the JSON object (at byte 10)"),
	BAD400("{\"a\":1}{}", "unexpected data after the JSON object (at byte 8)"),
	BAD400("{\"a\":1", "body ends before the JSON object is complete (after 6 bytes)"),
	BAD400("{\"blob\":\"abc", "body ends before the JSON object is complete"),
	BAD400("{\"blob\":\"abc\\u00", "body ends before the JSON object is complete"),
	BAD400("{\"metadata\":{\"a\":1}", "body ends before the JSON object is complete"),
	BAD400("{\"rel", "body ends before the JSON object is complete"),
	BAD400("{", "body ends before the JSON object is complete"),
	BAD400("{\"blob\": 5}", "blob must be a base64 string"),
	BAD400("{\"blob\": null}", "blob must be a base64 string"),
	BAD400("{\"blob\": [\"abc\"]}", "blob must be a base64 string"),
	BAD400("{\"blob\":\"a\",\"release\":\"1\",\"blob\":\"b\"}", "member \"blob\" given twice"),
	BAD400("{\"release\":\"1\",\"release\":\"2\"}", "member \"release\" given twice"),
	BAD400("{\"release\":\"1\",\"rel\\u0065ase\":\"2\"}", "member \"release\" given twice"),
	BAD400("{\"a\":1,}", "expected a member name (at byte 8)"),
	BAD400("{,}", "expected a member name (at byte 2)"),
	BAD400("{'a':1}", "expected a member name"),
	BAD400("{\"a\" 1}", "expected ':' after a member name (at byte 6)"),
	BAD400("{\"a\":}", "expected a value (at byte 6)"),
	BAD400("{\"a\":1 2}", "expected ',' or '}' after a value (at byte 8)"),
	BAD400("{\"a\":\"x\"\"y\"}", "expected ',' or '}' after a value"),
	BAD400("{\"blob\":\"ab\x01" "c\"}", "control character in the blob string (at byte 12)"),
	BAD400("{\"blob\":\"ab\ncd\"}", "control character in the blob string"),
	BAD400("{\"release\":\"a\tb\"}", "control character in a string (at byte 14)"),
	BAD400("{\"metadata\":{\"k\":\"a\nb\"}}", "control character in a string"),
	BAD400("{\"k\x01\":1}", "control character in a member name"),
	BAD400("{\"blob\":\"\\x\"}", "unknown escape in a string (at byte 11)"),
	BAD400("{\"blob\":\"\\u12G4\"}", "\\u must be followed by 4 hex digits (at byte 14)"),
	BAD400("{\"a\\q\":1}", "unknown escape in a string"),
	BAD400("{\"a\\u0000b\":1}", "contains a NUL character"),
	BAD400("{\"force\":True}", "not a number, true, false or null (at byte 10)"),
	BAD400("{\"force\":tru}", "not a number, true, false or null"),
	BAD400("{\"n\":01}", "not a number, true, false or null"),
	BAD400("{\"n\":1.}", "not a number, true, false or null"),
	BAD400("{\"n\":+1}", "not a number, true, false or null"),
	BAD400("{\"metadata\":{\"a\":NaN}}", "not a number, true, false or null (at byte 18)"),
	BAD400("{\"metadata\":[-Infinity]}", "not a number, true, false or null"),
	BAD400("{\"metadata\":[1,2}}", "value of member \"metadata\" is not valid JSON"),
	BAD400("{\"metadata\":{\"a\" 1}}", "value of member \"metadata\" is not valid JSON"),
	BAD400("{\"metadata\":{\"a\":1,}}", "value of member \"metadata\" is not valid JSON"),
	BAD400("{\"metadata\":[1 2]}", "value of member \"metadata\" is not valid JSON"),
	BAD400("{\"release\":\"\\x\"}", "value of member \"release\" is not valid JSON"),
	BAD400("{\"metadata\":\"\xff\"}", "value of member \"metadata\" is not valid JSON"),
	BAD400("{\"metadata\":{\"a\":'x'}}", "unexpected character (at byte 18)"),
	BAD400("{\"metadata\":[1]]}", "expected ',' or '}' after a value"),
	{"{\"a\":\0}", 7, 400, APPR_E_INVALID_USAGE, "expected a value (at byte 6)"},
	{"{\"metadata\":[\0]}", 16, 400, APPR_E_INVALID_USAGE, "unexpected character (at byte 14)"},
	{"{\"metadata\":\"012345678901234567890123456789012345678901234567890123456789012345\"}", 0,
	 413, APPR_E_PAYLOAD_TOO_LARGE, "member \"metadata\" is too large (over 64 bytes)"},
	{"{\"metadata\":[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}", 0,
	 413, APPR_E_PAYLOAD_TOO_LARGE, "is too large"},
	{"{\"n\":12345678901234567890123456789012345678901234567890123456789012345}", 0,
	 413, APPR_E_PAYLOAD_TOO_LARGE, "member \"n\" is too large"},
};

Test(pushbody, errors_whole)
{
	for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++)
		check_bad(&bad_bodies[i], 0, 64);
}

Test(pushbody, errors_one_byte_chunks)
{
	for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++)
		check_bad(&bad_bodies[i], 1, 64);
}

Test(pushbody, member_size_limit_is_exact)
{
	/* "x" plus 62 bytes: exactly 64 bytes of raw value text. */
	static const char body[] =
		"{\"metadata\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
	struct sink sk = {0};
	struct pushbody *p;
	struct appr_error err;
	cr_assert(eq(int, run(body, strlen(body), 1, 64, &sk, &p, &err), 0),
		  "a 64-byte member fits a 64-byte limit: %s", err.msg);
	pushbody_free(p);
	cr_assert(eq(int, run(body, strlen(body), 1, 63, &sk, &p, &err), -1),
		  "a 64-byte member does not fit a 63-byte limit");
	cr_assert(eq(int, err.http, 413), "a 64-byte member over a 63-byte limit is a 413");
	pushbody_free(p);
}

static void nested(struct strbuf *sb, int levels)
{
	sb_reset(sb);
	sb_puts(sb, "{\"metadata\":");
	for (int i = 0; i < levels; i++)
		sb_puts(sb, i % 2 ? "{\"k\":" : "[");
	sb_puts(sb, "1");
	for (int i = levels - 1; i >= 0; i--)
		sb_puts(sb, i % 2 ? "}" : "]");
	sb_puts(sb, "}");
}

Test(pushbody, nesting_limit)
{
	struct strbuf body = {0};
	struct sink sk = {0};
	struct pushbody *p;
	struct appr_error err;

	nested(&body, 64);
	cr_assert(eq(int, run(body.buf, body.len, 0, 4096, &sk, &p, &err), 0),
		  "64 levels of nesting are accepted: %s", err.msg);
	struct json_object *v = pushbody_get(p, "metadata");
	for (int i = 0; i < 63; i++)
		v = i % 2 ? json_object_object_get(v, "k") : json_object_array_get_idx(v, 0);
	cr_assert(eq(int, json_object_is_type(v, json_type_object), 1), "innermost container is kept");
	cr_assert(eq(int, json_object_get_int(json_object_object_get(v, "k")), 1), "innermost value");
	pushbody_free(p);

	nested(&body, 65);
	cr_assert(eq(int, run(body.buf, body.len, 0, 4096, &sk, &p, &err), -1), "65 levels are refused");
	cr_assert(eq(int, err.http, 400), "too deep is a 400");
	cr_assert(ne(ptr, strstr(err.msg, "nested too deeply"), NULL), "too deep message: %s", err.msg);
	pushbody_free(p);
	sb_free(&body);
}

Test(pushbody, member_name_limits)
{
	struct strbuf body = {0};
	struct sink sk = {0};
	struct pushbody *p;
	struct appr_error err;

	sb_puts(&body, "{\"");
	for (int i = 0; i < 256; i++)
		sb_putc(&body, 'k');
	sb_puts(&body, "\":1}");
	cr_assert(eq(int, run(body.buf, body.len, 0, 64, &sk, &p, &err), 0),
		  "a 256-byte member name is accepted: %s", err.msg);
	pushbody_free(p);

	sb_reset(&body);
	sb_puts(&body, "{\"");
	for (int i = 0; i < 257; i++)
		sb_putc(&body, 'k');
	sb_puts(&body, "\":1}");
	cr_assert(eq(int, run(body.buf, body.len, 7, 64, &sk, &p, &err), -1), "a 257-byte name is refused");
	cr_assert(eq(int, err.http, 400), "a long name is a 400");
	cr_assert(ne(ptr, strstr(err.msg, "is too long (over 256 bytes)"), NULL), "long name message: %s", err.msg);
	pushbody_free(p);

	sb_reset(&body);
	sb_puts(&body, "{");
	for (int i = 0; i < 64; i++)
		sb_printf(&body, "\"m%d\":%d,", i, i);
	sb_puts(&body, "\"blob\":\"\"}");
	cr_assert(eq(int, run(body.buf, body.len, 0, 64, &sk, &p, &err), 0),
		  "64 members besides blob are accepted: %s", err.msg);
	cr_assert(eq(int, json_object_get_int(pushbody_get(p, "m63")), 63), "the 64th member is kept");
	pushbody_free(p);

	sb_reset(&body);
	sb_puts(&body, "{");
	for (int i = 0; i < 65; i++)
		sb_printf(&body, "\"m%d\":%d,", i, i);
	sb_puts(&body, "\"blob\":\"\"}");
	cr_assert(eq(int, run(body.buf, body.len, 0, 64, &sk, &p, &err), -1), "65 members are refused");
	cr_assert(eq(int, err.http, 400), "too many members is a 400");
	cr_assert(ne(ptr, strstr(err.msg, "too many members"), NULL), "too many members message: %s", err.msg);
	pushbody_free(p);
	sb_free(&body);
	sb_free(&sk.data);
}

Test(pushbody, callback_refusal)
{
	static const char body[] = "{\"release\":\"1.0.0\",\"blob\":\"AAAABBBBCCCCDDDD\",\"force\":true}";
	size_t chunks[] = {0, 1, 5};
	for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
		struct sink sk = {.fail_at = 8};
		struct pushbody *p;
		struct appr_error err;
		int rc = run(body, strlen(body), chunks[c], 64, &sk, &p, &err);
		cr_assert(eq(int, rc, -1), "callback refusal stops the read (chunk %zu)", chunks[c]);
		cr_assert(eq(int, err.http, 422), "callback's status kept (chunk %zu)", chunks[c]);
		cr_assert(EQ_STR(err.code, APPR_E_INVALID_PARAMETERS), "callback's code kept (chunk %zu)",
			  chunks[c]);
		cr_assert(EQ_STR(err.msg, "blob is not base64 (test)"), "callback's message kept (chunk %zu)",
			  chunks[c]);
		size_t calls = sk.calls;
		struct appr_error again;
		appr_err_clear(&again);
		cr_assert(eq(int, pushbody_feed(p, "DDDD", 4, &again), -1), "feed after refusal fails");
		cr_assert(eq(int, again.http, 422), "feed after refusal repeats the callback's status");
		appr_err_clear(&again);
		cr_assert(eq(int, pushbody_finish(p, &again), -1), "finish after refusal fails");
		cr_assert(EQ_STR(again.msg, "blob is not base64 (test)"), "finish repeats the callback's message");
		cr_assert(eq(sz, sk.calls, calls), "no callback after a refusal");
		pushbody_free(p);
		sb_free(&sk.data);
	}
}

/* A 5 MB blob in 64 KiB chunks: exact bytes, bounded pieces, one callback per chunk. */
Test(pushbody, large_blob_streamed)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const size_t blob_len = 5u * 1000 * 1000, chunk = 65536;
	char *blob = xmalloc(blob_len);
	uint32_t x = 12345;
	for (size_t i = 0; i < blob_len; i++) {
		x = x * 1103515245u + 12345u;
		blob[i] = alphabet[(x >> 16) & 63];
	}
	struct strbuf body = {0};
	sb_puts(&body, "{\"release\": \"3.1.4\", \"metadata\": {\"size\": 5000000}, \"blob\": \"");
	sb_append(&body, blob, blob_len);
	sb_puts(&body, "\", \"media_type\": \"helm\"}");

	struct sink sk = {.want = blob};
	struct pushbody *p;
	struct appr_error err;
	int rc = run(body.buf, body.len, chunk, 4096, &sk, &p, &err);
	cr_assert(eq(int, rc, 0), "5 MB body: %s", err.msg);
	cr_assert(eq(sz, sk.data.len, blob_len), "5 MB blob: every byte arrived");
	cr_assert(eq(int, sk.mismatch, 0), "5 MB blob: the bytes are exact");
	cr_assert(le(sz, sk.max_piece, chunk), "5 MB blob: no piece larger than a chunk");
	size_t nchunks = (body.len + chunk - 1) / chunk;
	cr_assert(le(sz, sk.calls, nchunks), "5 MB blob: at most one callback per chunk");
	cr_assert(EQ_STR(json_object_get_string(pushbody_get(p, "media_type")), "helm"),
		  "member after the large blob");
	struct json_object *size;
	cr_assert(eq(int, json_object_object_get_ex(pushbody_get(p, "metadata"), "size", &size), 1),
		  "metadata before the large blob");
	cr_assert(eq(i64, json_object_get_int64(size), 5000000), "metadata.size");
	pushbody_free(p);
	sb_free(&body);
	free(blob);
}
