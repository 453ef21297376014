/* oci-kv.c - the OCI store of the etcd and redis stores (oci-store.h): blobs, manifests,
 * tags and upload sessions in the kv store of the registry's storage (storage-kv.h),
 * on its connection, through the transaction core of storage-kv-txn.h. */

/*
 * Key layout (below the configured key_prefix; all under "oci/", which no appr key and
 * no appr gc range touches). <repo> is "<ns>/<name>", <hex> a blob's or manifest's
 * SHA-256 (64 hex), <id> and <uuid> 32 hex (kvtxn_token), <N> a chunk number "%08lu":
 *
 *   oci/blob/<hex>                 {"size": N, "chunks": K, "data": "<id>", "txn": ...}:
 *                                  a stored blob, its bytes in K chunks
 *   oci/data/<id>/<N>              the bytes: chunk N holds bytes [N*KV_MAX_VALUE, ...),
 *                                  KV_MAX_VALUE bytes each but the last; a chunk may be
 *                                  longer than the record says (a failed append's bytes):
 *                                  readers take what the size says. <id> is the uuid of
 *                                  the upload that wrote them: an upload's chunks become
 *                                  the blob's by naming them, never by a copy
 *   oci/link/<repo>/<hex>          "1": repo received the blob (an upload or a mount)
 *   oci/ref/<repo>/<hex>/<mhex>/<id>  "1": manifest <mhex> of repo, stored as instance
 *                                  <id>, references blob <hex> (config, layers; an
 *                                  index's manifests too, as SQLite's oci_manifest_refs)
 *   oci/use/<hex>/<repo>/link      "1": the reverse of oci/link/<repo>/<hex>
 *   oci/use/<hex>/<repo>/<mhex>/<id>  "1": the reverse of the oci/ref/ key
 *   oci/mf/<repo>/<hex>            {"media_type", "artifact_type", "subject",
 *                                  "created_at", "len": N, "id": "<id>", "chunks": K,
 *                                  "blobs": [...], "manifests": [...], "txn"}: a manifest
 *   oci/mfb/<id>/<N>               its body (up to 4 MiB) in chunks of KV_MAX_VALUE
 *   oci/subj/<repo>/<hex>/<mhex>   "1": manifest <mhex> of repo has subject <hex>
 *   oci/tag/<repo>/<tag>           "<mhex>"
 *   oci/repo/<repo>                "1" while repo holds a link or a manifest (_catalog)
 *   oci/up/<repo>/<uuid>           {"size": N, "updated": <unix seconds>, "txn"}: an
 *                                  upload session, its bytes in oci/data/<uuid>/
 *
 * Upload sessions are keyed by repository (not by uuid alone) so that "does repo hold
 * a session" (repo_known) is one range read; every call names the repository anyway.
 *
 * Reachability. A blob is readable through repo when oci/link/<repo>/<hex> exists, or
 * an oci/ref/<repo>/<hex>/<mhex>/<id> key whose manifest record oci/mf/<repo>/<mhex>
 * exists with that "id" (a ref key of another instance, or of none, is ignored: see
 * crashes below). A blob is in use while an oci/use/<hex>/ key exists; there is no
 * reference count (a count needs its record read, changed and conditioned on by every
 * transaction that adds or drops a reference, and a manifest naming N blobs would need
 * N conditions: KVTXN_MAX_CONDS is 4; idempotent keys also make retries harmless).
 *
 * Why instances: a manifest's ref and use keys and its body are written and deleted in
 * several transactions (a manifest may name more blobs than one transaction has
 * conditions for, and its body more bytes than one request carries). Named by the
 * instance <id> of the record that owns them, those of a put and those of a delete
 * of the same manifest running at the same time are never the same keys, so neither
 * can take away what the other wrote; only the record (one txn) decides which
 * instance is the manifest.
 *
 * The rule that keeps a used blob: every transaction that adds a use key (an upload
 * finished, a mount, a manifest's references) is conditioned on the blob record's
 * revision as read and rewrites the record (a new "txn": a new revision); a blob is
 * deleted by a transaction conditioned on the revision of its record read BEFORE the
 * range read of oci/use/<hex>/ that found no use. A use added after that record read
 * changed the revision (the delete conflicts and looks again); one added before it is
 * seen by the range read. So a blob is never deleted while a use key names it, and a
 * use key is never added to a deleted blob (its condition fails: 400/404).
 *
 * The repository's oci/repo/ key is kept the same way: every transaction adding a link
 * or a manifest puts it (unconditionally: a new revision); the one that deletes the
 * last link or manifest deletes it, conditioned on the revision read before the range
 * reads that found the repository otherwise empty.
 *
 * Operations and their transactions:
 *  - upload_new: one txn (the record, conditioned absent).
 *  - append: every chunk is written by one txn conditioned on the session record's
 *    revision, which also puts the record with the new size (and "updated"); the first
 *    txn of an append is conditioned on the record read at open. A chunk and the size
 *    that covers it are thus one atomic write: a second PATCH of the same session
 *    running at the same time conflicts on its first write and is answered 416
 *    BLOB_UPLOAD_INVALID (the session changed meanwhile); its bytes are not written.
 *    A failed request keeps what its flushed chunks hold (oci-store.h allows it).
 *  - finish: the chunks are read and hashed (mismatch: 400 DIGEST_INVALID, the session
 *    dropped); then one txn conditioned on the session record (as hashed) and on the
 *    blob record: a new blob record naming the upload's chunks (no copy), or, when the
 *    blob is stored already, its record rewritten and the upload's chunks deleted; the
 *    link and its use key, the repository key; the session record deleted.
 *  - mount: one txn conditioned on the blob record (link, use key, repository key).
 *  - blob_delete: one txn: the link and its use key, conditioned on the link; the blob
 *    and its chunks too when the link was its last use (conditioned on its record), the
 *    repository key when the link was the repository's last link and it has no
 *    manifest (conditioned on the key); then, once committed, both are looked at
 *    again (collect_after): a removal running at the same time (another repository's
 *    link, a manifest's references) may have seen this one's use still there, and
 *    this one its, so that without a second look neither would delete the blob.
 *  - manifest_put: what it references is checked first (reads: each blob readable
 *    through repo, each manifest of an index a manifest of repo, else 400
 *    MANIFEST_BLOB_UNKNOWN); then (1) the body's chunks when it is over
 *    KV_MAX_VALUE / 2 (plain puts under a fresh instance <id>); (2) the ref and use
 *    keys, four blobs per txn, each blob conditioned on and rewritten as above (a blob
 *    deleted meanwhile: 400 MANIFEST_BLOB_UNKNOWN); an index's manifests' keys in
 *    plain txns; (3) one txn conditioned on the manifest record being absent: the
 *    record (with <id>), a small body, the subject key, the tag, the repository key.
 *    A put of a manifest that is there already only (re)tags it: conditioned on the
 *    record and rewriting it, so a concurrent delete of that manifest conflicts. When
 *    a concurrent put of the same manifest won (3), this one's keys of (1) and (2) are
 *    deleted again.
 *  - manifest_delete: tags naming the manifest beyond two are deleted first (txns of
 *    four, each conditioned on the tag's revision); then one txn conditioned on the
 *    record and on its (at most two) tags: the record, its body, subject key and tags,
 *    and the repository key when it was the last thing in it (conditioned on it);
 *    then the instance's ref and use keys (plain deletes: the keys of an instance
 *    belong to it alone, so a put of the same manifest meanwhile, a new instance, is
 *    untouched); then every blob it referenced that nothing uses any more is deleted
 *    (the rule above), and the repository key when the repository is empty.
 *  - tag_delete: one delete.
 * Reads are gets of a record (and its chunks) and range reads of key prefixes.
 *
 * A transaction whose answer was lost is settled by storage-kv-txn.c (the check key's
 * token); lists of plain idempotent puts and deletes are sent again.
 *
 * Crashes (or a kv error between the steps of a multi-step operation) leave debris,
 * never a used blob deleted or a blob readable where it should not be:
 *  - manifest_put stopped before (3): ref and use keys of an instance no record names
 *    (ignored by reads; their blobs are kept: never deleted, nothing else), and body
 *    chunks no record names;
 *  - manifest_delete stopped after its record went: the instance's ref and use keys
 *    (ignored by reads, their blobs kept), and blobs it was the last user of, kept;
 *  - a blob whose last use went but whose delete failed: kept unused;
 *  - a manifest_delete stopped between (3) and the repository key's txn cannot happen
 *    (one txn); an upload stopped mid-append keeps its flushed chunks (swept with its
 *    session after upload_ttl).
 * None of it is visible through the API; no sweep collects it today (upload sessions
 * idle over upload_ttl are swept at open: record and chunks).
 *
 * The Helm view (oci-store.h) counts in repo_known and tags_list; _catalog lists the
 * repositories of the OCI keys only (not the Helm view's, unlike the filesystem store).
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "oci-helm.h"
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

/* An open blob. */
struct kvo_reader {
	struct oci_blob_reader base;     /* first */
	struct arena *a;                 /* holds the current chunk */
	char data[KVTXN_TOKEN_HEX + 1];  /* the chunks' id */
	long long size, pos;             /* the blob's bytes; the next one to return */
	unsigned long next;              /* the next chunk to read */
	const char *buf;                 /* the current chunk's bytes to return */
	size_t len, off;
};

