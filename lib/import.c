/* import.c - an archive index applied to a store (import, copy), and an archive file
 * verified before that. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "import.h"

#define CHUNK 65536

/* ---- the blobs of an archive file ---- */

static int file_open(struct blob_source *base, const char *digest, long long *size,
		     struct appr_error *err)
{
	struct import_file_source *src = (struct import_file_source *)base;
	const struct archive_blob *b = archive_find_blob(src->ix, digest);
	if (!b || !b->present)
		return storage_err_blob_absent(err, NULL, NULL, digest);
	if (fseeko(src->f, b->offset, SEEK_SET) < 0)
		return appr_err(err, 500, APPR_E_INTERNAL, "reading the archive: %s",
				strerror(errno));
	src->left = b->size;
	*size = b->size;
	return 0;
}

static int file_oci_open(struct blob_source *base, const char *hex, long long *size,
			 struct appr_error *err)
{
	struct import_file_source *src = (struct import_file_source *)base;
	const struct archive_oci_blob *b = archive_find_oci_blob(src->ix, hex);
	if (!b || !b->present)
		return appr_err(err, 404, APPR_E_INTERNAL, "OCI blob %.64s is not in the archive",
				hex);
	if (fseeko(src->f, b->offset, SEEK_SET) < 0)
		return appr_err(err, 500, APPR_E_INTERNAL, "reading the archive: %s",
				strerror(errno));
	src->left = b->size;
	*size = b->size;
	return 0;
}

static long file_read(struct blob_source *base, void *buf, size_t len)
{
	struct import_file_source *src = (struct import_file_source *)base;
	if (src->left == 0)
		return 0;
	if ((long long)len > src->left)
		len = (size_t)src->left;
	size_t n = fread(buf, 1, len, src->f);
	if (n == 0) {
		fprintf(stderr, "appr-admin: reading the archive: %s\n",
			ferror(src->f) ? strerror(errno) : "it is cut short");
		return -1;
	}
	src->left -= (long long)n;
	return (long)n;
}

static void file_close(struct blob_source *base)
{
	((struct import_file_source *)base)->left = 0;
}

void import_file_source_init(struct import_file_source *src, FILE *f,
			     const struct archive_index *ix)
{
	memset(src, 0, sizeof *src);
	src->base.open = file_open;
	src->base.oci_open = file_oci_open;
	src->base.read = file_read;
	src->base.close = file_close;
	src->f = f;
	src->ix = ix;
}

/* ---- reading one blob through the checks ---- */

/* Stream blob b of src through the checks into w (when not NULL), and a chart reader
 * (when not NULL). 0 when its bytes are what the index says; 1 when they are not
 * (why says how); -1 on a read or store failure. */
static int stream_blob(struct blob_source *src, const struct archive_blob *b,
		       struct storage_blob_writer *w, struct chart_reader *cr,
		       unsigned char *buf, char why[160], struct appr_error *err)
{
	struct archive_check *chk = archive_check_new();
	struct appr_error bad = { 0 };
	char digest[DIGEST_HEX_LEN + 1], sha[DIGEST_HEX_LEN + 1];
	long long size;
	int rc = -1;

	if (cr)
		chart_reader_attach(cr, archive_check_targz(chk));
	if (src->open(src, b->digest, &size, err) < 0)
		goto out;
	for (;;) {
		long n = src->read(src, buf, CHUNK);
		if (n < 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "blob %s cannot be read", b->digest);
			goto out;
		}
		if (n == 0)
			break;
		if (archive_check_feed(chk, buf, (size_t)n, &bad) < 0) {
			snprintf(why, 160, "not a valid .tgz: %.130s", bad.msg);
			rc = 1;
			goto out;
		}
		if (w && storage_blob_write(w, buf, (size_t)n, err) < 0)
			goto out;
	}
	if (archive_check_finish(chk, digest, sha, &size, &bad) < 0) {
		snprintf(why, 160, "not a valid .tgz: %.130s", bad.msg);
		rc = 1;
	} else if (size != b->size) {
		snprintf(why, 160, "%lld bytes, %lld expected", size, b->size);
		rc = 1;
	} else if (strcmp(sha, b->sha256) != 0) {
		snprintf(why, 160, "its bytes' SHA-256 is %s", sha);
		rc = 1;
	} else if (strcmp(digest, b->digest) != 0) {
		snprintf(why, 160, "its tar's digest is %s", digest);
		rc = 1;
	} else {
		rc = 0;
	}
out:
	src->close(src);
	archive_check_free(chk);
	return rc;
}

