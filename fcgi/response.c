/* response.c - status, headers, JSON, error bodies and streamed blobs. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "b64.h"
#include "digest.h"
#include "response.h"

#define B64_CHUNK (48 * 1024)       /* a multiple of 3: encodes without padding */

/* One blob read at a time, and its base64 form: the process serves one request at a
 * time. */
static unsigned char raw[RESP_BLOB_CHUNK];
static char enc[B64_ENCODED_LEN(RESP_BLOB_CHUNK) + 1];

void response_init(struct response *r)
{
	memset(r, 0, sizeof *r);
	r->status = 200;
}

void response_reset(struct response *r)
{
	if (r->more)
		r->more(r->more_ctx, NULL);
	r->more = NULL;
	r->more_ctx = NULL;
	storage_blob_close(r->blob);
	r->blob = NULL;
	r->blob_size = 0;
	r->blob_base64 = false;
	r->blob_digest[0] = '\0';
	r->blob_sha256[0] = '\0';
	r->delegated = false;
	r->status = 200;
	r->content_type = NULL;
	sb_reset(&r->headers);
	sb_reset(&r->body);
	sb_reset(&r->tail);
}

void response_free(struct response *r)
{
	response_reset(r);
	sb_free(&r->headers);
	sb_free(&r->body);
	sb_free(&r->tail);
}

void resp_header(struct response *r, const char *name, const char *fmt, ...)
{
	va_list ap;
	sb_puts(&r->headers, name);
	sb_puts(&r->headers, ": ");
	va_start(ap, fmt);
	sb_vprintf(&r->headers, fmt, ap);
	va_end(ap);
	sb_puts(&r->headers, "\r\n");
}

void resp_header_cat(struct response *r, const char *name, const char *a, const char *b,
		     const char *c)
{
	sb_puts(&r->headers, name);
	sb_append(&r->headers, ": ", 2);
	sb_puts(&r->headers, a);
	if (b)
		sb_puts(&r->headers, b);
	if (c)
		sb_puts(&r->headers, c);
	sb_append(&r->headers, "\r\n", 2);
}

void resp_json(struct response *r, int status, struct json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	r->status = status;
	r->content_type = "application/json";
	sb_reset(&r->body);
	sb_append(&r->body, s, len);
	json_object_put(o);
}

void resp_json_written(struct response *r, int status)
{
	r->status = status;
	r->content_type = "application/json";
}

void resp_error(struct response *r, const struct appr_error *err)
{
	int status = err->http ? err->http : 500;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "code", json_object_new_string(err->code ? err->code : APPR_E_INTERNAL));
	json_object_object_add(o, "message",
			       json_object_new_string(err->msg[0] ? err->msg : "internal error"));
	struct json_object *d = json_object_new_object();
	if (err->package[0])
		json_object_object_add(d, "package", json_object_new_string(err->package));
	if (err->release[0])
		json_object_object_add(d, "release", json_object_new_string(err->release));
	if (err->media_type[0])
		json_object_object_add(d, "media_type", json_object_new_string(err->media_type));
	json_object_object_add(o, "details", d);
	storage_blob_close(r->blob);
	r->blob = NULL;
	r->delegated = false;
	sb_reset(&r->headers);
	sb_reset(&r->tail);
	resp_json(r, status, o);
}

void resp_error_chartmuseum(struct response *r, const struct appr_error *err)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "error",
			       json_object_new_string(err->msg[0] ? err->msg : "internal error"));
	resp_error(r, err);                      /* status, and nothing else left over */
	resp_json(r, err->http ? err->http : 500, o);
}

/* Say once per process that blobs without a recorded SHA-256 go unchecked. */
static void say_unchecked(const char *digest)
{
	static bool said;
	if (said)
		return;
	said = true;
	fprintf(stderr, "appr: blob %s has no recorded SHA-256 (its manifest was stored "
		"before it was kept): the bytes of such blobs are sent unchecked, only their "
		"size is (said once)\n", digest);
}

/* The loud line of a blob whose bytes are not the ones pushed. */
static void say_corrupt(const char *digest, const char *want, const char *got, const char *what)
{
	fprintf(stderr, "appr: CORRUPT BLOB %s: its stored bytes have SHA-256 %s, %s was "
		"recorded at push: %s\n", digest, got, want, what);
}

