/* oci-kv-uploads.c - the kv OCI store's upload sessions (oci-kv.c has the key layout):
 * a session's bytes appended chunk by chunk with its size in one transaction each,
 * hashed and published as a blob without a copy, cancelled, swept when idle.
 *
 * One request appends to a session at a time. Each flush is conditioned on the record
 * as the writer last saw it, so of two requests that started from the same size only
 * one writes anything (the other gets 416). A request that flushes a chunk before its
 * end marks the record "busy" (the time) until its last flush or its failure, so that
 * a request starting meanwhile is refused at once (416) instead of appending behind
 * a part of another request's bytes; a responder killed in the middle leaves the mark,
 * which lapses BUSY_TTL seconds after its last flush. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "oci-helm.h"
#include "oci-kv-internal.h"

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
	bool last;                       /* the flush being built is the request's last */
	bool marked;                     /* our flushes left the record "busy" */
};

#define BUSY_TTL 30                      /* seconds a "busy" mark outlives its last flush */

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

int kvo_upload_new(struct oci_store *os, const char *repo, char uuid[OCI_UUID_LEN + 1],
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
		int r = okv_exists(s, a, key, &rev, &e);
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

int kvo_upload_cancel(struct oci_store *os, const char *repo, const char *uuid,
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

/* Refuse (416) a session record rec that another request is writing; rec is put
 * then. 0 or -1. */
static int busy(json_object *rec, const char *uuid, struct appr_error *err)
{
	long long t = jint(rec, "busy");
	if (t <= 0 || (long long)time(NULL) - t >= BUSY_TTL)
		return 0;
	json_object_put(rec);
	return appr_err(err, 416, OCI_E_BLOB_UPLOAD_INVALID,
			"upload %s is being written by another request", uuid);
}

int kvo_upload_append(struct oci_store *os, const char *repo, const char *uuid,
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
	if (busy(rec, uuid, err) < 0)
		return -1;
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

/* The session record as w last wrote (or read) it: 0 with *rec (for the caller to put)
 * and *rev; -1 when it is gone (404) or another request changed it (416). */
static int load_own(struct kvo_writer *w, struct arena *a, json_object **rec, long long *rev,
		    struct appr_error *err)
{
	int r = kvtxn_load(kvo_of(w->base.s)->kv, w->key, a, rec, rev, err);
	if (r <= 0)
		return r < 0 ? -1 : upload_unknown(w->repo, w->uuid, err);
	const char *tok = jstr(*rec, "txn");
	if (!tok || strcmp(tok, w->token) != 0) {
		json_object_put(*rec);
		return appr_err(err, 416, OCI_E_BLOB_UPLOAD_INVALID,
				"upload %s was changed by another request meanwhile", w->uuid);
	}
	return 0;
}

/* Write the buffer as chunk number w->chunk with the session's new size
 * (kvtxn_build_fn): conditioned on the record as we last wrote (or read) it. */
static int flush_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	struct kvo_writer *w = ctx;
	json_object *rec;
	long long rev;
	int r;
	if (load_own(w, a, &rec, &rev, err) < 0)
		return -1;
	kvtxn_init(t, w->key, false);
	memcpy(w->pending, t->token, sizeof w->pending);
	kvtxn_cond(t, w->key, rev);
	kvtxn_op(t, KV_PUT, arena_printf(a, "oci/data/%s/%08lu", w->uuid, w->chunk), w->buf,
		 w->len);
	json_object_object_add(rec, "size", json_object_new_int64(
				       (long long)w->chunk * (long long)CHUNK + (long long)w->len));
	json_object_object_add(rec, "updated", json_object_new_int64((long long)time(NULL)));
	if (w->last)
		json_object_object_del(rec, "busy");
	else
		json_object_object_add(rec, "busy", json_object_new_int64((long long)time(NULL)));
	r = kvtxn_put(t, a, w->key, rec, err);
	json_object_put(rec);
	return r;
}

static int flush(struct kvo_writer *w, bool last, struct appr_error *err)
{
	struct kvo *s = kvo_of(w->base.s);
	arena_reset(w->a);
	w->last = last;
	if (kvtxn_run(s->kv, w->a, flush_build, w, err) != KVTXN_APPLIED)
		return -1;
	memcpy(w->token, w->pending, sizeof w->token);
	w->dirty = false;
	w->marked = !last;
	return 0;
}

/* The request failed after a flush of its own: take its "busy" mark off the record
 * (when the record is still as it left it), so that the client may go on at once
 * from the bytes stored (kvtxn_build_fn). */
static int unmark_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	struct kvo_writer *w = ctx;
	json_object *rec;
	long long rev;
	if (load_own(w, a, &rec, &rev, err) < 0)
		return -1;
	kvtxn_init(t, w->key, false);
	kvtxn_cond(t, w->key, rev);
	json_object_object_del(rec, "busy");
	int r = kvtxn_put(t, a, w->key, rec, err);
	json_object_put(rec);
	return r;
}

int kvo_upload_write(struct oci_upload_writer *bw, const void *data, size_t len,
		     struct appr_error *err)
{
	struct kvo_writer *w = (struct kvo_writer *)bw;
	const unsigned char *p = data;
	while (len > 0) {
		if (w->len == CHUNK) {
			if (w->dirty && flush(w, false, err) < 0)
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

int kvo_upload_end(struct oci_upload_writer *bw, bool keep, struct appr_error *err)
{
	struct kvo_writer *w = (struct kvo_writer *)bw;
	int rc = 0;
	if (!w)
		return 0;
	if (keep && (w->dirty || w->marked)) {
		rc = flush(w, true, err);
	} else if (!keep && w->marked) {
		struct kvo *s = kvo_of(w->base.s);
		struct appr_error e = { 0 };
		arena_reset(w->a);
		/* changed or gone meanwhile: the mark is not ours to take off */
		if (kvtxn_run(s->kv, w->a, unmark_build, w, &e) != KVTXN_APPLIED && e.http >= 500)
			fprintf(stderr, "appr: oci: upload %s left busy (for %d s): %s\n", w->uuid,
				BUSY_TTL, e.msg);
	}
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
	okv_link_ops(t, a, ft->repo, ft->hex);
	kvtxn_op(t, KV_DELETE, ft->ukey, NULL, 0);
	return r;
}

int kvo_upload_finish(struct oci_store *os, const char *repo, const char *uuid,
		      const char *hex, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	char got[DIGEST_HEX_LEN + 1];
	json_object *rec;
	long long rev;
	if (up_load(s, a, repo, uuid, &rec, &rev, err) < 0 || busy(rec, uuid, err) < 0)
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
void okv_sweep_uploads(struct kvo *s)
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