/* An upload being appended to. */
struct kvo_writer {
	struct oci_upload_writer base;   /* first */
	struct arena *a;                 /* scratch of one flush */
	char key[256];                   /* its oci/up/ key */
	char repo[160], uuid[OCI_UUID_LEN + 1];
	char token[KVTXN_TOKEN_HEX + 1]; /* the "txn" of the record as we last wrote it */
	char pending[KVTXN_TOKEN_HEX + 1];
	unsigned char *buf;              /* chunk number `chunk`: KV_MAX_VALUE bytes */
	size_t len;                      /* bytes in buf */
	unsigned long chunk;
	bool dirty;                      /* buf holds bytes not written yet */
};

/* ---- keys, errors, small helpers ---- */

static const char *k_blob(struct arena *a, const char *hex)
{ return arena_printf(a, "oci/blob/%s", hex); }
static const char *k_data(struct arena *a, const char *id)
{ return arena_printf(a, "oci/data/%s/", id); }
static const char *k_link(struct arena *a, const char *repo, const char *hex)
{ return arena_printf(a, "oci/link/%s/%s", repo, hex); }
static const char *k_use_link(struct arena *a, const char *hex, const char *repo)
{ return arena_printf(a, "oci/use/%s/%s/link", hex, repo); }
static const char *k_ref(struct arena *a, const char *repo, const char *hex, const char *mhex,
			 const char *id)
{ return arena_printf(a, "oci/ref/%s/%s/%s/%s", repo, hex, mhex, id); }
static const char *k_use(struct arena *a, const char *hex, const char *repo, const char *mhex,
			 const char *id)
{ return arena_printf(a, "oci/use/%s/%s/%s/%s", hex, repo, mhex, id); }
static const char *k_mf(struct arena *a, const char *repo, const char *hex)
{ return arena_printf(a, "oci/mf/%s/%s", repo, hex); }
static const char *k_body(struct arena *a, const char *id)
{ return arena_printf(a, "oci/mfb/%s/", id); }
static const char *k_subj(struct arena *a, const char *repo, const char *subj, const char *hex)
{ return arena_printf(a, "oci/subj/%s/%s/%s", repo, subj, hex); }
static const char *k_tag(struct arena *a, const char *repo, const char *tag)
{ return arena_printf(a, "oci/tag/%s/%s", repo, tag); }
static const char *k_repo(struct arena *a, const char *repo)
{ return arena_printf(a, "oci/repo/%s", repo); }
static const char *k_up(struct arena *a, const char *repo, const char *uuid)
{ return arena_printf(a, "oci/up/%s/%s", repo, uuid); }

/* Chunks of n bytes. */
static unsigned long chunks_of(long long n)
{
	return n <= 0 ? 0 : (unsigned long)((n + (long long)CHUNK - 1) / (long long)CHUNK);
}

static bool valid_id(const char *s)
{
	return s && strlen(s) == KVTXN_TOKEN_HEX && strspn(s, UUID_OK) == KVTXN_TOKEN_HEX;
}

static bool valid_hex(const char *s)
{
	return s && strlen(s) == DIGEST_HEX_LEN && strspn(s, UUID_OK) == DIGEST_HEX_LEN;
}

static struct kvo *kvo_of(struct oci_store *os)
{
	return (struct kvo *)os;
}

/* A fresh scratch arena for an operation. */
static struct arena *scratch(struct kvo *s)
{
	arena_reset(s->tmp);
	return s->tmp;
}

static int blob_unknown(const char *repo, const char *hex, struct appr_error *err)
{
	return appr_err(err, 404, OCI_E_BLOB_UNKNOWN, "blob sha256:%s unknown to %.140s", hex, repo);
}

static int upload_unknown(const char *repo, const char *uuid, struct appr_error *err)
{
	return appr_err(err, 404, OCI_E_BLOB_UPLOAD_UNKNOWN, "no upload %.40s in %.140s", uuid,
			repo);
}

/* Commit a transaction whose repetition is harmless (puts and deletes of fixed
 * values), sending it again when its answer was lost: KV_COMMITTED, KV_CONFLICT, or
 * -1 (err filled; a lost answer three times is -1 with the driver's 503). */
static int commit_plain(struct kv *kv, const struct kv_cond *c, size_t nc,
			const struct kv_op *ops, size_t n, struct appr_error *err)
{
	int r = -1;
	if (n == 0)
		return KV_COMMITTED;
	for (int i = 0; i < 3; i++) {
		r = kv_txn(kv, c, nc, ops, n, err);
		if (r != KV_UNKNOWN)
			break;
	}
	if (r == KV_UNKNOWN)
		return -1;
	if (r == KV_COMMITTED)
		appr_err_clear(err);
	return r;
}

/* Plain ops, sent KV_MAX_OPS at a time. Keys and values are borrowed until sent. */
struct batch {
	struct kvo *s;
	struct kv_op ops[KV_MAX_OPS];
	size_t n;
	int failed;                      /* a send failed: the rest is not sent */
};

static int batch_flush(struct batch *b, struct appr_error *err)
{
	if (b->failed)
		return -1;
	int r = commit_plain(b->s->kv, NULL, 0, b->ops, b->n, err);
	b->n = 0;
	if (r != KV_COMMITTED) {
		b->failed = 1;
		return -1;
	}
	return 0;
}

static int batch_add(struct batch *b, enum kv_op_type type, const char *key,
		     const void *value, size_t len, struct appr_error *err)
{
	if (b->n == KV_MAX_OPS && batch_flush(b, err) < 0)
		return -1;
	b->ops[b->n++] = (struct kv_op){ .type = type, .key = key, .value = value, .len = len };
	return 0;
}

/* Whether key exists: 1, 0, -1. */
static int exists(struct kvo *s, struct arena *a, const char *key, long long *rev,
		  struct appr_error *err)
{
	struct kv_pair kp;
	int r = kv_get(s->kv, key, a, &kp, err);
	if (r < 0)
		return -1;
	if (rev)
		*rev = r == 0 ? kp.rev : 0;
	return r == 0;
}

/* How many keys start with prefix, counting up to limit: the count or -1. The keys
 * into *keys when keys is not NULL. */
static long count_keys(struct kvo *s, struct arena *a, const char *prefix, size_t limit,
		       struct kv_pair **keys, struct appr_error *err)
{
	struct kv_pair *kp;
	size_t n;
	if (kv_range(s->kv, prefix, NULL, limit, true, a, &kp, &n, NULL, err) < 0)
		return -1;
	if (keys)
		*keys = kp;
	return (long)n;
}

/* Sorted, without duplicates: a copy of v (n strings) in a. */
static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static const char **distinct(struct arena *a, const char *const *v, size_t n, size_t *out_n)
{
	const char **d = arena_alloc(a, (n + 1) * sizeof *d);
	size_t k = 0;
	if (n)
		memcpy(d, v, n * sizeof *d);
	qsort(d, n, sizeof *d, str_cmp);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || strcmp(d[k - 1], d[i]) != 0)
			d[k++] = d[i];
	*out_n = k;
	return d;
}

/* ---- blobs ---- */

/* 1 when a manifest of repo references blob hex (a ref key whose instance is the
 * manifest's record), 0 not, -1 error. */
static int referenced(struct kvo *s, struct arena *a, const char *repo, const char *hex,
		      struct appr_error *err)
{
	const char *prefix = arena_printf(a, "oci/ref/%s/%s/", repo, hex);
	size_t pl = strlen(prefix);
	const char *after = NULL;
	for (;;) {
		struct kv_pair *kp;
		size_t n;
		bool more = false;
		if (kv_range(s->kv, prefix, after, REF_PAGE, true, a, &kp, &n, &more, err) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			const char *rest = kp[i].key + pl;  /* <mhex>/<id> */
			if (strlen(rest) != DIGEST_HEX_LEN + 1 + KVTXN_TOKEN_HEX ||
			    rest[DIGEST_HEX_LEN] != '/')
				continue;
			json_object *rec;
			long long rev;
			const char *mhex = arena_strndup(a, rest, DIGEST_HEX_LEN);
			int r = kvtxn_load(s->kv, k_mf(a, repo, mhex), a, &rec, &rev, err);
			if (r < 0)
				return -1;
			const char *id = jstr(rec, "id");
			bool ok = id && strcmp(id, rest + DIGEST_HEX_LEN + 1) == 0;
			json_object_put(rec);
			if (ok)
				return 1;
		}
		if (!more || n == 0)
			return 0;
		after = kp[n - 1].key;
	}
}

