/* oci-load.c - an archive index's OCI rows loaded into an OCI store through its own
 * operations (oci-transfer.h), so that every rule of the store (a blob kept while a
 * link or a manifest uses it, a manifest's blobs readable in its repository) holds
 * for what an import writes as for what a client pushes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest-map.h"
#include "oci.h"
#include "oci-transfer.h"

/* A manifest row, parsed. */
struct mrow {
	const struct oci_dump_row *row;
	struct oci_manifest_info info;
	bool done;                       /* present or put */
};

struct load {
	struct oci_store *os;
	const struct archive_index *ix;
	struct blob_source *src;
	oci_dump_say_fn say;
	void *sctx;
	struct oci_dump_load_report *rep;
	struct arena *a;                 /* the parsed manifests */
	struct arena *tmp;               /* one lookup's */
	struct mrow *m;                  /* the manifest rows, by (repo, digest) */
	size_t n_m;
	const struct oci_dump_row **links;   /* the link rows, by (repo, digest) */
	size_t n_links;
	const char **temp_repo, **temp_hex;   /* links made for a manifest's sake */
	size_t n_temp;
};

#define say(l, ...) oci_dump_sayf((l)->say, (l)->sctx, __VA_ARGS__)

/* (repo, digest): the first two columns of a link or manifest row. */
static int key_cmp(const char *repo_a, const char *hex_a, const char *repo_b, const char *hex_b)
{
	int c = strcmp(repo_a, repo_b);
	return c ? c : strcmp(hex_a, hex_b);
}

static int link_cmp(const void *x, const void *y)
{
	const struct oci_dump_row *a = *(const struct oci_dump_row *const *)x;
	const struct oci_dump_row *b = *(const struct oci_dump_row *const *)y;
	return key_cmp(a->v[0], a->v[1], b->v[0], b->v[1]);
}

static int mrow_cmp(const void *x, const void *y)
{
	const struct mrow *a = x, *b = y;
	return key_cmp(a->row->v[0], a->row->v[1], b->row->v[0], b->row->v[1]);
}

static bool is_link(const struct load *l, const char *repo, const char *hex)
{
	struct oci_dump_row key = { .v = { repo, hex } };
	const struct oci_dump_row *kp = &key;
	return l->n_links && bsearch(&kp, l->links, l->n_links, sizeof *l->links, link_cmp);
}

static struct mrow *find_manifest(const struct load *l, const char *repo, const char *hex)
{
	struct oci_dump_row row = { .v = { repo, hex } };
	struct mrow key = { .row = &row };
	return l->n_m ? bsearch(&key, l->m, l->n_m, sizeof *l->m, mrow_cmp) : NULL;
}

/* Where each blob is known readable (a repository it may be mounted from), and
 * whether this load uploaded it: by digest. */
struct home {
	const char *repo;
	bool uploaded;
};

static struct home *home_find(struct digest_map *homes, const char *hex)
{
	bool found;
	return *digest_map_slot(homes, hex, &found);
}

static void home_add(struct digest_map *homes, const char *hex, const char *repo,
		     bool uploaded)
{
	bool found;
	void **slot = digest_map_slot(homes, hex, &found);
	if (*slot)
		return;
	struct home *h = xmalloc(sizeof *h);
	h->repo = repo;
	h->uploaded = uploaded;
	*slot = h;
}

static long src_read(void *ctx, void *buf, size_t len)
{
	struct blob_source *src = ctx;
	return src->read(src, buf, len);
}

/* Make blob hex readable through repo: present already, mounted from where it went
 * before, or uploaded from the archive. 0 or -1. */
