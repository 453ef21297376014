/* test-semver.c - unit tests for lib/semver.c: parse, precedence, sort keys, queries, select. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "semver.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
/* A modifiable copy of a literal, for the char *const * candidate lists. */
#define S(lit) ((char[]){ lit })

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

/* memcmp with the shorter-prefix-first tiebreak (SQLite BLOB order). */
static int key_cmp(const unsigned char *a, int an, const unsigned char *b, int bn)
{
	int c = memcmp(a, b, (size_t)(an < bn ? an : bn));

	if (c)
		return sign(c);
	return an < bn ? -1 : an > bn;
}

static struct semver must_parse(const char *s)
{
	struct semver v;

	cr_assert(eq(int, semver_parse(s, &v), 0), "semver_parse must accept \"%s\"", s);
	return v;
}

static int cmp_str(const char *a, const char *b)
{
	struct semver va = must_parse(a), vb = must_parse(b);

	return sign(semver_cmp(&va, &vb));
}

/* 1/0 whether query q matches version v (both must parse). */
static int qmatch(const char *q, const char *v)
{
	struct semver_query *sq = NULL;
	struct semver sv = must_parse(v);
	int r;

	cr_assert(eq(int, semver_query_parse(q, &sq), 0), "query \"%s\" must parse", q);
	cr_assert(ne(ptr, sq, NULL), "query \"%s\" gives an object", q);
	r = semver_query_match(sq, &sv);
	semver_query_free(sq);
	return r;
}

/* ---- parse ---- */

Test(semver_parse, valid)
{
	static const char *const ok[] = {
		"0.0.0", "1.2.3", "10.20.30", "1.1.2-prerelease+meta", "1.1.2+meta",
		"1.1.2+meta-valid", "1.0.0-alpha", "1.0.0-beta", "1.0.0-alpha.beta",
		"1.0.0-alpha.beta.1", "1.0.0-alpha.1", "1.0.0-alpha0.valid",
		"1.0.0-alpha.0valid", "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
		"1.0.0-rc.1+build.1", "2.0.0-rc.1+build.123", "1.2.3-beta", "10.2.3-DEV-SNAPSHOT",
		"1.2.3-SNAPSHOT-123", "2.0.0+build.1848", "2.0.1-alpha.1227", "1.0.0-alpha+beta",
		"1.2.3----RC-SNAPSHOT.12.9.1--.12+788", "1.2.3----R-S.12.9.1--.12+meta",
		"1.2.3----RC-SNAPSHOT.12.9.1--.12", "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
		"18446744073709551615.18446744073709551615.18446744073709551615",
		"1.0.0-0A.is.legal", "1.0.0+001", "1.0.0-0", "1.0.0--", "1.0.0-x.7.z.92",
		"1.0.0-99999999999999999999999",
	};

	for (size_t i = 0; i < N_ELEMS(ok); i++) {
		struct semver v;
		cr_expect(eq(int, semver_parse(ok[i], &v), 0), "valid: \"%s\"", ok[i]);
	}
}

Test(semver_parse, invalid)
{
	static const char *const bad[] = {
		"", "1", "1.2", "1.2.3-", "1.2.3-+123", "1.2.3-+", "+invalid", "-invalid",
		"-invalid+invalid", "-invalid.01", "alpha", "alpha.beta", "alpha.beta.1",
		"alpha.1", "alpha+beta", "alpha_beta", "alpha.", "alpha..", "beta",
		"1.0.0-alpha_beta", "-alpha.", "1.0.0-alpha..", "1.0.0-alpha..1",
		"1.0.0-alpha...1", "1.0.0-alpha....1", "1.0.0-alpha.....1",
		"1.0.0-alpha......1", "1.0.0-alpha.......1", "01.1.1", "1.01.1", "1.1.01",
		"1.2", "1.2.3.DEV", "1.2-SNAPSHOT", "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
		"1.2-RC-SNAPSHOT", "-1.0.3-gamma+b7718", "+justmeta", "9.8.7+meta+meta",
		"9.8.7-whatever+meta+meta", "1.0.0-01", "1.0.0-alpha.01", "1.0.0+", "1.0.0+a..b",
		"1.0.0+.a", "1.0.0+a.", "v1.0.0", " 1.0.0", "1.0.0 ", "1.0 .0", "1.0.0-a b",
		"18446744073709551616.0.0", "0.18446744073709551616.0", "0.0.18446744073709551616",
		"99999999999999999999999.999999999.99999999", "1.2.3\n", "1.2.3-é", "1.2.3+é",
	};

	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		struct semver v;
		cr_expect(eq(int, semver_parse(bad[i], &v), -1), "invalid: \"%s\"", bad[i]);
	}
	cr_expect(eq(int, semver_parse(NULL, NULL), -1), "NULL string is invalid");
}

