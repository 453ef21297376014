/* oci-store.c - the OCI store's entry points (oci-store.h): opening the store that goes
 * with the registry's storage, the calls through its table, and the operations a store
 * may leave to this file: the Helm view from the appr store's chart fields, adopting an
 * appr blob by copying it through an upload session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci-helm.h"
#include "oci-store.h"
#include "semver.h"
#include "storage.h"

int oci_store_open(const struct appr_config *cfg, struct storage *st, struct oci_store **out,
		   struct appr_error *err)
{
	const char *name = st->ops->name;
	*out = NULL;
	if (strcmp(name, "filesystem") == 0)
		return oci_sqlite_open(cfg, st, out, err);
#if defined(HAVE_ETCD) || defined(HAVE_REDIS)
	if (strcmp(name, "etcd") == 0 || strcmp(name, "redis") == 0)
		return oci_kv_open(cfg, st, out, err);
#endif
	return appr_err(err, 501, OCI_E_UNSUPPORTED, "the %s storage has no OCI store", name);
}

void oci_store_close(struct oci_store *s)
{
	if (s)
		s->ops->close(s);
}

int oci_repo_known(struct oci_store *s, const char *repo, bool *known, struct appr_error *err)
{ return s->ops->repo_known(s, repo, known, err); }

int oci_blob_stat(struct oci_store *s, const char *repo, const char *hex, long long *size,
		  struct appr_error *err)
{ return s->ops->blob_stat(s, repo, hex, size, err); }

int oci_blob_open(struct oci_store *s, const char *hex, long long from,
		  struct oci_blob_reader **r, struct appr_error *err)
{ return s->ops->blob_open(s, hex, from, r, err); }

long oci_blob_read(struct oci_blob_reader *r, void *buf, size_t len)
{ return r->s->ops->blob_read(r, buf, len); }

void oci_blob_close(struct oci_blob_reader *r)
{
	if (r)
		r->s->ops->blob_close(r);
}

int oci_blob_mount(struct oci_store *s, const char *repo, const char *from, const char *hex,
		   struct appr_error *err)
{ return s->ops->blob_mount(s, repo, from, hex, err); }

int oci_repos_list(struct oci_store *s, const char *last, long n, struct arena *a,
		   const char ***repos, size_t *count, bool *more, struct appr_error *err)
{ return s->ops->repos_list(s, last, n, a, repos, count, more, err); }

int oci_blob_delete(struct oci_store *s, const char *repo, const char *hex,
		    struct appr_error *err)
{ return s->ops->blob_delete(s, repo, hex, err); }

int oci_upload_new(struct oci_store *s, const char *repo, char uuid[OCI_UUID_LEN + 1],
		   struct appr_error *err)
{ return s->ops->upload_new(s, repo, uuid, err); }

int oci_upload_append(struct oci_store *s, const char *repo, const char *uuid,
		      struct oci_upload_writer **w, struct appr_error *err)
{ return s->ops->upload_append(s, repo, uuid, w, err); }

int oci_upload_write(struct oci_upload_writer *w, const void *data, size_t len,
		     struct appr_error *err)
{ return w->s->ops->upload_write(w, data, len, err); }

int oci_upload_end(struct oci_upload_writer *w, bool keep, struct appr_error *err)
{ return w ? w->s->ops->upload_end(w, keep, err) : 0; }

int oci_upload_finish(struct oci_store *s, const char *repo, const char *uuid,
		      const char *hex, struct appr_error *err)
{ return s->ops->upload_finish(s, repo, uuid, hex, err); }

int oci_upload_cancel(struct oci_store *s, const char *repo, const char *uuid,
		      struct appr_error *err)
{ return s->ops->upload_cancel(s, repo, uuid, err); }

int oci_manifest_put(struct oci_store *s, const char *repo, const char *hex,
		     const struct oci_manifest_info *info, const char *body, size_t len,
		     const char *tag, struct appr_error *err)
{ return s->ops->manifest_put(s, repo, hex, info, body, len, tag, err); }

int oci_referrers(struct oci_store *s, const char *repo, const char *hex, struct arena *a,
		  struct oci_manifest **out, const char ***artifact_types, size_t *n,
		  struct appr_error *err)
{ return s->ops->referrers(s, repo, hex, a, out, artifact_types, n, err); }

int oci_manifest_get(struct oci_store *s, const char *repo, const char *hex,
		     const char *tag, struct arena *a, struct oci_manifest *m,
		     struct appr_error *err)
{ return s->ops->manifest_get(s, repo, hex, tag, a, m, err); }

int oci_manifest_delete(struct oci_store *s, const char *repo, const char *hex,
			struct appr_error *err)
{ return s->ops->manifest_delete(s, repo, hex, err); }

int oci_tag_delete(struct oci_store *s, const char *repo, const char *tag,
		   struct appr_error *err)
{ return s->ops->tag_delete(s, repo, tag, err); }

int oci_tags_list(struct oci_store *s, const char *repo, const char *last, long n,
		  struct arena *a, const char ***tags, size_t *count, bool *more,
		  struct appr_error *err)
{ return s->ops->tags_list(s, repo, last, n, a, tags, count, more, err); }

int oci_manifest_tag(struct oci_store *s, const char *repo, const char *hex, struct arena *a,
		     const char **tag, struct appr_error *err)
{ return s->ops->manifest_tag(s, repo, hex, a, tag, err); }

int oci_blob_share(struct oci_store *s, const char *hex, const char *dst)
{ return s->ops->blob_share ? s->ops->blob_share(s, hex, dst) : -1; }

/* ---- the Helm view from the appr store's chart fields ---- */

