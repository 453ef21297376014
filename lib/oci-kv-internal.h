/* oci-kv-internal.h - inside the OCI store of the etcd and redis stores (oci-kv*.c):
 * what its files share. Nothing outside them includes it.
 *   oci-kv.c            the key layout and the transactions' rules (its opening
 *                       comment), open/close, the operations table, plain and batched
 *                       commits, small reads, repositories (_catalog, repo_known)
 *   oci-kv-blobs.c      blobs: readability, reading, links, mounts, deletes, collecting
 *                       what nothing uses any more
 *   oci-kv-uploads.c    upload sessions: appending in chunks, finishing, sweeping
 *   oci-kv-manifests.c  manifests, their references and bodies, referrers, tags
 *   oci-kv-gc.c         crash debris swept (appr-admin gc)
 *   oci-kv-check.c      everything checked, what cannot be served removed (fsck)
 *   oci-kv-dump.c       everything read into an archive index, counted (export,
 *                       stats; oci-transfer.h) */
#ifndef APPR_OCI_KV_INTERNAL_H
#define APPR_OCI_KV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <json-c/json.h>

#include "oci-store.h"
#include "storage-kv.h"
#include "storage-kv-txn.h"

#define CHUNK ((size_t)KV_MAX_VALUE)  /* bytes of a full chunk */
#define BODY_INLINE (KV_MAX_VALUE / 2)   /* a body up to this size goes in the record's txn */
#define PINS_PER_TXN KVTXN_MAX_CONDS      /* blobs (one condition each) per txn */
#define KEYS_PER_TXN 30                   /* ref + use key pairs per plain txn */
#define TAGS_WITH_RECORD 2                /* tags deleted in a manifest's own txn */
#define REF_PAGE 64                       /* ref keys per range read */
#define GC_TRIES 20                       /* attempts to delete an unused blob */
#define UUID_OK "0123456789abcdef"

/* The store. */
struct kvo {
	struct oci_store base;           /* first */
	struct kv *kv;                   /* the storage's connection (borrowed) */
	struct arena *tmp;               /* scratch of one operation, reset at its start */
};

/* ---- keys, errors, small helpers ---- */

static inline const char *k_blob(struct arena *a, const char *hex)
{ return arena_printf(a, "oci/blob/%s", hex); }
static inline const char *k_data(struct arena *a, const char *id)
{ return arena_printf(a, "oci/data/%s/", id); }
static inline const char *k_link(struct arena *a, const char *repo, const char *hex)
{ return arena_printf(a, "oci/link/%s/%s", repo, hex); }
static inline const char *k_use_link(struct arena *a, const char *hex, const char *repo)
{ return arena_printf(a, "oci/use/%s/%s/link", hex, repo); }
static inline const char *k_ref(struct arena *a, const char *repo, const char *hex,
				const char *mhex, const char *id)
{ return arena_printf(a, "oci/ref/%s/%s/%s/%s", repo, hex, mhex, id); }
static inline const char *k_use(struct arena *a, const char *hex, const char *repo,
				const char *mhex, const char *id)
{ return arena_printf(a, "oci/use/%s/%s/%s/%s", hex, repo, mhex, id); }
static inline const char *k_mf(struct arena *a, const char *repo, const char *hex)
{ return arena_printf(a, "oci/mf/%s/%s", repo, hex); }
static inline const char *k_body(struct arena *a, const char *id)
{ return arena_printf(a, "oci/mfb/%s/", id); }
static inline const char *k_subj(struct arena *a, const char *repo, const char *subj,
				 const char *hex)
{ return arena_printf(a, "oci/subj/%s/%s/%s", repo, subj, hex); }
static inline const char *k_tag(struct arena *a, const char *repo, const char *tag)
{ return arena_printf(a, "oci/tag/%s/%s", repo, tag); }
static inline const char *k_repo(struct arena *a, const char *repo)
{ return arena_printf(a, "oci/repo/%s", repo); }
static inline const char *k_up(struct arena *a, const char *repo, const char *uuid)
{ return arena_printf(a, "oci/up/%s/%s", repo, uuid); }

/* A key "<prefix><ns>/<name>/<last>" (prefix_len bytes of prefix): repo "<ns>/<name>"
 * and last copied into a; false when the key is not of that form. */
bool okv_split_repo_key(struct arena *a, const char *key, size_t prefix_len,
			const char **repo, const char **last);

/* A manifest instance's id (oci-kv.c: instances): 8 hex digits of the unix time it
 * was made at, then random ones, so that gc can tell an instance a put is still
 * writing from one a crash left (OKV_GC_GRACE). */
void okv_instance_id(char id[KVTXN_TOKEN_HEX + 1]);
/* The time an instance id was made at (0 when it does not say). */
long long okv_instance_time(const char *id);
#define OKV_GC_GRACE 3600                 /* seconds before gc takes an instance's keys */

/* Chunks of n bytes. */
static inline unsigned long chunks_of(long long n)
{
	return n <= 0 ? 0 : (unsigned long)((n + (long long)CHUNK - 1) / (long long)CHUNK);
}

static inline bool valid_id(const char *s)
{
	return s && strlen(s) == KVTXN_TOKEN_HEX && strspn(s, UUID_OK) == KVTXN_TOKEN_HEX;
}

static inline bool valid_hex(const char *s)
{
	return s && strlen(s) == DIGEST_HEX_LEN && strspn(s, UUID_OK) == DIGEST_HEX_LEN;
}

static inline struct kvo *kvo_of(struct oci_store *os)
{
	return (struct kvo *)os;
}

/* A fresh scratch arena for an operation. */
static inline struct arena *scratch(struct kvo *s)
{
	arena_reset(s->tmp);
	return s->tmp;
}

