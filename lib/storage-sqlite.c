/* storage-sqlite.c - the embedded "filesystem" store: metadata in SQLite (WAL), blobs as
 * files named by digest. This file: the connection, statements, transactions, open
 * and migrations, the driver table; storage-sqlite.h lists the files of the rest. */

/*
 * Layout under data_dir:
 *   appr.db (+ -wal, -shm)                 packages, releases, manifests, channels,
 *                                          users, grants, tokens, namespaces (stamps)
 *   blobs/sha256/<2 hex>/<64 hex digest>   one file per distinct blob (gzip bytes)
 *   blobs/tmp/blob-XXXXXX                  blobs being received (mkstemp)
 *   blobs/tmp/<digest>.<pid>.<n>.del       blobs being deleted (see below)
 *
 * Many responder processes open the same directory. Every change is one SQLite
 * transaction begun with BEGIN IMMEDIATE, so writers queue on SQLite's write lock
 * (up to busy_timeout_ms, then 409 resource-in-use) and readers are never blocked
 * (WAL snapshot reads). Blob files are created and deleted ONLY while that write
 * lock is held, inside the transaction that adds or drops their last reference:
 *   - a push renames its temp file to the final name (or drops it when the final
 *     file already exists: same digest, same tar) before COMMIT;
 *   - a blob losing its last reference is renamed to a ".del" file in blobs/tmp
 *     before COMMIT and unlinked after it; if COMMIT fails it is renamed back.
 * So a delete can never race with a concurrent push of the same digest, and a crash
 * at any point loses nothing acknowledged: a ".del" file still referenced by the
 * database is put back by the next open, an unreferenced one is removed, and temp
 * files older than an hour are removed.
 *
 * Durability: with fsync = true (the default) a push fsyncs its blob and gives it
 * a durable "pub-" name in blobs/tmp before taking the write lock; under the lock
 * it links the final name and commits (synchronous=NORMAL: no fsync under the lock);
 * after the lock it fsyncs the final name's directory and the WAL, and only then
 * answers. So pushes' fsyncs overlap instead of queueing on the lock, and an
 * acknowledged push survives a power cut: its rows are in the fsync'ed WAL, its blob
 * under its final name or, if the cut lost that name, under its pub- name, from
 * which the next open puts it back. Every other write transaction fsyncs the WAL
 * after its COMMIT the same way. With fsync = false nothing is fsync'ed: WAL still
 * never corrupts and survives a process crash, but the last commits may be lost on
 * power loss.
 *
 * Open the store after fork(), never before: an SQLite connection must not cross
 * a fork.
 */
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

#include "oci-helm.h"
#include "semver.h"
#include "storage.h"
#include "storage-sqlite.h"

/* Built from schema/NNN-*.sql by build-aux/sql2c.sh: entry i is migration i + 1. */
extern const char *const appr_schema_migrations[];
extern const size_t appr_schema_count;

/* ---- errors ---- */

static const char *stmt_op(struct sq_storage *ss, sqlite3_stmt *st)
{
	for (int i = 0; i < S_COUNT; i++)
		if (ss->stmt[i] == st)
			return sq_sql_defs[i].op;
	return "statement";
}

/* SQLite said rc: busy is a 409 the client may retry; anything else is logged
 * (one line) and a 500. */
static int db_fail(struct sq_storage *ss, int rc, const char *op, struct appr_error *err)
{
	int primary = rc & 0xff;

	if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
		return storage_err_busy(err);
	fprintf(stderr, "appr: sqlite: %s: %s\n", op,
		ss->db ? sqlite3_errmsg(ss->db) : sqlite3_errstr(rc));
	if (primary == SQLITE_FULL)
		return storage_err_full(err);
	return storage_err_internal(err);
}

