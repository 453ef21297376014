/* test-storage.c - the storage drivers through the storage.h wrappers: sqlite by default, etcd or redis when APPR_TEST_STORAGE says. */

/*
 * Driver selection (tests/integration/t-storage-kv.sh runs this binary once per server):
 *   APPR_TEST_STORAGE unset or filesystem   the embedded SQLite + blob-file store
 *   APPR_TEST_STORAGE=etcd    APPR_ETCD_ENDPOINTS (or ETCD_ENDPOINTS): a running etcd
 *   APPR_TEST_STORAGE=redis   APPR_REDIS_URL (or REDIS_URL): a running redis-server
 * With etcd/redis every test works under its own random key_prefix and deletes it in
 * teardown; "blob files" are then blob/ records and "temp files" uploads whose chunk/
 * keys no blob record names. Tests named sqlite_only_* check the SQLite file itself
 * and are skipped (saying so) with the other drivers. etcd and redis exist only in a
 * build that has them (HAVE_ETCD, HAVE_REDIS: configure --with-etcd / --with-redis).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <sqlite3.h>

#include "digest.h"
#include "kv.h"
#include "semver.h"
#include "storage.h"

extern const char *const appr_schema_migrations[];
extern const size_t appr_schema_count;

static char root[256];          /* mkdtemp directory, removed by teardown */
static char data_dir[300];      /* root/data: created by the storage */
static char driver[16] = "filesystem";
static char key_prefix[96];
static struct appr_config cfg;
static struct storage *st;
static struct arena *ar;
static struct kv *rawkv;        /* kv drivers: a client of its own to inspect and clean */

static bool is_fs(void)
{
	return strcmp(driver, "filesystem") == 0;
}

static const char *env2(const char *a, const char *b)
{
	const char *v = getenv(a);
	if (!v || !*v)
		v = getenv(b);
	return v && *v ? v : NULL;
}

#define SQLITE_ONLY() do { \
	if (!is_fs()) \
		cr_skip_test("sqlite-specific test: not run with the %s driver", driver); \
} while (0)

/* ---- fixture ---- */

static void open_store(void)
{
	struct appr_error err = { 0 };
	int rc = storage_open(&cfg, &st, &err);
	if (rc < 0)
		fprintf(stderr, "storage_open (%s): %s\n", driver, err.msg);
	cr_assert(eq(int, rc, 0), "storage_open %s: %s", data_dir, err.msg);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof root, "%s/appr-storage-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cr_assert(not(eq(ptr, mkdtemp(root), NULL)), "mkdtemp %s", root);
	snprintf(data_dir, sizeof data_dir, "%s/data", root);
	memset(&cfg, 0, sizeof cfg);
	cfg.data_dir = data_dir;
	const char *d = getenv("APPR_TEST_STORAGE");
	snprintf(driver, sizeof driver, "%s", d && *d && strcmp(d, "sqlite") != 0 ? d
										  : "filesystem");
	cfg.storage = driver;
	cfg.busy_timeout_ms = 10000;
	cfg.fsync = true;
	digest_global_init();
	ar = arena_new();
	if (!is_fs()) {
		const struct kv_ops *ops = NULL;
		struct appr_error err = { 0 };
		char tok[DIGEST_HEX_LEN + 1];
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(key_prefix, sizeof key_prefix, "%ld.%ld.%ld", (long)getpid(),
			 (long)ts.tv_sec, ts.tv_nsec);
		digest_sha256_hex(key_prefix, strlen(key_prefix), tok);
		snprintf(key_prefix, sizeof key_prefix, "/appr-test-%.16s/", tok);
		cfg.key_prefix = key_prefix;
		cfg.kv_timeout_ms = 5000;
		cfg.etcd_endpoints = (char *)env2("APPR_ETCD_ENDPOINTS", "ETCD_ENDPOINTS");
		cfg.redis_url = (char *)env2("APPR_REDIS_URL", "REDIS_URL");
#ifdef HAVE_ETCD
		if (strcmp(driver, "etcd") == 0) {
			ops = &kv_etcd_ops;
			cr_assert(not(eq(ptr, cfg.etcd_endpoints, NULL)),
				  "APPR_ETCD_ENDPOINTS is set for APPR_TEST_STORAGE=etcd");
		}
#endif
#ifdef HAVE_REDIS
		if (strcmp(driver, "redis") == 0) {
			ops = &kv_redis_ops;
			cr_assert(not(eq(ptr, cfg.redis_url, NULL)),
				  "APPR_REDIS_URL is set for APPR_TEST_STORAGE=redis");
		}
#endif
		cr_assert(not(eq(ptr, (void *)ops, NULL)),
			  "APPR_TEST_STORAGE=%s is filesystem or a kv driver built in", driver);
		if (ops->open(&cfg, &rawkv, &err) < 0) {
			rawkv = NULL;
			fprintf(stderr, "setup: %s client (%s): %s\n", driver,
				strcmp(driver, "etcd") == 0 ? cfg.etcd_endpoints : cfg.redis_url,
				err.msg);
			cr_assert(eq(int, -1, 0), "raw %s client: %s", driver, err.msg);
		}
	}
	open_store();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static void teardown(void)
{
	storage_close(st);
	st = NULL;
	if (rawkv) {
		struct kv_op op = { .type = KV_DELETE_PREFIX, .key = "" };
		struct appr_error err = { 0 };
		if (kv_txn(rawkv, NULL, 0, &op, 1, &err) != KV_COMMITTED)
			fprintf(stderr, "teardown: could not delete %s: %s\n", key_prefix, err.msg);
		kv_close(rawkv);
		rawkv = NULL;
	}
	arena_free(ar);
	ar = NULL;
	if (root[0])
		nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(storage, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers ---- */

static int push_to(struct storage *s, const char *ns, const char *name, const char *rel,
		   const char *mt, const char *content, bool force, const char *metadata,
		   struct appr_error *err)
{
	struct storage_push p = {
		.ns = ns, .name = name, .release = rel, .media_type = mt,
		.metadata = metadata, .force = force,
	};
	struct storage_blob_writer *w;
	size_t len = strlen(content), half = len / 2;

	digest_sha256_hex(content, len, p.digest);
	if (storage_blob_begin(s, &w, err) < 0)
		return -1;
	if (storage_blob_write(w, content, half, err) < 0 ||
	    storage_blob_write(w, content + half, len - half, err) < 0) {
		storage_blob_abort(w);
		return -1;
	}
	return storage_put_release(s, &p, w, err);
}

static void push_ok(const char *ns, const char *name, const char *rel, const char *mt,
		    const char *content)
{
	struct appr_error err = { 0 };
	int rc = push_to(st, ns, name, rel, mt, content, false, NULL, &err);
	cr_assert(eq(int, rc, 0), "push %s/%s %s %s: %s", ns, name, rel, mt, err.msg);
}

static void blob_file(const char *content, char *out, size_t cap)
{
	char d[DIGEST_HEX_LEN + 1];
	digest_sha256_hex(content, strlen(content), d);
	snprintf(out, cap, "%s/blobs/sha256/%.2s/%s", data_dir, d, d);
}

/* Is the blob of content stored (a file, or a blob/ record of the kv)? */
static bool blob_stored(const char *content)
{
	char path[512];
	struct stat sb;
	if (!is_fs()) {
		char d[DIGEST_HEX_LEN + 1];
		struct kv_pair kp;
		struct appr_error err = { 0 };
		digest_sha256_hex(content, strlen(content), d);
		snprintf(path, sizeof path, "blob/%s", d);
		int r = kv_get(rawkv, path, ar, &kp, &err);
		cr_assert(ge(int, r, 0), "kv get %s: %s", path, err.msg);
		return r == 0;
	}
	blob_file(content, path, sizeof path);
	return stat(path, &sb) == 0;
}

static size_t n_files;
static int count_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path; (void)sb; (void)ftw;
	if (flag == FTW_F)
		n_files++;
	return 0;
}

/* Regular files under data_dir/sub. */
static size_t files_under(const char *sub)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", data_dir, sub);
	n_files = 0;
	nftw(path, count_entry, 16, FTW_PHYS);
	return n_files;
}

/* kv drivers: the keys under prefix. */
static struct kv_pair *kv_keys(const char *prefix, bool values, size_t *n)
{
	struct kv_pair *kp = NULL;
	struct appr_error err = { 0 };
	int r = kv_range(rawkv, prefix, NULL, 0, !values, ar, &kp, n, NULL, &err);
	cr_assert(eq(int, r, 0), "kv range %s: %s", prefix, err.msg);
	return kp;
}

/* Stored blobs: files in blobs/sha256, or blob/ records. */
static size_t stored_blobs(void)
{
	size_t n;
	if (is_fs())
		return files_under("blobs/sha256");
	kv_keys("blob/", false, &n);
	return n;
}

/* Blob bytes no manifest can reach: temp and trash files in blobs/tmp, or uploads
 * whose chunk/ keys no blob record names. */
static size_t stray_uploads(void)
{
	size_t n_chunks, n_blobs, strays = 0;
	if (is_fs())
		return files_under("blobs/tmp");
	struct kv_pair *chunks = kv_keys("chunk/", false, &n_chunks);
	struct kv_pair *blobs = kv_keys("blob/", true, &n_blobs);
	const char *last = "";
	for (size_t i = 0; i < n_chunks; i++) {
		const char *id = chunks[i].key + 6;
		const char *slash = strchr(id, '/');
		size_t len = slash ? (size_t)(slash - id) : strlen(id);
		if (strlen(last) == len && strncmp(last, id, len) == 0)
			continue;             /* chunks of one upload are adjacent */
		last = arena_strndup(ar, id, len);
		bool named = false;
		for (size_t j = 0; j < n_blobs && !named; j++)
			named = strstr(blobs[j].value, last) != NULL;
		if (!named)
			strays++;
	}
	return strays;
}

static void expect_err(int rc, const struct appr_error *err, int http, const char *code,
		       const char *what)
{
	cr_assert(eq(int, rc, -1), "%s fails", what);
	cr_assert(eq(int, err->http, http), "%s: HTTP status (%s)", what, err->msg);
	cr_assert(eq(str, (char *)err->code, (char *)code), "%s: error code", what);
}

static void expect_strs(const char **got, size_t n, const char *const *want, size_t n_want,
			const char *what)
{
	cr_assert(eq(sz, n, n_want), "%s: count", what);
	for (size_t i = 0; i < n; i++)
		cr_assert(eq(str, (char *)got[i], (char *)want[i]), "%s: item %zu", what, i);
}

static void expect_releases(const char *ns, const char *name, const char *const *want,
			    size_t n_want, const char *what)
{
	struct appr_error err = { 0 };
	const char **rels = NULL;
	size_t n = 0;
	int rc = storage_list_releases(st, ns, name, ar, &rels, &n, &err);
	cr_assert(eq(int, rc, 0), "%s: list_releases: %s", what, err.msg);
	expect_strs(rels, n, want, n_want, what);
}

static bool has_channel(const char *ns, const char *name, const char *channel)
{
	struct appr_error err = { 0 };
	struct storage_channel c;
	return storage_get_channel(st, ns, name, channel, ar, &c, &err) == 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Wait for a child: its exit status, or -1 if it did not exit normally. */
static int wait_exit(pid_t pid)
{
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void user_ok(const char *name, const char *hash);
static void grant_ok(const char *user, const char *ns, enum storage_level level);
static void push_vis(const char *ns, const char *name, const char *rel, const char *content,
		     const char *visibility);
static void search_names(const char *text, const struct storage_readers *r, size_t limit,
			 const char *const *want, size_t n_want, const char *what);

/* ---- open, schema, registry ---- */

static char lookup_sha[DIGEST_HEX_LEN + 1];   /* blob_lookup's SHA-256 out */

Test(storage, reopen_keeps_data)
{
	push_ok("ns", "pkg", "1.0.0", "helm", "content one");
	storage_close(st);
	open_store();
	static const char *const want[] = { "1.0.0" };
	expect_releases("ns", "pkg", want, N(want), "after reopen");
	cr_assert(blob_stored("content one"), "blob still stored after reopen");
}

Test(storage, sqlite_only_open_creates_schema_and_reopen_keeps_data)
{
	char db[512];
	struct stat sb;
	sqlite3 *raw;
	sqlite3_stmt *q;

	SQLITE_ONLY();
	snprintf(db, sizeof db, "%s/appr.db", data_dir);
	cr_assert(eq(int, stat(db, &sb), 0), "appr.db created");
	snprintf(db, sizeof db, "%s/blobs/tmp", data_dir);
	cr_assert(eq(int, stat(db, &sb), 0), "blobs/tmp created");
	snprintf(db, sizeof db, "%s/blobs/sha256", data_dir);
	cr_assert(eq(int, stat(db, &sb), 0), "blobs/sha256 created");

	push_ok("ns", "pkg", "1.0.0", "helm", "content one");
	storage_close(st);
	open_store();
	static const char *const want[] = { "1.0.0" };
	expect_releases("ns", "pkg", want, N(want), "after reopen");

	snprintf(db, sizeof db, "%s/appr.db", data_dir);
	cr_assert(eq(int, sqlite3_open(db, &raw), SQLITE_OK), "raw open");
	cr_assert(eq(int, sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &q, NULL),
		     SQLITE_OK), "prepare user_version");
	cr_assert(eq(int, sqlite3_step(q), SQLITE_ROW), "user_version row");
	cr_assert(eq(i64, sqlite3_column_int64(q, 0), (int64_t)appr_schema_count),
		  "user_version is the number of migrations");
	sqlite3_finalize(q);
	q = NULL;
	cr_assert(eq(int, sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &q, NULL),
		     SQLITE_OK), "prepare journal_mode");
	cr_assert(eq(int, sqlite3_step(q), SQLITE_ROW), "journal_mode row");
	cr_assert(eq(str, (char *)sqlite3_column_text(q, 0), (char *)"wal"), "database is in WAL mode");
	sqlite3_finalize(q);
	sqlite3_close(raw);
}

/* A store made before the auth schema (user_version 1, no users/grants/tokens, nor
 * what 003 adds) is brought to the current schema by open, its packages kept. */
Test(storage, sqlite_only_version_1_database_is_upgraded)
{
	char db[512];
	sqlite3 *raw;
	struct appr_error err = { 0 };
	struct storage_user u;

	SQLITE_ONLY();
	cr_assert(ge(sz, appr_schema_count, (size_t)2), "the auth schema is migration 2");
	push_ok("ns", "pkg", "1.0.0", "helm", "content one");
	storage_close(st);
	st = NULL;
	snprintf(db, sizeof db, "%s/appr.db", data_dir);
	cr_assert(eq(int, sqlite3_open(db, &raw), SQLITE_OK), "raw open");
	cr_assert(eq(int, sqlite3_exec(raw, "DROP TABLE helm_oci;"
				       " DROP TABLE namespaces; DROP TABLE charts;"
				       " ALTER TABLE manifests DROP COLUMN blob_sha256;"
				       " DROP TABLE tokens; DROP TABLE grants;"
				       " DROP TABLE users; DROP TRIGGER packages_trigrams_insert;"
				       " DROP TRIGGER packages_trigrams_delete;"
				       " DROP TABLE package_trigrams; DROP TABLE trigram_counts;"
				       " DROP TABLE trigram_positions; DROP TABLE oci_tags;"
				       " DROP TABLE oci_manifest_refs; DROP TABLE oci_manifests;"
				       " DROP TABLE oci_blob_links; DROP TABLE oci_blobs;"
				       " DROP TABLE oci_uploads; PRAGMA user_version = 1;",
				       NULL, NULL, NULL), SQLITE_OK),
		  "make it a version 1 database: %s", sqlite3_errmsg(raw));
	sqlite3_close(raw);
	open_store();
	static const char *const want[] = { "1.0.0" };
	expect_releases("ns", "pkg", want, N(want), "packages kept by the upgrade");
	static const char *const found[] = { "ns/pkg" };
	search_names("S/PK", NULL, 0, found, N(found), "the upgrade indexed the package for search");
	user_ok("alice", "h");
	int rc = storage_user_get(st, "alice", ar, &u, &err);
	cr_assert(eq(int, rc, 0), "users work after the upgrade: %s", err.msg);
	grant_ok("alice", "ns", STORAGE_LEVEL_READ);
}

Test(storage, sqlite_only_newer_database_is_refused)
{
	char db[512];
	sqlite3 *raw;
	struct appr_error err = { 0 };
	struct storage *s2 = NULL;

	SQLITE_ONLY();
	storage_close(st);
	st = NULL;
	snprintf(db, sizeof db, "%s/appr.db", data_dir);
	cr_assert(eq(int, sqlite3_open(db, &raw), SQLITE_OK), "raw open");
	cr_assert(eq(int, sqlite3_exec(raw, "PRAGMA user_version = 999", NULL, NULL, NULL),
		     SQLITE_OK), "set a future user_version");
	sqlite3_close(raw);
	int rc = storage_open(&cfg, &s2, &err);
	expect_err(rc, &err, 500, APPR_E_INTERNAL, "open a newer database");
	cr_assert(not(eq(ptr, strstr(err.msg, "newer"), NULL)), "message says newer: %s", err.msg);
	cr_assert(eq(ptr, s2, NULL), "no handle returned");
}

/* A kv driver is found by name when built in (ops), else not found, and opening it is
 * a 501 naming the configure option that builds it in. */
static void expect_kv_driver(char *name, const struct storage_ops *ops)
{
	struct appr_config c = cfg;
	struct appr_error err = { 0 };
	struct storage *s2 = NULL;
	char option[32];

	cr_assert(eq(ptr, (void *)storage_find(name), (void *)ops), "%s: found iff built in",
		  name);
	if (ops)
		return;
	c.storage = name;
	expect_err(storage_open(&c, &s2, &err), &err, 501, APPR_E_UNSUPPORTED, name);
	snprintf(option, sizeof option, "./configure --with-%s", name);
	cr_assert(not(eq(ptr, strstr(err.msg, option), NULL)), "%s: the message names %s: %s",
		  name, option, err.msg);
}

Test(storage, driver_registry)
{
	struct appr_config c = cfg;
	struct appr_error err = { 0 };
	struct storage *s2 = NULL;
	char etcd[] = "etcd", redis[] = "redis", bogus[] = "bogus";

	cr_assert(eq(ptr, (void *)storage_find("filesystem"), (void *)&storage_sqlite_ops),
		  "filesystem is the sqlite driver");
	cr_assert(eq(ptr, (void *)storage_find("sqlite"), (void *)&storage_sqlite_ops),
		  "sqlite is an alias");
	cr_assert(eq(ptr, (void *)storage_find("nope"), NULL), "unknown driver not found");

#ifdef HAVE_ETCD
	expect_kv_driver(etcd, &storage_etcd_ops);
#else
	expect_kv_driver(etcd, NULL);
#endif
#ifdef HAVE_REDIS
	expect_kv_driver(redis, &storage_redis_ops);
#else
	expect_kv_driver(redis, NULL);
#endif
	c.storage = bogus;
	expect_err(storage_open(&c, &s2, &err), &err, 422, APPR_E_INVALID_PARAMETERS, "bogus");
	cr_assert(not(eq(ptr, strstr(err.msg, "bogus"), NULL)), "names the driver: %s", err.msg);
}

/* ---- push and read back ---- */

Test(storage, put_get_manifest_round_trip)
{
	struct appr_error err = { 0 };
	struct storage_manifest m;
	const char *content = "gzip bytes of a chart";
	char want_digest[DIGEST_HEX_LEN + 1], before[32], after[32];

	digest_sha256_hex(content, strlen(content), want_digest);
	util_utc_now(before);
	int rc = push_to(st, "myns", "chart", "1.2.3-rc.1+build.5", "helm", content, false,
			 "{\"k\": [1, 2]}", &err);
	util_utc_now(after);
	cr_assert(eq(int, rc, 0), "push: %s", err.msg);

	rc = storage_get_manifest(st, "myns", "chart", "1.2.3-rc.1+build.5", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get_manifest: %s", err.msg);
	cr_assert(eq(str, (char *)m.package, (char *)"myns/chart"), "package");
	cr_assert(eq(str, (char *)m.release, (char *)"1.2.3-rc.1+build.5"), "release");
	cr_assert(eq(str, (char *)m.media_type, (char *)"helm"), "media_type");
	cr_assert(eq(str, m.digest, want_digest), "digest");
	cr_assert(eq(llong, m.size, (long long)strlen(content)), "size is the blob bytes");
	cr_assert(eq(str, (char *)m.metadata, (char *)"{\"k\": [1, 2]}"), "metadata as pushed");
	cr_assert(eq(sz, strlen(m.created_at), (size_t)26), "created_at length: %s", m.created_at);
	cr_assert(eq(chr, m.created_at[10], 'T'), "created_at has T: %s", m.created_at);
	cr_assert(le(int, strcmp(before, m.created_at), 0), "created_at not before the push");
	cr_assert(ge(int, strcmp(after, m.created_at), 0), "created_at not after the push");
	cr_assert(eq(sz, m.n_channels, (size_t)0), "no channels");
	cr_assert(blob_stored(content), "blob file stored under its digest");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "no temp file left");

	/* metadata NULL round trips as NULL */
	push_ok("myns", "chart", "2.0.0", "kpm", "other");
	rc = storage_get_manifest(st, "myns", "chart", "2.0.0", "kpm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get_manifest 2.0.0: %s", err.msg);
	cr_assert(eq(ptr, (void *)m.metadata, NULL), "NULL metadata stays NULL");

	rc = storage_get_manifest(st, "myns", "nochart", "1.0.0", "helm", ar, &m, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "absent package");
	cr_assert(eq(str, err.package, (char *)"myns/nochart"), "details.package");
	rc = storage_get_manifest(st, "myns", "chart", "9.9.9", "helm", ar, &m, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "absent release");
	cr_assert(eq(str, err.release, (char *)"9.9.9"), "details.release");
	rc = storage_get_manifest(st, "myns", "chart", "2.0.0", "helm", ar, &m, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "absent media type");
	cr_assert(eq(str, err.media_type, (char *)"helm"), "details.media_type");
}

Test(storage, duplicate_push_is_409_and_changes_nothing)
{
	struct appr_error err = { 0 };
	struct storage_manifest m;
	char orig[DIGEST_HEX_LEN + 1];

	int rc = push_to(st, "ns", "dup", "1.0.0", "helm", "first", false, "{\"v\":1}", &err);
	cr_assert(eq(int, rc, 0), "first push: %s", err.msg);
	digest_sha256_hex("first", 5, orig);

	rc = push_to(st, "ns", "dup", "1.0.0", "helm", "second", false, "{\"v\":2}", &err);
	expect_err(rc, &err, 409, APPR_E_PACKAGE_EXISTS, "second push");
	cr_assert(eq(str, err.package, (char *)"ns/dup"), "details.package");
	cr_assert(eq(str, err.release, (char *)"1.0.0"), "details.release");
	cr_assert(eq(str, err.media_type, (char *)"helm"), "details.media_type");

	rc = storage_get_manifest(st, "ns", "dup", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get: %s", err.msg);
	cr_assert(eq(str, m.digest, orig), "digest unchanged");
	cr_assert(eq(str, (char *)m.metadata, (char *)"{\"v\":1}"), "metadata unchanged");
	cr_assert(not(blob_stored("second")), "refused blob not stored");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "no stray temp file");
	cr_assert(eq(sz, stored_blobs(), (size_t)1), "one blob file");

	/* a refused push of a new package leaves no package behind either */
	rc = push_to(st, "ns", "bad", "not-a-version", "helm", "x", false, NULL, &err);
	expect_err(rc, &err, 422, APPR_E_INVALID_RELEASE, "invalid release");
	const char **rels;
	size_t n;
	rc = storage_list_releases(st, "ns", "bad", ar, &rels, &n, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "no package after refused push");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "no temp file after 422");
}

