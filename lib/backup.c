/* backup.c - SQLite online backup of the database, then the blobs it references, as
 * one tar; and a data directory restored from one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sqlite3.h>

#include "backup.h"
#include "names.h"
#include "oci-dump.h"

#define CHUNK 65536
#define TRIES 3
#define PATHMAX 4096
#define MARKER_NAME "appr-backup.json"

struct blob_ref {
	char digest[DIGEST_HEX_LEN + 1];
	char sha256[DIGEST_HEX_LEN + 1];     /* "" when not recorded */
	long long size;
};

static int sql_fail(sqlite3 *db, const char *what, struct appr_error *err)
{
	return appr_err(err, 500, APPR_E_INTERNAL, "%s: %s", what,
			db ? sqlite3_errmsg(db) : "out of memory");
}

/* The blobs the database at path references (each once), and its manifest count. */
static int list_blobs(const char *path, struct blob_ref **out, size_t *n, unsigned long *manifests,
		      struct appr_error *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc = -1, r;
	*out = NULL;
	*n = 0;
	/* read-write: the database is our copy, and a writer's close removes the -wal
	 * and -shm files a reader would leave */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sql_fail(db, path, err);
		goto out;
	}
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM manifests", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sql_fail(db, "counting manifests", err);
		goto out;
	}
	*manifests = (unsigned long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "SELECT digest, max(size), max(blob_sha256) FROM manifests"
			       " GROUP BY digest ORDER BY digest", -1, &st, NULL) != SQLITE_OK) {
		sql_fail(db, "listing blobs", err);
		goto out;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 0);
		const char *sha = (const char *)sqlite3_column_text(st, 2);
		if (!d || !names_valid_digest(d)) {
			appr_err(err, 500, APPR_E_INTERNAL, "the database names a blob \"%.70s\"",
				 d ? d : "");
			goto out;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			*out = xrealloc(*out, cap * sizeof **out);
		}
		struct blob_ref *b = &(*out)[(*n)++];
		snprintf(b->digest, sizeof b->digest, "%s", d);
		snprintf(b->sha256, sizeof b->sha256, "%s", sha && names_valid_digest(sha) ? sha : "");
		b->size = sqlite3_column_int64(st, 1);
	}
	if (r != SQLITE_DONE) {
		sql_fail(db, "listing blobs", err);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* The OCI blobs the database at path has rows of (none before schema 005). */
static int list_oci(const char *path, struct oci_dump_blob **out, size_t *n,
		    struct appr_error *err)
{
	sqlite3 *db = NULL;
	int rc = -1;
	*out = NULL;
	*n = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		sql_fail(db, path, err);
	else
		rc = oci_dump_blob_list(db, out, n, err);
	sqlite3_close(db);
	return rc;
}

/* Snapshot the live database of data_dir into file to: one backup step over all
 * pages, so one read transaction (WAL: writers go on). */
static int snapshot(const struct appr_config *cfg, const char *to, struct appr_error *err)
{
	char from[PATHMAX];
	sqlite3 *src = NULL, *dst = NULL;
	int rc = -1;
	snprintf(from, sizeof from, "%s/" BACKUP_DB_NAME, cfg->data_dir);
	unlink(to);
	if (sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sql_fail(src, from, err);
		goto out;
	}
	sqlite3_busy_timeout(src, cfg->busy_timeout_ms > 60000 ? 60000 : (int)cfg->busy_timeout_ms);
	if (sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		sql_fail(dst, to, err);
		goto out;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		sql_fail(dst, "sqlite3_backup_init", err);
		goto out;
	}
	int r;
	for (int waited = 0;; waited += 10) {
		r = sqlite3_backup_step(b, -1);
		if ((r != SQLITE_BUSY && r != SQLITE_LOCKED) || waited > 60000)
			break;
		sqlite3_sleep(10);
	}
	sqlite3_backup_finish(b);
	if (r != SQLITE_DONE) {
		appr_err(err, 500, APPR_E_INTERNAL, "snapshot of %s: %s", from, sqlite3_errstr(r));
		goto out;
	}
	/* one self-contained file (the store sets WAL again when it opens it) */
	if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		sql_fail(dst, "snapshot: journal_mode", err);
		goto out;
	}
	rc = 0;
out:
	sqlite3_close(dst);
	sqlite3_close(src);
	return rc;
}

