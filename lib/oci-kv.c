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
 *    An append that flushes before its end marks the record "busy" until its last
 *    flush, so that one starting meanwhile is refused at once rather than appending
 *    behind part of another's bytes (oci-kv-uploads.c). A failed request keeps what
 *    its flushed chunks hold (oci-store.h allows it).
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
 * Only an empty repository's key is visible through the API (_catalog lists it);
 * appr-admin gc sweeps all of it (oci-kv-gc.c), and upload sessions idle over
 * upload_ttl are swept at open (record and chunks). An instance's id begins with the
 * time it was made at (okv_instance_id), which tells gc a put in flight from a dead
 * one.
 *
 * The Helm view (oci-store.h) counts in repo_known, tags_list and _catalog.
 *
 * oci-kv-internal.h lists the files the operations live in.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "oci-helm.h"
#include "oci-kv-internal.h"

/* Commit a transaction whose repetition is harmless (puts and deletes of fixed
 * values), sending it again when its answer was lost: KV_COMMITTED, KV_CONFLICT, or
 * -1 (err filled; a lost answer three times is -1 with the driver's 503). */
int okv_commit_plain(struct kv *kv, const struct kv_cond *c, size_t nc,
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

int okv_batch_flush(struct batch *b, struct appr_error *err)
{
	if (b->failed)
		return -1;
	int r = okv_commit_plain(b->s->kv, NULL, 0, b->ops, b->n, err);
	b->n = 0;
	if (r != KV_COMMITTED) {
		b->failed = 1;
		return -1;
	}
	return 0;
}

int okv_batch_add(struct batch *b, enum kv_op_type type, const char *key,
		  const void *value, size_t len, struct appr_error *err)
{
	if (b->n == KV_MAX_OPS && okv_batch_flush(b, err) < 0)
		return -1;
	b->ops[b->n++] = (struct kv_op){ .type = type, .key = key, .value = value, .len = len };
	return 0;
}

/* Whether key exists: 1, 0, -1. */
int okv_exists(struct kvo *s, struct arena *a, const char *key, long long *rev,
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
long okv_count_keys(struct kvo *s, struct arena *a, const char *prefix, size_t limit,
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

const char **okv_distinct(struct arena *a, const char *const *v, size_t n, size_t *out_n)
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

/* A page of n (n < 0: all) of the sorted, distinct strings v (count m) after last. */
void okv_page(struct arena *a, const char **v, size_t m, const char *last, long n,
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

int kvo_repos_list(struct oci_store *os, const char *last, long n, struct arena *a,
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
	v = okv_distinct(t, v, m, &m);
	okv_page(a, v, m, last, n, repos, count, more);
	return 0;
}

int kvo_repo_known(struct oci_store *os, const char *repo, bool *known,
		   struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	struct oci_chart_release *rels;
	size_t n;
	int r = okv_exists(s, a, k_repo(a, repo), NULL, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		long c = okv_count_keys(s, a, arena_printf(a, "oci/up/%s/", repo), 1, NULL, err);
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

void kvo_close(struct oci_store *os)
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
	okv_sweep_uploads(s);
	*out = &s->base;
	return 0;
}

bool okv_split_repo_key(struct arena *a, const char *key, size_t prefix_len,
			const char **repo, const char **last)
{
	const char *p = key + prefix_len, *s1 = strchr(p, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	if (!s1 || !s2 || s2[1] == '\0' || s1 == p || s2 == s1 + 1)
		return false;
	*repo = arena_strndup(a, p, (size_t)(s2 - p));
	*last = arena_strdup(a, s2 + 1);
	return true;
}

void okv_instance_id(char id[KVTXN_TOKEN_HEX + 1])
{
	char rnd[KVTXN_TOKEN_HEX + 1];
	kvtxn_token(rnd);
	snprintf(id, KVTXN_TOKEN_HEX + 1, "%08llx%s", (unsigned long long)time(NULL) & 0xffffffffULL,
		 rnd + 8);
}

long long okv_instance_time(const char *id)
{
	long long t = 0;
	for (int i = 0; i < 8 && id[i]; i++) {
		int c = id[i];
		t = t * 16 + (c >= 'a' ? c - 'a' + 10 : c - '0');
	}
	return t;
}

int oci_kv_has_content(struct storage *st, bool *has, struct appr_error *err)
{
	*has = false;
	if (strcmp(st->ops->name, "etcd") != 0 && strcmp(st->ops->name, "redis") != 0)
		return 0;
	struct arena *a = arena_new();
	struct kv_pair *kp;
	size_t n;
	int rc = kv_range(((struct kvs *)st)->kv, OCI_KV_PREFIX, NULL, 1, true, a, &kp, &n,
			  NULL, err);
	arena_free(a);
	if (rc < 0)
		return -1;
	*has = n > 0;
	return 0;
}