Test(storage, force_push_replaces_and_collects_old_blob)
{
	struct appr_error err = { 0 };
	struct storage_manifest m;
	char want[DIGEST_HEX_LEN + 1];

	push_ok("ns", "a", "1.0.0", "helm", "old-a");
	int rc = push_to(st, "ns", "a", "1.0.0", "helm", "new-a", true, "{\"f\":true}", &err);
	cr_assert(eq(int, rc, 0), "force push: %s", err.msg);
	rc = storage_get_manifest(st, "ns", "a", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get: %s", err.msg);
	digest_sha256_hex("new-a", 5, want);
	cr_assert(eq(str, m.digest, want), "digest replaced");
	cr_assert(eq(str, (char *)m.metadata, (char *)"{\"f\":true}"), "metadata replaced");
	cr_assert(not(blob_stored("old-a")), "unreferenced old blob deleted");
	cr_assert(blob_stored("new-a"), "new blob stored");

	/* old blob still referenced by another package: kept */
	push_ok("ns", "b", "1.0.0", "helm", "shared");
	push_ok("ns", "c", "1.0.0", "helm", "shared");
	rc = push_to(st, "ns", "b", "1.0.0", "helm", "new-b", true, NULL, &err);
	cr_assert(eq(int, rc, 0), "force push b: %s", err.msg);
	cr_assert(blob_stored("shared"), "blob still referenced by ns/c kept");
	cr_assert(blob_stored("new-b"), "new blob of b stored");

	/* same content again with force: blob kept, metadata updated */
	rc = push_to(st, "ns", "c", "1.0.0", "helm", "shared", true, "{\"again\":1}", &err);
	cr_assert(eq(int, rc, 0), "force push same content: %s", err.msg);
	cr_assert(blob_stored("shared"), "same-digest force keeps the blob");
	rc = storage_get_manifest(st, "ns", "c", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get c: %s", err.msg);
	cr_assert(eq(str, (char *)m.metadata, (char *)"{\"again\":1}"), "metadata updated");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "no temp or trash files");
	cr_assert(eq(sz, stored_blobs(), (size_t)3), "new-a, new-b, shared");
}

Test(storage, identical_blob_stored_once)
{
	struct appr_error err = { 0 };
	long long size = 0;
	char d[DIGEST_HEX_LEN + 1];

	push_ok("one", "pkg", "1.0.0", "helm", "same bytes");
	push_ok("two", "pkg", "3.0.0", "kpm", "same bytes");
	cr_assert(eq(sz, stored_blobs(), (size_t)1), "stored once");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "second temp file dropped");

	digest_sha256_hex("same bytes", 10, d);
	int rc = storage_blob_lookup(st, "two", "pkg", d, &size, lookup_sha, &err);
	cr_assert(eq(int, rc, 0), "lookup in two/pkg: %s", err.msg);
	cr_assert(eq(llong, size, 10LL), "size");
	rc = storage_blob_lookup(st, "three", "pkg", d, &size, lookup_sha, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "lookup in another package");
	rc = storage_blob_lookup(st, "one", "pkg", "../../etc/passwd", &size, lookup_sha, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "lookup of a bad digest");

	/* deleting one reference keeps the file */
	rc = storage_delete_manifest(st, "one", "pkg", "1.0.0", "helm", &err);
	cr_assert(eq(int, rc, 0), "delete one: %s", err.msg);
	cr_assert(blob_stored("same bytes"), "still referenced by two/pkg");
	rc = storage_delete_manifest(st, "two", "pkg", "3.0.0", "kpm", &err);
	cr_assert(eq(int, rc, 0), "delete two: %s", err.msg);
	cr_assert(not(blob_stored("same bytes")), "last reference gone: file deleted");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "no trash left");
}

Test(storage, aborted_writer_leaves_nothing)
{
	struct appr_error err = { 0 };
	struct storage_blob_writer *w = NULL;

	long long want = 7;

	int rc = storage_blob_begin(st, &w, &err);
	cr_assert(eq(int, rc, 0), "blob_begin: %s", err.msg);
	if (!is_fs()) {
		/* kv writers buffer one chunk: fill one so that something is stored */
		char *big = xcalloc(1, KV_MAX_VALUE);
		rc = storage_blob_write(w, big, KV_MAX_VALUE, &err);
		free(big);
		cr_assert(eq(int, rc, 0), "blob_write of a whole chunk: %s", err.msg);
		want += KV_MAX_VALUE;
	}
	rc = storage_blob_write(w, "partial", 7, &err);
	cr_assert(eq(int, rc, 0), "blob_write: %s", err.msg);
	cr_assert(eq(llong, w->size, want), "writer counts bytes");
	cr_assert(eq(sz, stray_uploads(), (size_t)1), "temp file (or chunk) while writing");
	storage_blob_abort(w);
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "abort removes the temp file");
	cr_assert(eq(sz, stored_blobs(), (size_t)0), "nothing stored");
	storage_blob_abort(NULL);
}

/* ---- releases and manifests ---- */

Test(storage, list_releases_semver_order)
{
	struct appr_error err = { 0 };
	const char **rels;
	size_t n;

	push_ok("ns", "p", "1.0.0-rc.1", "helm", "a");
	push_ok("ns", "p", "9.0.0", "helm", "b");
	push_ok("ns", "p", "0.9.0", "helm", "c");
	push_ok("ns", "p", "1.0.0", "helm", "d");
	push_ok("ns", "p", "10.0.0", "helm", "e");
	push_ok("ns", "p", "1.0.0-alpha", "helm", "f");
	push_ok("ns", "p", "1.0.0-rc.1", "kpm", "g");
	static const char *const want[] = {
		"10.0.0", "9.0.0", "1.0.0", "1.0.0-rc.1", "1.0.0-alpha", "0.9.0",
	};
	expect_releases("ns", "p", want, N(want), "precedence order");

	int rc = storage_list_releases(st, "ns", "absent", ar, &rels, &n, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "list_releases of absent package");
	cr_assert(eq(str, err.package, (char *)"ns/absent"), "details.package");
}

