/* storage-kv.h - every storage operation (storage.h) built once on a kv client (kv.h),
 * for the etcd and redis drivers: packages, releases, channels and blobs in
 * storage-kv*.c (storage-kv-internal.h lists them), users, grants and tokens in
 * storage-kv-auth.c, all on the transaction core of storage-kv-txn.c. A driver (kv-etcd.c, kv-redis.c) is a kv client plus its
 * storage_ops table, written out row by row with these functions:
 *
 *   static int etcd_open(const struct appr_config *cfg, struct storage **out,
 *                        struct appr_error *err)
 *   { return storage_kv_open(cfg, &kv_etcd_ops, &storage_etcd_ops, out, err); }
 *
 * The operations' contracts are storage.h's; storage-kv.c documents the key layout. */
#ifndef APPR_STORAGE_KV_H
#define APPR_STORAGE_KV_H

#include "kv.h"
#include "storage.h"

/* The storage of a kv driver. */
struct kvs {
	struct storage base;             /* first: callers hold &base */
	struct kv *kv;
	struct arena *tmp;               /* scratch of one operation, reset at its start */
	bool search_indexed;             /* the tri/ index is complete (storage-kv-search.c) */
};

/* Open a kv client with kv_ops (kv_ops->open), and on it the storage whose table is
 * table. */
int storage_kv_open(const struct appr_config *cfg, const struct kv_ops *kv_ops,
		    const struct storage_ops *table, struct storage **out,
		    struct appr_error *err);

/* storage-kv.c */
void storage_kv_close(struct storage *s);
int storage_kv_blob_begin(struct storage *s, struct storage_blob_writer **out,
			  struct appr_error *err);
int storage_kv_blob_write(struct storage_blob_writer *w, const void *data, size_t len,
			  struct appr_error *err);
void storage_kv_blob_abort(struct storage_blob_writer *w);
int storage_kv_blob_lookup(struct storage *s, const char *ns, const char *name,
			   const char *digest, long long *size, char sha256[DIGEST_HEX_LEN + 1],
			   struct appr_error *err);
int storage_kv_blob_open(struct storage *s, const char *digest,
			 struct storage_blob_reader **out, long long *size,
			 struct appr_error *err);
long storage_kv_blob_read(struct storage_blob_reader *r, void *buf, size_t len);
void storage_kv_blob_close(struct storage_blob_reader *r);
int storage_kv_put_release(struct storage *s, const struct storage_push *p,
			   struct storage_blob_writer *w, struct appr_error *err);
int storage_kv_list_releases(struct storage *s, const char *ns, const char *name,
			     struct arena *a, const char ***out, size_t *n,
			     struct appr_error *err);
int storage_kv_get_manifests(struct storage *s, const char *ns, const char *name,
			     const char *release, const char *media_type, struct arena *a,
			     struct storage_manifest **out, size_t *n, struct appr_error *err);
int storage_kv_get_manifest(struct storage *s, const char *ns, const char *name,
			    const char *release, const char *media_type, struct arena *a,
			    struct storage_manifest *out, struct appr_error *err);
int storage_kv_delete_manifest(struct storage *s, const char *ns, const char *name,
			       const char *release, const char *media_type,
			       struct appr_error *err);
int storage_kv_list_packages(struct storage *s, const struct storage_list_query *q,
			     struct arena *a, struct storage_package **out, size_t *n,
			     struct appr_error *err);
int storage_kv_search(struct storage *s, const char *text,
		      const struct storage_readers *readers, size_t limit, struct arena *a,
		      const char ***out, size_t *n, struct appr_error *err);
int storage_kv_list_channels(struct storage *s, const char *ns, const char *name,
			     struct arena *a, struct storage_channel **out, size_t *n,
			     struct appr_error *err);
int storage_kv_get_channel(struct storage *s, const char *ns, const char *name,
			   const char *channel, struct arena *a, struct storage_channel *out,
			   struct appr_error *err);
int storage_kv_channel_add(struct storage *s, const char *ns, const char *name,
			   const char *channel, const char *release, struct arena *a,
			   struct storage_channel *out, struct appr_error *err);
int storage_kv_channel_remove(struct storage *s, const char *ns, const char *name,
			      const char *channel, const char *release, struct appr_error *err);
int storage_kv_channel_delete(struct storage *s, const char *ns, const char *name,
			      const char *channel, struct appr_error *err);
int storage_kv_package_visibility(struct storage *s, const char *ns, const char *name,
				  struct arena *a, const char **out, struct appr_error *err);
int storage_kv_list_charts(struct storage *s, const char *ns, bool include_private,
			   struct arena *a, struct storage_chart **out, size_t *n,
			   struct appr_error *err);
int storage_kv_set_chart(struct storage *s, const char *ns, const char *name,
			 const char *release, const char *digest, const char *chart,
			 const char *problem, const char *blob_sha256, struct appr_error *err);
int storage_kv_gc(struct storage *s, bool dry, struct storage_gc_report *rep,
		  struct appr_error *err);
int storage_kv_namespace_stamp(struct storage *s, const char *ns, unsigned long long *stamp,
			       char changed_at[32], struct appr_error *err);

/* storage-kv-auth.c */
int storage_kv_user_put(struct storage *s, const char *name, const char *password_hash,
			bool create, const char *created_at, struct appr_error *err);
int storage_kv_user_get(struct storage *s, const char *name, struct arena *a,
			struct storage_user *out, struct appr_error *err);
int storage_kv_user_delete(struct storage *s, const char *name, struct appr_error *err);
int storage_kv_user_list(struct storage *s, struct arena *a, struct storage_user **out,
			 size_t *n, struct appr_error *err);
int storage_kv_grant_set(struct storage *s, const char *user, const char *ns,
			 enum storage_level level, struct appr_error *err);
int storage_kv_grant_list(struct storage *s, const char *user, struct arena *a,
			  struct storage_grant **out, size_t *n, struct appr_error *err);
int storage_kv_token_add(struct storage *s, const struct storage_token *t,
			 struct appr_error *err);
int storage_kv_token_find(struct storage *s, const char *hash, struct arena *a,
			  struct storage_token *out, struct appr_error *err);
int storage_kv_token_list(struct storage *s, const char *user, struct arena *a,
			  struct storage_token **out, size_t *n, struct appr_error *err);
int storage_kv_token_revoke(struct storage *s, const char *id, struct appr_error *err);

#endif