static int need_blob(struct load *l, struct digest_map *h, const char *repo, const char *hex,
		     bool link_row, struct appr_error *err)
{
	long long size;
	if (oci_blob_stat(l->os, repo, hex, &size, err) == 0) {
		/* readable: through a link, or a manifest of repo; a link row wants a link */
		if (link_row && oci_blob_mount(l->os, repo, repo, hex, err) < 0)
			return -1;
		if (link_row)
			l->rep->rows_present[OCI_DUMP_T_LINKS]++;
		home_add(h, hex, repo, false);
		return 0;
	}
	if (err->http != 404)
		return -1;
	appr_err_clear(err);
	struct home *at = home_find(h, hex);
	if (at) {
		if (oci_blob_mount(l->os, repo, at->repo, hex, err) < 0)
			return -1;
	} else {
		if (!l->src->oci_open || l->src->oci_open(l->src, hex, &size, err) < 0)
			return l->src->oci_open ? -1 : appr_err(err, 500, APPR_E_INTERNAL,
								"no source of OCI blobs");
		int r = oci_blob_put(l->os, repo, hex, src_read, l->src, err);
		l->src->close(l->src);
		if (r < 0)
			return -1;
		l->rep->rows_written[OCI_DUMP_T_BLOBS]++;
		l->rep->bytes += size;
		home_add(h, hex, repo, true);
	}
	if (link_row) {
		l->rep->rows_written[OCI_DUMP_T_LINKS]++;
	} else {
		if (l->n_temp % 64 == 0) {
			l->temp_repo = xrealloc(l->temp_repo, (l->n_temp + 64) * sizeof *l->temp_repo);
			l->temp_hex = xrealloc(l->temp_hex, (l->n_temp + 64) * sizeof *l->temp_hex);
		}
		l->temp_repo[l->n_temp] = repo;
		l->temp_hex[l->n_temp++] = hex;
	}
	return 0;
}

/* Blobs: every link row, then every blob a manifest references in its repository. */
static int load_blobs(struct load *l, struct appr_error *err)
{
	const struct archive_oci_rows *links = &l->ix->oci[OCI_DUMP_T_LINKS];
	struct digest_map *h = digest_map_new();
	int rc = 0;
	for (size_t i = 0; i < links->n && rc == 0; i++)
		rc = need_blob(l, h, links->rows[i].v[0], links->rows[i].v[1], true, err);
	for (size_t i = 0; i < l->n_m && rc == 0; i++) {
		const char *repo = l->m[i].row->v[0];
		for (size_t k = 0; k < l->m[i].info.n_blobs && rc == 0; k++)
			if (!is_link(l, repo, l->m[i].info.blobs[k]))
				rc = need_blob(l, h, repo, l->m[i].info.blobs[k], false, err);
	}
	/* each blob row: uploaded, there already, or (nothing links or references it:
	 * no operation of a store can hold it) left out */
	const struct archive_oci_rows *blobs = &l->ix->oci[OCI_DUMP_T_BLOBS];
	for (size_t i = 0; i < blobs->n && rc == 0; i++) {
		struct home *at = home_find(h, blobs->rows[i].v[0]);
		if (!at)
			say(l, "OCI blob sha256:%s: no repository links or references it; not "
			    "carried", blobs->rows[i].v[0]);
		else if (!at->uploaded)
			l->rep->rows_present[OCI_DUMP_T_BLOBS]++;
	}
	digest_map_free(h, free);
	return rc;
}

/* Whether manifest hex of repo is there: 1, 0, -1. */
static int has_manifest(struct load *l, const char *repo, const char *hex, struct appr_error *err)
{
	struct oci_manifest m;
	arena_reset(l->tmp);
	if (oci_manifest_get(l->os, repo, hex, NULL, l->tmp, &m, err) == 0)
		return 1;
	if (err->http != 404)
		return -1;
	appr_err_clear(err);
	return 0;
}

/* Manifests, an index after the manifests of its repository it lists: passes until
 * none is left or a pass puts nothing (a listed manifest the archive lacks: the
 * store refuses it, MANIFEST_BLOB_UNKNOWN). */
static int load_manifests(struct load *l, struct appr_error *err)
{
	size_t left = l->n_m;
	while (left) {
		size_t put = 0;
		for (size_t i = 0; i < l->n_m; i++) {
			struct mrow *m = &l->m[i];
			const char *repo = m->row->v[0], *hex = m->row->v[1];
			if (m->done)
				continue;
			bool ready = true;
			for (size_t k = 0; k < m->info.n_manifests && ready; k++) {
				const struct mrow *listed = find_manifest(l, repo, m->info.manifests[k]);
				ready = !listed || listed->done;
			}
			if (!ready)
				continue;
			int r = has_manifest(l, repo, hex, err);
			if (r < 0)
				return -1;
			if (r) {
				l->rep->rows_present[OCI_DUMP_T_MANIFESTS]++;
			} else {
				if (oci_manifest_put(l->os, repo, hex, &m->info, m->row->v[5],
						     m->row->len[5], NULL, err) < 0)
					return -1;
				l->rep->rows_written[OCI_DUMP_T_MANIFESTS]++;
			}
			m->done = true;
			left--;
			put++;
		}
		if (!put)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "OCI index manifests that "
					"list one another in a circle: not loaded");
	}
	return 0;
}

