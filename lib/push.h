/* push.h - the upload pipeline every upload API shares: .tgz bytes (raw, or as base64
 * text) in, gzip+tar checks and digests, the blob written as it arrives, the release
 * recorded. No FastCGI, no request: callers read their own bodies and feed it. */
#ifndef APPR_PUSH_H
#define APPR_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include "digest.h"
#include "names.h"

struct appr_config;
struct appr_error;
struct storage;

/* What push_feed is given. */
enum push_input {
	PUSH_RAW,        /* the .tgz bytes themselves (ChartMuseum, OCI blob uploads) */
	PUSH_BASE64,     /* base64 text of the .tgz (appr's "blob" member), whitespace allowed */
};

/* The release a push records. Every pointer is borrowed for the call only. */
struct push_release {
	const char *ns, *name;     /* validated by the caller (names.h) */
	const char *release;       /* must be a full semver: 422 invalid-release otherwise */
	const char *media_type;    /* any accepted form (names_media_type), NULL = "kpm" */
	const char *metadata;      /* JSON text, or NULL for null */
	const char *visibility;    /* "public", "private", or NULL (a new package is public) */
	bool force;                /* replace an existing release + media type */
};

struct push;

/* Start a push into store s, with the tar limits of cfg (max_uncompressed_size,
 * max_compression_ratio, max_tar_entries); cfg must outlive the push. Starts the
 * storage blob, so a storage error (500, 503) comes from here. On success *out is a
 * new push owned by the caller, who frees it with push_free whatever happens next;
 * on failure *out is NULL and err is filled. The bytes fed are not bounded here:
 * the caller bounds its body (max_body_size), the tar limits bound the rest. */
int push_begin(struct storage *s, const struct appr_config *cfg, enum push_input in,
	       struct push **out, struct appr_error *err);

/* Feed the next len bytes (raw .tgz bytes, or base64 text split anywhere, in pieces
 * of any size). They are checked (base64, gzip, tar, limits) and written to the blob
 * as they come. Returns 0, or -1 with err filled: 400 invalid-usage ("blob is not
 * valid base64", or what targz found wrong), 413 payload-too-large for a tar over the
 * limits, a storage error. After any failure every further call on p fails with the
 * same status, code and message, and the blob is already dropped. */
int push_feed(struct push *p, const void *data, size_t len, struct appr_error *err);

/* End of the bytes: finish the base64 decoder and the gzip+tar checks; the digests
 * and the size below are then known. Optional: push_finish ends the input itself
 * when it was not ended. A caller that needs the digests or the archive checked
 * before it knows the release (a name and version read from the chart, a digest the
 * client announced) calls it first. Returns 0, or -1 with err filled as push_feed. */
int push_end_input(struct push *p, struct appr_error *err);

/* A release a push may create: a full semver (422 invalid-release otherwise, with
 * the release in err's details when it passes). Returns 0 or -1. */
int push_check_version(const char *release, struct appr_error *err);

/* Check a release as push_finish does, in the same order, changing nothing:
 * release missing (400) or not a semver (422 invalid-release), media type invalid
 * (400), visibility neither "public" nor "private" (400). Sets err's details release
 * and media type as each passes (so a later error carries them). When mt is not
 * NULL the media type's short form is written there. Returns 0 or -1. */
int push_check_release(const struct push_release *meta, char mt[NAMES_MEDIA_TYPE_MAX + 1],
		       struct appr_error *err);

/* Finish the push: end the input if needed, check meta (push_check_release) and
 * record the release with the blob (storage_put_release: 409 package-exists without
 * force when the release + media type exists; a blob already stored is shared).
 * Returns 0, or -1 with err filled; either way the blob is consumed or dropped and
 * only push_free and the accessors below remain to call. */
int push_finish(struct push *p, const struct push_release *meta, struct appr_error *err);

/* After a successful push_end_input or push_finish (NULL before, or after a
 * failure), strings owned by p:
 *   push_digest      the SHA-256 (hex) of the uncompressed tar: the blob's digest,
 *                    as appr names it (manifests, /blobs/sha256/<digest>);
 *   push_tgz_sha256  the SHA-256 (hex) of the .tgz bytes as fed (decoded when
 *                    PUSH_BASE64): what Helm's index.yaml and OCI name a chart by. */
const char *push_digest(const struct push *p);
const char *push_tgz_sha256(const struct push *p);
/* The .tgz bytes received so far (decoded when PUSH_BASE64): after the input ended,
 * the blob's size. */
long long push_tgz_size(const struct push *p);

/* After a successful push_end_input or push_finish: the archive as a Helm chart
 * (chart.h; owned by p), or NULL when Helm's loader would not take it, with why
 * filled (422 invalid-chart and the reason; why may be NULL). push_finish records
 * for a helm release whether it is a chart of the namespace's index: a valid chart
 * whose name is the package name and whose version is the release. */
struct chart;
const struct chart *push_chart(const struct push *p, struct appr_error *why);

/* Free p; NULL is a no-op. An unfinished push's blob is dropped: nothing of it is
 * left in the store. */
void push_free(struct push *p);

#endif