int import_verify(FILE *f, struct archive_index *ix, archive_progress_fn progress, void *pctx,
		  struct appr_error *err)
{
	struct import_file_source src;
	unsigned char *buf;
	long long bytes = 0;
	char why[160];
	int rc = 0;

	if (archive_read(f, ix, err) < 0)
		return -1;
	import_file_source_init(&src, f, ix);
	buf = xmalloc(CHUNK);
	for (size_t i = 0; i < ix->n_blobs && rc == 0; i++) {
		int r = stream_blob(&src.base, &ix->blobs[i], NULL, NULL, buf, why, err);
		if (r > 0)
			appr_err(err, 400, APPR_E_INVALID_USAGE, "blob %s: %s", ix->blobs[i].digest,
				 why);
		rc = r ? -1 : 0;
		bytes += ix->blobs[i].size;
		if (progress)
			progress(pctx, "verify", i + 1, ix->n_blobs, bytes);
	}
	for (size_t i = 0; i < ix->n_oci_blobs && rc == 0; i++) {
		const struct archive_oci_blob *b = &ix->oci_blobs[i];
		struct digest_ctx *d = digest_new();
		char sha[DIGEST_HEX_LEN + 1];
		long long size, got = 0;
		long n = 0;
		if (file_oci_open(&src.base, b->digest, &size, err) < 0)
			rc = -1;
		while (rc == 0 && (n = file_read(&src.base, buf, CHUNK)) > 0) {
			digest_update(d, buf, (size_t)n);
			got += n;
		}
		digest_final_hex(d, sha);
		digest_free(d);
		if (rc == 0 && n < 0) {
			rc = appr_err(err, 400, APPR_E_INVALID_USAGE, "OCI blob %s cannot be read",
				      b->digest);
		} else if (rc == 0 && (got != b->size || strcmp(sha, b->digest) != 0)) {
			rc = appr_err(err, 400, APPR_E_INVALID_USAGE, "OCI blob %s: its bytes' "
				      "SHA-256 is %s", b->digest, sha);
		}
		bytes += b->size;
		if (progress)
			progress(pctx, "verify OCI", i + 1, ix->n_oci_blobs, bytes);
	}
	free(buf);
	return rc;
}

/* ---- applying an index ---- */

enum plan { PLAN_WRITE, PLAN_PRESENT, PLAN_CONFLICT };

struct apply {
	struct storage *dst;
	const struct archive_index *ix;
	struct blob_source *src;
	import_say_fn say;
	void *sctx;
	struct import_report *rep;
	struct arena *a;
	unsigned char *buf;
};

void import_sayf(import_say_fn say, void *ctx, const char *fmt, ...)
{
	char line[512];
	va_list va;
	if (!say)
		return;
	va_start(va, fmt);
	vsnprintf(line, sizeof line, fmt, va);
	va_end(va);
	say(ctx, line);
}

static bool same_str(const char *x, const char *y)
{
	return x == y || (x && y && strcmp(x, y) == 0);
}

/* What to do with manifest m: dst lacks it, holds it (same digest), or another. */
static int plan_manifest(struct apply *ap, const struct archive_manifest *m, enum plan *out,
			 struct appr_error *err)
{
	struct storage_manifest have;
	struct appr_error e = { 0 };
	if (storage_get_manifest(ap->dst, m->ns, m->name, m->release, m->media_type, ap->a,
				 &have, &e) < 0) {
		if (e.http != 404) {
			*err = e;
			return -1;
		}
		*out = PLAN_WRITE;
		return 0;
	}
	*out = strcmp(have.digest, m->digest) == 0 ? PLAN_PRESENT : PLAN_CONFLICT;
	return 0;
}

/* Write manifest m (dst lacks it). */
static int write_manifest(struct apply *ap, const struct archive_manifest *m,
			  struct appr_error *err)
{
	const struct archive_blob *b = archive_find_blob(ap->ix, m->digest);
	struct storage_blob_writer *w = NULL;
	struct chart_reader *cr = NULL;
	struct chart *chart = NULL;
	struct appr_error why_chart = { 0 };
	char why[160], problem[CHART_PROBLEM_MAX];
	bool helm = strcmp(m->media_type, "helm") == 0;
	int rc = -1, r;

