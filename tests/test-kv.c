/* test-kv.c - the kv.h contract, run against a real etcd or redis-server.
 *
 * KV_TEST_DRIVER=etcd|redis picks the client; the server comes from the usual
 * configuration (config_load: APPR_ETCD_ENDPOINTS / APPR_REDIS_URL, ...). Every test uses
 * its own key prefix (/appr-test-kv/<pid>.<time>/) and deletes its keys at the end.
 * Tests named redis_* check the redis client only (skipped with another driver; t-kv.sh
 * runs them for redis only). tests/integration/t-kv.sh starts the servers and runs this
 * once per driver. Built when configure built a kv driver; a driver left out
 * (HAVE_ETCD, HAVE_REDIS) has no tests here. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#ifdef HAVE_REDIS
#include <hiredis/hiredis.h>
#endif

#include "kv.h"

/* Criterion's eq(str, ...) wants char *: string literals and const strings are cast. */
#define streq_(a, b) eq(str, (char *)(a), (char *)(b))

static struct appr_config cfg;
static const struct kv_ops *ops;
static struct kv *kv;
static struct arena *ar;
static char prefix[128];

/* ---- fixture ---- */

static const struct kv_ops *driver_ops(void)
{
	const char *d = getenv("KV_TEST_DRIVER");
	cr_assert(d && *d, "KV_TEST_DRIVER is not set (etcd or redis): run tests/integration/t-kv.sh");
#ifdef HAVE_ETCD
	if (strcmp(d, "etcd") == 0)
		return &kv_etcd_ops;
#endif
#ifdef HAVE_REDIS
	if (strcmp(d, "redis") == 0)
		return &kv_redis_ops;
#endif
	cr_fatal("KV_TEST_DRIVER=%s: not a kv driver built into this program", d);
	return NULL;
}

/* Is the driver under test the redis client? */
static bool is_redis(void)
{
	return strcmp(ops->name, "redis") == 0;
}

/* A unique prefix for this test process. */
static void make_prefix(char *out, size_t cap, const char *tag)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, cap, "/appr-test-kv/%s%ld.%lld.%ld/", tag, (long)getpid(),
		 (long long)ts.tv_sec, ts.tv_nsec);
}

/* Open a kv on c (borrowed by the kv: c must outlive it, and so must c->key_prefix). */
static struct kv *open_kv(const struct appr_config *c)
{
	struct appr_error err = { 0 };
	struct kv *k = NULL;
	int rc = ops->open(c, &k, &err);
	cr_assert(eq(int, rc, 0), "open %s: %d %s", ops->name, err.http, err.msg);
	cr_assert(not(eq(ptr, k, NULL)), "open gave a kv");
	return k;
}

static void setup(void)
{
	struct appr_error err = { 0 };
	ops = driver_ops();
	cr_assert(eq(int, config_load(NULL, &cfg, &err), 0), "config_load: %s", err.msg);
	make_prefix(prefix, sizeof prefix, "");
	free(cfg.key_prefix);
	cfg.key_prefix = xstrdup(prefix);
	kv = open_kv(&cfg);
	ar = arena_new();
}

static void teardown(void)
{
	if (kv) {
		struct appr_error err = { 0 };
		struct kv_op all = { .type = KV_DELETE_PREFIX, .key = "" };
		kv_txn(kv, NULL, 0, &all, 1, &err);
		kv_close(kv);
		kv = NULL;
	}
	arena_free(ar);
	ar = NULL;
	config_free(&cfg);
}

