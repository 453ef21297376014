/* storage-kv-internal.h - inside the kv store (storage-kv*.c): what its files share.
 * Drivers use storage-kv.h, never this.
 *   storage-kv.c           the key layout (its opening comment), open/close, releases,
 *                          manifests, deletes, package visibility
 *   storage-kv-records.c   package records: JSON, release order, keys, reads, blob
 *                          references, record transactions, channels in a record
 *   storage-kv-blobs.c     blobs: chunked writes and reads
 *   storage-kv-list.c      package lists and search
 *   storage-kv-channels.c  channels
 *   storage-kv-charts.c    Helm chart fields, namespace stamps
 *   storage-kv-search.c    the search index (tri/ keys)
 *   storage-kv-gc.c        gc
 *   storage-kv-auth.c      users, grants, tokens (on storage-kv-txn.c, as all of them) */
#ifndef APPR_STORAGE_KV_INTERNAL_H
#define APPR_STORAGE_KV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "storage-kv.h"
#include "storage-kv-txn.h"

#define KV_READ_TRIES 10             /* re-reads of a record/metadata pair that disagree */
#define TOKEN_HEX KVTXN_TOKEN_HEX    /* an upload id */

struct kvs_writer {
	struct storage_blob_writer base; /* first */
	char upload[TOKEN_HEX + 1];
	unsigned char *buf;              /* the chunk being filled: KV_MAX_VALUE bytes */
	size_t len;
	unsigned long chunks;            /* chunks written so far */
};

struct kvs_reader {
	struct storage_blob_reader base; /* first */
	struct arena *a;                 /* holds the current chunk */
	char upload[TOKEN_HEX + 1];
	unsigned long next, chunks;
	const char *data;
	size_t len, off;
};

/* ---- storage-kv-records.c ---- */

/* A change of one package record: rec as read (NULL when the package is absent) is
 * changed in place (0), or the change is refused (-1, err filled). tmp is scratch. */
typedef int (*record_change_fn)(json_object *rec, struct arena *tmp, void *ctx,
				struct appr_error *err);

json_object *kvs_jasobj(json_object *o);
json_object *kvs_jobj(json_object *o, const char *k);
int kvs_str_cmp(const void *a, const void *b);
const char **kvs_member_names(struct arena *a, json_object *o, size_t *n);
const char **kvs_record_releases(struct arena *a, json_object *rec, size_t *n);
const char *kvs_pkg_key(struct arena *a, const char *ns, const char *name);
const char *kvs_priv_key(struct arena *a, const char *ns, const char *name);
const char *kvs_man_key(struct arena *a, const char *ns, const char *name,
			const char *release, const char *media_type);
const char *kvs_helm_key(struct arena *a, const char *ns, const char *name,
			 const char *release);
const char *kvs_ns_key(struct arena *a, const char *ns);
void kvs_ns_touch(struct kvtxn *t, struct arena *a, const char *ns, const char *now);
/* hval, a helm/ value kvs_chart_value made, with the release's OCI artifact appended
 * when it has a chart and the .tgz SHA-256 sha (of size bytes) is known; else hval. */
const char *kvs_chart_with_artifact(struct arena *a, const char *hval, const char *chart,
				    const char *sha, long long size, const char *name,
				    const char *release);
int kvs_chart_value(struct arena *a, const char *upload, const char *chart,
		    const char *problem, const char **out, struct appr_error *err);
int kvs_load_pkg(struct kvs *ks, const char *ns, const char *name, struct arena *a,
		 json_object **rec, long long *rev, struct appr_error *err);
int kvs_not_found(json_object *rec, const char *ns, const char *name, const char *release,
		  const char *media_type, struct appr_error *err);
int kvs_package_absent(const char *ns, const char *name, struct appr_error *err);
int kvs_unref_blob(struct kvs *ks, struct kvtxn *t, struct arena *a, const char *digest,
		   struct appr_error *err);
int kvs_record_update(struct kvs *ks, const char *ns, const char *name,
		      record_change_fn change, void *ctx, struct appr_error *err);
bool kvs_array_has(json_object *arr, const char *s);
bool kvs_array_remove(json_object *arr, const char *s);
void kvs_channels_repair(struct arena *a, json_object *rec);
void kvs_fill_channel(struct arena *a, json_object *c, const char *name,
		      struct storage_channel *out);

/* ---- storage-kv.c ---- */

void kvs_fill_manifest(json_object *e, struct storage_manifest *m);
int kvs_meta_of(struct arena *a, const struct kv_pair *kp, const char *token,
		const char **out);
int kvs_pair_cmp(const void *k, const void *p);

/* ---- storage-kv-blobs.c ---- */

int kvs_writer_flush(struct kvs *ks, struct kvs_writer *w, struct appr_error *err);
void kvs_writer_free(struct kvs *ks, struct kvs_writer *w, bool drop_chunks);

/* ---- storage-kv-search.c ---- */

/* The tix/ key of package ns/name: its search index may be incomplete. */
const char *kvs_tix_key(struct arena *a, const char *ns, const char *name);
/* At open: index every package of a store written before the index (once per store),
 * then ks->search_indexed. 0 or -1. */
int kvs_search_open(struct kvs *ks, struct appr_error *err);
/* After the transaction that created package ns/name: its tri/ keys, then its tix/
 * key deleted. Best effort: a failure is logged (the tix/ key stays, for gc). */
void kvs_search_index(struct kvs *ks, const char *ns, const char *name);
/* After the transaction that deleted package ns/name: its tri/ keys, while it stays
 * absent. Best effort: a failure is logged. */
void kvs_search_unindex(struct kvs *ks, const char *ns, const char *name);
/* gc: finish the index of every package under tix/ (dry: count them only) into *n. */
int kvs_search_fix(struct kvs *ks, bool dry, size_t *n, struct appr_error *err);
/* The "ns/name" of every package (of namespace ns when not NULL) that may hold text
 * (3 bytes or more): a superset, to check with the exact rule; allocated in a. */
int kvs_search_candidates(struct kvs *ks, const char *ns, const char *text, struct arena *a,
			  const char ***out, size_t *n, struct appr_error *err);
/* Keep in full (*n of them, "ns/name") those that exist, in order, at most limit
 * (0: all). */
int kvs_search_verify(struct kvs *ks, struct arena *a, const char **full, size_t *n,
		      size_t limit, struct appr_error *err);

#endif
