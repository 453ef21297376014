/* storage-kv-gc.c - the kv store's gc: chunks of dead uploads, unreferenced blobs,
 * unfinished search indexes. */
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

/* ---- upkeep ---- */

/* An upload gc saw: its id, whether a blob references it, its marker. */
struct gc_upload {
	char id[TOKEN_HEX + 1];
	unsigned long chunks;
	bool referenced;
	long long mark_rev;              /* 0: no marker */
	long long mark_at;               /* the marker's time (unix seconds) */
};

static int upload_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gc_upload *)a)->id, ((const struct gc_upload *)b)->id);
}

struct gc_uploads {
	struct gc_upload *v;
	size_t n, cap;
	bool sorted;
};

static struct gc_upload *gc_find(struct gc_uploads *u, const char *id, bool add)
{
	struct gc_upload key;
	snprintf(key.id, sizeof key.id, "%s", id);
	if (u->sorted) {
		struct gc_upload *f = bsearch(&key, u->v, u->n, sizeof *u->v, upload_cmp);
		if (f || !add)
			return f;
	} else if (u->n && strcmp(u->v[u->n - 1].id, id) == 0) {
		return &u->v[u->n - 1];       /* chunk keys come grouped by upload */
	}
	if (!add)
		return NULL;
	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 64;
		u->v = xrealloc(u->v, u->cap * sizeof *u->v);
	}
	memset(&u->v[u->n], 0, sizeof *u->v);
	memcpy(u->v[u->n].id, key.id, sizeof key.id);
	u->sorted = false;
	return &u->v[u->n++];
}

static int visit_chunk(void *ctx, const struct kv_pair *p, struct appr_error *err)
{
	struct gc_uploads *u = ctx;
	(void)err;
	char id[TOKEN_HEX + 1];
	if (kvtxn_id_after(p->key, "chunk/", id))
		gc_find(u, id, true)->chunks++;
	return 0;
}

static void gc_sort(struct gc_uploads *u)
{
	if (!u->sorted && u->n)
		qsort(u->v, u->n, sizeof *u->v, upload_cmp);
	u->sorted = true;
}

static int visit_marker(void *ctx, const struct kv_pair *p, struct appr_error *err)
{
	struct gc_uploads *u = ctx;
	(void)err;
	char id[TOKEN_HEX + 1];
	if (!kvtxn_id_after(p->key, "upload/", id))
		return 0;
	gc_sort(u);
	struct gc_upload *g = gc_find(u, id, true);
	g->mark_rev = p->rev;
	g->mark_at = p->value ? strtoll(p->value, NULL, 10) : 0;
	return 0;
}

static int visit_blob(void *ctx, const struct kv_pair *p, struct appr_error *err)
{
	struct gc_uploads *u = ctx;
	(void)err;
	json_object *b = kvtxn_parse(p->value, p->len);
	const char *up = b ? jstr(b, "upload") : NULL;
	if (up) {
		gc_sort(u);
		struct gc_upload *g = gc_find(u, up, false);
		if (g)
			g->referenced = true;
	}
	json_object_put(b);
	return 0;
}

int storage_kv_gc(struct storage *s, bool dry, struct storage_gc_report *rep,
		  struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct gc_uploads u = { 0 };
	long long now = (long long)time(NULL), ttl = (long long)s->cfg->upload_ttl;
	int rc = -1;

	rep->temp_files = rep->unreferenced_blobs = rep->blobs_restored = 0;
	rep->bytes_freed = 0;
	/* chunks, then markers, then the blobs: an upload committed meanwhile is seen
	 * referenced, or its marker is gone and the delete below is refused */
	if (kvtxn_each(ks->kv, "chunk/", true, visit_chunk, &u, err) < 0 ||
	    kvtxn_each(ks->kv, "upload/", false, visit_marker, &u, err) < 0)
		goto out;
	gc_sort(&u);
	if (kvtxn_each(ks->kv, "blob/", false, visit_blob, &u, err) < 0)
		goto out;
	for (size_t i = 0; i < u.n; i++) {
		struct gc_upload *g = &u.v[i];
		char chunks[TOKEN_HEX + 16], mark[TOKEN_HEX + 16], what[96];
		if (g->referenced || (g->mark_rev && now - g->mark_at < ttl))
			continue;                 /* stored, or an upload still in flight */
		snprintf(chunks, sizeof chunks, "chunk/%s/", g->id);
		snprintf(mark, sizeof mark, "upload/%s", g->id);
		snprintf(what, sizeof what, "%lu chunks of a dead upload:", g->chunks);
		if (rep->found)
			rep->found(rep->found_ctx, what, chunks);
		if (dry) {
			rep->temp_files++;
			continue;
		}
		struct kv_cond c = { .key = mark, .rev = g->mark_rev };
		struct kv_op ops[2] = { { .type = KV_DELETE_PREFIX, .key = chunks },
					{ .type = KV_DELETE, .key = mark } };
		int r = kv_txn(ks->kv, &c, 1, ops, 2, err);
		if (r < 0)
			goto out;
		if (r == KV_COMMITTED) {
			fprintf(stderr, "appr: storage: gc removed the %lu chunks of dead upload %s\n",
				g->chunks, g->id);
			rep->temp_files++;
		}
		appr_err_clear(err);          /* refused or unknown: left for a later gc */
	}
	/* packages whose search index a killed process left unfinished */
	size_t n_tix = 0;
	if (kvs_search_fix(ks, dry, &n_tix, err) < 0)
		goto out;
	if (n_tix && rep->found)
		rep->found(rep->found_ctx, "packages with an unfinished search index:", "tix/");
	rc = 0;
out:
	free(u.v);
	return rc;
}