static int by_semver(const void *x, const void *y)
{
	const struct oci_chart_release *a = x, *b = y;
	struct semver va, vb;
	if (semver_parse(a->version, &va) < 0 || semver_parse(b->version, &vb) < 0)
		return strcmp(a->version, b->version);
	int c = semver_cmp(&va, &vb);
	return c ? c : strcmp(a->version, b->version);
}

/* The releases of package repo whose chart is valid and whose .tgz SHA-256 is known,
 * with a tag of at most OCI_HELM_TAG_MAX bytes: what the SQLite store selects. */
static int view_from_charts(struct oci_store *s, const char *repo, const char *version,
			    struct arena *a, struct oci_chart_release **out, size_t *n,
			    struct appr_error *err)
{
	const char *slash = strchr(repo, '/');
	struct storage_chart *c;
	size_t count;
	char tag[OCI_HELM_TAG_MAX + 1];
	*out = NULL;
	*n = 0;
	if (!slash)
		return 0;
	char *ns = arena_strndup(a, repo, (size_t)(slash - repo));
	if (storage_list_charts(s->st, ns, true, a, &c, &count, err) < 0)
		return err->http == 404 ? (*err = (struct appr_error){ 0 }, 0) : -1;
	*out = arena_alloc(a, (count ? count : 1) * sizeof **out);
	for (size_t i = 0; i < count; i++) {
		if (strcmp(c[i].name, slash + 1) != 0 || !c[i].chart ||
		    strlen(c[i].blob_sha256) != DIGEST_HEX_LEN ||
		    strlen(c[i].digest) != DIGEST_HEX_LEN ||
		    (version && strcmp(c[i].release, version) != 0) ||
		    oci_helm_tag(c[i].release, tag) < 0)
			continue;
		struct oci_chart_release *r = &(*out)[(*n)++];
		r->version = c[i].release;
		memcpy(r->digest, c[i].digest, sizeof r->digest);
		memcpy(r->sha256, c[i].blob_sha256, sizeof r->sha256);
		r->size = c[i].size;
		r->chart = c[i].chart;
		r->config = c[i].oci_config;             /* as kept at push, if it was */
		r->manifest = c[i].oci_manifest;
		r->config_len = r->config ? strlen(r->config) : 0;
		r->manifest_len = r->manifest ? strlen(r->manifest) : 0;
	}
	qsort(*out, *n, sizeof **out, by_semver);
	return 0;
}

int oci_chart_releases(struct oci_store *s, const char *repo, const char *version,
		       struct arena *a, struct oci_chart_release **out, size_t *n,
		       struct appr_error *err)
{
	if (s->ops->chart_releases)
		return s->ops->chart_releases(s, repo, version, a, out, n, err);
	return view_from_charts(s, repo, version, a, out, n, err);
}

/* ---- adopting an appr blob: a copy through an upload session ---- */