int resp_blob(struct response *r, struct storage_blob_reader *blob, long long size,
	      bool base64, const char *digest, const char *sha256, struct appr_error *err)
{
	char got[DIGEST_HEX_LEN + 1];
	long long have = 0;

	storage_blob_close(r->blob);
	r->blob = NULL;
	snprintf(r->blob_digest, sizeof r->blob_digest, "%s", digest);
	snprintf(r->blob_sha256, sizeof r->blob_sha256, "%s", sha256 ? sha256 : "");
	if (!r->blob_sha256[0])
		say_unchecked(digest);
	if (size > RESP_BLOB_CHUNK) {
		r->blob = blob;
		r->blob_size = size;
		r->blob_base64 = base64;
		return 0;
	}
	while (have < size) {
		long n = storage_blob_read(blob, raw + have, (size_t)(size - have));
		if (n <= 0) {
			storage_blob_close(blob);
			fprintf(stderr, "appr: blob %s: %s after %lld of its %lld bytes: not "
				"served\n", digest, n < 0 ? "a read failed" : "it ends", have, size);
			return appr_err(err, 500, APPR_E_INTERNAL,
					"blob sha256:%s cannot be read from storage", digest);
		}
		have += n;
	}
	storage_blob_close(blob);
	if (r->blob_sha256[0]) {
		digest_sha256_hex(raw, (size_t)size, got);
		if (strcmp(got, r->blob_sha256) != 0) {
			say_corrupt(digest, r->blob_sha256, got, "not served");
			return appr_err(err, 500, APPR_E_INTERNAL,
					"blob sha256:%s is damaged in storage: its bytes are not "
					"the ones pushed", digest);
		}
	}
	if (base64)
		sb_append(&r->body, enc, b64_encode(raw, (size_t)size, enc));
	else
		sb_append(&r->body, raw, (size_t)size);
	return 0;
}

void resp_delegated(struct response *r)
{
	storage_blob_close(r->blob);
	r->blob = NULL;
	r->delegated = true;
}

void resp_not_modified(struct response *r)
{
	storage_blob_close(r->blob);
	r->blob = NULL;
	r->delegated = false;
	r->status = 304;
	r->content_type = NULL;
	sb_reset(&r->body);
	sb_reset(&r->tail);
}

void resp_no_content(struct response *r)
{
	resp_not_modified(r);
	r->status = 204;
}

const char *resp_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 416: return "Range Not Satisfiable";
	case 422: return "Unprocessable Entity";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default: return status >= 500 ? "Server Error" : "Error";
	}
}

/* Stream r's blob to io (base64-encoded when r->blob_base64), hashing it as it goes;
 * the last read is sent only when the SHA-256 of every byte is the expected one.
 * Returns an enum resp_sent. */
static int send_blob(struct response *r, const struct request_io *io)
{
	struct digest_ctx *d = r->blob_sha256[0] ? digest_new() : NULL;
	char got[DIGEST_HEX_LEN + 1];
	size_t held = 0;        /* base64: bytes in raw not yet encoded */
	long long left = r->blob_size;
	int rc = RESP_SENT;
	while (left > 0) {
		size_t want = r->blob_base64 ? B64_CHUNK - held : sizeof raw;
		if ((long long)want > left)
			want = (size_t)left;
		long n = storage_blob_read(r->blob, raw + held, want);
		if (n <= 0) {
			fprintf(stderr, "appr: blob %s: %s %lld bytes before its end while "
				"sending: the answer is cut short\n", r->blob_digest,
				n < 0 ? "a read failed" : "it ended", left);
			rc = RESP_CUT_SHORT;
			goto out;
		}
		left -= n;
		if (d) {
			digest_update(d, raw + held, (size_t)n);
			if (left == 0) {       /* the last read: sent only if every byte is right */
				digest_final_hex(d, got);
				if (strcmp(got, r->blob_sha256) != 0) {
					say_corrupt(r->blob_digest, r->blob_sha256, got,
						    "its last bytes are held back, the answer is "
						    "cut short");
					rc = RESP_CUT_SHORT;
					goto out;
				}
			}
		}
		if (!r->blob_base64) {
			if (io->write(io->ctx, raw, (size_t)n) < 0) {
				rc = RESP_CLIENT_GONE;
				goto out;
			}
			continue;
		}
		held += (size_t)n;
		/* encode whole triples; keep the remainder unless this is the end */
		size_t ready = left == 0 ? held : held - held % 3;
		if (ready == 0)
			continue;
		size_t m = b64_encode(raw, ready, enc);
		if (io->write(io->ctx, enc, m) < 0) {
			rc = RESP_CLIENT_GONE;
			goto out;
		}
		memmove(raw, raw + ready, held - ready);
		held -= ready;
	}
out:
	digest_free(d);
	return rc;
}