/* Copy file path (of want bytes) into the tar as member name: 1 when it vanished,
 * 0 when copied (sha256 of its bytes written), -1 on an error. */
static int copy_file(FILE *out, const char *path, const char *name, long long want,
		     char sha256[DIGEST_HEX_LEN + 1], unsigned char *buf, struct appr_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return appr_err(err, 500, APPR_E_INTERNAL, "%s: %s", path, strerror(errno));
	}
	if (fstat(fd, &sb) < 0 || (want >= 0 && sb.st_size != want)) {
		close(fd);
		return appr_err(err, 500, APPR_E_INTERNAL, "%s: %lld bytes, %lld expected "
				"(see appr-admin fsck)", path, (long long)sb.st_size, want);
	}
	struct digest_ctx *d = digest_new();
	long long left = sb.st_size;
	int rc = -1;
	if (archive_tar_header(out, name, sb.st_size, (long long)sb.st_mtime, err) < 0)
		goto out;
	while (left > 0) {
		ssize_t n = read(fd, buf, left < CHUNK ? (size_t)left : CHUNK);
		if (n <= 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "%s: %s", path,
				 n < 0 ? strerror(errno) : "shorter than it was");
			goto out;
		}
		digest_update(d, buf, (size_t)n);
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
			appr_err(err, 500, APPR_E_INTERNAL, "writing the backup: %s", strerror(errno));
			goto out;
		}
		left -= n;
	}
	if (archive_tar_pad(out, sb.st_size, err) < 0)
		goto out;
	rc = 0;
out:
	digest_final_hex(d, sha256);
	digest_free(d);
	close(fd);
	return rc;
}

/* One try: snapshot, then the tar. 1 when a blob vanished (try again). */
static int backup_once(struct storage *s, const struct appr_config *cfg, FILE *out,
		       const char *dbtmp, archive_progress_fn progress, void *pctx,
		       struct backup_report *rep, struct appr_error *err)
{
	struct blob_ref *blobs = NULL;
	struct oci_dump_blob *oci = NULL;
	unsigned char *buf = xmalloc(CHUNK);
	char path[PATHMAX], name[128], sha[DIGEST_HEX_LEN + 1];
	struct timespec t0, t1;
	size_t n = 0, n_oci = 0;
	int rc = -1, r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (snapshot(cfg, dbtmp, err) < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rep->snapshot_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (list_blobs(dbtmp, &blobs, &n, &rep->manifests, err) < 0 ||
	    list_oci(dbtmp, &oci, &n_oci, err) < 0)
		goto out;
	rep->blobs = rep->oci_blobs = 0;
	rep->bytes = rep->oci_bytes = 0;
	struct strbuf marker = { 0 };
	char now[32];
	util_utc_now(now);
	sb_printf(&marker, "{\"type\":\"appr-backup\",\"version\":%d,\"created_at\":\"%s\","
		  "\"manifests\":%lu,\"blobs\":%zu", n_oci ? BACKUP_VERSION : BACKUP_VERSION_APPR,
		  now, rep->manifests, n);
	if (n_oci)
		sb_printf(&marker, ",\"oci_blobs\":%zu", n_oci);
	sb_puts(&marker, "}\n");
	r = archive_tar_header(out, MARKER_NAME, (long long)marker.len, (long long)time(NULL), err);
	if (r == 0 && fwrite(marker.buf, 1, marker.len, out) != marker.len)
		r = appr_err(err, 500, APPR_E_INTERNAL, "writing the backup: %s", strerror(errno));
	if (r == 0)
		r = archive_tar_pad(out, (long long)marker.len, err);
	sb_free(&marker);
	if (r < 0)
		goto out;
	r = copy_file(out, dbtmp, BACKUP_DB_NAME, -1, sha, buf, err);
	if (r != 0) {
		if (r > 0)
			appr_err(err, 500, APPR_E_INTERNAL, "%s vanished", dbtmp);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct appr_error e = { 0 };
		if (storage_blob_path(s, blobs[i].digest, path, sizeof path, &e) < 0) {
			if (e.http == 404) {
				rc = 1;
				goto out;
			}
			*err = e;
			goto out;
		}
		snprintf(name, sizeof name, "blobs/sha256/%.2s/%s", blobs[i].digest, blobs[i].digest);
		r = copy_file(out, path, name, blobs[i].size, sha, buf, err);
		if (r != 0) {
			rc = r;
			goto out;
		}
		if (blobs[i].sha256[0] && strcmp(sha, blobs[i].sha256) != 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "blob %s: its bytes' SHA-256 is %s, %s "
				 "was recorded (see appr-admin fsck)", blobs[i].digest, sha,
				 blobs[i].sha256);
			goto out;
		}
		rep->blobs++;
		rep->bytes += blobs[i].size;
		if (progress)
			progress(pctx, "backup", i + 1, n, rep->bytes);
	}
	/* OCI blobs: their rows are in the snapshot; a file is put in place before its
	 * row commits and unlinked after its row is deleted, so one missing now was
	 * deleted after the snapshot: another snapshot */
	for (size_t i = 0; i < n_oci; i++) {
		snprintf(path, sizeof path, "%s/oci/sha256/%.2s/%s", cfg->data_dir,
			 oci[i].digest, oci[i].digest);
		snprintf(name, sizeof name, "oci/sha256/%.2s/%s", oci[i].digest, oci[i].digest);
		r = copy_file(out, path, name, oci[i].size, sha, buf, err);
		if (r != 0) {
			rc = r;
			goto out;
		}
		if (strcmp(sha, oci[i].digest) != 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "OCI blob %s: its bytes' SHA-256 is "
				 "%s (see appr-admin fsck)", oci[i].digest, sha);
			goto out;
		}
		rep->oci_blobs++;
		rep->oci_bytes += oci[i].size;
		if (progress)
			progress(pctx, "backup OCI", i + 1, n_oci, rep->oci_bytes);
	}
	if (archive_tar_end(out, err) < 0)
		goto out;
	rc = 0;
