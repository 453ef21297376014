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
	const char *filename;            /* Content-Disposition: attachment; filename= */
	const char *content_type;        /* NULL: application/x-gzip */
	bool immutable;                  /* the URL names the digest: cache for a year;
					  * otherwise no-cache (revalidate by ETag) */
	/* The JSON form {"package", "release", ["media_type",] "filename", "blob"}
	 * instead of the raw bytes (no ETag, no 304, never delegated). */
	bool json;
	const char *package;             /* "ns/name" */
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
 * body. With blob_delivery x-sendfile or x-accel-redirect and a driver keeping blob
 * files, only headers are answered and the web server sends the file (Range
 * included); with stream the whole blob is sent (Range is ignored: 200,
 * Accept-Ranges: none). Returns 0, or -1 with req->err filled (404 when the blob
 * is absent from storage). */
int deliver_blob(struct request *req, struct response *resp, const struct delivery *d);

#endif