TestSuite(kv, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static void put(struct kv *k, const char *key, const void *val, size_t len)
{
	struct appr_error err = { 0 };
	struct kv_op op = { .type = KV_PUT, .key = key, .value = val, .len = len };
	int rc = kv_txn(k, NULL, 0, &op, 1, &err);
	cr_assert(eq(int, rc, KV_COMMITTED), "put %s: rc %d (%d %s)", key, rc, err.http, err.msg);
}

static void puts_kv(const char *key, const char *val)
{
	put(kv, key, val, strlen(val));
}

/* get key: 0 found, 1 absent (asserted not -1). */
static int get(struct kv *k, const char *key, struct kv_pair *p)
{
	struct appr_error err = { 0 };
	int rc = kv_get(k, key, ar, p, &err);
	cr_assert(rc == 0 || rc == 1, "get %s: rc %d (%d %s)", key, rc, err.http, err.msg);
	return rc;
}

static long long rev_of(const char *key)
{
	struct kv_pair p;
	return get(kv, key, &p) == 0 ? p.rev : 0;
}

/* The value of key as a string ("<absent>" when absent). */
static const char *val_of(struct kv *k, const char *key)
{
	struct kv_pair p;
	if (get(k, key, &p) == 1)
		return "<absent>";
	return p.value;
}

/* range, asserted to succeed; the keys joined with "," into keys (when not NULL). */
static size_t range(struct kv *k, const char *pfx, const char *after, size_t limit,
		    bool keys_only, struct kv_pair **out, bool *more, char *keys, size_t cap)
{
	struct appr_error err = { 0 };
	struct kv_pair *ps = NULL;
	size_t n = 99;
	int rc = kv_range(k, pfx, after, limit, keys_only, ar, &ps, &n, more, &err);
	cr_assert(eq(int, rc, 0), "range \"%s\" after \"%s\" limit %zu: rc %d (%d %s)", pfx,
		  after ? after : "(null)", limit, rc, err.http, err.msg);
	if (keys) {
		keys[0] = '\0';
		for (size_t i = 0; i < n; i++) {
			size_t l = strlen(keys);
			snprintf(keys + l, cap - l, "%s%s", i ? "," : "", ps[i].key);
		}
	}
	if (out)
		*out = ps;
	return n;
}

/* ---- get, put, revisions ---- */

Test(kv, get_absent)
{
	struct kv_pair p = { .rev = 42 };
	cr_assert(eq(int, get(kv, "nothing/here", &p), 1), "an absent key answers 1");
	cr_assert(eq(i64, p.rev, 0), "an absent key has revision 0");
	cr_assert(eq(ptr, (void *)p.value, NULL), "an absent key has no value");
}

Test(kv, get_present_binary)
{
	static const char val[] = "a\0b\0\0c\xff\x01";
	struct kv_pair p;
	put(kv, "bin", val, sizeof val);        /* the final NUL included: 10 bytes */
	cr_assert(eq(int, get(kv, "bin", &p), 0), "a key just written is found");
	cr_assert(eq(sz, p.len, sizeof val), "length of a value with NUL bytes");
	cr_assert(eq(int, memcmp(p.value, val, sizeof val), 0), "the bytes read back are the bytes written");
	cr_assert(eq(chr, p.value[p.len], '\0'), "the value is followed by a NUL");
	cr_assert(streq_(p.key, "bin"), "the key comes back without the key prefix");
	cr_assert(gt(i64, p.rev, 0), "a present key has a revision > 0");
}

Test(kv, empty_value)
{
	struct kv_pair p;
	put(kv, "empty", "", 0);
	cr_assert(eq(int, get(kv, "empty", &p), 0), "a key with an empty value is present");
	cr_assert(eq(sz, p.len, 0), "its length is 0");
	cr_assert(not(eq(ptr, (void *)p.value, NULL)), "its value is \"\", not NULL");
}

Test(kv, one_mebibyte_value)
{
	size_t n = KV_MAX_VALUE;
	unsigned char *v = xmalloc(n);
	unsigned int x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		v[i] = (unsigned char)(x >> 16);
	}
	v[0] = 0;
	v[n / 2] = 0;
	v[n - 1] = 0;
	put(kv, "big", v, n);
	struct kv_pair p;
	cr_assert(eq(int, get(kv, "big", &p), 0), "the 1 MiB value is found");
	cr_assert(eq(sz, p.len, n), "1 MiB comes back as 1 MiB");
	cr_assert(eq(int, memcmp(p.value, v, n), 0), "the 1 MiB value is byte-exact");
	struct kv_pair *ps;
	cr_assert(eq(sz, range(kv, "big", NULL, 0, false, &ps, NULL, NULL, 0), 1), "range finds it");
	cr_assert(eq(sz, ps[0].len, n), "range: 1 MiB");
	cr_assert(eq(int, memcmp(ps[0].value, v, n), 0), "range: byte-exact");
	free(v);
}

Test(kv, revisions_change_on_write)
{
	puts_kv("r", "1");
	long long r1 = rev_of("r");
	puts_kv("other", "x");
	puts_kv("r", "2");
	long long r2 = rev_of("r");
	cr_assert(gt(i64, r1, 0), "first revision > 0");
	cr_assert(not(eq(i64, r1, r2)), "the revision changes when the key is written again");
	puts_kv("r", "2");
	cr_assert(not(eq(i64, rev_of("r"), r2)), "it changes even when the value is the same");
	struct kv_pair *ps;
	range(kv, "r", NULL, 0, false, &ps, NULL, NULL, 0);
	cr_assert(eq(i64, ps[0].rev, rev_of("r")), "range and get agree on the revision");
}

