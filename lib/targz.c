/* targz.c - streaming, bounded verification of a gzipped tar and the SHA-256 of its tar stream. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#include "error.h"
#include "targz.h"
#include "util.h"

#define OUT_CHUNK      65536            /* inflate output per step: limits are checked per step */
#define BLOCK          512
#define DEFAULT_FLOOR  (1024 * 1024)
#define MAX_LONGNAME   4096             /* GNU 'L'/'K' data */
#define MAX_PAX        (256 * 1024)     /* pax 'x'/'g' data */
#define MAX_SIZE       ((uint64_t)1 << 62)

enum gz_state {
	GZ_MEMBER,      /* inside a gzip member (or before the first byte) */
	GZ_DONE,        /* a member ended; more input must start a new member */
};

enum tar_state {
	TS_HEADER,      /* collecting a 512-byte header */
	TS_DATA,        /* skipping entry data and padding */
	TS_META,        /* collecting the data of a 'L', 'K', 'x' or 'g' header */
	TS_END,         /* after the two zero blocks: only zero bytes may follow */
};

/* A name given by a metadata header for the next entry. */
struct pending {
	struct strbuf s;
	int set;
};

struct targz {
	struct targz_limits lim;
	z_stream zs;
	enum gz_state gz;
	int magic_pos;              /* bytes of the current member's magic checked */
	uint64_t members;           /* gzip members completed */
	uint64_t fed;               /* gzip bytes given to targz_feed */
	int failed;
	struct appr_error err;      /* the first failure, repeated by later calls */
	uint64_t compressed;        /* gzip bytes consumed by inflate */
	uint64_t uncompressed;      /* tar bytes produced */
	uint64_t entries;
	struct digest_ctx *digest;
	unsigned char *out;

	enum tar_state ts;
	unsigned char hdr[BLOCK];
	size_t hdr_fill;
	uint64_t tar_off;           /* offset of the block being collected */
	uint64_t skip_left;         /* TS_DATA */
	uint64_t meta_left;         /* TS_META: content bytes still to collect */
	uint64_t meta_pad;          /* TS_META: padding after the content */
	char meta_type;
	struct strbuf meta;
	int zero_blocks;
	char last_name[72];         /* printable name of the current entry, for messages */

	struct pending long_name, long_link, pax_path, pax_link;
	int pax_size_set;
	uint64_t pax_size;

	struct targz_watch watch;   /* the caller's entry observer (all NULL: none) */
	uint64_t data_left;         /* TS_DATA: bytes of entry data (not padding) left */
};

static const unsigned char gz_magic[2] = { 0x1f, 0x8b };

__attribute__((format(printf, 5, 6)))
static int tz_fail(struct targz *t, struct appr_error *err, int http, const char *code,
		   const char *fmt, ...)
{
	t->failed = 1;
	va_list ap;
	va_start(ap, fmt);
	appr_verr(&t->err, http, code, fmt, ap);
	va_end(ap);
	return appr_err(err, http, code, "%s", t->err.msg);
}

static int tz_bad(struct targz *t, struct appr_error *err, const char *msg)
{
	return tz_fail(t, err, 400, APPR_E_INVALID_USAGE, "%s", msg);
}

/* Copy len bytes of s into out (cap > 4) as printable text, shortened with "...". */
static void printable(char *out, size_t cap, const char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (o + 4 >= cap) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)s[i];
		out[o++] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
	}
	out[o] = '\0';
}

/* A verifier owned by the caller (targz_free). A limit of 0 means no limit, except
 * ratio_floor where 0 means 1 MiB. Aborts if zlib cannot be set up. */
struct targz *targz_new(const struct targz_limits *lim)
{
	struct targz *t = xcalloc(1, sizeof *t);
	t->lim = *lim;
	if (!t->lim.ratio_floor)
		t->lim.ratio_floor = DEFAULT_FLOOR;
	int r = inflateInit2(&t->zs, 15 + 16);
	if (r != Z_OK) {
		fprintf(stderr, "appr: inflateInit2 failed (%d)\n", r);
		abort();
	}
	t->digest = digest_new();
	t->out = xmalloc(OUT_CHUNK);
	return t;
}

void targz_set_watch(struct targz *t, const struct targz_watch *w)
{
	if (w)
		t->watch = *w;
	else
		memset(&t->watch, 0, sizeof t->watch);
}

