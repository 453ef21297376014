/* deliver.h - blob delivery, for every API that answers with a stored blob: ETag and
 * If-None-Match (304), Cache-Control, then the bytes streamed from storage, or only
 * headers naming the blob file for the web server to send (X-Sendfile,
 * X-Accel-Redirect), or the JSON form with the blob base64-encoded. */
#ifndef APPR_FCGI_DELIVER_H
#define APPR_FCGI_DELIVER_H

#include <stdbool.h>

#include "request.h"
#include "response.h"

/* What to deliver and how. Strings are borrowed for the call (the arena's). */
struct delivery {
	const char *digest;              /* the stored blob (storage key), also its ETag */
	long long size;                  /* its size as its manifest says */
	const char *sha256;              /* the SHA-256 of its bytes recorded at push; ""
					  * (or NULL) when unknown: only the size is checked */
	const char *filename;            /* Content-Disposition: attachment; filename= */
	const char *content_type;        /* NULL: application/x-gzip */
	bool immutable;                  /* the URL names the digest: cache for a year;
					  * otherwise no-cache (revalidate by ETag) */
	/* The JSON form {"package", "release", ["media_type",] "filename", "blob"}
	 * instead of the raw bytes (no ETag, no 304, never delegated). */
	bool json;
	const char *package;             /* "ns/name" (also named in log lines; NULL: none) */
	const char *release;             /* a release, or the digest for blob URLs */
	const char *media_type;          /* NULL: left out */
};

/* Add ETag "<tag>" and Cache-Control to resp; when req's If-None-Match names the tag
 * (or is "*"), make resp a 304 and return true: nothing else is to be answered. Any
 * answer that can be revalidated uses it (blobs, index.yaml). */
bool deliver_validated(struct request *req, struct response *resp, const char *tag,
		       const char *cache_control);

/* Answer req with the blob d describes. The raw answer carries ETag "<digest>" and
 * Cache-Control; an If-None-Match naming the digest (or "*") gets 304 without a
 * body. Otherwise the stored blob must be there with the size its manifest says:
 * if not, 500 internal-error (and a line on stderr naming it), not 404, as a manifest
 * lists it (404 only when it went with its last manifest of d->package since the
 * handler found that manifest: a delete or a force push meanwhile). With
 * blob_delivery x-sendfile or x-accel-redirect and a driver keeping blob files, only
 * headers are answered and the web server sends the file (Range included; its bytes
 * are not checked); with stream the whole blob is sent (Range is ignored: 200,
 * Accept-Ranges: none) and its bytes are checked against d->sha256: a blob of at
 * most RESP_BLOB_CHUNK bytes before anything is answered (500 internal-error when
 * wrong), a bigger one while it is sent (the answer is cut short when wrong: see
 * response_send). Returns 0, or -1 with req->err filled. */
int deliver_blob(struct request *req, struct response *resp, const struct delivery *d);

/* With blob_delivery x-sendfile or x-accel-redirect and a driver keeping blob files:
 * add the header naming the file of stored blob digest (an appr blob) for the web
 * server to send, and make resp a delegated answer (1). 0 when the bytes are to be
 * streamed instead (stream, no blob files, a path a web server would read
 * differently); -1 with req->err. Nothing is checked: the caller knows the blob. */
int deliver_delegate(struct request *req, struct response *resp, const char *digest);

#endif