Test(semver_parse, fields)
{
	struct semver v = must_parse("1.22.333-rc.1+build.5");

	cr_assert(eq(u64, v.major, 1), "major of 1.22.333-rc.1+build.5");
	cr_assert(eq(u64, v.minor, 22), "minor of 1.22.333-rc.1+build.5");
	cr_assert(eq(u64, v.patch, 333), "patch of 1.22.333-rc.1+build.5");
	cr_assert(eq(sz, v.pre_len, 4), "pre_len of 1.22.333-rc.1+build.5");
	cr_assert(eq(int, memcmp(v.pre, "rc.1", 4), 0), "pre of 1.22.333-rc.1+build.5");
	cr_assert(eq(sz, v.build_len, 7), "build_len of 1.22.333-rc.1+build.5");
	cr_assert(eq(int, memcmp(v.build, "build.5", 7), 0), "build of 1.22.333-rc.1+build.5");

	v = must_parse("18446744073709551615.0.7");
	cr_assert(eq(u64, v.major, UINT64_MAX), "major UINT64_MAX");
	cr_assert(eq(sz, v.pre_len, 0), "no pre-release");
	cr_assert(eq(sz, v.build_len, 0), "no build");
}

Test(semver_parse, length_limit)
{
	char s[200];

	/* "1.0.0-" + 'a' * k: length 6 + k */
	memcpy(s, "1.0.0-", 6);
	memset(s + 6, 'a', 122);
	s[128] = 0;
	cr_assert(eq(int, semver_parse(s, &(struct semver){ 0 }), 0), "128 characters are accepted");
	s[128] = 'a';
	s[129] = 0;
	cr_assert(eq(int, semver_parse(s, &(struct semver){ 0 }), -1), "129 characters are refused");
}

/* ---- precedence ---- */

Test(semver_cmp, basics)
{
	cr_assert(eq(int, cmp_str("1.0.0", "2.0.0"), -1), "1.0.0 < 2.0.0");
	cr_assert(eq(int, cmp_str("2.0.0", "2.1.0"), -1), "2.0.0 < 2.1.0");
	cr_assert(eq(int, cmp_str("2.1.0", "2.1.1"), -1), "2.1.0 < 2.1.1");
	cr_assert(eq(int, cmp_str("2.0.0", "10.0.0"), -1), "2.0.0 < 10.0.0");
	cr_assert(eq(int, cmp_str("1.0.0-alpha", "1.0.0"), -1), "pre-release < release");
	cr_assert(eq(int, cmp_str("1.0.0", "1.0.0-alpha"), 1), "release > pre-release");
	cr_assert(eq(int, cmp_str("1.0.0-9", "1.0.0-10"), -1), "numeric ids numerically");
	cr_assert(eq(int, cmp_str("1.0.0-1", "1.0.0-a"), -1), "numeric < alphanumeric");
	cr_assert(eq(int, cmp_str("1.0.0-a", "1.0.0-1"), 1), "alphanumeric > numeric");
	cr_assert(eq(int, cmp_str("1.0.0-a", "1.0.0-a-b"), -1), "a < a-b (ASCII, prefix)");
	cr_assert(eq(int, cmp_str("1.0.0-B", "1.0.0-a"), -1), "B < a in ASCII");
	cr_assert(eq(int, cmp_str("1.0.0-a.b", "1.0.0-a"), 1), "longer id list > prefix");
	cr_assert(eq(int, cmp_str("1.0.0-alpha.1", "1.0.0-alpha.1"), 0), "equal pre-releases");
	cr_assert(eq(int, cmp_str("1.0.0+a", "1.0.0+b"), 0), "build metadata ignored");
	cr_assert(eq(int, cmp_str("1.0.0-rc.1+x", "1.0.0-rc.1"), 0), "build ignored with pre");
	cr_assert(eq(int, cmp_str("18446744073709551615.0.0", "18446744073709551614.9.9"), 1),
		  "big numbers");
	cr_assert(eq(int, cmp_str("1.0.0-99999999999999999999", "1.0.0-100000000000000000000"), -1),
		  "numeric ids beyond uint64 compare numerically");
}

Test(semver_cmp, semver_org_chain)
{
	static const char *const chain[] = {
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
	};

	for (size_t i = 0; i < N_ELEMS(chain); i++)
		for (size_t j = 0; j < N_ELEMS(chain); j++) {
			int want = i < j ? -1 : i > j;
			cr_assert(eq(int, cmp_str(chain[i], chain[j]), want),
				  "semver_cmp(%s, %s)", chain[i], chain[j]);
		}
}

/* ---- sort keys ---- */

