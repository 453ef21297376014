/* pushbody.c - streaming scanner of the push body: "blob" goes out in pieces, other members are kept and parsed with json-c. */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pushbody.h"
#include "util.h"

#define KEY_MAX     256      /* longest member name, in bytes after escapes */
#define DEPTH_MAX   64       /* deepest nesting of {} and [] inside a member value */
#define MEMBERS_MAX 64       /* top-level members other than "blob" */
#define OUT_FLUSH   65536    /* decoded blob bytes buffered before the callback gets them */
#define NO_TOKEN    SIZE_MAX

enum state {
	ST_START,        /* before the '{' (whitespace, a BOM at byte 0) */
	ST_BOM,          /* inside the UTF-8 byte order mark */
	ST_FIRST_KEY,    /* after '{': a member name or '}' */
	ST_NEXT_KEY,     /* after ',': a member name */
	ST_KEY,          /* inside a member name */
	ST_COLON,        /* after a member name */
	ST_VALUE,        /* after ':' */
	ST_BLOB,         /* inside the blob string */
	ST_RAW,          /* inside the value of another member */
	ST_AFTER_VALUE,  /* ',' or '}' */
	ST_DONE,         /* after the closing '}': whitespace only */
	ST_FAILED,
};

/* What raw_byte() found. */
enum raw_step { RAW_MORE, RAW_END, RAW_END_BEFORE };

struct member {
	char *key;
	struct json_object *val;   /* NULL for a JSON null */
};

struct pushbody {
	pushbody_blob_fn blob_fn;
	void *ctx;
	size_t max_member;
	enum state st;
	size_t pos;                /* body bytes consumed before the current chunk */
	int bom_len;               /* BOM bytes matched so far */
	int finished;

	/* escape decoding in member names and the blob */
	int esc;                   /* 0 none, 1 after '\\', 2..5 expecting \u hex digit esc-2 */
	unsigned ucode;
	unsigned hi;               /* a high surrogate waiting for its low half, or 0 */

	struct strbuf key;         /* the member name being read or last read */
	struct strbuf out;         /* decoded blob bytes not yet given to the callback */

	/* raw text of the current non-blob value */
	struct strbuf raw;
	int depth;
	int in_str;
	int str_esc;
	size_t tok_start;          /* raw offset of the bare token in progress, or NO_TOKEN */

	int has_blob;
	struct member members[MEMBERS_MAX];
	size_t nmembers;
	struct json_tokener *tok;
	struct appr_error fail;    /* the first failure, repeated by every later call */
};

static int fail(struct pushbody *p, struct appr_error *err, int http, const char *code,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct pushbody *p, struct appr_error *err, int http, const char *code,
		const char *fmt, ...)
{
	memset(&p->fail, 0, sizeof p->fail);
	va_list ap;
	va_start(ap, fmt);
	appr_verr(&p->fail, http, code, fmt, ap);
	va_end(ap);
	p->st = ST_FAILED;
	return appr_err(err, http, code, "%s", p->fail.msg);   /* keeps err's details */
}

/* The earlier failure again. */
static int repeat_fail(const struct pushbody *p, struct appr_error *err)
{
	return appr_err(err, p->fail.http, p->fail.code, "%s", p->fail.msg);
}

static int invalid(struct pushbody *p, struct appr_error *err, size_t at, const char *what)
{
	return fail(p, err, 400, APPR_E_INVALID_USAGE,
		    "body is not valid JSON: %s (at byte %zu)", what, at);
}

/* The current member name made safe for a one-line message. */
static const char *show_key(const struct pushbody *p, char buf[48])
{
	size_t n = p->key.len < 40 ? p->key.len : 40;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p->key.buf[i];
		buf[i] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\' ? '?' : (char)c;
	}
	if (n < p->key.len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

static int is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Characters of true, false, null and numbers (and of mistakes like NaN, left to
 * valid_token() to refuse). */
static int is_token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '+' || c == '.';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Is s[0..n) exactly true, false, null or a JSON number? */
static int valid_token(const char *s, size_t n)
{
	if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
	    (n == 4 && !memcmp(s, "null", 4)))
		return 1;
	size_t i = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0') {
		i++;
	} else if (i < n && is_digit(s[i])) {
		while (i < n && is_digit(s[i]))
			i++;
	} else {
		return 0;
	}
	if (i < n && s[i] == '.') {
		i++;
		if (i == n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == n || !is_digit(s[i]))
			return 0;
		while (i < n && is_digit(s[i]))
			i++;
	}
	return i == n;
}