/* Append s at top + n; returns the new length (the caller sized top). */
static size_t put_str(char *top, size_t n, const char *s)
{
	size_t len = strlen(s);
	memcpy(top + n, s, len);
	return n + len;
}

/* Append the decimal v (>= 0) at top + n. */
static size_t put_num(char *top, size_t n, long long v)
{
	char d[24];
	size_t k = 0;
	do
		d[k++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (k > 0)
		top[n++] = d[--k];
	return n;
}

/* "Status: NNN Reason\r\n" and, except for 204 and 304, "Content-Type: ...\r\n" into top
 * (cap bytes, at least 64 more than the content type); returns the length. */
static size_t status_line(const struct response *r, char *top, size_t cap)
{
	const char *ct = r->content_type ? r->content_type : "application/json";
	size_t n = put_str(top, 0, "Status: ");
	n = put_num(top, n, r->status < 100 || r->status > 999 ? 500 : r->status);
	top[n++] = ' ';
	n = put_str(top, n, resp_reason(r->status));
	n = put_str(top, n, "\r\n");
	if (r->status == 204 || r->status == 304 || strlen(ct) > cap - n - 32)
		return n;
	n = put_str(top, n, "Content-Type: ");
	n = put_str(top, n, ct);
	return put_str(top, n, "\r\n");
}

/* Status line and the handler's headers only (204, 304, delegated bodies). */
static int send_head_only(struct response *r, const struct request_io *io)
{
	char top[256];
	size_t n = status_line(r, top, sizeof top);
	if (io->write(io->ctx, top, n) < 0 ||
	    (r->headers.len && io->write(io->ctx, r->headers.buf, r->headers.len) < 0) ||
	    io->write(io->ctx, "\r\n", 2) < 0)
		return RESP_CLIENT_GONE;
	return RESP_SENT;
}

int response_send(struct response *r, const struct request_io *io, bool head)
{
	if (r->status == 204 || r->status == 304 || r->delegated)
		return send_head_only(r, io);
	long long blob_len = !r->blob ? 0
		: r->blob_base64 ? (long long)B64_ENCODED_LEN((unsigned long long)r->blob_size)
		: r->blob_size;
	long long length = (long long)r->body.len + blob_len + (long long)r->tail.len;
	char top[256];
	size_t n = status_line(r, top, sizeof top - 48);
	if (!r->more) {
		n = put_str(top, n, "Content-Length: ");
		n = put_num(top, n, length);
		n = put_str(top, n, "\r\n");
	}
	if (io->write(io->ctx, top, n) < 0 ||
	    (r->headers.len && io->write(io->ctx, r->headers.buf, r->headers.len) < 0) ||
	    io->write(io->ctx, "\r\n", 2) < 0)
		return RESP_CLIENT_GONE;
	if (head)
		return RESP_SENT;
	if (r->body.len && io->write(io->ctx, r->body.buf, r->body.len) < 0)
		return RESP_CLIENT_GONE;
	if (r->blob) {
		int rc = send_blob(r, io);
		if (rc != RESP_SENT)
			return rc;
	}
	for (int more = r->more ? 1 : 0; more > 0;) {
		sb_reset(&r->body);
		more = r->more(r->more_ctx, &r->body);
		if (more < 0)
			return RESP_CUT_SHORT;
		if (r->body.len && io->write(io->ctx, r->body.buf, r->body.len) < 0)
			return RESP_CLIENT_GONE;
	}
	if (r->tail.len && io->write(io->ctx, r->tail.buf, r->tail.len) < 0)
		return RESP_CLIENT_GONE;
	return RESP_SENT;
}