/* 1 when blob hex is stored and readable through repo (*size set), 0 not, -1. */
static int readable(struct kvo *s, struct arena *a, const char *repo, const char *hex,
		    long long *size, struct appr_error *err)
{
	json_object *b;
	long long rev;
	int r = kvtxn_load(s->kv, k_blob(a, hex), a, &b, &rev, err);
	if (r <= 0)
		return r;
	*size = jint(b, "size");
	json_object_put(b);
	r = exists(s, a, k_link(a, repo, hex), NULL, err);
	if (r != 0)
		return r;
	return referenced(s, a, repo, hex, err);
}

static int kvo_blob_stat(struct oci_store *os, const char *repo, const char *hex,
			 long long *size, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	int r = readable(s, scratch(s), repo, hex, size, err);
	if (r < 0)
		return -1;
	return r ? 0 : blob_unknown(repo, hex, err);
}

static int kvo_blob_open(struct oci_store *os, const char *hex, long long from,
			 struct oci_blob_reader **out, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	json_object *b;
	long long rev;
	const char *key = k_blob(a, hex);
	int r = kvtxn_load(s->kv, key, a, &b, &rev, err);

	*out = NULL;
	if (r < 0)
		return -1;
	if (r == 0)
		return appr_err(err, 404, OCI_E_BLOB_UNKNOWN, "blob sha256:%s unknown", hex);
	const char *data = jstr(b, "data");
	long long size = jint(b, "size");
	if (!valid_id(data) || size < 0 || jint(b, "chunks") != (long long)chunks_of(size)) {
		json_object_put(b);
		return kvtxn_corrupt("oci blob", key, err);
	}
	struct kvo_reader *rd = xcalloc(1, sizeof *rd);
	rd->base.s = os;
	rd->a = arena_new();
	memcpy(rd->data, data, KVTXN_TOKEN_HEX + 1);
	json_object_put(b);
	rd->size = size;
	if (from < 0)
		from = 0;
	rd->pos = from < size ? from : size;
	rd->next = (unsigned long)(rd->pos / (long long)CHUNK);
	*out = &rd->base;
	return 0;
}

static long kvo_blob_read(struct oci_blob_reader *br, void *buf, size_t len)
{
	struct kvo_reader *rd = (struct kvo_reader *)br;
	struct kvo *s = kvo_of(br->s);

	if (rd->pos >= rd->size || len == 0)
		return 0;
	if (rd->off == rd->len) {
		struct appr_error e = { 0 };
		struct kv_pair kp;
		char key[KVTXN_TOKEN_HEX + 32];
		long long start = (long long)rd->next * (long long)CHUNK;
		size_t want = rd->size - start < (long long)CHUNK ? (size_t)(rd->size - start) : CHUNK;
		snprintf(key, sizeof key, "oci/data/%s/%08lu", rd->data, rd->next);
		arena_reset(rd->a);
		int r = kv_get(s->kv, key, rd->a, &kp, &e);
		if (r != 0 || kp.len < want) {
			fprintf(stderr, "appr: oci: read %s: %s\n", key,
				r < 0 ? e.msg : r > 0 ? "chunk missing" : "chunk too short");
			return -1;
		}
		rd->buf = kp.value;
		rd->len = want;
		rd->off = (size_t)(rd->pos - start);
		rd->next++;
	}
	size_t n = rd->len - rd->off < len ? rd->len - rd->off : len;
	if (n > LONG_MAX)
		n = LONG_MAX;
	memcpy(buf, rd->buf + rd->off, n);
	rd->off += n;
	rd->pos += (long long)n;
	return (long)n;
}

static void kvo_blob_close(struct oci_blob_reader *br)
{
	struct kvo_reader *rd = (struct kvo_reader *)br;
	if (!rd)
		return;
	arena_free(rd->a);
	free(rd);
}

/* Delete blob hex with its chunks when nothing uses it (see the top: its record's
 * revision is read before the use range). 0, or -1 (err filled). */
static int blob_collect(struct kvo *s, struct arena *a, const char *hex, struct appr_error *err)
{
	const char *bkey = k_blob(a, hex), *uses = arena_printf(a, "oci/use/%s/", hex);
	for (int i = 0; i < GC_TRIES; i++) {
		json_object *b;
		long long rev;
		int r = kvtxn_load(s->kv, bkey, a, &b, &rev, err);
		if (r <= 0)
			return r;
		const char *data = arena_strdup(a, jstr(b, "data"));
		json_object_put(b);
		long n = count_keys(s, a, uses, 1, NULL, err);
		if (n != 0)
			return n < 0 ? -1 : 0;
		struct kv_cond c = { .key = bkey, .rev = rev };
		struct kv_op ops[2] = { { .type = KV_DELETE, .key = bkey } };
		size_t n_ops = 1;
		if (valid_id(data))
			ops[n_ops++] = (struct kv_op){ .type = KV_DELETE_PREFIX, .key = k_data(a, data) };
		r = kv_txn(s->kv, &c, 1, ops, n_ops, err);
		if (r == KV_COMMITTED)
			return 0;
		if (r < 0)
			return -1;
		appr_err_clear(err);          /* conflict or unknown: look again */
	}
	fprintf(stderr, "appr: oci: blob sha256:%s kept unused: it kept changing\n", hex);
	return 0;
}

/* Add repo's link to blob hex (kvtxn_build_fn): conditioned on and rewriting the blob
 * record, as the top says. */
struct link_txn {
	struct kvo *s;
	const char *repo, *hex;
};

static int link_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct link_txn *lt = ctx;
	const char *bkey = k_blob(a, lt->hex);
	json_object *b;
	long long rev;
	int r = kvtxn_load(lt->s->kv, bkey, a, &b, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return blob_unknown(lt->repo, lt->hex, err);
	kvtxn_init(t, bkey, false);
	kvtxn_cond(t, bkey, rev);
	r = kvtxn_put(t, a, bkey, b, err);
	json_object_put(b);
	kvtxn_op(t, KV_PUT, k_link(a, lt->repo, lt->hex), "1", 1);
	kvtxn_op(t, KV_PUT, k_use_link(a, lt->hex, lt->repo), "1", 1);
	kvtxn_op(t, KV_PUT, k_repo(a, lt->repo), "1", 1);
	return r;
}

static int kvo_blob_mount(struct oci_store *os, const char *repo, const char *from,
			  const char *hex, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	long long size;
	int r = readable(s, a, from, hex, &size, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return blob_unknown(from, hex, err);
	struct link_txn lt = { s, repo, hex };
	return kvtxn_run(s->kv, a, link_build, &lt, err) == KVTXN_APPLIED ? 0 : -1;
}

/* Whether repo holds nothing but (at most) the keys named: 1 empty, 0 not, -1. The
 * caller read the repository key's revision before. */
static int repo_empty_but(struct kvo *s, struct arena *a, const char *repo,
			  const char *link_key, const char *mf_key, struct appr_error *err)
{
	struct kv_pair *kp;
	long n = count_keys(s, a, arena_printf(a, "oci/link/%s/", repo), 2, &kp, err);
	if (n < 0)
		return -1;
	if (n > 1 || (n == 1 && (!link_key || strcmp(kp[0].key, link_key) != 0)))
		return 0;
	n = count_keys(s, a, arena_printf(a, "oci/mf/%s/", repo), 2, &kp, err);
	if (n < 0)
		return -1;
	return n == 0 || (n == 1 && mf_key && strcmp(kp[0].key, mf_key) == 0);
}

/* Into t, the delete of repo's repository key (conditioned on its revision, read
 * first) when the repository holds nothing but link_key and mf_key, which t deletes
 * (either may be NULL). 0, or -1 (err filled). */
static int repo_key_drop(struct kvtxn *t, struct kvo *s, struct arena *a, const char *repo,
			 const char *link_key, const char *mf_key, struct appr_error *err)
{
	const char *rkey = k_repo(a, repo);
	long long rrev;
	int r = exists(s, a, rkey, &rrev, err);
	if (r <= 0)
		return r;
	int e = repo_empty_but(s, a, repo, link_key, mf_key, err);
	if (e < 0)
		return -1;
	if (e) {
		kvtxn_cond(t, rkey, rrev);
		kvtxn_op(t, KV_DELETE, rkey, NULL, 0);
	}
	return 0;
}

/* Delete repo's repository key when the repository holds no link and no manifest
 * any more, conditioned on the key's revision as read before looking (every
 * transaction that adds to the repository puts the key: a new revision). Run after a
 * removal committed, so that of two removals at once the later one sees both gone.
 * 0, or -1 (err filled). */
static int repo_collect(struct kvo *s, struct arena *a, const char *repo,
			struct appr_error *err)
{
	const char *rkey = k_repo(a, repo);
	for (int i = 0; i < GC_TRIES; i++) {
		long long rrev;
		int r = exists(s, a, rkey, &rrev, err);
		if (r <= 0)
			return r;
		int e = repo_empty_but(s, a, repo, NULL, NULL, err);
		if (e <= 0)
			return e;
		struct kv_cond c = { .key = rkey, .rev = rrev };
		struct kv_op op = { .type = KV_DELETE, .key = rkey };
		r = kv_txn(s->kv, &c, 1, &op, 1, err);
		if (r == KV_COMMITTED)
			return 0;
		if (r < 0)
			return -1;
		appr_err_clear(err);          /* conflict or unknown: look again */
	}
	return 0;
}

/* After a removal of a use of blob hex or of something in repo committed: the blob
 * and the repository key go when nothing holds them any more. Two removals running
 * at once each decide inside their own transaction from what they read before it,
 * so each may see the other's use still there; looking again once committed, the
 * later of the two sees both gone. Failures are logged: debris, never a loss. */
static void collect_after(struct kvo *s, struct arena *a, const char *repo, const char *hex)
{
	struct appr_error e = { 0 };
	if (hex && blob_collect(s, a, hex, &e) < 0) {
		fprintf(stderr, "appr: oci: kept blob sha256:%s: %s\n", hex, e.msg);
		appr_err_clear(&e);
	}
	if (repo && repo_collect(s, a, repo, &e) < 0)
		fprintf(stderr, "appr: oci: kept the repository key of %.140s: %s\n", repo, e.msg);
}

struct unlink_txn {
	struct kvo *s;
	const char *repo, *hex;
};

/* Delete repo's link to blob hex (kvtxn_build_fn), and the blob when it was its last
 * use, and the repository key when it was the repository's last link or manifest. */
static int unlink_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct unlink_txn *ut = ctx;
	struct kvo *s = ut->s;
	const char *lkey = k_link(a, ut->repo, ut->hex), *ukey = k_use_link(a, ut->hex, ut->repo);
	const char *bkey = k_blob(a, ut->hex);
	long long lrev, brev;
	json_object *b;
	struct kv_pair *kp;
	int r = exists(s, a, lkey, &lrev, err);
	if (r <= 0)
		return r < 0 ? -1 : blob_unknown(ut->repo, ut->hex, err);
	kvtxn_init(t, lkey, true);
	kvtxn_cond(t, lkey, lrev);
	kvtxn_op(t, KV_DELETE, lkey, NULL, 0);
	kvtxn_op(t, KV_DELETE, ukey, NULL, 0);
	/* the blob: its record, then its uses */
	if ((r = kvtxn_load(s->kv, bkey, a, &b, &brev, err)) < 0)
		return -1;
	const char *data = r ? arena_strdup(a, jstr(b, "data")) : NULL;
	json_object_put(b);
	long n = r ? count_keys(s, a, arena_printf(a, "oci/use/%s/", ut->hex), 2, &kp, err) : 0;
	if (n < 0)
		return -1;
	if (r && (n == 0 || (n == 1 && strcmp(kp[0].key, ukey) == 0))) {
		kvtxn_cond(t, bkey, brev);
		kvtxn_op(t, KV_DELETE, bkey, NULL, 0);
		if (valid_id(data))
			kvtxn_op(t, KV_DELETE_PREFIX, k_data(a, data), NULL, 0);
	}
	return repo_key_drop(t, s, a, ut->repo, lkey, NULL, err);
}

