/* storage-sqlite.c - the embedded "filesystem" store: metadata in SQLite (WAL), blobs as files named by digest. */

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
 * Durability: with fsync = true (the default) a blob is fsync'ed before its
 * transaction, its directory after the rename, and the database runs with
 * synchronous=FULL, so an acknowledged push survives a power cut. With fsync =
 * false, synchronous=NORMAL: WAL still never corrupts and survives a process
 * crash, but the last commits may be lost on power loss.
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

#include "semver.h"
#include "storage.h"

/* Built from schema/NNN-*.sql by build-aux/sql2c.sh: entry i is migration i + 1. */
extern const char *const appr_schema_migrations[];
extern const size_t appr_schema_count;

#define PATHBUF 4096                   /* every path we build fits (checked at open) */
#define DATA_DIR_MAX (PATHBUF - 256)
#define RESERVE_BYTES (4LL << 20)     /* data_dir/reserve */
#define SWEEP_MIN_AGE 60               /* an unlocked temp file younger is left alone */
#define PUB_PREFIX "pub-"             /* blobs/tmp/pub-<digest>-...: see blob_publish */
#define MAX_TRASH 2                    /* blobs one transaction may drop */
/* The WAL: a passive checkpoint after a commit leaves it above WAL_PASSIVE_PAGES (as
 * SQLite's automatic checkpoint does), but under steady reads the log never restarts
 * and grows without bound; above WAL_TRUNCATE_PAGES a commit waits (busy timeout)
 * for the readers of older snapshots, checkpoints everything and truncates the file.
 * WAL_SIZE_LIMIT (journal_size_limit) bounds what is left after any reset. */
#define WAL_PASSIVE_PAGES 1000
#define WAL_TRUNCATE_PAGES 8192               /* 32 MiB of 4 KiB pages */
#define WAL_SIZE_LIMIT "67108864"            /* 64 MiB */

/* ---- SQL: every statement, prepared once at open ---- */

enum sid {
	S_BEGIN, S_BEGIN_WRITE, S_COMMIT, S_ROLLBACK,
	S_PKG_ID, S_PKG_INSERT, S_PKG_DELETE_IF_EMPTY,
	S_REL_ID, S_REL_INSERT, S_REL_DELETE, S_RELEASES_OF,
	S_MAN_DIGEST, S_MAN_UPSERT, S_MAN_DELETE, S_MAN_ANY_OF_RELEASE, S_MAN_ONE,
	S_MANIFESTS, S_DIGEST_USED, S_BLOB_LOOKUP, S_CURRENT_OF,
	S_CHANNELS, S_CHAN_ID, S_CHAN_INSERT, S_CHAN_SET_CURRENT, S_CHAN_MEMBER_ADD,
	S_CHAN_MEMBER_DEL, S_CHAN_RELEASE_LEAVE, S_CHAN_DROP_EMPTY, S_CHAN_FIX_CURRENT,
	S_CHAN_DELETE,
	S_LIST_ALL, S_LIST_NS, S_LIST_ALL_TRI, S_LIST_NS_TRI, S_SEARCH, S_SEARCH_TRI,
	S_USER_GET, S_USER_INSERT, S_USER_UPDATE, S_USER_DELETE, S_USER_LIST,
	S_GRANT_SET, S_GRANT_DELETE, S_GRANT_LIST_ALL, S_GRANT_LIST_USER,
	S_TOKEN_INSERT, S_TOKEN_TAKEN, S_TOKEN_FIND, S_TOKEN_LIST_ALL, S_TOKEN_LIST_USER,
	S_TOKEN_DELETE, S_PKG_VISIBILITY,
	S_BLOB_SHA256, S_MAN_SET_SHA256, S_CHART_PUT, S_CHART_DELETE, S_CHART_EXAMINED,
	S_CHARTS, S_NS_BUMP, S_NS_STAMP,
	S_COUNT
};

/* One page of packages (?1 namespace, ?2 substring, ?3 media type, ?4 limit,
 * ?5 offset, ?6 readers: see readers_arg, ?7 ?8 the keyset cursor: packages after
 * (namespace, name) = (?7, ?8), '' '' from the start; ?9 the trigrams of ?2 in the
 * _TRI variants, see query_trigrams), then one row per release of each, highest
 * first, and one row per manifest of the default (highest) release. With a media type
 * only the releases having a manifest of it count, for the page, the release rows and
 * the default (whose manifests are all listed). Two variants so that the namespace
 * filter is an index range, not a scan (the cursor is one too, being always bound);
 * with a substring of 3 characters or more, the _TRI variants start from the
 * packages holding its rarest trigram (schema/004-search.sql) and check each with
 * the exact rule. CROSS JOIN makes SQLite walk the package's
 * releases (then the manifest primary key) rather than every manifest of the media
 * type for each package. Names compare and sort bytewise (BINARY collation). */
/* Is package p visible to the readers bound as PARAM (readers_arg)? */
#define READERS_SQL(PARAM) \
	"(" PARAM " IS NULL OR p.visibility = 'public'" \
	" OR instr(" PARAM ", ',' || p.namespace || ',') > 0)"

/* Does the release whose id is REL have a manifest of media type ?3 (true when ?3 is
 * NULL)? One look-up in the manifests primary key. */
#define HAS_MEDIA_TYPE_SQL(REL) \
	"(?3 IS NULL OR EXISTS (SELECT 1 FROM manifests mt" \
	" WHERE mt.release_id = " REL " AND mt.media_type = ?3))"

/* The packages holding the rarest of the trigrams bound as PARAM (a JSON array,
 * query_trigrams), as "packages p": candidates only, the caller checks them. */
#define NAMES_TRIGRAM_SQL(PARAM) \
	"(SELECT t.package_id AS id FROM package_trigrams t WHERE t.trigram =" \
	" (SELECT c.trigram FROM trigram_counts c WHERE c.trigram IN" \
	"  (SELECT value FROM json_each(" PARAM ")) ORDER BY c.n LIMIT 1)) f" \
	" CROSS JOIN packages p ON p.id = f.id"

/* The namespace filter and the cursor: every namespace from (?7, ?8) on, or namespace
 * ?1 from name ?8 on (the cursor's namespace is the caller's business there); each
 * one index range. */
#define LIST_ALL_SQL "?1 IS NULL AND (p.namespace, p.name) > (?7, ?8)"
#define LIST_NS_SQL "p.namespace = ?1 AND p.name > ?8"

#define LIST_SQL(FROM, NS_FILTER) \
	"WITH page AS (" \
	" SELECT p.id, p.namespace, p.name, p.visibility FROM " FROM \
	" WHERE " NS_FILTER \
	"  AND (?2 IS NULL OR instr(lower(p.namespace || '/' || p.name), lower(?2)) > 0)" \
	"  AND " READERS_SQL("?6") \
	"  AND (?3 IS NULL OR EXISTS (SELECT 1 FROM releases r CROSS JOIN manifests m" \
	"       ON m.release_id = r.id WHERE r.package_id = p.id AND m.media_type = ?3))" \
	" ORDER BY p.namespace, p.name LIMIT ?4 OFFSET ?5)" \
	" SELECT page.id, page.namespace, page.name, page.visibility," \
	"  r.version, m.media_type, m.created_at" \
	" FROM page JOIN releases r ON r.package_id = page.id" \
	"  AND " HAS_MEDIA_TYPE_SQL("r.id") \
	" LEFT JOIN manifests m ON m.release_id = r.id AND r.id = (SELECT r2.id" \
	"  FROM releases r2 WHERE r2.package_id = page.id" \
	"  AND " HAS_MEDIA_TYPE_SQL("r2.id") " ORDER BY r2.sortkey DESC LIMIT 1)" \
	" ORDER BY page.namespace, page.name, r.sortkey DESC, m.media_type"