/* A system call on path failed with errno e: logged, 500 (507 when the disk is full). */
int sq_sys_fail(const char *op, const char *path, int e, struct appr_error *err)
{
	fprintf(stderr, "appr: storage: %s %s: %s\n", op, path, strerror(e));
	if (e == ENOSPC || e == EDQUOT)
		return storage_err_full(err);
	return storage_err_internal(err);
}

/* ---- statements: get (reset + cleared here, the one place), bind, step ---- */

sqlite3_stmt *sq_stmt_get(struct sq_storage *ss, enum sid id)
{
	sqlite3_stmt *st = ss->stmt[id];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	ss->bind_rc = SQLITE_OK;
	return st;
}

void sq_bind_rc(struct sq_storage *ss, int rc)
{
	if (rc != SQLITE_OK && ss->bind_rc == SQLITE_OK)
		ss->bind_rc = rc;
}

/* Bind text, or SQL NULL when v is NULL. */
void sq_bind_text(struct sq_storage *ss, sqlite3_stmt *st, int i, const char *v)
{
	sq_bind_rc(ss, v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT)
		      : sqlite3_bind_null(st, i));
}

void sq_bind_int(struct sq_storage *ss, sqlite3_stmt *st, int i, sqlite3_int64 v)
{
	sq_bind_rc(ss, sqlite3_bind_int64(st, i, v));
}

/* A count where 0 means "no limit": SQLite's -1. */
void sq_bind_limit(struct sq_storage *ss, sqlite3_stmt *st, int i, size_t v)
{
	sq_bind_int(ss, st, i, v == 0 ? -1 : v > INT64_MAX ? INT64_MAX : (sqlite3_int64)v);
}

/* 1 with a row, 0 when done (st reset), -1 on error (err set, st reset). */
int sq_step(struct sq_storage *ss, sqlite3_stmt *st, struct appr_error *err)
{
	int rc = ss->bind_rc;

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			return 1;
		if (rc == SQLITE_DONE) {
			sqlite3_reset(st);
			return 0;
		}
	}
	db_fail(ss, rc, stmt_op(ss, st), err);
	sqlite3_reset(st);
	return -1;
}

/* Run a statement that returns no rows. 0 or -1. */
int sq_run(struct sq_storage *ss, sqlite3_stmt *st, struct appr_error *err)
{
	int r = sq_step(ss, st, err);
	sqlite3_reset(st);
	return r < 0 ? -1 : 0;
}

/* Run a look-up of one integer (column 0): 1 found (*out set), 0 absent, -1 error. */
static int one_id(struct sq_storage *ss, sqlite3_stmt *st, sqlite3_int64 *out,
		  struct appr_error *err)
{
	int r = sq_step(ss, st, err);
	if (r == 1) {
		*out = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return r;
}

/* Column i as an arena string, NULL for SQL NULL. */
const char *sq_col_str(struct arena *a, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t)
		return NULL;
	return arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, i));
}