/* Ascending by precedence; entries of equal precedence share a group number. */
static const struct {
	const char *v;
	int group;
} ordered[] = {
	{ "0.0.0-0", 0 },
	{ "0.0.0-0.0", 1 },
	{ "0.0.0--", 2 },
	{ "0.0.0", 3 },
	{ "0.0.0+0", 3 },
	{ "0.0.1", 4 },
	{ "0.1.0", 5 },
	{ "0.9.9", 6 },
	{ "0.10.0", 7 },
	{ "1.0.0-1", 8 },
	{ "1.0.0-1.a", 9 },
	{ "1.0.0-9", 10 },
	{ "1.0.0-10", 11 },
	{ "1.0.0-99999999999999999999999", 12 },
	{ "1.0.0--", 13 },
	{ "1.0.0-0A", 14 },
	{ "1.0.0-A", 15 },
	{ "1.0.0-a", 16 },
	{ "1.0.0-a+zzz", 16 },
	{ "1.0.0-a+0", 16 },
	{ "1.0.0-a.1", 17 },
	{ "1.0.0-a.a", 18 },
	{ "1.0.0-a-b", 19 },
	{ "1.0.0-a0", 20 },
	{ "1.0.0-aa", 21 },
	{ "1.0.0-alpha", 22 },
	{ "1.0.0-alpha+build.1", 22 },
	{ "1.0.0-alpha.1", 23 },
	{ "1.0.0-alpha.beta", 24 },
	{ "1.0.0-beta", 25 },
	{ "1.0.0-beta.2", 26 },
	{ "1.0.0-beta.11", 27 },
	{ "1.0.0-rc.1", 28 },
	{ "1.0.0-rc.1+build.1", 28 },
	{ "1.0.0", 29 },
	{ "1.0.0+0", 29 },
	{ "1.0.0+001", 29 },
	{ "1.0.0+build", 29 },
	{ "1.0.0+build.1", 29 },
	{ "1.0.1-alpha", 30 },
	{ "1.0.1", 31 },
	{ "1.1.0", 32 },
	{ "2.0.0-beta", 33 },
	{ "2.0.0", 34 },
	{ "2.1.0-beta", 35 },
	{ "9.0.0", 36 },
	{ "10.0.0", 37 },
	{ "10.0.0+x", 37 },
	{ "99.0.0", 38 },
	{ "100.0.0", 39 },
	{ "18446744073709551614.0.0", 40 },
	{ "18446744073709551615.0.0", 41 },
	{ "18446744073709551615.18446744073709551615.18446744073709551615", 42 },
};

Test(semver_sortkey, order_matches_cmp)
{
	size_t n = N_ELEMS(ordered);

	for (size_t i = 0; i < n; i++) {
		unsigned char ka[SEMVER_SORTKEY_MAX];
		int la = semver_sortkey(ordered[i].v, ka, sizeof(ka));
		struct semver va = must_parse(ordered[i].v);
		cr_assert(gt(int, la, 0), "sortkey of %s", ordered[i].v);
		for (size_t j = 0; j < n; j++) {
			unsigned char kb[SEMVER_SORTKEY_MAX];
			int lb = semver_sortkey(ordered[j].v, kb, sizeof(kb));
			struct semver vb = must_parse(ordered[j].v);
			int want = ordered[i].group < ordered[j].group ? -1
				   : ordered[i].group > ordered[j].group;
			int c = sign(semver_cmp(&va, &vb));
			int k = key_cmp(ka, la, kb, lb);
			cr_assert(gt(int, lb, 0), "sortkey of %s", ordered[j].v);
			cr_assert(eq(int, c, want), "semver_cmp(%s, %s) follows the table",
				  ordered[i].v, ordered[j].v);
			if (c != 0)
				cr_assert(eq(int, k, c), "key order of %s vs %s equals semver_cmp",
					  ordered[i].v, ordered[j].v);
			else if (strcmp(ordered[i].v, ordered[j].v) == 0)
				cr_assert(eq(int, k, 0), "same string, same key: %s", ordered[i].v);
			else
				cr_assert(ne(int, k, 0), "distinct strings %s and %s, distinct keys",
					  ordered[i].v, ordered[j].v);
		}
	}
}

/* A small deterministic generator (an LCG): the next value below n. */
static unsigned rnd(unsigned *seed, size_t n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (unsigned)((*seed >> 16) % n);
}

/* Deterministic pseudo-random versions built from tricky parts. */
static void random_version(unsigned *seed, char *out, size_t cap)
{
	static const char *const nums[] = { "0", "1", "2", "9", "10", "18446744073709551615" };
	static const char *const ids[] = { "0", "1", "2", "10", "99999999999999999999", "a",
					   "a-b", "-", "A", "alpha", "0a", "b", "a0" };
	static const char *const builds[] = { "0", "b.1", "zz", "001", "-" };
	const char *ma = nums[rnd(seed, N_ELEMS(nums))];
	const char *mi = nums[rnd(seed, N_ELEMS(nums))];
	const char *pa = nums[rnd(seed, N_ELEMS(nums))];
	size_t len = (size_t)snprintf(out, cap, "%s.%s.%s", ma, mi, pa);

	for (unsigned i = 0, n = rnd(seed, 4); i < n; i++)
		len += (size_t)snprintf(out + len, cap - len, "%c%s", i ? '.' : '-',
					ids[rnd(seed, N_ELEMS(ids))]);
	if (rnd(seed, 3) == 0)
		snprintf(out + len, cap - len, "+%s", builds[rnd(seed, N_ELEMS(builds))]);
}