/* Release everything; NULL is a no-op. */
void targz_free(struct targz *t)
{
	if (!t)
		return;
	inflateEnd(&t->zs);
	digest_free(t->digest);
	free(t->out);
	sb_free(&t->meta);
	sb_free(&t->long_name.s);
	sb_free(&t->long_link.s);
	sb_free(&t->pax_path.s);
	sb_free(&t->pax_link.s);
	free(t);
}

/* Tar bytes inflated so far (at a refusal: how far it got). */
uint64_t targz_uncompressed_size(const struct targz *t)
{
	return t->uncompressed;
}

/* Tar entries seen so far, not counting long name and pax headers. */
uint64_t targz_entry_count(const struct targz *t)
{
	return t->entries;
}

/* ---- tar ---- */

/* A numeric header field: octal digits between optional leading spaces and
 * trailing NULs/spaces, or GNU base-256 (first byte 0x80). An empty field is 0. */
static int parse_number(const unsigned char *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -1;        /* negative or absurdly large */
		for (i = 1; i < n; i++) {
			if (v > (UINT64_MAX >> 8))
				return -1;
			v = v << 8 | f[i];
		}
		if (v >= MAX_SIZE)
			return -1;
		*out = v;
		return 0;
	}
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++)
		v = v << 3 | (uint64_t)(f[i] - '0');     /* at most 12 digits: no overflow */
	for (; i < n; i++)
		if (f[i] != '\0' && f[i] != ' ')
			return -1;
	*out = v;
	return 0;
}

static int checksum_ok(const unsigned char *h)
{
	uint64_t want;
	unsigned long usum = 0;
	long ssum = 0;

	/* The field must hold at least one digit. */
	size_t i = 148;
	while (i < 156 && h[i] == ' ')
		i++;
	if (i == 156 || h[i] < '0' || h[i] > '7')
		return 0;
	if (parse_number(h + 148, 8, &want) < 0)
		return 0;
	for (i = 0; i < BLOCK; i++) {
		unsigned char c = i >= 148 && i < 156 ? ' ' : h[i];
		usum += c;
		ssum += (signed char)c;
	}
	return want == usum || (ssum >= 0 && want == (uint64_t)ssum);
}

/* Length of a NUL-padded header field. */
static size_t field_len(const unsigned char *f, size_t n)
{
	const unsigned char *z = memchr(f, '\0', n);
	return z ? (size_t)(z - f) : n;
}

enum path_problem { PATH_OK, PATH_EMPTY, PATH_ABSOLUTE, PATH_DOTDOT };

static enum path_problem path_check(const char *s, size_t len)
{
	if (len == 0)
		return PATH_EMPTY;
	if (s[0] == '/')
		return PATH_ABSOLUTE;
	for (size_t i = 0; i < len;) {
		size_t j = i;
		while (j < len && s[j] != '/')
			j++;
		if (j - i == 2 && s[i] == '.' && s[i + 1] == '.')
			return PATH_DOTDOT;
		i = j + 1;
	}
	return PATH_OK;
}

/* Check an entry name; an empty name is refused only when empty_ok is 0. */
static int check_name(struct targz *t, struct appr_error *err, const char *s, size_t len,
		      int empty_ok)
{
	char shown[72];
	enum path_problem p = path_check(s, len);

	if (p == PATH_OK || (p == PATH_EMPTY && empty_ok))
		return 0;
	printable(shown, sizeof shown, s, len);
	if (p == PATH_EMPTY)
		return tz_fail(t, err, 400, APPR_E_INVALID_USAGE,
			       "tar entry at offset %llu has an empty name",
			       (unsigned long long)t->tar_off);
	return tz_fail(t, err, 400, APPR_E_INVALID_USAGE, "tar entry \"%s\": %s", shown,
		       p == PATH_ABSOLUTE ? "absolute path" : "path escapes the archive");
}

/* Check a hard or symbolic link target of the current entry. */
static int check_link(struct targz *t, struct appr_error *err, const char *s, size_t len)
{
	char shown[56];
	enum path_problem p = path_check(s, len);

	if (p == PATH_OK)
		return 0;
	printable(shown, sizeof shown, s, len);
	return tz_fail(t, err, 400, APPR_E_INVALID_USAGE, "tar entry \"%s\": link target \"%s\" %s",
		       t->last_name, shown,
		       p == PATH_EMPTY ? "is empty" :
		       p == PATH_ABSOLUTE ? "is an absolute path" : "escapes the archive");
}

