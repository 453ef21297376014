/* import-appr.h - the store of the original appr server (its kv layout, on disk, in
 * etcd or in redis) as a source: read into an archive index (archive.h), every blob
 * decoded and checked on the way, and its blobs served by digest to import_apply
 * (import.h), which writes them into a store. The layout is described in
 * appr-admin(8), section "The original server's store". */
#ifndef APPR_IMPORT_APPR_H
#define APPR_IMPORT_APPR_H

#include "archive.h"
#include "config.h"
#include "export.h"
#include "import.h"

/* The default key prefix of the original server (its APPR_KV_PREFIX). */
#define IMPORT_APPR_PREFIX "appr/packages/"

/* Where the original store is: exactly one of dir, etcd, redis. */
struct import_appr_where {
	const char *dir;      /* its filesystem store: the directory (its DATABASE_URL) */
	const char *etcd;     /* its etcd: endpoints "http://h:p[,http://h:p...]" */
	const char *redis;    /* its redis: redis://[[user]:password@]host[:port][/db] */
	const char *prefix;   /* its APPR_KV_PREFIX; NULL: IMPORT_APPR_PREFIX */
};

struct import_appr;

/* Connect to the original store (cfg gives the time limit of one etcd or redis
 * request, kv_timeout_ms; it must outlive the source). Returns 0 with *out, or -1
 * with err (unreachable, not a directory, an invalid URL). */
int import_appr_open(const struct import_appr_where *w, const struct appr_config *cfg,
		     struct import_appr **out, struct appr_error *err);
void import_appr_close(struct import_appr *o);   /* NULL is a no-op */

/* What import_appr_collect found. */
struct import_appr_report {
	unsigned long packages, manifests, channels;   /* put into the index */
	unsigned long skipped;    /* left out, each said: a blob missing or not what its
				   * manifest says, a name, release or record that is not
				   * valid */
	long long bytes;          /* blob bytes read and checked */
};

/* Read the whole original store into ix (archive_index_init'ed, empty): each package
 * with its releases, media types, metadata and times, each release's blob read,
 * decoded and checked (its tar's SHA-256 must be the digest its manifest gives),
 * and the channels with their current release. What cannot be imported is said
 * (one line each, through say) and left out. Returns 0, or -1 with err when the
 * store cannot be read (or holds no original store at all). */
int import_appr_collect(struct import_appr *o, struct archive_index *ix, import_say_fn say,
			void *sctx, archive_progress_fn progress, void *pctx,
			struct import_appr_report *rep, struct appr_error *err);

/* The blobs of the index collected, read again from the original store by digest
 * (decoded from base64), for import_apply. Valid until import_appr_close. */
struct blob_source *import_appr_blobs(struct import_appr *o);

#endif
