/* oci-sqlite.c - the OCI store of the filesystem store (oci-store.h's table,
 * opened by oci_sqlite_open): its own connection to data_dir/appr.db
 * (schema/005-oci.sql), blob files data_dir/oci/sha256/<2>/<64>, upload sessions
 * data_dir/oci/uploads/<uuid>.
 *
 * A blob file is put in place (temp file, fsync when configured, rename, directory
 * fsync) before the transaction that records it commits: a file no row names is
 * debris a sweep may remove, a row never names a missing file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "oci-store.h"
#include "storage.h"

enum {
	Q_REPO_KNOWN,
	Q_BLOB_STAT,
	Q_BLOB_ADD,
	Q_LINK_ADD,
	Q_LINK_DEL,
	Q_BLOB_USED,
	Q_BLOB_DEL,
	Q_UP_ADD,
	Q_UP_GET,
	Q_UP_DEL,
	Q_MF_ADD,
	Q_REF_ADD,
	Q_MF_HAS,
	Q_TAG_SET,
	Q_MF_BY_DIGEST,
	Q_MF_BY_TAG,
	Q_MF_DEL,
	Q_TAG_DEL,
	Q_TAGS,
	Q_REPOS,
	Q_REFERRERS,
	Q_CHARTS,
	Q_CHART_VERSION,
	Q_TAG_OF,
	Q_COUNT
};

/* The Helm view (oci-store.h): the helm releases of package (?NS, ?NAME) with a valid
 * chart and a known .tgz SHA-256, and a tag of at most 128 bytes. */
#define VIEW_JOINS \
	" FROM packages p JOIN releases r ON r.package_id = p.id" \
	" JOIN manifests m ON m.release_id = r.id AND m.media_type = 'helm'" \
	" JOIN charts c ON c.release_id = r.id"
#define VIEW_WHERE(NS, NAME) \
	" WHERE p.namespace = " NS " AND p.name = " NAME " AND c.chart IS NOT NULL" \
	" AND m.blob_sha256 IS NOT NULL AND length(r.version) <= 128"
#define VIEW_FROM(NS, NAME) VIEW_JOINS VIEW_WHERE(NS, NAME)
/* the releases with their artifact as stored (schema/006-helm-oci.sql), if any */
#define VIEW_ROWS(NS, NAME) \
	"SELECT r.version, m.digest, m.size, m.blob_sha256, c.chart, h.config, h.manifest" \
	VIEW_JOINS " LEFT JOIN helm_oci h ON h.release_id = r.id" VIEW_WHERE(NS, NAME)

static const char *const sql[Q_COUNT] = {
	[Q_REPO_KNOWN] = "SELECT EXISTS (SELECT 1 FROM oci_blob_links WHERE repo = ?1)"
			 " OR EXISTS (SELECT 1 FROM oci_manifests WHERE repo = ?1)"
			 " OR EXISTS (SELECT 1 FROM oci_uploads WHERE repo = ?1)"
			 " OR EXISTS (SELECT 1" VIEW_FROM("?2", "?3") ")",
	[Q_BLOB_STAT] = "SELECT size FROM oci_blobs WHERE digest = ?2 AND"
			" (EXISTS (SELECT 1 FROM oci_blob_links WHERE repo = ?1 AND digest = ?2)"
			" OR EXISTS (SELECT 1 FROM oci_manifest_refs WHERE repo = ?1 AND digest = ?2))",
	[Q_BLOB_ADD] = "INSERT OR IGNORE INTO oci_blobs (digest, size) VALUES (?1, ?2)",
	[Q_LINK_ADD] = "INSERT OR IGNORE INTO oci_blob_links (repo, digest) VALUES (?1, ?2)",
	[Q_LINK_DEL] = "DELETE FROM oci_blob_links WHERE repo = ?1 AND digest = ?2",
	[Q_BLOB_USED] = "SELECT EXISTS (SELECT 1 FROM oci_blob_links WHERE digest = ?1)"
			" OR EXISTS (SELECT 1 FROM oci_manifest_refs WHERE digest = ?1)",
	[Q_BLOB_DEL] = "DELETE FROM oci_blobs WHERE digest = ?1",
	[Q_UP_ADD] = "INSERT INTO oci_uploads (uuid, repo, created) VALUES (?1, ?2, ?3)",
	[Q_UP_GET] = "SELECT 1 FROM oci_uploads WHERE uuid = ?1 AND repo = ?2",
	[Q_UP_DEL] = "DELETE FROM oci_uploads WHERE uuid = ?1",
	[Q_MF_ADD] = "INSERT OR IGNORE INTO oci_manifests (repo, digest, media_type,"
		     " artifact_type, subject, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[Q_REF_ADD] = "INSERT OR IGNORE INTO oci_manifest_refs (repo, manifest, digest)"
		      " VALUES (?1, ?2, ?3)",
	[Q_MF_HAS] = "SELECT 1 FROM oci_manifests WHERE repo = ?1 AND digest = ?2",
	[Q_TAG_SET] = "INSERT INTO oci_tags (repo, tag, digest) VALUES (?1, ?2, ?3)"
		      " ON CONFLICT (repo, tag) DO UPDATE SET digest = excluded.digest",
	[Q_MF_BY_DIGEST] = "SELECT digest, media_type, body FROM oci_manifests"
			   " WHERE repo = ?1 AND digest = ?2",
	[Q_MF_BY_TAG] = "SELECT m.digest, m.media_type, m.body FROM oci_tags t JOIN oci_manifests m"
			" ON m.repo = t.repo AND m.digest = t.digest WHERE t.repo = ?1 AND t.tag = ?2",
	[Q_MF_DEL] = "DELETE FROM oci_manifests WHERE repo = ?1 AND digest = ?2",
	[Q_TAG_DEL] = "DELETE FROM oci_tags WHERE repo = ?1 AND tag = ?2",
	[Q_TAGS] = "SELECT tag FROM oci_tags WHERE repo = ?1 AND tag > ?2 UNION"
		   " SELECT replace(r.version, '+', '_')" VIEW_FROM("?3", "?4")
		   " AND replace(r.version, '+', '_') > ?2 ORDER BY 1 LIMIT ?5",
	[Q_REFERRERS] = "SELECT digest, media_type, body, artifact_type FROM oci_manifests"
			" WHERE repo = ?1 AND subject = ?2 ORDER BY digest",
	[Q_REPOS] = "SELECT repo FROM oci_blob_links WHERE repo > ?1 UNION"
		    " SELECT repo FROM oci_manifests WHERE repo > ?1 UNION"
		    " SELECT q.namespace || '/' || q.name FROM packages q"
		    " WHERE q.namespace || '/' || q.name > ?1 AND EXISTS (SELECT 1"
		    VIEW_FROM("q.namespace", "q.name") ") ORDER BY 1 LIMIT ?2",
	[Q_CHARTS] = VIEW_ROWS("?1", "?2") " ORDER BY r.sortkey",
	[Q_CHART_VERSION] = VIEW_ROWS("?1", "?2") " AND r.version = ?3",
	[Q_TAG_OF] = "SELECT tag FROM oci_tags WHERE repo = ?1 AND digest = ?2 ORDER BY tag LIMIT 1",
};