static const struct {
	const char *op;                /* for the log line when it fails */
	const char *sql;
} sql_defs[S_COUNT] = {
	[S_BEGIN] = { "begin", "BEGIN" },
	[S_BEGIN_WRITE] = { "begin immediate", "BEGIN IMMEDIATE" },
	[S_COMMIT] = { "commit", "COMMIT" },
	[S_ROLLBACK] = { "rollback", "ROLLBACK" },
	[S_PKG_ID] = { "find package",
		"SELECT id FROM packages WHERE namespace = ?1 AND name = ?2" },
	[S_PKG_INSERT] = { "insert package",
		"INSERT INTO packages (namespace, name, visibility, created_at)"
		" VALUES (?1, ?2, ?3, ?4)" },
	[S_PKG_DELETE_IF_EMPTY] = { "delete package",
		"DELETE FROM packages WHERE id = ?1"
		" AND NOT EXISTS (SELECT 1 FROM releases WHERE package_id = ?1)" },
	[S_REL_ID] = { "find release",
		"SELECT id FROM releases WHERE package_id = ?1 AND version = ?2" },
	[S_REL_INSERT] = { "insert release",
		"INSERT INTO releases (package_id, version, sortkey, created_at)"
		" VALUES (?1, ?2, ?3, ?4)" },
	[S_REL_DELETE] = { "delete release", "DELETE FROM releases WHERE id = ?1" },
	[S_RELEASES_OF] = { "list releases",
		"SELECT r.version FROM packages p JOIN releases r ON r.package_id = p.id"
		" WHERE p.namespace = ?1 AND p.name = ?2 ORDER BY r.sortkey DESC" },
	[S_MAN_DIGEST] = { "find manifest",
		"SELECT digest FROM manifests WHERE release_id = ?1 AND media_type = ?2" },
	[S_MAN_UPSERT] = { "store manifest",
		"INSERT INTO manifests (release_id, media_type, digest, size, metadata, created_at,"
		" blob_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		" ON CONFLICT (release_id, media_type) DO UPDATE SET digest = excluded.digest,"
		" size = excluded.size, metadata = excluded.metadata,"
		" created_at = excluded.created_at, blob_sha256 = excluded.blob_sha256" },
	[S_MAN_DELETE] = { "delete manifest",
		"DELETE FROM manifests WHERE release_id = ?1 AND media_type = ?2" },
	[S_MAN_ANY_OF_RELEASE] = { "count manifests",
		"SELECT 1 FROM manifests WHERE release_id = ?1 LIMIT 1" },
	[S_MAN_ONE] = { "get manifest",
		"SELECT p.id, r.id, m.digest, m.size, m.metadata, m.created_at, m.blob_sha256"
		" FROM packages p JOIN releases r ON r.package_id = p.id"
		" JOIN manifests m ON m.release_id = r.id"
		" WHERE p.namespace = ?1 AND p.name = ?2 AND r.version = ?3"
		" AND m.media_type = ?4" },
	[S_MANIFESTS] = { "get manifests",   /* columns 2..6 as in S_MAN_ONE */
		"SELECT r.version, m.media_type, m.digest, m.size, m.metadata, m.created_at,"
		" m.blob_sha256"
		" FROM releases r JOIN manifests m ON m.release_id = r.id"
		" WHERE r.package_id = ?1 AND (?2 IS NULL OR r.id = ?2)"
		" AND (?3 IS NULL OR m.media_type = ?3)"
		" ORDER BY r.sortkey DESC, m.media_type" },
	[S_DIGEST_USED] = { "find digest",
		"SELECT 1 FROM manifests WHERE digest = ?1 LIMIT 1" },
	[S_BLOB_LOOKUP] = { "find blob",
		"SELECT m.size, m.blob_sha256 FROM manifests m JOIN releases r ON r.id = m.release_id"
		" JOIN packages p ON p.id = r.package_id"
		" WHERE m.digest = ?3 AND p.namespace = ?1 AND p.name = ?2"
		" ORDER BY m.blob_sha256 IS NULL LIMIT 1" },
	[S_CURRENT_OF] = { "channels of release",
		"SELECT name FROM channels WHERE current_release_id = ?1 ORDER BY name" },
	[S_CHANNELS] = { "list channels",
		"SELECT c.id, c.name, cur.version, r.version FROM channels c"
		" JOIN releases cur ON cur.id = c.current_release_id"
		" JOIN channel_releases cr ON cr.channel_id = c.id"
		" JOIN releases r ON r.id = cr.release_id"
		" WHERE c.package_id = ?1 AND (?2 IS NULL OR c.name = ?2)"
		" ORDER BY c.name, r.sortkey DESC" },
	[S_CHAN_ID] = { "find channel",
		"SELECT id FROM channels WHERE package_id = ?1 AND name = ?2" },
	[S_CHAN_INSERT] = { "insert channel",
		"INSERT INTO channels (package_id, name, current_release_id) VALUES (?1, ?2, ?3)" },
	[S_CHAN_SET_CURRENT] = { "set channel current",
		"UPDATE channels SET current_release_id = ?2 WHERE id = ?1" },
	[S_CHAN_MEMBER_ADD] = { "add channel release",
		"INSERT OR IGNORE INTO channel_releases (channel_id, release_id) VALUES (?1, ?2)" },
	[S_CHAN_MEMBER_DEL] = { "remove channel release",
		"DELETE FROM channel_releases WHERE channel_id = ?1 AND release_id = ?2" },
	[S_CHAN_RELEASE_LEAVE] = { "remove release from channels",
		"DELETE FROM channel_releases WHERE release_id = ?1" },
	[S_CHAN_DROP_EMPTY] = { "delete empty channels",
		"DELETE FROM channels WHERE package_id = ?1 AND NOT EXISTS"
		" (SELECT 1 FROM channel_releases cr WHERE cr.channel_id = channels.id)" },
	[S_CHAN_FIX_CURRENT] = { "move channel current",   /* after S_CHAN_DROP_EMPTY */
		"UPDATE channels SET current_release_id = (SELECT cr.release_id"
		"  FROM channel_releases cr JOIN releases r ON r.id = cr.release_id"
		"  WHERE cr.channel_id = channels.id ORDER BY r.sortkey DESC LIMIT 1)"
		" WHERE package_id = ?1 AND NOT EXISTS (SELECT 1 FROM channel_releases cr"
		"  WHERE cr.channel_id = channels.id"
		"  AND cr.release_id = channels.current_release_id)" },
	[S_CHAN_DELETE] = { "delete channel", "DELETE FROM channels WHERE id = ?1" },
	[S_LIST_ALL] = { "list packages", LIST_SQL("packages p", LIST_ALL_SQL) },
	[S_LIST_NS] = { "list packages", LIST_SQL("packages p", LIST_NS_SQL) },
	[S_LIST_ALL_TRI] = { "list packages", LIST_SQL(NAMES_TRIGRAM_SQL("?9"), LIST_ALL_SQL) },
	[S_LIST_NS_TRI] = { "list packages", LIST_SQL(NAMES_TRIGRAM_SQL("?9"), LIST_NS_SQL) },
	[S_SEARCH] = { "search packages",
		"SELECT p.namespace || '/' || p.name FROM packages p"
		" WHERE instr(lower(p.namespace || '/' || p.name), lower(?1)) > 0"
		" AND " READERS_SQL("?3")
		" ORDER BY p.namespace, p.name LIMIT ?2" },
	[S_SEARCH_TRI] = { "search packages",
		"SELECT p.namespace || '/' || p.name FROM " NAMES_TRIGRAM_SQL("?4")
		" WHERE instr(lower(p.namespace || '/' || p.name), lower(?1)) > 0"
		" AND " READERS_SQL("?3")
		" ORDER BY p.namespace, p.name LIMIT ?2" },
	[S_USER_GET] = { "find user",
		"SELECT name, password_hash, created_at FROM users WHERE name = ?1" },
	[S_USER_INSERT] = { "insert user",
		"INSERT INTO users (name, password_hash, created_at) VALUES (?1, ?2, ?3)" },
	[S_USER_UPDATE] = { "update user",
		"UPDATE users SET password_hash = ?2 WHERE name = ?1" },
	[S_USER_DELETE] = { "delete user",          /* grants and tokens cascade */
		"DELETE FROM users WHERE name = ?1" },
	[S_USER_LIST] = { "list users",
		"SELECT name, password_hash, created_at FROM users ORDER BY name" },
	[S_GRANT_SET] = { "set grant",
		"INSERT INTO grants (user, namespace, level) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (user, namespace) DO UPDATE SET level = excluded.level" },
	[S_GRANT_DELETE] = { "delete grant",
		"DELETE FROM grants WHERE user = ?1 AND namespace = ?2" },
	[S_GRANT_LIST_ALL] = { "list grants",
		"SELECT user, namespace, level FROM grants ORDER BY user, namespace" },
	[S_GRANT_LIST_USER] = { "list grants",
		"SELECT user, namespace, level FROM grants WHERE user = ?1 ORDER BY namespace" },
	[S_TOKEN_INSERT] = { "insert token",
		"INSERT INTO tokens (id, user, hash, namespace, scope, expires_at, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)" },
	[S_TOKEN_TAKEN] = { "find token id",
		"SELECT 1 FROM tokens WHERE id = ?1 UNION ALL"
		" SELECT 1 FROM tokens WHERE hash = ?2 LIMIT 1" },
	[S_TOKEN_FIND] = { "find token",   /* columns as the lists' */
		"SELECT id, user, hash, namespace, scope, expires_at, created_at FROM tokens"
		" WHERE hash = ?1" },
	[S_TOKEN_LIST_ALL] = { "list tokens",
		"SELECT id, user, hash, namespace, scope, expires_at, created_at FROM tokens"
		" ORDER BY user, created_at, id" },
	[S_TOKEN_LIST_USER] = { "list tokens",
		"SELECT id, user, hash, namespace, scope, expires_at, created_at FROM tokens"
		" WHERE user = ?1 ORDER BY created_at, id" },
	[S_TOKEN_DELETE] = { "delete token", "DELETE FROM tokens WHERE id = ?1" },
	[S_PKG_VISIBILITY] = { "package visibility",
		"SELECT visibility FROM packages WHERE namespace = ?1 AND name = ?2" },
	[S_BLOB_SHA256] = { "find blob sha256",
		"SELECT blob_sha256 FROM manifests WHERE digest = ?1"
		" AND blob_sha256 IS NOT NULL LIMIT 1" },
	[S_MAN_SET_SHA256] = { "record blob sha256",
		"UPDATE manifests SET blob_sha256 = ?3 WHERE release_id = ?1 AND media_type = ?2" },
	[S_CHART_PUT] = { "store chart",
		"INSERT INTO charts (release_id, chart, chart_problem) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (release_id) DO UPDATE SET chart = excluded.chart,"
		" chart_problem = excluded.chart_problem" },
	[S_CHART_DELETE] = { "delete chart", "DELETE FROM charts WHERE release_id = ?1" },
	[S_CHART_EXAMINED] = { "find chart", "SELECT 1 FROM charts WHERE release_id = ?1" },
	[S_NS_BUMP] = { "bump namespace stamp",
		"INSERT INTO namespaces (name, stamp, changed_at) VALUES (?1, 1, ?2)"
		" ON CONFLICT (name) DO UPDATE SET stamp = stamp + 1,"
		" changed_at = excluded.changed_at" },
	[S_NS_STAMP] = { "namespace stamp",
		"SELECT stamp, changed_at FROM namespaces WHERE name = ?1" },
	/* The namespace's packages in name order (packages UNIQUE), each one's releases
	 * highest first (releases_by_sortkey, walked backwards), its helm manifest and
	 * chart by primary key: no sort, no read outside the namespace. */
	[S_CHARTS] = { "list charts",
		"SELECT p.name, r.version, c.chart, c.chart_problem, p.visibility, m.digest,"
		" m.blob_sha256, m.size, m.created_at"
		" FROM packages p CROSS JOIN releases r ON r.package_id = p.id"
		" CROSS JOIN manifests m ON m.release_id = r.id AND m.media_type = 'helm'"
		" LEFT JOIN charts c ON c.release_id = r.id"
		" WHERE p.namespace = ?1 AND (?2 OR p.visibility = 'public')"
		" ORDER BY p.name, r.sortkey DESC" },
};

/* ---- driver state ---- */

/* Blob files the open write transaction changed, to undo if it does not commit. */
struct sq_fileops {
	char created[PATHBUF];               /* final blob file it made, or "" */
	bool left;                           /* created had to be left (tx_abort) */
	size_t n_trash;
	struct {
		char final[PATHBUF];         /* where the blob was */
		char trash[PATHBUF];         /* where it is until COMMIT */
	} trash[MAX_TRASH];
};

struct sq_storage {
	struct storage base;                 /* first: callers hold &base */
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	int bind_rc;                         /* first bind failure since stmt_get() */
	char blob_dir[PATHBUF];              /* <data_dir>/blobs/sha256 */
	char reserve[PATHBUF];               /* <data_dir>/reserve: see reserve_make */
	char tmp_dir[PATHBUF];               /* <data_dir>/blobs/tmp */
	unsigned long trash_seq;
	struct sq_fileops fo;
	int wal_next_truncate;               /* WAL pages at which to try TRUNCATE next */
};

struct sq_writer {
	struct storage_blob_writer base;     /* first */
	int fd;                              /* -1 once closed */
	char path[PATHBUF];                  /* temp file, "" once moved or removed */
};

struct sq_reader {
	struct storage_blob_reader base;     /* first */
	int fd;
};

/* ---- errors ---- */

static const char *stmt_op(struct sq_storage *ss, sqlite3_stmt *st)
{
	for (int i = 0; i < S_COUNT; i++)
		if (ss->stmt[i] == st)
			return sql_defs[i].op;
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
static int sys_fail(const char *op, const char *path, int e, struct appr_error *err)
{
	fprintf(stderr, "appr: storage: %s %s: %s\n", op, path, strerror(e));
	if (e == ENOSPC || e == EDQUOT)
		return storage_err_full(err);
	return storage_err_internal(err);
}

/* ---- statements: get (reset + cleared here, the one place), bind, step ---- */

static sqlite3_stmt *stmt_get(struct sq_storage *ss, enum sid id)
{
	sqlite3_stmt *st = ss->stmt[id];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	ss->bind_rc = SQLITE_OK;
	return st;
}

static void bind_rc(struct sq_storage *ss, int rc)
{
	if (rc != SQLITE_OK && ss->bind_rc == SQLITE_OK)
		ss->bind_rc = rc;
}

/* Bind text, or SQL NULL when v is NULL. */
static void bind_text(struct sq_storage *ss, sqlite3_stmt *st, int i, const char *v)
{
	bind_rc(ss, v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT)
		      : sqlite3_bind_null(st, i));
}

