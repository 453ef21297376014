/* storage-kv-list.c - the kv store's package lists and search: a keys-only range over
 * pkg/ (or pkg/<ns>/), or for a query of 3 bytes or more the candidates of the search
 * index (storage-kv-search.c), then the records of the page only. */
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

/* ---- list and search ---- */

struct pkgref {
	const char *ns, *name, *full;    /* full: "ns/name" */
};

static int pkgref_cmp(const void *pa, const void *pb)
{
	const struct pkgref *a = pa, *b = pb;
	int c = strcmp(a->ns, b->ns);
	return c ? c : strcmp(a->name, b->name);
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive plain substring (ASCII). */
static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i] && lower(hay[i]) == lower(needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return n == 0;
}

/* Do readers restrict what is listed (not NULL, not all, no "*")? */
static bool readers_limited(const struct storage_readers *r)
{
	if (!r || r->all)
		return false;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->namespaces[i], "*") == 0)
			return false;
	return true;
}

/* May readers see the private packages of namespace ns? */
static bool readers_see(const struct storage_readers *r, const char *ns)
{
	if (!readers_limited(r))
		return true;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->namespaces[i], ns) == 0)
			return true;
	return false;
}

/* Drop from v (k refs) the private packages readers may not see: a keys-only range
 * over priv/ (or priv/<ns>/). *k is updated. */
static int drop_unreadable(struct kvs *ks, const char *ns,
			   const struct storage_readers *readers, struct arena *a,
			   struct pkgref *v, size_t *k, struct appr_error *err)
{
	const char *prefix = ns ? arena_printf(a, "priv/%s/", ns) : "priv/";
	struct kv_pair *keys = NULL;
	size_t n_keys = 0, kept = 0;

	if (!readers_limited(readers))
		return 0;
	if (kv_range(ks->kv, prefix, NULL, 0, true, a, &keys, &n_keys, NULL, err) < 0)
		return -1;
	if (n_keys == 0)
		return 0;
	const char **priv = arena_alloc(a, n_keys * sizeof *priv);
	for (size_t i = 0; i < n_keys; i++)
		priv[i] = keys[i].key + 5;        /* "ns/name" */
	qsort(priv, n_keys, sizeof *priv, kvs_str_cmp);
	for (size_t i = 0; i < *k; i++) {
		const char *full = v[i].full;
		if (bsearch(&full, priv, n_keys, sizeof *priv, kvs_str_cmp) &&
		    !readers_see(readers, v[i].ns))
			continue;
		v[kept++] = v[i];
	}
	*k = kept;
	return 0;
}

/* Does a search for text go through the index (storage-kv-search.c)? */
static bool indexed(const struct kvs *ks, const char *text)
{
	return ks->search_indexed && text && strlen(text) >= 3;
}

/* package_refs through the index: its candidates, checked with the exact rule. */
static int indexed_refs(struct kvs *ks, const char *ns, const char *text,
			const struct storage_readers *readers, struct arena *a,
			struct pkgref **out, size_t *n, struct appr_error *err)
{
	const char **cand;
	size_t n_cand, k = 0;

	if (kvs_search_candidates(ks, ns, text, a, &cand, &n_cand, err) < 0)
		return -1;
	struct pkgref *v = arena_alloc(a, (n_cand + 1) * sizeof *v);
	for (size_t i = 0; i < n_cand; i++) {
		const char *slash = strchr(cand[i], '/');
		if (!slash || !contains_ci(cand[i], text))
			continue;
		v[k].ns = arena_strndup(a, cand[i], (size_t)(slash - cand[i]));
		v[k].name = slash + 1;
		v[k].full = cand[i];
		k++;
	}
	qsort(v, k, sizeof *v, pkgref_cmp);
	size_t u = 0;                         /* in tri/ and tix/ both: once */
	for (size_t i = 0; i < k; i++)
		if (u == 0 || pkgref_cmp(&v[u - 1], &v[i]) != 0)
			v[u++] = v[i];
	k = u;
	if (drop_unreadable(ks, ns, readers, a, v, &k, err) < 0)
		return -1;
	*out = v;
	*n = k;
	return 0;
}

/* Packages under pkg/ (of namespace ns when not NULL) whose "ns/name" contains text
 * (NULL: all) and that readers may see, ordered by namespace then name: keys-only
 * ranges over pkg/ then priv/ (in that order: a package created in between is in
 * neither, one deleted in between is skipped when its record is read). */
static int package_refs(struct kvs *ks, const char *ns, const char *text,
			const struct storage_readers *readers, struct arena *a,
			struct pkgref **out, size_t *n, struct appr_error *err)
{
	const char *prefix = ns ? arena_printf(a, "pkg/%s/", ns) : "pkg/";
	struct kv_pair *keys = NULL;
	size_t n_keys = 0, k = 0;