struct ocs {
	struct oci_store base;           /* first */
	const struct appr_config *cfg;
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	char blob_dir[PATH_MAX / 2];     /* data_dir/oci/sha256 */
	char up_dir[PATH_MAX / 2];       /* data_dir/oci/uploads */
	unsigned char dir_durable[32];   /* bit XX: blob_dir/XX has a durable name (blob_dir
					  * fsync'ed since this process first put a blob
					  * there: it may have been made just now) */
};

/* SQLite said rc: busy is a 409, anything else a 500 with a line on stderr. */
static int db_fail(struct ocs *s, int rc, const char *what, struct appr_error *err)
{
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return appr_err(err, 409, APPR_E_RESOURCE_IN_USE,
				"the store is busy: try again");
	fprintf(stderr, "appr: oci: %s: %s\n", what, sqlite3_errmsg(s->db));
	return appr_err(err, 500, APPR_E_INTERNAL, "storage error");
}

static int sys_fail(const char *what, const char *path, int e, struct appr_error *err)
{
	fprintf(stderr, "appr: oci: %s %s: %s\n", what, path, strerror(e));
	if (e == ENOSPC || e == EDQUOT)
		return appr_err(err, 507, APPR_E_INSUFFICIENT_STORAGE, "the disk is full");
	return appr_err(err, 500, APPR_E_INTERNAL, "storage error");
}

/* Statement i, reset and unbound, ready to bind. */
static sqlite3_stmt *stmt(struct ocs *s, int i)
{
	sqlite3_reset(s->q[i]);
	sqlite3_clear_bindings(s->q[i]);
	return s->q[i];
}

static void bind_text(sqlite3_stmt *q, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, i);
}

/* Bind repo "ns/name" as its two parts at i and i + 1 (transient copies). */
static void bind_repo(sqlite3_stmt *q, int i, const char *repo)
{
	const char *slash = strchr(repo, '/');
	size_t k = slash ? (size_t)(slash - repo) : strlen(repo);
	sqlite3_bind_text(q, i, repo, (int)k, SQLITE_STATIC);
	sqlite3_bind_text(q, i + 1, slash ? slash + 1 : "", -1, SQLITE_STATIC);
}

/* Step a statement that returns no row (or whose rows are ignored). */
static int run(struct ocs *s, sqlite3_stmt *q, const char *what, struct appr_error *err)
{
	int rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_fail(s, rc, what, err);
	return 0;
}

/* Step a statement whose first row's first column is an integer: 1 row (*v set),
 * 0 none, -1 error. */
static int one_int(struct ocs *s, sqlite3_stmt *q, long long *v, const char *what,
		   struct appr_error *err)
{
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		if (v)
			*v = sqlite3_column_int64(q, 0);
		sqlite3_reset(q);
		return 1;
	}
	sqlite3_reset(q);
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(s, rc, what, err);
}

