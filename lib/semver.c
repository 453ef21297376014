/* semver.c - semver 2.0.0 parsing, precedence, memcmp-ordered sort keys, release queries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "semver.h"
#include "util.h"

#define SEMVER_MAX_LEN 128

/* Sort key bytes. Everything below is lower than any identifier byte ('-' is 0x2d). */
#define KEY_BUILD   0x00  /* separates build metadata: lowest, never changes order */
#define KEY_DOT     0x01  /* between pre-release identifiers */
#define KEY_PRE     0x01  /* after the patch number: a pre-release follows */
#define KEY_RELEASE 0x02  /* after the patch number: no pre-release (sorts higher) */
#define KEY_NUM     0x02  /* tag of a numeric pre-release identifier */
#define KEY_ALNUM   0x03  /* tag of an alphanumeric identifier (numeric < alnum) */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* Parse a decimal number without leading zeros at *pp into *out, advancing *pp.
 * Returns 0, or -1 when there is no digit, a leading zero, or uint64 overflow. */
static int parse_num(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t n = 0;

	if (!is_digit(*p))
		return -1;
	if (*p == '0' && is_digit(p[1]))
		return -1;
	for (; is_digit(*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*out = n;
	*pp = p;
	return 0;
}

/* Scan dot-separated identifiers starting at p; stop at the first character that is
 * neither an identifier character nor a dot. numeric_strict refuses numeric
 * identifiers with leading zeros (pre-release rules). Returns the length, or -1 on
 * an empty identifier or a leading zero. */
static long scan_idents(const char *p, int numeric_strict)
{
	const char *start = p;

	for (;;) {
		const char *id = p;
		int all_digits = 1;
		while (is_ident_char(*p)) {
			if (!is_digit(*p))
				all_digits = 0;
			p++;
		}
		if (p == id)
			return -1;
		if (numeric_strict && all_digits && *id == '0' && p - id > 1)
			return -1;
		if (*p != '.')
			break;
		p++;
	}
	return (long)(p - start);
}

/* Parse MAJOR.MINOR.PATCH[-pre][+build] from the first len bytes of s. */
static int parse_len(const char *s, size_t len, struct semver *v)
{
	const char *p = s, *end = s + len;
	struct semver t;
	long n;

	memset(&t, 0, sizeof(t));
	if (len == 0 || len > SEMVER_MAX_LEN)
		return -1;
	if (parse_num(&p, &t.major) < 0 || *p++ != '.')
		return -1;
	if (parse_num(&p, &t.minor) < 0 || *p++ != '.')
		return -1;
	if (parse_num(&p, &t.patch) < 0)
		return -1;
	if (p < end && *p == '-') {
		p++;
		if ((n = scan_idents(p, 1)) < 0)
			return -1;
		t.pre = p;
		t.pre_len = (size_t)n;
		p += n;
	}
	if (p < end && *p == '+') {
		p++;
		if ((n = scan_idents(p, 0)) < 0)
			return -1;
		t.build = p;
		t.build_len = (size_t)n;
		p += n;
	}
	if (p != end)
		return -1;
	*v = t;
	return 0;
}

/* Accepts exactly a semver 2.0.0 string of at most 128 characters; see semver.h. */
int semver_parse(const char *s, struct semver *v)
{
	size_t len = 0;

	if (!s)
		return -1;
	while (len <= SEMVER_MAX_LEN && s[len])
		len++;
	return parse_len(s, len, v);
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

/* Compare byte strings: memcmp order, a proper prefix first. */
static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c)
		return c < 0 ? -1 : 1;
	return an < bn ? -1 : an > bn;
}

/* Compare one pair of pre-release identifiers (section 11.4.1-3). */
static int cmp_ident(const char *a, size_t an, const char *b, size_t bn)
{
	int an_num = all_digits(a, an), bn_num = all_digits(b, bn);

	if (an_num && bn_num) {
		/* No leading zeros: the longer number is the larger one. */
		if (an != bn)
			return an < bn ? -1 : 1;
		return cmp_bytes(a, an, b, bn);
	}
	if (an_num != bn_num)
		return an_num ? -1 : 1;
	return cmp_bytes(a, an, b, bn);
}

static int cmp_core(const struct semver *a, const struct semver *b)
{
	int c;

	if ((c = cmp_u64(a->major, b->major)))
		return c;
	if ((c = cmp_u64(a->minor, b->minor)))
		return c;
	return cmp_u64(a->patch, b->patch);
}

/* Precedence of two parsed versions; build metadata is ignored. */
int semver_cmp(const struct semver *a, const struct semver *b)
{
	const char *pa, *pb, *ea, *eb;
	int c;

	if ((c = cmp_core(a, b)))
		return c;
	if (!a->pre_len || !b->pre_len)
		return a->pre_len ? -1 : b->pre_len ? 1 : 0;
	pa = a->pre;
	pb = b->pre;
	ea = pa + a->pre_len;
	eb = pb + b->pre_len;
	for (;;) {
		const char *da = memchr(pa, '.', (size_t)(ea - pa));
		const char *db = memchr(pb, '.', (size_t)(eb - pb));
		if (!da)
			da = ea;
		if (!db)
			db = eb;
		if ((c = cmp_ident(pa, (size_t)(da - pa), pb, (size_t)(db - pb))))
			return c;
		if (da == ea || db == eb)
			return da == ea ? (db == eb ? 0 : -1) : 1;
		pa = da + 1;
		pb = db + 1;
	}
}

/* Append a decimal number as a length byte followed by its digits. */
static size_t key_number(unsigned char *k, uint64_t n)
{
	char digits[24];
	size_t len = 0;

	do {
		digits[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	k[0] = (unsigned char)len;
	for (size_t i = 0; i < len; i++)
		k[1 + i] = (unsigned char)digits[len - 1 - i];
	return len + 1;
}

/* Key layout: major, minor, patch (each length byte + digits); KEY_RELEASE, or
 * KEY_PRE followed by identifiers joined by KEY_DOT, each KEY_NUM + length byte +
 * digits or KEY_ALNUM + bytes; then, with build metadata, KEY_BUILD + its bytes.
 * A valid 128-character version needs fewer than 3 * 128 bytes. */
int semver_sortkey(const char *s, unsigned char *buf, size_t cap)
{
	unsigned char key[SEMVER_SORTKEY_MAX];
	struct semver v;
	size_t n = 0;

	if (semver_parse(s, &v) < 0)
		return -1;
	n += key_number(key + n, v.major);
	n += key_number(key + n, v.minor);
	n += key_number(key + n, v.patch);
	if (v.pre_len) {
		const char *p = v.pre, *e = v.pre + v.pre_len;
		key[n++] = KEY_PRE;
		for (;;) {
			const char *d = memchr(p, '.', (size_t)(e - p));
			size_t len;
			if (!d)
				d = e;
			len = (size_t)(d - p);
			if (all_digits(p, len)) {
				key[n++] = KEY_NUM;
				key[n++] = (unsigned char)len;
			} else {
				key[n++] = KEY_ALNUM;
			}
			memcpy(key + n, p, len);
			n += len;
			if (d == e)
				break;
			key[n++] = KEY_DOT;
			p = d + 1;
		}
	} else {
		key[n++] = KEY_RELEASE;
	}
	if (v.build_len) {
		key[n++] = KEY_BUILD;
		memcpy(key + n, v.build, v.build_len);
		n += v.build_len;
	}
	if (n > cap)
		return -1;
	memcpy(buf, key, n);
	if (n < cap)
		buf[n] = 0;
	return (int)n;
}

/* ---- queries ---- */

/* How a comparison bounds a version from above. */
enum upper {
	UP_NONE,      /* no upper bound */
	UP_LT,        /* v < hi */
	UP_LE,        /* v <= hi */
	UP_LT_CORE,   /* v < hi-0: below hi and below every pre-release of hi */
};

/* One comparison, reduced to an interval: lo (optional, inclusive or not) and an
 * upper bound; `never` is the empty interval; `negate` inverts the result (!=). */
struct cmp_item {
	int never;
	int negate;
	int has_lo;
	int lo_incl;
	struct semver lo;
	enum upper up;
	struct semver hi;
};

struct semver_query {
	int allow_pre;          /* some operand names a pre-release */
	size_t n;
	char *text;             /* owned copy the operands' pre/build point into */
	struct cmp_item items[];
};

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_CARET, OP_TILDE, OP_COMPAT };

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Parse a partial operand s[0..len): "*", "1", "1.x", "1.5", "1.5.0[-pre][+build]".
 * Fills v with the given parts (missing ones 0) and *nparts with how many were
 * given (0-3); wildcards x, X, * end the given parts. Returns 0 or -1. */
static int parse_operand(const char *s, size_t len, struct semver *v, int *nparts)
{
	const char *p = s, *end = s + len;
	uint64_t part[3] = { 0, 0, 0 };
	int n = 0, wild = 0;

	if (len == 0)
		return -1;
	if (parse_len(s, len, v) == 0) {
		*nparts = 3;
		return 0;
	}
	memset(v, 0, sizeof(*v));
	for (int i = 0; i < 3; i++) {
		if (p < end && (*p == 'x' || *p == 'X' || *p == '*')) {
			wild = 1;
			p++;
		} else if (wild) {
			return -1;   /* 1.x.3 */
		} else {
			if (parse_num(&p, &part[i]) < 0 || p > end)
				return -1;
			n++;
		}
		if (p == end)
			break;
		if (*p != '.' || i == 2)
			return -1;
		p++;
		if (p == end)
			return -1;   /* "1." */
	}
	if (p != end)
		return -1;
	v->major = part[0];
	v->minor = part[1];
	v->patch = part[2];
	*nparts = n;
	return 0;
}

/* The exclusive X-range end of an operand with nparts given parts: 1 -> M+1.0.0,
 * 2 -> M.m+1.0. Returns 0, or -1 when there is no finite end (0 parts, overflow). */
static int xrange_end(const struct semver *v, int nparts, struct semver *hi)
{
	memset(hi, 0, sizeof(*hi));
	if (nparts == 1 && v->major < UINT64_MAX) {
		hi->major = v->major + 1;
		return 0;
	}
	if (nparts == 2 && v->minor < UINT64_MAX) {
		hi->major = v->major;
		hi->minor = v->minor + 1;
		return 0;
	}
	return -1;
}

/* Set an exclusive, pre-release-excluding upper bound from major/minor/patch,
 * where a component equal to UINT64_MAX that must grow leaves no upper bound. */
static void set_core_upper(struct cmp_item *it, uint64_t ma, uint64_t mi, uint64_t pa,
			   int bump)
{
	memset(&it->hi, 0, sizeof(it->hi));
	it->up = UP_LT_CORE;
	if (bump == 0) {
		if (ma == UINT64_MAX)
			it->up = UP_NONE;
		else
			it->hi.major = ma + 1;
	} else if (bump == 1) {
		if (mi == UINT64_MAX) {
			it->up = UP_NONE;
		} else {
			it->hi.major = ma;
			it->hi.minor = mi + 1;
		}
	} else {
		if (pa == UINT64_MAX) {
			it->up = UP_NONE;
		} else {
			it->hi.major = ma;
			it->hi.minor = mi;
			it->hi.patch = pa + 1;
		}
	}
}

/* Turn operator + operand into an interval (node-semver X-range semantics). */
static void build_item(struct cmp_item *it, enum op op, const struct semver *v, int nparts)
{
	struct semver end;
	int has_end = xrange_end(v, nparts, &end) == 0;

	memset(it, 0, sizeof(*it));
	switch (op) {
	case OP_NE:
		it->negate = 1;
		/* fall through */
	case OP_EQ:
		if (nparts == 3) {
			it->has_lo = it->lo_incl = 1;
			it->lo = *v;
			it->up = UP_LE;
			it->hi = *v;
		} else if (nparts > 0) {
			it->has_lo = it->lo_incl = 1;
			it->lo = *v;
			if (has_end) {
				it->up = UP_LT_CORE;
				it->hi = end;
			}
		}
		break;
	case OP_GT:
		if (nparts == 3) {
			it->has_lo = 1;
			it->lo = *v;
		} else if (has_end) {
			it->has_lo = it->lo_incl = 1;
			it->lo = end;
		} else {
			it->never = 1;   /* >* or above the largest number */
		}
		break;
	case OP_GE:
		if (nparts > 0) {
			it->has_lo = it->lo_incl = 1;
			it->lo = *v;
		}
		break;
	case OP_LT:
		if (nparts == 3) {
			it->up = UP_LT;
			it->hi = *v;
		} else if (nparts > 0) {
			it->up = UP_LT_CORE;
			it->hi = *v;
		} else {
			it->never = 1;   /* <* */
		}
		break;
	case OP_LE:
		if (nparts == 3) {
			it->up = UP_LE;
			it->hi = *v;
		} else if (has_end) {
			it->up = UP_LT_CORE;
			it->hi = end;
		}
		break;
	case OP_CARET:
		if (nparts == 0)
			break;
		it->has_lo = it->lo_incl = 1;
		it->lo = *v;
		if (v->major != 0 || nparts == 1)
			set_core_upper(it, v->major, v->minor, v->patch, 0);
		else if (v->minor != 0 || nparts == 2)
			set_core_upper(it, v->major, v->minor, v->patch, 1);
		else
			set_core_upper(it, v->major, v->minor, v->patch, 2);
		break;
	case OP_TILDE:
		if (nparts == 0)
			break;
		it->has_lo = it->lo_incl = 1;
		it->lo = *v;
		set_core_upper(it, v->major, v->minor, v->patch, nparts == 1 ? 0 : 1);
		break;
	case OP_COMPAT:
		/* the compatible release of PEP 440 and Python's semantic_version: the last
		 * given part may grow, the one before it is fixed */
		if (nparts == 0)
			break;
		it->has_lo = it->lo_incl = 1;
		it->lo = *v;
		set_core_upper(it, v->major, v->minor, v->patch, nparts == 3 ? 1 : 0);
		break;
	}
}

/* Parse one item s[0..len) (surrounding spaces allowed) into it. */
static int parse_item(const char *s, size_t len, struct cmp_item *it, int *names_pre)
{
	const char *p = s, *end = s + len;
	struct semver v;
	enum op op = OP_EQ;
	int nparts;

	while (p < end && is_space(*p))
		p++;
	while (end > p && is_space(end[-1]))
		end--;
	if (p == end)
		return -1;
	if (end - p >= 2 && p[0] == '=' && p[1] == '=') {
		op = OP_EQ;
		p += 2;
	} else if (end - p >= 2 && p[0] == '!' && p[1] == '=') {
		op = OP_NE;
		p += 2;
	} else if (end - p >= 2 && p[0] == '<' && p[1] == '=') {
		op = OP_LE;
		p += 2;
	} else if (end - p >= 2 && p[0] == '>' && p[1] == '=') {
		op = OP_GE;
		p += 2;
	} else if (end - p >= 2 && p[0] == '~' && p[1] == '=') {
		op = OP_COMPAT;
		p += 2;
	} else if (*p == '=') {
		op = OP_EQ;
		p++;
	} else if (*p == '<') {
		op = OP_LT;
		p++;
	} else if (*p == '>') {
		op = OP_GT;
		p++;
	} else if (*p == '^') {
		op = OP_CARET;
		p++;
	} else if (*p == '~') {
		op = OP_TILDE;
		p++;
	}
	while (p < end && is_space(*p))
		p++;
	if (parse_operand(p, (size_t)(end - p), &v, &nparts) < 0)
		return -1;
	if (v.pre_len)
		*names_pre = 1;
	build_item(it, op, &v, nparts);
	return 0;
}

/* Parse a comma-separated query; see semver.h. The query owns a copy of s. */
int semver_query_parse(const char *s, struct semver_query **out)
{
	struct semver_query *q;
	const char *p;
	size_t n = 1, i = 0;

	*out = NULL;
	if (!s)
		return -1;
	for (p = s; *p; p++)
		if (*p == ',')
			n++;
	q = xcalloc(1, sizeof(*q) + n * sizeof(q->items[0]));
	q->n = n;
	q->text = xstrdup(s);
	p = q->text;
	for (i = 0; i < n; i++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (parse_item(p, len, &q->items[i], &q->allow_pre) < 0)
			goto fail;
		p += len + (comma ? 1 : 0);
	}
	*out = q;
	return 0;
fail:
	semver_query_free(q);
	return -1;
}

void semver_query_free(struct semver_query *q)
{
	if (!q)
		return;
	free(q->text);
	free(q);
}

static int item_match(const struct cmp_item *it, const struct semver *v)
{
	int in = !it->never;

	if (in && it->has_lo) {
		int c = semver_cmp(v, &it->lo);
		in = it->lo_incl ? c >= 0 : c > 0;
	}
	if (in) {
		switch (it->up) {
		case UP_NONE:
			break;
		case UP_LT:
			in = semver_cmp(v, &it->hi) < 0;
			break;
		case UP_LE:
			in = semver_cmp(v, &it->hi) <= 0;
			break;
		case UP_LT_CORE:
			in = cmp_core(v, &it->hi) < 0;
			break;
		}
	}
	return it->negate ? !in : in;
}

/* 1 when v satisfies every comparison (and is not a pre-release unless the query
 * names one), else 0. */
int semver_query_match(const struct semver_query *q, const struct semver *v)
{
	if (!q || !v)
		return 0;
	if (v->pre_len && !q->allow_pre)
		return 0;
	for (size_t i = 0; i < q->n; i++)
		if (!item_match(&q->items[i], v))
			return 0;
	return 1;
}

/* Release selection per the protocol; see semver.h. Among candidates of equal
 * precedence (differing only in build metadata) the greater string wins, so the
 * result does not depend on the order of releases. */
long semver_select(const char *spec, const char *const *releases, size_t n, int *exact)
{
	struct semver_query *q = NULL;
	struct semver want, best, v;
	long best_i = SEMVER_SELECT_NONE;

	if (exact)
		*exact = 0;
	if (spec && *spec && strcmp(spec, "default") != 0) {
		if (semver_parse(spec, &want) == 0) {
			long same = SEMVER_SELECT_NONE;
			size_t nsame = 0;
			if (exact)
				*exact = 1;
			for (size_t i = 0; i < n; i++) {
				if (!releases[i])
					continue;
				if (strcmp(releases[i], spec) == 0)
					return (long)i;
				if (semver_parse(releases[i], &v) == 0 && semver_cmp(&v, &want) == 0) {
					same = (long)i;
					nsame++;
				}
			}
			/* equal but for build metadata, as the original server matches */
			return nsame == 1 ? same : SEMVER_SELECT_NONE;
		}
		if (semver_query_parse(spec, &q) < 0)
			return SEMVER_SELECT_INVALID;
	}
	for (size_t i = 0; i < n; i++) {
		int c;
		if (!releases[i] || semver_parse(releases[i], &v) < 0)
			continue;
		if (q && !semver_query_match(q, &v))
			continue;
		if (best_i >= 0) {
			c = semver_cmp(&v, &best);
			if (c < 0 || (c == 0 && strcmp(releases[i], releases[best_i]) <= 0))
				continue;
		}
		best = v;
		best_i = (long)i;
	}
	semver_query_free(q);
	return best_i;
}