/* ---- range ---- */

Test(kv, range_prefix_bounds)
{
	const char *keys[] = { "a", "a0", "a/", "a/x", "a/y", "a/y/z", "a.", "b", "0" };
	char got[256];
	bool more = true;
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		puts_kv(keys[i], keys[i]);
	range(kv, "a/", NULL, 0, false, NULL, &more, got, sizeof got);
	cr_assert(streq_(got, "a/,a/x,a/y,a/y/z"), "range a/: not a, a0 or a.; in byte order");
	cr_assert(not(more), "no limit: more is false");
	range(kv, "a", NULL, 0, true, NULL, NULL, got, sizeof got);
	cr_assert(streq_(got, "a,a.,a/,a/x,a/y,a/y/z,a0"), "range a: everything starting with a");
	range(kv, "", NULL, 0, true, NULL, NULL, got, sizeof got);
	cr_assert(streq_(got, "0,a,a.,a/,a/x,a/y,a/y/z,a0,b"), "range \"\": every key of this prefix");
	range(kv, "c", NULL, 0, true, NULL, NULL, got, sizeof got);
	cr_assert(streq_(got, ""), "range of a prefix no key has: empty");
	range(kv, "a/y/z/", NULL, 0, true, NULL, NULL, got, sizeof got);
	cr_assert(streq_(got, ""), "a key is not under the prefix key + \"/\"");
}

Test(kv, range_byte_order)
{
	/* bytes above 0x7f sort after ASCII (unsigned), 0xff included */
	const char *keys[] = { "o/\xff", "o/\x80", "o/\x7f", "o/\x01", "o/A", "o/\xff\xff", "o0" };
	char got[256], want[256];
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		puts_kv(keys[i], "v");
	range(kv, "o/", NULL, 0, true, NULL, NULL, got, sizeof got);
	snprintf(want, sizeof want, "%s", "o/\x01,o/A,o/\x7f,o/\x80,o/\xff,o/\xff\xff");
	cr_assert(streq_(got, want), "keys in unsigned byte order");
	range(kv, "o/\xff", NULL, 0, true, NULL, NULL, got, sizeof got);
	cr_assert(streq_(got, "o/\xff,o/\xff\xff"), "a prefix ending in 0xff");
	range(kv, "o/\x7f", NULL, 0, true, NULL, NULL, got, sizeof got);
	cr_assert(streq_(got, "o/\x7f"), "a prefix ending in 0x7f");
}

Test(kv, range_after_limit_more)
{
	char got[256];
	bool more;
	for (int i = 1; i <= 5; i++) {
		char k[16];
		snprintf(k, sizeof k, "p/%d", i);
		puts_kv(k, k);
	}
	puts_kv("p0", "x");
	puts_kv("o", "x");
	range(kv, "p/", NULL, 2, false, NULL, &more, got, sizeof got);
	cr_assert(streq_(got, "p/1,p/2"), "limit 2: the first two");
	cr_assert(more, "limit 2 of 5: more");
	range(kv, "p/", "p/2", 2, false, NULL, &more, got, sizeof got);
	cr_assert(streq_(got, "p/3,p/4"), "after p/2: p/3, p/4");
	cr_assert(more, "after p/2, limit 2: more");
	range(kv, "p/", "p/4", 2, false, NULL, &more, got, sizeof got);
	cr_assert(streq_(got, "p/5"), "after p/4: p/5 only (not p0)");
	cr_assert(not(more), "the last page: no more");
	range(kv, "p/", NULL, 5, false, NULL, &more, got, sizeof got);
	cr_assert(streq_(got, "p/1,p/2,p/3,p/4,p/5"), "limit 5 of 5");
	cr_assert(not(more), "limit = count: no more");
	range(kv, "p/", "p/5", 0, false, NULL, &more, got, sizeof got);
	cr_assert(streq_(got, ""), "after the last: nothing");
	range(kv, "p/", "p/25", 0, false, NULL, &more, got, sizeof got);
	cr_assert(streq_(got, "p/3,p/4,p/5"), "after a key that does not exist");
	range(kv, "p/", "", 0, false, NULL, &more, got, sizeof got);
	cr_assert(streq_(got, "p/1,p/2,p/3,p/4,p/5"), "after \"\": from the first");
	range(kv, "p/", "a", 0, false, NULL, &more, got, sizeof got);
	cr_assert(streq_(got, "p/1,p/2,p/3,p/4,p/5"), "after a key before the prefix: from the first");
	cr_assert(eq(sz, range(kv, "p/", NULL, 3, false, NULL, NULL, NULL, 0), 3),
		  "more may be NULL");
}