/* Column i copied into a fixed buffer of cap > 0 bytes, cut to fit ("" for NULL). */
void sq_col_copy(char *dst, size_t cap, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

/* ---- common look-ups ---- */

int sq_find_package(struct sq_storage *ss, const char *ns, const char *name,
		    sqlite3_int64 *id, struct appr_error *err)
{
	sqlite3_stmt *st = sq_stmt_get(ss, S_PKG_ID);
	sq_bind_text(ss, st, 1, ns);
	sq_bind_text(ss, st, 2, name);
	return one_id(ss, st, id, err);
}

int sq_find_release(struct sq_storage *ss, sqlite3_int64 pkg, const char *release,
		    sqlite3_int64 *id, struct appr_error *err)
{
	sqlite3_stmt *st = sq_stmt_get(ss, S_REL_ID);
	sq_bind_int(ss, st, 1, pkg);
	sq_bind_text(ss, st, 2, release);
	return one_id(ss, st, id, err);
}

int sq_find_channel(struct sq_storage *ss, sqlite3_int64 pkg, const char *channel,
		    sqlite3_int64 *id, struct appr_error *err)
{
	sqlite3_stmt *st = sq_stmt_get(ss, S_CHAN_ID);
	sq_bind_int(ss, st, 1, pkg);
	sq_bind_text(ss, st, 2, channel);
	return one_id(ss, st, id, err);
}

/* Is any manifest's blob digest? 1 yes, 0 no, -1 error. */
int sq_digest_used(struct sq_storage *ss, const char *digest, struct appr_error *err)
{
	sqlite3_stmt *st = sq_stmt_get(ss, S_DIGEST_USED);
	sq_bind_text(ss, st, 1, digest);
	int r = sq_step(ss, st, err);
	sqlite3_reset(st);
	return r;
}

/* s, or NULL when s is NULL or "": what the store records as unset. */
const char *sq_nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* Inside a write transaction: the SHA-256 recorded for the blob digest (by any
 * manifest of it) into out: 1, or 0 when none records it, -1 on error. */
int sq_recorded_sha256(struct sq_storage *ss, const char *digest,
		       char out[DIGEST_HEX_LEN + 1], struct appr_error *err)
{
	sqlite3_stmt *st = sq_stmt_get(ss, S_BLOB_SHA256);
	sq_bind_text(ss, st, 1, digest);
	int r = sq_step(ss, st, err);
	if (r == 1) {
		sq_col_copy(out, DIGEST_HEX_LEN + 1, st, 0);
		sqlite3_reset(st);
	}
	return r;
}

/* Inside a write transaction: record what the blob of release rel_id's helm manifest
 * was found to be: its chart (which wins when both are given) or the problem; neither:
 * not examined (no charts row). With a chart and the .tgz's SHA-256 (layer_hex, of
 * layer_size bytes) known, also the release's OCI artifact (schema/006-helm-oci.sql)
 * for package name at version; else none. */
int sq_chart_put(struct sq_storage *ss, sqlite3_int64 rel_id, const char *chart,
		 const char *problem, const char *name, const char *version,
		 const char *layer_hex, long long layer_size, struct appr_error *err)
{
	const char *config, *manifest;
	size_t config_len, manifest_len;
	chart = sq_nonempty(chart);
	problem = chart ? NULL : sq_nonempty(problem);
	sqlite3_stmt *st = sq_stmt_get(ss, chart || problem ? S_CHART_PUT : S_CHART_DELETE);
	sq_bind_int(ss, st, 1, rel_id);
	if (chart || problem) {
		sq_bind_text(ss, st, 2, chart);
		sq_bind_text(ss, st, 3, problem);
	}
	if (sq_run(ss, st, err) < 0)
		return -1;
	struct arena *a = arena_new();
	bool artifact = chart && sq_digest_ok(layer_hex) &&
		oci_helm_artifact(chart, layer_hex, layer_size, name, version, a, &config,
				  &config_len, &manifest, &manifest_len) == 0;
	st = sq_stmt_get(ss, artifact ? S_HELM_OCI_PUT : S_HELM_OCI_DELETE);
	sq_bind_int(ss, st, 1, rel_id);
	if (artifact) {
		sq_bind_rc(ss, sqlite3_bind_text(st, 2, config, (int)config_len, SQLITE_TRANSIENT));
		sq_bind_rc(ss, sqlite3_bind_text(st, 3, manifest, (int)manifest_len,
						 SQLITE_TRANSIENT));
	}
	int rc = sq_run(ss, st, err);
	arena_free(a);
	return rc;
}

/* Inside a write transaction: one more change under namespace ns, made at now. */
int sq_ns_bump(struct sq_storage *ss, const char *ns, const char *now,
	       struct appr_error *err)
{
	sqlite3_stmt *st = sq_stmt_get(ss, S_NS_BUMP);
	sq_bind_text(ss, st, 1, ns);
	sq_bind_text(ss, st, 2, now);
	return sq_run(ss, st, err);
}

/* 404 package-not-found naming what is missing: the package, the release or the
 * manifest of media_type (release and media_type may be NULL). Always -1. */
int sq_not_found(struct sq_storage *ss, const char *ns, const char *name,
		 const char *release, const char *media_type, struct appr_error *err)
{
	sqlite3_int64 pkg_id, rel_id;
	int r;

	r = sq_find_package(ss, ns, name, &pkg_id, err);
	if (r < 0)
		return -1;
	if (r == 0 || !release)
		return storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, release, media_type);
	r = sq_find_release(ss, pkg_id, release, &rel_id, err);
	if (r < 0)
		return -1;
	return storage_err_absent(err, r == 0 || !media_type ? STORAGE_NO_RELEASE
			     : STORAGE_NO_MANIFEST, ns, name, release, media_type);
}

