/* export.c - a store read as a source: its index collected, its blobs streamed, and
 * the archive written from both. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export.h"
#include "oci-transfer.h"

#define CHUNK 65536

/* ---- blobs of a store ---- */

static int store_open(struct blob_source *base, const char *digest, long long *size,
		      struct appr_error *err)
{
	struct export_store_source *src = (struct export_store_source *)base;
	return storage_blob_open(src->s, digest, &src->r, size, err);
}

static int store_oci_open(struct blob_source *base, const char *hex, long long *size,
			  struct appr_error *err)
{
	struct export_store_source *src = (struct export_store_source *)base;
	if (src->oci)
		return oci_dump_blob_open(src->oci, hex, &src->fd, size, err);
	if (oci_blob_open(src->os, hex, 0, &src->or, err) < 0)
		return -1;
	*size = src->or->size;
	return 0;
}

static long store_read(struct blob_source *base, void *buf, size_t len)
{
	struct export_store_source *src = (struct export_store_source *)base;
	if (src->or)
		return oci_blob_read(src->or, buf, len);
	if (src->fd >= 0) {
		for (;;) {
			ssize_t n = read(src->fd, buf, len);
			if (n >= 0 || errno != EINTR) {
				if (n < 0)
					fprintf(stderr, "appr-admin: reading an OCI blob: %s\n",
						strerror(errno));
				return (long)n;
			}
		}
	}
	return storage_blob_read(src->r, buf, len);
}

static void store_close(struct blob_source *base)
{
	struct export_store_source *src = (struct export_store_source *)base;
	if (src->fd >= 0)
		close(src->fd);
	src->fd = -1;
	oci_blob_close(src->or);
	src->or = NULL;
	storage_blob_close(src->r);
	src->r = NULL;
}

void export_store_source_init(struct export_store_source *src, struct storage *s,
			      struct oci_dump *oci, struct oci_store *os)
{
	memset(src, 0, sizeof *src);
	src->base.open = store_open;
	src->base.oci_open = oci || os ? store_oci_open : NULL;
	src->base.read = store_read;
	src->base.close = store_close;
	src->s = s;
	src->oci = oci;
	src->os = oci ? NULL : os;
	src->fd = -1;
}

/* ---- collecting ---- */

static int cmp_user(const void *x, const void *y)
{
	return strcmp(((const struct storage_user *)x)->name, ((const struct storage_user *)y)->name);
}

static int cmp_grant(const void *x, const void *y)
{
	const struct storage_grant *a = x, *b = y;
	int c = strcmp(a->user, b->user);
	return c ? c : strcmp(a->namespace, b->namespace);
}

static int cmp_token(const void *x, const void *y)
{
	const struct storage_token *a = x, *b = y;
	int c = strcmp(a->user, b->user);
	if (!c)
		c = strcmp(a->created_at, b->created_at);
	return c ? c : strcmp(a->id, b->id);
}

/* Users, grants and tokens, each sorted so that two stores holding the same give the
 * same index. */