Test(kv, range_values_and_keys_only)
{
	struct kv_pair *ps;
	puts_kv("v/1", "one");
	put(kv, "v/2", "t\0o", 3);
	cr_assert(eq(sz, range(kv, "v/", NULL, 0, false, &ps, NULL, NULL, 0), 2), "two keys");
	cr_assert(streq_(ps[0].value, "one"), "value of v/1");
	cr_assert(eq(sz, ps[1].len, 3), "length of v/2");
	cr_assert(eq(int, memcmp(ps[1].value, "t\0o", 3), 0), "value of v/2, a NUL inside");
	cr_assert(eq(i64, ps[0].rev, rev_of("v/1")), "revision of v/1");
	cr_assert(eq(sz, range(kv, "v/", NULL, 0, true, &ps, NULL, NULL, 0), 2), "keys only: two keys");
	for (int i = 0; i < 2; i++) {
		cr_assert(eq(ptr, (void *)ps[i].value, NULL), "keys only: value NULL");
		cr_assert(eq(sz, ps[i].len, 0), "keys only: len 0");
		cr_assert(gt(i64, ps[i].rev, 0), "keys only: the revision is there");
	}
	cr_assert(streq_(ps[1].key, "v/2"), "keys only: the key");
}

/* ---- transactions ---- */

Test(kv, txn_revision_match_commits)
{
	struct appr_error err = { 0 };
	puts_kv("t", "old");
	struct kv_cond c = { "t", rev_of("t") };
	struct kv_op op = { KV_PUT, "t", "new", 3 };
	cr_assert(eq(int, kv_txn(kv, &c, 1, &op, 1, &err), KV_COMMITTED),
		  "condition on the current revision: committed (%s)", err.msg);
	cr_assert(streq_(val_of(kv, "t"), "new"), "the write was applied");
	cr_assert(not(eq(i64, rev_of("t"), c.rev)), "the revision moved");
}

Test(kv, txn_mismatch_conflicts_and_writes_nothing)
{
	struct appr_error err = { 0 };
	puts_kv("t", "old");
	puts_kv("u", "keep");
	long long stale = rev_of("t");
	puts_kv("t", "newer");
	long long now = rev_of("t");
	struct kv_cond c[2] = { { "u", rev_of("u") }, { "t", stale } };
	struct kv_op ops_[4] = {
		{ KV_PUT, "t", "lost", 4 },
		{ KV_PUT, "fresh", "x", 1 },
		{ KV_DELETE, "u", NULL, 0 },
		{ KV_DELETE_PREFIX, "", NULL, 0 },
	};
	cr_assert(eq(int, kv_txn(kv, c, 2, ops_, 4, &err), KV_CONFLICT),
		  "a stale revision: conflict");
	cr_assert(streq_(val_of(kv, "t"), "newer"), "t unchanged");
	cr_assert(eq(i64, rev_of("t"), now), "t's revision unchanged");
	cr_assert(streq_(val_of(kv, "u"), "keep"), "u not deleted");
	cr_assert(streq_(val_of(kv, "fresh"), "<absent>"), "fresh not written");
	struct kv_cond absent = { "t", 0 };
	cr_assert(eq(int, kv_txn(kv, &absent, 1, ops_, 2, &err), KV_CONFLICT),
		  "rev 0 on a present key: conflict");
	cr_assert(streq_(val_of(kv, "fresh"), "<absent>"), "still not written");
}

Test(kv, txn_rev_zero_means_absent)
{
	struct appr_error err = { 0 };
	struct kv_cond c = { "new", 0 };
	struct kv_op op = { KV_PUT, "new", "1", 1 };
	cr_assert(eq(int, kv_txn(kv, &c, 1, &op, 1, &err), KV_COMMITTED), "create if absent");
	op.value = "2";
	cr_assert(eq(int, kv_txn(kv, &c, 1, &op, 1, &err), KV_CONFLICT), "second create: conflict");
	cr_assert(streq_(val_of(kv, "new"), "1"), "the first value stays");
	struct kv_op del = { KV_DELETE, "new", NULL, 0 };
	struct kv_cond cur = { "new", rev_of("new") };
	cr_assert(eq(int, kv_txn(kv, &cur, 1, &del, 1, &err), KV_COMMITTED), "delete");
	cr_assert(eq(int, kv_txn(kv, &c, 1, &op, 1, &err), KV_COMMITTED),
		  "after the delete the key is absent again: rev 0 holds");
	cr_assert(streq_(val_of(kv, "new"), "2"), "created again");
}