	if (indexed(ks, text))
		return indexed_refs(ks, ns, text, readers, a, out, n, err);
	if (kv_range(ks->kv, prefix, NULL, 0, true, a, &keys, &n_keys, NULL, err) < 0)
		return -1;
	struct pkgref *v = arena_alloc(a, (n_keys + 1) * sizeof *v);
	for (size_t i = 0; i < n_keys; i++) {
		const char *rest = keys[i].key + 4;
		const char *slash = strchr(rest, '/');
		if (strncmp(keys[i].key, "pkg/", 4) != 0 || !slash)
			continue;
		const char *full = rest;
		if (text && !contains_ci(full, text))
			continue;
		v[k].ns = arena_strndup(a, rest, (size_t)(slash - rest));
		v[k].name = slash + 1;
		v[k].full = full;
		k++;
	}
	if (drop_unreadable(ks, ns, readers, a, v, &k, err) < 0)
		return -1;
	qsort(v, k, sizeof *v, pkgref_cmp);
	*out = v;
	*n = k;
	return 0;
}

/* Fill one list row from a package record, narrowed to media type mt when not NULL:
 * only the releases with a manifest of it (struct storage_package). No release left:
 * n_releases is 0. */
static void fill_package(struct arena *a, const struct pkgref *ref, json_object *rec,
			 const char *mt, struct storage_package *p)
{
	json_object *all = jget(rec, "releases");
	size_t n, k = 0;
	const char **rels = kvs_record_releases(a, rec, &n);

	for (size_t i = 0; i < n; i++)
		if (!mt || jget(jget(all, rels[i]), mt))
			rels[k++] = rels[i];
	n = k;
	p->package = arena_strdup(a, ref->full);
	p->releases = rels;
	p->n_releases = n;
	p->default_release = n ? rels[0] : NULL;
	p->visibility = arena_strdup(a, jstr(rec, "visibility") ? jstr(rec, "visibility")
							       : "public");
	json_object *types = n ? jget(all, rels[0]) : NULL;
	p->media_types = kvs_member_names(a, types, &p->n_media_types);
	p->created_at[0] = '\0';
	for (size_t i = 0; i < p->n_media_types; i++) {
		const char *c = jstr(jget(types, p->media_types[i]), "created_at");
		if (c && strcmp(c, p->created_at) > 0)
			snprintf(p->created_at, sizeof p->created_at, "%s", c);
	}
}

int storage_kv_list_packages(struct storage *s, const struct storage_list_query *q,
			     struct arena *a, struct storage_package **out, size_t *n,
			     struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct pkgref *refs;
	size_t n_refs, skipped = 0, k = 0;

	if (package_refs(ks, q->namespace, q->query, q->readers, a, &refs, &n_refs, err) < 0)
		return -1;
	size_t want = q->limit ? q->limit : n_refs;
	struct storage_package *v = arena_alloc(a, ((want < n_refs ? want : n_refs) + 1) *
						   sizeof *v);
	/* the cursor: past every package up to (after_ns, after_name) in listing order
	 * (the key range is read whole anyway, so this is a search in it, not an index
	 * range as in SQLite) */
	size_t first = 0;
	if (q->after_ns) {
		const char *an = q->after_name ? q->after_name : "";
		while (first < n_refs) {
			int c = strcmp(refs[first].ns, q->after_ns);
			if (c > 0 || (c == 0 && strcmp(refs[first].name, an) > 0))
				break;
			first++;
		}
	}
	/* without a media type filter the page is a slice of the key range */
	size_t start = first;
	if (!q->media_type) {
		start = q->offset < n_refs - first ? first + q->offset : n_refs;
		skipped = q->offset;
	}
	for (size_t i = start; i < n_refs && k < want; i++) {
		json_object *rec;
		long long rev;
		int r = kvs_load_pkg(ks, refs[i].ns, refs[i].name, a, &rec, &rev, err);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;             /* deleted since the range read */
		const char *vis = jstr(rec, "visibility");
		if (vis && strcmp(vis, "private") == 0 && !readers_see(q->readers, refs[i].ns)) {
			json_object_put(rec);     /* re-created private since the ranges */
			continue;
		}
		fill_package(a, &refs[i], rec, q->media_type, &v[k]);
		json_object_put(rec);
		if (v[k].n_releases == 0)
			continue;             /* no manifest of the media type */
		if (skipped < q->offset) {
			skipped++;
			continue;
		}
		k++;
	}
	*out = v;
	*n = k;
	return 0;
}

int storage_kv_search(struct storage *s, const char *text,
		      const struct storage_readers *readers, size_t limit, struct arena *a,
		      const char ***out, size_t *n, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct pkgref *refs;
	size_t n_refs;

	if (package_refs(ks, NULL, text ? text : "", readers, a, &refs, &n_refs, err) < 0)
		return -1;
	const char **v = arena_alloc(a, (n_refs + 1) * sizeof *v);
	for (size_t i = 0; i < n_refs; i++)
		v[i] = refs[i].full;
	/* index candidates may name a package deleted by a killed process */
	if (indexed(ks, text) && kvs_search_verify(ks, a, v, &n_refs, limit, err) < 0)
		return -1;
	if (limit && n_refs > limit)
		n_refs = limit;
	*out = v;
	*n = n_refs;
	return 0;
}