/* S_MAN_ONE stepped to the manifest (ns/name, release, media_type): 1 with *out on
 * its row (the caller resets it), 0 when absent (404 set as sq_not_found does), -1. */
int sq_find_manifest(struct sq_storage *ss, const char *ns, const char *name,
		     const char *release, const char *media_type, sqlite3_stmt **out,
		     struct appr_error *err)
{
	sqlite3_stmt *st = sq_stmt_get(ss, S_MAN_ONE);
	int r;

	sq_bind_text(ss, st, 1, ns);
	sq_bind_text(ss, st, 2, name);
	sq_bind_text(ss, st, 3, release);
	sq_bind_text(ss, st, 4, media_type);
	r = sq_step(ss, st, err);
	if (r == 0)
		sq_not_found(ss, ns, name, release, media_type, err);
	*out = st;
	return r;
}

/* ---- arena arrays ---- */

/* A new zeroed element of size bytes at the end of v (items move when it grows). */
void *sq_vec_push(struct arena *a, struct vec *v, size_t size)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void *items = arena_alloc(a, cap * size);
		if (v->n)
			memcpy(items, v->items, v->n * size);
		v->items = items;
		v->cap = cap;
	}
	return (char *)v->items + v->n++ * size;
}

void sq_vec_push_str(struct arena *a, struct vec *v, const char *s)
{
	*(const char **)sq_vec_push(a, v, sizeof(const char *)) = s;
}

/* ---- transactions ---- */

/* A deferred read transaction: one snapshot for several statements. */
int sq_tx_read(struct sq_storage *ss, struct appr_error *err)
{
	return sq_run(ss, sq_stmt_get(ss, S_BEGIN), err);
}

void sq_tx_read_end(struct sq_storage *ss)
{
	if (sqlite3_get_autocommit(ss->db))
		return;
	if (sq_run(ss, sq_stmt_get(ss, S_COMMIT), NULL) < 0 && !sqlite3_get_autocommit(ss->db))
		sq_run(ss, sq_stmt_get(ss, S_ROLLBACK), NULL);
}

/* Take the write lock (waiting up to busy_timeout_ms, then 409). */
int sq_tx_write(struct sq_storage *ss, struct appr_error *err)
{
	ss->fo.created[0] = '\0';
	ss->fo.sync_dir[0] = '\0';
	ss->fo.sync_parent = -1;
	ss->fo.n_trash = 0;
	ss->fo.left = false;
	return sq_run(ss, sq_stmt_get(ss, S_BEGIN_WRITE), err);
}

/* Undo the blob file changes and roll back. While the write lock is still held
 * the file made visible is removed; once SQLite has already rolled back (and
 * released the lock) another writer may reference it, so it is left in place
 * (fo.left: the writer then leaves its "pub-" name for the sweep to settle).
 * Dropped blobs are always put back: same digest, same bytes. */