static void pending_set(struct pending *p, const char *s, size_t len)
{
	sb_reset(&p->s);
	sb_append(&p->s, len ? s : "", len);
	p->set = 1;
}

static void pending_clear(struct targz *t)
{
	t->long_name.set = 0;
	t->long_link.set = 0;
	t->pax_path.set = 0;
	t->pax_link.set = 0;
	t->pax_size_set = 0;
}

static int pending_any(const struct targz *t)
{
	return t->long_name.set || t->long_link.set || t->pax_path.set || t->pax_link.set ||
	       t->pax_size_set;
}

/* Parse the records "LEN KEY=VALUE\n" of a pax header ('x' or 'g') held in t->meta. */
static int parse_pax(struct targz *t, struct appr_error *err, int global)
{
	if (t->meta.len == 0)
		return 0;
	const char *p = t->meta.buf, *end = t->meta.buf + t->meta.len;

	while (p < end) {
		size_t rlen = 0;
		const char *q = p;
		while (q < end && *q >= '0' && *q <= '9' && rlen <= MAX_PAX) {
			rlen = rlen * 10 + (size_t)(*q - '0');
			q++;
		}
		if (q == p || q >= end || *q != ' ' || rlen > (size_t)(end - p) ||
		    rlen < (size_t)(q - p) + 4 || p[rlen - 1] != '\n')
			return tz_bad(t, err, "malformed pax header in tar archive");
		const char *key = q + 1, *rec_end = p + rlen - 1;
		const char *eq = memchr(key, '=', (size_t)(rec_end - key));
		if (!eq || eq == key)
			return tz_bad(t, err, "malformed pax header in tar archive");
		size_t klen = (size_t)(eq - key);
		const char *val = eq + 1;
		size_t vlen = (size_t)(rec_end - val);
		int is_path = (klen == 4 && !memcmp(key, "path", 4)) ||
			      (klen == 15 && !memcmp(key, "GNU.sparse.name", 15));
		int is_link = klen == 8 && !memcmp(key, "linkpath", 8);
		int is_size = klen == 4 && !memcmp(key, "size", 4);

		if ((is_path || is_link) && memchr(val, '\0', vlen))
			return tz_bad(t, err, "malformed pax header in tar archive (NUL in a path)");
		if (is_path && vlen) {
			if (check_name(t, err, val, vlen, 0) < 0)
				return -1;
			if (!global)
				pending_set(&t->pax_path, val, vlen);
		} else if (is_path && !global) {
			t->pax_path.set = 0;
		} else if (is_link && vlen) {
			/* Checked with the entry it belongs to, a global one right away. */
			if (global) {
				snprintf(t->last_name, sizeof t->last_name, "pax global header");
				if (check_link(t, err, val, vlen) < 0)
					return -1;
			} else {
				pending_set(&t->pax_link, val, vlen);
			}
		} else if (is_link && !global) {
			t->pax_link.set = 0;
		} else if (is_size) {
			uint64_t v = 0;
			size_t i;
			for (i = 0; i < vlen && val[i] >= '0' && val[i] <= '9' && v < MAX_SIZE; i++)
				v = v * 10 + (uint64_t)(val[i] - '0');
			if (global || vlen == 0 || i != vlen || v >= MAX_SIZE)
				return tz_bad(t, err, "unsupported pax size record in tar archive");
			t->pax_size = v;
			t->pax_size_set = 1;
		}
		p += rlen;
	}
	return 0;
}

/* The data of a metadata header is complete in t->meta. */
static int meta_done(struct targz *t, struct appr_error *err)
{
	size_t n = t->meta.len ? field_len((const unsigned char *)t->meta.buf, t->meta.len) : 0;

	switch (t->meta_type) {
	case 'L':
		pending_set(&t->long_name, t->meta.buf, n);
		return 0;
	case 'K':
		pending_set(&t->long_link, t->meta.buf, n);
		return 0;
	case 'x':
		return parse_pax(t, err, 0);
	default:
		return parse_pax(t, err, 1);
	}
}