Test(kv, txn_ops_apply_in_order)
{
	struct appr_error err = { 0 };
	puts_kv("y", "old");
	puts_kv("z", "old");
	struct kv_cond c[3] = { { "y", rev_of("y") }, { "z", rev_of("z") }, { "none", 0 } };
	struct kv_op o[7] = {
		{ KV_PUT, "x", "1", 1 },
		{ KV_PUT, "x", "2", 1 },
		{ KV_DELETE, "y", NULL, 0 },
		{ KV_PUT, "y", "3", 1 },
		{ KV_PUT, "w", "4", 1 },
		{ KV_DELETE, "w", NULL, 0 },
		{ KV_DELETE, "never-there", NULL, 0 },
	};
	cr_assert(eq(int, kv_txn(kv, c, 3, o, 7, &err), KV_COMMITTED), "committed (%s)", err.msg);
	cr_assert(streq_(val_of(kv, "x"), "2"), "x: the later put wins");
	cr_assert(streq_(val_of(kv, "y"), "3"), "y: deleted then put");
	cr_assert(streq_(val_of(kv, "w"), "<absent>"), "w: put then deleted");
	cr_assert(streq_(val_of(kv, "z"), "old"), "z: only a condition");
	cr_assert(gt(i64, rev_of("x"), 0), "x has a revision");
}

Test(kv, txn_conditions_only)
{
	struct appr_error err = { 0 };
	puts_kv("c", "v");
	struct kv_cond ok_ = { "c", rev_of("c") }, bad = { "c", rev_of("c") + 1000 };
	cr_assert(eq(int, kv_txn(kv, &ok_, 1, NULL, 0, &err), KV_COMMITTED), "no ops, holding: committed");
	cr_assert(eq(int, kv_txn(kv, &bad, 1, NULL, 0, &err), KV_CONFLICT), "no ops, failing: conflict");
}

Test(kv, txn_delete_prefix)
{
	struct appr_error err = { 0 };
	char got[256];
	const char *keys[] = { "d", "d/", "d/a", "d/b/c", "d0", "da", "e" };
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		puts_kv(keys[i], "v");
	struct kv_op o[2] = { { KV_DELETE_PREFIX, "d/", NULL, 0 }, { KV_PUT, "d/new", "n", 1 } };
	cr_assert(eq(int, kv_txn(kv, NULL, 0, o, 2, &err), KV_COMMITTED), "delete prefix d/");
	range(kv, "", NULL, 0, true, NULL, NULL, got, sizeof got);
	cr_assert(streq_(got, "d,d/new,d0,da,e"),
		  "d/, d/a, d/b/c deleted; d, d0, da, e kept; d/new put after the delete");
	struct kv_op none = { KV_DELETE_PREFIX, "nothing/", NULL, 0 };
	cr_assert(eq(int, kv_txn(kv, NULL, 0, &none, 1, &err), KV_COMMITTED),
		  "deleting an empty prefix range is fine");
	struct kv_op again = { KV_PUT, "d/a", "back", 4 };
	cr_assert(eq(int, kv_txn(kv, NULL, 0, &again, 1, &err), KV_COMMITTED), "put a deleted key");
	cr_assert(streq_(val_of(kv, "d/a"), "back"), "a deleted key can come back");
}

/* ---- isolation, concurrency, errors ---- */

