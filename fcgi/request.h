/* request.h - one parsed HTTP request, read through struct request_io so that nothing
 * here (or in the handlers) knows libfcgi: main.c supplies the io for FastCGI or CGI. */
#ifndef APPR_REQUEST_H
#define APPR_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "storage.h"
#include "util.h"

/* What lives for the whole process: configuration and the open store. */
struct app {
	struct appr_config cfg;
	struct storage *store;
};

/* The connection to the web server, filled by main.c. */
struct request_io {
	/* A CGI parameter (REQUEST_METHOD, REQUEST_URI, ...) or NULL. */
	const char *(*param)(void *ctx, const char *name);
	/* Up to len body bytes: >0 read, 0 at end of input, -1 on error. */
	long (*read)(void *ctx, void *buf, size_t len);
	/* Write all len bytes: 0, or -1 when the client is gone. */
	int (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
};

#define REQUEST_MAX_ARGS 4      /* route parameters: ns, name, release, media type... */
#define REQUEST_MAX_SEGMENTS 16 /* path segments; more is a 404 */
#define REQUEST_MAX_URI 8192    /* longer request URIs are a 414-like 400 */

struct access_who;                 /* access.h */

struct query_param {
	char *key;
	char *value;
};

struct request {
	struct app *app;
	struct arena *arena;            /* everything below lives in it */
	const struct request_io *io;
	const char *method;             /* "GET", "POST"...; HEAD is routed as GET */
	bool head;                      /* the method was HEAD: send headers only */
	const char *path;               /* the request path, undecoded, without query */
	char *seg[REQUEST_MAX_SEGMENTS];/* decoded non-empty segments, /cnr prefix removed */
	size_t nseg;
	struct query_param *query;      /* decoded query parameters in order */
	size_t nquery;
	long long content_length;       /* -1 when absent */
	long long body_read;            /* body bytes consumed so far */
	const char *args[REQUEST_MAX_ARGS]; /* route parameters, in pattern order */
	const char *package;            /* "ns/name", once h_package_args checked it */
	const struct access_who *who;     /* who is asking: set by the router before the
					 * handler runs (access.h), NULL before */
	struct appr_error err;          /* what a failing handler reports */
};

/* Read method, path and query from req->io into req (app, arena, io already set).
 * Returns 0, or -1 with req->err filled: 400 for a bad Content-Length, bad
 * percent-encoding, an encoded NUL, an oversized URI, or a REQUEST_URI path a web
 * server would rewrite before passing it on ("//", "." or ".." segments, raw or
 * encoded, an encoded '/' or '\\' in a segment); 404 for too many segments. */
int request_parse(struct request *req);

/* The first value of query parameter key, or NULL. */
const char *request_query(const struct request *req, const char *key);

/* True when query parameter key is "true", "1" or "yes" (case-insensitive). */
bool request_query_true(const struct request *req, const char *key);

/* Read up to len body bytes, never past CONTENT_LENGTH. Returns bytes read, 0 once
 * the whole body has been read, or -1 with req->err filled: a body shorter than
 * CONTENT_LENGTH is a 400, a read error a 400 too (the client went away). */
long request_read_body(struct request *req, void *buf, size_t len);

/* For a request that must carry a body of at most max bytes: 0, or -1 with req->err
 * 413 payload-too-large (a declared length above max) or 400 "empty body: expected
 * <expected>". */
int request_body_wanted(struct request *req, unsigned long long max, const char *expected);

/* Hand the whole body to feed in pieces of up to 64 KiB as it arrives. Returns 0, or
 * -1 with req->err (a read error, or feed's error, which stops the reading). */
typedef int (*request_body_fn)(void *ctx, const void *data, size_t len, struct appr_error *err);
int request_stream_body(struct request *req, request_body_fn feed, void *ctx);

#endif