static int is_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* A whole header is in t->hdr. */
static int handle_header(struct targz *t, struct appr_error *err)
{
	const unsigned char *h = t->hdr;
	uint64_t size;

	if (is_zero(h, BLOCK)) {
		if (++t->zero_blocks == 2) {
			if (pending_any(t))
				return tz_bad(t, err, "truncated tar: a long name or pax header has no entry");
			t->ts = TS_END;
		}
		return 0;
	}
	/* After a lone zero block, go on checking what follows: some readers do. */
	t->zero_blocks = 0;
	if (!checksum_ok(h)) {
		if (t->tar_off == 0)
			return tz_bad(t, err, "blob is not a tar archive (bad header checksum)");
		return tz_fail(t, err, 400, APPR_E_INVALID_USAGE,
			       "tar header checksum mismatch at offset %llu",
			       (unsigned long long)t->tar_off);
	}
	if (parse_number(h + 124, 12, &size) < 0 || size >= MAX_SIZE)
		return tz_fail(t, err, 400, APPR_E_INVALID_USAGE,
			       "bad size field in tar header at offset %llu",
			       (unsigned long long)t->tar_off);

	char type = (char)h[156];
	if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
		uint64_t max = type == 'L' || type == 'K' ? MAX_LONGNAME : MAX_PAX;
		if (size > max)
			return tz_fail(t, err, 400, APPR_E_INVALID_USAGE,
				       "tar %s header larger than %llu bytes",
				       type == 'L' || type == 'K' ? "GNU long name" : "pax",
				       (unsigned long long)max);
		t->meta_type = type;
		sb_reset(&t->meta);
		t->meta_left = size;
		t->meta_pad = (BLOCK - size % BLOCK) % BLOCK;
		t->ts = TS_META;
		if (size == 0) {
			t->ts = TS_HEADER;
			return meta_done(t, err);
		}
		return 0;
	}

	/* A real entry. */
	t->entries++;
	if (t->lim.max_entries && t->entries > t->lim.max_entries)
		return tz_fail(t, err, 413, APPR_E_PAYLOAD_TOO_LARGE,
			       "tar archive has more than %llu entries",
			       (unsigned long long)t->lim.max_entries);

	/* The header's own name: ustar prefix + '/' + name (not for old GNU headers,
	 * which keep other fields where the prefix would be). */
	char name[160 + 100];
	size_t nlen = 0;
	if (!memcmp(h + 257, "ustar\0", 6)) {
		size_t plen = field_len(h + 345, 155);
		if (plen) {
			memcpy(name, h + 345, plen);
			name[plen] = '/';
			nlen = plen + 1;
		}
	}
	size_t flen = field_len(h, 100);
	memcpy(name + nlen, h, flen);
	nlen += flen;

	/* The effective name (pax path, else GNU long name, else the header's) must
	 * be valid; the others are checked too, as some readers ignore the extensions. */
	const char *eff = name;
	size_t elen = nlen;
	if (t->pax_path.set) {
		eff = t->pax_path.s.buf;
		elen = t->pax_path.s.len;
	} else if (t->long_name.set) {
		eff = t->long_name.s.buf;
		elen = t->long_name.s.len;
	}
	printable(t->last_name, sizeof t->last_name, eff, elen);
	if (check_name(t, err, eff, elen, 0) < 0)
		return -1;
	if (eff != name && check_name(t, err, name, nlen, 1) < 0)
		return -1;
	if (t->long_name.set && eff != t->long_name.s.buf &&
	    check_name(t, err, t->long_name.s.buf, t->long_name.s.len, 1) < 0)
		return -1;

	if (type == '1' || type == '2') {
		size_t llen = field_len(h + 157, 100);
		const char *link = (const char *)h + 157;
		if (t->pax_link.set) {
			link = t->pax_link.s.buf;
			llen = t->pax_link.s.len;
		} else if (t->long_link.set) {
			link = t->long_link.s.buf;
			llen = t->long_link.s.len;
		}
		if (check_link(t, err, link, llen) < 0)
			return -1;
		if (link != (const char *)h + 157 && field_len(h + 157, 100) &&
		    check_link(t, err, (const char *)h + 157, field_len(h + 157, 100)) < 0)
			return -1;
	}
	if (t->pax_size_set)
		size = t->pax_size;
	if (type >= '1' && type <= '6' && size != 0)
		return tz_fail(t, err, 400, APPR_E_INVALID_USAGE,
			       "tar entry \"%s\": data on a link, device or directory entry",
			       t->last_name);
	if (type == 'S')
		return tz_fail(t, err, 400, APPR_E_INVALID_USAGE,
			       "tar entry \"%s\": old GNU sparse entries are not supported",
			       t->last_name);
	if (t->watch.entry && t->watch.entry(t->watch.ctx, eff, elen, type, size, err) < 0)
		return tz_fail(t, err, err && err->http ? err->http : 400,
			       err && err->code ? err->code : APPR_E_INVALID_USAGE, "%s",
			       err ? err->msg : "refused tar entry");
	pending_clear(t);
	t->data_left = size;
	t->skip_left = size + (BLOCK - size % BLOCK) % BLOCK;
	t->ts = t->skip_left ? TS_DATA : TS_HEADER;
	return 0;
}

