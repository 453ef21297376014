/* oci-kv-blobs.c - the kv OCI store's blobs (oci-kv.c has the key layout and the
 * rules that keep a used blob): which repository may read a blob, reading it chunk by
 * chunk, links and mounts, deletes, and collecting a blob or repository key nothing
 * holds any more. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "oci-helm.h"
#include "oci-kv-internal.h"

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

/* 1 when a manifest of repo references blob hex (a ref key whose instance is the
 * manifest's record), 0 not, -1 error. */
int okv_referenced(struct kvo *s, struct arena *a, const char *repo, const char *hex,
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
int okv_readable(struct kvo *s, struct arena *a, const char *repo, const char *hex,
		 long long *size, struct appr_error *err)
{
	json_object *b;
	long long rev;
	int r = kvtxn_load(s->kv, k_blob(a, hex), a, &b, &rev, err);
	if (r <= 0)
		return r;
	*size = jint(b, "size");
	json_object_put(b);
	r = okv_exists(s, a, k_link(a, repo, hex), NULL, err);
	if (r != 0)
		return r;
	return okv_referenced(s, a, repo, hex, err);
}

int kvo_blob_stat(struct oci_store *os, const char *repo, const char *hex,
		  long long *size, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	int r = okv_readable(s, scratch(s), repo, hex, size, err);
	if (r < 0)
		return -1;
	return r ? 0 : blob_unknown(repo, hex, err);
}

int kvo_blob_open(struct oci_store *os, const char *hex, long long from,
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
	rd->base.size = size;
	if (from < 0)
		from = 0;
	rd->pos = from < size ? from : size;
	rd->next = (unsigned long)(rd->pos / (long long)CHUNK);
	*out = &rd->base;
	return 0;
}

long kvo_blob_read(struct oci_blob_reader *br, void *buf, size_t len)
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

void kvo_blob_close(struct oci_blob_reader *br)
{
	struct kvo_reader *rd = (struct kvo_reader *)br;
	if (!rd)
		return;
	arena_free(rd->a);
	free(rd);
}

/* Delete blob hex with its chunks when nothing uses it (see the top: its record's
 * revision is read before the use range). 1 deleted, 0 kept (used or absent), or -1
 * (err filled). */
int okv_blob_collect(struct kvo *s, struct arena *a, const char *hex, struct appr_error *err)
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
		long n = okv_count_keys(s, a, uses, 1, NULL, err);
		if (n != 0)
			return n < 0 ? -1 : 0;
		struct kv_cond c = { .key = bkey, .rev = rev };
		struct kv_op ops[2] = { { .type = KV_DELETE, .key = bkey } };
		size_t n_ops = 1;
		if (valid_id(data))
			ops[n_ops++] = (struct kv_op){ .type = KV_DELETE_PREFIX, .key = k_data(a, data) };
		r = kv_txn(s->kv, &c, 1, ops, n_ops, err);
		if (r == KV_COMMITTED)
			return 1;
		if (r < 0)
			return -1;
		appr_err_clear(err);          /* conflict or unknown: look again */
	}
	fprintf(stderr, "appr: oci: blob sha256:%s kept unused: it kept changing\n", hex);
	return 0;
}

/* Into t (started by the caller): blob hex's record, conditioned on its revision as
 * read and put again, so that a transaction deleting the blob meanwhile conflicts
 * (the rule that keeps a used blob, oci-kv.c). 1 done, 0 the blob is absent, -1. */
int okv_blob_pin(struct kvtxn *t, struct kvo *s, struct arena *a, const char *hex,
		 struct appr_error *err)
{
	const char *bkey = k_blob(a, hex);
	json_object *b;
	long long rev;
	int r = kvtxn_load(s->kv, bkey, a, &b, &rev, err);
	if (r <= 0)
		return r;
	kvtxn_cond(t, bkey, rev);
	r = kvtxn_put(t, a, bkey, b, err);
	json_object_put(b);
	return r < 0 ? -1 : 1;
}

/* Into t: repo's link to blob hex, its use key, and the repository key (new
 * revision: see okv_repo_collect). */