void sq_tx_abort(struct sq_storage *ss)
{
	bool locked = !sqlite3_get_autocommit(ss->db);
	struct sq_fileops *fo = &ss->fo;

	if (fo->created[0]) {
		if (!locked) {
			fprintf(stderr, "appr: storage: left blob %s for the sweep\n", fo->created);
			fo->left = true;
		} else if (unlink(fo->created) < 0 && errno != ENOENT) {
			sq_sys_fail("unlink", fo->created, errno, NULL);
		}
	}
	for (size_t i = fo->n_trash; i-- > 0;)
		if (rename(fo->trash[i].trash, fo->trash[i].final) < 0 && errno != ENOENT)
			sq_sys_fail("restore blob", fo->trash[i].final, errno, NULL);
	if (locked)
		sq_run(ss, sq_stmt_get(ss, S_ROLLBACK), NULL);
	fo->created[0] = '\0';
	fo->n_trash = 0;
}

/* With fsync: make every transaction committed so far durable (synchronous=NORMAL
 * leaves that to us: configure_db). The WAL is appended to between checkpoints, and
 * SQLite fsyncs it before a checkpoint and the database after one, so an fdatasync of
 * the WAL as it is now covers our commit whether or not a checkpoint came between;
 * no WAL file (the last connection checkpointed and removed it) means the database
 * holds it, fsync'ed. Runs without the write lock. 0 or -1 (the commit is done but
 * not known durable: the caller answers an error). */
static int sq_wal_sync(struct sq_storage *ss, struct appr_error *err)
{
	int fd, rc = 0;

	if (!ss->base.cfg->fsync)
		return 0;
	fd = open(ss->wal, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : sq_sys_fail("open", ss->wal, errno, err);
	if (fdatasync(fd) < 0)
		rc = sq_sys_fail("fdatasync", ss->wal, errno, err);
	close(fd);
	return rc;
}

/* COMMIT, then delete the dropped blobs for good, then (fsync) make it durable. On a
 * failed COMMIT everything is undone. */
int sq_tx_commit(struct sq_storage *ss, struct appr_error *err)
{
	struct sq_fileops *fo = &ss->fo;

	if (sq_run(ss, sq_stmt_get(ss, S_COMMIT), err) < 0) {
		fo->sync_dir[0] = '\0';
		sq_tx_abort(ss);
		return -1;
	}
	for (size_t i = 0; i < fo->n_trash; i++)
		if (unlink(fo->trash[i].trash) < 0 && errno != ENOENT)
			sq_sys_fail("unlink", fo->trash[i].trash, errno, NULL);
	fo->created[0] = '\0';
	fo->n_trash = 0;
	return sq_wal_sync(ss, err);
}

/* Inside a write transaction: if no manifest references digest any more, move
 * its file aside (deleted at COMMIT, restored otherwise). */
static int pragma_rc(struct sq_storage *ss, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL);

	if (out && cap)
		out[0] = '\0';
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && out && sqlite3_column_text(st, 0))
			snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* pragma_rc, failing through db_fail: 0 or -1. */
static int pragma(struct sq_storage *ss, const char *sql, char *out, size_t cap,
		  struct appr_error *err)
{
	int rc = pragma_rc(ss, sql, out, cap);
	return rc == SQLITE_OK ? 0 : db_fail(ss, rc, sql, err);
}

/* journal_mode=WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at
 * once instead of calling the busy handler (it would escalate from a shared
 * lock), so processes starting together on a fresh database retry here for up
 * to busy_timeout_ms. The mode is persistent: later opens find it set. */
static int set_wal(struct sq_storage *ss, struct appr_error *err)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	unsigned long long waited_ms = 0;
	char val[32];
	int rc;

	for (;;) {
		rc = pragma_rc(ss, "PRAGMA journal_mode=WAL", val, sizeof val);
		if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= ss->base.cfg->busy_timeout_ms)
			break;
		nanosleep(&pause, NULL);
		waited_ms += 10;
	}
	if (rc != SQLITE_OK)
		return db_fail(ss, rc, "PRAGMA journal_mode=WAL", err);
	if (strcmp(val, "wal") != 0) {
		fprintf(stderr, "appr: sqlite: journal_mode=WAL refused (got \"%s\")\n", val);
		return storage_err_internal(err);
	}
	return 0;
}