static void bind_int(struct sq_storage *ss, sqlite3_stmt *st, int i, sqlite3_int64 v)
{
	bind_rc(ss, sqlite3_bind_int64(st, i, v));
}

/* A count where 0 means "no limit": SQLite's -1. */
static void bind_limit(struct sq_storage *ss, sqlite3_stmt *st, int i, size_t v)
{
	bind_int(ss, st, i, v == 0 ? -1 : v > INT64_MAX ? INT64_MAX : (sqlite3_int64)v);
}

/* 1 with a row, 0 when done (st reset), -1 on error (err set, st reset). */
static int step(struct sq_storage *ss, sqlite3_stmt *st, struct appr_error *err)
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
static int run(struct sq_storage *ss, sqlite3_stmt *st, struct appr_error *err)
{
	int r = step(ss, st, err);
	sqlite3_reset(st);
	return r < 0 ? -1 : 0;
}

/* Run a look-up of one integer (column 0): 1 found (*out set), 0 absent, -1 error. */
static int one_id(struct sq_storage *ss, sqlite3_stmt *st, sqlite3_int64 *out,
		  struct appr_error *err)
{
	int r = step(ss, st, err);
	if (r == 1) {
		*out = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
	}
	return r;
}

/* Column i as an arena string, NULL for SQL NULL. */
static const char *col_str(struct arena *a, sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	if (!t)
		return NULL;
	return arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(st, i));
}

/* Column i copied into a fixed buffer of cap > 0 bytes, cut to fit ("" for NULL). */
static void col_copy(char *dst, size_t cap, sqlite3_stmt *st, int i)
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

static int find_package(struct sq_storage *ss, const char *ns, const char *name,
			sqlite3_int64 *id, struct appr_error *err)
{
	sqlite3_stmt *st = stmt_get(ss, S_PKG_ID);
	bind_text(ss, st, 1, ns);
	bind_text(ss, st, 2, name);
	return one_id(ss, st, id, err);
}

static int find_release(struct sq_storage *ss, sqlite3_int64 pkg, const char *release,
			sqlite3_int64 *id, struct appr_error *err)
{
	sqlite3_stmt *st = stmt_get(ss, S_REL_ID);
	bind_int(ss, st, 1, pkg);
	bind_text(ss, st, 2, release);
	return one_id(ss, st, id, err);
}

static int find_channel(struct sq_storage *ss, sqlite3_int64 pkg, const char *channel,
			sqlite3_int64 *id, struct appr_error *err)
{
	sqlite3_stmt *st = stmt_get(ss, S_CHAN_ID);
	bind_int(ss, st, 1, pkg);
	bind_text(ss, st, 2, channel);
	return one_id(ss, st, id, err);
}

/* Is any manifest's blob digest? 1 yes, 0 no, -1 error. */
static int digest_used(struct sq_storage *ss, const char *digest, struct appr_error *err)
{
	sqlite3_stmt *st = stmt_get(ss, S_DIGEST_USED);
	bind_text(ss, st, 1, digest);
	int r = step(ss, st, err);
	sqlite3_reset(st);
	return r;
}

/* s, or NULL when s is NULL or "": what the store records as unset. */
static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* Inside a write transaction: the SHA-256 recorded for the blob digest (by any
 * manifest of it) into out: 1, or 0 when none records it, -1 on error. */
static int recorded_sha256(struct sq_storage *ss, const char *digest,
			   char out[DIGEST_HEX_LEN + 1], struct appr_error *err)
{
	sqlite3_stmt *st = stmt_get(ss, S_BLOB_SHA256);
	bind_text(ss, st, 1, digest);
	int r = step(ss, st, err);
	if (r == 1) {
		col_copy(out, DIGEST_HEX_LEN + 1, st, 0);
		sqlite3_reset(st);
	}
	return r;
}

/* Inside a write transaction: record what the blob of release rel_id's helm manifest
 * was found to be: its chart (which wins when both are given) or the problem; neither:
 * not examined (no charts row). */
static int chart_put(struct sq_storage *ss, sqlite3_int64 rel_id, const char *chart,
		     const char *problem, struct appr_error *err)
{
	chart = nonempty(chart);
	problem = chart ? NULL : nonempty(problem);
	sqlite3_stmt *st = stmt_get(ss, chart || problem ? S_CHART_PUT : S_CHART_DELETE);
	bind_int(ss, st, 1, rel_id);
	if (chart || problem) {
		bind_text(ss, st, 2, chart);
		bind_text(ss, st, 3, problem);
	}
	return run(ss, st, err);
}

/* Inside a write transaction: one more change under namespace ns, made at now. */
static int ns_bump(struct sq_storage *ss, const char *ns, const char *now,
		   struct appr_error *err)
{
	sqlite3_stmt *st = stmt_get(ss, S_NS_BUMP);
	bind_text(ss, st, 1, ns);
	bind_text(ss, st, 2, now);
	return run(ss, st, err);
}

/* 404 package-not-found naming what is missing: the package, the release or the
 * manifest of media_type (release and media_type may be NULL). Always -1. */
static int not_found(struct sq_storage *ss, const char *ns, const char *name,
		     const char *release, const char *media_type, struct appr_error *err)
{
	sqlite3_int64 pkg_id, rel_id;
	int r;

	r = find_package(ss, ns, name, &pkg_id, err);
	if (r < 0)
		return -1;
	if (r == 0 || !release)
		return storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, release, media_type);
	r = find_release(ss, pkg_id, release, &rel_id, err);
	if (r < 0)
		return -1;
	return storage_err_absent(err, r == 0 || !media_type ? STORAGE_NO_RELEASE
			     : STORAGE_NO_MANIFEST, ns, name, release, media_type);
}

/* S_MAN_ONE stepped to the manifest (ns/name, release, media_type): 1 with *out on
 * its row (the caller resets it), 0 when absent (404 set as not_found does), -1. */
static int find_manifest(struct sq_storage *ss, const char *ns, const char *name,
			 const char *release, const char *media_type, sqlite3_stmt **out,
			 struct appr_error *err)
{
	sqlite3_stmt *st = stmt_get(ss, S_MAN_ONE);
	int r;

	bind_text(ss, st, 1, ns);
	bind_text(ss, st, 2, name);
	bind_text(ss, st, 3, release);
	bind_text(ss, st, 4, media_type);
	r = step(ss, st, err);
	if (r == 0)
		not_found(ss, ns, name, release, media_type, err);
	*out = st;
	return r;
}

/* ---- arena arrays ---- */

struct vec {
	void *items;
	size_t n, cap;
};

/* A new zeroed element of size bytes at the end of v (items move when it grows). */
static void *vec_push(struct arena *a, struct vec *v, size_t size)
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

static void vec_push_str(struct arena *a, struct vec *v, const char *s)
{
	*(const char **)vec_push(a, v, sizeof(const char *)) = s;
}

/* ---- files ---- */