Test(semver_sortkey, random_pairs)
{
	enum { N = 300 };
	static char vs[N][128];
	static unsigned char keys[N][SEMVER_SORTKEY_MAX];
	static int lens[N];
	unsigned seed = 12345;

	for (int i = 0; i < N; i++) {
		random_version(&seed, vs[i], sizeof(vs[i]));
		lens[i] = semver_sortkey(vs[i], keys[i], sizeof(keys[i]));
		cr_assert(gt(int, lens[i], 0), "sortkey of generated %s", vs[i]);
	}
	for (int i = 0; i < N; i++) {
		struct semver a = must_parse(vs[i]);
		for (int j = 0; j < N; j++) {
			struct semver b = must_parse(vs[j]);
			int c = sign(semver_cmp(&a, &b));
			int k = key_cmp(keys[i], lens[i], keys[j], lens[j]);
			cr_assert(eq(int, c, -sign(semver_cmp(&b, &a))),
				  "semver_cmp antisymmetric for %s, %s", vs[i], vs[j]);
			if (c != 0 || strcmp(vs[i], vs[j]) == 0)
				cr_assert(eq(int, k, c), "key order of %s vs %s", vs[i], vs[j]);
			else
				cr_assert(ne(int, k, 0), "distinct keys for %s, %s", vs[i], vs[j]);
		}
	}
}

Test(semver_sortkey, builds_never_reorder)
{
	/* A build suffix must not lift a version above the next higher precedence. */
	static const char *const pairs[][2] = {
		{ "1.0.0-a+zzzzzz", "1.0.0-a.0" },
		{ "1.0.0-a+zzzzzz", "1.0.0-a-" },
		{ "1.0.0-a+zzzzzz", "1.0.0-a0" },
		{ "1.0.0-9+zz", "1.0.0-10" },
		{ "1.0.0-rc.1+zz", "1.0.0" },
		{ "1.0.0+zzzz", "1.0.1-0" },
		{ "1.0.0-0+zzzz", "1.0.0-0.0" },
	};

	for (size_t i = 0; i < N_ELEMS(pairs); i++) {
		unsigned char a[SEMVER_SORTKEY_MAX], b[SEMVER_SORTKEY_MAX];
		int la = semver_sortkey(pairs[i][0], a, sizeof(a));
		int lb = semver_sortkey(pairs[i][1], b, sizeof(b));
		cr_assert(eq(int, key_cmp(a, la, b, lb), -1), "key %s < key %s",
			  pairs[i][0], pairs[i][1]);
	}
}

Test(semver_sortkey, bounds_and_errors)
{
	unsigned char k[SEMVER_SORTKEY_MAX];
	char longest[200];
	int len;

	cr_assert(eq(int, semver_sortkey("1.0", k, sizeof(k)), -1), "not a version");
	cr_assert(eq(int, semver_sortkey("v1.0.0", k, sizeof(k)), -1), "v prefix is not a version");

	len = semver_sortkey("1.2.3", k, sizeof(k));
	cr_assert(gt(int, len, 0), "key of 1.2.3");
	cr_assert(eq(int, semver_sortkey("1.2.3", k, (size_t)len), len), "exact capacity is enough");
	cr_assert(eq(int, semver_sortkey("1.2.3", k, (size_t)len - 1), -1), "one byte short fails");
	memset(k, 0xAA, sizeof(k));
	cr_assert(eq(int, semver_sortkey("1.2.3", k, sizeof(k)), len), "key length stable");
	cr_assert(eq(int, k[len], 0), "a NUL follows the key when room allows");

	/* Worst cases of 128 characters stay within SEMVER_SORTKEY_MAX. */
	memcpy(longest, "1.0.0-", 6);
	for (int i = 6; i < 128; i++)
		longest[i] = (i % 2) ? '.' : '1';
	longest[127] = '1';
	longest[128] = 0;
	len = semver_sortkey(longest, k, sizeof(k));
	cr_assert(gt(int, len, 0), "128-char many-identifier version has a key");
	cr_assert(le(int, len, SEMVER_SORTKEY_MAX), "key within SEMVER_SORTKEY_MAX");

	snprintf(longest, sizeof(longest), "%s.%s.%s+%s", "18446744073709551615",
		 "18446744073709551615", "18446744073709551615",
		 "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.0.1.2.3.4.5.6");
	cr_assert(eq(sz, strlen(longest), 128), "the big version is 128 characters");
	len = semver_sortkey(longest, k, sizeof(k));
	cr_assert(gt(int, len, 0), "big numbers + build have a key");
	cr_assert(le(int, len, SEMVER_SORTKEY_MAX), "big key within SEMVER_SORTKEY_MAX");
}

/* ---- queries ---- */

Test(semver_query, invalid)
{
	static const char *const bad[] = {
		"", " ", ",", "1.0,", ",1.0", "1.0,,2.0", ">=", "=>1.0", "=<1.0", "<>1.0",
		">>1.0", "!1.0", "junk", "1.0.0.0", "01.0", "1.01", "v1.0", "1.", ".1", "1..2",
		"1.2.3-", "1.2-rc", "1.x.3", "x.1", "~>1.0", "^^1", "1 2", "1.0 .0",
		"18446744073709551616", ">=1.0.0 <2.0.0", "1.0.0+", "=1.0.0-01",
	};

	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		struct semver_query *q = (struct semver_query *)1;
		cr_expect(eq(int, semver_query_parse(bad[i], &q), -1), "invalid query \"%s\"", bad[i]);
		cr_expect(eq(ptr, q, NULL), "*out is NULL after failure: \"%s\"", bad[i]);
	}
	semver_query_free(NULL);
}