/* The busy handler of a TRUNCATE checkpoint. SQLite's own (sqlite3_busy_timeout)
 * backs off to a retry every 100 ms; under steady reads a reader's lock is free only
 * for the moment between two requests, which a retry that rare keeps missing (seconds
 * of waiting on a loaded machine, past the timeout). Retrying every millisecond
 * catches it. */
static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int ckpt_busy(void *arg, int count)
{
	const struct sq_storage *ss = arg;
	const struct timespec pause = { 0, 1000 * 1000 };

	(void)count;
	if (now_ms() >= ss->ckpt_deadline_ms)
		return 0;
	nanosleep(&pause, NULL);
	return 1;
}

static int busy_timeout(const struct sq_storage *ss)
{
	unsigned long long ms = ss->base.cfg->busy_timeout_ms;

	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* A TRUNCATE checkpoint, waiting up to busy_timeout_ms for the readers of older
 * snapshots. */
static int wal_truncate(struct sq_storage *ss, sqlite3 *db, const char *name)
{
	int rc;

	ss->ckpt_deadline_ms = now_ms() + busy_timeout(ss);
	sqlite3_busy_handler(db, ckpt_busy, ss);
	rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(db, busy_timeout(ss));
	return rc;
}

/* sqlite3_wal_hook: called after each commit, the write lock released, with the
 * pages now in the WAL. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sq_storage *ss = arg;

	if (pages < WAL_PASSIVE_PAGES) {
		ss->wal_next_truncate = WAL_TRUNCATE_PAGES;
		return SQLITE_OK;
	}
	if (pages < ss->wal_next_truncate) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	int rc = wal_truncate(ss, db, name);
	if (rc == SQLITE_OK) {
		ss->wal_next_truncate = WAL_TRUNCATE_PAGES;
	} else {
		/* readers held on past the busy timeout: again a little later */
		ss->wal_next_truncate = pages + WAL_RETRY_PAGES;
		fprintf(stderr, "appr: sqlite: WAL of %d pages could not be truncated: %s\n",
			pages, sqlite3_errstr(rc));
	}
	return SQLITE_OK;
}

static int configure_db(struct sq_storage *ss, struct appr_error *err)
{
	char val[32];

	if (set_wal(ss, err) < 0)
		return -1;
	ss->wal_next_truncate = WAL_TRUNCATE_PAGES;
	sqlite3_wal_hook(ss->db, wal_hook, ss);     /* instead of the automatic checkpoint */
	if (pragma(ss, "PRAGMA journal_size_limit=" WAL_SIZE_LIMIT, NULL, 0, err) < 0)
		return -1;
	/* NORMAL: COMMIT writes the WAL without waiting for the disk; with fsync the
	 * committer then fsyncs the WAL itself, after the write lock is released
	 * (sq_wal_sync), so that the fsyncs of processes committing one after the other
	 * overlap instead of queueing on the lock. */
	if (pragma(ss, "PRAGMA synchronous=NORMAL", NULL, 0, err) < 0 ||
	    pragma(ss, "PRAGMA foreign_keys=ON", NULL, 0, err) < 0 ||
	    pragma(ss, "PRAGMA foreign_keys", val, sizeof val, err) < 0)
		return -1;
	if (strcmp(val, "1") != 0) {
		fprintf(stderr, "appr: sqlite: foreign keys are not supported by this SQLite\n");
		return storage_err_internal(err);
	}
	return 0;
}

/* Bring the schema to appr_schema_count in one write transaction. A current schema
 * is only read: opening never waits for the write lock another process holds (a
 * responder respawned while a long write runs must start and serve reads). */
