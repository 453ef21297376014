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

#define GC_PAGE 500                   /* keys per range read */

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

/* The upload id of key prefix + "<id>" + ("/..." or end), or false. */
static bool upload_id_of(const char *key, const char *prefix, char id[TOKEN_HEX + 1])
{
	size_t pl = strlen(prefix);
	if (strncmp(key, prefix, pl) != 0)
		return false;
	const char *s = key + pl, *e = strchr(s, '/');
	size_t n = e ? (size_t)(e - s) : strlen(s);
	if (n != TOKEN_HEX)
		return false;
	memcpy(id, s, n);
	id[n] = '\0';
	return true;
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

typedef int (*gc_visit_fn)(struct gc_uploads *u, const struct kv_pair *p);

/* Every key under prefix, GC_PAGE at a time. */
static int gc_range(struct kvs *ks, const char *prefix, bool keys_only, struct gc_uploads *u,
		    gc_visit_fn visit, struct appr_error *err)
{
	struct arena *a = arena_new();
	char *after = NULL;
	int rc = -1;
	for (;;) {
		struct kv_pair *p;
		size_t n;
		bool more = false;
		arena_reset(a);
		if (kv_range(ks->kv, prefix, after, GC_PAGE, keys_only, a, &p, &n, &more, err) < 0)
			goto out;
		for (size_t i = 0; i < n; i++)
			if (visit(u, &p[i]) < 0)
				goto out;
		if (!more || n == 0)
			break;
		free(after);
		after = xstrdup(p[n - 1].key);
	}
	rc = 0;
out:
	free(after);
	arena_free(a);
	return rc;
}

static int visit_chunk(struct gc_uploads *u, const struct kv_pair *p)
{
	char id[TOKEN_HEX + 1];
	if (upload_id_of(p->key, "chunk/", id))
		gc_find(u, id, true)->chunks++;
	return 0;
}

static void gc_sort(struct gc_uploads *u)
{
	if (!u->sorted && u->n)
		qsort(u->v, u->n, sizeof *u->v, upload_cmp);
	u->sorted = true;
}

static int visit_marker(struct gc_uploads *u, const struct kv_pair *p)
{
	char id[TOKEN_HEX + 1];
	if (!upload_id_of(p->key, "upload/", id))
		return 0;
	gc_sort(u);
	struct gc_upload *g = gc_find(u, id, true);
	g->mark_rev = p->rev;
	g->mark_at = p->value ? strtoll(p->value, NULL, 10) : 0;
	return 0;
}

static int visit_blob(struct gc_uploads *u, const struct kv_pair *p)
{
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
	if (gc_range(ks, "chunk/", true, &u, visit_chunk, err) < 0 ||
	    gc_range(ks, "upload/", false, &u, visit_marker, err) < 0)
		goto out;
	gc_sort(&u);
	if (gc_range(ks, "blob/", false, &u, visit_blob, err) < 0)
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
