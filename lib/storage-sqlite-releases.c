/* storage-sqlite-releases.c - the embedded store's pushes, releases, manifests and deletes. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "semver.h"
#include "storage.h"
#include "storage-sqlite.h"

/* ---- releases ---- */

/* fsync (when configured) the temp file; *size is its length. It stays open (and
 * locked) until sq_writer_free. */
int sq_put_release(struct storage *s, const struct storage_push *p,
		   struct storage_blob_writer *bw, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	struct sq_writer *w = (struct sq_writer *)bw;
	char final[PATHBUF], dir[PATHBUF], now[32];
	char old[DIGEST_HEX_LEN + 1] = "", sha[DIGEST_HEX_LEN + 1] = "";
	bool helm = strcmp(p->media_type, "helm") == 0;
	const char *created = p->created_at ? p->created_at : now;   /* what rows record */
	unsigned char key[SEMVER_SORTKEY_MAX];
	sqlite3_int64 pkg_id, rel_id;
	sqlite3_stmt *st;
	struct stat sb;
	long long size = 0;
	bool stored, staged;
	int keylen, r, rc = -1;

	if (sq_blob_file_path(ss, p->digest, final, false) < 0 ||
	    sq_blob_file_path(ss, p->digest, dir, true) < 0) {
		fprintf(stderr, "appr: storage: put_release: bad digest\n");
		storage_err_internal(err);
		goto out;
	}
	keylen = semver_sortkey(p->release, key, sizeof key);
	if (keylen < 0) {
		storage_err_not_semver(err, p);
		goto out;
	}
	if (sq_writer_finish(ss, w, &size, err) < 0 || sq_reserve_check(ss, err) < 0)
		goto out;
	/* a blob not stored yet (as far as can be seen without the lock) gets its
	 * durable pub- name now, side by side with other pushes */
	staged = stat(final, &sb) < 0;
	if (staged && sq_blob_stage(ss, w->path, p->digest, err) < 0)
		goto out;
	util_utc_now(now);

	if (sq_tx_write(ss, err) < 0)
		goto out;
	r = sq_find_package(ss, p->ns, p->name, &pkg_id, err);
	if (r < 0)
		goto out;
	if (r == 0) {
		st = sq_stmt_get(ss, S_PKG_INSERT);
		sq_bind_text(ss, st, 1, p->ns);
		sq_bind_text(ss, st, 2, p->name);
		sq_bind_text(ss, st, 3, p->visibility ? p->visibility : "public");
		sq_bind_text(ss, st, 4, created);
		if (sq_run(ss, st, err) < 0)
			goto out;
		pkg_id = sqlite3_last_insert_rowid(ss->db);
	}
	r = sq_find_release(ss, pkg_id, p->release, &rel_id, err);
	if (r < 0)
		goto out;
	if (r == 0) {
		st = sq_stmt_get(ss, S_REL_INSERT);
		sq_bind_int(ss, st, 1, pkg_id);
		sq_bind_text(ss, st, 2, p->release);
		sq_bind_rc(ss, sqlite3_bind_blob(st, 3, key, keylen, SQLITE_TRANSIENT));
		sq_bind_text(ss, st, 4, created);
		if (sq_run(ss, st, err) < 0)
			goto out;
		rel_id = sqlite3_last_insert_rowid(ss->db);
	}

	st = sq_stmt_get(ss, S_MAN_DIGEST);
	sq_bind_int(ss, st, 1, rel_id);
	sq_bind_text(ss, st, 2, p->media_type);
	r = sq_step(ss, st, err);
	if (r < 0)
		goto out;
	if (r == 1) {
		sq_col_copy(old, sizeof old, st, 0);
		sqlite3_reset(st);
		if (!p->force) {
			storage_err_exists(err, p);
			goto out;
		}
	}

	/* A stored blob of this digest wins: same tar, and its gzip bytes are what
	 * is served, so the manifest records their size and their SHA-256 (as the
	 * manifests of that blob recorded it: unknown when none did). */
	r = stat(final, &sb);
	if (r < 0 && errno != ENOENT) {
		sq_sys_fail("stat", final, errno, err);
		goto out;
	}
	stored = r == 0;
	if (stored) {
		/* unreferenced: left by a push that died before its COMMIT, maybe torn
		 * (fsync = false): replaced by these bytes */
		r = sq_digest_used(ss, p->digest, err);
		if (r < 0)
			goto out;
		stored = r == 1;
	}
	if (stored) {
		size = sb.st_size;
		if (sq_recorded_sha256(ss, p->digest, sha, err) < 0)
			goto out;
	} else if (sq_digest_ok(p->blob_sha256)) {
		memcpy(sha, p->blob_sha256, sizeof sha);
	}
	st = sq_stmt_get(ss, S_MAN_UPSERT);
	sq_bind_int(ss, st, 1, rel_id);
	sq_bind_text(ss, st, 2, p->media_type);
	sq_bind_text(ss, st, 3, p->digest);
	sq_bind_int(ss, st, 4, size);
	sq_bind_text(ss, st, 5, p->metadata);
	sq_bind_text(ss, st, 6, created);
	sq_bind_text(ss, st, 7, sq_nonempty(sha));
	if (sq_run(ss, st, err) < 0 || sq_ns_bump(ss, p->ns, now, err) < 0)
		goto out;
	if (helm && sq_chart_put(ss, rel_id, p->chart, p->chart_problem, p->name, p->release,
				 sha, size, err) < 0)
		goto out;
	if (old[0] && strcmp(old, p->digest) != 0 && sq_drop_if_unreferenced(ss, old, err) < 0)
		goto out;
	if (!stored) {
		if (sq_blob_publish(ss, w->path, p->digest, dir, final, staged, err) < 0)
			goto out;
	}
	rc = sq_tx_commit(ss, err);              /* undoes everything itself on failure */
	if (rc == 0 && sq_blob_published_sync(ss, err) < 0)
		rc = -2;                      /* committed, not known durable: no abort */
out:
	if (rc == -1)
		sq_tx_abort(ss);                     /* no-op outside a transaction */
	if (ss->fo.left)
		w->path[0] = '\0';            /* its pub- name stays for the sweep */
	sq_writer_free(w);                       /* removes the temp (or pub-) file */
	return rc < 0 ? -1 : 0;
}

