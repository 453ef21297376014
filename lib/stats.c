/* stats.c - counting a store: the packages page by page, the manifests of each. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "digest-map.h"
#include "stats.h"

/* Count digest (of size bytes) once in c, as map remembers. */
static void count_blob(struct digest_map *map, struct stats_count *c, const char *digest,
		       long long size)
{
	bool known;
	digest_map_slot(map, digest, &known);
	if (!known) {
		c->blobs++;
		c->bytes += size;
	}
}

/* The walk of stats_collect. */
struct walk {
	struct storage *s;
	struct stats *st;
	struct digest_map *all, *here;   /* blobs counted: in all, in the namespace */
	size_t cap;                      /* of st->ns */
};

/* storage_each_package: count one package. */
static int count_package(void *ctx, const struct storage_package *p, const char *ns,
			 const char *name, struct arena *a, struct appr_error *err)
{
	struct walk *w = ctx;
	struct storage_manifest *m;
	size_t nm;
	(void)p;
	if (!w->st->n_ns || strcmp(w->st->ns[w->st->n_ns - 1].name, ns) != 0) {
		if (w->st->n_ns == w->cap) {   /* listed by namespace: a new one */
			w->cap = w->cap ? w->cap * 2 : 16;
			w->st->ns = xrealloc(w->st->ns, w->cap * sizeof *w->st->ns);
		}
		memset(&w->st->ns[w->st->n_ns], 0, sizeof *w->st->ns);
		w->st->ns[w->st->n_ns++].name = xstrdup(ns);
		digest_map_free(w->here, NULL);
		w->here = digest_map_new();
	}
	struct stats_count *c = &w->st->ns[w->st->n_ns - 1].c;
	if (storage_get_manifests(w->s, ns, name, NULL, NULL, a, &m, &nm, err) < 0) {
		if (err->http == 404)
			return 0;              /* deleted meanwhile */
		return -1;
	}
	c->packages++;
	w->st->all.packages++;
	for (size_t k = 0; k < nm; k++) {
		/* ordered by release: a new release where it changes */
		if (k == 0 || strcmp(m[k].release, m[k - 1].release) != 0) {
			c->releases++;
			w->st->all.releases++;
		}
		c->manifests++;
		w->st->all.manifests++;
		count_blob(w->here, c, m[k].digest, m[k].size);
		count_blob(w->all, &w->st->all, m[k].digest, m[k].size);
	}
	return 0;
}

int stats_collect(struct storage *s, struct stats *st, struct appr_error *err)
{
	struct walk w = { .s = s, .st = st, .all = digest_map_new() };
	int rc;

	memset(st, 0, sizeof *st);
	rc = storage_each_package(s, count_package, &w, err) == 0 ? 0 : -1;
	digest_map_free(w.here, NULL);
	digest_map_free(w.all, NULL);
	return rc;
}

int stats_collect_oci(const char *data_dir, struct stats *st, struct appr_error *err)
{
	struct oci_dump *d;
	if (oci_dump_open(data_dir, &d, err) < 0)
		return -1;
	int rc = oci_dump_stats(d, &st->oci, err);
	oci_dump_close(d);
	return rc;
}

void stats_free(struct stats *st)
{
	for (size_t i = 0; i < st->n_ns; i++)
		free(st->ns[i].name);
	free(st->ns);
	memset(st, 0, sizeof *st);
}