	if (storage_blob_begin(ap->dst, &w, err) < 0)
		return -1;
	if (helm)
		cr = chart_reader_new();
	r = stream_blob(ap->src, b, w, cr, ap->buf, why, err);
	if (r < 0) {
		if (err->http == 404) {
			import_sayf(ap->say, ap->sctx, "%s/%s %s %s: blob %s is missing: not imported", m->ns, m->name,
			    m->release, m->media_type, m->digest);
			ap->rep->problems++;
			rc = 0;
		}
		goto out;
	}
	if (r > 0) {
		import_sayf(ap->say, ap->sctx, "%s/%s %s %s: blob %s: %s: not imported", m->ns, m->name, m->release,
		    m->media_type, m->digest, why);
		ap->rep->problems++;
		rc = 0;
		goto out;
	}
	struct storage_push sp = {
		.ns = m->ns, .name = m->name, .release = m->release, .media_type = m->media_type,
		.metadata = m->metadata, .visibility = m->visibility, .created_at = m->created_at,
	};
	memcpy(sp.digest, m->digest, sizeof sp.digest);
	memcpy(sp.blob_sha256, m->blob_sha256, sizeof sp.blob_sha256);
	if (helm) {
		if (chart_reader_finish(cr, &chart, &why_chart) < 0)
			chart = NULL;
		if (chart_is_release(chart, &why_chart, m->name, m->release, problem))
			sp.chart = chart->json;
		else
			sp.chart_problem = problem;
	}
	struct storage_blob_writer *wc = w;
	w = NULL;                            /* put_release consumes it */
	if (storage_put_release(ap->dst, &sp, wc, err) < 0) {
		enum plan p;
		if (err->http != 409 || plan_manifest(ap, m, &p, err) < 0)
			goto out;
		/* pushed meanwhile */
		if (p == PLAN_PRESENT) {
			ap->rep->manifests_present++;
		} else {
			import_sayf(ap->say, ap->sctx, "conflict: %s/%s %s %s: the store holds another digest",
			    m->ns, m->name, m->release, m->media_type);
			ap->rep->conflicts++;
		}
		rc = 0;
		goto out;
	}
	ap->rep->manifests_written++;
	ap->rep->bytes += m->size;
	rc = 0;
out:
	storage_blob_abort(w);
	chart_reader_free(cr);
	chart_free(chart);
	return rc;
}