/* The only gate between a digest and a path: exactly 64 lowercase hex digits. */
static bool digest_ok(const char *d)
{
	size_t i;

	if (!d)
		return false;
	for (i = 0; i < DIGEST_HEX_LEN; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return false;
	return d[i] == '\0';
}

/* The blob file of digest (or its directory when dir_only). -1 for a bad digest. */
static int blob_path(struct sq_storage *ss, const char *digest, char out[PATHBUF],
		     bool dir_only)
{
	int n;

	if (!digest_ok(digest))
		return -1;
	if (dir_only)
		n = snprintf(out, PATHBUF, "%s/%.2s", ss->blob_dir, digest);
	else
		n = snprintf(out, PATHBUF, "%s/%.2s/%s", ss->blob_dir, digest, digest);
	return n < 0 || n >= PATHBUF ? -1 : 0;
}

static int mkdir_p(const char *path, struct appr_error *err)
{
	int e = util_mkdir_p(path);
	return e ? sys_fail("mkdir", path, e, err) : 0;
}

static int fsync_dir(const char *dir, struct appr_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return sys_fail("open", dir, errno, err);
	if (fsync(fd) < 0)
		rc = sys_fail("fsync", dir, errno, err);
	close(fd);
	return rc;
}

/* ---- transactions ---- */

/* A deferred read transaction: one snapshot for several statements. */
static int tx_read(struct sq_storage *ss, struct appr_error *err)
{
	return run(ss, stmt_get(ss, S_BEGIN), err);
}

static void tx_read_end(struct sq_storage *ss)
{
	if (sqlite3_get_autocommit(ss->db))
		return;
	if (run(ss, stmt_get(ss, S_COMMIT), NULL) < 0 && !sqlite3_get_autocommit(ss->db))
		run(ss, stmt_get(ss, S_ROLLBACK), NULL);
}

/* Take the write lock (waiting up to busy_timeout_ms, then 409). */
static int tx_write(struct sq_storage *ss, struct appr_error *err)
{
	ss->fo.created[0] = '\0';
	ss->fo.n_trash = 0;
	ss->fo.left = false;
	return run(ss, stmt_get(ss, S_BEGIN_WRITE), err);
}

/* Undo the blob file changes and roll back. While the write lock is still held
 * the file made visible is removed; once SQLite has already rolled back (and
 * released the lock) another writer may reference it, so it is left in place
 * (fo.left: the writer then leaves its "pub-" name for the sweep to settle).
 * Dropped blobs are always put back: same digest, same bytes. */
static void tx_abort(struct sq_storage *ss)
{
	bool locked = !sqlite3_get_autocommit(ss->db);
	struct sq_fileops *fo = &ss->fo;

	if (fo->created[0]) {
		if (!locked) {
			fprintf(stderr, "appr: storage: left blob %s for the sweep\n", fo->created);
			fo->left = true;
		} else if (unlink(fo->created) < 0 && errno != ENOENT) {
			sys_fail("unlink", fo->created, errno, NULL);
		}
	}
	for (size_t i = fo->n_trash; i-- > 0;)
		if (rename(fo->trash[i].trash, fo->trash[i].final) < 0 && errno != ENOENT)
			sys_fail("restore blob", fo->trash[i].final, errno, NULL);
	if (locked)
		run(ss, stmt_get(ss, S_ROLLBACK), NULL);
	fo->created[0] = '\0';
	fo->n_trash = 0;
}

/* COMMIT, then delete the dropped blobs for good. On failure everything is undone. */
static int tx_commit(struct sq_storage *ss, struct appr_error *err)
{
	struct sq_fileops *fo = &ss->fo;

	if (run(ss, stmt_get(ss, S_COMMIT), err) < 0) {
		tx_abort(ss);
		return -1;
	}
	for (size_t i = 0; i < fo->n_trash; i++)
		if (unlink(fo->trash[i].trash) < 0 && errno != ENOENT)
			sys_fail("unlink", fo->trash[i].trash, errno, NULL);
	fo->created[0] = '\0';
	fo->n_trash = 0;
	return 0;
}

/* Inside a write transaction: if no manifest references digest any more, move
 * its file aside (deleted at COMMIT, restored otherwise). */
static int drop_if_unreferenced(struct sq_storage *ss, const char *digest,
				struct appr_error *err)
{
	struct sq_fileops *fo = &ss->fo;
	int r = digest_used(ss, digest, err);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (fo->n_trash == MAX_TRASH)
		return storage_err_internal(err);
	char *final = fo->trash[fo->n_trash].final;
	char *trash = fo->trash[fo->n_trash].trash;
	if (blob_path(ss, digest, final, false) < 0) {
		fprintf(stderr, "appr: storage: bad digest in the database\n");
		return storage_err_internal(err);
	}
	int n = snprintf(trash, PATHBUF, "%s/%s.%ld.%lu.del", ss->tmp_dir, digest,
			 (long)getpid(), ++ss->trash_seq);
	if (n < 0 || n >= PATHBUF)
		return sys_fail("rename", final, ENAMETOOLONG, err);
	if (rename(final, trash) < 0) {
		if (errno == ENOENT)
			return 0;             /* already gone: nothing to drop */
		return sys_fail("rename", final, errno, err);
	}
	fo->n_trash++;
	return 0;
}

/* Inside a write transaction: make the temp file tmp (a PATHBUF buffer) the blob
 * file final of digest. tmp is first renamed "pub-<digest>-..." in blobs/tmp and then
 * linked as final: until the transaction ends and the writer removes it, that name
 * says which blob may be published without a reference, so that a process killed
 * before its COMMIT leaves debris the sweep can find (sweep_debris). A final file
 * there already is unreferenced debris (the caller checked): replaced. */
static int blob_publish(struct sq_storage *ss, char *tmp, const char *digest, const char *dir,
			const char *final, struct appr_error *err)
{
	char pub[PATHBUF];
	bool made_dir = false;
	int n = snprintf(pub, sizeof pub, "%s/" PUB_PREFIX "%s-%ld-%lu", ss->tmp_dir, digest,
			 (long)getpid(), ++ss->trash_seq);

	if (n < 0 || n >= PATHBUF)
		return sys_fail("rename", tmp, ENAMETOOLONG, err);
	if (mkdir(dir, 0750) == 0)
		made_dir = true;
	else if (errno != EEXIST)
		return sys_fail("mkdir", dir, errno, err);
	if (rename(tmp, pub) < 0)
		return sys_fail("rename", tmp, errno, err);
	memcpy(tmp, pub, (size_t)n + 1);
	if (unlink(final) < 0 && errno != ENOENT)
		return sys_fail("unlink", final, errno, err);
	if (link(pub, final) < 0)
		return sys_fail("link", final, errno, err);
	snprintf(ss->fo.created, PATHBUF, "%s", final);
	if (ss->base.cfg->fsync) {
		if (fsync_dir(dir, err) < 0)
			return -1;
		if (made_dir && fsync_dir(ss->blob_dir, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- room on a full disk ---- */

/* data_dir/reserve holds RESERVE_BYTES of allocated blocks, so that when the disk
 * fills up a delete can still commit (the WAL must grow first): a delete that finds
 * the disk full releases it and tries again. A push needs it in place (made again
 * when there is room), so pushes alone can never eat the space deletes need. */
static bool reserve_present(struct sq_storage *ss)
{
	struct stat sb;
	return stat(ss->reserve, &sb) == 0 && sb.st_size >= RESERVE_BYTES;
}

static void reserve_make(struct sq_storage *ss)
{
	char tmp[PATHBUF];
	int n = snprintf(tmp, sizeof tmp, "%s.%ld", ss->reserve, (long)getpid());
	if (n < 0 || n >= PATHBUF)
		return;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	int e = posix_fallocate(fd, 0, RESERVE_BYTES);
	close(fd);
	if (e != 0 || rename(tmp, ss->reserve) < 0)
		unlink(tmp);
}

static bool reserve_release(struct sq_storage *ss)
{
	if (unlink(ss->reserve) < 0)
		return false;
	fprintf(stderr, "appr: storage: the disk is full: released %s for a delete\n",
		ss->reserve);
	return true;
}

/* Before a push: 0, or 507 when the reserve is gone and cannot be made again. */
static int reserve_check(struct sq_storage *ss, struct appr_error *err)
{
	if (reserve_present(ss))
		return 0;
	reserve_make(ss);
	return reserve_present(ss) ? 0 : storage_err_full(err);
}

/* ---- open / close ---- */

static int is_trash_name(const char *name)
{
	size_t len = strlen(name);
	char digest[DIGEST_HEX_LEN + 1];

	if (len < DIGEST_HEX_LEN + 4 || strcmp(name + len - 4, ".del") != 0)
		return 0;
	memcpy(digest, name, DIGEST_HEX_LEN);
	digest[DIGEST_HEX_LEN] = '\0';
	return digest_ok(digest) && name[DIGEST_HEX_LEN] == '.';
}

/* Whether no live process holds name (in directory fd dir) open for writing: its
 * writer keeps a flock on it from creation to removal (sq_blob_begin). */
static bool unlocked(int dir, const char *name)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	bool free_ = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;

	if (fd >= 0)
		close(fd);                    /* and with it the probe's lock */
	return free_;
}

/* The digest a "pub-" or ".del" debris name in blobs/tmp is about, or false. */
static bool debris_digest(const char *name, char digest[DIGEST_HEX_LEN + 1])
{
	if (strncmp(name, PUB_PREFIX, strlen(PUB_PREFIX)) == 0)
		name += strlen(PUB_PREFIX);
	else if (!is_trash_name(name))
		return false;
	if (strlen(name) <= DIGEST_HEX_LEN)
		return false;
	memcpy(digest, name, DIGEST_HEX_LEN);
	digest[DIGEST_HEX_LEN] = '\0';
	return digest_ok(digest);
}

/* Under the write lock (no push can be between publishing a blob and its COMMIT),
 * settle the debris names listed in blobs/tmp: a ".del" blob (a delete that died
 * after moving it aside) goes back when still referenced, else away; a "pub-" name
 * (a push that died after publishing its blob, before or at COMMIT) takes its blob
 * with it unless the blob is referenced. */
static void found(struct storage_gc_report *rep, const char *what, const char *path)
{
	if (rep->found)
		rep->found(rep->found_ctx, what, path);
}

static int settle_debris(struct sq_storage *ss, char **names, size_t n, bool dry,
			 struct storage_gc_report *rep, struct appr_error *err)
{
	if (tx_write(ss, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char digest[DIGEST_HEX_LEN + 1], final[PATHBUF], dir[PATHBUF], path[PATHBUF];
		int k = snprintf(path, sizeof path, "%s/%s", ss->tmp_dir, names[i]);
		if (k < 0 || k >= PATHBUF || !debris_digest(names[i], digest) ||
		    blob_path(ss, digest, final, false) < 0 || blob_path(ss, digest, dir, true) < 0)
			continue;
		int used = digest_used(ss, digest, err);
		if (used < 0) {
			tx_read_end(ss);
			return -1;
		}
		struct stat sb;
		if (is_trash_name(names[i])) {
			if (used) {
				found(rep, "blob a killed delete moved aside, still referenced:",
				      path);
				if (dry || ((mkdir(dir, 0750) == 0 || errno == EEXIST) &&
					    rename(path, final) == 0)) {
					if (!dry)
						fprintf(stderr, "appr: storage: restored blob %s\n",
							final);
					rep->blobs_restored++;
				}
			} else if (stat(path, &sb) == 0) {
				found(rep, "unreferenced blob", path);
				if (dry || unlink(path) == 0) {
					rep->unreferenced_blobs++;
					rep->bytes_freed += sb.st_size;
				}
			}
			continue;
		}
		if (!used && stat(final, &sb) == 0) {
			found(rep, "unreferenced blob", final);
			if (dry || unlink(final) == 0) {
				if (!dry)
					fprintf(stderr, "appr: storage: removed blob %s, published by "
						"a push that did not commit\n", final);
				rep->unreferenced_blobs++;
				rep->bytes_freed += sb.st_size;
			}
		}
		if (!dry && unlink(path) < 0 && errno != ENOENT)
			sys_fail("unlink", path, errno, NULL);
	}
	tx_read_end(ss);                      /* no database change: just end it */
	return 0;
}

/* Sweep what dead processes left in blobs/tmp: temp files no process writes any
 * more (older than SWEEP_MIN_AGE: the moment between mkstemp and its lock), and the
 * debris names settle_debris handles. Runs at every open (the directory holds only
 * what is in flight) and in gc. */
static int sweep_debris(struct sq_storage *ss, bool dry, struct storage_gc_report *rep,
			struct appr_error *err)
{
	DIR *d = opendir(ss->tmp_dir);
	struct dirent *de;
	struct stat sb;
	time_t now = time(NULL);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d)
		return sys_fail("opendir", ss->tmp_dir, errno, err);
	while ((de = readdir(d))) {
		char digest[DIGEST_HEX_LEN + 1];
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (debris_digest(de->d_name, digest)) {
			if (!is_trash_name(de->d_name) && !unlocked(dirfd(d), de->d_name))
				continue;             /* its push is alive */
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				names = xrealloc(names, cap * sizeof *names);
			}
			names[n++] = xstrdup(de->d_name);
		} else if (strncmp(de->d_name, "blob-", 5) == 0 &&
			   now - sb.st_mtime > SWEEP_MIN_AGE && unlocked(dirfd(d), de->d_name)) {
			char path[PATHBUF];
			int k = snprintf(path, sizeof path, "%s/%s", ss->tmp_dir, de->d_name);
			if (k < 0 || k >= PATHBUF)
				continue;
			found(rep, "temp file of a dead upload", path);
			if (dry || unlinkat(dirfd(d), de->d_name, 0) == 0) {
				rep->temp_files++;
				rep->bytes_freed += sb.st_size;
			}
		}
	}
	closedir(d);
	if (n > 0)
		rc = settle_debris(ss, names, n, dry, rep, err);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Run one statement (a PRAGMA, BEGIN, COMMIT) once; copy the first column of its
 * first row into out when given. Returns the SQLite result code. */
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
	int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	if (rc == SQLITE_OK) {
		ss->wal_next_truncate = WAL_TRUNCATE_PAGES;
	} else {
		/* a reader held on past the busy timeout: not at every commit from now on */
		ss->wal_next_truncate = pages + WAL_PASSIVE_PAGES;
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
	if (pragma(ss, ss->base.cfg->fsync ? "PRAGMA synchronous=FULL"
					    : "PRAGMA synchronous=NORMAL", NULL, 0, err) < 0 ||
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
		return 0;
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
	if (mkdir_p(cfg->data_dir, err) < 0 || mkdir_p(ss->blob_dir, err) < 0 ||
	    mkdir_p(ss->tmp_dir, err) < 0)
		goto fail;

	rc = sqlite3_open_v2(path, &ss->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		db_fail(ss, rc, "open", err);
		goto fail;
	}
	sqlite3_busy_timeout(ss->db, cfg->busy_timeout_ms > INT_MAX
				     ? INT_MAX : (int)cfg->busy_timeout_ms);
	if (configure_db(ss, err) < 0 || migrate(ss, err) < 0)
		goto fail;
	for (int i = 0; i < S_COUNT; i++) {
		rc = sqlite3_prepare_v3(ss->db, sql_defs[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
					&ss->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			db_fail(ss, rc, sql_defs[i].op, err);
			goto fail;
		}
	}
	struct storage_gc_report swept = { 0 };
	struct appr_error e = { 0 };
	if (sweep_debris(ss, false, &swept, &e) < 0)  /* busy: left for a later open or gc */
		fprintf(stderr, "appr: storage: sweeping blobs/tmp: %s\n", e.msg);
	if (!reserve_present(ss))
		reserve_make(ss);
	*out = &ss->base;
	return 0;
fail:
	sq_close(&ss->base);
	return -1;
}

/* ---- blobs ---- */

/* The temp file goes first, then its lock (the sweep takes an unlocked one for
 * debris). */
static void writer_free(struct sq_writer *w)
{
	if (w->path[0] && unlink(w->path) < 0 && errno != ENOENT)
		sys_fail("unlink", w->path, errno, NULL);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

static int sq_blob_begin(struct storage *s, struct storage_blob_writer **out,
			 struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	struct sq_writer *w = xcalloc(1, sizeof *w);

	*out = NULL;
	w->base.s = s;
	int n = snprintf(w->path, PATHBUF, "%s/blob-XXXXXX", ss->tmp_dir);
	w->fd = n < 0 || n >= PATHBUF ? (errno = ENAMETOOLONG, -1) : mkstemp(w->path);
	if (w->fd < 0) {
		sys_fail("mkstemp", w->path, errno, err);
		w->path[0] = '\0';
		writer_free(w);
		return -1;
	}
	if (fcntl(w->fd, F_SETFD, FD_CLOEXEC) < 0 || fchmod(w->fd, 0640) < 0 ||
	    flock(w->fd, LOCK_EX | LOCK_NB) < 0) {   /* held while this process lives */
		sys_fail("chmod", w->path, errno, err);
		writer_free(w);
		return -1;
	}
	*out = &w->base;
	return 0;
}

static int sq_blob_write(struct storage_blob_writer *bw, const void *data, size_t len,
			 struct appr_error *err)
{
	struct sq_writer *w = (struct sq_writer *)bw;
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sys_fail("write", w->path, errno, err);
		}
		if (n == 0)
			return sys_fail("write", w->path, EIO, err);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void sq_blob_abort(struct storage_blob_writer *bw)
{
	writer_free((struct sq_writer *)bw);
}

static int sq_blob_lookup(struct storage *s, const char *ns, const char *name,
			  const char *digest, long long *size, char sha256[DIGEST_HEX_LEN + 1],
			  struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;

	if (digest_ok(digest)) {
		sqlite3_stmt *st = stmt_get(ss, S_BLOB_LOOKUP);
		bind_text(ss, st, 1, ns);
		bind_text(ss, st, 2, name);
		bind_text(ss, st, 3, digest);
		int r = step(ss, st, err);
		if (r == 1) {
			*size = sqlite3_column_int64(st, 0);
			col_copy(sha256, DIGEST_HEX_LEN + 1, st, 1);
			sqlite3_reset(st);
			return 0;
		}
		if (r < 0)
			return -1;
	}
	return storage_err_blob_absent(err, ns, name, digest);
}

static int sq_blob_open(struct storage *s, const char *digest,
			struct storage_blob_reader **out, long long *size,
			struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	char path[PATHBUF];
	struct stat sb;
	int fd;

	*out = NULL;
	if (blob_path(ss, digest, path, false) < 0)
		return storage_err_blob_absent(err, NULL, NULL, NULL);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return storage_err_blob_absent(err, NULL, NULL, digest);
		return sys_fail("open", path, errno, err);
	}
	if (fstat(fd, &sb) < 0) {
		sys_fail("fstat", path, errno, err);
		close(fd);
		return -1;
	}
	struct sq_reader *r = xcalloc(1, sizeof *r);
	r->base.s = s;
	r->fd = fd;
	*size = sb.st_size;
	*out = &r->base;
	return 0;
}

static int sq_blob_path(struct storage *s, const char *digest, char *out, size_t cap,
			struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	char path[PATHBUF], cwd[PATHBUF];
	struct stat sb;
	int n;

	if (blob_path(ss, digest, path, false) < 0)
		return storage_err_blob_absent(err, NULL, NULL, NULL);
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return storage_err_blob_absent(err, NULL, NULL, digest);
		return sys_fail("stat", path, errno, err);
	}
	if (path[0] == '/')
		n = snprintf(out, cap, "%s", path);
	else if (getcwd(cwd, sizeof cwd))
		n = snprintf(out, cap, "%s/%s", cwd, path);
	else
		return sys_fail("getcwd", path, errno, err);
	if (n < 0 || (size_t)n >= cap)
		return sys_fail("blob path", path, ENAMETOOLONG, err);
	return 0;
}

static long sq_blob_read(struct storage_blob_reader *br, void *buf, size_t len)
{
	struct sq_reader *r = (struct sq_reader *)br;
	ssize_t n;

	if (len > LONG_MAX)
		len = LONG_MAX;
	do
		n = read(r->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		sys_fail("read", "blob", errno, NULL);
	return (long)n;
}

static void sq_blob_close(struct storage_blob_reader *br)
{
	struct sq_reader *r = (struct sq_reader *)br;

	if (!r)
		return;
	close(r->fd);
	free(r);
}

/* ---- releases ---- */

/* fsync (when configured) the temp file; *size is its length. It stays open (and
 * locked) until writer_free. */
static int writer_finish(struct sq_storage *ss, struct sq_writer *w, long long *size,
			 struct appr_error *err)
{
	struct stat sb;

	if (ss->base.cfg->fsync && fsync(w->fd) < 0)
		return sys_fail("fsync", w->path, errno, err);
	if (fstat(w->fd, &sb) < 0)
		return sys_fail("fstat", w->path, errno, err);
	*size = sb.st_size;
	return 0;
}

static int sq_put_release(struct storage *s, const struct storage_push *p,
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
	bool stored;
	int keylen, r, rc = -1;

	if (blob_path(ss, p->digest, final, false) < 0 ||
	    blob_path(ss, p->digest, dir, true) < 0) {
		fprintf(stderr, "appr: storage: put_release: bad digest\n");
		storage_err_internal(err);
		goto out;
	}
	keylen = semver_sortkey(p->release, key, sizeof key);
	if (keylen < 0) {
		storage_err_not_semver(err, p);
		goto out;
	}
	if (writer_finish(ss, w, &size, err) < 0 || reserve_check(ss, err) < 0)
		goto out;
	util_utc_now(now);

	if (tx_write(ss, err) < 0)
		goto out;
	r = find_package(ss, p->ns, p->name, &pkg_id, err);
	if (r < 0)
		goto out;
	if (r == 0) {
		st = stmt_get(ss, S_PKG_INSERT);
		bind_text(ss, st, 1, p->ns);
		bind_text(ss, st, 2, p->name);
		bind_text(ss, st, 3, p->visibility ? p->visibility : "public");
		bind_text(ss, st, 4, created);
		if (run(ss, st, err) < 0)
			goto out;
		pkg_id = sqlite3_last_insert_rowid(ss->db);
	}
	r = find_release(ss, pkg_id, p->release, &rel_id, err);
	if (r < 0)
		goto out;
	if (r == 0) {
		st = stmt_get(ss, S_REL_INSERT);
		bind_int(ss, st, 1, pkg_id);
		bind_text(ss, st, 2, p->release);
		bind_rc(ss, sqlite3_bind_blob(st, 3, key, keylen, SQLITE_TRANSIENT));
		bind_text(ss, st, 4, created);
		if (run(ss, st, err) < 0)
			goto out;
		rel_id = sqlite3_last_insert_rowid(ss->db);
	}

	st = stmt_get(ss, S_MAN_DIGEST);
	bind_int(ss, st, 1, rel_id);
	bind_text(ss, st, 2, p->media_type);
	r = step(ss, st, err);
	if (r < 0)
		goto out;
	if (r == 1) {
		col_copy(old, sizeof old, st, 0);
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
		sys_fail("stat", final, errno, err);
		goto out;
	}
	stored = r == 0;
	if (stored) {
		/* unreferenced: left by a push that died before its COMMIT, maybe torn
		 * (fsync = false): replaced by these bytes */
		r = digest_used(ss, p->digest, err);
		if (r < 0)
			goto out;
		stored = r == 1;
	}
	if (stored) {
		size = sb.st_size;
		if (recorded_sha256(ss, p->digest, sha, err) < 0)
			goto out;
	} else if (digest_ok(p->blob_sha256)) {
		memcpy(sha, p->blob_sha256, sizeof sha);
	}
	st = stmt_get(ss, S_MAN_UPSERT);
	bind_int(ss, st, 1, rel_id);
	bind_text(ss, st, 2, p->media_type);
	bind_text(ss, st, 3, p->digest);
	bind_int(ss, st, 4, size);
	bind_text(ss, st, 5, p->metadata);
	bind_text(ss, st, 6, created);
	bind_text(ss, st, 7, nonempty(sha));
	if (run(ss, st, err) < 0 || ns_bump(ss, p->ns, now, err) < 0)
		goto out;
	if (helm && chart_put(ss, rel_id, p->chart, p->chart_problem, err) < 0)
		goto out;
	if (old[0] && strcmp(old, p->digest) != 0 && drop_if_unreferenced(ss, old, err) < 0)
		goto out;
	if (!stored) {
		if (blob_publish(ss, w->path, p->digest, dir, final, err) < 0)
			goto out;
	}
	rc = tx_commit(ss, err);              /* undoes everything itself on failure */
out:
	if (rc < 0)
		tx_abort(ss);                     /* no-op outside a transaction */
	if (ss->fo.left)
		w->path[0] = '\0';            /* its pub- name stays for the sweep */
	writer_free(w);                       /* removes the temp (or pub-) file */
	return rc;
}

static int sq_list_releases(struct storage *s, const char *ns, const char *name,
			    struct arena *a, const char ***out, size_t *n,
			    struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = stmt_get(ss, S_RELEASES_OF);
	struct vec v = { 0 };
	int r;

	bind_text(ss, st, 1, ns);
	bind_text(ss, st, 2, name);
	while ((r = step(ss, st, err)) == 1)
		vec_push_str(a, &v, col_str(a, st, 0));
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
	col_copy(m->digest, sizeof m->digest, st, 2);
	m->size = sqlite3_column_int64(st, 3);
	m->metadata = col_str(a, st, 4);
	col_copy(m->created_at, sizeof m->created_at, st, 5);
	col_copy(m->blob_sha256, sizeof m->blob_sha256, st, 6);
}

static int sq_get_manifests(struct storage *s, const char *ns, const char *name,
			    const char *release, const char *media_type, struct arena *a,
			    struct storage_manifest **out, size_t *n, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id, rel_id = 0;
	sqlite3_stmt *st;
	struct vec v = { 0 };
	const char *pkg;
	int r, rc = -1;

	if (tx_read(ss, err) < 0)
		return -1;
	r = find_package(ss, ns, name, &pkg_id, err);
	if (r == 1 && release)
		r = find_release(ss, pkg_id, release, &rel_id, err);
	if (r == 0)
		not_found(ss, ns, name, release, NULL, err);
	if (r != 1)
		goto out;

	pkg = arena_printf(a, "%s/%s", ns, name);
	st = stmt_get(ss, S_MANIFESTS);
	bind_int(ss, st, 1, pkg_id);
	if (release)
		bind_int(ss, st, 2, rel_id);
	bind_text(ss, st, 3, media_type);
	while ((r = step(ss, st, err)) == 1) {
		struct storage_manifest *m = vec_push(a, &v, sizeof *m);
		m->package = pkg;
		m->release = col_str(a, st, 0);
		m->media_type = col_str(a, st, 1);
		fill_manifest(a, st, m);
	}
	if (r < 0)
		goto out;
	*out = v.items;
	*n = v.n;
	rc = 0;
out:
	tx_read_end(ss);
	return rc;
}

static int sq_get_manifest(struct storage *s, const char *ns, const char *name,
			   const char *release, const char *media_type, struct arena *a,
			   struct storage_manifest *out, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;
	sqlite3_int64 rel_id;
	struct vec chans = { 0 };
	int r, rc = -1;

	memset(out, 0, sizeof *out);
	if (tx_read(ss, err) < 0)
		return -1;
	if (find_manifest(ss, ns, name, release, media_type, &st, err) != 1)
		goto out;
	rel_id = sqlite3_column_int64(st, 1);
	out->package = arena_printf(a, "%s/%s", ns, name);
	out->release = arena_strdup(a, release);
	out->media_type = arena_strdup(a, media_type);
	fill_manifest(a, st, out);
	sqlite3_reset(st);

	st = stmt_get(ss, S_CURRENT_OF);
	bind_int(ss, st, 1, rel_id);
	while ((r = step(ss, st, err)) == 1)
		vec_push_str(a, &chans, col_str(a, st, 0));
	if (r < 0)
		goto out;
	out->channels = chans.items;
	out->n_channels = chans.n;
	rc = 0;
out:
	tx_read_end(ss);
	return rc;
}

/* Inside a write transaction: delete emptied channels of the package, then move
 * the current of every channel whose current is no longer a member to its
 * highest remaining release. */
static int channels_repair(struct sq_storage *ss, sqlite3_int64 pkg_id,
			   struct appr_error *err)
{
	sqlite3_stmt *st = stmt_get(ss, S_CHAN_DROP_EMPTY);
	bind_int(ss, st, 1, pkg_id);
	if (run(ss, st, err) < 0)
		return -1;
	st = stmt_get(ss, S_CHAN_FIX_CURRENT);
	bind_int(ss, st, 1, pkg_id);
	return run(ss, st, err);
}

static int delete_manifest_once(struct sq_storage *ss, const char *ns, const char *name,
				const char *release, const char *media_type,
				struct appr_error *err);

static int sq_delete_manifest(struct storage *s, const char *ns, const char *name,
			      const char *release, const char *media_type,
			      struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	int rc = delete_manifest_once(ss, ns, name, release, media_type, err);
	if (rc < 0 && err->http == 507 && reserve_release(ss))
		rc = delete_manifest_once(ss, ns, name, release, media_type, err);
	if (rc == 0 && !reserve_present(ss))
		reserve_make(ss);             /* when the delete made room */
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
	if (tx_write(ss, err) < 0 ||
	    find_manifest(ss, ns, name, release, media_type, &st, err) != 1)
		goto fail;
	pkg_id = sqlite3_column_int64(st, 0);
	rel_id = sqlite3_column_int64(st, 1);
	col_copy(digest, sizeof digest, st, 2);
	sqlite3_reset(st);

	st = stmt_get(ss, S_MAN_DELETE);
	bind_int(ss, st, 1, rel_id);
	bind_text(ss, st, 2, media_type);
	if (run(ss, st, err) < 0)
		goto fail;
	if (strcmp(media_type, "helm") == 0 && chart_put(ss, rel_id, NULL, NULL, err) < 0)
		goto fail;
	st = stmt_get(ss, S_MAN_ANY_OF_RELEASE);
	bind_int(ss, st, 1, rel_id);
	r = step(ss, st, err);
	sqlite3_reset(st);
	if (r < 0)
		goto fail;
	if (r == 0) {
		/* the release goes with its last manifest: out of every channel first */
		st = stmt_get(ss, S_CHAN_RELEASE_LEAVE);
		bind_int(ss, st, 1, rel_id);
		if (run(ss, st, err) < 0 || channels_repair(ss, pkg_id, err) < 0)
			goto fail;
		st = stmt_get(ss, S_REL_DELETE);
		bind_int(ss, st, 1, rel_id);
		if (run(ss, st, err) < 0)
			goto fail;
		st = stmt_get(ss, S_PKG_DELETE_IF_EMPTY);
		bind_int(ss, st, 1, pkg_id);
		if (run(ss, st, err) < 0)
			goto fail;
	}
	if (ns_bump(ss, ns, now, err) < 0 || drop_if_unreferenced(ss, digest, err) < 0)
		goto fail;
	return tx_commit(ss, err);
fail:
	tx_abort(ss);
	return -1;
}

/* Close the package row being filled in list_packages. */
static void package_done(struct storage_package *p, struct vec *rels, struct vec *types)
{
	p->releases = rels->items;
	p->n_releases = rels->n;
	p->media_types = types->items;
	p->n_media_types = types->n;
	memset(rels, 0, sizeof *rels);
	memset(types, 0, sizeof *types);
}

/* The readers of a listing as bound to READERS_SQL's parameter: NULL (SQL NULL:
 * every private package visible) for no readers or readers->all, else
 * ",ns1,ns2,...," (namespace names hold no comma), "," for none. A "*" among the
 * namespaces means every namespace. */
static const char *readers_arg(struct arena *a, const struct storage_readers *r)
{
	size_t len = 2;
	char *out, *p;

	if (!r || r->all)
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->namespaces[i], "*") == 0)
			return NULL;
		len += strlen(r->namespaces[i]) + 1;
	}
	p = out = arena_alloc(a, len);
	*p++ = ',';
	for (size_t i = 0; i < r->n; i++) {
		size_t l = strlen(r->namespaces[i]);
		memcpy(p, r->namespaces[i], l);
		p += l;
		*p++ = ',';
	}
	*p = '\0';
	return out;
}

/* The trigrams of lower(text) as a JSON array of strings, or NULL when the trigram
 * index cannot answer text: shorter than 3 bytes, or holding a byte no name holds
 * (not printable ASCII: no name can match, the scan says so). */
static const char *query_trigrams(struct arena *a, const char *text)
{
	size_t len = strlen(text);
	if (len < 3)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] >= 0x7f)
			return NULL;
	/* at most 6 bytes per character escaped, 3 for quotes and a comma */
	char *out = arena_alloc(a, (len - 2) * (3 * 2 + 3) + 3), *o = out;
	*o++ = '[';
	for (size_t i = 0; i + 3 <= len; i++) {
		if (i)
			*o++ = ',';
		*o++ = '"';
		for (size_t j = i; j < i + 3; j++) {
			char c = text[j];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c == '"' || c == '\\')
				*o++ = '\\';
			*o++ = c;
		}
		*o++ = '"';
	}
	*o++ = ']';
	*o = '\0';
	return out;
}