void okv_link_ops(struct kvtxn *t, struct arena *a, const char *repo, const char *hex)
{
	kvtxn_op(t, KV_PUT, k_link(a, repo, hex), "1", 1);
	kvtxn_op(t, KV_PUT, k_use_link(a, hex, repo), "1", 1);
	kvtxn_op(t, KV_PUT, k_repo(a, repo), "1", 1);
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
	kvtxn_init(t, k_blob(a, lt->hex), false);
	int r = okv_blob_pin(t, lt->s, a, lt->hex, err);
	if (r <= 0)
		return r < 0 ? -1 : blob_unknown(lt->repo, lt->hex, err);
	okv_link_ops(t, a, lt->repo, lt->hex);
	return 0;
}

int kvo_blob_mount(struct oci_store *os, const char *repo, const char *from,
		   const char *hex, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	long long size;
	int r = okv_readable(s, a, from, hex, &size, err);
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
	long n = okv_count_keys(s, a, arena_printf(a, "oci/link/%s/", repo), 2, &kp, err);
	if (n < 0)
		return -1;
	if (n > 1 || (n == 1 && (!link_key || strcmp(kp[0].key, link_key) != 0)))
		return 0;
	n = okv_count_keys(s, a, arena_printf(a, "oci/mf/%s/", repo), 2, &kp, err);
	if (n < 0)
		return -1;
	return n == 0 || (n == 1 && mf_key && strcmp(kp[0].key, mf_key) == 0);
}

/* Into t, the delete of repo's repository key (conditioned on its revision, read
 * first) when the repository holds nothing but link_key and mf_key, which t deletes
 * (either may be NULL). 0, or -1 (err filled). */
int okv_repo_key_drop(struct kvtxn *t, struct kvo *s, struct arena *a, const char *repo,
		      const char *link_key, const char *mf_key, struct appr_error *err)
{
	const char *rkey = k_repo(a, repo);
	long long rrev;
	int r = okv_exists(s, a, rkey, &rrev, err);
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
 * 1 deleted, 0 kept, or -1 (err filled). */
int okv_repo_collect(struct kvo *s, struct arena *a, const char *repo,
		     struct appr_error *err)
{
	const char *rkey = k_repo(a, repo);
	for (int i = 0; i < GC_TRIES; i++) {
		long long rrev;
		int r = okv_exists(s, a, rkey, &rrev, err);
		if (r <= 0)
			return r;
		int e = repo_empty_but(s, a, repo, NULL, NULL, err);
		if (e <= 0)
			return e;
		struct kv_cond c = { .key = rkey, .rev = rrev };
		struct kv_op op = { .type = KV_DELETE, .key = rkey };
		r = kv_txn(s->kv, &c, 1, &op, 1, err);
		if (r == KV_COMMITTED)
			return 1;
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
void okv_collect_after(struct kvo *s, struct arena *a, const char *repo, const char *hex)
{
	struct appr_error e = { 0 };
	if (hex && okv_blob_collect(s, a, hex, &e) < 0) {
		fprintf(stderr, "appr: oci: kept blob sha256:%s: %s\n", hex, e.msg);
		appr_err_clear(&e);
	}
	if (repo && okv_repo_collect(s, a, repo, &e) < 0)
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
	int r = okv_exists(s, a, lkey, &lrev, err);
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
	long n = r ? okv_count_keys(s, a, arena_printf(a, "oci/use/%s/", ut->hex), 2, &kp, err) : 0;
	if (n < 0)
		return -1;
	if (r && (n == 0 || (n == 1 && strcmp(kp[0].key, ukey) == 0))) {
		kvtxn_cond(t, bkey, brev);
		kvtxn_op(t, KV_DELETE, bkey, NULL, 0);
		if (valid_id(data))
			kvtxn_op(t, KV_DELETE_PREFIX, k_data(a, data), NULL, 0);
	}
	return okv_repo_key_drop(t, s, a, ut->repo, lkey, NULL, err);
}

int kvo_blob_delete(struct oci_store *os, const char *repo, const char *hex,
		    struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	struct unlink_txn ut = { s, repo, hex };
	if (kvtxn_run(s->kv, a, unlink_build, &ut, err) != KVTXN_APPLIED)
		return -1;
	okv_collect_after(s, a, repo, hex);
	return 0;
}