static int migrate(struct sq_storage *ss, struct appr_error *err)
{
	char val[32], sql[64];
	long have;
	int rc;

	if (pragma(ss, "PRAGMA user_version", val, sizeof val, err) < 0)
		return -1;
	if (strtol(val, NULL, 10) == (long)appr_schema_count)
		return 0;
	if (pragma(ss, "BEGIN IMMEDIATE", NULL, 0, err) < 0)
		return -1;
	if (pragma(ss, "PRAGMA user_version", val, sizeof val, err) < 0)
		goto fail;
	have = strtol(val, NULL, 10);
	if (have < 0 || (unsigned long)have > appr_schema_count) {
		fprintf(stderr, "appr: storage: %s/appr.db has schema version %ld, newer than"
			" this program's %lu\n", ss->base.cfg->data_dir, have,
			(unsigned long)appr_schema_count);
		appr_err(err, 500, APPR_E_INTERNAL,
			 "database schema version %ld is newer than this program (%lu)",
			 have, (unsigned long)appr_schema_count);
		goto fail;
	}
	for (size_t i = (size_t)have; i < appr_schema_count; i++) {
		rc = sqlite3_exec(ss->db, appr_schema_migrations[i], NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			snprintf(sql, sizeof sql, "schema migration %lu", (unsigned long)i + 1);
			db_fail(ss, rc, sql, err);
			goto fail;
		}
	}
	if ((size_t)have < appr_schema_count) {
		snprintf(sql, sizeof sql, "PRAGMA user_version = %lu",
			 (unsigned long)appr_schema_count);
		if (pragma(ss, sql, NULL, 0, err) < 0)
			goto fail;
	}
	if (pragma(ss, "COMMIT", NULL, 0, err) == 0)
		return sq_wal_sync(ss, err);
fail:
	if (!sqlite3_get_autocommit(ss->db))
		pragma(ss, "ROLLBACK", NULL, 0, NULL);
	return -1;
}

static void sq_close(struct storage *s)
{
	struct sq_storage *ss = (struct sq_storage *)s;

	if (!ss)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(ss->stmt[i]);
	sqlite3_close_v2(ss->db);
	free(ss);
}

static int sq_open(const struct appr_config *cfg, struct storage **out,
		   struct appr_error *err)
{
	struct sq_storage *ss;
	char path[PATHBUF];
	int rc;

	*out = NULL;
	if (!cfg->data_dir || !cfg->data_dir[0])
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "data_dir is not set");
	if (strlen(cfg->data_dir) > DATA_DIR_MAX)
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "data_dir is too long");

	ss = xcalloc(1, sizeof *ss);
	ss->base.ops = &storage_sqlite_ops;
	ss->base.cfg = cfg;
	snprintf(ss->blob_dir, PATHBUF, "%.*s/blobs/sha256", DATA_DIR_MAX, cfg->data_dir);
	snprintf(ss->tmp_dir, PATHBUF, "%.*s/blobs/tmp", DATA_DIR_MAX, cfg->data_dir);
	snprintf(path, PATHBUF, "%.*s/appr.db", DATA_DIR_MAX, cfg->data_dir);
	snprintf(ss->reserve, PATHBUF, "%.*s/reserve", DATA_DIR_MAX, cfg->data_dir);
	snprintf(ss->wal, PATHBUF, "%.*s/appr.db-wal", DATA_DIR_MAX, cfg->data_dir);
	if (sq_mkdir_p(cfg->data_dir, err) < 0 || sq_mkdir_p(ss->blob_dir, err) < 0 ||
	    sq_mkdir_p(ss->tmp_dir, err) < 0)
		goto fail;

	rc = sqlite3_open_v2(path, &ss->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		db_fail(ss, rc, "open", err);
		goto fail;
	}
	sqlite3_busy_timeout(ss->db, busy_timeout(ss));
	if (configure_db(ss, err) < 0 || migrate(ss, err) < 0)
		goto fail;
	for (int i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(ss->db, sq_sql_defs[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
					&ss->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			db_fail(ss, rc, sq_sql_defs[i].op, err);
			goto fail;
		}
	}
	struct storage_gc_report swept = { 0 };
	struct appr_error e = { 0 };
	if (sq_sweep_debris(ss, false, &swept, &e) < 0)  /* busy: left for a later open or gc */
		fprintf(stderr, "appr: storage: sweeping blobs/tmp: %s\n", e.msg);
	if (!sq_reserve_present(ss))
		sq_reserve_make(ss);
	*out = &ss->base;
	return 0;
fail:
	sq_close(&ss->base);
	return -1;
}