/* Run the tar state machine over n more bytes of the tar stream. */
static int tar_consume(struct targz *t, const unsigned char *p, size_t n, struct appr_error *err)
{
	while (n > 0) {
		size_t take;
		switch (t->ts) {
		case TS_HEADER:
			take = BLOCK - t->hdr_fill;
			if (take > n)
				take = n;
			memcpy(t->hdr + t->hdr_fill, p, take);
			t->hdr_fill += take;
			if (t->hdr_fill == BLOCK) {
				t->hdr_fill = 0;
				if (handle_header(t, err) < 0)
					return -1;
				t->tar_off += BLOCK;
			}
			break;
		case TS_DATA:
			take = t->skip_left < n ? (size_t)t->skip_left : n;
			if (t->watch.data && t->data_left) {
				size_t d = t->data_left < take ? (size_t)t->data_left : take;
				t->data_left -= d;
				if (t->watch.data(t->watch.ctx, p, d, err) < 0)
					return tz_fail(t, err, err && err->http ? err->http : 400,
						       err && err->code ? err->code : APPR_E_INVALID_USAGE,
						       "%s", err ? err->msg : "refused tar entry data");
			}
			t->skip_left -= take;
			t->tar_off += take;
			if (!t->skip_left)
				t->ts = TS_HEADER;
			break;
		case TS_META:
			if (t->meta_left) {
				take = t->meta_left < n ? (size_t)t->meta_left : n;
				sb_append(&t->meta, p, take);
				t->meta_left -= take;
				if (!t->meta_left && meta_done(t, err) < 0)
					return -1;
			} else {
				take = t->meta_pad < n ? (size_t)t->meta_pad : n;
				t->meta_pad -= take;
			}
			t->tar_off += take;
			if (!t->meta_left && !t->meta_pad)
				t->ts = TS_HEADER;
			break;
		case TS_END:
		default:
			take = n;
			if (!is_zero(p, n))
				return tz_bad(t, err, "data after the end of the tar archive");
			t->tar_off += take;
			break;
		}
		p += take;
		n -= take;
	}
	return 0;
}

/* ---- gzip ---- */

/* n more tar bytes came out of inflate: enforce the limits, hash, parse. */
static int got_output(struct targz *t, size_t n, struct appr_error *err)
{
	t->uncompressed += n;
	if (t->lim.max_uncompressed && t->uncompressed > t->lim.max_uncompressed)
		return tz_fail(t, err, 413, APPR_E_PAYLOAD_TOO_LARGE,
			       "uncompressed blob larger than %llu bytes",
			       (unsigned long long)t->lim.max_uncompressed);
	if (t->lim.max_ratio && t->uncompressed > t->lim.ratio_floor &&
	    t->compressed <= UINT64_MAX / t->lim.max_ratio &&
	    t->uncompressed > t->lim.max_ratio * t->compressed)
		return tz_fail(t, err, 413, APPR_E_PAYLOAD_TOO_LARGE,
			       "blob expands more than %llu times (%llu bytes from %llu): refused",
			       (unsigned long long)t->lim.max_ratio,
			       (unsigned long long)t->uncompressed,
			       (unsigned long long)t->compressed);
	digest_update(t->digest, t->out, n);
	return tar_consume(t, t->out, n, err);
}

/* Feed len more gzip bytes. Output is inflated OUT_CHUNK bytes at a time (less
 * near max_uncompressed) and every chunk passes the limits before the next one
 * is inflated, so a bomb is refused right after it crosses a limit. */