Test(semver_query, operators_full)
{
	cr_assert(eq(int, qmatch("1.2.3", "1.2.3"), 1), "bare 1.2.3 matches 1.2.3");
	cr_assert(eq(int, qmatch("1.2.3", "1.2.4"), 0), "bare 1.2.3 rejects 1.2.4");
	cr_assert(eq(int, qmatch("==1.2.3", "1.2.3+b"), 1), "== ignores build");
	cr_assert(eq(int, qmatch("=1.2.3", "1.2.3"), 1), "= is ==");
	cr_assert(eq(int, qmatch("=1.2.3", "1.2.2"), 0), "= rejects others");
	cr_assert(eq(int, qmatch("!=1.2.3", "1.2.3"), 0), "!= rejects equal");
	cr_assert(eq(int, qmatch("!=1.2.3", "1.2.4"), 1), "!= accepts other");
	cr_assert(eq(int, qmatch("<1.2.3", "1.2.2"), 1), "< below");
	cr_assert(eq(int, qmatch("<1.2.3", "1.2.3"), 0), "< equal");
	cr_assert(eq(int, qmatch("<=1.2.3", "1.2.3"), 1), "<= equal");
	cr_assert(eq(int, qmatch("<=1.2.3", "1.2.4"), 0), "<= above");
	cr_assert(eq(int, qmatch(">1.2.3", "1.2.3"), 0), "> equal");
	cr_assert(eq(int, qmatch(">1.2.3", "1.2.4"), 1), "> above");
	cr_assert(eq(int, qmatch(">=1.2.3", "1.2.3"), 1), ">= equal");
	cr_assert(eq(int, qmatch(">=1.2.3", "1.2.2"), 0), ">= below");
	cr_assert(eq(int, qmatch(">=1.5.0,<2.0.0", "1.9.9"), 1), "AND inside");
	cr_assert(eq(int, qmatch(">=1.5.0,<2.0.0", "2.0.0"), 0), "AND upper");
	cr_assert(eq(int, qmatch(">=1.5.0,<2.0.0", "1.4.0"), 0), "AND lower");
	cr_assert(eq(int, qmatch(" >= 1.5.0 ,\t< 2.0.0 ", "1.6.0"), 1), "spaces ignored");
	cr_assert(eq(int, qmatch(">=1.0.0,!=1.5.0", "1.5.0"), 0), "!= in a list");
}

Test(semver_query, partial_operands)
{
	cr_assert(eq(int, qmatch("1.5", "1.5.0"), 1), "1.5 is 1.5.x (low)");
	cr_assert(eq(int, qmatch("1.5", "1.5.99"), 1), "1.5 is 1.5.x (high)");
	cr_assert(eq(int, qmatch("==1.5", "1.6.0"), 0), "==1.5 rejects 1.6.0");
	cr_assert(eq(int, qmatch("==1.5", "1.4.9"), 0), "==1.5 rejects 1.4.9");
	cr_assert(eq(int, qmatch("1", "1.99.0"), 1), "1 is 1.x.x");
	cr_assert(eq(int, qmatch("1", "2.0.0"), 0), "1 rejects 2.0.0");
	cr_assert(eq(int, qmatch("1.x", "1.3.0"), 1), "1.x wildcard");
	cr_assert(eq(int, qmatch("1.5.*", "1.5.7"), 1), "1.5.* wildcard");
	cr_assert(eq(int, qmatch("*", "7.0.0"), 1), "* matches any release");
	cr_assert(eq(int, qmatch("!=1.5", "1.5.3"), 0), "!=1.5 rejects 1.5.3");
	cr_assert(eq(int, qmatch("!=1.5", "1.6.0"), 1), "!=1.5 accepts 1.6.0");
	cr_assert(eq(int, qmatch("!=1.5", "1.4.0"), 1), "!=1.5 accepts 1.4.0");
	cr_assert(eq(int, qmatch(">1.5", "1.5.99"), 0), ">1.5 is >=1.6.0 (1.5.99)");
	cr_assert(eq(int, qmatch(">1.5", "1.6.0"), 1), ">1.5 is >=1.6.0 (1.6.0)");
	cr_assert(eq(int, qmatch(">1", "1.9.0"), 0), ">1 is >=2.0.0 (1.9.0)");
	cr_assert(eq(int, qmatch(">1", "2.0.0"), 1), ">1 is >=2.0.0 (2.0.0)");
	cr_assert(eq(int, qmatch(">=1.5", "1.5.0"), 1), ">=1.5 is >=1.5.0");
	cr_assert(eq(int, qmatch(">=1.5", "1.4.9"), 0), ">=1.5 rejects 1.4.9");
	cr_assert(eq(int, qmatch("<1.5", "1.4.99"), 1), "<1.5 is <1.5.0 (1.4.99)");
	cr_assert(eq(int, qmatch("<1.5", "1.5.0"), 0), "<1.5 is <1.5.0 (1.5.0)");
	cr_assert(eq(int, qmatch("<=1.5", "1.5.99"), 1), "<=1.5 is <1.6.0 (1.5.99)");
	cr_assert(eq(int, qmatch("<=1.5", "1.6.0"), 0), "<=1.5 is <1.6.0 (1.6.0)");
	cr_assert(eq(int, qmatch("<=1", "1.99.99"), 1), "<=1 is <2.0.0");
	cr_assert(eq(int, qmatch(">=1.5,<2.0", "1.9.0"), 1), ">=1.5,<2.0 inside");
	cr_assert(eq(int, qmatch(">=1.5,<2.0", "2.0.0"), 0), ">=1.5,<2.0 upper");
	cr_assert(eq(int, qmatch(">*", "1.0.0"), 0), ">* matches nothing");
	cr_assert(eq(int, qmatch("<*", "0.0.0"), 0), "<* matches nothing");
	cr_assert(eq(int, qmatch(">18446744073709551615", "18446744073709551615.9.9"), 0),
		  "> largest major matches nothing");
	cr_assert(eq(int, qmatch("18446744073709551615", "18446744073709551615.9.9"), 1),
		  "largest major X-range has no upper bound");
}