static int kvo_blob_delete(struct oci_store *os, const char *repo, const char *hex,
			   struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	struct unlink_txn ut = { s, repo, hex };
	if (kvtxn_run(s->kv, a, unlink_build, &ut, err) != KVTXN_APPLIED)
		return -1;
	collect_after(s, a, repo, hex);
	return 0;
}

/* ---- listings ---- */

/* A page of n (n < 0: all) of the sorted, distinct strings v (count m) after last. */
static void page(struct arena *a, const char **v, size_t m, const char *last, long n,
		 const char ***out, size_t *count, bool *more)
{
	size_t k = 0, i = 0;
	*out = arena_alloc(a, (m + 1) * sizeof **out);
	*more = false;
	if (last)
		while (i < m && strcmp(v[i], last) <= 0)
			i++;
	for (; i < m; i++) {
		if (n >= 0 && (long)k == n) {
			*more = true;
			break;
		}
		(*out)[k++] = arena_strdup(a, v[i]);
	}
	*count = k;
}

static int kvo_repos_list(struct oci_store *os, const char *last, long n, struct arena *a,
			  const char ***repos, size_t *count, bool *more, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *t = scratch(s);
	struct kv_pair *kp;
	size_t m;
	const size_t pl = strlen("oci/repo/");
	if (kv_range(s->kv, "oci/repo/", NULL, 0, true, t, &kp, &m, NULL, err) < 0)
		return -1;
	/* and the Helm view's: the packages with a helm release, then per namespace
	 * those with a release in the view (a valid chart, its .tgz SHA-256 known) */
	struct storage_list_query q = { .media_type = "helm" };
	struct storage_package *pk;
	size_t np;
	if (storage_list_packages(s->base.st, &q, t, &pk, &np, err) < 0)
		return -1;
	size_t cap = m + np + 1;
	const char **v = arena_alloc(t, cap * sizeof *v);
	for (size_t i = 0; i < m; i++)
		v[i] = kp[i].key + pl;
	for (size_t i = 0; i < np;) {
		const char *slash = strchr(pk[i].package, '/');
		size_t nl = slash ? (size_t)(slash - pk[i].package) : 0, j = i + 1;
		while (j < np && strncmp(pk[j].package, pk[i].package, nl + 1) == 0)
			j++;                     /* pk[i..j): one namespace */
		if (slash) {
			struct storage_chart *c;
			size_t nc;
			char tag[OCI_HELM_TAG_MAX + 1];
			const char *ns = arena_strndup(t, pk[i].package, nl);
			if (storage_list_charts(s->base.st, ns, true, t, &c, &nc, err) < 0)
				return -1;
			const char *added = NULL;    /* rows of one package are adjacent */
			for (size_t k = 0; k < nc && m < cap; k++)
				if (c[k].chart && valid_hex(c[k].blob_sha256) &&
				    oci_helm_tag(c[k].release, tag) == 0 &&
				    (!added || strcmp(added, c[k].name) != 0)) {
					v[m++] = arena_printf(t, "%s/%s", ns, c[k].name);
					added = c[k].name;
				}
		}
		i = j;
	}
	/* key order puts "ns/a-b/" before "ns/a/": sort the names themselves */
	v = distinct(t, v, m, &m);
	page(a, v, m, last, n, repos, count, more);
	return 0;
}

/* The tags of the Helm view of repo, sorted, distinct, into *v (count *m), in a. */
static int helm_tags(struct kvo *s, const char *repo, struct arena *a, const char ***v,
		     size_t *m, struct appr_error *err)
{
	struct oci_chart_release *rels;
	size_t n, k = 0;
	if (oci_chart_releases(&s->base, repo, NULL, a, &rels, &n, err) < 0)
		return -1;
	const char **t = arena_alloc(a, (n + 1) * sizeof *t);
	for (size_t i = 0; i < n; i++) {
		char tag[OCI_HELM_TAG_MAX + 1];
		if (oci_helm_tag(rels[i].version, tag) == 0)
			t[k++] = arena_strdup(a, tag);
	}
	*v = distinct(a, t, k, m);
	return 0;
}

static int kvo_tags_list(struct oci_store *os, const char *repo, const char *last, long n,
			 struct arena *a, const char ***tags, size_t *count, bool *more,
			 struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *t = scratch(s);
	const char *prefix = arena_printf(t, "oci/tag/%s/", repo);
	const char *after = last ? arena_printf(t, "%s%s", prefix, last) : NULL;
	const char **helm;
	struct kv_pair *kp;
	size_t n_helm, n_kp, pl = strlen(prefix);
	/* n + 1 of each side after last is enough to fill the page and tell "more" */
	if (kv_range(s->kv, prefix, after, n < 0 ? 0 : (size_t)n + 1, true, t, &kp, &n_kp, NULL,
		     err) < 0 ||
	    helm_tags(s, repo, t, &helm, &n_helm, err) < 0)
		return -1;
	const char **v = arena_alloc(t, (n_kp + n_helm + 1) * sizeof *v);
	size_t m = 0;
	for (size_t i = 0; i < n_kp; i++)
		v[m++] = kp[i].key + pl;
	for (size_t i = 0; i < n_helm; i++)
		if (!last || strcmp(helm[i], last) > 0)
			v[m++] = helm[i];
	v = distinct(t, v, m, &m);
	page(a, v, m, last, n, tags, count, more);
	return 0;
}

static int kvo_repo_known(struct oci_store *os, const char *repo, bool *known,
			  struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	struct oci_chart_release *rels;
	size_t n;
	int r = exists(s, a, k_repo(a, repo), NULL, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		long c = count_keys(s, a, arena_printf(a, "oci/up/%s/", repo), 1, NULL, err);
		if (c < 0)
			return -1;
		r = c > 0;
	}
	if (r == 0) {
		if (oci_chart_releases(os, repo, NULL, a, &rels, &n, err) < 0)
			return -1;
		r = n > 0;
	}
	*known = r != 0;
	return 0;
}