static int sq_list_packages(struct storage *s, const struct storage_list_query *q,
			    struct arena *a, struct storage_package **out, size_t *n,
			    struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	const char *tri = q->query ? query_trigrams(a, q->query) : NULL;
	const char *after_name = q->after_ns && q->after_name ? q->after_name : "";
	if (q->namespace && q->after_ns) {     /* the cursor against the namespace */
		int c = strcmp(q->after_ns, q->namespace);
		if (c > 0) {
			*out = NULL;          /* the namespace is wholly before the cursor */
			*n = 0;
			return 0;
		}
		if (c < 0)
			after_name = "";      /* wholly after it */
	}
	sqlite3_stmt *st = stmt_get(ss, tri ? (q->namespace ? S_LIST_NS_TRI : S_LIST_ALL_TRI)
					       : (q->namespace ? S_LIST_NS : S_LIST_ALL));
	struct vec pkgs = { 0 }, rels = { 0 }, types = { 0 };
	struct storage_package *cur = NULL;
	sqlite3_int64 cur_id = -1;
	const char *last_rel = NULL;
	int r;

	bind_text(ss, st, 1, q->namespace);
	bind_text(ss, st, 2, q->query);
	bind_text(ss, st, 3, q->media_type);
	bind_limit(ss, st, 4, q->limit);
	bind_int(ss, st, 5, q->offset > INT64_MAX ? INT64_MAX : (sqlite3_int64)q->offset);
	bind_text(ss, st, 6, readers_arg(a, q->readers));
	if (!q->namespace)
		bind_text(ss, st, 7, q->after_ns ? q->after_ns : "");
	bind_text(ss, st, 8, after_name);
	if (tri)
		bind_text(ss, st, 9, tri);
	while ((r = step(ss, st, err)) == 1) {
		sqlite3_int64 id = sqlite3_column_int64(st, 0);
		const char *version = (const char *)sqlite3_column_text(st, 4);
		if (id != cur_id) {
			if (cur)
				package_done(cur, &rels, &types);
			cur = vec_push(a, &pkgs, sizeof *cur);
			cur_id = id;
			cur->package = arena_printf(a, "%s/%s",
						    (const char *)sqlite3_column_text(st, 1),
						    (const char *)sqlite3_column_text(st, 2));
			cur->visibility = col_str(a, st, 3);
			cur->default_release = col_str(a, st, 4);   /* highest comes first */
			last_rel = NULL;
		}
		if (!last_rel || strcmp(last_rel, version ? version : "") != 0) {
			last_rel = col_str(a, st, 4);
			vec_push_str(a, &rels, last_rel);
		}
		if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
			const char *created = (const char *)sqlite3_column_text(st, 6);
			vec_push_str(a, &types, col_str(a, st, 5));
			if (created && strcmp(created, cur->created_at) > 0)
				snprintf(cur->created_at, sizeof cur->created_at, "%s", created);
		}
	}
	if (r < 0)
		return -1;
	if (cur)
		package_done(cur, &rels, &types);
	*out = pkgs.items;
	*n = pkgs.n;
	return 0;
}

