/* stats.c - counting a store: the packages page by page, the manifests of each. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "digest-map.h"
#include "stats.h"

#define PAGE 256

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

int stats_collect(struct storage *s, struct stats *st, struct appr_error *err)
{
	struct arena *a = arena_new();
	struct digest_map *all = digest_map_new(), *here = NULL;
	size_t cap = 0;
	int rc = -1;

	memset(st, 0, sizeof *st);
	for (size_t offset = 0;; offset += PAGE) {
		struct storage_list_query q = { .limit = PAGE, .offset = offset };
		struct storage_package *pkgs;
		size_t n;
		arena_reset(a);
		if (storage_list_packages(s, &q, a, &pkgs, &n, err) < 0)
			goto out;
		for (size_t i = 0; i < n; i++) {
			char *ns = arena_strdup(a, pkgs[i].package), *name = strchr(ns, '/');
			struct storage_manifest *m;
			size_t nm;
			if (!name)
				continue;
			*name++ = '\0';
			if (!st->n_ns || strcmp(st->ns[st->n_ns - 1].name, ns) != 0) {
				if (st->n_ns == cap) {   /* listed by namespace: a new one */
					cap = cap ? cap * 2 : 16;
					st->ns = xrealloc(st->ns, cap * sizeof *st->ns);
				}
				memset(&st->ns[st->n_ns], 0, sizeof *st->ns);
				st->ns[st->n_ns++].name = xstrdup(ns);
				digest_map_free(here, NULL);
				here = digest_map_new();
			}
			struct stats_count *c = &st->ns[st->n_ns - 1].c;
			if (storage_get_manifests(s, ns, name, NULL, NULL, a, &m, &nm, err) < 0) {
				if (err->http == 404)
					continue;             /* deleted meanwhile */
				goto out;
			}
			c->packages++;
			st->all.packages++;
			for (size_t k = 0; k < nm; k++) {
				/* ordered by release: a new release where it changes */
				if (k == 0 || strcmp(m[k].release, m[k - 1].release) != 0) {
					c->releases++;
					st->all.releases++;
				}
				c->manifests++;
				st->all.manifests++;
				count_blob(here, c, m[k].digest, m[k].size);
				count_blob(all, &st->all, m[k].digest, m[k].size);
			}
		}
		if (n < PAGE)
			break;
	}
	rc = 0;
out:
	digest_map_free(here, NULL);
	digest_map_free(all, NULL);
	arena_free(a);
	return rc;
}

void stats_free(struct stats *st)
{
	for (size_t i = 0; i < st->n_ns; i++)
		free(st->ns[i].name);
	free(st->ns);
	memset(st, 0, sizeof *st);
}