static int kvo_manifest_tag(struct oci_store *os, const char *repo, const char *hex,
			    struct arena *a, const char **tag, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *t = scratch(s);
	const char *prefix = arena_printf(t, "oci/tag/%s/", repo);
	struct kv_pair *kp;
	size_t n;
	*tag = NULL;
	if (kv_range(s->kv, prefix, NULL, 0, false, t, &kp, &n, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kp[i].len == DIGEST_HEX_LEN && memcmp(kp[i].value, hex, DIGEST_HEX_LEN) == 0) {
			*tag = arena_strdup(a, kp[i].key + strlen(prefix));
			break;
		}
	return 0;
}

/* ---- upload sessions ---- */

struct up_new_txn {
	const char *key;
	long long now;
};

static int up_new_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct up_new_txn *ut = ctx;
	json_object *rec = json_object_new_object();
	kvtxn_init(t, ut->key, false);
	kvtxn_cond(t, ut->key, 0);
	json_object_object_add(rec, "size", json_object_new_int64(0));
	json_object_object_add(rec, "updated", json_object_new_int64(ut->now));
	int r = kvtxn_put(t, a, ut->key, rec, err);
	json_object_put(rec);
	return r;
}

static int kvo_upload_new(struct oci_store *os, const char *repo, char uuid[OCI_UUID_LEN + 1],
			  struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	kvtxn_token(uuid);
	struct up_new_txn ut = { k_up(a, repo, uuid), (long long)time(NULL) };
	return kvtxn_run(s->kv, a, up_new_build, &ut, err) == KVTXN_APPLIED ? 0 : -1;
}

/* Session uuid of repo: 1 (*rec for the caller to put, *rev), or -1 with 404
 * BLOB_UPLOAD_UNKNOWN or a kv error. */