static inline int blob_unknown(const char *repo, const char *hex, struct appr_error *err)
{
	return appr_err(err, 404, OCI_E_BLOB_UNKNOWN, "blob sha256:%s unknown to %.140s", hex,
			repo);
}

static inline int upload_unknown(const char *repo, const char *uuid, struct appr_error *err)
{
	return appr_err(err, 404, OCI_E_BLOB_UPLOAD_UNKNOWN, "no upload %.40s in %.140s", uuid,
			repo);
}

/* Plain ops, sent KV_MAX_OPS at a time. Keys and values are borrowed until sent. */
struct batch {
	struct kvo *s;
	struct kv_op ops[KV_MAX_OPS];
	size_t n;
	int failed;                      /* a send failed: the rest is not sent */
};

/* ---- oci-kv.c ---- */

int okv_commit_plain(struct kv *kv, const struct kv_cond *c, size_t nc,
		     const struct kv_op *ops, size_t n, struct appr_error *err);
int okv_batch_flush(struct batch *b, struct appr_error *err);
int okv_batch_add(struct batch *b, enum kv_op_type type, const char *key,
		  const void *value, size_t len, struct appr_error *err);
int okv_exists(struct kvo *s, struct arena *a, const char *key, long long *rev,
	       struct appr_error *err);
long okv_count_keys(struct kvo *s, struct arena *a, const char *prefix, size_t limit,
		    struct kv_pair **keys, struct appr_error *err);
const char **okv_distinct(struct arena *a, const char *const *v, size_t n, size_t *out_n);
void okv_page(struct arena *a, const char **v, size_t m, const char *last, long n,
	      const char ***out, size_t *count, bool *more);
int kvo_repos_list(struct oci_store *os, const char *last, long n, struct arena *a,
		   const char ***repos, size_t *count, bool *more, struct appr_error *err);
int kvo_repo_known(struct oci_store *os, const char *repo, bool *known,
		   struct appr_error *err);
void kvo_close(struct oci_store *os);

/* ---- oci-kv-blobs.c ---- */

int okv_blob_pin(struct kvtxn *t, struct kvo *s, struct arena *a, const char *hex,
		 struct appr_error *err);
void okv_link_ops(struct kvtxn *t, struct arena *a, const char *repo, const char *hex);
int okv_referenced(struct kvo *s, struct arena *a, const char *repo, const char *hex,
		   struct appr_error *err);
int okv_readable(struct kvo *s, struct arena *a, const char *repo, const char *hex,
		 long long *size, struct appr_error *err);
int kvo_blob_stat(struct oci_store *os, const char *repo, const char *hex,
		  long long *size, struct appr_error *err);
int kvo_blob_open(struct oci_store *os, const char *hex, long long from,
		  struct oci_blob_reader **out, struct appr_error *err);
long kvo_blob_read(struct oci_blob_reader *br, void *buf, size_t len);
void kvo_blob_close(struct oci_blob_reader *br);
int kvo_blob_mount(struct oci_store *os, const char *repo, const char *from,
		   const char *hex, struct appr_error *err);
int okv_repo_key_drop(struct kvtxn *t, struct kvo *s, struct arena *a, const char *repo,
		      const char *link_key, const char *mf_key, struct appr_error *err);
int okv_blob_collect(struct kvo *s, struct arena *a, const char *hex, struct appr_error *err);
int okv_repo_collect(struct kvo *s, struct arena *a, const char *repo,
		     struct appr_error *err);
void okv_collect_after(struct kvo *s, struct arena *a, const char *repo, const char *hex);
int kvo_blob_delete(struct oci_store *os, const char *repo, const char *hex,
		    struct appr_error *err);

/* ---- oci-kv-uploads.c ---- */

int kvo_upload_new(struct oci_store *os, const char *repo, char uuid[OCI_UUID_LEN + 1],
		   struct appr_error *err);
int kvo_upload_cancel(struct oci_store *os, const char *repo, const char *uuid,
		      struct appr_error *err);
int kvo_upload_append(struct oci_store *os, const char *repo, const char *uuid,
		      struct oci_upload_writer **out, struct appr_error *err);
int kvo_upload_write(struct oci_upload_writer *bw, const void *data, size_t len,
		     struct appr_error *err);
int kvo_upload_end(struct oci_upload_writer *bw, bool keep, struct appr_error *err);
int kvo_upload_finish(struct oci_store *os, const char *repo, const char *uuid,
		      const char *hex, struct appr_error *err);
void okv_sweep_uploads(struct kvo *s);

/* ---- oci-kv-manifests.c ---- */

int kvo_tags_list(struct oci_store *os, const char *repo, const char *last, long n,
		  struct arena *a, const char ***tags, size_t *count, bool *more,
		  struct appr_error *err);
int kvo_manifest_tag(struct oci_store *os, const char *repo, const char *hex,
		     struct arena *a, const char **tag, struct appr_error *err);
int kvo_manifest_get(struct oci_store *os, const char *repo, const char *hex,
		     const char *tag, struct arena *a, struct oci_manifest *m,
		     struct appr_error *err);
int kvo_referrers(struct oci_store *os, const char *repo, const char *hex,
		  struct arena *a, struct oci_manifest **out, const char ***artifact_types,
		  size_t *n, struct appr_error *err);
int kvo_manifest_put(struct oci_store *os, const char *repo, const char *hex,
		     const struct oci_manifest_info *info, const char *body, size_t len,
		     const char *tag, struct appr_error *err);
int kvo_manifest_delete(struct oci_store *os, const char *repo, const char *hex,
			struct appr_error *err);
int kvo_tag_delete(struct oci_store *os, const char *repo, const char *tag,
		   struct appr_error *err);

#endif