/* UTF-8 of cp (a lone surrogate gets the 3-byte form, for the next layer to refuse). */
static void put_utf8(struct strbuf *sb, unsigned cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	sb_append(sb, b, n);
}

/* A high surrogate not followed by its low half is written on its own. */
static void put_hi(struct pushbody *p, struct strbuf *sink)
{
	if (p->hi) {
		put_utf8(sink, p->hi);
		p->hi = 0;
	}
}

/* One byte of an escape sequence (p->esc != 0) inside a string; output to sink. */
static int esc_byte(struct pushbody *p, unsigned char c, struct strbuf *sink, size_t at,
		    struct appr_error *err)
{
	if (p->esc == 1) {
		char o;
		switch (c) {
		case '"': o = '"'; break;
		case '\\': o = '\\'; break;
		case '/': o = '/'; break;
		case 'b': o = '\b'; break;
		case 'f': o = '\f'; break;
		case 'n': o = '\n'; break;
		case 'r': o = '\r'; break;
		case 't': o = '\t'; break;
		case 'u':
			p->esc = 2;
			p->ucode = 0;
			return 0;
		default:
			return invalid(p, err, at, "unknown escape in a string");
		}
		put_hi(p, sink);
		sb_putc(sink, o);
		p->esc = 0;
		return 0;
	}
	int v = util_hexval(c);
	if (v < 0)
		return invalid(p, err, at, "\\u must be followed by 4 hex digits");
	p->ucode = p->ucode * 16 + (unsigned)v;
	if (++p->esc < 6)
		return 0;
	p->esc = 0;
	unsigned u = p->ucode;
	if (p->hi && u >= 0xDC00 && u <= 0xDFFF) {
		put_utf8(sink, 0x10000 + ((p->hi - 0xD800) << 10) + (u - 0xDC00));
		p->hi = 0;
		return 0;
	}
	put_hi(p, sink);
	if (u >= 0xD800 && u <= 0xDBFF)
		p->hi = u;
	else
		put_utf8(sink, u);
	return 0;
}

/* Hand data to the callback; a refusal fails p with the callback's error. */
static int emit(struct pushbody *p, const unsigned char *data, size_t len,
		struct appr_error *err)
{
	if (!len || !p->blob_fn)
		return 0;
	if (p->blob_fn(p->ctx, (const char *)data, len, err) == 0)
		return 0;
	if (err)
		p->fail = *err;
	else
		appr_err(&p->fail, 500, APPR_E_INTERNAL, "storing the blob failed");
	p->st = ST_FAILED;
	return -1;
}

static int flush_out(struct pushbody *p, struct appr_error *err)
{
	if (!p->out.len)
		return 0;
	int rc = emit(p, (const unsigned char *)p->out.buf, p->out.len, err);
	sb_reset(&p->out);
	return rc;
}

/* Length of the leading run of s[0..n) holding no '"', '\\' or control byte:
 * eight bytes at a time, then byte by byte inside the word that stopped it. */
static size_t plain_run(const unsigned char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	size_t i = 0;
	while (n - i >= 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
		uint64_t hit = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w);
		if (hit & high)
			break;
		i += 8;
	}
	while (i < n && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
		i++;
	return i;
}

/* Blob string content from s[*ip]; stops after the closing quote or at len.
 * Runs go to the callback straight from the input unless escapes force a copy. */