static int exec(struct ocs *s, const char *sq, struct appr_error *err)
{
	int rc = sqlite3_exec(s->db, sq, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : db_fail(s, rc, sq, err);
}

static void rollback(struct ocs *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static void blob_file(const struct ocs *s, const char *hex, char *path)
{
	snprintf(path, PATH_MAX, "%s/%.2s/%s", s->blob_dir, hex, hex);
}

static void upload_file(const struct ocs *s, const char *uuid, char *path)
{
	snprintf(path, PATH_MAX, "%s/%s", s->up_dir, uuid);
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int rc = fsync(fd) < 0 ? errno : 0;
	close(fd);
	return rc;
}

/* Remove upload sessions idle for upload_ttl seconds (files and rows). */
static void sweep_uploads(struct ocs *s)
{
	DIR *d = opendir(s->up_dir);
	struct dirent *de;
	time_t limit = time(NULL) - (time_t)s->cfg->upload_ttl;
	char path[PATH_MAX];
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		upload_file(s, de->d_name, path);
		if (stat(path, &st) < 0 || st.st_mtime >= limit)
			continue;
		sqlite3_stmt *q = stmt(s, Q_UP_DEL);
		bind_text(q, 1, de->d_name);
		if (run(s, q, "sweep uploads", NULL) == 0)
			unlink(path);
	}
	closedir(d);
}

static const struct oci_store_ops sq_ops;
static void sq_store_close(struct oci_store *os);

int oci_sqlite_open(const struct appr_config *cfg, struct storage *st, struct oci_store **out,
		    struct appr_error *err)
{
	struct ocs *s = xcalloc(1, sizeof *s);
	char path[PATH_MAX];
	int rc, e;
	*out = NULL;
	s->base.ops = &sq_ops;
	s->base.cfg = cfg;
	s->base.st = st;
	s->cfg = cfg;
	if (strlen(cfg->data_dir) > PATH_MAX / 2 - 32) {
		free(s);
		return appr_err(err, 500, APPR_E_INTERNAL, "data_dir is too long");
	}
	snprintf(s->blob_dir, sizeof s->blob_dir, "%s/oci/sha256", cfg->data_dir);
	snprintf(s->up_dir, sizeof s->up_dir, "%s/oci/uploads", cfg->data_dir);
	if ((e = util_mkdir_p(s->blob_dir)) || (e = util_mkdir_p(s->up_dir))) {
		sys_fail("mkdir", s->blob_dir, e, err);
		goto fail;
	}
	snprintf(path, sizeof path, "%s/appr.db", cfg->data_dir);
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		db_fail(s, rc, "open", err);
		goto fail;
	}
	sqlite3_busy_timeout(s->db, cfg->busy_timeout_ms > INT_MAX
				    ? INT_MAX : (int)cfg->busy_timeout_ms);
	if (exec(s, cfg->fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
		 err) < 0 || exec(s, "PRAGMA foreign_keys=ON", err) < 0)
		goto fail;
	for (int i = 0; i < Q_COUNT; i++) {
		rc = sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i],
					NULL);
		if (rc != SQLITE_OK) {
			db_fail(s, rc, sql[i], err);
			goto fail;
		}
	}
	sweep_uploads(s);
	*out = &s->base;
	return 0;
fail:
	sq_store_close(&s->base);
	return -1;
}

static void sq_store_close(struct oci_store *os)
{
	struct ocs *s = (struct ocs *)os;
	if (!s)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->q[i]);
	sqlite3_close_v2(s->db);
	free(s);
}

static int sq_repo_known(struct oci_store *os, const char *repo, bool *known, struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	long long v = 0;
	sqlite3_stmt *q = stmt(s, Q_REPO_KNOWN);
	bind_text(q, 1, repo);
	bind_repo(q, 2, repo);
	if (one_int(s, q, &v, "repo known", err) < 0)
		return -1;
	*known = v != 0;
	return 0;
}

static int sq_blob_stat(struct oci_store *os, const char *repo, const char *hex, long long *size,
			struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	sqlite3_stmt *q = stmt(s, Q_BLOB_STAT);
	bind_text(q, 1, repo);
	bind_text(q, 2, hex);
	int rc = one_int(s, q, size, "blob stat", err);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return appr_err(err, 404, OCI_E_BLOB_UNKNOWN, "blob sha256:%s unknown to %.140s",
				hex, repo);
	return 0;
}

/* ---- reading a blob: its file ---- */

struct sq_reader {
	struct oci_blob_reader base;     /* first */
	int fd;
	char path[PATH_MAX];
};

static int sq_blob_open(struct oci_store *os, const char *hex, long long from,
			struct oci_blob_reader **out, struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	struct sq_reader *r = xcalloc(1, sizeof *r);
	r->base.s = os;
	blob_file(s, hex, r->path);
	r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (r->fd < 0 || fstat(r->fd, &sb) < 0 ||
	    (from > 0 && lseek(r->fd, (off_t)from, SEEK_SET) < 0)) {
		int e = errno;
		fprintf(stderr, "appr: oci: blob %s: %s\n", r->path, strerror(e));
		if (r->fd >= 0)
			close(r->fd);
		free(r);
		return appr_err(err, 500, APPR_E_INTERNAL, "blob sha256:%s cannot be read", hex);
	}
	r->base.size = (long long)sb.st_size;
	*out = &r->base;
	return 0;
}