Test(kv, key_prefix_isolation)
{
	struct appr_error err = { 0 };
	char other_prefix[128], got[256];
	struct appr_config other_cfg = cfg;    /* shallow: not freed */
	make_prefix(other_prefix, sizeof other_prefix, "other-");
	other_cfg.key_prefix = other_prefix;
	struct kv *other = open_kv(&other_cfg);
	puts_kv("shared", "mine");
	puts_kv("only-mine", "x");
	put(other, "shared", "theirs", 6);
	cr_assert(streq_(val_of(kv, "shared"), "mine"), "mine stays mine");
	cr_assert(streq_(val_of(other, "shared"), "theirs"), "theirs stays theirs");
	cr_assert(streq_(val_of(other, "only-mine"), "<absent>"), "the other does not see my key");
	range(other, "", NULL, 0, true, NULL, NULL, got, sizeof got);
	cr_assert(streq_(got, "shared"), "the other prefix's range: only its key");
	struct kv_cond c = { "only-mine", 0 };
	struct kv_op op = { KV_PUT, "only-mine", "y", 1 };
	cr_assert(eq(int, kv_txn(other, &c, 1, &op, 1, &err), KV_COMMITTED),
		  "conditions see only their own prefix");
	struct kv_op all = { KV_DELETE_PREFIX, "", NULL, 0 };
	cr_assert(eq(int, kv_txn(other, NULL, 0, &all, 1, &err), KV_COMMITTED), "delete all of other");
	cr_assert(streq_(val_of(kv, "shared"), "mine"), "deleting the other prefix kept mine");
	cr_assert(streq_(val_of(kv, "only-mine"), "x"), "... all of mine");
	kv_close(other);
}

#define WORKERS 4
#define INCREMENTS 25

/* Child: INCREMENTS read-modify-write increments of "counter" on its own connection.
 * Exit status: 0 ok, 1 error, 2 an outcome was unknown, 3 too many conflicts. */
static int increment_child(void)
{
	struct appr_error err = { 0 };
	struct kv *k = NULL;
	struct arena *a = arena_new();
	if (ops->open(&cfg, &k, &err) < 0)
		return 1;
	for (int i = 0; i < INCREMENTS; i++) {
		int tries;
		for (tries = 0; tries < 2000; tries++) {
			struct kv_pair p;
			char buf[32];
			arena_reset(a);
			int rc = kv_get(k, "counter", a, &p, &err);
			if (rc < 0)
				return 1;
			long long n = rc == 0 ? atoll(p.value) : 0;
			snprintf(buf, sizeof buf, "%lld", n + 1);
			struct kv_cond c = { "counter", rc == 0 ? p.rev : 0 };
			struct kv_op op = { KV_PUT, "counter", buf, strlen(buf) };
			rc = kv_txn(k, &c, 1, &op, 1, &err);
			if (rc == KV_COMMITTED)
				break;
			if (rc == KV_UNKNOWN)
				return 2;
			if (rc != KV_CONFLICT)
				return 1;
			usleep((useconds_t)(rand() % 500));
		}
		if (tries == 2000)
			return 3;
	}
	kv_close(k);
	arena_free(a);
	return 0;
}

Test(kv, concurrent_increments_lose_nothing)
{
	pid_t pids[WORKERS];
	kv_close(kv);                    /* no connection crosses fork() */
	kv = NULL;
	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		cr_assert(ge(int, pids[w], 0), "fork");
		if (pids[w] == 0) {
			srand((unsigned)getpid());
			_exit(increment_child());
		}
	}
	for (int w = 0; w < WORKERS; w++) {
		int st = 0;
		cr_assert(eq(int, waitpid(pids[w], &st, 0), pids[w]), "waitpid");
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		cr_assert(eq(int, code, 0),
			  "worker %d: exit %d (1 error, 2 unknown outcome, 3 endless conflicts)",
			  w, code);
	}
	kv = open_kv(&cfg);
	char want[16];
	snprintf(want, sizeof want, "%d", WORKERS * INCREMENTS);
	cr_assert(streq_(val_of(kv, "counter"), want),
		  "%d workers x %d increments with retries: no update lost", WORKERS, INCREMENTS);
}

/* A loopback port nobody listens on (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(ge(int, fd, 0), "socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(eq(int, bind(fd, (struct sockaddr *)&sa, sizeof sa), 0), "bind");
	cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&sa, &len), 0), "getsockname");
	close(fd);
	return ntohs(sa.sin_port);
}

Test(kv, unreachable_server_is_503)
{
	struct appr_error err = { 0 };
	struct kv *k = (struct kv *)&err;        /* must be reset to NULL */
	char where[64], url[96];
	int port = closed_port();
	snprintf(where, sizeof where, "127.0.0.1:%d", port);
	if (is_redis()) {
		snprintf(url, sizeof url, "redis://%s/0", where);
		free(cfg.redis_url);
		cfg.redis_url = xstrdup(url);
	} else {
		snprintf(url, sizeof url, "http://%s", where);
		free(cfg.etcd_endpoints);
		cfg.etcd_endpoints = xstrdup(url);
	}
	cfg.kv_timeout_ms = 2000;
	int rc = ops->open(&cfg, &k, &err);
	cr_assert(eq(int, rc, -1), "open against a closed port fails");
	cr_assert(eq(ptr, (void *)k, NULL), "no kv given");
	cr_assert(eq(int, err.http, 503), "503 (got %d: %s)", err.http, err.msg);
	cr_assert(streq_((err.code ? err.code : ""), APPR_E_UNAVAILABLE), "code %s",
		  APPR_E_UNAVAILABLE);
	cr_assert(not(eq(ptr, strstr(err.msg, where), NULL)), "the message names %s: %s",
		  where, err.msg);
}