static int blob_scan(struct pushbody *p, const unsigned char *s, size_t len, size_t *ip,
		     struct appr_error *err)
{
	size_t i = *ip;
	while (i < len) {
		if (p->esc) {
			if (esc_byte(p, s[i], &p->out, p->pos + i + 1, err) < 0)
				return -1;
			i++;
			if (p->out.len >= OUT_FLUSH && flush_out(p, err) < 0)
				return -1;
			continue;
		}
		size_t start = i;
		i += plain_run(s + i, len - i);
		if (i > start) {
			put_hi(p, &p->out);
			if (!p->out.len && (i == len || s[i] == '"')) {
				if (emit(p, s + start, i - start, err) < 0)
					return -1;
			} else {
				sb_append(&p->out, s + start, i - start);
				if (p->out.len >= OUT_FLUSH && flush_out(p, err) < 0)
					return -1;
			}
		}
		if (i == len)
			break;
		if (s[i] == '"') {
			put_hi(p, &p->out);
			if (flush_out(p, err) < 0)
				return -1;
			p->st = ST_AFTER_VALUE;
			*ip = i + 1;
			return 0;
		}
		if (s[i] == '\\') {
			p->esc = 1;
			i++;
			continue;
		}
		return invalid(p, err, p->pos + i + 1, "control character in the blob string");
	}
	*ip = i;
	return flush_out(p, err);
}

/* The member name is complete: refuse a NUL, a duplicate, one member too many. */
static int key_done(struct pushbody *p, struct appr_error *err)
{
	char shown[48];
	if (memchr(p->key.buf, '\0', p->key.len))
		return fail(p, err, 400, APPR_E_INVALID_USAGE,
			    "member name \"%s\" contains a NUL character", show_key(p, shown));
	if (!strcmp(p->key.buf, "blob")) {
		if (p->has_blob)
			return fail(p, err, 400, APPR_E_INVALID_USAGE,
				    "member \"blob\" given twice");
		p->has_blob = 1;
		return 0;
	}
	for (size_t i = 0; i < p->nmembers; i++)
		if (!strcmp(p->members[i].key, p->key.buf))
			return fail(p, err, 400, APPR_E_INVALID_USAGE,
				    "member \"%s\" given twice", show_key(p, shown));
	if (p->nmembers == MEMBERS_MAX)
		return fail(p, err, 400, APPR_E_INVALID_USAGE,
			    "too many members in the body (the limit is %d besides \"blob\")",
			    MEMBERS_MAX);
	return 0;
}

/* First byte of a non-blob value. */
static int raw_start(struct pushbody *p, unsigned char c, size_t at, struct appr_error *err)
{
	if (!p->max_member) {
		char shown[48];
		return fail(p, err, 413, APPR_E_PAYLOAD_TOO_LARGE,
			    "member \"%s\" is too large (over 0 bytes)", show_key(p, shown));
	}
	sb_reset(&p->raw);
	p->depth = 0;
	p->in_str = 0;
	p->str_esc = 0;
	p->tok_start = NO_TOKEN;
	if (c == '"')
		p->in_str = 1;
	else if (c == '{' || c == '[')
		p->depth = 1;
	else if (is_token_char(c))
		p->tok_start = 0;
	else
		return invalid(p, err, at, "expected a value");
	sb_putc(&p->raw, (char)c);
	return 0;
}

/* Parse the complete raw value with json-c and keep it. */
static int raw_done(struct pushbody *p, struct appr_error *err)
{
	char shown[48];
	json_tokener_reset(p->tok);
	/* The terminating NUL is passed too: it ends a bare number or word. */
	struct json_object *v = json_tokener_parse_ex(p->tok, p->raw.buf, (int)p->raw.len + 1);
	enum json_tokener_error e = json_tokener_get_error(p->tok);
	if (e != json_tokener_success || json_tokener_get_parse_end(p->tok) != p->raw.len) {
		json_object_put(v);
		return fail(p, err, 400, APPR_E_INVALID_USAGE,
			    "value of member \"%s\" is not valid JSON (%s)", show_key(p, shown),
			    e != json_tokener_success ? json_tokener_error_desc(e)
						      : "unexpected data after it");
	}
	struct member *m = &p->members[p->nmembers++];
	m->key = xstrndup(p->key.buf, p->key.len);
	m->val = v;
	p->st = ST_AFTER_VALUE;
	return 0;
}

/* One more byte of a non-blob value: RAW_MORE, RAW_END (the byte closed the value),
 * RAW_END_BEFORE (a bare word ended just before this byte, which is not part of it). */