static int up_load(struct kvo *s, struct arena *a, const char *repo, const char *uuid,
		   json_object **rec, long long *rev, struct appr_error *err)
{
	if (!valid_id(uuid))
		return upload_unknown(repo, uuid, err);
	int r = kvtxn_load(s->kv, k_up(a, repo, uuid), a, rec, rev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return upload_unknown(repo, uuid, err);
	if (!valid_id(jstr(*rec, "txn")) || jint(*rec, "size") < 0) {
		json_object_put(*rec);
		*rec = NULL;
		return kvtxn_corrupt("oci upload", k_up(a, repo, uuid), err);
	}
	return 1;
}

/* Drop session key (uuid) with its chunks, conditioned on the record as read now (a
 * session finished meanwhile has given its chunks to a blob: they stay). Best effort. */
static void up_drop(struct kvo *s, struct arena *a, const char *key, const char *uuid)
{
	struct appr_error e = { 0 };
	for (int i = 0; i < 5; i++) {
		long long rev;
		int r = exists(s, a, key, &rev, &e);
		if (r <= 0) {
			if (r == 0)
				return;
			break;
		}
		struct kv_cond c = { .key = key, .rev = rev };
		struct kv_op ops[2] = { { .type = KV_DELETE, .key = key },
					{ .type = KV_DELETE_PREFIX, .key = k_data(a, uuid) } };
		r = kv_txn(s->kv, &c, 1, ops, 2, &e);
		if (r == KV_COMMITTED)
			return;
		if (r < 0)
			break;
		appr_err_clear(&e);
	}
	fprintf(stderr, "appr: oci: left upload %s: %s\n", key, e.msg[0] ? e.msg : "it kept changing");
}

static int kvo_upload_cancel(struct oci_store *os, const char *repo, const char *uuid,
			     struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	json_object *rec;
	long long rev;
	if (up_load(s, a, repo, uuid, &rec, &rev, err) < 0)
		return -1;
	json_object_put(rec);
	up_drop(s, a, k_up(a, repo, uuid), uuid);
	return 0;
}

static int kvo_upload_append(struct oci_store *os, const char *repo, const char *uuid,
			     struct oci_upload_writer **out, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	json_object *rec;
	long long rev;
	*out = NULL;
	if (up_load(s, a, repo, uuid, &rec, &rev, err) < 0)
		return -1;
	long long size = jint(rec, "size");
	struct kvo_writer *w = xcalloc(1, sizeof *w);
	w->base.s = os;
	w->base.size = size;
	memcpy(w->token, jstr(rec, "txn"), KVTXN_TOKEN_HEX + 1);
	json_object_put(rec);
	snprintf(w->key, sizeof w->key, "oci/up/%s/%s", repo, uuid);
	snprintf(w->repo, sizeof w->repo, "%s", repo);
	memcpy(w->uuid, uuid, OCI_UUID_LEN + 1);
	w->a = arena_new();
	w->buf = xmalloc(CHUNK);
	w->chunk = (unsigned long)(size / (long long)CHUNK);
	w->len = (size_t)(size % (long long)CHUNK);
	if (w->len) {
		/* the partial last chunk: rewritten with what comes */
		struct kv_pair kp;
		const char *key = arena_printf(a, "oci/data/%s/%08lu", uuid, w->chunk);
		int r = kv_get(s->kv, key, a, &kp, err);
		if (r != 0 || kp.len < w->len) {
			if (r >= 0)
				kvtxn_corrupt("oci upload chunk", key, err);
			free(w->buf);
			arena_free(w->a);
			free(w);
			return -1;
		}
		memcpy(w->buf, kp.value, w->len);
	}
	*out = &w->base;
	return 0;
}

/* Write the buffer as chunk number w->chunk with the session's new size
 * (kvtxn_build_fn): conditioned on the record as we last wrote (or read) it. */
static int flush_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	struct kvo_writer *w = ctx;
	struct kvo *s = kvo_of(w->base.s);
	json_object *rec;
	long long rev;
	int r = kvtxn_load(s->kv, w->key, a, &rec, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return upload_unknown(w->repo, w->uuid, err);
	const char *tok = jstr(rec, "txn");
	if (!tok || strcmp(tok, w->token) != 0) {
		json_object_put(rec);
		return appr_err(err, 416, OCI_E_BLOB_UPLOAD_INVALID,
				"upload %s was changed by another request meanwhile", w->uuid);
	}
	kvtxn_init(t, w->key, false);
	memcpy(w->pending, t->token, sizeof w->pending);
	kvtxn_cond(t, w->key, rev);
	kvtxn_op(t, KV_PUT, arena_printf(a, "oci/data/%s/%08lu", w->uuid, w->chunk), w->buf,
		 w->len);
	json_object_object_add(rec, "size", json_object_new_int64(
				       (long long)w->chunk * (long long)CHUNK + (long long)w->len));
	json_object_object_add(rec, "updated", json_object_new_int64((long long)time(NULL)));
	r = kvtxn_put(t, a, w->key, rec, err);
	json_object_put(rec);
	return r;
}

static int flush(struct kvo_writer *w, struct appr_error *err)
{
	struct kvo *s = kvo_of(w->base.s);
	arena_reset(w->a);
	if (kvtxn_run(s->kv, w->a, flush_build, w, err) != KVTXN_APPLIED)
		return -1;
	memcpy(w->token, w->pending, sizeof w->token);
	w->dirty = false;
	return 0;
}

static int kvo_upload_write(struct oci_upload_writer *bw, const void *data, size_t len,
			    struct appr_error *err)
{
	struct kvo_writer *w = (struct kvo_writer *)bw;
	const unsigned char *p = data;
	while (len > 0) {
		if (w->len == CHUNK) {
			if (w->dirty && flush(w, err) < 0)
				return -1;
			w->chunk++;
			w->len = 0;
		}
		size_t n = CHUNK - w->len < len ? CHUNK - w->len : len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		w->dirty = true;
		w->base.size += (long long)n;
		p += n;
		len -= n;
	}
	return 0;
}

static int kvo_upload_end(struct oci_upload_writer *bw, bool keep, struct appr_error *err)
{
	struct kvo_writer *w = (struct kvo_writer *)bw;
	int rc = 0;
	if (!w)
		return 0;
	if (keep && w->dirty)
		rc = flush(w, err);
	free(w->buf);
	arena_free(w->a);
	free(w);
	return rc;
}

/* The SHA-256 of the first size bytes of the chunks of uuid into got: 0, or -1 (a
 * chunk missing or short: logged, 500; or a kv error). */
static int hash_chunks(struct kvo *s, const char *uuid, long long size,
		       char got[DIGEST_HEX_LEN + 1], struct appr_error *err)
{
	struct arena *a = arena_new();
	struct digest_ctx *d = digest_new();
	unsigned long n = chunks_of(size);
	int rc = -1;
	for (unsigned long i = 0; i < n; i++) {
		struct kv_pair kp;
		long long start = (long long)i * (long long)CHUNK;
		size_t want = size - start < (long long)CHUNK ? (size_t)(size - start) : CHUNK;
		const char *key;
		arena_reset(a);
		key = arena_printf(a, "oci/data/%s/%08lu", uuid, i);
		int r = kv_get(s->kv, key, a, &kp, err);
		if (r < 0)
			goto out;
		if (r > 0 || kp.len < want) {
			kvtxn_corrupt("oci upload chunk", key, err);
			goto out;
		}
		digest_update(d, kp.value, want);
	}
	rc = 0;
out:
	digest_final_hex(d, got);
	digest_free(d);
	arena_free(a);
	return rc;
}

struct finish_txn {
	struct kvo *s;
	const char *repo, *uuid, *hex, *ukey, *token;
	long long size;
};

/* Publish the hashed session as blob hex linked to repo (kvtxn_build_fn). */
static int finish_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct finish_txn *ft = ctx;
	struct kvo *s = ft->s;
	const char *bkey = k_blob(a, ft->hex);
	json_object *rec, *b;
	long long urev, brev;
	int r = kvtxn_load(s->kv, ft->ukey, a, &rec, &urev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return upload_unknown(ft->repo, ft->uuid, err);
	const char *tok = jstr(rec, "txn");
	bool same = tok && strcmp(tok, ft->token) == 0;
	json_object_put(rec);
	if (!same)
		return appr_err(err, 409, APPR_E_RESOURCE_IN_USE,
				"upload %s was changed by another request while it was finished",
				ft->uuid);
	if ((r = kvtxn_load(s->kv, bkey, a, &b, &brev, err)) < 0)
		return -1;
	kvtxn_init(t, bkey, false);
	kvtxn_cond(t, ft->ukey, urev);
	kvtxn_cond(t, bkey, brev);
	if (r) {
		/* stored already: its bytes stay, ours go */
		kvtxn_op(t, KV_DELETE_PREFIX, k_data(a, ft->uuid), NULL, 0);
	} else {
		b = json_object_new_object();
		json_object_object_add(b, "size", json_object_new_int64(ft->size));
		json_object_object_add(b, "chunks", json_object_new_int64(
					       (long long)chunks_of(ft->size)));
		json_object_object_add(b, "data", json_object_new_string(ft->uuid));
	}
	r = kvtxn_put(t, a, bkey, b, err);
	json_object_put(b);
	kvtxn_op(t, KV_PUT, k_link(a, ft->repo, ft->hex), "1", 1);
	kvtxn_op(t, KV_PUT, k_use_link(a, ft->hex, ft->repo), "1", 1);
	kvtxn_op(t, KV_PUT, k_repo(a, ft->repo), "1", 1);
	kvtxn_op(t, KV_DELETE, ft->ukey, NULL, 0);
	return r;
}

static int kvo_upload_finish(struct oci_store *os, const char *repo, const char *uuid,
			     const char *hex, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	char got[DIGEST_HEX_LEN + 1];
	json_object *rec;
	long long rev;
	if (up_load(s, a, repo, uuid, &rec, &rev, err) < 0)
		return -1;
	struct finish_txn ft = {
		.s = s, .repo = repo, .uuid = uuid, .hex = hex, .ukey = k_up(a, repo, uuid),
		.token = arena_strdup(a, jstr(rec, "txn")), .size = jint(rec, "size"),
	};
	json_object_put(rec);
	if (hash_chunks(s, uuid, ft.size, got, err) < 0) {
		if (err && err->http == 500)
			up_drop(s, a, ft.ukey, uuid);  /* its bytes are not all there */
		return -1;
	}
	if (strcmp(got, hex) != 0) {
		up_drop(s, a, ft.ukey, uuid);
		return appr_err(err, 400, OCI_E_DIGEST_INVALID,
				"the upload's bytes have digest sha256:%s, not sha256:%s", got, hex);
	}
	/* refused or failed: the session stays, the client may try again */
	return kvtxn_run(s->kv, a, finish_build, &ft, err) == KVTXN_APPLIED ? 0 : -1;
}

/* Sweep the sessions idle for upload_ttl seconds: record and chunks (errors logged). */
static void sweep_uploads(struct kvo *s)
{
	struct arena *a = scratch(s);
	struct appr_error e = { 0 };
	struct kv_pair *kp;
	size_t n, swept = 0;
	long long limit = (long long)time(NULL) - (long long)s->base.cfg->upload_ttl;
	if (kv_range(s->kv, "oci/up/", NULL, 0, false, a, &kp, &n, NULL, &e) < 0) {
		fprintf(stderr, "appr: oci: sweeping uploads: %s\n", e.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *rec = kvtxn_parse(kp[i].value, kp[i].len);
		long long updated = jint(rec, "updated");
		json_object_put(rec);
		const char *uuid = strrchr(kp[i].key, '/');
		if (!uuid || !valid_id(uuid + 1) || updated >= limit)
			continue;
		struct kv_cond c = { .key = kp[i].key, .rev = kp[i].rev };
		struct kv_op ops[2] = { { .type = KV_DELETE, .key = kp[i].key },
					{ .type = KV_DELETE_PREFIX, .key = k_data(a, uuid + 1) } };
		int r = kv_txn(s->kv, &c, 1, ops, 2, &e);
		if (r == KV_COMMITTED)
			swept++;
		else if (r < 0 || r == KV_UNKNOWN)
			fprintf(stderr, "appr: oci: sweeping upload %s: %s\n", kp[i].key, e.msg);
		appr_err_clear(&e);
	}
	if (swept)
		fprintf(stderr, "appr: oci: swept %lu idle upload sessions\n", (unsigned long)swept);
}

/* ---- manifests ---- */

/* Manifest hex of repo, record and body: 1 (m, *artifact_type in a), 0 absent, -1. */
static int mf_read(struct kvo *s, struct arena *t, const char *repo, const char *hex,
		   struct arena *a, struct oci_manifest *m, const char **artifact_type,
		   struct appr_error *err)
{
	const char *key = k_mf(t, repo, hex);
	for (int attempt = 0; attempt < 3; attempt++) {
		json_object *rec;
		long long rev;
		int r = kvtxn_load(s->kv, key, t, &rec, &rev, err);
		if (r <= 0)
			return r;
		const char *id = jstr(rec, "id"), *mt = jstr(rec, "media_type");
		long long len = jint(rec, "len");
		unsigned long chunks = (unsigned long)jint(rec, "chunks");
		if (!valid_id(id) || !mt || len < 0 || len > (long long)OCI_MANIFEST_MAX ||
		    chunks != chunks_of(len)) {
			json_object_put(rec);
			return kvtxn_corrupt("oci manifest", key, err);
		}
		char *body = arena_alloc(a, (size_t)len + 1);
		size_t off = 0;
		bool gone = false;
		for (unsigned long i = 0; i < chunks && !gone; i++) {
			struct kv_pair kp;
			r = kv_get(s->kv, arena_printf(t, "oci/mfb/%s/%08lu", id, i), t, &kp, err);
			if (r < 0) {
				json_object_put(rec);
				return -1;
			}
			if (r > 0 || kp.len > (size_t)len - off) {
				gone = true;
				break;
			}
			memcpy(body + off, kp.value, kp.len);
			off += kp.len;
		}
		if (gone || off != (size_t)len) {
			json_object_put(rec);
			continue;             /* deleted or replaced meanwhile: again */
		}
		snprintf(m->digest, sizeof m->digest, "%s", hex);
		m->media_type = arena_strdup(a, mt);
		m->body = body;
		m->len = (size_t)len;
		if (artifact_type)
			*artifact_type = arena_strdup(a, jstr(rec, "artifact_type"));
		json_object_put(rec);
		return 1;
	}
	return kvtxn_corrupt("oci manifest body", key, err);
}

static int kvo_manifest_get(struct oci_store *os, const char *repo, const char *hex,
			    const char *tag, struct arena *a, struct oci_manifest *m,
			    struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *t = scratch(s);
	const char *h = hex;
	if (!h) {
		struct kv_pair kp;
		int r = kv_get(s->kv, k_tag(t, repo, tag), t, &kp, err);
		if (r < 0)
			return -1;
		h = r == 0 ? arena_strndup(t, kp.value, kp.len) : NULL;
	}
	int r = h && valid_hex(h) ? mf_read(s, t, repo, h, a, m, NULL, err) : 0;
	if (r < 0)
		return -1;
	if (r == 0)
		return appr_err(err, 404, OCI_E_MANIFEST_UNKNOWN, "manifest %s%.128s unknown to %.120s",
				hex ? "sha256:" : "", hex ? hex : tag, repo);
	return 0;
}

static int kvo_referrers(struct oci_store *os, const char *repo, const char *hex,
			 struct arena *a, struct oci_manifest **out, const char ***artifact_types,
			 size_t *n, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *t = scratch(s);
	const char *prefix = arena_printf(t, "oci/subj/%s/%s/", repo, hex);
	struct kv_pair *kp;
	size_t n_kp;
	*n = 0;
	if (kv_range(s->kv, prefix, NULL, 0, true, t, &kp, &n_kp, NULL, err) < 0)
		return -1;
	*out = arena_alloc(a, (n_kp + 1) * sizeof **out);
	*artifact_types = arena_alloc(a, (n_kp + 1) * sizeof **artifact_types);
	for (size_t i = 0; i < n_kp; i++) {
		const char *mhex = kp[i].key + strlen(prefix);
		if (!valid_hex(mhex))
			continue;
		int r = mf_read(s, t, repo, mhex, a, &(*out)[*n], &(*artifact_types)[*n], err);
		if (r < 0)
			return -1;
		if (r > 0)
			(*n)++;
	}
	return 0;
}

/* A manifest being put. */
struct put_txn {
	struct kvo *s;
	const char *repo, *hex, *tag, *mkey, *now, *id;
	const struct oci_manifest_info *info;
	const char *body;
	size_t len;
	bool inline_body;
	const char **blobs, **mans;      /* distinct */
	size_t n_blobs, n_mans;
	size_t from, count;              /* pin_build: blobs[from .. from + count) */
	bool pinned;                     /* final_build: the references are written */
	bool need_pins;                  /*   it found no record and nothing pinned */
	bool existed;                    /*   it found the record there: a retag */
};

/* Write the ref and use keys of blobs[from..from+count) (kvtxn_build_fn): each blob
 * conditioned on and rewriting its record. */
static int pin_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct put_txn *p = ctx;
	for (size_t i = 0; i < p->count; i++) {
		const char *hex = p->blobs[p->from + i], *bkey = k_blob(a, hex);
		json_object *b;
		long long rev;
		int r = kvtxn_load(p->s->kv, bkey, a, &b, &rev, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return appr_err(err, 400, OCI_E_MANIFEST_BLOB_UNKNOWN,
					"blob sha256:%s is not in %.140s", hex, p->repo);
		if (i == 0)
			kvtxn_init(t, bkey, false);
		kvtxn_cond(t, bkey, rev);
		r = kvtxn_put(t, a, bkey, b, err);
		json_object_put(b);
		if (r < 0)
			return -1;
		kvtxn_op(t, KV_PUT, k_ref(a, p->repo, hex, p->hex, p->id), "1", 1);
		kvtxn_op(t, KV_PUT, k_use(a, hex, p->repo, p->hex, p->id), "1", 1);
	}
	return 0;
}

static json_object *str_array(const char *const *v, size_t n)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i]));
	return arr;
}

