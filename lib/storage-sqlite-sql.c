/* storage-sqlite-sql.c - every SQL statement of the embedded store, prepared once at open
 * (storage-sqlite.c) and run through sq_stmt_get/sq_step. */
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

/* ---- SQL: every statement, prepared once at open ---- */
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

const struct sq_sql_def sq_sql_defs[S_COUNT] = {
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
	[S_HELM_OCI_PUT] = { "store chart artifact",
		"INSERT INTO helm_oci (release_id, config, manifest) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (release_id) DO UPDATE SET config = excluded.config,"
		" manifest = excluded.manifest" },
	[S_HELM_OCI_DELETE] = { "delete chart artifact",
		"DELETE FROM helm_oci WHERE release_id = ?1" },
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