/* A loopback socket that accepts connections (backlog) but never answers. */
static int silent_listener(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(ge(int, fd, 0), "socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(eq(int, bind(fd, (struct sockaddr *)&sa, sizeof sa), 0), "bind");
	cr_assert(eq(int, listen(fd, 16), 0), "listen");
	cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&sa, &len), 0), "getsockname");
	*port = ntohs(sa.sin_port);
	return fd;
}

Test(kv, silent_server_times_out_503)
{
	struct appr_error err = { 0 };
	struct kv *k = NULL;
	char url[96];
	int port, fd = silent_listener(&port);
	if (is_redis()) {
		snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
		free(cfg.redis_url);
		cfg.redis_url = xstrdup(url);
	} else {
		snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
		free(cfg.etcd_endpoints);
		cfg.etcd_endpoints = xstrdup(url);
	}
	cfg.kv_timeout_ms = 500;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = ops->open(&cfg, &k, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == 0) {            /* a lazy client: the first request must time out */
		struct kv_pair p;
		rc = kv_get(k, "x", ar, &p, &err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		kv_close(k);
	}
	close(fd);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert(eq(int, rc, -1), "a server that never answers: failure");
	cr_assert(eq(int, err.http, 503), "503 (got %d: %s)", err.http, err.msg);
	cr_assert(lt(dbl, s, 5.0), "within kv_timeout_ms (500 ms) and retries, not %.1f s", s);
}

/* ---- redis only ---- */
#ifdef HAVE_REDIS

static redisContext *raw_redis(int *port)
{
	char host[64];
	int db = 0;
	cr_assert(eq(int, sscanf(cfg.redis_url, "redis://%63[^:]:%d/%d", host, port, &db) >= 2, 1),
		  "APPR_REDIS_URL=%s: expected redis://host:port/db (no password) for the redis tests",
		  cfg.redis_url);
	redisContext *c = redisConnect(host, *port);
	cr_assert(c && !c->err, "connect to redis at %s:%d: %s", host, *port, c ? c->errstr : "");
	return c;
}

static void raw_ok(redisContext *c, const char *what, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert(r && r->type != REDIS_REPLY_ERROR, "%s: %s", what,
		  r ? r->str : c->errstr);
	freeReplyObject(r);
}

static void skip_unless_redis(void)
{
	if (!is_redis())
		cr_skip_test("a redis client test (KV_TEST_DRIVER=%s)", ops->name);
}

Test(kv, redis_url_user_password_db_and_reconnect)
{
	skip_unless_redis();
	struct appr_error err = { 0 };
	int port;
	char user[48], url[160];
	redisContext *c = raw_redis(&port);
	snprintf(user, sizeof user, "appr-test-%ld", (long)getpid());
	raw_ok(c, "ACL SETUSER", "ACL SETUSER %s on >s@cr:t ~* &* +@all", user);

	/* user, a password with %-escapes, database 5 */
	struct appr_config c5 = cfg;             /* shallow: not freed */
	snprintf(url, sizeof url, "redis://%s:s%%40cr%%3at@127.0.0.1:%d/5", user, port);
	c5.redis_url = url;
	struct kv *k = open_kv(&c5);
	put(k, "in-db-5", "v", 1);
	redisReply *r = redisCommand(c, "SELECT 5");
	freeReplyObject(r);
	r = redisCommand(c, "EXISTS %sk:in-db-5", prefix);
	cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1,
		  "the key is in database 5 (redis://user:pw@host:port/5)");
	freeReplyObject(r);
	r = redisCommand(c, "SELECT 0");
	freeReplyObject(r);

	/* the server drops the connection: reads and writes reconnect by themselves */
	raw_ok(c, "CLIENT KILL", "CLIENT KILL USER %s", user);
	cr_assert(streq_(val_of(k, "in-db-5"), "v"), "a read after the connection was killed");
	raw_ok(c, "CLIENT KILL", "CLIENT KILL USER %s", user);
	struct kv_cond cond = { "in-db-5", 0 };
	cond.rev = 0;
	struct kv_pair p;
	get(k, "in-db-5", &p);
	cond.rev = p.rev;
	raw_ok(c, "CLIENT KILL", "CLIENT KILL USER %s", user);
	struct kv_op op = { KV_PUT, "in-db-5", "w", 1 };
	int rc = kv_txn(k, &cond, 1, &op, 1, &err);
	cr_assert(eq(int, rc, KV_COMMITTED),
		  "a txn after the connection was killed while idle: committed, not unknown (%d %s)",
		  rc, err.msg);
	/* the server forgot the scripts: EVAL takes over */
	raw_ok(c, "SCRIPT FLUSH", "SCRIPT FLUSH");
	cond.rev = 0;
	get(k, "in-db-5", &p);
	cond.rev = p.rev;
	op.value = "x";
	cr_assert(eq(int, kv_txn(k, &cond, 1, &op, 1, &err), KV_COMMITTED), "txn after SCRIPT FLUSH");
	cr_assert(eq(sz, range(k, "in-db", NULL, 0, false, NULL, NULL, NULL, 0), 1),
		  "range after SCRIPT FLUSH");
	cr_assert(streq_(val_of(k, "in-db-5"), "x"), "the value written after SCRIPT FLUSH");
	struct kv_op all = { KV_DELETE_PREFIX, "", NULL, 0 };
	kv_txn(k, NULL, 0, &all, 1, &err);
	kv_close(k);

	/* a wrong password: the server's error, 500 */
	struct kv *bad = NULL;
	snprintf(url, sizeof url, "redis://%s:wrong@127.0.0.1:%d/0", user, port);
	c5.redis_url = url;
	appr_err_clear(&err);
	cr_assert(eq(int, ops->open(&c5, &bad, &err), -1), "a wrong password fails");
	cr_assert(eq(int, err.http, 500), "a redis error reply is a 500 (got %d: %s)", err.http, err.msg);
	cr_assert(not(eq(ptr, strstr(err.msg, "WRONGPASS"), NULL)), "with redis's text: %s", err.msg);
	raw_ok(c, "ACL DELUSER", "ACL DELUSER %s", user);
	redisFree(c);
}

