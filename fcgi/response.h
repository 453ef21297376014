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
	char blob_digest[DIGEST_HEX_LEN + 1]; /* ... its digest, for log lines */
	char blob_sha256[DIGEST_HEX_LEN + 1]; /* ... what its bytes must hash to; "" when
					  * unknown (not checked) */
	struct strbuf tail;              /* then this */
	/* A body made a piece at a time (a listing streamed row by row, so that memory
	 * stays bounded and the first byte leaves at once): after body is sent, body is
	 * emptied and more(more_ctx, &body) called until it returns 0 (that piece is the
	 * last) or -1 (it failed and said why on stderr: the answer is cut short, see
	 * RESP_CUT_SHORT); each piece is sent as it comes. No Content-Length is sent (the
	 * web server frames the answer). Called once with out NULL when the request ends,
	 * however it ended, to release what it holds. */
	int (*more)(void *ctx, struct strbuf *out);
	void *more_ctx;
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
/* The reason phrase of an HTTP status ("Not Found"). */
const char *resp_reason(int status);

void resp_json(struct response *r, int status, struct json_object *o);

/* Status + application/json for a body the handler wrote into r->body itself. */
void resp_json_written(struct response *r, int status);

/* The JSON error body of the protocol (doc/protocol.md) from err: {"code","message","details"}. */
void resp_error(struct response *r, const struct appr_error *err);

/* The same error as ChartMuseum words its errors: {"error": message}. */
void resp_error_chartmuseum(struct response *r, const struct appr_error *err);

/* Blobs up to this size are read whole (and checked) by resp_blob, before any header
 * is sent; bigger ones are streamed in reads of this size by response_send. */
#define RESP_BLOB_CHUNK 65536

/* A blob body after what r->body holds: r takes the reader (closed on every path).
 * size is the blob's length (its manifest's, checked against the store by the
 * caller); digest names it in log lines; sha256 is the SHA-256 its bytes must have
 * ("" when unknown: nothing is checked). A blob of at most RESP_BLOB_CHUNK bytes is
 * read now and appended to r->body (base64-encoded when base64), after its SHA-256
 * is checked: returns 0, or -1 with err 500 internal-error (and a line on stderr)
 * when it cannot be read whole or its bytes are not the ones pushed. A bigger blob
 * is left to response_send, which checks it while it sends it; returns 0. */
int resp_blob(struct response *r, struct storage_blob_reader *blob, long long size,
	      bool base64, const char *digest, const char *sha256, struct appr_error *err);

/* The web server sends the body named by a header the handler added (X-Sendfile,
 * X-Accel-Redirect): only status, Content-Type and headers are written, no
 * Content-Length (the web server sets it from the file). */
void resp_delegated(struct response *r);

/* 304 Not Modified: status and the headers added (ETag, Cache-Control), no
 * Content-Type, no Content-Length, no body. Drops a blob set before. */
void resp_not_modified(struct response *r);

/* 204 No Content: status and the headers added, no Content-Type, no body. */
void resp_no_content(struct response *r);

/* What response_send did. */
enum resp_sent {
	RESP_SENT = 0,
	RESP_CLIENT_GONE = -1,           /* a write failed: the client went away */
	RESP_CUT_SHORT = -2,             /* a streamed blob could not be read whole, or its
					  * bytes were not the ones pushed: the body stops
					  * short of its Content-Length (said on stderr). The
					  * caller must end the connection without ending the
					  * request properly, so that the web server and the
					  * client see a failed transfer, never a whole 200 */
};

/* Write status line, headers (Content-Length always, but for 204, 304, delegated
 * bodies and bodies made with more) and (unless head) the body to io, then what more
 * makes. A blob bigger than RESP_BLOB_CHUNK is
 * streamed and hashed as it is sent; its last read is held back until the SHA-256 of
 * all its bytes is known and sent only when it is the one expected. Returns an enum
 * resp_sent. */
int response_send(struct response *r, const struct request_io *io, bool head);

#endif