static int raw_byte(struct pushbody *p, unsigned char c, size_t at, struct appr_error *err)
{
	char shown[48];
	if (p->in_str) {
		if (p->str_esc)
			p->str_esc = 0;
		else if (c == '\\')
			p->str_esc = 1;
		else if (c == '"')
			p->in_str = 0;
		else if (c < 0x20)
			return invalid(p, err, at, "control character in a string");
	} else if (is_token_char(c)) {
		if (p->tok_start == NO_TOKEN)
			p->tok_start = p->raw.len;
	} else {
		if (p->tok_start != NO_TOKEN) {
			if (!valid_token(p->raw.buf + p->tok_start, p->raw.len - p->tok_start))
				return invalid(p, err, at - (p->raw.len - p->tok_start),
					       "not a number, true, false or null");
			p->tok_start = NO_TOKEN;
		}
		if (!p->depth)
			return RAW_END_BEFORE;
		switch (c) {
		case '"':
			p->in_str = 1;
			break;
		case '{':
		case '[':
			if (++p->depth > DEPTH_MAX)
				return fail(p, err, 400, APPR_E_INVALID_USAGE,
					    "value of member \"%s\" is nested too deeply (over %d levels)",
					    show_key(p, shown), DEPTH_MAX);
			break;
		case '}':
		case ']':
			p->depth--;
			break;
		case ',':
		case ':':
			break;
		default:
			if (!is_ws(c))
				return invalid(p, err, at, "unexpected character");
		}
	}
	if (p->raw.len >= p->max_member)
		return fail(p, err, 413, APPR_E_PAYLOAD_TOO_LARGE,
			    "member \"%s\" is too large (over %zu bytes)", show_key(p, shown),
			    p->max_member);
	sb_putc(&p->raw, (char)c);
	return !p->in_str && !p->depth && p->tok_start == NO_TOKEN ? RAW_END : RAW_MORE;
}