Test(kv, redis_bad_url)
{
	skip_unless_redis();
	static const char *const bad[] = {
		"http://127.0.0.1:6379", "redis://", "redis://127.0.0.1:0/0",
		"redis://127.0.0.1:65536/0", "redis://127.0.0.1:6379/x", "redis://[::1/0",
		"redis://:secret@127.0.0.1:x/0",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct appr_error err = { 0 };
		struct kv *k = NULL;
		struct appr_config c = cfg;
		c.redis_url = (char *)bad[i];
		cr_assert(eq(int, ops->open(&c, &k, &err), -1), "redis_url %s is refused", bad[i]);
		cr_assert(not(eq(ptr, strstr(err.msg, "redis_url"), NULL)),
			  "the message names redis_url: %s", err.msg);
		cr_assert(eq(ptr, strstr(err.msg, "secret"), NULL),
			  "the message does not show the password: %s", err.msg);
	}
}

Test(kv, redis_error_reply_is_500)
{
	skip_unless_redis();
	struct appr_error err = { 0 };
	struct kv_pair p;
	int port;
	redisContext *c = raw_redis(&port);
	raw_ok(c, "SET", "SET %sk:wrong-type not-a-hash", prefix);
	int rc = kv_get(kv, "wrong-type", ar, &p, &err);
	cr_assert(eq(int, rc, -1), "get of a key redis cannot read as the client's hash: failure");
	cr_assert(eq(int, err.http, 500), "a redis error reply is a 500 (got %d: %s)", err.http, err.msg);
	cr_assert(not(eq(ptr, strstr(err.msg, "WRONGTYPE"), NULL)), "with redis's text: %s", err.msg);
	raw_ok(c, "DEL", "DEL %sk:wrong-type", prefix);
	redisFree(c);
	cr_assert(eq(int, kv_get(kv, "wrong-type", ar, &p, &err), 1),
		  "the same connection still works after an error reply");
}
#endif /* HAVE_REDIS */