Test(storage, get_manifests_filters)
{
	struct appr_error err = { 0 };
	struct storage_manifest *ms;
	size_t n;

	push_ok("ns", "p", "1.0.0", "kpm", "1k");
	push_ok("ns", "p", "1.0.0", "helm", "1h");
	push_ok("ns", "p", "2.0.0", "helm", "2h");
	push_ok("ns", "p", "1.5.0", "jsonnet", "15j");

	int rc = storage_get_manifests(st, "ns", "p", NULL, NULL, ar, &ms, &n, &err);
	cr_assert(eq(int, rc, 0), "all: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)4), "all manifests");
	static const char *const rel[] = { "2.0.0", "1.5.0", "1.0.0", "1.0.0" };
	static const char *const mt[] = { "helm", "jsonnet", "helm", "kpm" };
	for (size_t i = 0; i < n; i++) {
		cr_assert(eq(str, (char *)ms[i].release, (char *)rel[i]), "release order %zu", i);
		cr_assert(eq(str, (char *)ms[i].media_type, (char *)mt[i]), "media type %zu", i);
		cr_assert(eq(str, (char *)ms[i].package, (char *)"ns/p"), "package %zu", i);
		cr_assert(eq(sz, strlen(ms[i].digest), (size_t)DIGEST_HEX_LEN), "digest %zu", i);
	}

	rc = storage_get_manifests(st, "ns", "p", "1.0.0", NULL, ar, &ms, &n, &err);
	cr_assert(eq(int, rc, 0), "one release: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)2), "two manifests of 1.0.0");
	cr_assert(eq(str, (char *)ms[0].media_type, (char *)"helm"), "sorted by media type");

	rc = storage_get_manifests(st, "ns", "p", NULL, "helm", ar, &ms, &n, &err);
	cr_assert(eq(int, rc, 0), "helm only: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)2), "two helm manifests");
	cr_assert(eq(str, (char *)ms[0].release, (char *)"2.0.0"), "highest first");
	cr_assert(eq(llong, ms[1].size, 2LL), "size of 1.0.0 helm");

	rc = storage_get_manifests(st, "ns", "p", "1.0.0", "kpm", ar, &ms, &n, &err);
	cr_assert(eq(int, rc, 0), "release + type: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)1), "one manifest");

	rc = storage_get_manifests(st, "ns", "p", "2.0.0", "kpm", ar, &ms, &n, &err);
	cr_assert(eq(int, rc, 0), "unmatched media type is not an error: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "zero manifests");

	rc = storage_get_manifests(st, "ns", "p", "3.0.0", NULL, ar, &ms, &n, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "absent release");
	rc = storage_get_manifests(st, "ns", "q", NULL, NULL, ar, &ms, &n, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "absent package");
}

Test(storage, delete_manifest_cascades)
{
	struct appr_error err = { 0 };
	struct storage_channel c;
	struct storage_channel *cs;
	struct storage_package *ps;
	const char **rels;
	size_t n;
	int rc;

	push_ok("ns", "p", "1.0.0", "helm", "1h");
	push_ok("ns", "p", "1.0.0", "kpm", "1k");
	push_ok("ns", "p", "2.0.0", "helm", "2h");
	push_ok("ns", "p", "3.0.0", "helm", "3h");
	static const char *const adds[] = { "1.0.0", "2.0.0", "3.0.0" };
	for (size_t i = 0; i < N(adds); i++) {
		rc = storage_channel_add(st, "ns", "p", "stable", adds[i], ar, &c, &err);
		cr_assert(eq(int, rc, 0), "add stable %s: %s", adds[i], err.msg);
	}
	rc = storage_channel_add(st, "ns", "p", "beta", "3.0.0", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "add beta: %s", err.msg);

	/* the current of stable goes: current moves to the highest remaining; beta empties */
	rc = storage_delete_manifest(st, "ns", "p", "3.0.0", "helm", &err);
	cr_assert(eq(int, rc, 0), "delete 3.0.0: %s", err.msg);
	static const char *const left[] = { "2.0.0", "1.0.0" };
	expect_releases("ns", "p", left, N(left), "3.0.0 gone");
	cr_assert(not(blob_stored("3h")), "blob of 3.0.0 deleted");
	rc = storage_get_channel(st, "ns", "p", "stable", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "stable still there: %s", err.msg);
	cr_assert(eq(str, (char *)c.current, (char *)"2.0.0"), "current moved to highest remaining");
	expect_strs(c.releases, c.n_releases, left, N(left), "stable members");
	cr_assert(not(has_channel("ns", "p", "beta")), "emptied beta deleted");

	/* one manifest of a two-manifest release: release stays */
	rc = storage_delete_manifest(st, "ns", "p", "1.0.0", "helm", &err);
	cr_assert(eq(int, rc, 0), "delete 1.0.0 helm: %s", err.msg);
	expect_releases("ns", "p", left, N(left), "1.0.0 keeps its kpm manifest");
	rc = storage_delete_manifest(st, "ns", "p", "1.0.0", "helm", &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "delete again");
	cr_assert(eq(str, err.media_type, (char *)"helm"), "details.media_type");

	/* a non-current member goes: current unchanged */
	rc = storage_delete_manifest(st, "ns", "p", "1.0.0", "kpm", &err);
	cr_assert(eq(int, rc, 0), "delete 1.0.0 kpm: %s", err.msg);
	rc = storage_get_channel(st, "ns", "p", "stable", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "stable: %s", err.msg);
	cr_assert(eq(str, (char *)c.current, (char *)"2.0.0"), "current unchanged");
	cr_assert(eq(sz, c.n_releases, (size_t)1), "one member left");

	/* the last release: the package and its channels go */
	rc = storage_delete_manifest(st, "ns", "p", "2.0.0", "helm", &err);
	cr_assert(eq(int, rc, 0), "delete 2.0.0: %s", err.msg);
	rc = storage_list_releases(st, "ns", "p", ar, &rels, &n, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "package gone");
	rc = storage_list_channels(st, "ns", "p", ar, &cs, &n, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "channels gone with the package");
	struct storage_list_query q = { 0 };
	rc = storage_list_packages(st, &q, ar, &ps, &n, &err);
	cr_assert(eq(int, rc, 0), "list: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "no packages listed");
	cr_assert(eq(sz, stored_blobs(), (size_t)0), "every blob collected");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "no trash left");

	rc = storage_delete_manifest(st, "ns", "p", "2.0.0", "helm", &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "delete in absent package");

	/* the package can be pushed again from scratch */
	push_ok("ns", "p", "1.0.0", "helm", "1h");
	static const char *const again[] = { "1.0.0" };
	expect_releases("ns", "p", again, N(again), "pushed again");
}

/* ---- list and search ---- */

static void seed_packages(void)
{
	push_ok("ns1", "alpha", "1.0.0", "helm", "a1");
	push_ok("ns1", "alpha", "2.0.0", "helm", "a2h");
	push_ok("ns1", "alpha", "2.0.0", "kpm", "a2k");
	push_ok("ns1", "beta", "0.1.0", "helm", "b1");
	push_ok("ns1", "beta", "0.2.0", "kpm", "b2");
	push_ok("ns2", "gamma", "1.0.0", "helm", "g1");
	push_ok("ns2", "alphabet", "1.0.0-rc.1", "jsonnet", "ab1");
	push_ok("ns10", "delta", "1.0.0", "kpm", "d1");
}

static void list_names(const struct storage_list_query *q, const char *const *want,
		       size_t n_want, const char *what)
{
	struct appr_error err = { 0 };
	struct storage_package *ps;
	size_t n;
	int rc = storage_list_packages(st, q, ar, &ps, &n, &err);
	cr_assert(eq(int, rc, 0), "%s: %s", what, err.msg);
	cr_assert(eq(sz, n, n_want), "%s: count", what);
	for (size_t i = 0; i < n; i++)
		cr_assert(eq(str, (char *)ps[i].package, (char *)want[i]), "%s: item %zu", what, i);
}

Test(storage, list_packages_rows)
{
	struct appr_error err = { 0 };
	struct storage_package *ps;
	struct storage_manifest m1, m2;
	struct storage_list_query q = { 0 };
	size_t n;

	seed_packages();
	int rc = storage_list_packages(st, &q, ar, &ps, &n, &err);
	cr_assert(eq(int, rc, 0), "list: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)5), "five packages");

	cr_assert(eq(str, (char *)ps[0].package, (char *)"ns1/alpha"), "first by namespace, name");
	cr_assert(eq(str, (char *)ps[0].default_release, (char *)"2.0.0"), "default is highest");
	static const char *const rels[] = { "2.0.0", "1.0.0" };
	expect_strs(ps[0].releases, ps[0].n_releases, rels, N(rels), "alpha releases");
	static const char *const types[] = { "helm", "kpm" };
	expect_strs(ps[0].media_types, ps[0].n_media_types, types, N(types), "alpha types");
	cr_assert(eq(str, (char *)ps[0].visibility, (char *)"public"), "visibility");
	rc = storage_get_manifest(st, "ns1", "alpha", "2.0.0", "helm", ar, &m1, &err);
	cr_assert(eq(int, rc, 0), "get helm: %s", err.msg);
	rc = storage_get_manifest(st, "ns1", "alpha", "2.0.0", "kpm", ar, &m2, &err);
	cr_assert(eq(int, rc, 0), "get kpm: %s", err.msg);
	const char *newest = strcmp(m1.created_at, m2.created_at) > 0 ? m1.created_at
								       : m2.created_at;
	cr_assert(eq(str, ps[0].created_at, (char *)newest),
		  "created_at is the newest manifest of the default release");

	cr_assert(eq(str, (char *)ps[1].package, (char *)"ns1/beta"), "second");
	static const char *const btypes[] = { "kpm" };
	expect_strs(ps[1].media_types, ps[1].n_media_types, btypes, N(btypes),
		    "beta: types of the default release only");
	cr_assert(eq(str, (char *)ps[2].package, (char *)"ns10/delta"), "ns10 sorts after ns1");
	cr_assert(eq(str, (char *)ps[3].package, (char *)"ns2/alphabet"), "fourth");
	cr_assert(eq(str, (char *)ps[3].default_release, (char *)"1.0.0-rc.1"), "pre-release default");
	cr_assert(eq(str, (char *)ps[4].package, (char *)"ns2/gamma"), "fifth");
	cr_assert(eq(sz, ps[4].n_releases, (size_t)1), "gamma has one release");
}

Test(storage, list_packages_filters_and_paging)
{
	seed_packages();
	struct storage_list_query q = { .namespace = "ns2" };
	static const char *const ns2[] = { "ns2/alphabet", "ns2/gamma" };
	list_names(&q, ns2, N(ns2), "namespace ns2");

	q = (struct storage_list_query){ .namespace = "ns1" };
	static const char *const ns1[] = { "ns1/alpha", "ns1/beta" };
	list_names(&q, ns1, N(ns1), "namespace ns1 (not ns10)");

	q = (struct storage_list_query){ .namespace = "nsx" };
	list_names(&q, NULL, 0, "unknown namespace");

	q = (struct storage_list_query){ .query = "ALPHA" };
	static const char *const alpha[] = { "ns1/alpha", "ns2/alphabet" };
	list_names(&q, alpha, N(alpha), "query is case-insensitive");

	q = (struct storage_list_query){ .query = "1/b" };
	static const char *const slash[] = { "ns1/beta" };
	list_names(&q, slash, N(slash), "query spans ns/name");

	q = (struct storage_list_query){ .media_type = "helm" };
	static const char *const helm[] = { "ns1/alpha", "ns1/beta", "ns2/gamma" };
	list_names(&q, helm, N(helm), "media type in any release");

	q = (struct storage_list_query){ .media_type = "kpm", .namespace = "ns1" };
	static const char *const kpm1[] = { "ns1/alpha", "ns1/beta" };
	list_names(&q, kpm1, N(kpm1), "media type + namespace");

	q = (struct storage_list_query){ .media_type = "dab" };
	list_names(&q, NULL, 0, "media type nobody has");

	q = (struct storage_list_query){ .limit = 2 };
	static const char *const p1[] = { "ns1/alpha", "ns1/beta" };
	list_names(&q, p1, N(p1), "page 1");
	q.offset = 2;
	static const char *const p2[] = { "ns10/delta", "ns2/alphabet" };
	list_names(&q, p2, N(p2), "page 2");
	q.offset = 4;
	static const char *const p3[] = { "ns2/gamma" };
	list_names(&q, p3, N(p3), "page 3");
	q.offset = 6;
	list_names(&q, NULL, 0, "past the end");
	q = (struct storage_list_query){ .limit = 0, .offset = 3 };
	static const char *const rest[] = { "ns2/alphabet", "ns2/gamma" };
	list_names(&q, rest, N(rest), "limit 0 is all, after offset");
	q = (struct storage_list_query){ .limit = 1, .query = "a", .namespace = "ns2",
					 .offset = 1 };
	static const char *const combo[] = { "ns2/gamma" };
	list_names(&q, combo, N(combo), "all filters + paging");
}

Test(storage, search_case_insensitive)
{
	struct appr_error err = { 0 };
	const char **names;
	size_t n;

	seed_packages();
	int rc = storage_search(st, "ALP", NULL, 0, ar, &names, &n, &err);
	cr_assert(eq(int, rc, 0), "search: %s", err.msg);
	static const char *const want[] = { "ns1/alpha", "ns2/alphabet" };
	expect_strs(names, n, want, N(want), "ALP");
	rc = storage_search(st, "alp", NULL, 1, ar, &names, &n, &err);
	cr_assert(eq(int, rc, 0), "search limit: %s", err.msg);
	expect_strs(names, n, want, 1, "limit 1");
	rc = storage_search(st, "(", NULL, 0, ar, &names, &n, &err);
	cr_assert(eq(int, rc, 0), "a regex metacharacter is plain text: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "( matches nothing");
	rc = storage_search(st, "%", NULL, 0, ar, &names, &n, &err);
	cr_assert(eq(int, rc, 0), "a LIKE wildcard is plain text: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "%% matches nothing");
	rc = storage_search(st, "S2/G", NULL, 0, ar, &names, &n, &err);
	cr_assert(eq(int, rc, 0), "search across slash: %s", err.msg);
	static const char *const g[] = { "ns2/gamma" };
	expect_strs(names, n, g, N(g), "S2/G");
	rc = storage_search(st, "", NULL, 0, ar, &names, &n, &err);
	cr_assert(eq(int, rc, 0), "empty text: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)5), "empty text matches all");
}

/* With a media type, each listed package is narrowed to the releases that have it:
 * a newer release without it is neither listed nor the default. */
Test(storage, list_packages_media_type_narrows_rows)
{
	struct appr_error err = { 0 };
	struct storage_package *ps;
	struct storage_manifest m1, m2;
	size_t n;

	push_ok("ns", "app", "1.0.0", "helm", "app 1 helm");
	push_ok("ns", "app", "1.0.0", "kpm", "app 1 kpm");
	push_ok("ns", "app", "2.0.0-rc1", "kpm", "app 2 kpm");
	push_ok("ns", "kpmonly", "3.0.0", "kpm", "kpmonly 3");

	struct storage_list_query q = { .media_type = "helm" };
	int rc = storage_list_packages(st, &q, ar, &ps, &n, &err);
	cr_assert(eq(int, rc, 0), "list helm: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)1), "helm: one package (kpmonly has no helm)");
	cr_assert(eq(str, (char *)ps[0].package, (char *)"ns/app"), "helm: ns/app");
	static const char *const helm_rels[] = { "1.0.0" };
	expect_strs(ps[0].releases, ps[0].n_releases, helm_rels, N(helm_rels),
		    "helm: only the releases with a helm manifest");
	cr_assert(eq(str, (char *)ps[0].default_release, (char *)"1.0.0"),
		  "helm: the default is the highest release with helm, not the kpm-only rc");
	static const char *const both[] = { "helm", "kpm" };
	expect_strs(ps[0].media_types, ps[0].n_media_types, both, N(both),
		    "helm: every media type of that default release");
	rc = storage_get_manifest(st, "ns", "app", "1.0.0", "helm", ar, &m1, &err);
	cr_assert(eq(int, rc, 0), "get helm: %s", err.msg);
	rc = storage_get_manifest(st, "ns", "app", "1.0.0", "kpm", ar, &m2, &err);
	cr_assert(eq(int, rc, 0), "get kpm: %s", err.msg);
	cr_assert(eq(str, ps[0].created_at, strcmp(m1.created_at, m2.created_at) > 0
		     ? m1.created_at : m2.created_at),
		  "helm: created_at is the newest manifest of that default release");

	q = (struct storage_list_query){ .media_type = "kpm" };
	rc = storage_list_packages(st, &q, ar, &ps, &n, &err);
	cr_assert(eq(int, rc, 0), "list kpm: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)2), "kpm: two packages");
	static const char *const kpm_rels[] = { "2.0.0-rc1", "1.0.0" };
	expect_strs(ps[0].releases, ps[0].n_releases, kpm_rels, N(kpm_rels),
		    "kpm: both releases have kpm");
	cr_assert(eq(str, (char *)ps[0].default_release, (char *)"2.0.0-rc1"),
		  "kpm: the default is the rc");
	static const char *const kpm_only[] = { "kpm" };
	expect_strs(ps[0].media_types, ps[0].n_media_types, kpm_only, N(kpm_only),
		    "kpm: the media types of the rc");

	q = (struct storage_list_query){ .media_type = "helm", .limit = 1, .offset = 1 };
	list_names(&q, NULL, 0, "helm, page 2 of one package: empty");
	q = (struct storage_list_query){ .media_type = "kpm", .limit = 1, .offset = 1 };
	static const char *const page2[] = { "ns/kpmonly" };
	list_names(&q, page2, N(page2), "kpm, page 2");

	q = (struct storage_list_query){ 0 };
	rc = storage_list_packages(st, &q, ar, &ps, &n, &err);
	cr_assert(eq(int, rc, 0), "list all: %s", err.msg);
	expect_strs(ps[0].releases, ps[0].n_releases, kpm_rels, N(kpm_rels),
		    "no media type: every release");
	cr_assert(eq(str, (char *)ps[0].default_release, (char *)"2.0.0-rc1"),
		  "no media type: the default is the highest release");
}

/* Names keep their case and punctuation: stored, looked up, ordered and listed
 * exactly as given, bytewise (the layer above validates them). */
Test(storage, names_are_exact_and_case_sensitive)
{
	struct appr_error err = { 0 };
	struct storage_manifest m;
	struct storage_package *ps;
	long long size;
	size_t n;
	int rc;

	push_ok("Coreos", "Web.App", "1.0.0", "helm", "Coreos/Web.App");
	push_ok("coreos", "web.app", "1.0.0", "helm", "coreos/web.app");
	push_ok("Foo", "bar", "1.0.0", "helm", "Foo/bar");
	push_ok("foo", "bar", "2.0.0", "helm", "foo/bar");
	push_ok("_x", "-y", "1.0.0", "helm", "_x/-y");
	push_ok("ns", "a", "1.0.0", "helm", "ns/a");
	push_ok("ns-x", "a", "1.0.0", "helm", "ns-x/a");
	push_ok("ns.x", "a", "1.0.0", "helm", "ns.x/a");
	push_ok("ns", "a_b-C.d", "1.0.0", "helm", "ns/a_b-C.d");

	/* look-ups are exact */
	static const char *const r1[] = { "1.0.0" }, *const r2[] = { "2.0.0" };
	expect_releases("Foo", "bar", r1, N(r1), "Foo/bar");
	expect_releases("foo", "bar", r2, N(r2), "foo/bar is another package");
	expect_releases("_x", "-y", r1, N(r1), "leading _ and -");
	const char **rels;
	rc = storage_list_releases(st, "FOO", "bar", ar, &rels, &n, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "FOO/bar does not exist");
	rc = storage_get_manifest(st, "Coreos", "web.app", "1.0.0", "helm", ar, &m, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "Coreos/web.app does not exist");
	rc = storage_get_manifest(st, "Coreos", "Web.App", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get Coreos/Web.App: %s", err.msg);
	char d[DIGEST_HEX_LEN + 1];
	digest_sha256_hex("Coreos/Web.App", strlen("Coreos/Web.App"), d);
	cr_assert(eq(str, m.digest, d), "Coreos/Web.App has its own blob");
	cr_assert(eq(str, (char *)m.package, (char *)"Coreos/Web.App"), "package as pushed");
	rc = storage_blob_lookup(st, "coreos", "web.app", d, &size, lookup_sha, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "its blob is not coreos/web.app's");

	/* listing order is bytewise: upper case < '_' < lower case; "ns" < "ns-x" < "ns.x" */
	struct storage_list_query q = { 0 };
	static const char *const all[] = {
		"Coreos/Web.App", "Foo/bar", "_x/-y", "coreos/web.app", "foo/bar", "ns/a",
		"ns/a_b-C.d", "ns-x/a", "ns.x/a",
	};
	list_names(&q, all, N(all), "every package, bytewise by namespace then name");
	q.limit = 3;
	q.offset = 5;
	static const char *const page[] = { "ns/a", "ns/a_b-C.d", "ns-x/a" };
	list_names(&q, page, N(page), "a page in that order");
	q = (struct storage_list_query){ .namespace = "ns" };
	static const char *const ns[] = { "ns/a", "ns/a_b-C.d" };
	list_names(&q, ns, N(ns), "namespace ns: not ns-x nor ns.x");
	q = (struct storage_list_query){ .namespace = "Coreos" };
	static const char *const co[] = { "Coreos/Web.App" };
	list_names(&q, co, N(co), "namespace Coreos: not coreos");
	q = (struct storage_list_query){ .namespace = "COREOS" };
	list_names(&q, NULL, 0, "namespace COREOS: none");
	q = (struct storage_list_query){ .query = "WEB.app" };
	static const char *const web[] = { "Coreos/Web.App", "coreos/web.app" };
	list_names(&q, web, N(web), "the query text stays case-insensitive");
	search_names("S/A_B", NULL, 0, (const char *const[]){ "ns/a_b-C.d" }, 1,
		     "search: case-insensitive over exact names");

	/* one package deleted, its other-case twin stays */
	rc = storage_delete_manifest(st, "foo", "bar", "2.0.0", "helm", &err);
	cr_assert(eq(int, rc, 0), "delete foo/bar: %s", err.msg);
	expect_releases("Foo", "bar", r1, N(r1), "Foo/bar survives foo/bar's delete");
	q = (struct storage_list_query){ .namespace = "Foo" };
	rc = storage_list_packages(st, &q, ar, &ps, &n, &err);
	cr_assert(eq(int, rc, 0), "list Foo: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)1), "Foo/bar still listed");

	/* private packages: readers' namespaces compare exactly too */
	push_vis("Team", "app", "1.0.0", "Team/app", "private");
	const char *const lower_ns[] = { "team" }, *const exact_ns[] = { "Team" };
	struct storage_readers lower = { .namespaces = lower_ns, .n = 1 };
	struct storage_readers exact = { .namespaces = exact_ns, .n = 1 };
	q = (struct storage_list_query){ .namespace = "Team", .readers = &lower };
	list_names(&q, NULL, 0, "a reader of team does not see Team's private package");
	q.readers = &exact;
	static const char *const team[] = { "Team/app" };
	list_names(&q, team, N(team), "a reader of Team does");
}

/* Channel names keep their case and punctuation ('+' too), compared exactly. */
Test(storage, channel_names_are_exact)
{
	struct appr_error err = { 0 };
	struct storage_channel c, *cs;
	struct storage_manifest m;
	size_t n;
	int rc;

	push_ok("Ns", "Pkg", "1.0.0", "helm", "1");
	push_ok("Ns", "Pkg", "2.0.0+build.1", "helm", "2");
	static const char *const chans[] = { "1.0+x", "Beta", "_b", "beta", "-rc.1" };
	for (size_t i = 0; i < N(chans); i++) {
		rc = storage_channel_add(st, "Ns", "Pkg", chans[i], i % 2 ? "1.0.0" : "2.0.0+build.1",
					 ar, &c, &err);
		cr_assert(eq(int, rc, 0), "add to channel %s: %s", chans[i], err.msg);
		cr_assert(eq(str, (char *)c.name, (char *)chans[i]), "channel %s as given", chans[i]);
	}
	rc = storage_list_channels(st, "Ns", "Pkg", ar, &cs, &n, &err);
	cr_assert(eq(int, rc, 0), "list: %s", err.msg);
	static const char *const sorted[] = { "-rc.1", "1.0+x", "Beta", "_b", "beta" };
	cr_assert(eq(sz, n, N(sorted)), "five channels: Beta and beta are two");
	for (size_t i = 0; i < n; i++)
		cr_assert(eq(str, (char *)cs[i].name, (char *)sorted[i]),
			  "channels bytewise by name: item %zu", i);
	rc = storage_get_channel(st, "Ns", "Pkg", "Beta", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "get Beta: %s", err.msg);
	cr_assert(eq(str, (char *)c.current, (char *)"1.0.0"), "Beta's current");
	rc = storage_get_channel(st, "Ns", "Pkg", "beta", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "get beta: %s", err.msg);
	cr_assert(eq(str, (char *)c.current, (char *)"1.0.0"), "beta's current");
	rc = storage_get_channel(st, "Ns", "Pkg", "1.0+x", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "get 1.0+x: %s", err.msg);
	cr_assert(eq(str, (char *)c.current, (char *)"2.0.0+build.1"), "1.0+x's current");
	rc = storage_get_channel(st, "Ns", "Pkg", "BETA", ar, &c, &err);
	expect_err(rc, &err, 404, APPR_E_CHANNEL_NOT_FOUND, "BETA does not exist");
	rc = storage_get_channel(st, "ns", "Pkg", "Beta", ar, &c, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "nor does package ns/Pkg");

	rc = storage_channel_delete(st, "Ns", "Pkg", "Beta", &err);
	cr_assert(eq(int, rc, 0), "delete Beta: %s", err.msg);
	cr_assert(not(has_channel("Ns", "Pkg", "Beta")), "Beta is gone");
	cr_assert(has_channel("Ns", "Pkg", "beta"), "beta stays");
	rc = storage_channel_remove(st, "Ns", "Pkg", "1.0+x", "2.0.0+build.1", &err);
	cr_assert(eq(int, rc, 0), "remove from 1.0+x: %s", err.msg);
	cr_assert(not(has_channel("Ns", "Pkg", "1.0+x")), "emptied 1.0+x is gone");
	rc = storage_get_manifest(st, "Ns", "Pkg", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get 1.0.0: %s", err.msg);
	static const char *const cur[] = { "beta" };
	expect_strs(m.channels, m.n_channels, cur, N(cur),
		    "the channels whose current is 1.0.0: beta, not Beta");
}

/* ---- channels ---- */

Test(storage, channels_add_remove_delete)
{
	struct appr_error err = { 0 };
	struct storage_channel c, *cs;
	struct storage_manifest m;
	size_t n;
	int rc;

	rc = storage_list_channels(st, "ns", "p", ar, &cs, &n, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "list channels of absent package");
	rc = storage_channel_add(st, "ns", "p", "stable", "1.0.0", ar, &c, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "add to absent package");

	push_ok("ns", "p", "1.0.0", "helm", "1");
	push_ok("ns", "p", "2.0.0", "helm", "2");
	push_ok("ns", "p", "3.0.0", "helm", "3");
	rc = storage_list_channels(st, "ns", "p", ar, &cs, &n, &err);
	cr_assert(eq(int, rc, 0), "list: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "no channels yet");
	rc = storage_channel_add(st, "ns", "p", "stable", "4.0.0", ar, &c, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "add absent release");
	cr_assert(eq(str, err.release, (char *)"4.0.0"), "details.release");
	cr_assert(not(has_channel("ns", "p", "stable")), "failed add creates no channel");

	rc = storage_channel_add(st, "ns", "p", "stable", "1.0.0", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "add 1.0.0: %s", err.msg);
	cr_assert(eq(str, (char *)c.name, (char *)"stable"), "name");
	cr_assert(eq(str, (char *)c.current, (char *)"1.0.0"), "current 1.0.0");
	rc = storage_channel_add(st, "ns", "p", "stable", "2.0.0", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "add 2.0.0: %s", err.msg);
	cr_assert(eq(str, (char *)c.current, (char *)"2.0.0"), "promotion");
	rc = storage_channel_add(st, "ns", "p", "stable", "1.0.0", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "add 1.0.0 again: %s", err.msg);
	cr_assert(eq(str, (char *)c.current, (char *)"1.0.0"), "re-adding makes current");
	static const char *const both[] = { "2.0.0", "1.0.0" };
	expect_strs(c.releases, c.n_releases, both, N(both), "members once, highest first");

	rc = storage_get_manifest(st, "ns", "p", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get 1.0.0: %s", err.msg);
	static const char *const cur1[] = { "stable" };
	expect_strs(m.channels, m.n_channels, cur1, N(cur1), "channels of 1.0.0");
	rc = storage_get_manifest(st, "ns", "p", "2.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get 2.0.0: %s", err.msg);
	cr_assert(eq(sz, m.n_channels, (size_t)0), "2.0.0 is a member but not current");

	rc = storage_channel_add(st, "ns", "p", "zeta", "3.0.0", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "add zeta: %s", err.msg);
	rc = storage_channel_add(st, "ns", "p", "beta", "3.0.0", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "add beta: %s", err.msg);
	rc = storage_get_manifest(st, "ns", "p", "3.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get 3.0.0: %s", err.msg);
	static const char *const cur3[] = { "beta", "zeta" };
	expect_strs(m.channels, m.n_channels, cur3, N(cur3), "channels of 3.0.0 sorted");

	rc = storage_list_channels(st, "ns", "p", ar, &cs, &n, &err);
	cr_assert(eq(int, rc, 0), "list: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)3), "three channels");
	cr_assert(eq(str, (char *)cs[0].name, (char *)"beta"), "sorted 0");
	cr_assert(eq(str, (char *)cs[1].name, (char *)"stable"), "sorted 1");
	cr_assert(eq(str, (char *)cs[2].name, (char *)"zeta"), "sorted 2");
	expect_strs(cs[1].releases, cs[1].n_releases, both, N(both), "stable members in list");
	cr_assert(eq(str, (char *)cs[1].current, (char *)"1.0.0"), "stable current in list");

	rc = storage_get_channel(st, "ns", "p", "nope", ar, &c, &err);
	expect_err(rc, &err, 404, APPR_E_CHANNEL_NOT_FOUND, "get absent channel");
	rc = storage_get_channel(st, "ns", "q", "stable", ar, &c, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "get channel of absent package");

	rc = storage_channel_remove(st, "ns", "p", "nope", "1.0.0", &err);
	expect_err(rc, &err, 404, APPR_E_CHANNEL_NOT_FOUND, "remove from absent channel");
	rc = storage_channel_remove(st, "ns", "p", "stable", "3.0.0", &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "remove a non-member");
	rc = storage_channel_remove(st, "ns", "p", "stable", "7.0.0", &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "remove an absent release");

	rc = storage_channel_remove(st, "ns", "p", "stable", "1.0.0", &err);
	cr_assert(eq(int, rc, 0), "remove current: %s", err.msg);
	rc = storage_get_channel(st, "ns", "p", "stable", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "get stable: %s", err.msg);
	cr_assert(eq(str, (char *)c.current, (char *)"2.0.0"), "current moved to highest remaining");
	cr_assert(eq(sz, c.n_releases, (size_t)1), "one member left");

	rc = storage_channel_remove(st, "ns", "p", "beta", "3.0.0", &err);
	cr_assert(eq(int, rc, 0), "remove beta's last: %s", err.msg);
	cr_assert(not(has_channel("ns", "p", "beta")), "emptied channel deleted");

	rc = storage_channel_delete(st, "ns", "p", "stable", &err);
	cr_assert(eq(int, rc, 0), "delete stable: %s", err.msg);
	cr_assert(not(has_channel("ns", "p", "stable")), "stable deleted");
	rc = storage_channel_delete(st, "ns", "p", "stable", &err);
	expect_err(rc, &err, 404, APPR_E_CHANNEL_NOT_FOUND, "delete again");
	rc = storage_channel_delete(st, "ns", "q", "stable", &err);
	expect_err(rc, &err, 404, APPR_E_CHANNEL_NOT_FOUND, "delete in absent package");
	rc = storage_list_channels(st, "ns", "p", ar, &cs, &n, &err);
	cr_assert(eq(int, rc, 0), "list: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)1), "zeta remains");
	expect_releases("ns", "p", (const char *const[]){ "3.0.0", "2.0.0", "1.0.0" }, 3,
			"channel operations leave releases alone");
}

/* ---- blobs ---- */

Test(storage, blob_open_read_byte_exact)
{
	struct appr_error err = { 0 };
	struct storage_blob_reader *r = NULL;
	struct storage_blob_writer *w = NULL;
	struct storage_push p = { .ns = "ns", .name = "bin", .release = "1.0.0",
				  .media_type = "helm" };
	unsigned char data[70000], back[70000 + 16];
	long long size = 0;
	size_t got = 0;

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	digest_sha256_hex(data, sizeof data, p.digest);
	cr_assert(eq(int, storage_blob_begin(st, &w, &err), 0), "begin: %s", err.msg);
	for (size_t off = 0; off < sizeof data; off += 4096) {
		size_t len = sizeof data - off < 4096 ? sizeof data - off : 4096;
		cr_assert(eq(int, storage_blob_write(w, data + off, len, &err), 0), "write");
	}
	cr_assert(eq(int, storage_put_release(st, &p, w, &err), 0), "put: %s", err.msg);

	int rc = storage_blob_open(st, p.digest, &r, &size, &err);
	cr_assert(eq(int, rc, 0), "blob_open: %s", err.msg);
	cr_assert(eq(llong, size, (long long)sizeof data), "size");
	for (;;) {
		long n = storage_blob_read(r, back + got, sizeof back - got);
		cr_assert(ge(long, n, 0L), "blob_read");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	storage_blob_close(r);
	storage_blob_close(NULL);
	cr_assert(eq(sz, got, sizeof data), "read every byte");
	cr_assert(eq(int, memcmp(back, data, sizeof data), 0), "bytes identical");

	rc = storage_blob_lookup(st, "ns", "bin", p.digest, &size, lookup_sha, &err);
	cr_assert(eq(int, rc, 0), "lookup: %s", err.msg);
	cr_assert(eq(llong, size, (long long)sizeof data), "lookup size");

	char absent[DIGEST_HEX_LEN + 1];
	memset(absent, 'a', DIGEST_HEX_LEN);
	absent[DIGEST_HEX_LEN] = '\0';
	rc = storage_blob_open(st, absent, &r, &size, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "absent blob");
	rc = storage_blob_open(st, "../../appr.db", &r, &size, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "path-like digest refused");
	absent[0] = 'A';
	rc = storage_blob_open(st, absent, &r, &size, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "uppercase digest refused");
}

/* ---- crash leftovers ---- */

Test(storage, sqlite_only_open_cleans_tmp_and_restores_interrupted_deletes)
{
	char path[512], final[512], trash[512], d[DIGEST_HEX_LEN + 1];
	struct timespec old[2] = { { time(NULL) - 7200, 0 }, { time(NULL) - 7200, 0 } };
	struct stat sb;
	int fd;

	SQLITE_ONLY();
	push_ok("ns", "p", "1.0.0", "helm", "keep me");
	storage_close(st);
	st = NULL;

	/* an abandoned upload (2 h old), a fresh one, a crash between the rename of a
	 * dropped blob and COMMIT (still referenced), and an unreferenced leftover */
	snprintf(path, sizeof path, "%s/blobs/tmp/blob-OLD123", data_dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	cr_assert(ge(int, fd, 0), "create old temp");
	close(fd);
	cr_assert(eq(int, utimensat(AT_FDCWD, path, old, 0), 0), "age old temp");
	snprintf(path, sizeof path, "%s/blobs/tmp/blob-NEW123", data_dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	cr_assert(ge(int, fd, 0), "create fresh temp");
	close(fd);
	blob_file("keep me", final, sizeof final);
	digest_sha256_hex("keep me", 7, d);
	snprintf(trash, sizeof trash, "%s/blobs/tmp/%s.1.1.del", data_dir, d);
	cr_assert(eq(int, rename(final, trash), 0), "simulate an interrupted delete");
	digest_sha256_hex("gone", 4, d);
	snprintf(path, sizeof path, "%s/blobs/tmp/%s.2.9.del", data_dir, d);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	cr_assert(ge(int, fd, 0), "create unreferenced trash");
	close(fd);

	open_store();
	snprintf(path, sizeof path, "%s/blobs/tmp/blob-OLD123", data_dir);
	cr_assert(ne(int, stat(path, &sb), 0), "abandoned temp removed");
	snprintf(path, sizeof path, "%s/blobs/tmp/blob-NEW123", data_dir);
	cr_assert(eq(int, stat(path, &sb), 0), "fresh temp kept (an upload in progress)");
	cr_assert(eq(int, stat(final, &sb), 0), "referenced blob restored");
	cr_assert(ne(int, stat(trash, &sb), 0), "its trash name is gone");
	cr_assert(eq(sz, stray_uploads(), (size_t)1), "only the fresh temp is left");
}

/* ---- concurrency ---- */

Test(storage, sqlite_only_busy_writer_gives_409_and_readers_proceed)
{
	struct appr_error err = { 0 };
	char db[512];
	sqlite3 *raw;
	const char **rels;
	size_t n;

	SQLITE_ONLY();
	push_ok("ns", "p", "1.0.0", "helm", "one");
	storage_close(st);
	cfg.busy_timeout_ms = 200;
	open_store();

	snprintf(db, sizeof db, "%s/appr.db", data_dir);
	cr_assert(eq(int, sqlite3_open(db, &raw), SQLITE_OK), "raw open");
	cr_assert(eq(int, sqlite3_exec(raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK),
		  "another process holds the write lock");
	int rc = push_to(st, "ns", "p", "2.0.0", "helm", "two", false, NULL, &err);
	expect_err(rc, &err, 409, APPR_E_RESOURCE_IN_USE, "push while locked");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "busy push leaves no temp file");
	cr_assert(not(blob_stored("two")), "busy push stores no blob");
	rc = storage_list_releases(st, "ns", "p", ar, &rels, &n, &err);
	cr_assert(eq(int, rc, 0), "reads proceed during a write (WAL): %s", err.msg);
	cr_assert(eq(sz, n, (size_t)1), "one release");
	rc = storage_channel_add(st, "ns", "p", "stable", "1.0.0", ar,
				 &(struct storage_channel){ 0 }, &err);
	expect_err(rc, &err, 409, APPR_E_RESOURCE_IN_USE, "channel add while locked");

	cr_assert(eq(int, sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL), SQLITE_OK), "unlock");
	sqlite3_close(raw);
	push_ok("ns", "p", "2.0.0", "helm", "two");
	static const char *const want[] = { "2.0.0", "1.0.0" };
	expect_releases("ns", "p", want, N(want), "push after the lock is released");
}

Test(storage, two_handles_see_each_other)
{
	struct appr_error err = { 0 };
	struct storage *other = NULL;
	const char **rels;
	size_t n;

	int rc = storage_open(&cfg, &other, &err);
	cr_assert(eq(int, rc, 0), "second handle: %s", err.msg);
	push_ok("ns", "p", "1.0.0", "helm", "from first");
	rc = storage_list_releases(other, "ns", "p", ar, &rels, &n, &err);
	cr_assert(eq(int, rc, 0), "second sees first's push: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)1), "one release");
	rc = push_to(other, "ns", "p", "2.0.0", "helm", "from second", false, NULL, &err);
	cr_assert(eq(int, rc, 0), "push through second: %s", err.msg);
	rc = push_to(other, "ns", "p", "1.0.0", "helm", "dup", false, NULL, &err);
	expect_err(rc, &err, 409, APPR_E_PACKAGE_EXISTS, "second sees the first's release");
	static const char *const want[] = { "2.0.0", "1.0.0" };
	expect_releases("ns", "p", want, N(want), "first sees second's push");
	rc = storage_delete_manifest(other, "ns", "p", "2.0.0", "helm", &err);
	cr_assert(eq(int, rc, 0), "delete through second: %s", err.msg);
	static const char *const left[] = { "1.0.0" };
	expect_releases("ns", "p", left, N(left), "first sees second's delete");
	storage_close(other);
}

/* Child process body: its own handle (never one opened before fork). Exit status
 * is the number of failed operations (capped). */
static void child_pushes(const char *prefix, int count)
{
	struct appr_error err = { 0 };
	struct storage *s = NULL;
	char rel[32], content[64];
	int bad = 0;

	if (storage_open(&cfg, &s, &err) < 0) {
		fprintf(stderr, "child %s: open: %s\n", prefix, err.msg);
		_exit(100);
	}
	for (int i = 0; i < count; i++) {
		snprintf(rel, sizeof rel, "%s.%d.0", prefix, i);
		snprintf(content, sizeof content, "blob %s %d", prefix, i);
		if (push_to(s, "conc", "pkg", rel, "helm", content, false, NULL, &err) < 0) {
			fprintf(stderr, "child %s: push %s: %s\n", prefix, rel, err.msg);
			bad++;
		}
	}
	storage_close(s);
	_exit(bad > 99 ? 99 : bad);
}

Test(storage, forked_writers_lose_nothing)
{
	enum { PROCS = 3, PUSHES = 20 };
	static const char *const prefixes[PROCS] = { "1", "2", "3" };
	struct appr_error err = { 0 };
	pid_t pids[PROCS];
	const char **rels;
	size_t n;

	storage_close(st);                /* no connection may cross fork() */
	st = NULL;
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		cr_assert(ge(int, pids[p], 0), "fork");
		if (pids[p] == 0)
			child_pushes(prefixes[p], PUSHES);
	}
	int exits[PROCS];
	for (int p = 0; p < PROCS; p++)           /* reap all before any assertion */
		exits[p] = wait_exit(pids[p]);
	for (int p = 0; p < PROCS; p++)
		cr_assert(eq(int, exits[p], 0), "child %d: exit status (failed pushes)", p);
	open_store();
	int rc = storage_list_releases(st, "conc", "pkg", ar, &rels, &n, &err);
	cr_assert(eq(int, rc, 0), "list: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)(PROCS * PUSHES)), "every acknowledged push is there");
	for (int p = 0; p < PROCS; p++)
		for (int i = 0; i < PUSHES; i++) {
			char content[64];
			snprintf(content, sizeof content, "blob %s %d", prefixes[p], i);
			cr_assert(blob_stored(content), "blob of %s.%d.0 stored", prefixes[p], i);
		}
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "no temp files left");
}

/* One process pushes blob i and deletes it again while another pushes the same
 * blob i into a package that keeps it: whatever the interleaving, every blob the
 * keeper was acknowledged must stay readable (a lost blob i is never re-pushed,
 * so a loss stays visible). A stress test: the guarantee itself comes from
 * creating and deleting blob files only under SQLite's write lock. */
Test(storage, delete_never_races_a_push_of_the_same_blob)
{
	enum { ROUNDS = 40 };
	struct appr_error err = { 0 };
	struct storage_manifest *ms;
	size_t n;
	pid_t pid;
	int status = 0;

	storage_close(st);
	st = NULL;
	pid = fork();
	cr_assert(ge(int, pid, 0), "fork");
	if (pid == 0) {
		struct storage *s = NULL;
		char rel[32], content[64];
		int bad = 0;
		if (storage_open(&cfg, &s, &err) < 0)
			_exit(100);
		for (int i = 0; i < ROUNDS; i++) {
			snprintf(rel, sizeof rel, "1.0.%d", i);
			snprintf(content, sizeof content, "shared blob %d", i);
			if (push_to(s, "churn", "pkg", rel, "helm", content, false, NULL, &err) < 0 ||
			    storage_delete_manifest(s, "churn", "pkg", rel, "helm", &err) < 0)
				bad++;
		}
		storage_close(s);
		_exit(bad > 99 ? 99 : bad);
	}
	/* no assertion until the child is reaped: teardown must not race it */
	int failed = -1, rc = storage_open(&cfg, &st, &err);
	char first_err[200] = "";
	if (rc == 0)
		failed = 0;
	for (int i = 0; rc == 0 && i < ROUNDS; i++) {
		char rel[32], content[64];
		snprintf(rel, sizeof rel, "2.0.%d", i);
		snprintf(content, sizeof content, "shared blob %d", i);
		if (push_to(st, "keep", "pkg", rel, "helm", content, false, NULL, &err) < 0 &&
		    failed++ == 0)
			snprintf(first_err, sizeof first_err, "%s: %s", rel, err.msg);
	}
	status = wait_exit(pid);
	cr_assert(eq(int, rc, 0), "keeper open: %s", err.msg);
	cr_assert(eq(int, failed, 0), "keeper pushes all acknowledged (first failure %s)",
		  first_err);
	cr_assert(eq(int, status, 0), "churn child succeeded");
	rc = storage_get_manifests(st, "keep", "pkg", NULL, NULL, ar, &ms, &n, &err);
	cr_assert(eq(int, rc, 0), "keeper manifests: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)ROUNDS), "every keeper release");
	for (size_t i = 0; i < n; i++) {
		struct storage_blob_reader *r = NULL;
		long long size = 0;
		rc = storage_blob_open(st, ms[i].digest, &r, &size, &err);
		cr_assert(eq(int, rc, 0), "blob of %s readable: %s", ms[i].release, err.msg);
		cr_assert(eq(llong, size, ms[i].size), "blob of %s has its size", ms[i].release);
		storage_blob_close(r);
	}
	cr_assert(eq(sz, stored_blobs(), (size_t)ROUNDS), "one file per blob");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "no temp or trash left");
}

/* Several processes starting at once on an empty data_dir (a fresh install under
 * a process manager): one creates the schema, every one of them works. */
Test(storage, concurrent_first_open)
{
	enum { PROCS = 4, PUSHES = 5 };
	static const char *const prefixes[PROCS] = { "1", "2", "3", "4" };
	struct appr_error err = { 0 };
	pid_t pids[PROCS];
	const char **rels;
	size_t n;

	storage_close(st);
	st = NULL;
	nftw(data_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	struct stat sb;
	cr_assert(ne(int, stat(data_dir, &sb), 0), "data_dir removed before the race");
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		cr_assert(ge(int, pids[p], 0), "fork");
		if (pids[p] == 0)
			child_pushes(prefixes[p], PUSHES);
	}
	int exits[PROCS];
	for (int p = 0; p < PROCS; p++)           /* reap all before any assertion */
		exits[p] = wait_exit(pids[p]);
	for (int p = 0; p < PROCS; p++)
		cr_assert(eq(int, exits[p], 0), "child %d opened and pushed", p);
	open_store();
	int rc = storage_list_releases(st, "conc", "pkg", ar, &rels, &n, &err);
	cr_assert(eq(int, rc, 0), "list: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)(PROCS * PUSHES)), "every push of every process");
}

/* A blob bigger than several kv chunks (and than etcd's request limit) round-trips
 * byte-exact, read back in odd-sized pieces. */
Test(storage, blob_10mib_round_trip)
{
	enum { SIZE = 10 * 1024 * 1024 + 12345 };
	struct appr_error err = { 0 };
	struct storage_blob_writer *w = NULL;
	struct storage_blob_reader *r = NULL;
	struct storage_push p = { .ns = "big", .name = "blob", .release = "1.0.0",
				  .media_type = "helm" };
	unsigned char *data = xmalloc(SIZE), *back = xmalloc(SIZE + 16);
	unsigned long long x = 88172645463325252ULL;
	long long size = 0;
	size_t got = 0;

	for (size_t i = 0; i < SIZE; i++) {      /* xorshift: incompressible, no pattern */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (unsigned char)x;
	}
	digest_sha256_hex(data, SIZE, p.digest);
	cr_assert(eq(int, storage_blob_begin(st, &w, &err), 0), "begin: %s", err.msg);
	for (size_t off = 0; off < SIZE; off += 65536) {
		size_t len = SIZE - off < 65536 ? SIZE - off : 65536;
		cr_assert(eq(int, storage_blob_write(w, data + off, len, &err), 0),
			  "write at %zu: %s", off, err.msg);
	}
	cr_assert(eq(int, storage_put_release(st, &p, w, &err), 0), "put: %s", err.msg);
	int rc = storage_blob_open(st, p.digest, &r, &size, &err);
	cr_assert(eq(int, rc, 0), "blob_open: %s", err.msg);
	cr_assert(eq(llong, size, (long long)SIZE), "size of the 10 MiB blob");
	for (;;) {
		size_t want = SIZE + 16 - got < 777777 ? SIZE + 16 - got : 777777;
		long n = storage_blob_read(r, back + got, want);
		cr_assert(ge(long, n, 0L), "blob_read at %zu", got);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	storage_blob_close(r);
	cr_assert(eq(sz, got, (size_t)SIZE), "read every byte back");
	cr_assert(eq(int, memcmp(back, data, SIZE), 0), "bytes identical");
	free(data);
	free(back);
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "no stray upload");
	rc = storage_delete_manifest(st, "big", "blob", "1.0.0", "helm", &err);
	cr_assert(eq(int, rc, 0), "delete: %s", err.msg);
	cr_assert(eq(sz, stored_blobs(), (size_t)0), "blob collected with its chunks");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "no chunk left");
}

/* Many processes push the same new release at once: exactly one wins, every other
 * gets 409 package-exists, and only the winner's blob stays. */
Test(storage, concurrent_pushes_of_one_release_one_wins)
{
	enum { PROCS = 16 };
	pid_t pids[PROCS];
	int exits[PROCS], wins = 0, exists = 0;

	storage_close(st);                /* no connection may cross fork() */
	st = NULL;
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		cr_assert(ge(int, pids[p], 0), "fork");
		if (pids[p] == 0) {
			struct appr_error err = { 0 };
			struct storage *s = NULL;
			char content[64];
			if (storage_open(&cfg, &s, &err) < 0)
				_exit(100);
			snprintf(content, sizeof content, "racer %d", p);
			int rc = push_to(s, "race", "pkg", "1.0.0", "helm", content, false, NULL,
					 &err);
			storage_close(s);
			if (rc == 0)
				_exit(0);
			if (err.http == 409 && strcmp(err.code, APPR_E_PACKAGE_EXISTS) == 0)
				_exit(1);
			fprintf(stderr, "racer %d: %d %s\n", p, err.http, err.msg);
			_exit(2);
		}
	}
	for (int p = 0; p < PROCS; p++)           /* reap all before any assertion */
		exits[p] = wait_exit(pids[p]);
	for (int p = 0; p < PROCS; p++) {
		wins += exits[p] == 0;
		exists += exits[p] == 1;
	}
	cr_assert(eq(int, wins, 1), "exactly one push succeeds");
	cr_assert(eq(int, exists, PROCS - 1), "every other push is 409 package-exists");
	open_store();
	cr_assert(eq(sz, stored_blobs(), (size_t)1), "only the winner's blob is stored");
	cr_assert(eq(sz, stray_uploads(), (size_t)0), "the losers left nothing");
}

/* ---- users, grants, tokens ---- */

static void user_ok(const char *name, const char *hash)
{
	struct appr_error err = { 0 };
	int rc = storage_user_put(st, name, hash, true, &err);
	cr_assert(eq(int, rc, 0), "create user %s: %s", name, err.msg);
}

static void grant_ok(const char *user, const char *ns, enum storage_level level)
{
	struct appr_error err = { 0 };
	int rc = storage_grant_set(st, user, ns, level, &err);
	cr_assert(eq(int, rc, 0), "grant %s %s %d: %s", user, ns, (int)level, err.msg);
}

/* A token for user: id and hash made from seed (16 hex id, 64 hex hash). */
static struct storage_token token_make(const char *user, const char *seed, const char *ns,
				       enum storage_level scope, const char *created_at)
{
	struct storage_token t = { .user = user, .namespace = ns, .scope = scope };
	char d[DIGEST_HEX_LEN + 1];
	digest_sha256_hex(seed, strlen(seed), d);
	memcpy(t.hash, d, sizeof t.hash);
	t.id = arena_strndup(ar, d + 48, 16);
	snprintf(t.created_at, sizeof t.created_at, "%s", created_at);
	return t;
}

static void token_ok(const struct storage_token *t)
{
	struct appr_error err = { 0 };
	int rc = storage_token_add(st, t, &err);
	cr_assert(eq(int, rc, 0), "add token %s of %s: %s", t->id, t->user, err.msg);
}

Test(storage, users_create_get_update_list_delete)
{
	struct appr_error err = { 0 };
	struct storage_user u, *us;
	size_t n;

	int rc = storage_user_get(st, "alice", ar, &u, &err);
	expect_err(rc, &err, 404, APPR_E_USER_NOT_FOUND, "get an absent user");
	rc = storage_user_put(st, "alice", "hash-1", false, &err);
	expect_err(rc, &err, 404, APPR_E_USER_NOT_FOUND, "update an absent user");
	rc = storage_user_list(st, ar, &us, &n, &err);
	cr_assert(eq(int, rc, 0), "list no users: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "no users yet");

	user_ok("bob", "hash-b");
	user_ok("alice", "hash-1");
	user_ok("bob-x", NULL);
	rc = storage_user_put(st, "alice", "other", true, &err);
	expect_err(rc, &err, 409, APPR_E_USER_EXISTS, "create an existing user");

	rc = storage_user_get(st, "alice", ar, &u, &err);
	cr_assert(eq(int, rc, 0), "get alice: %s", err.msg);
	cr_assert(eq(str, (char *)u.name, (char *)"alice"), "name");
	cr_assert(eq(str, (char *)u.password_hash, (char *)"hash-1"),
		  "the refused create changed nothing");
	cr_assert(eq(sz, strlen(u.created_at), (size_t)26), "created_at is set (%s)", u.created_at);
	char created[32];
	snprintf(created, sizeof created, "%s", u.created_at);

	rc = storage_user_put(st, "alice", "hash-2", false, &err);
	cr_assert(eq(int, rc, 0), "update alice: %s", err.msg);
	rc = storage_user_get(st, "alice", ar, &u, &err);
	cr_assert(eq(int, rc, 0), "get alice again: %s", err.msg);
	cr_assert(eq(str, (char *)u.password_hash, (char *)"hash-2"), "password updated");
	cr_assert(eq(str, u.created_at, created), "created_at kept by an update");
	rc = storage_user_put(st, "alice", NULL, false, &err);
	cr_assert(eq(int, rc, 0), "clear alice's password: %s", err.msg);
	rc = storage_user_get(st, "alice", ar, &u, &err);
	cr_assert(eq(int, rc, 0), "get alice without password: %s", err.msg);
	cr_assert(u.password_hash == NULL, "no password: NULL hash");

	rc = storage_user_list(st, ar, &us, &n, &err);
	cr_assert(eq(int, rc, 0), "list users: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)3), "three users");
	cr_assert(eq(str, (char *)us[0].name, (char *)"alice"), "users by name: 0");
	cr_assert(eq(str, (char *)us[1].name, (char *)"bob"),
		  "users by name: 1 (bob before bob-x)");
	cr_assert(eq(str, (char *)us[2].name, (char *)"bob-x"), "users by name: 2");
	cr_assert(eq(str, (char *)us[1].password_hash, (char *)"hash-b"), "list has hashes");
	cr_assert(us[2].password_hash == NULL, "list: NULL hash of bob-x");

	rc = storage_user_delete(st, "bob", &err);
	cr_assert(eq(int, rc, 0), "delete bob: %s", err.msg);
	rc = storage_user_get(st, "bob", ar, &u, &err);
	expect_err(rc, &err, 404, APPR_E_USER_NOT_FOUND, "get a deleted user");
	rc = storage_user_delete(st, "bob", &err);
	expect_err(rc, &err, 404, APPR_E_USER_NOT_FOUND, "delete a deleted user");
	rc = storage_user_get(st, "bob-x", ar, &u, &err);
	cr_assert(eq(int, rc, 0), "bob-x survives bob's delete: %s", err.msg);
}

Test(storage, grants_set_list_and_remove)
{
	struct appr_error err = { 0 };
	struct storage_grant *g;
	size_t n;

	int rc = storage_grant_set(st, "nobody", "ns1", STORAGE_LEVEL_READ, &err);
	expect_err(rc, &err, 404, APPR_E_USER_NOT_FOUND, "grant to an absent user");
	user_ok("bob", NULL);
	user_ok("bob-x", NULL);
	user_ok("alice", NULL);
	grant_ok("bob-x", "ns1", STORAGE_LEVEL_READ);
	grant_ok("bob", "ns2", STORAGE_LEVEL_WRITE);
	grant_ok("bob", "*", STORAGE_LEVEL_READ);
	grant_ok("bob", "ns1", STORAGE_LEVEL_ADMIN);
	grant_ok("alice", "ns1", STORAGE_LEVEL_READ);
	grant_ok("alice", "ns1", STORAGE_LEVEL_WRITE);    /* replaces */
	rc = storage_grant_set(st, "alice", "ns1", (enum storage_level)7, &err);
	cr_assert(eq(int, rc, -1), "level 7 is refused");

	rc = storage_grant_list(st, "bob", ar, &g, &n, &err);
	cr_assert(eq(int, rc, 0), "bob's grants: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)3), "bob has three grants");
	cr_assert(eq(str, (char *)g[0].namespace, (char *)"*"), "by namespace: * first");
	cr_assert(eq(int, (int)g[0].level, STORAGE_LEVEL_READ), "* level");
	cr_assert(eq(str, (char *)g[1].namespace, (char *)"ns1"), "then ns1");
	cr_assert(eq(int, (int)g[1].level, STORAGE_LEVEL_ADMIN), "ns1 level");
	cr_assert(eq(str, (char *)g[2].namespace, (char *)"ns2"), "then ns2");
	cr_assert(eq(str, (char *)g[2].user, (char *)"bob"), "user is filled");

	rc = storage_grant_list(st, NULL, ar, &g, &n, &err);
	cr_assert(eq(int, rc, 0), "all grants: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)5), "five grants");
	static const char *const users[] = { "alice", "bob", "bob", "bob", "bob-x" };
	for (size_t i = 0; i < n; i++)
		cr_assert(eq(str, (char *)g[i].user, (char *)users[i]), "by user: item %zu", i);
	cr_assert(eq(int, (int)g[0].level, STORAGE_LEVEL_WRITE), "alice's grant was replaced");

	grant_ok("bob", "ns1", STORAGE_LEVEL_NONE);
	grant_ok("bob", "ns9", STORAGE_LEVEL_NONE);        /* absent: no-op */
	rc = storage_grant_list(st, "bob", ar, &g, &n, &err);
	cr_assert(eq(int, rc, 0), "bob's grants after removal: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)2), "level none removed the grant");
	cr_assert(eq(str, (char *)g[1].namespace, (char *)"ns2"), "ns2 kept");
	rc = storage_grant_list(st, "carol", ar, &g, &n, &err);
	cr_assert(eq(int, rc, 0), "grants of an unknown user: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "none");
}

Test(storage, tokens_add_find_list_revoke)
{
	struct appr_error err = { 0 };
	struct storage_token t, *ts;
	size_t n;

	struct storage_token t1 = token_make("bob", "secret one", NULL, STORAGE_LEVEL_ADMIN,
					     "2026-01-01T00:00:02.000000");
	struct storage_token t2 = token_make("bob", "secret two", "ns1", STORAGE_LEVEL_READ,
					     "2026-01-01T00:00:01.000000");
	struct storage_token t3 = token_make("alice", "secret three", NULL, STORAGE_LEVEL_WRITE,
					     "2026-01-01T00:00:03.000000");
	t2.expires_at = 1893456000LL;
	int rc = storage_token_add(st, &t1, &err);
	expect_err(rc, &err, 404, APPR_E_USER_NOT_FOUND, "token of an absent user");
	user_ok("bob", NULL);
	user_ok("alice", NULL);
	token_ok(&t1);
	token_ok(&t2);
	token_ok(&t3);
	struct storage_token dup = token_make("alice", "secret four", NULL, STORAGE_LEVEL_READ, "");
	dup.id = t1.id;
	rc = storage_token_add(st, &dup, &err);
	cr_assert(eq(int, rc, -1), "a second token with t1's id is refused");

	rc = storage_token_find(st, t2.hash, ar, &t, &err);
	cr_assert(eq(int, rc, 0), "find t2: %s", err.msg);
	cr_assert(eq(str, (char *)t.id, (char *)t2.id), "id");
	cr_assert(eq(str, (char *)t.user, (char *)"bob"), "user");
	cr_assert(eq(str, t.hash, t2.hash), "hash");
	cr_assert(eq(str, (char *)t.namespace, (char *)"ns1"), "namespace");
	cr_assert(eq(int, (int)t.scope, STORAGE_LEVEL_READ), "scope");
	cr_assert(eq(i64, t.expires_at, 1893456000LL), "expires_at");
	cr_assert(eq(str, t.created_at, (char *)"2026-01-01T00:00:01.000000"), "created_at");
	rc = storage_token_find(st, t1.hash, ar, &t, &err);
	cr_assert(eq(int, rc, 0), "find t1: %s", err.msg);
	cr_assert(t.namespace == NULL, "no namespace: NULL");
	cr_assert(eq(i64, t.expires_at, 0LL), "never expires: 0");
	char unknown[DIGEST_HEX_LEN + 1];
	digest_sha256_hex("nope", 4, unknown);
	rc = storage_token_find(st, unknown, ar, &t, &err);
	expect_err(rc, &err, 404, APPR_E_TOKEN_NOT_FOUND, "find an unknown hash");

	rc = storage_token_list(st, "bob", ar, &ts, &n, &err);
	cr_assert(eq(int, rc, 0), "bob's tokens: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)2), "bob has two tokens");
	cr_assert(eq(str, (char *)ts[0].id, (char *)t2.id), "by created_at: t2 first");
	cr_assert(eq(str, (char *)ts[1].id, (char *)t1.id), "then t1");
	cr_assert(eq(str, ts[1].hash, t1.hash), "list has hashes");
	rc = storage_token_list(st, NULL, ar, &ts, &n, &err);
	cr_assert(eq(int, rc, 0), "all tokens: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)3), "three tokens");
	cr_assert(eq(str, (char *)ts[0].id, (char *)t3.id), "by user: alice's first");
	cr_assert(eq(str, (char *)ts[1].id, (char *)t2.id), "then bob's by created_at");
	cr_assert(eq(str, (char *)ts[2].id, (char *)t1.id), "last");

	rc = storage_token_revoke(st, t2.id, &err);
	cr_assert(eq(int, rc, 0), "revoke t2: %s", err.msg);
	rc = storage_token_find(st, t2.hash, ar, &t, &err);
	expect_err(rc, &err, 404, APPR_E_TOKEN_NOT_FOUND, "find a revoked token");
	rc = storage_token_revoke(st, t2.id, &err);
	expect_err(rc, &err, 404, APPR_E_TOKEN_NOT_FOUND, "revoke a revoked token");
	rc = storage_token_list(st, "bob", ar, &ts, &n, &err);
	cr_assert(eq(int, rc, 0), "bob's tokens after revoke: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)1), "one left");
	rc = storage_token_find(st, t1.hash, ar, &t, &err);
	cr_assert(eq(int, rc, 0), "t1 still found: %s", err.msg);
	rc = storage_token_add(st, &t2, &err);
	cr_assert(eq(int, rc, 0), "a revoked id may be added again: %s", err.msg);
}

Test(storage, user_delete_takes_grants_and_tokens)
{
	struct appr_error err = { 0 };
	struct storage_token t, *ts;
	struct storage_grant *g;
	size_t n;
	enum { TOKENS = 40 };                     /* more than one kv transaction holds */
	struct storage_token toks[TOKENS];

	user_ok("bob", "h");
	user_ok("alice", "h");
	grant_ok("bob", "ns1", STORAGE_LEVEL_WRITE);
	grant_ok("bob", "*", STORAGE_LEVEL_READ);
	grant_ok("alice", "ns1", STORAGE_LEVEL_READ);
	for (int i = 0; i < TOKENS; i++) {
		char seed[32];
		snprintf(seed, sizeof seed, "bob secret %d", i);
		toks[i] = token_make("bob", seed, NULL, STORAGE_LEVEL_WRITE, "");
		token_ok(&toks[i]);
	}
	struct storage_token ta = token_make("alice", "alice secret", NULL, STORAGE_LEVEL_READ, "");
	token_ok(&ta);

	int rc = storage_user_delete(st, "bob", &err);
	cr_assert(eq(int, rc, 0), "delete bob: %s", err.msg);
	for (int i = 0; i < TOKENS; i++) {
		rc = storage_token_find(st, toks[i].hash, ar, &t, &err);
		expect_err(rc, &err, 404, APPR_E_TOKEN_NOT_FOUND, "a deleted user's token");
		rc = storage_token_revoke(st, toks[i].id, &err);
		expect_err(rc, &err, 404, APPR_E_TOKEN_NOT_FOUND, "revoke a deleted user's token");
	}
	rc = storage_grant_list(st, NULL, ar, &g, &n, &err);
	cr_assert(eq(int, rc, 0), "grants: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)1), "only alice's grant is left");
	cr_assert(eq(str, (char *)g[0].user, (char *)"alice"), "alice's");
	rc = storage_token_list(st, NULL, ar, &ts, &n, &err);
	cr_assert(eq(int, rc, 0), "tokens: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)1), "only alice's token is left");
	rc = storage_token_find(st, ta.hash, ar, &t, &err);
	cr_assert(eq(int, rc, 0), "alice's token still works: %s", err.msg);
	if (!is_fs()) {
		kv_keys("token/", false, &n);
		cr_assert(eq(sz, n, (size_t)1), "kv: only alice's token/ key is left");
		kv_keys("tokenid/", false, &n);
		cr_assert(eq(sz, n, (size_t)1), "kv: only alice's tokenid/ key is left");
		kv_keys("grant/bob/", false, &n);
		cr_assert(eq(sz, n, (size_t)0), "kv: no grant/bob/ key is left");
	}

	user_ok("bob", "h2");                     /* a new bob inherits nothing */
	rc = storage_grant_list(st, "bob", ar, &g, &n, &err);
	cr_assert(eq(int, rc, 0), "new bob's grants: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "new bob has no grants");
	rc = storage_token_list(st, "bob", ar, &ts, &n, &err);
	cr_assert(eq(int, rc, 0), "new bob's tokens: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "new bob has no tokens");
	rc = storage_token_find(st, toks[0].hash, ar, &t, &err);
	expect_err(rc, &err, 404, APPR_E_TOKEN_NOT_FOUND, "old bob's token, for new bob");
}

/* ---- private packages ---- */

static void push_vis(const char *ns, const char *name, const char *rel, const char *content,
		     const char *visibility)
{
	struct appr_error err = { 0 };
	struct storage_push p = {
		.ns = ns, .name = name, .release = rel, .media_type = "helm",
		.visibility = visibility,
	};
	struct storage_blob_writer *w;

	digest_sha256_hex(content, strlen(content), p.digest);
	int rc = storage_blob_begin(st, &w, &err);
	cr_assert(eq(int, rc, 0), "blob begin: %s", err.msg);
	rc = storage_blob_write(w, content, strlen(content), &err);
	cr_assert(eq(int, rc, 0), "blob write: %s", err.msg);
	rc = storage_put_release(st, &p, w, &err);
	cr_assert(eq(int, rc, 0), "push %s/%s %s (%s): %s", ns, name, rel,
		  visibility ? visibility : "default", err.msg);
}

static void expect_visibility(const char *ns, const char *name, const char *want)
{
	struct appr_error err = { 0 };
	const char *vis = NULL;
	int rc = storage_package_visibility(st, ns, name, ar, &vis, &err);
	cr_assert(eq(int, rc, 0), "visibility of %s/%s: %s", ns, name, err.msg);
	cr_assert(eq(str, (char *)vis, (char *)want), "visibility of %s/%s", ns, name);
}

static void search_names(const char *text, const struct storage_readers *r, size_t limit,
			 const char *const *want, size_t n_want, const char *what)
{
	struct appr_error err = { 0 };
	const char **names;
	size_t n;
	int rc = storage_search(st, text, r, limit, ar, &names, &n, &err);
	cr_assert(eq(int, rc, 0), "%s: %s", what, err.msg);
	expect_strs(names, n, want, n_want, what);
}

/* a/p1 public, a/p2 private, b/p3 private, b/p4 public (default), c/p5 private. */
static void seed_private(void)
{
	push_vis("a", "p1", "1.0.0", "p1 content", "public");
	push_vis("a", "p2", "1.0.0", "p2 content", "private");
	push_vis("b", "p3", "1.0.0", "p3 content", "private");
	push_vis("b", "p4", "1.0.0", "p4 content", NULL);
	push_vis("c", "p5", "1.0.0", "p5 content", "private");
}

Test(storage, private_packages_visibility)
{
	struct appr_error err = { 0 };
	const char *vis;

	seed_private();
	expect_visibility("a", "p1", "public");
	expect_visibility("a", "p2", "private");
	expect_visibility("b", "p4", "public");
	int rc = storage_package_visibility(st, "a", "nope", ar, &vis, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "visibility of an absent package");

	push_vis("a", "p2", "2.0.0", "p2 two", "public");  /* only a new package takes it */
	push_vis("a", "p1", "2.0.0", "p1 two", "private");
	expect_visibility("a", "p2", "private");
	expect_visibility("a", "p1", "public");

	struct storage_list_query q = { .namespace = "a" };
	struct storage_package *ps;
	size_t n;
	rc = storage_list_packages(st, &q, ar, &ps, &n, &err);
	cr_assert(eq(int, rc, 0), "list a: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)2), "two packages in a");
	cr_assert(eq(str, (char *)ps[1].visibility, (char *)"private"), "list reports private");

	/* the package goes with its last release; pushed again it is new */
	static const char *const rels[] = { "1.0.0", "2.0.0" };
	for (size_t i = 0; i < N(rels); i++) {
		rc = storage_delete_manifest(st, "a", "p2", rels[i], "helm", &err);
		cr_assert(eq(int, rc, 0), "delete a/p2 %s: %s", rels[i], err.msg);
	}
	rc = storage_package_visibility(st, "a", "p2", ar, &vis, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "visibility of a deleted package");
	if (!is_fs()) {
		kv_keys("priv/", false, &n);
		cr_assert(eq(sz, n, (size_t)2), "kv: priv/ keys of b/p3 and c/p5 only");
	}
	push_vis("a", "p2", "3.0.0", "p2 three", NULL);
	expect_visibility("a", "p2", "public");
	struct storage_readers anon = { 0 };
	q = (struct storage_list_query){ .readers = &anon };
	static const char *const pub[] = { "a/p1", "a/p2", "b/p4" };
	list_names(&q, pub, N(pub), "re-created public package is listed to anyone");
}

Test(storage, private_packages_filtered_in_list_and_search)
{
	seed_private();
	struct storage_readers anon = { 0 };
	static const char *const only_b[] = { "b" };
	struct storage_readers reader_b = { .namespaces = only_b, .n = 1 };
	static const char *const b_and_c[] = { "c", "b" };
	struct storage_readers reader_bc = { .namespaces = b_and_c, .n = 2 };
	static const char *const pre[] = { "bb", "x" };   /* a prefix of "b" is not "b" */
	struct storage_readers reader_bb = { .namespaces = pre, .n = 2 };
	struct storage_readers all = { .all = true };

	static const char *const every[] = { "a/p1", "a/p2", "b/p3", "b/p4", "c/p5" };
	static const char *const pub[] = { "a/p1", "b/p4" };
	static const char *const with_b[] = { "a/p1", "b/p3", "b/p4" };
	static const char *const with_bc[] = { "a/p1", "b/p3", "b/p4", "c/p5" };

	struct storage_list_query q = { 0 };
	list_names(&q, every, N(every), "no readers: everything");
	q.readers = &all;
	list_names(&q, every, N(every), "readers all: everything");
	q.readers = &anon;
	list_names(&q, pub, N(pub), "anonymous: public only");
	q.readers = &reader_b;
	list_names(&q, with_b, N(with_b), "reader of b");
	q.readers = &reader_bc;
	list_names(&q, with_bc, N(with_bc), "reader of c and b");
	q.readers = &reader_bb;
	list_names(&q, pub, N(pub), "reader of bb and x sees no private b package");

	/* paging counts visible packages only */
	q = (struct storage_list_query){ .readers = &anon, .limit = 1, .offset = 1 };
	static const char *const p4[] = { "b/p4" };
	list_names(&q, p4, N(p4), "anonymous page 2 of size 1");
	q = (struct storage_list_query){ .readers = &reader_b, .limit = 2, .offset = 1 };
	list_names(&q, with_b + 1, 2, "reader of b, offset 1, limit 2");
	q = (struct storage_list_query){ .readers = &anon, .limit = 1, .offset = 2 };
	list_names(&q, NULL, 0, "anonymous: past the end");
	q = (struct storage_list_query){ .readers = &anon, .namespace = "b" };
	list_names(&q, p4, N(p4), "anonymous, namespace b");
	q = (struct storage_list_query){ .readers = &anon, .media_type = "helm", .limit = 1,
					 .offset = 1 };
	list_names(&q, p4, N(p4), "anonymous, media type + paging");
	q = (struct storage_list_query){ .readers = &anon, .query = "P3" };
	list_names(&q, NULL, 0, "anonymous, query for a private package");

	search_names("p", NULL, 0, every, N(every), "search, no readers");
	search_names("p", &all, 0, every, N(every), "search, readers all");
	search_names("p", &anon, 0, pub, N(pub), "search, anonymous");
	search_names("p", &reader_b, 0, with_b, N(with_b), "search, reader of b");
	search_names("p", &anon, 1, pub, 1, "search, anonymous, limit 1");
	search_names("p", &reader_bc, 3, with_bc, 3, "search, reader of b and c, limit 3");
	search_names("c/", &anon, 0, NULL, 0, "search, anonymous, private only match");
	search_names("c/", &reader_bc, 0, with_bc + 3, 1, "search, reader of c");
}

/* kv drivers: token/ and tokenid/ keys a deleted user left behind (if the clean-up
 * after its delete failed) authenticate nobody and do not block a new token. */
Test(storage, kv_only_left_over_token_keys_are_inert)
{
	if (is_fs())
		cr_skip_test("the sqlite store deletes tokens with their user in one statement");
	struct appr_error err = { 0 };
	struct storage_token t;
	struct storage_token old = token_make("bob", "old secret", NULL, STORAGE_LEVEL_ADMIN, "");
	char key[128], val[512];

	user_ok("bob", NULL);
	snprintf(key, sizeof key, "token/%s", old.hash);
	snprintf(val, sizeof val, "{\"id\":\"%s\",\"user\":\"bob\",\"hash\":\"%s\","
		 "\"scope\":3,\"expires_at\":0,\"created_at\":\"x\"}", old.id, old.hash);
	struct kv_op ops[2] = {
		{ .type = KV_PUT, .key = key, .value = val, .len = strlen(val) },
		{ .type = KV_PUT, .key = arena_printf(ar, "tokenid/%s", old.id),
		  .value = arena_printf(ar, "{\"user\":\"bob\",\"hash\":\"%s\"}", old.hash) },
	};
	ops[1].len = strlen(ops[1].value);
	int rc = kv_txn(rawkv, NULL, 0, ops, 2, &err);
	cr_assert(eq(int, rc, KV_COMMITTED), "write left-over keys: %s", err.msg);

	rc = storage_token_find(st, old.hash, ar, &t, &err);
	expect_err(rc, &err, 404, APPR_E_TOKEN_NOT_FOUND, "a left-over token/ key");
	rc = storage_token_revoke(st, old.id, &err);
	expect_err(rc, &err, 404, APPR_E_TOKEN_NOT_FOUND, "revoke by a left-over tokenid/ key");
	struct storage_token *ts;
	size_t n;
	rc = storage_token_list(st, NULL, ar, &ts, &n, &err);
	cr_assert(eq(int, rc, 0), "list: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "left-over keys are not listed");

	struct storage_token fresh = old;
	fresh.scope = STORAGE_LEVEL_READ;
	token_ok(&fresh);                         /* same id and hash: the keys are reused */
	rc = storage_token_find(st, old.hash, ar, &t, &err);
	cr_assert(eq(int, rc, 0), "the new token is found: %s", err.msg);
	cr_assert(eq(int, (int)t.scope, STORAGE_LEVEL_READ), "with its own scope");
	rc = storage_token_add(st, &fresh, &err);
	cr_assert(eq(int, rc, -1), "a live token's id and hash are refused");
	cr_assert(eq(int, err.http, 409), "409 (%s)", err.msg);
}

/* Concurrent writers on one user: every token added while others add theirs is kept,
 * and a user deleted while tokens are being added leaves no usable token. */
Test(storage, concurrent_token_adds_and_user_delete)
{
	enum { PROCS = 4, EACH = 5 };
	struct appr_error err = { 0 };
	pid_t pids[PROCS];
	int exits[PROCS];

	user_ok("bob", NULL);
	storage_close(st);
	st = NULL;
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		cr_assert(ge(int, pids[p], 0), "fork");
		if (pids[p] == 0) {
			struct storage *s = NULL;
			struct appr_error e = { 0 };
			if (storage_open(&cfg, &s, &e) < 0)
				_exit(100);
			for (int i = 0; i < EACH; i++) {
				char seed[32];
				snprintf(seed, sizeof seed, "racer %d token %d", p, i);
				struct storage_token t = { .user = "bob",
							   .scope = STORAGE_LEVEL_READ };
				char d[DIGEST_HEX_LEN + 1], id[17];
				digest_sha256_hex(seed, strlen(seed), d);
				memcpy(t.hash, d, sizeof t.hash);
				snprintf(id, sizeof id, "%.16s", d + 48);
				t.id = id;
				if (storage_token_add(s, &t, &e) < 0) {
					fprintf(stderr, "racer %d: %d %s\n", p, e.http, e.msg);
					storage_close(s);
					_exit(2);
				}
			}
			storage_close(s);
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++)
		exits[p] = wait_exit(pids[p]);
	open_store();
	for (int p = 0; p < PROCS; p++)
		cr_assert(eq(int, exits[p], 0), "racer %d added all its tokens", p);
	struct storage_token *ts;
	size_t n;
	int rc = storage_token_list(st, "bob", ar, &ts, &n, &err);
	cr_assert(eq(int, rc, 0), "list: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)(PROCS * EACH)), "every token is stored");

	/* now a delete racing with adds: afterwards no token of bob is found */
	pid_t adder = fork();
	cr_assert(ge(int, adder, 0), "fork");
	if (adder == 0) {
		struct storage *s = NULL;
		struct appr_error e = { 0 };
		if (storage_open(&cfg, &s, &e) < 0)
			_exit(100);
		for (int i = 0; i < 20; i++) {
			char seed[32];
			snprintf(seed, sizeof seed, "late token %d", i);
			struct storage_token t = { .user = "bob", .scope = STORAGE_LEVEL_READ };
			char d[DIGEST_HEX_LEN + 1], id[17];
			digest_sha256_hex(seed, strlen(seed), d);
			memcpy(t.hash, d, sizeof t.hash);
			snprintf(id, sizeof id, "%.16s", d + 48);
			t.id = id;
			if (storage_token_add(s, &t, &e) < 0 && e.http != 404) {
				storage_close(s);
				_exit(2);
			}
		}
		storage_close(s);
		_exit(0);
	}
	rc = storage_user_delete(st, "bob", &err);
	int adder_exit = wait_exit(adder);
	cr_assert(eq(int, rc, 0), "delete bob while tokens are added: %s", err.msg);
	cr_assert(eq(int, adder_exit, 0), "adds succeed or say 404 user-not-found");
	for (int i = 0; i < 20; i++) {
		char seed[32], d[DIGEST_HEX_LEN + 1];
		struct storage_token t;
		snprintf(seed, sizeof seed, "late token %d", i);
		digest_sha256_hex(seed, strlen(seed), d);
		rc = storage_token_find(st, d, ar, &t, &err);
		if (rc == 0) {
			/* added after the delete would need bob: impossible, bob is gone */
			cr_assert(eq(int, rc, -1), "late token %d of a deleted user is found", i);
		}
	}
	rc = storage_token_list(st, NULL, ar, &ts, &n, &err);
	cr_assert(eq(int, rc, 0), "list after delete: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)0), "no token of the deleted user is listed");
}

/* ---- Helm chart repositories: blob SHA-256, charts, namespace stamps ---- */

/* put_release of p with content as the blob's bytes: p's digest, when unset, is the
 * SHA-256 of content (when set, content stands for one gzip of that tar). p's
 * blob_sha256 is the caller's (sha_of(content), or "" for a caller that gives none). */
static int push_p(struct storage_push *p, const char *content, struct appr_error *err)
{
	struct storage_blob_writer *w;

	if (!p->digest[0])
		digest_sha256_hex(content, strlen(content), p->digest);
	if (storage_blob_begin(st, &w, err) < 0)
		return -1;
	if (storage_blob_write(w, content, strlen(content), err) < 0) {
		storage_blob_abort(w);
		return -1;
	}
	return storage_put_release(st, p, w, err);
}

/* The SHA-256 hex of s, in the test arena. */
static const char *sha_of(const char *s)
{
	char *d = arena_alloc(ar, DIGEST_HEX_LEN + 1);
	digest_sha256_hex(s, strlen(s), d);
	return d;
}

/* Push a helm release as push.c does: the bytes' SHA-256, and a chart or a problem. */
static void push_chart(const char *ns, const char *name, const char *rel, const char *content,
		       const char *chart, const char *problem)
{
	struct appr_error err = { 0 };
	struct storage_push p = { .ns = ns, .name = name, .release = rel, .media_type = "helm",
				  .chart = chart, .chart_problem = problem };
	memcpy(p.blob_sha256, sha_of(content), sizeof p.blob_sha256);
	int rc = push_p(&p, content, &err);
	cr_assert(eq(int, rc, 0), "push chart %s/%s %s: %s", ns, name, rel, err.msg);
}

/* A chart's index fields as chart.h would give them. */
static const char *chart_json(const char *name, const char *version)
{
	return arena_printf(ar, "{\"apiVersion\":\"v2\",\"name\":\"%s\",\"version\":\"%s\"}",
			    name, version);
}

static struct storage_chart *charts_of(const char *ns, bool include_private, size_t *n)
{
	struct appr_error err = { 0 };
	struct storage_chart *rows = NULL;
	int rc = storage_list_charts(st, ns, include_private, ar, &rows, n, &err);
	cr_assert(eq(int, rc, 0), "list_charts %s: %s", ns, err.msg);
	return rows;
}

/* The row of name release in list_charts(ns, true), which must be there. */
static struct storage_chart *chart_row(const char *ns, const char *name, const char *rel)
{
	size_t n;
	struct storage_chart *rows = charts_of(ns, true, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].name, name) == 0 && strcmp(rows[i].release, rel) == 0)
			return &rows[i];
	cr_assert(eq(int, 0, 1), "list_charts %s has %s %s", ns, name, rel);
	return NULL;
}

static unsigned long long stamp_of(const char *ns, char changed_at[32])
{
	struct appr_error err = { 0 };
	unsigned long long stamp = 42;
	char at[32] = "x";
	int rc = storage_namespace_stamp(st, ns, &stamp, changed_at ? changed_at : at, &err);
	cr_assert(eq(int, rc, 0), "namespace_stamp %s: %s", ns, err.msg);
	return stamp;
}

static void set_chart_ok(const char *ns, const char *name, const char *rel, const char *chart,
			 const char *problem, const char *sha)
{
	struct appr_error err = { 0 };
	int rc = storage_set_chart(st, ns, name, rel, NULL, chart, problem, sha, &err);
	cr_assert(eq(int, rc, 0), "set_chart %s/%s %s: %s", ns, name, rel, err.msg);
}

static void expect_str_or_null(const char *got, const char *want, const char *what)
{
	if (!want)
		cr_assert(eq(ptr, (void *)got, NULL), "%s is NULL (got %s)", what, got);
	else
		cr_assert(eq(str, (char *)got, (char *)want), "%s", what);
}

static void expect_chart(const struct storage_chart *c, const char *chart, const char *problem,
			 const char *sha, const char *what)
{
	expect_str_or_null(c->chart, chart, arena_printf(ar, "%s: chart", what));
	expect_str_or_null(c->problem, problem, arena_printf(ar, "%s: problem", what));
	cr_assert(eq(str, (char *)c->blob_sha256, (char *)sha), "%s: blob_sha256", what);
}

Test(storage, blob_sha256_recorded_and_returned)
{
	struct appr_error err = { 0 };
	struct storage_manifest m, *ms;
	size_t n;

	push_chart("ns", "a", "1.0.0", "bytes of a", chart_json("a", "1.0.0"), NULL);
	int rc = storage_get_manifest(st, "ns", "a", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get_manifest: %s", err.msg);
	cr_assert(eq(str, m.blob_sha256, (char *)sha_of("bytes of a")), "get_manifest sha256");
	rc = storage_get_manifests(st, "ns", "a", NULL, NULL, ar, &ms, &n, &err);
	cr_assert(eq(int, rc, 0), "get_manifests: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)1), "one manifest");
	cr_assert(eq(str, ms[0].blob_sha256, (char *)sha_of("bytes of a")),
		  "get_manifests sha256");

	/* a caller that gives none (and a non-helm manifest): unknown, "" */
	push_ok("ns", "a", "1.0.0", "kpm", "kpm bytes");
	rc = storage_get_manifest(st, "ns", "a", "1.0.0", "kpm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get_manifest kpm: %s", err.msg);
	cr_assert(eq(str, m.blob_sha256, (char *)""), "no sha256 given: unknown");
	rc = storage_get_manifests(st, "ns", "a", "1.0.0", NULL, ar, &ms, &n, &err);
	cr_assert(eq(int, rc, 0), "get_manifests 1.0.0: %s", err.msg);
	cr_assert(eq(sz, n, (size_t)2), "two manifests");
	cr_assert(eq(str, ms[0].blob_sha256, (char *)sha_of("bytes of a")), "helm first");
	cr_assert(eq(str, ms[1].blob_sha256, (char *)""), "kpm unknown");

	/* a non-helm push records no chart even when given one */
	struct storage_push p = { .ns = "ns", .name = "k", .release = "1.0.0",
				  .media_type = "kpm", .chart = "{}", .chart_problem = "x" };
	memcpy(p.blob_sha256, sha_of("k bytes"), sizeof p.blob_sha256);
	rc = push_p(&p, "k bytes", &err);
	cr_assert(eq(int, rc, 0), "push kpm with chart fields: %s", err.msg);
	rc = storage_get_manifest(st, "ns", "k", "1.0.0", "kpm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get kpm: %s", err.msg);
	cr_assert(eq(str, m.blob_sha256, (char *)sha_of("k bytes")), "kpm sha256 recorded");
	charts_of("ns", true, &n);
	cr_assert(eq(sz, n, (size_t)1), "only the helm manifest is a chart row");
}

/* Push base's tar again as ns/name (force as said) in the gzip bytes `bytes`, with
 * chart (NULL: none given) and the bytes' SHA-256, as push.c would. */
static void push_tar_again(const struct storage_push *base, const char *name, bool force,
			   const char *chart, const char *bytes)
{
	struct appr_error err = { 0 };
	struct storage_push p = *base;

	p.name = name;
	p.force = force;
	p.chart = chart;
	memcpy(p.blob_sha256, sha_of(bytes), sizeof p.blob_sha256);
	int rc = push_p(&p, bytes, &err);
	cr_assert(eq(int, rc, 0), "push %s again as %s: %s", base->name, name, err.msg);
}

static void expect_sha256(const char *name, const char *want, const char *what)
{
	struct appr_error err = { 0 };
	struct storage_manifest m;
	int rc = storage_get_manifest(st, "ns", name, "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get ns/%s: %s", name, err.msg);
	cr_assert(eq(str, m.blob_sha256, (char *)want), "%s", what);
}

/* Blobs are content-addressed by the tar: a second gzip of the same tar keeps the
 * first bytes, so its manifest records the first bytes' SHA-256. */
Test(storage, same_tar_other_gzip_records_first_bytes_sha256)
{
	struct appr_error err = { 0 };
	struct storage_blob_reader *r = NULL;
	char back[64];
	long long size = 0;

	struct storage_push a = { .ns = "ns", .name = "a", .release = "1.0.0",
				  .media_type = "helm" };
	digest_sha256_hex("the tar", 7, a.digest);
	push_tar_again(&a, "a", false, chart_json("a", "1.0.0"), "gzip one");
	push_tar_again(&a, "b", false, chart_json("b", "1.0.0"), "gzip two, longer");
	expect_sha256("b", sha_of("gzip one"), "b: the stored (first) bytes' sha256");
	struct storage_chart *row = chart_row("ns", "b", "1.0.0");
	expect_chart(row, chart_json("b", "1.0.0"), NULL, sha_of("gzip one"), "b's row");
	cr_assert(eq(llong, row->size, 8LL), "b's row: the stored bytes' size");
	int rc = storage_blob_open(st, a.digest, &r, &size, &err);
	cr_assert(eq(int, rc, 0), "blob_open: %s", err.msg);
	long got = storage_blob_read(r, back, sizeof back);
	storage_blob_close(r);
	cr_assert(eq(int, got == 8 && memcmp(back, "gzip one", 8) == 0, 1),
		  "the first bytes are stored");
	push_tar_again(&a, "a", true, NULL, "gzip three");
	expect_sha256("a", sha_of("gzip one"), "force push: still the stored bytes'");

	/* a blob stored without its sha256 (pushed before it was kept): unknown for
	 * later pushes of its tar too, until set_chart records it */
	struct storage_push c = { .ns = "ns", .name = "c", .release = "1.0.0",
				  .media_type = "helm" };
	digest_sha256_hex("old tar", 7, c.digest);
	rc = push_p(&c, "old gzip", &err);
	cr_assert(eq(int, rc, 0), "push without sha256: %s", err.msg);
	push_tar_again(&c, "d", false, chart_json("d", "1.0.0"), "new gzip");
	expect_sha256("d", "", "d: the stored bytes' sha256 is not known");
	set_chart_ok("ns", "c", "1.0.0", chart_json("c", "1.0.0"), NULL, sha_of("old gzip"));
	push_tar_again(&c, "e", false, NULL, "third gzip");
	expect_sha256("e", sha_of("old gzip"), "e: the sha256 set_chart recorded");
}

Test(storage, list_charts_order_visibility_and_scope)
{
	static const char *const alpha[] = { "1.9.0", "1.10.0", "2.0.0-rc.1", "2.0.0",
					     "1.0.0-alpha.9", "1.0.0-alpha.10" };
	for (size_t i = 0; i < N(alpha); i++)
		push_chart("repo", "alpha", alpha[i], arena_printf(ar, "alpha %s", alpha[i]),
			   chart_json("alpha", alpha[i]), NULL);
	push_chart("repo", "Zeta", "1.0.0", "Zeta 1", chart_json("Zeta", "1.0.0"), NULL);
	push_chart("repo", "alpha-b", "0.1.0", "alpha-b", chart_json("alpha-b", "0.1.0"), NULL);
	push_chart("repo", "alpha.c", "0.1.0", "alpha.c", chart_json("alpha.c", "0.1.0"), NULL);
	push_chart("repo", "alpha_d", "3.0.0", "alpha_d", NULL, "Chart.yaml: name is not alpha_d");
	push_ok("repo", "alpha", "2.0.0", "kpm", "kpm of alpha 2");      /* one row still */
	push_ok("repo", "alpha", "3.0.0", "kpm", "kpm of alpha 3");      /* no helm: none */
	push_ok("repo", "beta", "1.0.0", "kpm", "kpm of beta");
	push_ok("repo", "gamma", "1.0.0", "helm", "not examined");       /* old caller */
	struct storage_push p = { .ns = "repo", .name = "secret", .release = "1.0.0",
				  .media_type = "helm", .visibility = "private",
				  .chart = chart_json("secret", "1.0.0") };
	struct appr_error err = { 0 };
	memcpy(p.blob_sha256, sha_of("secret bytes"), sizeof p.blob_sha256);
	cr_assert(eq(int, push_p(&p, "secret bytes", &err), 0), "push private: %s", err.msg);
	/* other namespaces, some whose keys or names start like "repo" */
	push_chart("repo.x", "alpha", "9.0.0", "x alpha", chart_json("alpha", "9.0.0"), NULL);
	push_chart("repo-x", "alpha", "9.0.0", "- alpha", chart_json("alpha", "9.0.0"), NULL);
	push_chart("rep", "alpha", "9.0.0", "rep alpha", chart_json("alpha", "9.0.0"), NULL);
	push_chart("Repo", "alpha", "9.0.0", "Repo alpha", chart_json("alpha", "9.0.0"), NULL);

	static const char *const want[][2] = {
		{ "Zeta", "1.0.0" },
		{ "alpha", "2.0.0" }, { "alpha", "2.0.0-rc.1" }, { "alpha", "1.10.0" },
		{ "alpha", "1.9.0" }, { "alpha", "1.0.0-alpha.10" }, { "alpha", "1.0.0-alpha.9" },
		{ "alpha-b", "0.1.0" }, { "alpha.c", "0.1.0" }, { "alpha_d", "3.0.0" },
		{ "gamma", "1.0.0" }, { "secret", "1.0.0" },
	};
	for (int inc = 0; inc <= 1; inc++) {
		size_t n, k = N(want) - (inc ? 0 : 1);
		struct storage_chart *rows = charts_of("repo", inc, &n);
		cr_assert(eq(sz, n, k), "rows (include_private %d)", inc);
		for (size_t i = 0; i < n; i++) {
			cr_assert(eq(str, (char *)rows[i].name, (char *)want[i][0]),
				  "row %zu name (include_private %d)", i, inc);
			cr_assert(eq(str, (char *)rows[i].release, (char *)want[i][1]),
				  "row %zu release (include_private %d)", i, inc);
			cr_assert(eq(str, (char *)rows[i].visibility,
				     (char *)(i == N(want) - 1 ? "private" : "public")),
				  "row %zu visibility", i);
		}
	}
	size_t n;
	struct storage_chart *rows = charts_of("repo", false, &n);
	const char *a2 = arena_printf(ar, "alpha %s", "2.0.0");
	expect_chart(&rows[1], chart_json("alpha", "2.0.0"), NULL, sha_of(a2), "alpha 2.0.0");
	cr_assert(eq(str, rows[1].digest, (char *)sha_of(a2)), "alpha 2.0.0 digest");
	cr_assert(eq(llong, rows[1].size, (long long)strlen(a2)), "alpha 2.0.0 size");
	cr_assert(eq(sz, strlen(rows[1].created_at), (size_t)26), "alpha 2.0.0 created_at");
	expect_chart(&rows[9], NULL, "Chart.yaml: name is not alpha_d", sha_of("alpha_d"),
		     "alpha_d: a problem");
	expect_chart(&rows[10], NULL, NULL, "", "gamma: not examined");

	charts_of("nope", true, &n);
	cr_assert(eq(sz, n, (size_t)0), "an unknown namespace has no charts");
	charts_of("rep", true, &n);
	cr_assert(eq(sz, n, (size_t)1), "namespace rep: its own chart only");
	charts_of("Repo", true, &n);
	cr_assert(eq(sz, n, (size_t)1), "namespace Repo: its own chart only");

	/* deletes: a manifest, then the package */
	struct appr_error e2 = { 0 };
	cr_assert(eq(int, storage_delete_manifest(st, "repo", "alpha_d", "3.0.0", "helm", &e2),
		     0), "delete alpha_d: %s", e2.msg);
	cr_assert(eq(int, storage_delete_manifest(st, "repo", "alpha", "2.0.0", "helm", &e2),
		     0), "delete alpha 2.0.0 helm: %s", e2.msg);
	rows = charts_of("repo", false, &n);
	cr_assert(eq(sz, n, (size_t)9), "two rows fewer");
	cr_assert(eq(str, (char *)rows[1].release, (char *)"2.0.0-rc.1"), "alpha now from rc.1");
	if (!is_fs()) {
		kv_keys("helm/repo/alpha_d/", false, &n);
		cr_assert(eq(sz, n, (size_t)0), "kv: the package's helm/ keys went with it");
		struct kv_pair kp;
		cr_assert(eq(int, kv_get(rawkv, "helm/repo/alpha/2.0.0", ar, &kp, &e2), 1),
			  "kv: the manifest's helm/ key went with it");
		kv_keys("helm/repo/alpha/", false, &n);
		cr_assert(eq(sz, n, (size_t)5), "kv: the other helm/ keys stay");
	}
	push_chart("repo", "alpha_d", "3.0.0", "alpha_d again", chart_json("alpha_d", "3.0.0"),
		   NULL);
	expect_chart(chart_row("repo", "alpha_d", "3.0.0"), chart_json("alpha_d", "3.0.0"),
		     NULL, sha_of("alpha_d again"), "alpha_d pushed again");
}

Test(storage, set_chart_fills_only_unset_fields)
{
	struct appr_error err = { 0 };
	struct storage_manifest m;
	const char *c1 = chart_json("old", "1.0.0");

	push_ok("ns", "old", "1.0.0", "helm", "old chart bytes");     /* before charts */
	push_ok("ns", "old", "1.0.0", "kpm", "old kpm bytes");
	expect_chart(chart_row("ns", "old", "1.0.0"), NULL, NULL, "", "not examined");
	unsigned long long s0 = stamp_of("ns", NULL);

	set_chart_ok("ns", "old", "1.0.0", c1, NULL, sha_of("old chart bytes"));
	expect_chart(chart_row("ns", "old", "1.0.0"), c1, NULL, sha_of("old chart bytes"),
		     "examined");
	int rc = storage_get_manifest(st, "ns", "old", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get: %s", err.msg);
	cr_assert(eq(str, m.blob_sha256, (char *)sha_of("old chart bytes")), "manifest sha256");
	unsigned long long s1 = stamp_of("ns", NULL);
	cr_assert(gt(u64, s1, s0), "set_chart that records something is a change");

	/* set again: everything is set, nothing changes */
	set_chart_ok("ns", "old", "1.0.0", chart_json("other", "9.9.9"), "a problem",
		     sha_of("other bytes"));
	expect_chart(chart_row("ns", "old", "1.0.0"), c1, NULL, sha_of("old chart bytes"),
		     "second set_chart");
	cr_assert(eq(u64, stamp_of("ns", NULL), s1), "no change: same stamp");

	/* a problem is recorded like a chart; only the unset sha256 is filled later */
	push_ok("ns", "bad", "1.0.0", "helm", "bad bytes");
	set_chart_ok("ns", "bad", "1.0.0", NULL, "not a chart", NULL);
	expect_chart(chart_row("ns", "bad", "1.0.0"), NULL, "not a chart", "", "problem only");
	set_chart_ok("ns", "bad", "1.0.0", chart_json("bad", "1.0.0"), NULL, sha_of("bad bytes"));
	expect_chart(chart_row("ns", "bad", "1.0.0"), NULL, "not a chart", sha_of("bad bytes"),
		     "then its sha256, the problem kept");
	/* empty strings are unset too */
	push_ok("ns", "empty", "1.0.0", "helm", "empty bytes");
	set_chart_ok("ns", "empty", "1.0.0", "", "", "");
	expect_chart(chart_row("ns", "empty", "1.0.0"), NULL, NULL, "", "empty: nothing set");

	/* absent: 404, and no change */
	unsigned long long s2 = stamp_of("ns", NULL);
	rc = storage_set_chart(st, "ns", "nope", "1.0.0", NULL, c1, NULL, NULL, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "set_chart of an absent package");
	rc = storage_set_chart(st, "ns", "old", "2.0.0", NULL, c1, NULL, NULL, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "set_chart of an absent release");
	push_ok("ns", "konly", "1.0.0", "kpm", "k only");
	s2 = stamp_of("ns", NULL);
	rc = storage_set_chart(st, "ns", "konly", "1.0.0", NULL, c1, NULL, NULL, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "set_chart without a helm manifest");
	cr_assert(eq(str, err.media_type, (char *)"helm"), "details.media_type helm");
	rc = storage_set_chart(st, "other", "old", "1.0.0", NULL, c1, NULL, NULL, &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "set_chart in another namespace");
	cr_assert(eq(u64, stamp_of("ns", NULL), s2), "a 404 changes nothing");
	cr_assert(eq(u64, stamp_of("other", NULL), 0ULL), "nor creates a namespace");
}

Test(storage, blob_lookup_gives_the_stored_bytes_sha256)
{
	struct appr_error err = { 0 };
	struct storage_manifest m;
	long long size = 0;

	push_chart("ns", "lk", "1.0.0", "lk bytes", chart_json("lk", "1.0.0"), NULL);
	int rc = storage_get_manifest(st, "ns", "lk", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get: %s", err.msg);
	rc = storage_blob_lookup(st, "ns", "lk", m.digest, &size, lookup_sha, &err);
	cr_assert(eq(int, rc, 0), "lookup: %s", err.msg);
	cr_assert(eq(str, lookup_sha, (char *)sha_of("lk bytes")), "the stored bytes' SHA-256");
	push_ok("ns", "old", "1.0.0", "kpm", "old bytes");       /* none recorded */
	rc = storage_get_manifest(st, "ns", "old", "1.0.0", "kpm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get: %s", err.msg);
	rc = storage_blob_lookup(st, "ns", "old", m.digest, &size, lookup_sha, &err);
	cr_assert(eq(int, rc, 0), "lookup: %s", err.msg);
	cr_assert(eq(str, lookup_sha, (char *)""), "unknown: empty");
}

/* A chart examined from a blob that a forced push replaced meanwhile is dropped. */
Test(storage, set_chart_drops_what_was_read_from_a_replaced_blob)
{
	struct appr_error err = { 0 };
	struct storage_manifest m;
	const char *c1 = chart_json("raced", "1.0.0");

	push_ok("ns", "raced", "1.0.0", "helm", "first bytes");
	int rc = storage_get_manifest(st, "ns", "raced", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get: %s", err.msg);
	char examined[DIGEST_HEX_LEN + 1];
	memcpy(examined, m.digest, sizeof examined);
	rc = push_to(st, "ns", "raced", "1.0.0", "helm", "second bytes", true, NULL, &err);
	cr_assert(eq(int, rc, 0), "force push: %s", err.msg);
	unsigned long long s0 = stamp_of("ns", NULL);

	rc = storage_set_chart(st, "ns", "raced", "1.0.0", examined, c1, NULL,
			       sha_of("first bytes"), &err);
	cr_assert(eq(int, rc, 0), "set_chart of the replaced blob: %s", err.msg);
	expect_chart(chart_row("ns", "raced", "1.0.0"), NULL, NULL, "", "nothing recorded");
	cr_assert(eq(u64, stamp_of("ns", NULL), s0), "no change: same stamp");

	rc = storage_get_manifest(st, "ns", "raced", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "get: %s", err.msg);
	rc = storage_set_chart(st, "ns", "raced", "1.0.0", m.digest, c1, NULL,
			       sha_of("second bytes"), &err);
	cr_assert(eq(int, rc, 0), "set_chart of the current blob: %s", err.msg);
	expect_chart(chart_row("ns", "raced", "1.0.0"), c1, NULL, sha_of("second bytes"),
		     "recorded");
}

Test(storage, namespace_stamp_counts_changes)
{
	struct appr_error err = { 0 };
	char at0[32] = "x", at1[32], at2[32], at4[32];

	cr_assert(eq(u64, stamp_of("a", at0), 0ULL), "a namespace never written: 0");
	cr_assert(eq(str, at0, (char *)""), "and no changed_at");

	push_ok("a", "p", "1.0.0", "helm", "a p 1");
	unsigned long long s1 = stamp_of("a", at1);
	cr_assert(gt(u64, s1, 0ULL), "a push is a change");
	cr_assert(eq(sz, strlen(at1), (size_t)26), "changed_at in util_utc_now form: %s", at1);

	/* reads change nothing */
	struct storage_manifest m;
	struct storage_package *ps;
	const char **rels;
	size_t n;
	struct storage_list_query q = { .namespace = "a" };
	cr_assert(eq(int, storage_get_manifest(st, "a", "p", "1.0.0", "helm", ar, &m, &err), 0),
		  "get: %s", err.msg);
	cr_assert(eq(int, storage_list_packages(st, &q, ar, &ps, &n, &err), 0), "list");
	cr_assert(eq(int, storage_list_releases(st, "a", "p", ar, &rels, &n, &err), 0), "rels");
	charts_of("a", true, &n);
	cr_assert(eq(u64, stamp_of("a", NULL), s1), "reads: same stamp");

	/* another namespace (one whose name starts like it too) is another stamp */
	push_ok("a.x", "p", "1.0.0", "helm", "a.x p 1");
	push_ok("b", "p", "1.0.0", "helm", "b p 1");
	cr_assert(eq(u64, stamp_of("a", NULL), s1), "changes elsewhere: same stamp");
	cr_assert(gt(u64, stamp_of("b", NULL), 0ULL), "b has its own");

	push_ok("a", "p", "2.0.0", "helm", "a p 2");
	unsigned long long s2 = stamp_of("a", at2);
	cr_assert(gt(u64, s2, s1), "a second push: greater");
	cr_assert(ge(int, strcmp(at2, at1), 0), "changed_at not earlier");

	int rc = push_to(st, "a", "p", "2.0.0", "helm", "a p 2 again", false, NULL, &err);
	expect_err(rc, &err, 409, APPR_E_PACKAGE_EXISTS, "duplicate push");
	rc = storage_delete_manifest(st, "a", "p", "9.0.0", "helm", &err);
	expect_err(rc, &err, 404, APPR_E_PACKAGE_NOT_FOUND, "delete of an absent release");
	cr_assert(eq(u64, stamp_of("a", NULL), s2), "refused changes: same stamp");

	struct storage_channel c;
	rc = storage_channel_add(st, "a", "p", "stable", "2.0.0", ar, &c, &err);
	cr_assert(eq(int, rc, 0), "channel add: %s", err.msg);

	rc = storage_delete_manifest(st, "a", "p", "2.0.0", "helm", &err);
	cr_assert(eq(int, rc, 0), "delete 2.0.0: %s", err.msg);
	unsigned long long s3 = stamp_of("a", NULL);
	cr_assert(gt(u64, s3, s2), "a delete: greater");

	rc = storage_delete_manifest(st, "a", "p", "1.0.0", "helm", &err);
	cr_assert(eq(int, rc, 0), "delete the last release: %s", err.msg);
	unsigned long long s4 = stamp_of("a", at4);
	cr_assert(gt(u64, s4, s3), "the package going: greater");
	cr_assert(ge(int, strcmp(at4, at2), 0), "changed_at not earlier");

	push_vis("a", "p", "1.0.0", "a p private", "private");   /* back, now private */
	unsigned long long s5 = stamp_of("a", NULL);
	cr_assert(gt(u64, s5, s4), "a package created (private): greater");
	rc = push_to(st, "a", "p", "1.0.0", "helm", "a p forced", true, NULL, &err);
	cr_assert(eq(int, rc, 0), "force push: %s", err.msg);
	cr_assert(gt(u64, stamp_of("a", NULL), s5), "a force push: greater");
}

Test(storage, force_push_replaces_chart_fields)
{
	struct appr_error err = { 0 };
	const char *c1 = chart_json("f", "1.0.0"), *c2 = arena_printf(ar, "{\"v\":2}");

	push_chart("ns", "f", "1.0.0", "f one", c1, NULL);
	expect_chart(chart_row("ns", "f", "1.0.0"), c1, NULL, sha_of("f one"), "pushed");

	struct storage_push p = { .ns = "ns", .name = "f", .release = "1.0.0",
				  .media_type = "helm", .force = true,
				  .chart_problem = "templates/ missing" };
	memcpy(p.blob_sha256, sha_of("f two"), sizeof p.blob_sha256);
	cr_assert(eq(int, push_p(&p, "f two", &err), 0), "force with a problem: %s", err.msg);
	struct storage_chart *row = chart_row("ns", "f", "1.0.0");
	expect_chart(row, NULL, "templates/ missing", sha_of("f two"), "forced: a problem");
	cr_assert(eq(str, row->digest, (char *)sha_of("f two")), "forced: its digest");

	p = (struct storage_push){ .ns = "ns", .name = "f", .release = "1.0.0",
				   .media_type = "helm", .force = true, .chart = c2 };
	memcpy(p.blob_sha256, sha_of("f three"), sizeof p.blob_sha256);
	cr_assert(eq(int, push_p(&p, "f three", &err), 0), "force with a chart: %s", err.msg);
	expect_chart(chart_row("ns", "f", "1.0.0"), c2, NULL, sha_of("f three"),
		     "forced: a chart");

	/* force by a caller that gives none: not examined, sha256 unknown */
	int rc = push_to(st, "ns", "f", "1.0.0", "helm", "f four", true, NULL, &err);
	cr_assert(eq(int, rc, 0), "force, old caller: %s", err.msg);
	expect_chart(chart_row("ns", "f", "1.0.0"), NULL, NULL, "", "forced: nothing known");
	set_chart_ok("ns", "f", "1.0.0", c1, NULL, sha_of("f four"));
	expect_chart(chart_row("ns", "f", "1.0.0"), c1, NULL, sha_of("f four"),
		     "examined after the force push");
}

/* A store made by the previous schema (user_version 2, from its own migrations) is
 * upgraded by open: its manifests read with blob_sha256 "" and no chart, its
 * namespaces have a stamp, and set_chart and pushes work on them. */
Test(storage, sqlite_only_version_2_database_is_upgraded)
{
	char db[512];
	sqlite3 *raw;
	unsigned char key[SEMVER_SORTKEY_MAX];
	char at[32];
	struct appr_error err = { 0 };
	struct storage_manifest m;

	SQLITE_ONLY();
	cr_assert(ge(sz, appr_schema_count, (size_t)3), "the charts schema is migration 3");
	storage_close(st);
	st = NULL;
	static const char *const files[] = { "appr.db-wal", "appr.db-shm", "appr.db" };
	for (size_t i = 0; i < N(files); i++) {
		snprintf(db, sizeof db, "%s/%s", data_dir, files[i]);
		unlink(db);                           /* a store of the old program instead */
	}
	cr_assert(eq(int, sqlite3_open(db, &raw), SQLITE_OK), "raw open");
	for (int i = 0; i < 2; i++)
		cr_assert(eq(int, sqlite3_exec(raw, appr_schema_migrations[i], NULL, NULL, NULL),
			     SQLITE_OK), "migration %d: %s", i + 1, sqlite3_errmsg(raw));
	int keylen = semver_sortkey("1.0.0", key, sizeof key);
	cr_assert(gt(int, keylen, 0), "sortkey");
	char *hex = arena_alloc(ar, (size_t)keylen * 2 + 1);
	for (int i = 0; i < keylen; i++)
		sprintf(hex + 2 * i, "%02x", key[i]);
	const char *sql = arena_printf(ar,
		"INSERT INTO packages (id, namespace, name, visibility, created_at) VALUES"
		" (1, 'old', 'chart', 'public', '2024-01-02T03:04:05.000006'),"
		" (2, 'other', 'x', 'private', '2024-01-02T03:04:05.000006');"
		"INSERT INTO releases (id, package_id, version, sortkey, created_at) VALUES"
		" (1, 1, '1.0.0', x'%s', '2024-01-02T03:04:05.000006'),"
		" (2, 2, '1.0.0', x'%s', '2024-01-02T03:04:05.000006');"
		"INSERT INTO manifests (release_id, media_type, digest, size, metadata, created_at)"
		" VALUES (1, 'helm', '%s', 9, NULL, '2024-01-02T03:04:05.000006'),"
		" (1, 'kpm', '%s', 9, '{\"a\":1}', '2024-01-02T03:04:05.000006'),"
		" (2, 'helm', '%s', 9, NULL, '2024-01-02T03:04:05.000006');"
		"PRAGMA user_version = 2;", hex, hex, sha_of("old helm"), sha_of("old kpm"),
		sha_of("other x"));
	cr_assert(eq(int, sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK),
		  "old rows: %s", sqlite3_errmsg(raw));
	sqlite3_close(raw);

	open_store();
	int rc = storage_get_manifest(st, "old", "chart", "1.0.0", "kpm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "old manifest reads: %s", err.msg);
	cr_assert(eq(str, m.blob_sha256, (char *)""), "old manifest: sha256 unknown");
	cr_assert(eq(str, (char *)m.metadata, (char *)"{\"a\":1}"), "old metadata kept");
	size_t n;
	struct storage_chart *rows = charts_of("old", false, &n);
	cr_assert(eq(sz, n, (size_t)1), "the old helm manifest is a chart row");
	expect_chart(&rows[0], NULL, NULL, "", "old row: not examined");
	cr_assert(eq(str, rows[0].digest, (char *)sha_of("old helm")), "old row digest");
	charts_of("other", false, &n);
	cr_assert(eq(sz, n, (size_t)0), "old private package: filtered");
	charts_of("other", true, &n);
	cr_assert(eq(sz, n, (size_t)1), "old private package: listed to readers");

	unsigned long long s = stamp_of("old", at);
	cr_assert(gt(u64, s, 0ULL), "namespaces stored before have a stamp");
	cr_assert(eq(sz, strlen(at), (size_t)26), "and a changed_at: %s", at);
	cr_assert(gt(u64, stamp_of("other", NULL), 0ULL), "every namespace");
	cr_assert(eq(u64, stamp_of("never", NULL), 0ULL), "not the others");

	set_chart_ok("old", "chart", "1.0.0", chart_json("chart", "1.0.0"), NULL,
		     sha_of("old helm bytes"));
	expect_chart(chart_row("old", "chart", "1.0.0"), chart_json("chart", "1.0.0"), NULL,
		     sha_of("old helm bytes"), "old row examined");
	unsigned long long s2 = stamp_of("old", NULL);
	cr_assert(gt(u64, s2, s), "set_chart on an upgraded store: greater");
	push_chart("old", "chart", "2.0.0", "new helm", chart_json("chart", "2.0.0"), NULL);
	cr_assert(gt(u64, stamp_of("old", NULL), s2), "push on an upgraded store: greater");
	charts_of("old", false, &n);
	cr_assert(eq(sz, n, (size_t)2), "old and new rows");
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* 10,000 chart versions in one namespace (and as many in another): list_charts is one
 * index range, fast enough to render index.yaml on every changed request. */
Test(storage, sqlite_only_list_charts_10000_versions)
{
	enum { PKGS = 100, VERSIONS = 100 };
	char db[512];
	sqlite3 *raw;
	sqlite3_stmt *pk, *rl, *mf, *ch;
	unsigned char key[SEMVER_SORTKEY_MAX];

	SQLITE_ONLY();
	snprintf(db, sizeof db, "%s/appr.db", data_dir);
	cr_assert(eq(int, sqlite3_open(db, &raw), SQLITE_OK), "raw open");
	cr_assert(eq(int, sqlite3_exec(raw, "BEGIN", NULL, NULL, NULL), SQLITE_OK), "begin");
	static const char *const sql[] = {
		"INSERT INTO packages (namespace, name, visibility, created_at)"
		" VALUES (?1, ?2, 'public', '2025-01-01T00:00:00.000000')",
		"INSERT INTO releases (package_id, version, sortkey, created_at)"
		" VALUES (?1, ?2, ?3, '2025-01-01T00:00:00.000000')",
		"INSERT INTO manifests (release_id, media_type, digest, size, metadata, created_at,"
		" blob_sha256) VALUES (?1, 'helm', ?2, 4242, NULL, '2025-01-01T00:00:00.000000', ?2)",
		"INSERT INTO charts (release_id, chart) VALUES (?1, ?2)",
	};
	sqlite3_stmt **stmts[] = { &pk, &rl, &mf, &ch };
	for (size_t i = 0; i < N(sql); i++)
		cr_assert(eq(int, sqlite3_prepare_v2(raw, sql[i], -1, stmts[i], NULL), SQLITE_OK),
			  "prepare %s: %s", sql[i], sqlite3_errmsg(raw));
	static const char *const spaces[] = { "big", "other" };
	for (size_t s = 0; s < N(spaces); s++) {
		for (int p = 0; p < PKGS; p++) {
			char name[32];
			snprintf(name, sizeof name, "chart-%03d", p);
			sqlite3_reset(pk);
			sqlite3_bind_text(pk, 1, spaces[s], -1, SQLITE_STATIC);
			sqlite3_bind_text(pk, 2, name, -1, SQLITE_TRANSIENT);
			cr_assert(eq(int, sqlite3_step(pk), SQLITE_DONE), "insert package");
			sqlite3_int64 pid = sqlite3_last_insert_rowid(raw);
			for (int v = 0; v < VERSIONS; v++) {
				char ver[32], d[DIGEST_HEX_LEN + 1];
				snprintf(ver, sizeof ver, "1.%d.%d", v / 10, v % 10);
				int kl = semver_sortkey(ver, key, sizeof key);
				sqlite3_reset(rl);
				sqlite3_bind_int64(rl, 1, pid);
				sqlite3_bind_text(rl, 2, ver, -1, SQLITE_TRANSIENT);
				sqlite3_bind_blob(rl, 3, key, kl, SQLITE_TRANSIENT);
				cr_assert(eq(int, sqlite3_step(rl), SQLITE_DONE), "insert release");
				sqlite3_int64 rid = sqlite3_last_insert_rowid(raw);
				const char *id = arena_printf(ar, "%s/%s/%s", spaces[s], name, ver);
				digest_sha256_hex(id, strlen(id), d);
				const char *chart = arena_printf(ar,
					"{\"apiVersion\":\"v2\",\"name\":\"%s\",\"version\":\"%s\","
					"\"appVersion\":\"%s\",\"description\":\"A Helm chart for"
					" Kubernetes, one of many: %s, with a description long"
					" enough to be a realistic one.\",\"type\":\"application\","
					"\"keywords\":[\"one\",\"two\",\"three\"],\"home\":"
					"\"https://example.org/%s\",\"sources\":[\"https://example.org"
					"/src/%s\"],\"maintainers\":[{\"name\":\"Some One\",\"email\":"
					"\"someone@example.org\"}],\"icon\":\"https://example.org/icon"
					".png\",\"dependencies\":[{\"name\":\"common\",\"version\":"
					"\"1.x.x\",\"repository\":\"https://charts.example.org\"}]}",
					name, ver, ver, id, name, name);
				sqlite3_reset(mf);
				sqlite3_bind_int64(mf, 1, rid);
				sqlite3_bind_text(mf, 2, d, -1, SQLITE_TRANSIENT);
				cr_assert(eq(int, sqlite3_step(mf), SQLITE_DONE), "insert manifest");
				sqlite3_reset(ch);
				sqlite3_bind_int64(ch, 1, rid);
				sqlite3_bind_text(ch, 2, chart, -1, SQLITE_TRANSIENT);
				cr_assert(eq(int, sqlite3_step(ch), SQLITE_DONE), "insert chart");
			}
		}
	}
	for (size_t i = 0; i < N(stmts); i++)
		sqlite3_finalize(*stmts[i]);
	cr_assert(eq(int, sqlite3_exec(raw, "COMMIT", NULL, NULL, NULL), SQLITE_OK), "commit");
	sqlite3_close(raw);

	double best = 1e9;
	for (int run = 0; run < 3; run++) {
		struct appr_error err = { 0 };
		struct storage_chart *rows;
		size_t n;
		struct timespec t0;
		arena_reset(ar);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int rc = storage_list_charts(st, "big", false, ar, &rows, &n, &err);
		double ms = ms_since(&t0);
		cr_assert(eq(int, rc, 0), "list_charts: %s", err.msg);
		cr_assert(eq(sz, n, (size_t)(PKGS * VERSIONS)), "every version");
		cr_assert(eq(str, (char *)rows[0].name, (char *)"chart-000"), "first package");
		cr_assert(eq(str, (char *)rows[0].release, (char *)"1.9.9"), "highest first");
		cr_assert(eq(str, (char *)rows[n - 1].name, (char *)"chart-099"), "last package");
		cr_assert(eq(str, (char *)rows[n - 1].release, (char *)"1.0.0"), "lowest last");
		cr_assert(not(eq(ptr, strstr(rows[n - 1].chart, "\"maintainers\""), NULL)),
			  "chart text");
		if (ms < best)
			best = ms;
	}
	fprintf(stderr, "list_charts: %d versions in one namespace: %.1f ms (best of 3)\n",
		PKGS * VERSIONS, best);
	cr_assert(lt(dbl, best, 1000.0), "list_charts of 10,000 versions is fast: %.1f ms", best);
}

/* kv drivers: a namespace stored in before stamps were kept has no ns/ key; its stamp
 * starts at the first look (one write), and grows from there. */
Test(storage, kv_only_stamp_of_a_namespace_stored_before_stamps)
{
	if (is_fs())
		cr_skip_test("the sqlite store gives such namespaces a stamp in its migration");
	struct appr_error err = { 0 };
	struct kv_op op = { .type = KV_DELETE, .key = "ns/old" };
	char at[32];
	size_t n;

	push_ok("old", "p", "1.0.0", "helm", "old p");
	cr_assert(eq(int, kv_txn(rawkv, NULL, 0, &op, 1, &err), KV_COMMITTED),
		  "forget the stamp: %s", err.msg);
	unsigned long long s1 = stamp_of("old", at);
	cr_assert(gt(u64, s1, 0ULL), "stored in before: a stamp all the same");
	cr_assert(eq(sz, strlen(at), (size_t)26), "and a changed_at: %s", at);
	cr_assert(eq(u64, stamp_of("old", NULL), s1), "read again: the same");
	push_ok("old", "p", "2.0.0", "helm", "old p 2");
	cr_assert(gt(u64, stamp_of("old", NULL), s1), "then a push: greater");

	cr_assert(eq(u64, stamp_of("none", NULL), 0ULL), "nothing stored: 0");
	kv_keys("ns/none", false, &n);
	cr_assert(eq(sz, n, (size_t)0), "and nothing written");
}