int sq_list_releases(struct storage *s, const char *ns, const char *name,
		     struct arena *a, const char ***out, size_t *n,
		     struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = sq_stmt_get(ss, S_RELEASES_OF);
	struct vec v = { 0 };
	int r;

	sq_bind_text(ss, st, 1, ns);
	sq_bind_text(ss, st, 2, name);
	while ((r = sq_step(ss, st, err)) == 1)
		sq_vec_push_str(a, &v, sq_col_str(a, st, 0));
	if (r < 0)
		return -1;
	if (v.n == 0)
		return storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, NULL, NULL);
	*out = v.items;
	*n = v.n;
	return 0;
}

/* Columns 2..6 of S_MAN_ONE / S_MANIFESTS: digest, size, metadata, created_at,
 * blob_sha256. */
static void fill_manifest(struct arena *a, sqlite3_stmt *st, struct storage_manifest *m)
{
	sq_col_copy(m->digest, sizeof m->digest, st, 2);
	m->size = sqlite3_column_int64(st, 3);
	m->metadata = sq_col_str(a, st, 4);
	sq_col_copy(m->created_at, sizeof m->created_at, st, 5);
	sq_col_copy(m->blob_sha256, sizeof m->blob_sha256, st, 6);
}

int sq_get_manifests(struct storage *s, const char *ns, const char *name,
		     const char *release, const char *media_type, struct arena *a,
		     struct storage_manifest **out, size_t *n, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id, rel_id = 0;
	sqlite3_stmt *st;
	struct vec v = { 0 };
	const char *pkg;
	int r, rc = -1;

	if (sq_tx_read(ss, err) < 0)
		return -1;
	r = sq_find_package(ss, ns, name, &pkg_id, err);
	if (r == 1 && release)
		r = sq_find_release(ss, pkg_id, release, &rel_id, err);
	if (r == 0)
		sq_not_found(ss, ns, name, release, NULL, err);
	if (r != 1)
		goto out;

	pkg = arena_printf(a, "%s/%s", ns, name);
	st = sq_stmt_get(ss, S_MANIFESTS);
	sq_bind_int(ss, st, 1, pkg_id);
	if (release)
		sq_bind_int(ss, st, 2, rel_id);
	sq_bind_text(ss, st, 3, media_type);
	while ((r = sq_step(ss, st, err)) == 1) {
		struct storage_manifest *m = sq_vec_push(a, &v, sizeof *m);
		m->package = pkg;
		m->release = sq_col_str(a, st, 0);
		m->media_type = sq_col_str(a, st, 1);
		fill_manifest(a, st, m);
	}
	if (r < 0)
		goto out;
	*out = v.items;
	*n = v.n;
	rc = 0;
out:
	sq_tx_read_end(ss);
	return rc;
}