Test(semver_query, caret)
{
	cr_assert(eq(int, qmatch("^1.2.3", "1.2.3"), 1), "^1.2.3 low end");
	cr_assert(eq(int, qmatch("^1.2.3", "1.9.0"), 1), "^1.2.3 inside");
	cr_assert(eq(int, qmatch("^1.2.3", "1.2.2"), 0), "^1.2.3 below");
	cr_assert(eq(int, qmatch("^1.2.3", "2.0.0"), 0), "^1.2.3 <2.0.0");
	cr_assert(eq(int, qmatch("^0.2.3", "0.2.9"), 1), "^0.2.3 inside");
	cr_assert(eq(int, qmatch("^0.2.3", "0.3.0"), 0), "^0.2.3 <0.3.0");
	cr_assert(eq(int, qmatch("^0.2.3", "0.2.2"), 0), "^0.2.3 below");
	cr_assert(eq(int, qmatch("^0.0.3", "0.0.3"), 1), "^0.0.3 is 0.0.3");
	cr_assert(eq(int, qmatch("^0.0.3", "0.0.4"), 0), "^0.0.3 <0.0.4");
	cr_assert(eq(int, qmatch("^1.5", "1.99.0"), 1), "^1.5 is <2.0.0");
	cr_assert(eq(int, qmatch("^1.5", "1.4.0"), 0), "^1.5 is >=1.5.0");
	cr_assert(eq(int, qmatch("^0.5", "0.5.9"), 1), "^0.5 inside");
	cr_assert(eq(int, qmatch("^0.5", "0.6.0"), 0), "^0.5 is <0.6.0");
	cr_assert(eq(int, qmatch("^0.0", "0.0.9"), 1), "^0.0 is <0.1.0 (0.0.9)");
	cr_assert(eq(int, qmatch("^0.0", "0.1.0"), 0), "^0.0 is <0.1.0 (0.1.0)");
	cr_assert(eq(int, qmatch("^1", "1.9.9"), 1), "^1 is <2.0.0");
	cr_assert(eq(int, qmatch("^0", "0.9.9"), 1), "^0 is <1.0.0 (0.9.9)");
	cr_assert(eq(int, qmatch("^0", "1.0.0"), 0), "^0 is <1.0.0 (1.0.0)");
	cr_assert(eq(int, qmatch("^ 1.2.3", "1.3.0"), 1), "space after ^");
	cr_assert(eq(int, qmatch("^1.2.3", "2.0.0-alpha"), 0), "no pre-release (not named)");
	cr_assert(eq(int, qmatch("^1.2.3,>=1.0.0-0", "2.0.0-alpha"), 0),
		  "upper bound of ^ excludes pre-releases of the bound");
	cr_assert(eq(int, qmatch("^1.2.3,>=1.0.0-0", "1.5.0-alpha"), 1),
		  "pre-release inside ^ matches when a pre-release is named");
	cr_assert(eq(int, qmatch("^18446744073709551615.0.0", "18446744073709551615.5.0"), 1),
		  "^ at the largest major has no upper bound");
}