/* Users, grants, tokens: each written when dst lacks it, else compared. */
static int apply_auth(struct apply *ap, struct appr_error *err)
{
	const struct archive_index *ix = ap->ix;
	struct storage_grant *g;
	struct storage_token *t;
	size_t ng, nt;

	for (size_t i = 0; i < ix->n_users; i++) {
		const struct storage_user *u = &ix->users[i];
		struct storage_user have;
		struct appr_error e = { 0 };
		if (storage_user_get(ap->dst, u->name, ap->a, &have, &e) == 0) {
			if (!same_str(have.password_hash, u->password_hash)) {
				import_sayf(ap->say, ap->sctx, "conflict: user %s: the store holds another password", u->name);
				ap->rep->conflicts++;
			}
			continue;
		}
		if (e.http != 404) {
			*err = e;
			return -1;
		}
		if (storage_user_put_at(ap->dst, u->name, u->password_hash, u->created_at, err) < 0)
			return -1;
		ap->rep->users_written++;
	}
	if (storage_grant_list(ap->dst, NULL, ap->a, &g, &ng, err) < 0)
		return -1;
	for (size_t i = 0; i < ix->n_grants; i++) {
		const struct storage_grant *x = &ix->grants[i];
		const struct storage_grant *have = NULL;
		for (size_t k = 0; k < ng && !have; k++)
			if (strcmp(g[k].user, x->user) == 0 && strcmp(g[k].namespace, x->namespace) == 0)
				have = &g[k];
		if (have) {
			if (have->level != x->level) {
				import_sayf(ap->say, ap->sctx, "conflict: grant of %s on %s: the store holds another level",
				    x->user, x->namespace);
				ap->rep->conflicts++;
			}
			continue;
		}
		struct appr_error e = { 0 };
		if (storage_grant_set(ap->dst, x->user, x->namespace, x->level, &e) < 0) {
			if (e.http != 404) {
				*err = e;
				return -1;
			}
			import_sayf(ap->say, ap->sctx, "grant of %s on %s: no such user: not imported", x->user,
			    x->namespace);
			ap->rep->problems++;
			continue;
		}
		ap->rep->grants_written++;
	}
	if (storage_token_list(ap->dst, NULL, ap->a, &t, &nt, err) < 0)
		return -1;
	for (size_t i = 0; i < ix->n_tokens; i++) {
		const struct storage_token *x = &ix->tokens[i];
		const struct storage_token *have = NULL;
		for (size_t k = 0; k < nt && !have; k++)
			if (strcmp(t[k].id, x->id) == 0 || strcmp(t[k].hash, x->hash) == 0)
				have = &t[k];
		if (have) {
			if (strcmp(have->id, x->id) != 0 || strcmp(have->hash, x->hash) != 0 ||
			    strcmp(have->user, x->user) != 0 || !same_str(have->namespace, x->namespace) ||
			    have->scope != x->scope || have->expires_at != x->expires_at) {
				import_sayf(ap->say, ap->sctx, "conflict: token %s: the store holds another token with "
				    "its id or hash", x->id);
				ap->rep->conflicts++;
			}
			continue;
		}
		struct appr_error e = { 0 };
		if (storage_token_add(ap->dst, x, &e) < 0) {
			if (e.http != 404) {
				*err = e;
				return -1;
			}
			import_sayf(ap->say, ap->sctx, "token %s: no such user %s: not imported", x->id, x->user);
			ap->rep->problems++;
			continue;
		}
		ap->rep->tokens_written++;
	}
	return 0;
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Channel c: its members dst lacks added (lowest first), then its current set. */
static int apply_channel(struct apply *ap, const struct archive_channel *c,
			 struct appr_error *err)
{
	struct storage_channel have = { 0 }, after;
	struct appr_error e = { 0 };
	bool written = false;
	if (storage_get_channel(ap->dst, c->ns, c->name, c->channel, ap->a, &have, &e) < 0) {
		if (e.http != 404) {
			*err = e;
			return -1;
		}
		memset(&have, 0, sizeof have);
	}
	for (size_t k = c->n_releases; k-- > 0;) {
		const char *r = c->releases[k];
		if (in_list(have.releases, have.n_releases, r))
			continue;
		if (storage_channel_add(ap->dst, c->ns, c->name, c->channel, r, ap->a, &after, &e) < 0) {
			if (e.http != 404) {
				*err = e;
				return -1;
			}
			import_sayf(ap->say, ap->sctx, "channel %s/%s %s: release %s is absent: not added", c->ns, c->name,
			    c->channel, r);
			ap->rep->problems++;
			continue;
		}
		have = after;
		written = true;
	}
	if (!have.current || strcmp(have.current, c->current) != 0) {
		if (storage_channel_add(ap->dst, c->ns, c->name, c->channel, c->current, ap->a,
					&after, &e) < 0) {
			if (e.http != 404) {
				*err = e;
				return -1;
			}
		} else {
			written = true;
		}
	}
	ap->rep->channels_written += written;
	return 0;
}

int import_apply(struct storage *dst, const struct archive_index *ix, struct blob_source *src,
		 import_say_fn sayf, void *sctx, archive_progress_fn progress, void *pctx,
		 struct import_report *rep, struct appr_error *err)
{
	struct apply ap = { dst, ix, src, sayf, sctx, rep, arena_new(), xmalloc(CHUNK) };
	enum plan *plan = xcalloc(ix->n_manifests + 1, sizeof *plan);
	unsigned long todo = 0, done = 0;
	int rc = -1;

	memset(rep, 0, sizeof *rep);
	/* first look, write nothing */
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const struct archive_manifest *m = &ix->manifests[i];
		arena_reset(ap.a);
		if (plan_manifest(&ap, m, &plan[i], err) < 0)
			goto out;
		if (plan[i] == PLAN_WRITE) {
			todo++;
		} else if (plan[i] == PLAN_PRESENT) {
			rep->manifests_present++;
		} else {
			import_sayf(ap.say, ap.sctx, "conflict: %s/%s %s %s: the store holds another digest",
			    m->ns, m->name, m->release, m->media_type);
			rep->conflicts++;
		}
		if (progress)
			progress(pctx, "compare", i + 1, ix->n_manifests, 0);
	}
	arena_reset(ap.a);
	if (apply_auth(&ap, err) < 0)
		goto out;
	for (size_t i = 0; i < ix->n_manifests; i++) {
		if (plan[i] != PLAN_WRITE)
			continue;
		arena_reset(ap.a);
		if (write_manifest(&ap, &ix->manifests[i], err) < 0)
			goto out;
		if (progress)
			progress(pctx, "import", ++done, todo, rep->bytes);
	}
	for (size_t i = 0; i < ix->n_channels; i++) {
		arena_reset(ap.a);
		if (apply_channel(&ap, &ix->channels[i], err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(plan);
	free(ap.buf);
	arena_free(ap.a);
	return rc;
}