const struct storage_ops storage_sqlite_ops = {
	.version = STORAGE_OPS_VERSION,           /* interface this table implements */
	.name = "filesystem",                     /* also registered as "sqlite" */
	.list_pages_cheap = true,                 /* after_ns: a range of packages UNIQUE */
	.open = sq_open,                          /* mkdir, WAL, migrations, prepare */
	.close = sq_close,                        /* finalize statements, close db */
	.blob_begin = sq_blob_begin,              /* mkstemp in blobs/tmp */
	.blob_write = sq_blob_write,              /* write all, EINTR-safe */
	.blob_abort = sq_blob_abort,              /* close + unlink the temp file */
	.blob_lookup = sq_blob_lookup,            /* SQL: a manifest of ns/name has it */
	.blob_open = sq_blob_open,                /* open blobs/sha256/xx/<digest> */
	.blob_read = sq_blob_read,                /* read(), EINTR-safe */
	.blob_close = sq_blob_close,              /* close fd */
	.put_release = sq_put_release,            /* one write tx; blob renamed inside it */
	.list_releases = sq_list_releases,        /* releases by sortkey desc */
	.get_manifests = sq_get_manifests,        /* read tx: package, release, manifests */
	.get_manifest = sq_get_manifest,          /* read tx: manifest + current-of channels */
	.delete_manifest = sq_delete_manifest,    /* write tx: cascade + blob drop */
	.list_packages = sq_list_packages,        /* one query: page CTE + releases */
	.search = sq_search,                      /* instr(lower()) over the name index */
	.list_channels = sq_list_channels,        /* read tx: package + one query */
	.get_channel = sq_get_channel,            /* read tx: package + one query */
	.channel_add = sq_channel_add,            /* write tx: insert/upsert + current */
	.channel_remove = sq_channel_remove,      /* write tx: remove + repair currents */
	.channel_delete = sq_channel_delete,      /* write tx: delete (cascade members) */
	.blob_path = sq_blob_path,                /* absolute blobs/sha256/xx/<digest> */
	.user_put = sq_user_put,                  /* write tx: exists check + insert/update */
	.user_get = sq_user_get,                  /* users primary key */
	.user_delete = sq_user_delete,            /* grants and tokens cascade */
	.user_list = sq_user_list,                /* users primary key order */
	.grant_set = sq_grant_set,                /* write tx: upsert, or delete for none */
	.grant_list = sq_grant_list,              /* grants primary key order */
	.token_add = sq_token_add,                /* write tx: user + uniqueness + insert */
	.token_find = sq_token_find,              /* tokens UNIQUE (hash) */
	.token_list = sq_token_list,              /* tokens_by_user */
	.token_revoke = sq_token_revoke,          /* tokens primary key */
	.package_visibility = sq_package_visibility,  /* packages UNIQUE (namespace, name) */
	.list_charts = sq_list_charts,            /* one query: packages of ns, releases, helm */
	.set_chart = sq_set_chart,                /* write tx: fill what is unset + stamp */
	.namespace_stamp = sq_namespace_stamp,    /* namespaces primary key */
	.gc = sq_gc,                              /* blobs/tmp, then every blob file */
};
