/* response.h - what a handler answers: status, headers, and a JSON body, or a blob
 * streamed from storage (raw, or base64 between a JSON prefix and suffix), or only
 * headers for the web server to send a blob file itself. */
#ifndef APPR_RESPONSE_H
#define APPR_RESPONSE_H

#include <stdbool.h>
#include <json-c/json.h>

#include "error.h"
#include "request.h"
#include "storage.h"
#include "util.h"

struct response {
	int status;
	const char *content_type;        /* static string */
	struct strbuf headers;           /* extra "Name: value\r\n" lines */
	struct strbuf body;              /* sent first */
	struct storage_blob_reader *blob;/* then this blob, if set (closed after sending) */
	long long blob_size;
	bool blob_base64;                /* ... encoded as base64 */
	struct strbuf tail;              /* then this */
	bool delegated;                  /* the web server sends the body (X-Sendfile, */
					 /*   X-Accel-Redirect in headers): none here */
};

/* Buffers are kept across requests: init once, reset after each request. */
void response_init(struct response *r);
void response_reset(struct response *r);
void response_free(struct response *r);

/* Add a header line. */
void resp_header(struct response *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Add a header line "name: a b c" (b, c may be NULL), without printf: for the hot
 * paths (blob and pull answers). */
void resp_header_cat(struct response *r, const char *name, const char *a, const char *b,
		     const char *c);

/* Status + application/json body from o (o is released). */
void resp_json(struct response *r, int status, struct json_object *o);

/* Status + application/json for a body the handler wrote into r->body itself. */
void resp_json_written(struct response *r, int status);

/* The JSON error body of the protocol (doc/protocol.md) from err: {"code","message","details"}. */
void resp_error(struct response *r, const struct appr_error *err);

/* The same error as ChartMuseum words its errors: {"error": message}. */
void resp_error_chartmuseum(struct response *r, const struct appr_error *err);

/* A blob body: r takes the reader. */
void resp_blob(struct response *r, struct storage_blob_reader *blob, long long size,
	       bool base64);

/* The web server sends the body named by a header the handler added (X-Sendfile,
 * X-Accel-Redirect): only status, Content-Type and headers are written, no
 * Content-Length (the web server sets it from the file). */
void resp_delegated(struct response *r);

/* 304 Not Modified: status and the headers added (ETag, Cache-Control), no
 * Content-Type, no Content-Length, no body. Drops a blob set before. */
void resp_not_modified(struct response *r);

/* 204 No Content: status and the headers added, no Content-Type, no body. */
void resp_no_content(struct response *r);

/* Write status line, headers and (unless head) the body to io.
 * Returns 0, or -1 when the client went away or the blob could not be read. */
int response_send(struct response *r, const struct request_io *io, bool head);

#endif
