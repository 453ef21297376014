/* fsck.c - a store checked through the storage interface, on any driver. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "digest-map.h"
#include "fsck.h"
#include "oci-dump.h"
#include "oci-transfer.h"
#include "targz.h"

#define READ_CHUNK 65536

enum blob_state { BLOB_OK, BLOB_MISSING, BLOB_UNREADABLE, BLOB_NOT_TAR };

/* What was found about one stored blob (each digest is read once). */
struct blob_seen {
	char digest[DIGEST_HEX_LEN + 1];
	enum blob_state state;
	long long size;
	char sha256[DIGEST_HEX_LEN + 1];  /* of its bytes */
	char tar[DIGEST_HEX_LEN + 1];     /* of its tar: the digest it must have */
	char why[160];
};

/* Read the blob digest whole: its size, the SHA-256 of its bytes, its tar's digest. */
static int read_blob(struct storage *s, struct blob_seen *b, struct appr_error *err)
{
	struct storage_blob_reader *r = NULL;
	struct targz_limits lim = { 0 };  /* it was stored: no limit now */
	struct targz *tz = NULL;
	struct digest_ctx *d = NULL;
	struct appr_error why = { 0 };
	unsigned char *buf = NULL;
	long long size;
	bool bad = false;

	if (storage_blob_open(s, b->digest, &r, &size, &why) < 0) {
		if (why.http != 404) {
			*err = why;
			return -1;
		}
		b->state = BLOB_MISSING;
		return 0;
	}
	tz = targz_new(&lim);
	d = digest_new();
	buf = xmalloc(READ_CHUNK);
	b->size = 0;
	for (;;) {
		long n = storage_blob_read(r, buf, READ_CHUNK);
		if (n < 0) {
			b->state = BLOB_UNREADABLE;
			snprintf(b->why, sizeof b->why, "a read failed after %lld bytes", b->size);
			goto out;
		}
		if (n == 0)
			break;
		b->size += n;
		digest_update(d, buf, (size_t)n);
		if (!bad && targz_feed(tz, buf, (size_t)n, &why) < 0)
			bad = true;
	}
	if (!bad && targz_finish(tz, b->tar, &why) < 0)
		bad = true;
	digest_final_hex(d, b->sha256);
	b->state = bad ? BLOB_NOT_TAR : BLOB_OK;
	if (bad)
		snprintf(b->why, sizeof b->why, "%s", why.msg);
out:
	storage_blob_close(r);
	targz_free(tz);
	digest_free(d);
	free(buf);
	return 0;
}

struct run {
	struct storage *s;
	bool repair;
	fsck_say_fn say;
	void *ctx;
	struct fsck_report *rep;
	struct digest_map *seen;        /* digest -> struct blob_seen */
};