static int sq_search(struct storage *s, const char *text,
		     const struct storage_readers *readers, size_t limit, struct arena *a,
		     const char ***out, size_t *n, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	const char *tri = query_trigrams(a, text ? text : "");
	sqlite3_stmt *st = stmt_get(ss, tri ? S_SEARCH_TRI : S_SEARCH);
	struct vec v = { 0 };
	int r;

	bind_text(ss, st, 1, text ? text : "");
	bind_limit(ss, st, 2, limit);
	bind_text(ss, st, 3, readers_arg(a, readers));
	if (tri)
		bind_text(ss, st, 4, tri);
	while ((r = step(ss, st, err)) == 1)
		vec_push_str(a, &v, col_str(a, st, 0));
	if (r < 0)
		return -1;
	*out = v.items;
	*n = v.n;
	return 0;
}

/* ---- channels ---- */

/* Channels of a package (only the one named channel when not NULL), by name, each
 * with its releases highest first. */
static int read_channels(struct sq_storage *ss, sqlite3_int64 pkg_id, const char *channel,
			 struct arena *a, struct vec *out, struct appr_error *err)
{
	sqlite3_stmt *st = stmt_get(ss, S_CHANNELS);
	struct storage_channel *cur = NULL;
	struct vec rels = { 0 };
	sqlite3_int64 cur_id = -1;
	int r;