int sq_get_manifest(struct storage *s, const char *ns, const char *name,
		    const char *release, const char *media_type, struct arena *a,
		    struct storage_manifest *out, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;
	sqlite3_int64 rel_id;
	struct vec chans = { 0 };
	int r, rc = -1;

	memset(out, 0, sizeof *out);
	if (sq_tx_read(ss, err) < 0)
		return -1;
	if (sq_find_manifest(ss, ns, name, release, media_type, &st, err) != 1)
		goto out;
	rel_id = sqlite3_column_int64(st, 1);
	out->package = arena_printf(a, "%s/%s", ns, name);
	out->release = arena_strdup(a, release);
	out->media_type = arena_strdup(a, media_type);
	fill_manifest(a, st, out);
	sqlite3_reset(st);

	st = sq_stmt_get(ss, S_CURRENT_OF);
	sq_bind_int(ss, st, 1, rel_id);
	while ((r = sq_step(ss, st, err)) == 1)
		sq_vec_push_str(a, &chans, sq_col_str(a, st, 0));
	if (r < 0)
		goto out;
	out->channels = chans.items;
	out->n_channels = chans.n;
	rc = 0;
out:
	sq_tx_read_end(ss);
	return rc;
}

/* Inside a write transaction: delete emptied channels of the package, then move
 * the current of every channel whose current is no longer a member to its
 * highest remaining release. */
int sq_channels_repair(struct sq_storage *ss, sqlite3_int64 pkg_id,
		       struct appr_error *err)
{
	sqlite3_stmt *st = sq_stmt_get(ss, S_CHAN_DROP_EMPTY);
	sq_bind_int(ss, st, 1, pkg_id);
	if (sq_run(ss, st, err) < 0)
		return -1;
	st = sq_stmt_get(ss, S_CHAN_FIX_CURRENT);
	sq_bind_int(ss, st, 1, pkg_id);
	return sq_run(ss, st, err);
}

static int delete_manifest_once(struct sq_storage *ss, const char *ns, const char *name,
				const char *release, const char *media_type,
				struct appr_error *err);

int sq_delete_manifest(struct storage *s, const char *ns, const char *name,
		       const char *release, const char *media_type,
		       struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	int rc = delete_manifest_once(ss, ns, name, release, media_type, err);
	if (rc < 0 && err->http == 507 && sq_reserve_release(ss))
		rc = delete_manifest_once(ss, ns, name, release, media_type, err);
	if (rc == 0 && !sq_reserve_present(ss))
		sq_reserve_make(ss);             /* when the delete made room */
	return rc;
}

static int delete_manifest_once(struct sq_storage *ss, const char *ns, const char *name,
				const char *release, const char *media_type,
				struct appr_error *err)
{
	char digest[DIGEST_HEX_LEN + 1], now[32];
	sqlite3_int64 pkg_id, rel_id;
	sqlite3_stmt *st;
	int r;

	util_utc_now(now);
	if (sq_tx_write(ss, err) < 0 ||
	    sq_find_manifest(ss, ns, name, release, media_type, &st, err) != 1)
		goto fail;
	pkg_id = sqlite3_column_int64(st, 0);
	rel_id = sqlite3_column_int64(st, 1);
	sq_col_copy(digest, sizeof digest, st, 2);
	sqlite3_reset(st);

	st = sq_stmt_get(ss, S_MAN_DELETE);
	sq_bind_int(ss, st, 1, rel_id);
	sq_bind_text(ss, st, 2, media_type);
	if (sq_run(ss, st, err) < 0)
		goto fail;
	if (strcmp(media_type, "helm") == 0 &&
	    sq_chart_put(ss, rel_id, NULL, NULL, NULL, NULL, NULL, 0, err) < 0)
		goto fail;
	st = sq_stmt_get(ss, S_MAN_ANY_OF_RELEASE);
	sq_bind_int(ss, st, 1, rel_id);
	r = sq_step(ss, st, err);
	sqlite3_reset(st);
	if (r < 0)
		goto fail;
	if (r == 0) {
		/* the release goes with its last manifest: out of every channel first */
		st = sq_stmt_get(ss, S_CHAN_RELEASE_LEAVE);
		sq_bind_int(ss, st, 1, rel_id);
		if (sq_run(ss, st, err) < 0 || sq_channels_repair(ss, pkg_id, err) < 0)
			goto fail;
		st = sq_stmt_get(ss, S_REL_DELETE);
		sq_bind_int(ss, st, 1, rel_id);
		if (sq_run(ss, st, err) < 0)
			goto fail;
		st = sq_stmt_get(ss, S_PKG_DELETE_IF_EMPTY);
		sq_bind_int(ss, st, 1, pkg_id);
		if (sq_run(ss, st, err) < 0)
			goto fail;
	}
	if (sq_ns_bump(ss, ns, now, err) < 0 || sq_drop_if_unreferenced(ss, digest, err) < 0)
		goto fail;
	return sq_tx_commit(ss, err);
fail:
	sq_tx_abort(ss);
	return -1;
}

/* Close the package row being filled in list_packages. */