out:
	free(oci);
	free(blobs);
	free(buf);
	return rc;
}

int backup_write(struct storage *s, const struct appr_config *cfg, const char *path,
		 archive_progress_fn progress, void *pctx, struct backup_report *rep,
		 struct appr_error *err)
{
	char tmp[PATHMAX], dbtmp[PATHMAX];
	FILE *out = NULL;
	int rc = -1;

	memset(rep, 0, sizeof *rep);
	if (!storage_has_blob_files(s))
		return appr_err(err, 501, APPR_E_UNSUPPORTED, "backup is for the filesystem "
				"(SQLite) store; on %s, appr-admin export is the backup (a "
				"consistent copy needs what the store itself keeps: see README, "
				"Operating)", s->ops->name);
	if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp ||
	    snprintf(dbtmp, sizeof dbtmp, "%s.tmp-%ld.db", path, (long)getpid()) >= (int)sizeof dbtmp)
		return appr_err(err, 400, APPR_E_INVALID_USAGE, "file name too long");
	for (rep->tries = 1;; rep->tries++) {
		if (out)
			fclose(out);
		out = fopen(tmp, "wb");
		if (!out) {
			appr_err(err, 500, APPR_E_INTERNAL, "cannot create %s: %s", tmp,
				 strerror(errno));
			goto out;
		}
		int r = backup_once(s, cfg, out, dbtmp, progress, pctx, rep, err);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (rep->tries == TRIES) {
			appr_err(err, 500, APPR_E_INTERNAL, "blobs were deleted after each of %d "
				 "snapshots before they could be copied: try again when the store "
				 "is quieter", TRIES);
			goto out;
		}
	}
	if (fflush(out) != 0 || fsync(fileno(out)) < 0) {
		appr_err(err, 500, APPR_E_INTERNAL, "writing %s: %s", tmp, strerror(errno));
		goto out;
	}
	int c = fclose(out);
	out = NULL;
	if (c != 0 || rename(tmp, path) < 0) {
		appr_err(err, 500, APPR_E_INTERNAL, "writing %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (out)
		fclose(out);
	if (rc < 0)
		unlink(tmp);
	unlink(dbtmp);
	return rc;
}

/* ---- restore ---- */

/* 0 when dir is absent (created) or an empty directory; -1 with err otherwise. */
static int empty_dir(const char *dir, struct appr_error *err)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "%s: %s", dir, strerror(errno));
		int e = util_mkdir_p(dir);
		return e ? appr_err(err, 500, APPR_E_INTERNAL, "cannot create %s: %s", dir,
				    strerror(e)) : 0;
	}
	struct dirent *de;
	bool empty = true;
	while ((de = readdir(d)) && empty)
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty ? 0 : appr_err(err, 409, APPR_E_RESOURCE_IN_USE, "%s is not empty: "
				    "restore makes a new data directory", dir);
}