/* The manifest's own transaction (kvtxn_build_fn): its record, body (when small),
 * subject key, tag and repository key, conditioned on the record being absent; or,
 * when it is there, the tag only, conditioned on the record and rewriting it. */
static int final_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	struct put_txn *p = ctx;
	const struct oci_manifest_info *info = p->info;
	json_object *rec;
	long long rev;
	int r = kvtxn_load(p->s->kv, p->mkey, a, &rec, &rev, err);
	if (r < 0)
		return -1;
	p->existed = r == 1;
	p->need_pins = false;
	if (!p->existed && !p->pinned) {
		p->need_pins = true;         /* deleted meanwhile: the whole put */
		return appr_err(err, 409, APPR_E_RESOURCE_IN_USE, "manifest changed meanwhile");
	}
	kvtxn_init(t, p->mkey, false);
	kvtxn_cond(t, p->mkey, rev);
	if (!p->existed) {
		rec = json_object_new_object();
		json_object_object_add(rec, "media_type", json_object_new_string(info->media_type));
		if (info->artifact_type)
			json_object_object_add(rec, "artifact_type",
					       json_object_new_string(info->artifact_type));
		if (info->subject[0])
			json_object_object_add(rec, "subject", json_object_new_string(info->subject));
		json_object_object_add(rec, "created_at", json_object_new_string(p->now));
		json_object_object_add(rec, "len", json_object_new_int64((long long)p->len));
		json_object_object_add(rec, "id", json_object_new_string(p->id));
		json_object_object_add(rec, "chunks", json_object_new_int64(
					       (long long)chunks_of((long long)p->len)));
		json_object_object_add(rec, "blobs", str_array(p->blobs, p->n_blobs));
		json_object_object_add(rec, "manifests", str_array(p->mans, p->n_mans));
		if (p->inline_body && p->len)
			kvtxn_op(t, KV_PUT, arena_printf(a, "oci/mfb/%s/%08lu", p->id, 0UL), p->body,
				 p->len);
		if (info->subject[0])
			kvtxn_op(t, KV_PUT, k_subj(a, p->repo, info->subject, p->hex), "1", 1);
	}
	r = kvtxn_put(t, a, p->mkey, rec, err);
	json_object_put(rec);
	if (p->tag)
		kvtxn_op(t, KV_PUT, k_tag(a, p->repo, p->tag), p->hex, DIGEST_HEX_LEN);
	kvtxn_op(t, KV_PUT, k_repo(a, p->repo), "1", 1);
	return r;
}

/* Delete the keys of instance id of manifest hex (refs and uses of refs, body) in
 * plain txns: 0, or -1 (err filled). */
static int drop_instance(struct kvo *s, struct arena *a, const char *repo, const char *hex,
			 const char *id, const char *const *refs, size_t n_refs, bool body,
			 struct appr_error *err)
{
	struct batch b = { .s = s };
	for (size_t i = 0; i < n_refs; i++) {
		if (batch_add(&b, KV_DELETE, k_ref(a, repo, refs[i], hex, id), NULL, 0, err) < 0 ||
		    batch_add(&b, KV_DELETE, k_use(a, refs[i], repo, hex, id), NULL, 0, err) < 0)
			return -1;
		if (b.n >= 2 * KEYS_PER_TXN && batch_flush(&b, err) < 0)
			return -1;
	}
	if (body && batch_add(&b, KV_DELETE_PREFIX, k_body(a, id), NULL, 0, err) < 0)
		return -1;
	return batch_flush(&b, err);
}

/* Undo what a put that did not make the record wrote under its instance. */
static void put_undo(struct put_txn *p, struct arena *a)
{
	struct appr_error e = { 0 };
	const char **all = arena_alloc(a, (p->n_blobs + p->n_mans + 1) * sizeof *all);
	if (p->n_blobs)
		memcpy(all, p->blobs, p->n_blobs * sizeof *all);
	if (p->n_mans)
		memcpy(all + p->n_blobs, p->mans, p->n_mans * sizeof *all);
	if (drop_instance(p->s, a, p->repo, p->hex, p->id, all, p->n_blobs + p->n_mans, true,
			  &e) < 0)
		fprintf(stderr, "appr: oci: left the keys of an unfinished put of manifest"
			" sha256:%s in %.140s: %s\n", p->hex, p->repo, e.msg);
}

static int kvo_manifest_put(struct oci_store *os, const char *repo, const char *hex,
			    const struct oci_manifest_info *info, const char *body, size_t len,
			    const char *tag, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	char now[32], id[KVTXN_TOKEN_HEX + 1];
	struct batch b = { .s = s };
	long long size;
	int r;
	util_utc_now(now);
	kvtxn_token(id);
	struct put_txn p = {
		.s = s, .repo = repo, .hex = hex, .tag = tag, .mkey = k_mf(a, repo, hex),
		.now = now, .id = id, .info = info, .body = body, .len = len,
		.inline_body = len <= BODY_INLINE,
	};
	p.blobs = distinct(a, info->blobs, info->n_blobs, &p.n_blobs);
	p.mans = distinct(a, info->manifests, info->n_manifests, &p.n_mans);

	/* what it references must be in repo */
	for (size_t i = 0; i < p.n_mans; i++) {
		if ((r = exists(s, a, k_mf(a, repo, p.mans[i]), NULL, err)) < 0)
			return -1;
		if (r == 0)
			return appr_err(err, 400, OCI_E_MANIFEST_BLOB_UNKNOWN,
					"manifest sha256:%s is not in %.140s", p.mans[i], repo);
	}
	for (size_t i = 0; i < p.n_blobs; i++) {
		if ((r = readable(s, a, repo, p.blobs[i], &size, err)) < 0)
			return -1;
		if (r == 0)
			return appr_err(err, 400, OCI_E_MANIFEST_BLOB_UNKNOWN,
					"blob sha256:%s is not in %.140s", p.blobs[i], repo);
	}
	/* there already: a tag at most */
	if ((r = exists(s, a, p.mkey, NULL, err)) < 0)
		return -1;
	if (r) {
		if (!tag)
			return 0;
		if (kvtxn_run(s->kv, a, final_build, &p, err) == KVTXN_APPLIED)
			return 0;
		if (!p.need_pins)
			return -1;
		appr_err_clear(err);
	}
	/* (1) a large body's chunks, one per txn (a request holds one chunk) */
	for (unsigned long i = 0; !p.inline_body && i < chunks_of((long long)len); i++) {
		size_t off = i * CHUNK, n = len - off < CHUNK ? len - off : CHUNK;
		struct kv_op op = { .type = KV_PUT, .key = arena_printf(a, "oci/mfb/%s/%08lu", id, i),
				    .value = body + off, .len = n };
		if (commit_plain(s->kv, NULL, 0, &op, 1, err) != KV_COMMITTED)
			goto undo;
	}
	/* (2) the references: blobs with their records, an index's manifests plainly */
	for (p.from = 0; p.from < p.n_blobs; p.from += p.count) {
		p.count = p.n_blobs - p.from < PINS_PER_TXN ? p.n_blobs - p.from : PINS_PER_TXN;
		r = kvtxn_run(s->kv, a, pin_build, &p, err);
		if (r == KVTXN_UNKNOWN)
			return -1;           /* maybe written: left, as after a crash */
		if (r != KVTXN_APPLIED)
			goto undo;
	}
	for (size_t i = 0; i < p.n_mans; i++)
		if (batch_add(&b, KV_PUT, k_ref(a, repo, p.mans[i], hex, id), "1", 1, err) < 0 ||
		    batch_add(&b, KV_PUT, k_use(a, p.mans[i], repo, hex, id), "1", 1, err) < 0 ||
		    (b.n >= 2 * KEYS_PER_TXN && batch_flush(&b, err) < 0))
			goto undo;
	if (batch_flush(&b, err) < 0)
		goto undo;
	/* (3) the record */
	p.pinned = true;
	r = kvtxn_run(s->kv, a, final_build, &p, err);
	if (r == KVTXN_UNKNOWN)
		return -1;
	if (r != KVTXN_APPLIED)
		goto undo;
	if (p.existed)
		put_undo(&p, a);             /* a concurrent put of it won: ours are spare */
	return 0;
undo:
	put_undo(&p, a);
	return -1;
}