Test(semver_query, tilde)
{
	cr_assert(eq(int, qmatch("~1.2.3", "1.2.3"), 1), "~1.2.3 low end");
	cr_assert(eq(int, qmatch("~1.2.3", "1.2.99"), 1), "~1.2.3 inside");
	cr_assert(eq(int, qmatch("~1.2.3", "1.3.0"), 0), "~1.2.3 <1.3.0");
	cr_assert(eq(int, qmatch("~1.2.3", "1.2.2"), 0), "~1.2.3 below");
	cr_assert(eq(int, qmatch("~1.5", "1.5.7"), 1), "~1.5 inside");
	cr_assert(eq(int, qmatch("~1.5", "1.6.0"), 0), "~1.5 <1.6.0");
	cr_assert(eq(int, qmatch("~1", "1.9.0"), 1), "~1 is <2.0.0 (1.9.0)");
	cr_assert(eq(int, qmatch("~1", "2.0.0"), 0), "~1 is <2.0.0 (2.0.0)");
	cr_assert(eq(int, qmatch("~0.0.3", "0.0.9"), 1), "~0.0.3 is <0.1.0");
	cr_assert(eq(int, qmatch("~1.2.3-beta.2", "1.2.3-beta.4"), 1), "~ with pre-release");
	cr_assert(eq(int, qmatch("~1.2.3-beta.2", "1.2.3-beta.1"), 0), "~ with pre-release below");
	cr_assert(eq(int, qmatch("~1.2.3-beta.2", "1.3.0-alpha"), 0),
		  "~ upper bound excludes its pre-releases");
}

Test(semver_query, compatible_release)
{
	cr_assert(eq(int, qmatch("~=1.2", "1.2.0"), 1), "~=1.2 low end");
	cr_assert(eq(int, qmatch("~=1.2", "1.9.9"), 1), "~=1.2 is <2.0.0 (1.9.9)");
	cr_assert(eq(int, qmatch("~=1.2", "2.0.0"), 0), "~=1.2 is <2.0.0 (2.0.0)");
	cr_assert(eq(int, qmatch("~=1.2", "1.1.9"), 0), "~=1.2 below");
	cr_assert(eq(int, qmatch("~=1.2.3", "1.2.9"), 1), "~=1.2.3 inside");
	cr_assert(eq(int, qmatch("~=1.2.3", "1.3.0"), 0), "~=1.2.3 is <1.3.0");
	cr_assert(eq(int, qmatch("~=1.2.3", "1.2.2"), 0), "~=1.2.3 below");
	cr_assert(eq(int, qmatch(" ~= 1.2.3 ,!=1.2.5", "1.2.5"), 0), "~= in a conjunction");
	cr_assert(eq(int, qmatch("~=1", "1.5.0"), 1), "~=1 is <2.0.0");
	struct semver_query *q = NULL;
	cr_assert(eq(int, semver_query_parse("~==1.2", &q), -1), "~== is invalid");
	cr_assert(eq(int, semver_query_parse("~=", &q), -1), "~= without operand is invalid");
}

Test(semver_query, prerelease_rule)
{
	cr_assert(eq(int, qmatch(">=1.0.0", "2.0.0-beta"), 0), "pre-release needs a named pre-release");
	cr_assert(eq(int, qmatch("!=1.0.0", "1.0.1-rc.1"), 0), "!= does not enable pre-releases");
	cr_assert(eq(int, qmatch(">=2.0.0-alpha", "2.0.0-beta"), 1), "named pre-release enables");
	cr_assert(eq(int, qmatch(">=2.0.0-alpha", "2.0.0"), 1), "release still matches");
	cr_assert(eq(int, qmatch(">=2.0.0-alpha,<2.0.0", "2.0.0-rc.1"), 1),
		  "full < keeps pre-releases of its operand");
	cr_assert(eq(int, qmatch(">=2.0.0-alpha,<2.0.0", "2.0.0"), 0), "full < excludes operand");
	cr_assert(eq(int, qmatch("<2.0", "2.0.0-rc.1"), 0), "not named: no pre-release");
	cr_assert(eq(int, qmatch("<2.0,>0.0.0-0", "2.0.0-rc.1"), 0),
		  "<2.0 is <2.0.0-0: excludes 2.0.0 pre-releases");
	cr_assert(eq(int, qmatch("<=1.5,>0.0.0-0", "1.6.0-rc.1"), 0),
		  "<=1.5 is <1.6.0-0: excludes 1.6.0 pre-releases");
	cr_assert(eq(int, qmatch("1.5,>0.0.0-0", "1.6.0-rc.1"), 0),
		  "1.5 X-range excludes 1.6.0 pre-releases");
	cr_assert(eq(int, qmatch("1.5,>0.0.0-0", "1.5.0-rc.1"), 0),
		  "1.5 X-range starts at 1.5.0");
	cr_assert(eq(int, qmatch("1.5,>0.0.0-0", "1.5.1-rc.1"), 1),
		  "1.5 X-range includes 1.5.1-rc.1 when enabled");
	cr_assert(eq(int, qmatch("1.0.0-rc.1", "1.0.0-rc.1"), 1), "exact pre-release query");
	cr_assert(eq(int, qmatch("1.0.0-rc.1", "1.0.0-rc.2"), 0), "exact pre-release other");
}

/* ---- select ---- */