	bind_int(ss, st, 1, pkg_id);
	bind_text(ss, st, 2, channel);
	while ((r = step(ss, st, err)) == 1) {
		sqlite3_int64 id = sqlite3_column_int64(st, 0);
		if (id != cur_id) {
			if (cur) {
				cur->releases = rels.items;
				cur->n_releases = rels.n;
				memset(&rels, 0, sizeof rels);
			}
			cur = vec_push(a, out, sizeof *cur);
			cur_id = id;
			cur->name = col_str(a, st, 1);
			cur->current = col_str(a, st, 2);
		}
		vec_push_str(a, &rels, col_str(a, st, 3));
	}
	if (r < 0)
		return -1;
	if (cur) {
		cur->releases = rels.items;
		cur->n_releases = rels.n;
	}
	return 0;
}

static int sq_list_channels(struct storage *s, const char *ns, const char *name,
			    struct arena *a, struct storage_channel **out, size_t *n,
			    struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id;
	struct vec v = { 0 };
	int r, rc = -1;

	if (tx_read(ss, err) < 0)
		return -1;
	r = find_package(ss, ns, name, &pkg_id, err);
	if (r == 0)
		storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, NULL, NULL);
	if (r != 1 || read_channels(ss, pkg_id, NULL, a, &v, err) < 0)
		goto out;
	*out = v.items;
	*n = v.n;
	rc = 0;
out:
	tx_read_end(ss);
	return rc;
}

static int sq_get_channel(struct storage *s, const char *ns, const char *name,
			  const char *channel, struct arena *a, struct storage_channel *out,
			  struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id;
	struct vec v = { 0 };
	int r, rc = -1;

	if (tx_read(ss, err) < 0)
		return -1;
	r = find_package(ss, ns, name, &pkg_id, err);
	if (r == 0)
		storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, NULL, NULL);
	if (r != 1 || read_channels(ss, pkg_id, channel, a, &v, err) < 0)
		goto out;
	if (v.n == 0) {
		storage_err_channel_absent(err, ns, name, channel);
		goto out;
	}
	*out = *(struct storage_channel *)v.items;
	rc = 0;
out:
	tx_read_end(ss);
	return rc;
}

static int sq_channel_add(struct storage *s, const char *ns, const char *name,
			  const char *channel, const char *release, struct arena *a,
			  struct storage_channel *out, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id, rel_id, chan_id;
	sqlite3_stmt *st;
	struct vec v = { 0 };
	int r;

	if (tx_write(ss, err) < 0)
		goto fail;
	r = find_package(ss, ns, name, &pkg_id, err);
	if (r == 1)
		r = find_release(ss, pkg_id, release, &rel_id, err);
	if (r == 0)
		not_found(ss, ns, name, release, NULL, err);
	if (r != 1)
		goto fail;
	r = find_channel(ss, pkg_id, channel, &chan_id, err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		st = stmt_get(ss, S_CHAN_INSERT);
		bind_int(ss, st, 1, pkg_id);
		bind_text(ss, st, 2, channel);
		bind_int(ss, st, 3, rel_id);
		if (run(ss, st, err) < 0)
			goto fail;
		chan_id = sqlite3_last_insert_rowid(ss->db);
	}
	st = stmt_get(ss, S_CHAN_MEMBER_ADD);
	bind_int(ss, st, 1, chan_id);
	bind_int(ss, st, 2, rel_id);
	if (run(ss, st, err) < 0)
		goto fail;
	st = stmt_get(ss, S_CHAN_SET_CURRENT);
	bind_int(ss, st, 1, chan_id);
	bind_int(ss, st, 2, rel_id);
	if (run(ss, st, err) < 0 || read_channels(ss, pkg_id, channel, a, &v, err) < 0)
		goto fail;
	if (v.n != 1) {
		fprintf(stderr, "appr: storage: channel %s vanished while adding to it\n", channel);
		storage_err_internal(err);
		goto fail;
	}
	*out = *(struct storage_channel *)v.items;
	return tx_commit(ss, err);
fail:
	tx_abort(ss);
	return -1;
}

/* Inside a write transaction: the channel's package and id, or 404 channel-not-found. */
static int find_package_channel(struct sq_storage *ss, const char *ns, const char *name,
				const char *channel, sqlite3_int64 *pkg_id,
				sqlite3_int64 *chan_id, struct appr_error *err)
{
	int r = find_package(ss, ns, name, pkg_id, err);
	if (r == 1)
		r = find_channel(ss, *pkg_id, channel, chan_id, err);
	if (r == 0)
		storage_err_channel_absent(err, ns, name, channel);
	return r == 1 ? 0 : -1;
}

static int sq_channel_remove(struct storage *s, const char *ns, const char *name,
			     const char *channel, const char *release, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id, chan_id, rel_id;
	sqlite3_stmt *st;
	int r;

	if (tx_write(ss, err) < 0 ||
	    find_package_channel(ss, ns, name, channel, &pkg_id, &chan_id, err) < 0)
		goto fail;
	r = find_release(ss, pkg_id, release, &rel_id, err);
	if (r < 0)
		goto fail;
	if (r == 1) {
		st = stmt_get(ss, S_CHAN_MEMBER_DEL);
		bind_int(ss, st, 1, chan_id);
		bind_int(ss, st, 2, rel_id);
		if (run(ss, st, err) < 0)
			goto fail;
		r = sqlite3_changes(ss->db) > 0;
	}
	if (r == 0) {
		storage_err_not_in_channel(err, ns, name, channel, release);
		goto fail;
	}
	if (channels_repair(ss, pkg_id, err) < 0)
		goto fail;
	return tx_commit(ss, err);
fail:
	tx_abort(ss);
	return -1;
}

static int sq_channel_delete(struct storage *s, const char *ns, const char *name,
			     const char *channel, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id, chan_id;
	sqlite3_stmt *st;

	if (tx_write(ss, err) < 0 ||
	    find_package_channel(ss, ns, name, channel, &pkg_id, &chan_id, err) < 0)
		goto fail;
	st = stmt_get(ss, S_CHAN_DELETE);
	bind_int(ss, st, 1, chan_id);
	if (run(ss, st, err) < 0)
		goto fail;
	return tx_commit(ss, err);
fail:
	tx_abort(ss);
	return -1;
}

/* ---- users, grants, tokens ---- */

/* Inside a transaction: does user name exist? 1 yes, 0 no, -1 error. */
static int user_exists(struct sq_storage *ss, const char *name, struct appr_error *err)
{
	sqlite3_stmt *st = stmt_get(ss, S_USER_GET);
	bind_text(ss, st, 1, name);
	int r = step(ss, st, err);
	sqlite3_reset(st);
	return r;
}

static int sq_user_put(struct storage *s, const char *name, const char *password_hash,
		       bool create, const char *created_at, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;
	char now[32];
	int r;

	if (tx_write(ss, err) < 0)
		goto fail;
	r = user_exists(ss, name, err);
	if (r < 0)
		goto fail;
	if (create && r == 1) {
		storage_err_user_exists(err, name);
		goto fail;
	}
	if (!create && r == 0) {
		storage_err_user_absent(err, name);
		goto fail;
	}
	if (create) {
		if (created_at)
			snprintf(now, sizeof now, "%s", created_at);
		else
			util_utc_now(now);
		st = stmt_get(ss, S_USER_INSERT);
		bind_text(ss, st, 1, name);
		bind_text(ss, st, 2, password_hash);
		bind_text(ss, st, 3, now);
	} else {
		st = stmt_get(ss, S_USER_UPDATE);
		bind_text(ss, st, 1, name);
		bind_text(ss, st, 2, password_hash);
	}
	if (run(ss, st, err) < 0)
		goto fail;
	return tx_commit(ss, err);
fail:
	tx_abort(ss);
	return -1;
}

static void fill_user(struct arena *a, sqlite3_stmt *st, struct storage_user *u)
{
	u->name = col_str(a, st, 0);
	u->password_hash = col_str(a, st, 1);
	col_copy(u->created_at, sizeof u->created_at, st, 2);
}

