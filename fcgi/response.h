/* response.h - what a handler answers: status, headers, and a JSON body, or a blob
 * streamed from storage (raw, or base64 between a JSON prefix and suffix). */
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
};

/* Buffers are kept across requests: init once, reset after each request. */
void response_init(struct response *r);
void response_reset(struct response *r);
void response_free(struct response *r);

/* Add a header line. */
void resp_header(struct response *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Status + application/json body from o (o is released). */
void resp_json(struct response *r, int status, struct json_object *o);

/* Status + application/json for a body the handler wrote into r->body itself. */
void resp_json_written(struct response *r, int status);

/* The JSON error body of the spec from err: {"code","message","details"}. */
void resp_error(struct response *r, const struct appr_error *err);

/* A blob body: r takes the reader. */
void resp_blob(struct response *r, struct storage_blob_reader *blob, long long size,
	       bool base64);

/* Write status line, headers and (unless head) the body to io.
 * Returns 0, or -1 when the client went away or the blob could not be read. */
int response_send(struct response *r, const struct request_io *io, bool head);

#endif