static long sq_blob_read(struct oci_blob_reader *br, void *buf, size_t len)
{
	struct sq_reader *r = (struct sq_reader *)br;
	for (;;) {
		ssize_t n = read(r->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fprintf(stderr, "appr: oci: read %s: %s\n", r->path, strerror(errno));
		return (long)n;
	}
}

static void sq_blob_close(struct oci_blob_reader *br)
{
	struct sq_reader *r = (struct sq_reader *)br;
	close(r->fd);
	free(r);
}

static int sq_blob_delete(struct oci_store *os, const char *repo, const char *hex,
		    struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	sqlite3_stmt *q;
	long long used = 1;
	char path[PATH_MAX], trash[PATH_MAX + 32];
	bool moved = false;
	if (exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	q = stmt(s, Q_LINK_DEL);
	bind_text(q, 1, repo);
	bind_text(q, 2, hex);
	if (run(s, q, "blob unlink", err) < 0)
		goto fail;
	if (sqlite3_changes(s->db) == 0) {
		appr_err(err, 404, OCI_E_BLOB_UNKNOWN, "blob sha256:%s unknown to %.140s", hex,
			 repo);
		goto fail;
	}
	q = stmt(s, Q_BLOB_USED);
	bind_text(q, 1, hex);
	if (one_int(s, q, &used, "blob used", err) < 0)
		goto fail;
	/* The file leaves its name before the COMMIT, under the write lock, where an
	 * upload finds the name taken or free (oci_upload_finish): after the COMMIT it
	 * could already be counting on this file. Unlinked after the COMMIT, put back
	 * when the transaction fails. */
	if (!used) {
		q = stmt(s, Q_BLOB_DEL);
		bind_text(q, 1, hex);
		if (run(s, q, "blob delete", err) < 0)
			goto fail;
		blob_file(s, hex, path);
		snprintf(trash, sizeof trash, "%s.del.%ld", path, (long)getpid());
		if (rename(path, trash) == 0)
			moved = true;
		else if (errno != ENOENT) {
			sys_fail("rename", path, errno, err);
			goto fail;
		}
	}
	if (exec(s, "COMMIT", err) < 0)
		goto fail;
	if (moved && unlink(trash) < 0 && errno != ENOENT)
		fprintf(stderr, "appr: oci: unlink %s: %s\n", trash, strerror(errno));
	return 0;
fail:
	rollback(s);
	if (moved && rename(trash, path) < 0)
		fprintf(stderr, "appr: oci: put back %s: %s\n", path, strerror(errno));
	return -1;
}

static int sq_upload_new(struct oci_store *os, const char *repo, char uuid[OCI_UUID_LEN + 1],
		   struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	unsigned char r[OCI_UUID_LEN / 2];
	char path[PATH_MAX];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return sys_fail("getrandom", "", errno, err);
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(uuid + 2 * i, 3, "%02x", r[i]);
	upload_file(s, uuid, path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return sys_fail("create", path, errno, err);
	close(fd);
	sqlite3_stmt *q = stmt(s, Q_UP_ADD);
	bind_text(q, 1, uuid);
	bind_text(q, 2, repo);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)time(NULL));
	if (run(s, q, "upload new", err) < 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

/* 0 when upload uuid belongs to repo, else -1 with 404 BLOB_UPLOAD_UNKNOWN. */
static int upload_check(struct ocs *s, const char *repo, const char *uuid,
			struct appr_error *err)
{
	size_t n = strlen(uuid);
	if (n == OCI_UUID_LEN && strspn(uuid, "0123456789abcdef") == n) {
		sqlite3_stmt *q = stmt(s, Q_UP_GET);
		bind_text(q, 1, uuid);
		bind_text(q, 2, repo);
		int rc = one_int(s, q, NULL, "upload get", err);
		if (rc < 0)
			return -1;
		if (rc > 0)
			return 0;
	}
	return appr_err(err, 404, OCI_E_BLOB_UPLOAD_UNKNOWN, "no upload %.40s in %.140s", uuid,
			repo);
}

/* ---- appending to an upload: its file ---- */

/* Take the session file's lock (fd open on path) for one request that appends to it
 * or finishes it: 0; or -1 with 416 when another request holds it (two PATCHes at
 * once would interleave their bytes, a PATCH beside a finish would append to the
 * published blob), 404 when the file was finished, cancelled or swept since fd was
 * opened. The lock goes with fd (or the process). */
static int upload_lock(int fd, const char *path, const char *uuid, struct appr_error *err)
{
	struct stat a, b;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return appr_err(err, 416, OCI_E_BLOB_UPLOAD_INVALID,
					"upload %s is being written by another request", uuid);
		return sys_fail("lock", path, errno, err);
	}
	if (fstat(fd, &a) < 0)
		return sys_fail("stat", path, errno, err);
	if (stat(path, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return appr_err(err, 404, OCI_E_BLOB_UPLOAD_UNKNOWN, "no upload %s", uuid);
	return 0;
}

struct sq_writer {
	struct oci_upload_writer base;   /* first */
	int fd;
	char path[PATH_MAX];
};

static int sq_upload_append(struct oci_store *os, const char *repo, const char *uuid,
			    struct oci_upload_writer **out, struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	struct stat st;
	if (upload_check(s, repo, uuid, err) < 0)
		return -1;
	struct sq_writer *w = xcalloc(1, sizeof *w);
	w->base.s = os;
	upload_file(s, uuid, w->path);
	w->fd = open(w->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (w->fd < 0) {
		if (errno == ENOENT)        /* swept meanwhile */
			appr_err(err, 404, OCI_E_BLOB_UPLOAD_UNKNOWN, "no upload %s", uuid);
		else
			sys_fail("open", w->path, errno, err);
		free(w);
		return -1;
	}
	if (upload_lock(w->fd, w->path, uuid, err) < 0 ||
	    (fstat(w->fd, &st) < 0 && sys_fail("stat", w->path, errno, err))) {
		close(w->fd);
		free(w);
		return -1;
	}
	w->base.size = st.st_size;
	*out = &w->base;
	return 0;
}

static int sq_upload_write(struct oci_upload_writer *bw, const void *data, size_t len,
			   struct appr_error *err)
{
	struct sq_writer *w = (struct sq_writer *)bw;
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return sys_fail("write", w->path, errno, err);
		p += n;
		len -= (size_t)n;
		w->base.size += n;
	}
	return 0;
}

/* What was written is in the file already (and fsynced at the upload's end). */
static int sq_upload_end(struct oci_upload_writer *bw, bool keep, struct appr_error *err)
{
	struct sq_writer *w = (struct sq_writer *)bw;
	int rc = 0;
	(void)keep;
	if (close(w->fd) < 0)
		rc = sys_fail("close", w->path, errno, err);
	free(w);
	return rc;
}

/* Drop the session row and file of uuid. */
static void upload_drop(struct ocs *s, const char *uuid)
{
	char path[PATH_MAX];
	sqlite3_stmt *q = stmt(s, Q_UP_DEL);
	bind_text(q, 1, uuid);
	run(s, q, "upload delete", NULL);
	upload_file(s, uuid, path);
	unlink(path);
}

/* The SHA-256 of file path into hex and its size; 0 or an errno. */
static int hash_file(const char *path, bool do_fsync, char *hex, long long *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), e = 0;
	char *buf;
	if (fd < 0)
		return errno;
	buf = xmalloc(65536);
	struct digest_ctx *d = digest_new();
	*size = 0;
	for (;;) {
		ssize_t n = read(fd, buf, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			break;
		}
		if (n == 0)
			break;
		digest_update(d, buf, (size_t)n);
		*size += n;
	}
	digest_final_hex(d, hex);
	digest_free(d);
	free(buf);
	if (!e && do_fsync && fsync(fd) < 0)
		e = errno;
	close(fd);
	return e;
}

/* Inside a write transaction, where a delete takes a blob's name away
 * (oci_blob_delete): give the bytes in src the name of blob hex (in directory dir)
 * unless the same bytes have it already (*taken false: src stays, for the caller to
 * remove after the COMMIT), and record the blob (size bytes) linked to repo. 0 or -1;
 * a name taken by a transaction that then fails is debris for a sweep. */
static int blob_place(struct ocs *s, const char *repo, const char *hex,
		      long long size, const char *src, const char *dir, bool *taken,
		      struct appr_error *err)
{
	char dst[PATH_MAX];
	int e;
	blob_file(s, hex, dst);
	*taken = access(dst, F_OK) != 0;
	if (*taken) {
		int xx = (int)strtol((char[3]){ hex[0], hex[1], '\0' }, NULL, 16) & 0xff;
		if (rename(src, dst) < 0)
			return sys_fail("rename", dst, errno, err);
		if (s->cfg->fsync && (e = fsync_dir(dir)))
			return sys_fail("fsync", dir, e, err);
		if (s->cfg->fsync && !(s->dir_durable[xx / 8] & (1u << (xx % 8)))) {
			if ((e = fsync_dir(s->blob_dir)))
				return sys_fail("fsync", s->blob_dir, e, err);
			s->dir_durable[xx / 8] |= (unsigned char)(1u << (xx % 8));
		}
	}
	sqlite3_stmt *q = stmt(s, Q_BLOB_ADD);
	bind_text(q, 1, hex);
	sqlite3_bind_int64(q, 2, size);
	if (run(s, q, "blob add", err) < 0)
		return -1;
	q = stmt(s, Q_LINK_ADD);
	bind_text(q, 1, repo);
	bind_text(q, 2, hex);
	return run(s, q, "link add", err);
}

/* sq_upload_finish with the session file's lock held. */
static int upload_finish_locked(struct ocs *s, const char *repo, const char *uuid,
				const char *hex, const char *path, struct appr_error *err)
{
	char got[DIGEST_HEX_LEN + 1], dir[PATH_MAX];
	long long size = 0;
	bool taken;
	int e;
	if ((e = hash_file(path, s->cfg->fsync, got, &size))) {
		sys_fail("read", path, e, err);
		upload_drop(s, uuid);
		return -1;
	}
	if (strcmp(got, hex) != 0) {
		upload_drop(s, uuid);
		return appr_err(err, 400, OCI_E_DIGEST_INVALID,
				"the upload's bytes have digest sha256:%s, not sha256:%s", got, hex);
	}
	snprintf(dir, sizeof dir, "%s/%.2s", s->blob_dir, hex);
	if ((e = util_mkdir_p(dir))) {
		upload_drop(s, uuid);
		return sys_fail("mkdir", dir, e, err);
	}
	if (exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;                   /* the session stays: the client may retry */
	if (blob_place(s, repo, hex, size, path, dir, &taken, err) < 0)
		goto fail;
	sqlite3_stmt *q = stmt(s, Q_UP_DEL);
	bind_text(q, 1, uuid);
	if (run(s, q, "upload delete", err) < 0 || exec(s, "COMMIT", err) < 0)
		goto fail;
	if (!taken)
		unlink(path);            /* the same bytes were stored: one copy */
	return 0;
fail:
	rollback(s);
	if (access(path, F_OK) != 0)
		upload_drop(s, uuid);    /* its bytes went: the session cannot go on */
	return -1;
}

static int sq_upload_finish(struct oci_store *os, const char *repo, const char *uuid,
		      const char *hex, struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	char path[PATH_MAX];
	int lk, rc;
	if (upload_check(s, repo, uuid, err) < 0)
		return -1;
	upload_file(s, uuid, path);
	/* held until the bytes are placed: no PATCH appends to them meanwhile */
	if ((lk = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return appr_err(err, 404, OCI_E_BLOB_UPLOAD_UNKNOWN, "no upload %s", uuid);
		return sys_fail("open", path, errno, err);
	}
	if (upload_lock(lk, path, uuid, err) < 0) {
		close(lk);
		return -1;
	}
	rc = upload_finish_locked(s, repo, uuid, hex, path, err);
	close(lk);
	return rc;
}

static int sq_upload_cancel(struct oci_store *os, const char *repo, const char *uuid,
		      struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	if (upload_check(s, repo, uuid, err) < 0)
		return -1;
	upload_drop(s, uuid);
	return 0;
}

/* 1 when the manifest hex is one of repo, 0 not, -1 error. */
static int manifest_has(struct ocs *s, const char *repo, const char *hex,
			struct appr_error *err)
{
	sqlite3_stmt *q = stmt(s, Q_MF_HAS);
	bind_text(q, 1, repo);
	bind_text(q, 2, hex);
	return one_int(s, q, NULL, "manifest has", err);
}

static int sq_manifest_put(struct oci_store *os, const char *repo, const char *hex,
		     const struct oci_manifest_info *info, const char *body, size_t len,
		     const char *tag, struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	char now[32];
	long long size = 0;
	sqlite3_stmt *q;
	util_utc_now(now);
	if (exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	for (size_t i = 0; i < info->n_blobs; i++) {
		struct appr_error e = { 0 };
		if (sq_blob_stat(&s->base, repo, info->blobs[i], &size, &e) < 0) {
			if (e.http == 404)
				appr_err(err, 400, OCI_E_MANIFEST_BLOB_UNKNOWN,
					 "blob sha256:%s is not in %.140s", info->blobs[i], repo);
			else
				*err = e;
			goto fail;
		}
	}
	for (size_t i = 0; i < info->n_manifests; i++) {
		int rc = manifest_has(s, repo, info->manifests[i], err);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			appr_err(err, 400, OCI_E_MANIFEST_BLOB_UNKNOWN,
				 "manifest sha256:%s is not in %.140s", info->manifests[i], repo);
			goto fail;
		}
	}
	q = stmt(s, Q_MF_ADD);
	bind_text(q, 1, repo);
	bind_text(q, 2, hex);
	bind_text(q, 3, info->media_type);
	bind_text(q, 4, info->artifact_type);
	bind_text(q, 5, info->subject[0] ? info->subject : NULL);
	sqlite3_bind_blob(q, 6, body, (int)len, SQLITE_STATIC);
	bind_text(q, 7, info->created_at ? info->created_at : now);
	if (run(s, q, "manifest add", err) < 0)
		goto fail;
	for (size_t k = 0; k < 2; k++) {
		const char **refs = k ? info->manifests : info->blobs;
		size_t n = k ? info->n_manifests : info->n_blobs;
		for (size_t i = 0; i < n; i++) {
			q = stmt(s, Q_REF_ADD);
			bind_text(q, 1, repo);
			bind_text(q, 2, hex);
			bind_text(q, 3, refs[i]);
			if (run(s, q, "ref add", err) < 0)
				goto fail;
		}
	}
	if (tag) {
		q = stmt(s, Q_TAG_SET);
		bind_text(q, 1, repo);
		bind_text(q, 2, tag);
		bind_text(q, 3, hex);
		if (run(s, q, "tag set", err) < 0)
			goto fail;
	}
	if (exec(s, "COMMIT", err) < 0)
		goto fail;
	return 0;
fail:
	rollback(s);
	return -1;
}

static int sq_manifest_get(struct oci_store *os, const char *repo, const char *hex,
		     const char *tag, struct arena *a, struct oci_manifest *m,
		     struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	sqlite3_stmt *q = stmt(s, hex ? Q_MF_BY_DIGEST : Q_MF_BY_TAG);
	bind_text(q, 1, repo);
	bind_text(q, 2, hex ? hex : tag);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(q);
		return appr_err(err, 404, OCI_E_MANIFEST_UNKNOWN, "manifest %s%.128s unknown to %.120s",
				hex ? "sha256:" : "", hex ? hex : tag, repo);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(q);
		return db_fail(s, rc, "manifest get", err);
	}
	snprintf(m->digest, sizeof m->digest, "%s", (const char *)sqlite3_column_text(q, 0));
	m->media_type = arena_strdup(a, (const char *)sqlite3_column_text(q, 1));
	m->len = (size_t)sqlite3_column_bytes(q, 2);
	char *body = arena_alloc(a, m->len + 1);
	if (m->len)
		memcpy(body, sqlite3_column_blob(q, 2), m->len);
	m->body = body;
	sqlite3_reset(q);
	return 0;
}

static int sq_referrers(struct oci_store *os, const char *repo, const char *hex, struct arena *a,
		  struct oci_manifest **out, const char ***artifact_types, size_t *n,
		  struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	sqlite3_stmt *q = stmt(s, Q_REFERRERS);
	size_t cap = 8;
	int rc;
	bind_text(q, 1, repo);
	bind_text(q, 2, hex);
	*out = arena_alloc(a, cap * sizeof **out);
	*artifact_types = arena_alloc(a, cap * sizeof **artifact_types);
	*n = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (*n == cap) {
			struct oci_manifest *m = arena_alloc(a, 2 * cap * sizeof *m);
			const char **t = arena_alloc(a, 2 * cap * sizeof *t);
			memcpy(m, *out, cap * sizeof *m);
			memcpy(t, *artifact_types, cap * sizeof *t);
			*out = m;
			*artifact_types = t;
			cap *= 2;
		}
		struct oci_manifest *m = &(*out)[*n];
		snprintf(m->digest, sizeof m->digest, "%s", (const char *)sqlite3_column_text(q, 0));
		m->media_type = arena_strdup(a, (const char *)sqlite3_column_text(q, 1));
		m->len = (size_t)sqlite3_column_bytes(q, 2);
		m->body = arena_strndup(a, sqlite3_column_blob(q, 2), m->len);
		(*artifact_types)[*n] = arena_strdup(a, (const char *)sqlite3_column_text(q, 3));
		(*n)++;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return db_fail(s, rc, "referrers", err);
	return 0;
}

static int sq_manifest_delete(struct oci_store *os, const char *repo, const char *hex,
			struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	sqlite3_stmt *q = stmt(s, Q_MF_DEL);
	bind_text(q, 1, repo);
	bind_text(q, 2, hex);
	if (run(s, q, "manifest delete", err) < 0)
		return -1;
	if (sqlite3_changes(s->db) == 0)
		return appr_err(err, 404, OCI_E_MANIFEST_UNKNOWN,
				"manifest sha256:%s unknown to %.140s", hex, repo);
	return 0;
}

static int sq_tag_delete(struct oci_store *os, const char *repo, const char *tag,
		   struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	sqlite3_stmt *q = stmt(s, Q_TAG_DEL);
	bind_text(q, 1, repo);
	bind_text(q, 2, tag);
	if (run(s, q, "tag delete", err) < 0)
		return -1;
	if (sqlite3_changes(s->db) == 0)
		return appr_err(err, 404, OCI_E_MANIFEST_UNKNOWN, "no tag %.128s in %.120s", tag,
				repo);
	return 0;
}

static int sq_blob_mount(struct oci_store *os, const char *repo, const char *from, const char *hex,
		   struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	long long size;
	if (exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (sq_blob_stat(&s->base, from, hex, &size, err) < 0)
		goto fail;
	sqlite3_stmt *q = stmt(s, Q_LINK_ADD);
	bind_text(q, 1, repo);
	bind_text(q, 2, hex);
	if (run(s, q, "link add", err) < 0 || exec(s, "COMMIT", err) < 0)
		goto fail;
	return 0;
fail:
	rollback(s);
	return -1;
}

/* Rows of the one-column text statement q (bound but for its limit, parameter
 * limit_at) for a page of n after a cursor. */
static int page(struct ocs *s, sqlite3_stmt *q, int limit_at, long n, struct arena *a,
		const char ***out, size_t *count, bool *more, struct appr_error *err)
{
	size_t cap = 16;
	int rc;
	sqlite3_bind_int64(q, limit_at, n < 0 ? -1 : (sqlite3_int64)n + 1);
	*out = arena_alloc(a, cap * sizeof **out);
	*count = 0;
	*more = false;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (n >= 0 && (long)*count == n) {
			*more = true;
			break;
		}
		if (*count == cap) {
			const char **t = arena_alloc(a, 2 * cap * sizeof *t);
			memcpy(t, *out, cap * sizeof *t);
			*out = t;
			cap *= 2;
		}
		(*out)[(*count)++] = arena_strdup(a, (const char *)sqlite3_column_text(q, 0));
	}
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(s, rc, "page", err);
	return 0;
}

static int sq_repos_list(struct oci_store *os, const char *last, long n, struct arena *a,
		   const char ***repos, size_t *count, bool *more, struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	sqlite3_stmt *q = stmt(s, Q_REPOS);
	bind_text(q, 1, last ? last : "");
	return page(s, q, 2, n, a, repos, count, more, err);
}

static int sq_tags_list(struct oci_store *os, const char *repo, const char *last, long n,
		  struct arena *a, const char ***tags, size_t *count, bool *more,
		  struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	sqlite3_stmt *q = stmt(s, Q_TAGS);
	bind_text(q, 1, repo);
	bind_text(q, 2, last ? last : "");
	bind_repo(q, 3, repo);
	return page(s, q, 5, n, a, tags, count, more, err);
}

/* ---- the Helm view ---- */

static int sq_chart_releases(struct oci_store *os, const char *repo, const char *version,
		       struct arena *a, struct oci_chart_release **out, size_t *n,
		       struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	sqlite3_stmt *q = stmt(s, version ? Q_CHART_VERSION : Q_CHARTS);
	size_t cap = 8;
	int rc;
	bind_repo(q, 1, repo);
	if (version)
		bind_text(q, 3, version);
	*out = arena_alloc(a, cap * sizeof **out);
	*n = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *digest = (const char *)sqlite3_column_text(q, 1);
		const char *sha = (const char *)sqlite3_column_text(q, 3);
		if (!digest || !sha || strlen(digest) != DIGEST_HEX_LEN ||
		    strlen(sha) != DIGEST_HEX_LEN)
			continue;
		if (*n == cap) {
			struct oci_chart_release *r = arena_alloc(a, 2 * cap * sizeof *r);
			memcpy(r, *out, cap * sizeof *r);
			*out = r;
			cap *= 2;
		}
		struct oci_chart_release *r = &(*out)[(*n)++];
		r->version = arena_strdup(a, (const char *)sqlite3_column_text(q, 0));
		memcpy(r->digest, digest, DIGEST_HEX_LEN + 1);
		memcpy(r->sha256, sha, DIGEST_HEX_LEN + 1);
		r->size = sqlite3_column_int64(q, 2);
		r->chart = arena_strdup(a, (const char *)sqlite3_column_text(q, 4));
		r->config = NULL;
		r->manifest = NULL;
		if (sqlite3_column_type(q, 5) == SQLITE_TEXT &&
		    sqlite3_column_type(q, 6) == SQLITE_TEXT) {
			r->config_len = (size_t)sqlite3_column_bytes(q, 5);
			r->config = arena_strndup(a, (const char *)sqlite3_column_text(q, 5),
						  r->config_len);
			r->manifest_len = (size_t)sqlite3_column_bytes(q, 6);
			r->manifest = arena_strndup(a, (const char *)sqlite3_column_text(q, 6),
						    r->manifest_len);
		}
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return db_fail(s, rc, "chart releases", err);
	return 0;
}

/* Copy file src to dst (created, not there yet): 0 or an errno. */
static int copy_file(const char *src, const char *dst, bool do_fsync)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), out, e = 0;
	if (in < 0)
		return errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (out < 0) {
		e = errno;
		close(in);
		return e;
	}
	char *buf = xmalloc(65536);
	for (;;) {
		ssize_t n = read(in, buf, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : 0;
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				e = errno;
				break;
			}
			off += w;
		}
		if (e)
			break;
	}
	free(buf);
	if (!e && do_fsync && fsync(out) < 0)
		e = errno;
	close(in);
	if (close(out) < 0 && !e)
		e = errno;
	if (e)
		unlink(dst);
	return e;
}

static int sq_blob_adopt(struct oci_store *os, const char *repo, const char *hex,
			 const char *digest, long long size, struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	char tmp[PATH_MAX + 96], dir[PATH_MAX], file[PATH_MAX];
	bool taken;
	int e;
	if (storage_blob_path(os->st, digest, file, sizeof file, err) < 0)
		return -1;
	snprintf(dir, sizeof dir, "%s/%.2s", s->blob_dir, hex);
	if ((e = util_mkdir_p(dir)))
		return sys_fail("mkdir", dir, e, err);
	/* beside its name under a temporary one first: the blob's name never shows a
	 * partial copy */
	snprintf(tmp, sizeof tmp, "%s/.adopt.%s.%ld", dir, hex, (long)getpid());
	unlink(tmp);
	if (link(file, tmp) < 0 && (e = copy_file(file, tmp, s->cfg->fsync)))
		return sys_fail("copy to", tmp, e, err);
	int rc = exec(s, "BEGIN IMMEDIATE", err);
	if (rc == 0 && (blob_place(s, repo, hex, size, tmp, dir, &taken, err) < 0 ||
			exec(s, "COMMIT", err) < 0)) {
		rollback(s);
		rc = -1;
	}
	unlink(tmp);                     /* when it did not take the name */
	return rc;
}

static int sq_blob_share(struct oci_store *os, const char *hex, const char *dst)
{
	struct ocs *s = (struct ocs *)os;
	char src[PATH_MAX], tmp[PATH_MAX + 64];
	struct stat a, b;
	blob_file(s, hex, src);
	if (stat(src, &a) < 0 || stat(dst, &b) < 0) {
		fprintf(stderr, "appr: oci: share %s: %s\n", dst, strerror(errno));
		return -1;
	}
	if (a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return 0;                    /* one file already */
	if (a.st_size != b.st_size) {
		fprintf(stderr, "appr: oci: share %s: not the size of blob sha256:%s\n", dst, hex);
		return -1;
	}
	snprintf(tmp, sizeof tmp, "%s.share.%ld", dst, (long)getpid());
	unlink(tmp);
	if (link(src, tmp) < 0 || rename(tmp, dst) < 0) {
		int e = errno;
		unlink(tmp);
		if (e != EXDEV)              /* another file system: two copies, as before */
			fprintf(stderr, "appr: oci: share %s: %s\n", dst, strerror(e));
		return -1;
	}
	return 0;
}

static int sq_manifest_tag(struct oci_store *os, const char *repo, const char *hex, struct arena *a,
		     const char **tag, struct appr_error *err)
{
	struct ocs *s = (struct ocs *)os;
	sqlite3_stmt *q = stmt(s, Q_TAG_OF);
	bind_text(q, 1, repo);
	bind_text(q, 2, hex);
	int rc = sqlite3_step(q);
	*tag = rc == SQLITE_ROW ? arena_strdup(a, (const char *)sqlite3_column_text(q, 0)) : NULL;
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(s, rc, "manifest tag", err);
	return 0;
}

static const struct oci_store_ops sq_ops = {
	.name = "filesystem",
	.close = sq_store_close,
	.repo_known = sq_repo_known,
	.blob_stat = sq_blob_stat,
	.blob_open = sq_blob_open,
	.blob_read = sq_blob_read,
	.blob_close = sq_blob_close,
	.blob_mount = sq_blob_mount,
	.blob_delete = sq_blob_delete,
	.repos_list = sq_repos_list,
	.upload_new = sq_upload_new,
	.upload_append = sq_upload_append,
	.upload_write = sq_upload_write,
	.upload_end = sq_upload_end,
	.upload_finish = sq_upload_finish,
	.upload_cancel = sq_upload_cancel,
	.manifest_put = sq_manifest_put,
	.referrers = sq_referrers,
	.manifest_get = sq_manifest_get,
	.manifest_delete = sq_manifest_delete,
	.tag_delete = sq_tag_delete,
	.tags_list = sq_tags_list,
	.manifest_tag = sq_manifest_tag,
	.chart_releases = sq_chart_releases,
	.blob_adopt = sq_blob_adopt,
	.blob_share = sq_blob_share,
};