Test(semver_select, default_highest)
{
	const char *rel[] = { S("1.0.0"), S("2.1.0-beta"), S("junk"), S("2.0.0"), S("1.10.0"), S("v3.0.0") };
	int exact = -1;

	cr_assert(eq(long, semver_select(NULL, rel, N_ELEMS(rel), &exact), 1), "NULL -> 2.1.0-beta");
	cr_assert(eq(int, exact, 0), "NULL is not exact");
	cr_assert(eq(long, semver_select("", rel, N_ELEMS(rel), &exact), 1), "\"\" -> 2.1.0-beta");
	cr_assert(eq(long, semver_select("default", rel, N_ELEMS(rel), NULL), 1),
		  "default -> 2.1.0-beta");
	cr_assert(eq(long, semver_select("default", rel, 0, &exact), SEMVER_SELECT_NONE),
		  "no candidates -> NONE");
	cr_assert(eq(long, semver_select("default", (const char *[]){ S("x"), S("1.0") }, 2, NULL),
		     SEMVER_SELECT_NONE), "only invalid candidates -> NONE");
}

Test(semver_select, default_ties_independent_of_order)
{
	const char *a[] = { S("1.0.0+b"), S("1.0.0+a") };
	const char *b[] = { S("1.0.0+a"), S("1.0.0+b") };

	cr_assert(eq(long, semver_select(NULL, a, 2, NULL), 0), "tie picks 1.0.0+b (first)");
	cr_assert(eq(long, semver_select(NULL, b, 2, NULL), 1), "tie picks 1.0.0+b (second)");
}

Test(semver_select, exact)
{
	const char *rel[] = { S("1.0.0"), S("1.2.3+build"), S("1.2.3"), S("2.0.0") };
	int exact = 0;

	cr_assert(eq(long, semver_select("1.2.3", rel, N_ELEMS(rel), &exact), 2), "exact 1.2.3");
	cr_assert(eq(int, exact, 1), "exact flag set");
	cr_assert(eq(long, semver_select("1.2.3+build", rel, N_ELEMS(rel), &exact), 1),
		  "exact string with build");
	exact = 0;
	cr_assert(eq(long, semver_select("1.5.0", rel, N_ELEMS(rel), &exact), SEMVER_SELECT_NONE),
		  "absent exact version");
	cr_assert(eq(int, exact, 1), "absent exact version still sets exact");
	cr_assert(eq(long, semver_select("1.2.3+other", rel, N_ELEMS(rel), NULL),
		     SEMVER_SELECT_NONE), "two releases equal but for build: no guess");
}

Test(semver_select, exact_ignoring_build)
{
	const char *rel[] = { S("0.9.0"), S("0.9.1+build"), S("1.0.0+a"), S("1.0.0+b") };

	cr_assert(eq(long, semver_select("0.9.1", rel, N_ELEMS(rel), NULL), 1),
		  "0.9.1 finds the only 0.9.1+build");
	cr_assert(eq(long, semver_select("0.9.1+other", rel, N_ELEMS(rel), NULL), 1),
		  "0.9.1+other finds the only 0.9.1+build");
	cr_assert(eq(long, semver_select("1.0.0", rel, N_ELEMS(rel), NULL), SEMVER_SELECT_NONE),
		  "1.0.0 with two build variants is ambiguous");
	cr_assert(eq(long, semver_select("1.0.0+b", rel, N_ELEMS(rel), NULL), 3),
		  "an exact string still wins");
	cr_assert(eq(long, semver_select("0.9.1-rc.1", rel, N_ELEMS(rel), NULL), SEMVER_SELECT_NONE),
		  "a pre-release is not the release");
}

Test(semver_select, query)
{
	const char *rel[] = { S("1.4.0"), S("1.5.2"), S("1.9.0"), S("2.0.0"), S("2.1.0-rc.1"), S("junk") };
	int exact = -1;

	cr_assert(eq(long, semver_select(">=1.5,<2.0", rel, N_ELEMS(rel), &exact), 2),
		  ">=1.5,<2.0 -> 1.9.0");
	cr_assert(eq(int, exact, 0), "a query is not exact");
	cr_assert(eq(long, semver_select("~1.5", rel, N_ELEMS(rel), NULL), 1), "~1.5 -> 1.5.2");
	cr_assert(eq(long, semver_select("^1.0.0", rel, N_ELEMS(rel), NULL), 2), "^1.0.0 -> 1.9.0");
	cr_assert(eq(long, semver_select(">=1.0.0", rel, N_ELEMS(rel), NULL), 3),
		  ">=1.0.0 -> 2.0.0 (pre-release not named)");
	cr_assert(eq(long, semver_select(">=2.1.0-0", rel, N_ELEMS(rel), NULL), 4),
		  ">=2.1.0-0 -> 2.1.0-rc.1");
	cr_assert(eq(long, semver_select("1", rel, N_ELEMS(rel), NULL), 2), "1 -> 1.9.0");
	cr_assert(eq(long, semver_select(">=3", rel, N_ELEMS(rel), &exact), SEMVER_SELECT_NONE),
		  "query matching nothing");
	cr_assert(eq(int, exact, 0), "no match is not exact");
	cr_assert(eq(long, semver_select(">=junk", rel, N_ELEMS(rel), &exact), SEMVER_SELECT_INVALID),
		  "invalid query");
	cr_assert(eq(int, exact, 0), "invalid is not exact");
	cr_assert(eq(long, semver_select("1.0,", rel, N_ELEMS(rel), NULL), SEMVER_SELECT_INVALID),
		  "trailing comma is invalid");
}