/* A manifest being deleted. */
struct del_txn {
	struct kvo *s;
	const char *repo, *hex, *mkey;
	bool again;                      /* the txn deleted extra tags only */
	const char *id;                  /* the deleted instance's, and what it referenced: */
	const char **refs;
	size_t n_refs, n_blobs;          /* blobs first */
};

/* Strings of JSON array arr appended to v (count *n, room enough), in a. */
static void take_strings(struct arena *a, json_object *arr, const char **v, size_t *n)
{
	size_t m = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < m; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		if (json_object_is_type(e, json_type_string) && valid_hex(json_object_get_string(e)))
			v[(*n)++] = arena_strdup(a, json_object_get_string(e));
	}
}

static size_t array_len(json_object *arr)
{
	return json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
}

/* Delete a manifest (kvtxn_build_fn): its record, body, subject key and tags, and the
 * repository key when it was the last thing in it; or, while more than
 * TAGS_WITH_RECORD tags name it, up to four of those tags only (again). */
static int del_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	struct del_txn *dt = ctx;
	struct kvo *s = dt->s;
	const char *prefix = arena_printf(a, "oci/tag/%s/", dt->repo);
	json_object *rec;
	long long rev;
	struct kv_pair *kp;
	size_t n, n_tags = 0;
	int r = kvtxn_load(s->kv, dt->mkey, a, &rec, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return appr_err(err, 404, OCI_E_MANIFEST_UNKNOWN,
				"manifest sha256:%s unknown to %.140s", dt->hex, dt->repo);
	if (kv_range(s->kv, prefix, NULL, 0, false, a, &kp, &n, NULL, err) < 0) {
		json_object_put(rec);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (kp[i].len == DIGEST_HEX_LEN && memcmp(kp[i].value, dt->hex, DIGEST_HEX_LEN) == 0)
			kp[n_tags++] = kp[i];
	dt->again = n_tags > TAGS_WITH_RECORD;
	if (dt->again) {
		json_object_put(rec);
		kvtxn_init(t, kp[0].key, true);
		for (size_t i = 0; i < n_tags && i < KVTXN_MAX_CONDS; i++) {
			kvtxn_cond(t, kp[i].key, kp[i].rev);
			kvtxn_op(t, KV_DELETE, kp[i].key, NULL, 0);
		}
		return 0;
	}
	kvtxn_init(t, dt->mkey, true);
	kvtxn_cond(t, dt->mkey, rev);
	kvtxn_op(t, KV_DELETE, dt->mkey, NULL, 0);
	for (size_t i = 0; i < n_tags; i++) {
		kvtxn_cond(t, kp[i].key, kp[i].rev);
		kvtxn_op(t, KV_DELETE, kp[i].key, NULL, 0);
	}
	const char *id = jstr(rec, "id"), *subject = jstr(rec, "subject");
	dt->id = valid_id(id) ? arena_strdup(a, id) : NULL;
	if (dt->id)
		kvtxn_op(t, KV_DELETE_PREFIX, k_body(a, dt->id), NULL, 0);
	if (valid_hex(subject))
		kvtxn_op(t, KV_DELETE, k_subj(a, dt->repo, subject, dt->hex), NULL, 0);
	dt->refs = arena_alloc(a, (array_len(jget(rec, "blobs")) +
				   array_len(jget(rec, "manifests")) + 1) * sizeof *dt->refs);
	dt->n_refs = 0;
	take_strings(a, jget(rec, "blobs"), dt->refs, &dt->n_refs);
	dt->n_blobs = dt->n_refs;
	take_strings(a, jget(rec, "manifests"), dt->refs, &dt->n_refs);
	json_object_put(rec);
	return repo_key_drop(t, s, a, dt->repo, NULL, dt->mkey, err);
}

static int kvo_manifest_delete(struct oci_store *os, const char *repo, const char *hex,
			       struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	struct del_txn dt = { .s = s, .repo = repo, .hex = hex, .mkey = k_mf(a, repo, hex) };
	struct appr_error e = { 0 };
	do {
		if (kvtxn_run(s->kv, a, del_build, &dt, err) != KVTXN_APPLIED)
			return -1;
	} while (dt.again);
	/* gone: now the instance's references, then the blobs nothing uses any more */
	if (dt.id && drop_instance(s, a, repo, hex, dt.id, dt.refs, dt.n_refs, false, &e) < 0) {
		fprintf(stderr, "appr: oci: left the references of deleted manifest sha256:%s"
			" in %.140s: %s\n", hex, repo, e.msg);
		return 0;                    /* their blobs stay: debris */
	}
	for (size_t i = 0; i < dt.n_refs; i++)
		collect_after(s, a, NULL, dt.refs[i]);
	collect_after(s, a, repo, NULL);
	return 0;
}

static int kvo_tag_delete(struct oci_store *os, const char *repo, const char *tag,
			  struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	const char *key = k_tag(a, repo, tag);
	int r = exists(s, a, key, NULL, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return appr_err(err, 404, OCI_E_MANIFEST_UNKNOWN, "no tag %.128s in %.120s", tag, repo);
	struct kv_op op = { .type = KV_DELETE, .key = key };
	return commit_plain(s->kv, NULL, 0, &op, 1, err) == KV_COMMITTED ? 0 : -1;
}

/* ---- the store ---- */

static void kvo_close(struct oci_store *os)
{
	struct kvo *s = kvo_of(os);
	if (!s)
		return;
	arena_free(s->tmp);
	free(s);
}

/* The kv store's operations: each says what it reads and writes (the top of the file
 * has the transactions' rules). */
static const struct oci_store_ops kvo_ops = {
	.name = "kv",
	.close = kvo_close,                       /* the kv connection stays: the storage's */
	.repo_known = kvo_repo_known,             /* get repo key; range up/<repo>/; Helm view */
	.blob_stat = kvo_blob_stat,               /* get blob, link; else range ref/ + records */
	.blob_open = kvo_blob_open,               /* get blob */
	.blob_read = kvo_blob_read,               /* get a chunk per KV_MAX_VALUE bytes */
	.blob_close = kvo_blob_close,             /* no request */
	.blob_mount = kvo_blob_mount,             /* blob_stat of from; txn cond blob */
	.blob_delete = kvo_blob_delete,           /* txn cond link [blob] [repo key] */
	.repos_list = kvo_repos_list,             /* range repo/ keys; the Helm view's */
	.upload_new = kvo_upload_new,             /* txn cond session absent */
	.upload_append = kvo_upload_append,       /* get session, its partial last chunk */
	.upload_write = kvo_upload_write,         /* txn cond session per full chunk */
	.upload_end = kvo_upload_end,             /* txn cond session: the last chunk */
	.upload_finish = kvo_upload_finish,       /* get chunks (hash); txn cond session, blob */
	.upload_cancel = kvo_upload_cancel,       /* txn cond session */
	.manifest_put = kvo_manifest_put,         /* body txns; txns cond 4 blobs; txn cond record */
	.referrers = kvo_referrers,               /* range subj/<repo>/<hex>/; the records */
	.manifest_get = kvo_manifest_get,         /* [get tag]; get record and body chunks */
	.manifest_delete = kvo_manifest_delete,   /* txn cond record, tags [, repo]; refs; blobs */
	.tag_delete = kvo_tag_delete,             /* get tag; delete */
	.tags_list = kvo_tags_list,               /* range tag/<repo>/ keys only; Helm view */
	.manifest_tag = kvo_manifest_tag,         /* range tag/<repo>/ */
	.chart_releases = NULL,                   /* generic (oci-store.c) */
	.blob_adopt = NULL,                       /* generic: a copy through an upload */
	.blob_share = NULL,                       /* nothing to share */
};

int oci_kv_open(const struct appr_config *cfg, struct storage *st, struct oci_store **out,
		struct appr_error *err)
{
	struct kvo *s = xcalloc(1, sizeof *s);
	(void)err;
	s->base.ops = &kvo_ops;
	s->base.cfg = cfg;
	s->base.st = st;
	s->kv = ((struct kvs *)st)->kv;
	s->tmp = arena_new();
	sweep_uploads(s);
	*out = &s->base;
	return 0;
}