static int sq_user_get(struct storage *s, const char *name, struct arena *a,
		       struct storage_user *out, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = stmt_get(ss, S_USER_GET);
	int r;

	bind_text(ss, st, 1, name);
	r = step(ss, st, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_user_absent(err, name);
	memset(out, 0, sizeof *out);
	fill_user(a, st, out);
	sqlite3_reset(st);
	return 0;
}

static int sq_user_delete(struct storage *s, const char *name, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;

	if (tx_write(ss, err) < 0)
		goto fail;
	st = stmt_get(ss, S_USER_DELETE);
	bind_text(ss, st, 1, name);
	if (run(ss, st, err) < 0)
		goto fail;
	if (sqlite3_changes(ss->db) == 0) {
		storage_err_user_absent(err, name);
		goto fail;
	}
	return tx_commit(ss, err);
fail:
	tx_abort(ss);
	return -1;
}

static int sq_user_list(struct storage *s, struct arena *a, struct storage_user **out,
			size_t *n, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = stmt_get(ss, S_USER_LIST);
	struct vec v = { 0 };
	int r;

	while ((r = step(ss, st, err)) == 1)
		fill_user(a, st, vec_push(a, &v, sizeof(struct storage_user)));
	if (r < 0)
		return -1;
	*out = v.items;
	*n = v.n;
	return 0;
}

static int sq_grant_set(struct storage *s, const char *user, const char *ns,
			enum storage_level level, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;
	int r;

	if (storage_check_level(err, level) < 0)
		return -1;
	if (tx_write(ss, err) < 0)
		goto fail;
	r = user_exists(ss, user, err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		storage_err_user_absent(err, user);
		goto fail;
	}
	st = stmt_get(ss, level == STORAGE_LEVEL_NONE ? S_GRANT_DELETE : S_GRANT_SET);
	bind_text(ss, st, 1, user);
	bind_text(ss, st, 2, ns);
	if (level != STORAGE_LEVEL_NONE)
		bind_int(ss, st, 3, (sqlite3_int64)level);
	if (run(ss, st, err) < 0)
		goto fail;
	return tx_commit(ss, err);
fail:
	tx_abort(ss);
	return -1;
}

static int sq_grant_list(struct storage *s, const char *user, struct arena *a,
			 struct storage_grant **out, size_t *n, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = stmt_get(ss, user ? S_GRANT_LIST_USER : S_GRANT_LIST_ALL);
	struct vec v = { 0 };
	int r;

	if (user)
		bind_text(ss, st, 1, user);
	while ((r = step(ss, st, err)) == 1) {
		struct storage_grant *g = vec_push(a, &v, sizeof *g);
		g->user = col_str(a, st, 0);
		g->namespace = col_str(a, st, 1);
		g->level = (enum storage_level)sqlite3_column_int(st, 2);
	}
	if (r < 0)
		return -1;
	*out = v.items;
	*n = v.n;
	return 0;
}

static int sq_token_add(struct storage *s, const struct storage_token *t,
			struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;
	char now[32];
	int r;

	if (storage_check_level(err, t->scope) < 0)
		return -1;
	if (tx_write(ss, err) < 0)
		goto fail;
	r = user_exists(ss, t->user, err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		storage_err_user_absent(err, t->user);
		goto fail;
	}
	st = stmt_get(ss, S_TOKEN_TAKEN);
	bind_text(ss, st, 1, t->id);
	bind_text(ss, st, 2, t->hash);
	r = step(ss, st, err);
	sqlite3_reset(st);
	if (r < 0)
		goto fail;
	if (r == 1) {
		storage_err_token_taken(err);
		goto fail;
	}
	if (t->created_at[0])
		snprintf(now, sizeof now, "%s", t->created_at);
	else
		util_utc_now(now);
	st = stmt_get(ss, S_TOKEN_INSERT);
	bind_text(ss, st, 1, t->id);
	bind_text(ss, st, 2, t->user);
	bind_text(ss, st, 3, t->hash);
	bind_text(ss, st, 4, t->namespace);
	bind_int(ss, st, 5, (sqlite3_int64)t->scope);
	bind_int(ss, st, 6, t->expires_at);
	bind_text(ss, st, 7, now);
	if (run(ss, st, err) < 0)
		goto fail;
	return tx_commit(ss, err);
fail:
	tx_abort(ss);
	return -1;
}

/* A row of S_TOKEN_FIND / S_TOKEN_LIST_*. */
static void fill_token(struct arena *a, sqlite3_stmt *st, struct storage_token *t)
{
	t->id = col_str(a, st, 0);
	t->user = col_str(a, st, 1);
	col_copy(t->hash, sizeof t->hash, st, 2);
	t->namespace = col_str(a, st, 3);
	t->scope = (enum storage_level)sqlite3_column_int(st, 4);
	t->expires_at = sqlite3_column_int64(st, 5);
	col_copy(t->created_at, sizeof t->created_at, st, 6);
}

static int sq_token_find(struct storage *s, const char *hash, struct arena *a,
			 struct storage_token *out, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = stmt_get(ss, S_TOKEN_FIND);
	int r;

	bind_text(ss, st, 1, hash);
	r = step(ss, st, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_token_absent(err, NULL);
	memset(out, 0, sizeof *out);
	fill_token(a, st, out);
	sqlite3_reset(st);
	return 0;
}

static int sq_token_list(struct storage *s, const char *user, struct arena *a,
			 struct storage_token **out, size_t *n, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = stmt_get(ss, user ? S_TOKEN_LIST_USER : S_TOKEN_LIST_ALL);
	struct vec v = { 0 };
	int r;

	if (user)
		bind_text(ss, st, 1, user);
	while ((r = step(ss, st, err)) == 1)
		fill_token(a, st, vec_push(a, &v, sizeof(struct storage_token)));
	if (r < 0)
		return -1;
	*out = v.items;
	*n = v.n;
	return 0;
}

static int sq_token_revoke(struct storage *s, const char *id, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;

	if (tx_write(ss, err) < 0)
		goto fail;
	st = stmt_get(ss, S_TOKEN_DELETE);
	bind_text(ss, st, 1, id);
	if (run(ss, st, err) < 0)
		goto fail;
	if (sqlite3_changes(ss->db) == 0) {
		storage_err_token_absent(err, id);
		goto fail;
	}
	return tx_commit(ss, err);
fail:
	tx_abort(ss);
	return -1;
}

static int sq_package_visibility(struct storage *s, const char *ns, const char *name,
				 struct arena *a, const char **out, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = stmt_get(ss, S_PKG_VISIBILITY);
	int r;

	bind_text(ss, st, 1, ns);
	bind_text(ss, st, 2, name);
	r = step(ss, st, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, NULL, NULL);
	*out = col_str(a, st, 0);
	sqlite3_reset(st);
	return 0;
}

/* ---- Helm chart repositories ---- */

static int sq_list_charts(struct storage *s, const char *ns, bool include_private,
			  struct arena *a, struct storage_chart **out, size_t *n,
			  struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = stmt_get(ss, S_CHARTS);
	struct vec v = { 0 };
	const char *name = NULL;
	int r;

	bind_text(ss, st, 1, ns);
	bind_int(ss, st, 2, include_private);
	while ((r = step(ss, st, err)) == 1) {
		struct storage_chart *c = vec_push(a, &v, sizeof *c);
		const char *row_name = (const char *)sqlite3_column_text(st, 0);
		if (!name || !row_name || strcmp(name, row_name) != 0)
			name = col_str(a, st, 0);      /* rows of one package share it */
		c->name = name;
		c->release = col_str(a, st, 1);
		c->chart = col_str(a, st, 2);
		c->problem = col_str(a, st, 3);
		c->visibility = col_str(a, st, 4);
		col_copy(c->digest, sizeof c->digest, st, 5);
		col_copy(c->blob_sha256, sizeof c->blob_sha256, st, 6);
		c->size = sqlite3_column_int64(st, 7);
		col_copy(c->created_at, sizeof c->created_at, st, 8);
	}
	if (r < 0)
		return -1;
	*out = v.items;
	*n = v.n;
	return 0;
}

static int sq_set_chart(struct storage *s, const char *ns, const char *name,
			const char *release, const char *digest, const char *chart,
			const char *problem, const char *blob_sha256, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;
	sqlite3_int64 rel_id;
	bool fill_sha, fill_chart;
	char now[32];
	int r;

	util_utc_now(now);
	if (tx_write(ss, err) < 0 || find_manifest(ss, ns, name, release, "helm", &st, err) != 1)
		goto fail;
	rel_id = sqlite3_column_int64(st, 1);
	if (digest && strcmp((const char *)sqlite3_column_text(st, 2), digest) != 0) {
		sqlite3_reset(st);      /* another blob since it was examined: drop it */
		return tx_commit(ss, err);
	}
	fill_sha = sqlite3_column_bytes(st, 6) == 0 && digest_ok(blob_sha256);
	sqlite3_reset(st);

	st = stmt_get(ss, S_CHART_EXAMINED);
	bind_int(ss, st, 1, rel_id);
	r = step(ss, st, err);
	sqlite3_reset(st);
	if (r < 0)
		goto fail;
	fill_chart = r == 0 && (nonempty(chart) || nonempty(problem));
	if (fill_chart && chart_put(ss, rel_id, chart, problem, err) < 0)
		goto fail;
	if (fill_sha) {
		st = stmt_get(ss, S_MAN_SET_SHA256);
		bind_int(ss, st, 1, rel_id);
		bind_text(ss, st, 2, "helm");
		bind_text(ss, st, 3, blob_sha256);
		if (run(ss, st, err) < 0)
			goto fail;
	}
	if ((fill_chart || fill_sha) && ns_bump(ss, ns, now, err) < 0)
		goto fail;
	return tx_commit(ss, err);
fail:
	tx_abort(ss);
	return -1;
}

/* ---- upkeep ---- */

#define GC_BATCH 256                   /* blob files checked per write lock */

/* Under the write lock, remove those of the n blob files (digests) no manifest
 * references: a live push publishes and references its blob under that same lock,
 * so an unreferenced file seen there is debris. */
static int gc_batch(struct sq_storage *ss, char (*digests)[DIGEST_HEX_LEN + 1], size_t n,
		    bool dry, struct storage_gc_report *rep, struct appr_error *err)
{
	if (tx_write(ss, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char final[PATHBUF];
		struct stat sb;
		int used = digest_used(ss, digests[i], err);
		if (used < 0) {
			tx_read_end(ss);
			return -1;
		}
		if (used || blob_path(ss, digests[i], final, false) < 0 || stat(final, &sb) < 0)
			continue;
		found(rep, "unreferenced blob", final);
		if (dry || unlink(final) == 0) {
			if (!dry)
				fprintf(stderr, "appr: storage: gc removed unreferenced blob %s\n",
					final);
			rep->unreferenced_blobs++;
			rep->bytes_freed += sb.st_size;
		}
	}
	tx_read_end(ss);
	return 0;
}

static int sq_gc(struct storage *s, bool dry, struct storage_gc_report *rep,
		 struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	char (*batch)[DIGEST_HEX_LEN + 1] = xmalloc(GC_BATCH * sizeof *batch);
	DIR *top = NULL;
	struct dirent *de;
	size_t n = 0;
	int rc = -1;

	rep->temp_files = rep->unreferenced_blobs = rep->blobs_restored = 0;
	rep->bytes_freed = 0;
	if (sweep_debris(ss, dry, rep, err) < 0)
		goto out;
	top = opendir(ss->blob_dir);
	if (!top) {
		sys_fail("opendir", ss->blob_dir, errno, err);
		goto out;
	}
	while ((de = readdir(top))) {
		char sub[PATHBUF];
		if (strlen(de->d_name) != 2 || !isxdigit((unsigned char)de->d_name[0]) ||
		    !isxdigit((unsigned char)de->d_name[1]))
			continue;
		int k = snprintf(sub, sizeof sub, "%s/%s", ss->blob_dir, de->d_name);
		DIR *d = k < 0 || k >= PATHBUF ? NULL : opendir(sub);
		struct dirent *fe;
		while (d && (fe = readdir(d))) {
			if (!digest_ok(fe->d_name) || strncmp(fe->d_name, de->d_name, 2) != 0)
				continue;
			memcpy(batch[n++], fe->d_name, DIGEST_HEX_LEN + 1);
			if (n == GC_BATCH) {
				if (gc_batch(ss, batch, n, dry, rep, err) < 0) {
					closedir(d);
					goto out;
				}
				n = 0;
			}
		}
		if (d)
			closedir(d);
	}
	if (n > 0 && gc_batch(ss, batch, n, dry, rep, err) < 0)
		goto out;
	rc = 0;
out:
	if (top)
		closedir(top);
	free(batch);
	return rc;
}

static int sq_namespace_stamp(struct storage *s, const char *ns, unsigned long long *stamp,
			      char changed_at[32], struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = stmt_get(ss, S_NS_STAMP);
	int r;

	*stamp = 0;
	changed_at[0] = '\0';
	bind_text(ss, st, 1, ns);
	r = step(ss, st, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		*stamp = (unsigned long long)sqlite3_column_int64(st, 0);
		col_copy(changed_at, 32, st, 1);
		sqlite3_reset(st);
	}
	return 0;
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