static int load_tags(struct load *l, struct appr_error *err)
{
	const struct archive_oci_rows *tags = &l->ix->oci[OCI_DUMP_T_TAGS];
	for (size_t i = 0; i < tags->n; i++) {
		const char *repo = tags->rows[i].v[0], *tag = tags->rows[i].v[1];
		const char *hex = tags->rows[i].v[2];
		struct oci_manifest cur;
		arena_reset(l->tmp);
		if (oci_manifest_get(l->os, repo, NULL, tag, l->tmp, &cur, err) == 0) {
			if (strcmp(cur.digest, hex) == 0) {
				l->rep->rows_present[OCI_DUMP_T_TAGS]++;
			} else {
				l->rep->conflicts++;
				say(l, "OCI tag %s:%s names sha256:%s here, sha256:%s in the source: "
				    "left as it is", repo, tag, cur.digest, hex);
			}
			continue;
		}
		if (err->http != 404)
			return -1;
		appr_err_clear(err);
		const struct mrow *m = find_manifest(l, repo, hex);
		if (!m)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "OCI tag %s:%s names "
					"sha256:%s, not a manifest of the source", repo, tag, hex);
		if (oci_manifest_put(l->os, repo, hex, &m->info, m->row->v[5], m->row->len[5], tag,
				     err) < 0)
			return -1;
		l->rep->rows_written[OCI_DUMP_T_TAGS]++;
	}
	return 0;
}

int oci_store_load(struct oci_store *os, const struct archive_index *ix,
		   struct blob_source *src, oci_dump_say_fn sayfn, void *sctx,
		   struct oci_dump_load_report *rep, struct appr_error *err)
{
	const struct archive_oci_rows *mr = &ix->oci[OCI_DUMP_T_MANIFESTS];
	struct load l = { .os = os, .ix = ix, .src = src, .say = sayfn, .sctx = sctx,
			  .rep = rep, .a = arena_new(), .tmp = arena_new() };
	int rc = -1;
	memset(rep, 0, sizeof *rep);
	l.m = xcalloc(mr->n + 1, sizeof *l.m);
	for (size_t i = 0; i < mr->n; i++) {
		const struct oci_dump_row *row = &mr->rows[i];
		struct mrow *m = &l.m[l.n_m++];
		m->row = row;
		if (oci_manifest_parse(row->v[5], row->len[5], row->v[2], l.a, &m->info, err) < 0) {
			char why[sizeof err->msg];
			snprintf(why, sizeof why, "%s", err->msg);
			appr_err(err, 400, APPR_E_INVALID_USAGE, "OCI manifest sha256:%s of %s: %s",
				 row->v[1], row->v[0], why);
			goto out;
		}
		m->info.created_at = row->v[6];
	}
	qsort(l.m, l.n_m, sizeof *l.m, mrow_cmp);
	const struct archive_oci_rows *lr = &ix->oci[OCI_DUMP_T_LINKS];
	l.links = xcalloc(lr->n + 1, sizeof *l.links);
	for (size_t i = 0; i < lr->n; i++)
		l.links[l.n_links++] = &lr->rows[i];
	qsort(l.links, l.n_links, sizeof *l.links, link_cmp);
	if (load_blobs(&l, err) < 0 || load_manifests(&l, err) < 0 || load_tags(&l, err) < 0)
		goto out;
	/* the links made only so that a manifest could be put: its references keep the
	 * blob now */
	for (size_t i = 0; i < l.n_temp; i++)
		if (oci_blob_delete(os, l.temp_repo[i], l.temp_hex[i], err) < 0)
			goto out;
	rc = 0;
out:
	free(l.temp_repo);
	free(l.temp_hex);
	free(l.links);
	free(l.m);
	arena_free(l.a);
	arena_free(l.tmp);
	return rc;
}
