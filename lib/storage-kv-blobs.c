/* storage-kv-blobs.c - the kv store's blobs: chunked writes under an upload id, look-ups,
 * chunked reads. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "names.h"
#include "semver.h"
#include "storage-kv.h"
#include "storage-kv-txn.h"
#include "storage-kv-internal.h"

/* ---- blobs ---- */

/* Delete every chunk of an upload, and its marker (best effort: a failure is logged,
 * and gc takes them later). */
static void chunks_delete(struct kvs *ks, const char *upload)
{
	char key[TOKEN_HEX + 16], mark[TOKEN_HEX + 16];
	struct kv_op op[2] = { { .type = KV_DELETE_PREFIX, .key = key },
			       { .type = KV_DELETE, .key = mark } };
	struct appr_error e = { 0 };

	snprintf(key, sizeof key, "chunk/%s/", upload);
	snprintf(mark, sizeof mark, "upload/%s", upload);
	for (int i = 0; i < 3; i++) {
		int r = kv_txn(ks->kv, NULL, 0, op, 2, &e);
		if (r == KV_COMMITTED)
			return;
		if (r < 0)
			break;
	}
	fprintf(stderr, "appr: storage: left the chunks of upload %s: %s\n", upload, e.msg);
}

/* Put the buffered bytes as the next chunk, and refresh the upload's marker. */
int kvs_writer_flush(struct kvs *ks, struct kvs_writer *w, struct appr_error *err)
{
	char key[TOKEN_HEX + 32], mark[TOKEN_HEX + 16], now[24];
	int nl = snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	struct kv_op op[2] = {
		{ .type = KV_PUT, .key = key, .value = w->buf, .len = w->len },
		{ .type = KV_PUT, .key = mark, .value = now, .len = (size_t)nl },
	};
	int r = -1;

	snprintf(key, sizeof key, "chunk/%s/%08lu", w->upload, w->chunks);
	snprintf(mark, sizeof mark, "upload/%s", w->upload);
	for (int i = 0; i < 3; i++) {       /* a put is idempotent: retry a lost answer */
		r = kv_txn(ks->kv, NULL, 0, op, 2, err);
		if (r != KV_UNKNOWN && r != KV_CONFLICT)
			break;
	}
	if (r != KV_COMMITTED)
		return r < 0 ? -1 : appr_err(err, 503, APPR_E_UNAVAILABLE,
					     "storage server unavailable");
	appr_err_clear(err);
	w->chunks++;
	w->len = 0;
	return 0;
}

void kvs_writer_free(struct kvs *ks, struct kvs_writer *w, bool drop_chunks)
{
	if (drop_chunks && w->chunks > 0)
		chunks_delete(ks, w->upload);
	free(w->buf);
	free(w);
}

int storage_kv_blob_begin(struct storage *s, struct storage_blob_writer **out,
			  struct appr_error *err)
{
	struct kvs_writer *w = xcalloc(1, sizeof *w);

	(void)err;
	w->base.s = s;
	kvtxn_token(w->upload);
	w->buf = xmalloc(KV_MAX_VALUE);
	*out = &w->base;
	return 0;
}

int storage_kv_blob_write(struct storage_blob_writer *bw, const void *data, size_t len,
			  struct appr_error *err)
{
	struct kvs_writer *w = (struct kvs_writer *)bw;
	struct kvs *ks = (struct kvs *)bw->s;
	const unsigned char *p = data;

	while (len > 0) {
		if (w->len == KV_MAX_VALUE && kvs_writer_flush(ks, w, err) < 0)
			return -1;
		size_t n = KV_MAX_VALUE - w->len < len ? KV_MAX_VALUE - w->len : len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

void storage_kv_blob_abort(struct storage_blob_writer *bw)
{
	if (bw)
		kvs_writer_free((struct kvs *)bw->s, (struct kvs_writer *)bw, true);
}

int storage_kv_blob_lookup(struct storage *s, const char *ns, const char *name,
			   const char *digest, long long *size, char sha256[DIGEST_HEX_LEN + 1],
			   struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec = NULL;
	long long rev;
	int r = 0;

	arena_reset(ks->tmp);
	if (names_valid_digest(digest))
		r = kvs_load_pkg(ks, ns, name, ks->tmp, &rec, &rev, err);
	if (r < 0)
		return -1;
	if (r == 1 && kvs_jasobj(jget(rec, "releases"))) {
		json_object_object_foreach(jget(rec, "releases"), rel, types) {
			(void)rel;
			if (!kvs_jasobj(types))
				continue;
			json_object_object_foreach(types, mt, m) {
				(void)mt;
				const char *d = jstr(m, "digest");
				if (d && strcmp(d, digest) == 0) {
					const char *h = jstr(m, "sha256");
					*size = jint(m, "size");
					snprintf(sha256, DIGEST_HEX_LEN + 1, "%s",
						 names_valid_digest(h) ? h : "");
					json_object_put(rec);
					return 0;
				}
			}
		}
		json_object_put(rec);
	}
	return storage_err_blob_absent(err, ns, name, digest);
}

int storage_kv_blob_open(struct storage *s, const char *digest,
			 struct storage_blob_reader **out, long long *size,
			 struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *b;
	long long rev;
	int r;

	*out = NULL;
	if (!names_valid_digest(digest))
		return storage_err_blob_absent(err, NULL, NULL, NULL);
	arena_reset(ks->tmp);
	r = kvtxn_load(ks->kv, arena_printf(ks->tmp, "blob/%s", digest), ks->tmp, &b, &rev,
		       err);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_blob_absent(err, NULL, NULL, digest);
	const char *up = jstr(b, "upload");
	long long chunks = jint(b, "chunks");
	if (!up || strlen(up) != TOKEN_HEX || chunks < 1) {
		json_object_put(b);
		return kvtxn_corrupt("blob", digest, err);
	}
	struct kvs_reader *rd = xcalloc(1, sizeof *rd);
	rd->base.s = s;
	rd->a = arena_new();
	memcpy(rd->upload, up, TOKEN_HEX + 1);
	rd->chunks = (unsigned long)chunks;
	*size = jint(b, "size");
	json_object_put(b);
	*out = &rd->base;
	return 0;
}

long storage_kv_blob_read(struct storage_blob_reader *br, void *buf, size_t len)
{
	struct kvs_reader *rd = (struct kvs_reader *)br;
	struct kvs *ks = (struct kvs *)br->s;

	while (rd->off == rd->len) {
		struct appr_error e = { 0 };
		struct kv_pair kp;
		char key[TOKEN_HEX + 32];
		if (rd->next >= rd->chunks)
			return 0;
		snprintf(key, sizeof key, "chunk/%s/%08lu", rd->upload, rd->next);
		arena_reset(rd->a);
		int r = kv_get(ks->kv, key, rd->a, &kp, &e);
		if (r != 0) {
			fprintf(stderr, "appr: storage: read %s: %s\n", key,
				r > 0 ? "chunk missing" : e.msg);
			return -1;
		}
		rd->data = kp.value;
		rd->len = kp.len;
		rd->off = 0;
		rd->next++;
	}
	size_t n = rd->len - rd->off < len ? rd->len - rd->off : len;
	if (n > LONG_MAX)
		n = LONG_MAX;
	memcpy(buf, rd->data + rd->off, n);
	rd->off += n;
	return (long)n;
}

void storage_kv_blob_close(struct storage_blob_reader *br)
{
	struct kvs_reader *rd = (struct kvs_reader *)br;

	if (!rd)
		return;
	arena_free(rd->a);
	free(rd);
}