int oci_blob_put(struct oci_store *s, const char *repo, const char *hex, oci_read_fn read,
		 void *ctx, struct appr_error *err)
{
	struct oci_upload_writer *w = NULL;
	struct appr_error e = { 0 };
	char uuid[OCI_UUID_LEN + 1];
	if (oci_upload_new(s, repo, uuid, err) < 0)
		return -1;
	int rc = oci_upload_append(s, repo, uuid, &w, err);
	if (rc == 0) {
		char *buf = xmalloc(65536);
		long got;
		while (rc == 0 && (got = read(ctx, buf, 65536)) != 0)
			rc = got < 0 ? appr_err(err, 500, APPR_E_INTERNAL, "blob sha256:%s: its "
						"bytes cannot be read", hex)
				     : oci_upload_write(w, buf, (size_t)got, err);
		free(buf);
		if (oci_upload_end(w, rc == 0, rc == 0 ? err : &e) < 0)
			rc = -1;
	}
	/* the upload checks the bytes against hex: wrong bytes are refused */
	if (rc == 0)
		rc = oci_upload_finish(s, repo, uuid, hex, err);
	if (rc < 0)
		oci_upload_cancel(s, repo, uuid, &e);   /* gone already: no matter */
	return rc;
}

static long read_appr(void *ctx, void *buf, size_t len)
{
	return storage_blob_read(ctx, buf, len);
}

/* oci_blob_adopt for a store without files: a copy through an upload session. */
static int adopt_by_copy(struct oci_store *s, const char *repo, const char *hex,
			 const char *digest, struct appr_error *err)
{
	struct storage_blob_reader *r = NULL;
	long long size;
	if (oci_blob_stat(s, repo, hex, &size, err) == 0)
		return 0;                    /* repo has it already */
	if (err->http != 404)
		return -1;
	*err = (struct appr_error){ 0 };
	if (storage_blob_open(s->st, digest, &r, &size, err) < 0)
		return -1;
	int rc = oci_blob_put(s, repo, hex, read_appr, r, err);
	storage_blob_close(r);
	return rc;
}

int oci_blob_adopt(struct oci_store *s, const char *repo, const char *hex,
		   const char *digest, long long size, struct appr_error *err)
{
	if (s->ops->blob_adopt)
		return s->ops->blob_adopt(s, repo, hex, digest, size, err);
	return adopt_by_copy(s, repo, hex, digest, err);
}

int oci_kv_open_content(const struct appr_config *cfg, struct storage *st,
			struct oci_store **os, struct appr_error *err)
{
	bool has;
	*os = NULL;
	if (oci_kv_has_content(st, &has, err) < 0)
		return -1;
	return has ? oci_store_open(cfg, st, os, err) : 0;
}

#if !defined(HAVE_ETCD) && !defined(HAVE_REDIS)
#include "oci-transfer.h"

/* Without a kv driver no store holds kv OCI content (lib/oci-kv.c otherwise). */
int oci_kv_has_content(struct storage *st, bool *has, struct appr_error *err)
{
	(void)st;
	(void)err;
	*has = false;
	return 0;
}

/* Never called: no store holds kv OCI content (oci_kv_open_content gives NULL). */
int oci_kv_gc(struct oci_store *os, struct oci_kv_gc_report *r, struct appr_error *err)
{
	(void)os;
	(void)r;
	return appr_err(err, 500, APPR_E_INTERNAL, "no kv driver in this build");
}

int oci_kv_collect(struct oci_store *os, struct archive_index *ix, struct appr_error *err)
{
	(void)os;
	(void)ix;
	return appr_err(err, 500, APPR_E_INTERNAL, "no kv driver in this build");
}

int oci_kv_stats(struct oci_store *os, struct oci_dump_counts *out, struct appr_error *err)
{
	(void)os;
	(void)out;
	return appr_err(err, 500, APPR_E_INTERNAL, "no kv driver in this build");
}

int oci_kv_check(struct oci_store *os, bool repair, oci_dump_say_fn say, void *sctx,
		 struct oci_dump_check_report *rep, struct appr_error *err)
{
	(void)os;
	(void)repair;
	(void)say;
	(void)sctx;
	(void)rep;
	return appr_err(err, 500, APPR_E_INTERNAL, "no kv driver in this build");
}
#endif