int targz_feed(struct targz *t, const void *gz, size_t len, struct appr_error *err)
{
	int pending_out = 0;

	if (t->failed)
		return appr_err(err, t->err.http, t->err.code, "%s", t->err.msg);
	t->zs.next_in = gz;
	t->fed += len;
	t->zs.avail_in = 0;
	while (len > 0 || t->zs.avail_in > 0 || pending_out) {
		/* Hand zlib at most UINT_MAX bytes at a time. */
		if (t->zs.avail_in == 0 && len > 0) {
			size_t step = len > 0x40000000 ? 0x40000000 : len;
			t->zs.avail_in = (uInt)step;
			len -= step;
		}
		if (t->gz == GZ_DONE) {
			if (t->zs.avail_in == 0)
				break;
			inflateReset(&t->zs);
			t->gz = GZ_MEMBER;
			t->magic_pos = 0;
		}
		/* Check the magic of each member ourselves to say what is wrong. */
		for (uInt i = 0; t->magic_pos < 2 && i < t->zs.avail_in; i++, t->magic_pos++) {
			if (t->zs.next_in[i] == gz_magic[t->magic_pos])
				continue;
			if (t->members == 0)
				return tz_bad(t, err, "blob is not gzip data");
			return tz_bad(t, err, "trailing data after the gzip stream");
		}

		size_t room = OUT_CHUNK;
		if (t->lim.max_uncompressed) {
			uint64_t left = t->lim.max_uncompressed - t->uncompressed;
			if (left < room)
				room = (size_t)left + 1;
		}
		uInt in_before = t->zs.avail_in;
		t->zs.next_out = t->out;
		t->zs.avail_out = (uInt)room;
		int r = inflate(&t->zs, Z_NO_FLUSH);
		size_t produced = room - t->zs.avail_out;
		size_t consumed = in_before - t->zs.avail_in;
		t->compressed += consumed;

		switch (r) {
		case Z_OK:
			break;
		case Z_STREAM_END:
			t->gz = GZ_DONE;
			t->members++;
			break;
		case Z_BUF_ERROR:
			/* No progress possible: only right when the input is exhausted. */
			if (produced || consumed)
				break;
			if (t->zs.avail_in == 0 && len == 0)
				return 0;
			return tz_fail(t, err, 500, APPR_E_INTERNAL, "inflate made no progress");
		case Z_NEED_DICT:
		case Z_DATA_ERROR:
			return tz_fail(t, err, 400, APPR_E_INVALID_USAGE, "corrupt gzip data: %s",
				       t->zs.msg ? t->zs.msg : "invalid stream");
		default:
			return tz_fail(t, err, 500, APPR_E_INTERNAL, "inflate failed (%d)", r);
		}
		pending_out = t->gz == GZ_MEMBER && t->zs.avail_out == 0;
		if (produced && got_output(t, produced, err) < 0)
			return -1;
	}
	return 0;
}

/* End of input: the gzip stream must have ended after a whole member and the tar
 * stream at its end marker or a header boundary. Writes the digest. */
int targz_finish(struct targz *t, char digest[DIGEST_HEX_LEN + 1], struct appr_error *err)
{
	if (t->failed)
		return appr_err(err, t->err.http, t->err.code, "%s", t->err.msg);
	if (t->fed == 0)
		return tz_bad(t, err, "empty blob: not a tar archive");
	if (t->gz != GZ_DONE)
		return tz_bad(t, err, "truncated gzip data");
	switch (t->ts) {
	case TS_END:
		break;
	case TS_HEADER:
		if (t->hdr_fill)
			return tz_bad(t, err, "truncated tar: partial header at the end");
		if (pending_any(t))
			return tz_bad(t, err, "truncated tar: a long name or pax header has no entry");
		if (t->entries == 0)
			return tz_bad(t, err, "blob is not a tar archive (no entries)");
		break;
	case TS_DATA:
		return tz_fail(t, err, 400, APPR_E_INVALID_USAGE,
			       "truncated tar: data of entry \"%s\" incomplete", t->last_name);
	case TS_META:
	default:
		return tz_bad(t, err, "truncated tar: incomplete long name or pax header");
	}
	digest_final_hex(t->digest, digest);
	/* The digest context is spent: refuse further use. */
	t->failed = 1;
	t->err.http = 500;
	t->err.code = APPR_E_INTERNAL;
	snprintf(t->err.msg, sizeof t->err.msg, "targz used after finish");
	return 0;
}