static void say(struct run *r, bool problem, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(struct run *r, bool problem, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (problem)
		r->rep->problems++;
	r->say(r->ctx, line);
}

/* The problem with manifest m's blob, or NULL when it serves as it must. */
static const char *blob_problem(const struct blob_seen *b, const struct storage_manifest *m,
				char *out, size_t cap)
{
	if (b->state == BLOB_MISSING) {
		snprintf(out, cap, "blob %s is missing", m->digest);
		return out;
	}
	if (b->state == BLOB_UNREADABLE) {
		snprintf(out, cap, "blob %s cannot be read: %s", m->digest, b->why);
		return out;
	}
	/* the most telling first: size, the bytes' hash, then what the tar says */
	if (b->size != m->size)
		snprintf(out, cap, "blob %s is %lld bytes, the manifest says %lld", m->digest,
			 b->size, m->size);
	else if (m->blob_sha256[0] && strcmp(m->blob_sha256, b->sha256) != 0)
		snprintf(out, cap, "blob %s: its bytes' SHA-256 is %s, %s was recorded at push",
			 m->digest, b->sha256, m->blob_sha256);
	else if (b->state == BLOB_NOT_TAR)
		snprintf(out, cap, "blob %s is no longer a gzipped tar: %s", m->digest, b->why);
	else if (strcmp(b->tar, m->digest) != 0)
		snprintf(out, cap, "blob %s: its tar's digest is %s", m->digest, b->tar);
	else
		return NULL;
	return out;
}

static int check_manifests(struct run *r, const char *ns, const char *name, struct arena *a,
			   struct appr_error *err)
{
	struct storage_manifest *m;
	size_t n;
	char why[400];

	if (storage_get_manifests(r->s, ns, name, NULL, NULL, a, &m, &n, err) < 0)
		return err->http == 404 ? 0 : -1;        /* gone meanwhile */
	for (size_t i = 0; i < n; i++) {
		bool known;
		void **slot = digest_map_slot(r->seen, m[i].digest, &known);
		struct blob_seen *b = *slot;
		r->rep->manifests++;
		if (!known) {
			b = *slot = xcalloc(1, sizeof *b);
			memcpy(b->digest, m[i].digest, sizeof b->digest);
			if (read_blob(r->s, b, err) < 0)
				return -1;
		}
		const char *p = blob_problem(b, &m[i], why, sizeof why);
		if (!p)
			continue;
		say(r, true, "%s/%s %s %s: %s", ns, name, m[i].release, m[i].media_type, p);
		if (!r->repair)
			continue;
		struct appr_error e = { 0 };
		if (storage_delete_manifest(r->s, ns, name, m[i].release, m[i].media_type, &e) < 0) {
			say(r, false, "  not repaired: deleting the manifest: %s", e.msg);
			continue;
		}
		r->rep->repaired++;
		say(r, false, "  repaired: deleted the manifest (it cannot be served correctly)");
	}
	return 0;
}

static bool listed(const char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static int check_channels(struct run *r, const char *ns, const char *name, struct arena *a,
			  struct appr_error *err)
{
	const char **rels;
	size_t nrel, nch;
	struct storage_channel *ch;

	if (storage_list_releases(r->s, ns, name, a, &rels, &nrel, err) < 0 ||
	    storage_list_channels(r->s, ns, name, a, &ch, &nch, err) < 0)
		return err->http == 404 ? 0 : -1;
	r->rep->releases += nrel;
	for (size_t i = 0; i < nch; i++) {
		r->rep->channels++;
		for (size_t k = 0; k < ch[i].n_releases; k++) {
			if (listed(rels, nrel, ch[i].releases[k]))
				continue;
			say(r, true, "%s/%s channel %s: member %s is no release", ns, name,
			    ch[i].name, ch[i].releases[k]);
			struct appr_error e = { 0 };
			if (r->repair && storage_channel_remove(r->s, ns, name, ch[i].name,
								ch[i].releases[k], &e) == 0) {
				r->rep->repaired++;
				say(r, false, "  repaired: removed from the channel");
			}
		}
		if (ch[i].current && !listed(ch[i].releases, ch[i].n_releases, ch[i].current))
			say(r, true, "%s/%s channel %s: its current release %s is not a member",
			    ns, name, ch[i].name, ch[i].current);
	}
	return 0;
}

static void say_oci(void *ctx, const char *line)
{
	struct run *r = ctx;
	r->say(r->ctx, line);
}

/* The OCI content of the filesystem store in cfg's data directory, or of an etcd or
 * redis store (when it holds some). */
static int check_oci(struct run *r, const struct appr_config *cfg, struct appr_error *err)
{
	struct oci_dump_check_report o;
	int rc;
	if (storage_has_blob_files(r->s)) {
		struct oci_dump *d;
		if (oci_dump_open(cfg->data_dir, &d, err) < 0)
			return -1;
		rc = oci_dump_check(d, cfg->upload_ttl, r->repair, say_oci, r, &o, err);
		oci_dump_close(d);
	} else {
		struct oci_store *os;
		if (oci_kv_open_content(cfg, r->s, &os, err) < 0)
			return -1;
		if (!os)
			return 0;
		rc = oci_kv_check(os, r->repair, say_oci, r, &o, err);
		oci_store_close(os);
	}
	if (rc < 0)
		return -1;
	r->rep->oci_checked = true;
	r->rep->oci_blobs = o.blobs;
	r->rep->oci_manifests = o.manifests;
	r->rep->oci_tags = o.tags;
	r->rep->oci_unused = o.unused;
	r->rep->problems += o.problems;
	r->rep->repaired += o.repaired;
	return 0;
}

static void found_debris(void *ctx, const char *what, const char *path)
{
	struct run *r = ctx;
	say(r, true, "%s %s", what, path);
	if (r->repair)
		r->rep->repaired++;
}

/* storage_each_package: one package's manifests and channels. */
static int check_package(void *ctx, const struct storage_package *p, const char *ns,
			 const char *name, struct arena *a, struct appr_error *err)
{
	struct run *r = ctx;
	(void)p;
	r->rep->packages++;
	if (check_manifests(r, ns, name, a, err) < 0 || check_channels(r, ns, name, a, err) < 0)
		return -1;
	return 0;
}

int fsck_run(struct storage *s, const struct appr_config *cfg, bool repair, fsck_say_fn sayfn,
	     void *ctx, struct fsck_report *rep, struct appr_error *err)
{
	struct run r = { .s = s, .repair = repair, .say = sayfn, .ctx = ctx, .rep = rep,
			 .seen = digest_map_new() };
	int rc = -1;

	memset(rep, 0, sizeof *rep);
	if (storage_each_package(s, check_package, &r, err) != 0)
		goto out;
	rep->debris_checked = storage_has_gc(s);
	if (rep->debris_checked) {
		struct storage_gc_report g = { .found = found_debris, .found_ctx = &r };
		if (storage_gc(s, !repair, &g, err) < 0)
			goto out;
	}
	if (check_oci(&r, cfg, err) < 0)
		goto out;
	rc = 0;
out:
	digest_map_free(r.seen, free);
	return rc;
}
