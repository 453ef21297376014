/* response.c - status, headers, JSON, error bodies and streamed blobs. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "b64.h"
#include "response.h"

#define BLOB_CHUNK 65536            /* raw read size when streaming a blob */
#define B64_CHUNK (48 * 1024)       /* a multiple of 3: encodes without padding */

void response_init(struct response *r)
{
	memset(r, 0, sizeof *r);
	r->status = 200;
}

void response_reset(struct response *r)
{
	storage_blob_close(r->blob);
	r->blob = NULL;
	r->blob_size = 0;
	r->blob_base64 = false;
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

void resp_blob(struct response *r, struct storage_blob_reader *blob, long long size, bool base64)
{
	storage_blob_close(r->blob);
	r->blob = blob;
	r->blob_size = size;
	r->blob_base64 = base64;
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

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

static int send_blob(struct response *r, const struct request_io *io)
{
	static unsigned char raw[BLOB_CHUNK];
	static char enc[B64_ENCODED_LEN(B64_CHUNK) + 1];
	size_t held = 0;        /* base64: bytes in raw not yet encoded */
	long long left = r->blob_size;
	while (left > 0) {
		size_t want = r->blob_base64 ? B64_CHUNK - held : sizeof raw;
		if ((long long)want > left)
			want = (size_t)left;
		long n = storage_blob_read(r->blob, raw + held, want);
		if (n <= 0) {
			fprintf(stderr, "appr: blob ended %lld bytes early while sending\n", left);
			return -1;
		}
		left -= n;
		if (!r->blob_base64) {
			if (io->write(io->ctx, raw, (size_t)n) < 0)
				return -1;
			continue;
		}
		held += (size_t)n;
		/* encode whole triples; keep the remainder unless this is the end */
		size_t ready = left == 0 ? held : held - held % 3;
		if (ready == 0)
			continue;
		size_t m = b64_encode(raw, ready, enc);
		if (io->write(io->ctx, enc, m) < 0)
			return -1;
		memmove(raw, raw + ready, held - ready);
		held -= ready;
	}
	return 0;
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
	n = put_str(top, n, reason(r->status));
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
		return -1;
	return 0;
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
	n = put_str(top, n, "Content-Length: ");
	n = put_num(top, n, length);
	n = put_str(top, n, "\r\n");
	if (io->write(io->ctx, top, n) < 0 ||
	    (r->headers.len && io->write(io->ctx, r->headers.buf, r->headers.len) < 0) ||
	    io->write(io->ctx, "\r\n", 2) < 0)
		return -1;
	if (head)
		return 0;
	if (r->body.len && io->write(io->ctx, r->body.buf, r->body.len) < 0)
		return -1;
	if (r->blob && send_blob(r, io) < 0)
		return -1;
	if (r->tail.len && io->write(io->ctx, r->tail.buf, r->tail.len) < 0)
		return -1;
	return 0;
}