struct pushbody *pushbody_new(pushbody_blob_fn blob_fn, void *ctx, size_t max_member)
{
	struct pushbody *p = xcalloc(1, sizeof *p);
	p->blob_fn = blob_fn;
	p->ctx = ctx;
	/* json-c takes an int length; the NUL passed with the text needs one more. */
	p->max_member = max_member < INT_MAX - 1 ? max_member : INT_MAX - 1;
	p->st = ST_START;
	p->tok_start = NO_TOKEN;
	/* allocated from the start, so .buf is a string even when empty */
	sb_append(&p->key, "", 0);
	sb_append(&p->raw, "", 0);
	p->tok = json_tokener_new_ex(DEPTH_MAX + 1);
	if (!p->tok) {
		fprintf(stderr, "appr: out of memory (json_tokener_new_ex)\n");
		abort();
	}
	json_tokener_set_flags(p->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	return p;
}

int pushbody_feed(struct pushbody *p, const char *data, size_t len, struct appr_error *err)
{
	char shown[48];
	if (p->st == ST_FAILED)
		return repeat_fail(p, err);
	if (p->finished)
		return appr_err(err, 500, APPR_E_INTERNAL, "push body fed after its end");
	const unsigned char *s = (const unsigned char *)data;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t at = p->pos + i + 1;   /* 1-based position in the body, for messages */
		switch (p->st) {
		case ST_START:
			if (is_ws(c)) {
				i++;
			} else if (c == 0xEF && at == 1) {
				p->st = ST_BOM;
				p->bom_len = 1;
				i++;
			} else if (c == '{') {
				p->st = ST_FIRST_KEY;
				i++;
			} else if (c == '[' || c == '"' || c == '-' || is_digit((char)c) ||
				   c == 't' || c == 'f' || c == 'n') {
				return fail(p, err, 400, APPR_E_INVALID_USAGE,
					    "body must be a JSON object");
			} else {
				return invalid(p, err, at, "expected '{'");
			}
			break;
		case ST_BOM:
			if (c != (p->bom_len == 1 ? 0xBB : 0xBF))
				return invalid(p, err, at, "broken byte order mark");
			if (++p->bom_len == 3)
				p->st = ST_START;
			i++;
			break;
		case ST_FIRST_KEY:
		case ST_NEXT_KEY:
			if (is_ws(c)) {
				i++;
			} else if (c == '"') {
				sb_reset(&p->key);
				p->st = ST_KEY;
				i++;
			} else if (c == '}' && p->st == ST_FIRST_KEY) {
				p->st = ST_DONE;
				i++;
			} else {
				return invalid(p, err, at, "expected a member name");
			}
			break;
		case ST_KEY:
			if (p->esc) {
				if (esc_byte(p, c, &p->key, at, err) < 0)
					return -1;
			} else if (c == '"') {
				put_hi(p, &p->key);
				if (key_done(p, err) < 0)
					return -1;
				p->st = ST_COLON;
			} else if (c == '\\') {
				p->esc = 1;
			} else if (c < 0x20) {
				return invalid(p, err, at, "control character in a member name");
			} else {
				put_hi(p, &p->key);
				sb_putc(&p->key, (char)c);
			}
			if (p->key.len > KEY_MAX)
				return fail(p, err, 400, APPR_E_INVALID_USAGE,
					    "member name \"%s\" is too long (over %d bytes)",
					    show_key(p, shown), KEY_MAX);
			i++;
			break;
		case ST_COLON:
			if (c == ':')
				p->st = ST_VALUE;
			else if (!is_ws(c))
				return invalid(p, err, at, "expected ':' after a member name");
			i++;
			break;
		case ST_VALUE:
			if (is_ws(c)) {
				i++;
			} else if (!strcmp(p->key.buf, "blob")) {
				if (c != '"')
					return fail(p, err, 400, APPR_E_INVALID_USAGE,
						    "blob must be a base64 string");
				p->st = ST_BLOB;
				i++;
			} else {
				/* no value ends on its first byte */
				if (raw_start(p, c, at, err) < 0)
					return -1;
				p->st = ST_RAW;
				i++;
			}
			break;
		case ST_BLOB:
			if (blob_scan(p, s, len, &i, err) < 0)
				return -1;
			break;
		case ST_RAW: {
			int r = raw_byte(p, c, at, err);
			if (r < 0)
				return -1;
			if (r == RAW_MORE || r == RAW_END)
				i++;
			if (r != RAW_MORE && raw_done(p, err) < 0)
				return -1;
			break;
		}
		case ST_AFTER_VALUE:
			if (c == ',')
				p->st = ST_NEXT_KEY;
			else if (c == '}')
				p->st = ST_DONE;
			else if (!is_ws(c))
				return invalid(p, err, at, "expected ',' or '}' after a value");
			i++;
			break;
		case ST_DONE:
			if (!is_ws(c))
				return fail(p, err, 400, APPR_E_INVALID_USAGE,
					    "unexpected data after the JSON object (at byte %zu)", at);
			i++;
			break;
		case ST_FAILED:
			return repeat_fail(p, err);
		}
	}
	p->pos += len;
	return 0;
}

int pushbody_finish(struct pushbody *p, struct appr_error *err)
{
	if (p->st == ST_FAILED)
		return repeat_fail(p, err);
	if (p->st == ST_START)
		return fail(p, err, 400, APPR_E_INVALID_USAGE, "empty body, expected a JSON object");
	if (p->st != ST_DONE)
		return fail(p, err, 400, APPR_E_INVALID_USAGE,
			    "body ends before the JSON object is complete (after %zu bytes)",
			    p->pos);
	p->finished = 1;
	return 0;
}

struct json_object *pushbody_get(struct pushbody *p, const char *key)
{
	for (size_t i = 0; i < p->nmembers; i++)
		if (!strcmp(p->members[i].key, key))
			return p->members[i].val;
	return NULL;
}

int pushbody_has(const struct pushbody *p, const char *key)
{
	if (!strcmp(key, "blob"))
		return p->has_blob;
	for (size_t i = 0; i < p->nmembers; i++)
		if (!strcmp(p->members[i].key, key))
			return 1;
	return 0;
}

void pushbody_free(struct pushbody *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nmembers; i++) {
		free(p->members[i].key);
		json_object_put(p->members[i].val);
	}
	sb_free(&p->key);
	sb_free(&p->out);
	sb_free(&p->raw);
	json_tokener_free(p->tok);
	free(p);
}