/* Copy size bytes of in into a new file path (mode 0640). */
static int extract(FILE *in, long long size, const char *path, unsigned char *buf,
		   struct appr_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return appr_err(err, 500, APPR_E_INTERNAL, "cannot create %s: %s", path,
				strerror(errno));
	int rc = -1;
	while (size > 0) {
		size_t want = size < CHUNK ? (size_t)size : CHUNK;
		size_t n = fread(buf, 1, want, in);
		if (n != want) {
			appr_err(err, 400, APPR_E_INVALID_USAGE, "the backup is cut short");
			goto out;
		}
		if (write(fd, buf, n) != (ssize_t)n) {
			appr_err(err, 500, APPR_E_INTERNAL, "writing %s: %s", path, strerror(errno));
			goto out;
		}
		size -= (long long)n;
	}
	rc = fsync(fd) < 0 ? appr_err(err, 500, APPR_E_INTERNAL, "writing %s: %s", path,
				      strerror(errno)) : 0;
out:
	close(fd);
	return rc;
}

/* The restored directory's check: quick_check, then each manifest's blob. */
static int check_restored(const char *dir, struct backup_report *rep, unsigned char *buf,
			  struct appr_error *err)
{
	char path[PATHMAX];
	struct blob_ref *blobs = NULL;
	struct oci_dump_blob *oci = NULL;
	size_t n = 0, n_oci = 0;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	snprintf(path, sizeof path, "%s/" BACKUP_DB_NAME, dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sql_fail(db, path, err);
		goto out;
	}
	const char *ok = (const char *)sqlite3_column_text(st, 0);
	if (!ok || strcmp(ok, "ok") != 0) {
		appr_err(err, 500, APPR_E_INTERNAL, "%s: quick_check: %.100s", path, ok ? ok : "");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	sqlite3_close(db);
	db = NULL;
	if (list_blobs(path, &blobs, &n, &rep->manifests, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct stat sb;
		snprintf(path, sizeof path, "%s/blobs/sha256/%.2s/%s", dir, blobs[i].digest,
			 blobs[i].digest);
		if (stat(path, &sb) < 0 || sb.st_size != blobs[i].size) {
			appr_err(err, 500, APPR_E_INTERNAL, "blob %s is %s", blobs[i].digest,
				 errno == ENOENT ? "missing" : "of another size");
			goto out;
		}
	}
	snprintf(path, sizeof path, "%s/" BACKUP_DB_NAME, dir);
	if (list_oci(path, &oci, &n_oci, err) < 0)
		goto out;
	for (size_t i = 0; i < n_oci; i++) {
		struct stat sb;
		snprintf(path, sizeof path, "%s/oci/sha256/%.2s/%s", dir, oci[i].digest,
			 oci[i].digest);
		errno = 0;
		if (stat(path, &sb) < 0 || sb.st_size != oci[i].size) {
			appr_err(err, 500, APPR_E_INTERNAL, "OCI blob %s is %s", oci[i].digest,
				 errno == ENOENT ? "missing" : "of another size");
			goto out;
		}
	}
	(void)buf;
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(oci);
	free(blobs);
	return rc;
}

/* Whether member name is a blob file under prefix: "<prefix>XX/<64 hex>", XX the
 * first two of the hex. */
static bool sharded(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(name, prefix, n) == 0 && strlen(name) == n + 3 + DIGEST_HEX_LEN &&
	       name[n + 2] == '/' && strncmp(name + n, name + n + 3, 2) == 0 &&
	       names_valid_digest(name + n + 3);
}

int backup_restore(const char *path, const char *dir, archive_progress_fn progress,
		   void *pctx, struct backup_report *rep, struct appr_error *err)
{
	char name[101], out[PATHMAX], sub[PATHMAX];
	unsigned char *buf = NULL;
	long long size, want_blobs = -1, want_oci = 0;
	FILE *in;
	int rc = -1, r;

	memset(rep, 0, sizeof *rep);
	in = fopen(path, "rb");
	if (!in)
		return appr_err(err, 400, APPR_E_INVALID_USAGE, "cannot open %s: %s", path,
				strerror(errno));
	buf = xmalloc(CHUNK);
	/* the marker first: a backup of this format */
	r = archive_tar_next(in, name, &size, err);
	if (r <= 0 || strcmp(name, MARKER_NAME) != 0 || size > 4096) {
		if (r >= 0)
			appr_err(err, 400, APPR_E_INVALID_USAGE, "%s is not an appr-admin backup "
				 "(no " MARKER_NAME " first)", path);
		goto out;
	}
	char text[4097];
	if (fread(text, 1, (size_t)size, in) != (size_t)size ||
	    archive_tar_skip_pad(in, size, err) < 0) {
		appr_err(err, 400, APPR_E_INVALID_USAGE, "the backup is cut short");
		goto out;
	}
	text[size] = '\0';
	json_object *m = json_tokener_parse(text), *v;
	int version = m && json_object_object_get_ex(m, "version", &v) ? json_object_get_int(v) : -1;
	if (m && json_object_object_get_ex(m, "blobs", &v))
		want_blobs = json_object_get_int64(v);
	if (m && json_object_object_get_ex(m, "oci_blobs", &v))
		want_oci = json_object_get_int64(v);
	json_object_put(m);
	if (version != BACKUP_VERSION && version != BACKUP_VERSION_APPR) {
		appr_err(err, 400, APPR_E_INVALID_USAGE, "backup version %d, this program reads "
			 "versions %d and %d", version, BACKUP_VERSION_APPR, BACKUP_VERSION);
		goto out;
	}
	if (empty_dir(dir, err) < 0)
		goto out;
	for (;;) {
		r = archive_tar_next(in, name, &size, err);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (strcmp(name, BACKUP_DB_NAME) == 0 && rep->blobs == 0) {
			snprintf(out, sizeof out, "%s/" BACKUP_DB_NAME, dir);
		} else if (sharded(name, "blobs/sha256/") ||
			   (version >= 2 && sharded(name, "oci/sha256/"))) {
			bool oci = strncmp(name, "oci/", 4) == 0;
			snprintf(sub, sizeof sub, "%s/%.*s", dir, (int)(strrchr(name, '/') - name), name);
			int e = util_mkdir_p(sub);
			if (e) {
				appr_err(err, 500, APPR_E_INTERNAL, "cannot create %s: %s", sub,
					 strerror(e));
				goto out;
			}
			snprintf(out, sizeof out, "%s/%s", dir, name);
			if (oci) {
				rep->oci_blobs++;
				rep->oci_bytes += size;
			} else {
				rep->blobs++;
				rep->bytes += size;
			}
		} else {
			appr_err(err, 400, APPR_E_INVALID_USAGE, "the backup holds an unexpected "
				 "member %.100s", name);
			goto out;
		}
		if (extract(in, size, out, buf, err) < 0 || archive_tar_skip_pad(in, size, err) < 0)
			goto out;
		if (progress && want_blobs > 0 && rep->blobs)
			progress(pctx, "restore", rep->blobs, (unsigned long)want_blobs, rep->bytes);
	}
	if ((want_blobs >= 0 && rep->blobs != (unsigned long)want_blobs) ||
	    rep->oci_blobs != (unsigned long)want_oci) {
		appr_err(err, 400, APPR_E_INVALID_USAGE, "the backup holds %lu blobs and %lu OCI "
			 "blobs, its marker says %lld and %lld", rep->blobs, rep->oci_blobs,
			 want_blobs, want_oci);
		goto out;
	}
	rc = check_restored(dir, rep, buf, err);
out:
	free(buf);
	fclose(in);
	return rc;
}