static int collect_auth(struct storage *s, struct archive_index *ix, struct appr_error *err)
{
	struct storage_user *u;
	struct storage_grant *g;
	struct storage_token *t;
	size_t n;
	if (storage_user_list(s, ix->a, &u, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		*archive_add_user(ix) = u[i];
	if (storage_grant_list(s, NULL, ix->a, &g, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		*archive_add_grant(ix) = g[i];
	if (storage_token_list(s, NULL, ix->a, &t, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		*archive_add_token(ix) = t[i];
	if (ix->n_users)                     /* (qsort wants a base even for none) */
		qsort(ix->users, ix->n_users, sizeof *ix->users, cmp_user);
	if (ix->n_grants)
		qsort(ix->grants, ix->n_grants, sizeof *ix->grants, cmp_grant);
	if (ix->n_tokens)
		qsort(ix->tokens, ix->n_tokens, sizeof *ix->tokens, cmp_token);
	return 0;
}

/* One package: its record, manifests, channels. 0 also when it went meanwhile. */
static int collect_package(struct storage *s, struct archive_index *ix, struct arena *tmp,
			   const struct storage_package *row, struct appr_error *err)
{
	char *ns = arena_strdup(ix->a, row->package), *name = strchr(ns, '/');
	struct storage_manifest *m;
	struct storage_channel *c;
	size_t nm, nc;
	if (!name)
		return 0;
	*name++ = '\0';
	if (storage_get_manifests(s, ns, name, NULL, NULL, tmp, &m, &nm, err) < 0 ||
	    storage_list_channels(s, ns, name, tmp, &c, &nc, err) < 0)
		return err->http == 404 ? 0 : -1;    /* 404: deleted meanwhile */
	if (nm == 0)
		return 0;
	struct archive_package *p = archive_add_package(ix);
	p->ns = ns;
	p->name = name;
	p->visibility = arena_strdup(ix->a, row->visibility ? row->visibility : "public");
	for (size_t i = 0; i < nm; i++) {
		struct archive_manifest *am = archive_add_manifest(ix);
		am->ns = ns;
		am->name = name;
		am->release = arena_strdup(ix->a, m[i].release);
		am->media_type = arena_strdup(ix->a, m[i].media_type);
		memcpy(am->digest, m[i].digest, sizeof am->digest);
		memcpy(am->blob_sha256, m[i].blob_sha256, sizeof am->blob_sha256);
		am->size = m[i].size;
		am->metadata = arena_strdup(ix->a, m[i].metadata);
		memcpy(am->created_at, m[i].created_at, sizeof am->created_at);
		am->visibility = p->visibility;
		archive_add_blob(ix, am->digest, am->size, am->blob_sha256);
	}
	for (size_t i = 0; i < nc; i++) {
		struct archive_channel *ac = archive_add_channel(ix);
		ac->ns = ns;
		ac->name = name;
		ac->channel = arena_strdup(ix->a, c[i].name);
		ac->current = arena_strdup(ix->a, c[i].current);
		ac->n_releases = c[i].n_releases;
		ac->releases = arena_alloc(ix->a, (c[i].n_releases + 1) * sizeof *ac->releases);
		for (size_t k = 0; k < c[i].n_releases; k++)
			ac->releases[k] = arena_strdup(ix->a, c[i].releases[k]);
	}
	return 0;
}

/* The walk of export_collect. */
struct walk {
	struct storage *s;
	struct archive_index *ix;
	struct arena *tmp;               /* one package's reads */
};

/* storage_each_package: take one package. */
static int take_package(void *ctx, const struct storage_package *p, const char *ns,
			const char *name, struct arena *a, struct appr_error *err)
{
	struct walk *w = ctx;
	(void)ns, (void)name, (void)a;
	arena_reset(w->tmp);
	return collect_package(w->s, w->ix, w->tmp, p, err) < 0 ? -1 : 0;
}

int export_collect(struct export_store_source *src, struct archive_index *ix,
		   struct appr_error *err)
{
	struct storage *s = src->s;
	struct walk w = { .s = s, .ix = ix, .tmp = arena_new() };
	int rc = -1;

	if (collect_auth(s, ix, err) == 0 && storage_each_package(s, take_package, &w, err) == 0 &&
	    (!src->oci || oci_dump_collect(src->oci, ix, err) == 0) &&
	    (!src->os || oci_kv_collect(src->os, ix, err) == 0))
		rc = 0;
	arena_free(w.tmp);
	return rc;
}

/* ---- writing ---- */

/* Read blob b whole from s, checked: its size and digest must be the index's, and
 * its SHA-256 too when known (else it is learnt). With out, the bytes are copied
 * there. */
static int copy_blob(struct storage *s, struct archive_blob *b, FILE *out, unsigned char *buf,
		     long long *bytes, struct appr_error *err)
{
	struct storage_blob_reader *r = NULL;
	struct archive_check *chk = NULL;
	char digest[DIGEST_HEX_LEN + 1], sha[DIGEST_HEX_LEN + 1];
	long long size, got;
	int rc = -1;

	if (storage_blob_open(s, b->digest, &r, &size, err) < 0) {
		if (err->http == 404)
			appr_err(err, 500, APPR_E_INTERNAL, "blob %s is missing (deleted during "
				 "the export? run it again; else see appr-admin fsck)", b->digest);
		return -1;
	}
	chk = archive_check_new();
	for (;;) {
		long n = storage_blob_read(r, buf, CHUNK);
		if (n < 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "blob %s cannot be read", b->digest);
			goto out;
		}
		if (n == 0)
			break;
		if (archive_check_feed(chk, buf, (size_t)n, err) < 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "blob %s is not a valid .tgz "
				 "(see appr-admin fsck)", b->digest);
			goto out;
		}
		if (out && fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
			appr_err(err, 500, APPR_E_INTERNAL, "writing the archive: %s",
				 strerror(errno));
			goto out;
		}
		*bytes += n;
	}
	if (archive_check_finish(chk, digest, sha, &got, err) < 0) {
		appr_err(err, 500, APPR_E_INTERNAL, "blob %s is not a valid .tgz "
			 "(see appr-admin fsck)", b->digest);
		goto out;
	}
	if (got != b->size || strcmp(digest, b->digest) != 0 ||
	    (b->sha256[0] && strcmp(sha, b->sha256) != 0)) {
		appr_err(err, 500, APPR_E_INTERNAL, "blob %s differs from what its manifests "
			 "recorded (see appr-admin fsck)", b->digest);
		goto out;
	}
	memcpy(b->sha256, sha, sizeof b->sha256);
	rc = 0;
out:
	archive_check_free(chk);
	storage_blob_close(r);
	return rc;
}

/* Copy OCI blob b from src into out, its size and SHA-256 checked. */
static int copy_oci_blob(struct export_store_source *src, const struct archive_oci_blob *b,
			 FILE *out, unsigned char *buf, long long *bytes, struct appr_error *err)
{
	char sha[DIGEST_HEX_LEN + 1];
	long long size, got = 0;
	int rc = -1;
	if (store_oci_open(&src->base, b->digest, &size, err) < 0) {
		if (err->http == 404)
			appr_err(err, 500, APPR_E_INTERNAL, "OCI blob %s is missing (deleted "
				 "during the export? run it again; else see appr-admin fsck)",
				 b->digest);
		return -1;
	}
	struct digest_ctx *d = digest_new();
	while (got <= b->size) {
		long n = store_read(&src->base, buf, CHUNK);
		if (n < 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "OCI blob %s cannot be read (see "
				 "above)", b->digest);
			goto out;
		}
		if (n == 0)
			break;
		/* never more than the header announced: the tar stays whole */
		size_t keep = got + n > b->size ? (size_t)(b->size - got) : (size_t)n;
		digest_update(d, buf, (size_t)n);
		if (keep && fwrite(buf, 1, keep, out) != keep) {
			appr_err(err, 500, APPR_E_INTERNAL, "writing the archive: %s",
				 strerror(errno));
			goto out;
		}
		got += n;
	}
	digest_final_hex(d, sha);
	if (got != b->size || strcmp(sha, b->digest) != 0) {
		appr_err(err, 500, APPR_E_INTERNAL, "OCI blob %s differs from what the store "
			 "recorded (%lld bytes, SHA-256 %s; see appr-admin fsck)", b->digest, got,
			 sha);
		goto out;
	}
	*bytes += got;
	rc = 0;
out:
	digest_free(d);
	store_close(&src->base);
	return rc;
}

int export_write(struct export_store_source *src, struct archive_index *ix, FILE *out,
		 long long mtime, archive_progress_fn progress, void *pctx,
		 struct appr_error *err)
{
	struct storage *s = src->s;
	unsigned char *buf = xmalloc(CHUNK);
	struct strbuf text = { 0 };
	long long bytes = 0;
	char name[128];
	int rc = -1;

	for (size_t i = 0; i < ix->n_blobs; i++)
		if (!ix->blobs[i].sha256[0] && copy_blob(s, &ix->blobs[i], NULL, buf, &bytes, err) < 0)
			goto out;
	for (size_t i = 0; i < ix->n_manifests; i++) {
		struct archive_manifest *m = &ix->manifests[i];
		const struct archive_blob *b = archive_find_blob(ix, m->digest);
		memcpy(m->blob_sha256, b->sha256, sizeof m->blob_sha256);
		if (m->size != b->size) {
			appr_err(err, 500, APPR_E_INTERNAL, "%s/%s %s %s: size %lld, another "
				 "manifest of its blob says %lld (see appr-admin fsck)", m->ns,
				 m->name, m->release, m->media_type, m->size, b->size);
			goto out;
		}
	}
	archive_index_format(ix, &text);
	if (archive_tar_header(out, ARCHIVE_INDEX_NAME, (long long)text.len, mtime, err) < 0)
		goto out;
	if (fwrite(text.buf, 1, text.len, out) != text.len) {
		appr_err(err, 500, APPR_E_INTERNAL, "writing the archive: %s", strerror(errno));
		goto out;
	}
	if (archive_tar_pad(out, (long long)text.len, err) < 0)
		goto out;
	bytes = 0;
	for (size_t i = 0; i < ix->n_blobs; i++) {
		struct archive_blob *b = &ix->blobs[i];
		snprintf(name, sizeof name, ARCHIVE_BLOB_DIR "%s.tgz", b->digest);
		if (archive_tar_header(out, name, b->size, mtime, err) < 0 ||
		    copy_blob(s, b, out, buf, &bytes, err) < 0 ||
		    archive_tar_pad(out, b->size, err) < 0)
			goto out;
		if (progress)
			progress(pctx, "export", i + 1, ix->n_blobs, bytes);
	}
	for (size_t i = 0; i < ix->n_oci_blobs; i++) {
		const struct archive_oci_blob *b = &ix->oci_blobs[i];
		if (!src->base.oci_open) {
			appr_err(err, 500, APPR_E_INTERNAL, "OCI blobs without an OCI store");
			goto out;
		}
		snprintf(name, sizeof name, ARCHIVE_OCI_BLOB_DIR "%s", b->digest);
		if (archive_tar_header(out, name, b->size, mtime, err) < 0 ||
		    copy_oci_blob(src, b, out, buf, &bytes, err) < 0 ||
		    archive_tar_pad(out, b->size, err) < 0)
			goto out;
		if (progress)
			progress(pctx, "export OCI", i + 1, ix->n_oci_blobs, bytes);
	}
	if (archive_tar_end(out, err) < 0)
		goto out;
	if (fflush(out) != 0) {
		appr_err(err, 500, APPR_E_INTERNAL, "writing the archive: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	sb_free(&text);
	free(buf);
	return rc;
}
