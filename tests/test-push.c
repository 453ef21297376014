/* test-push.c - the upload pipeline (push.h) on its own, on a real SQLite store in a temp dir. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <zlib.h>

#include "b64.h"
#include "digest.h"
#include "error.h"
#include "push.h"
#include "storage.h"
#include "util.h"

#define MiB (1024 * 1024)

static char root[256];          /* mkdtemp directory, removed by teardown */
static char data_dir[300];
static struct appr_config cfg;
static struct storage *st;
static struct arena *ar;

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	struct appr_error err = { 0 };
	snprintf(root, sizeof root, "%s/appr-push-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cr_assert(not(eq(ptr, mkdtemp(root), NULL)), "mkdtemp %s", root);
	snprintf(data_dir, sizeof data_dir, "%s/data", root);
	memset(&cfg, 0, sizeof cfg);
	cfg.data_dir = data_dir;
	cfg.storage = (char *)"filesystem";
	cfg.busy_timeout_ms = 10000;
	cfg.max_uncompressed_size = 2 * MiB;
	cfg.max_compression_ratio = 100;
	cfg.max_tar_entries = 100;
	digest_global_init();
	ar = arena_new();
	int rc = storage_open(&cfg, &st, &err);
	cr_assert(eq(int, rc, 0), "storage_open %s: %s", data_dir, err.msg);
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
	arena_free(ar);
	ar = NULL;
	if (root[0])
		nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(push, .init = setup, .fini = teardown, .timeout = 60);

/* ---- archives ---- */

/* Append the gzip (one member) of len bytes to out. */
static void gzip_append(struct strbuf *out, const void *data, size_t len)
{
	z_stream zs;
	unsigned char buf[65536];
	memset(&zs, 0, sizeof zs);
	cr_assert(eq(int, deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK),
		  "deflateInit2");
	zs.next_in = (unsigned char *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	int r;
	do {
		zs.next_out = buf;
		zs.avail_out = sizeof buf;
		r = deflate(&zs, Z_FINISH);
		sb_append(out, buf, sizeof buf - zs.avail_out);
	} while (r == Z_OK);
	cr_assert(eq(int, r, Z_STREAM_END), "deflate finished");
	deflateEnd(&zs);
}

/* A tar holding one file name of size bytes (content, or zeros when NULL). */
static void make_tar(struct strbuf *tar, const char *name, const char *content, size_t size)
{
	unsigned char h[512];
	memset(h, 0, sizeof h);
	memcpy(h, name, strlen(name));
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 108, "0001750", 7);
	memcpy(h + 116, "0001750", 7);
	char octal[32];
	snprintf(octal, sizeof octal, "%011llo", (unsigned long long)size);
	memcpy(h + 124, octal, 11);
	memcpy(h + 136, "14511263400", 11);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum & 0777777);
	h[155] = ' ';
	sb_append(tar, h, 512);
	size_t padded = (size + 511) / 512 * 512 + 1024;   /* data, padding, end blocks */
	unsigned char *body = xcalloc(1, padded);
	if (content)
		memcpy(body, content, size);
	sb_append(tar, body, padded);
	free(body);
}

/* A chart-like .tgz: one file with content; its tar's digest in tar_digest if wanted. */
static void make_tgz(struct strbuf *tgz, const char *content, char *tar_digest)
{
	struct strbuf tar = { 0 };
	make_tar(&tar, "app/Chart.yaml", content, strlen(content));
	if (tar_digest)
		digest_sha256_hex(tar.buf, tar.len, tar_digest);
	gzip_append(tgz, tar.buf, tar.len);
	sb_free(&tar);
}

/* The base64 of bytes, wrapped at 76 columns like base64(1) when wrap is set. */
static char *base64_of(const struct strbuf *bytes, bool wrap)
{
	char *flat = xmalloc(B64_ENCODED_LEN(bytes->len) + 1);
	size_t n = b64_encode(bytes->buf, bytes->len, flat);
	if (!wrap)
		return flat;
	struct strbuf sb = { 0 };
	for (size_t i = 0; i < n; i += 76) {
		sb_append(&sb, flat + i, n - i < 76 ? n - i : 76);
		sb_putc(&sb, '\n');
	}
	free(flat);
	return sb.buf;
}

/* ---- pushing ---- */

struct outcome {
	int rc;
	struct appr_error err;
	char digest[DIGEST_HEX_LEN + 1];       /* "" when not known */
	char tgz_sha256[DIGEST_HEX_LEN + 1];
	long long size;
};

/* Push len bytes in pieces of piece bytes (0 = one piece) as release rel of ns/app. */
static struct outcome push_as(enum push_input in, const void *data, size_t len, size_t piece,
			      const char *rel, const char *mt)
{
	struct outcome o = { 0 };
	struct push_release meta = { .ns = "ns", .name = "app", .release = rel, .media_type = mt };
	struct push *p = NULL;
	o.rc = push_begin(st, &cfg, in, &p, &o.err);
	cr_assert(eq(int, o.rc, 0), "push_begin: %s", o.err.msg);
	if (!piece)
		piece = len ? len : 1;
	for (size_t off = 0; off < len && o.rc == 0; off += piece)
		o.rc = push_feed(p, (const char *)data + off, len - off < piece ? len - off : piece,
				 &o.err);
	if (o.rc == 0)
		o.rc = push_finish(p, &meta, &o.err);
	if (push_digest(p))
		snprintf(o.digest, sizeof o.digest, "%s", push_digest(p));
	if (push_tgz_sha256(p))
		snprintf(o.tgz_sha256, sizeof o.tgz_sha256, "%s", push_tgz_sha256(p));
	o.size = push_tgz_size(p);
	push_free(p);
	return o;
}

static void expect_ok(const struct outcome *o, const char *what)
{
	cr_assert(eq(int, o->rc, 0), "%s accepted (got %d %s: %s)", what, o->err.http,
		  o->err.code ? o->err.code : "-", o->err.msg);
}

static void expect_refused(const struct outcome *o, int http, const char *code, const char *what)
{
	cr_assert(eq(int, o->rc, -1), "%s refused", what);
	cr_assert(eq(int, o->err.http, http), "%s: HTTP %d (%s)", what, http, o->err.msg);
	cr_assert(eq(str, (char *)o->err.code, (char *)code), "%s: code %s", what, code);
}

static int n_files;
static int count_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path; (void)sb; (void)ftw;
	if (flag == FTW_F)
		n_files++;
	return 0;
}

/* Regular files anywhere under data_dir/blobs (stored blobs and temp files). */
static int blob_files(void)
{
	char dir[400];
	snprintf(dir, sizeof dir, "%s/blobs", data_dir);
	n_files = 0;
	cr_assert(eq(int, nftw(dir, count_file, 16, FTW_PHYS), 0), "walk %s", dir);
	return n_files;
}

/* ns/app has no release and blobs/ no file. */
static void expect_nothing_stored(const char *what)
{
	struct appr_error err = { 0 };
	const char **rel;
	size_t n;
	int rc = storage_list_releases(st, "ns", "app", ar, &rel, &n, &err);
	cr_assert(eq(int, rc, -1), "%s: ns/app has no release", what);
	cr_assert(eq(int, err.http, 404), "%s: listing ns/app is a 404 (%s)", what, err.msg);
	cr_assert(eq(int, blob_files(), 0), "%s: no file left in blobs/", what);
}

/* ---- accepted pushes ---- */

Test(push, raw_tgz)
{
	struct strbuf tgz = { 0 };
	char tar_digest[DIGEST_HEX_LEN + 1], tgz_digest[DIGEST_HEX_LEN + 1];
	make_tgz(&tgz, "name: app\nversion: 1.0.0\n", tar_digest);
	digest_sha256_hex(tgz.buf, tgz.len, tgz_digest);

	struct outcome o = push_as(PUSH_RAW, tgz.buf, tgz.len, 0, "1.0.0", "helm");
	expect_ok(&o, "raw push");
	cr_assert(eq(str, o.digest, tar_digest), "push_digest is the SHA-256 of the tar");
	cr_assert(eq(str, o.tgz_sha256, tgz_digest), "push_tgz_sha256 is the SHA-256 of the .tgz");
	cr_assert(eq(i64, o.size, (long long)tgz.len), "push_tgz_size is the .tgz length");

	struct storage_manifest m;
	struct appr_error err = { 0 };
	int rc = storage_get_manifest(st, "ns", "app", "1.0.0", "helm", ar, &m, &err);
	cr_assert(eq(int, rc, 0), "the manifest is stored: %s", err.msg);
	cr_assert(eq(str, m.digest, tar_digest), "the manifest names the tar digest");
	cr_assert(eq(i64, m.size, (long long)tgz.len), "the manifest size is the .tgz length");

	char path[600];
	snprintf(path, sizeof path, "%s/blobs/sha256/%.2s/%s", data_dir, tar_digest, tar_digest);
	FILE *f = fopen(path, "rb");
	cr_assert(not(eq(ptr, f, NULL)), "blob file %s exists", path);
	struct strbuf got = { 0 };
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sb_append(&got, buf, n);
	fclose(f);
	cr_assert(eq(sz, got.len, tgz.len), "the blob file has the .tgz length");
	cr_assert(eq(int, memcmp(got.buf, tgz.buf, tgz.len), 0), "the blob file is the .tgz");
	cr_assert(eq(int, blob_files(), 1), "one file in blobs/: the blob");
	sb_free(&got);
	sb_free(&tgz);
}

Test(push, base64_in_odd_pieces_gives_the_same_digests)
{
	struct strbuf tgz = { 0 };
	char tar_digest[DIGEST_HEX_LEN + 1], tgz_digest[DIGEST_HEX_LEN + 1];
	struct strbuf big = { 0 };
	/* some incompressible-ish content so the text spans several decode chunks */
	for (unsigned i = 0; i < 30000; i++)
		sb_printf(&big, "%08x", i * 2654435761u);
	make_tgz(&tgz, big.buf, tar_digest);
	digest_sha256_hex(tgz.buf, tgz.len, tgz_digest);
	static const size_t pieces[] = { 1, 3, 7, 4096, 65535, 65537, 0 };
	for (size_t wrap = 0; wrap < 2; wrap++) {
		char *text = base64_of(&tgz, wrap);
		for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
			char rel[32];
			snprintf(rel, sizeof rel, "1.%zu.%zu", wrap, i);
			struct outcome o = push_as(PUSH_BASE64, text, strlen(text), pieces[i], rel,
						   "helm");
			expect_ok(&o, rel);
			cr_assert(eq(str, o.digest, tar_digest), "%s: pieces of %zu: tar digest", rel,
				  pieces[i]);
			cr_assert(eq(str, o.tgz_sha256, tgz_digest),
				  "%s: pieces of %zu: .tgz digest of the decoded bytes", rel, pieces[i]);
			cr_assert(eq(i64, o.size, (long long)tgz.len), "%s: decoded size", rel);
		}
		free(text);
	}
	cr_assert(eq(int, blob_files(), 1), "every release shares the one blob");
	sb_free(&tgz);
	sb_free(&big);
}

Test(push, base64_and_raw_share_one_blob)
{
	struct strbuf tgz = { 0 };
	make_tgz(&tgz, "name: app\n", NULL);
	char *text = base64_of(&tgz, true);
	struct outcome a = push_as(PUSH_RAW, tgz.buf, tgz.len, 0, "1.0.0", "helm");
	struct outcome b = push_as(PUSH_BASE64, text, strlen(text), 5, "1.0.1", "helm");
	expect_ok(&a, "raw push");
	expect_ok(&b, "base64 push");
	cr_assert(eq(str, a.digest, b.digest), "same digest either way");
	cr_assert(eq(str, a.tgz_sha256, b.tgz_sha256), "same .tgz digest either way");
	cr_assert(eq(int, blob_files(), 1), "one blob file for both releases");
	free(text);
	sb_free(&tgz);
}

Test(push, digests_known_after_end_input_before_the_release)
{
	struct strbuf tgz = { 0 };
	char tar_digest[DIGEST_HEX_LEN + 1];
	struct appr_error err = { 0 };
	struct push *p;
	make_tgz(&tgz, "name: app\n", tar_digest);
	cr_assert(eq(int, push_begin(st, &cfg, PUSH_RAW, &p, &err), 0), "push_begin");
	cr_assert(eq(ptr, (void *)push_digest(p), NULL), "no digest before the end of input");
	cr_assert(eq(ptr, (void *)push_tgz_sha256(p), NULL), "no .tgz digest before the end");
	cr_assert(eq(int, push_feed(p, tgz.buf, tgz.len, &err), 0), "push_feed: %s", err.msg);
	cr_assert(eq(int, push_end_input(p, &err), 0), "push_end_input: %s", err.msg);
	cr_assert(eq(str, (char *)push_digest(p), tar_digest), "digest known after end_input");
	cr_assert(eq(int, push_end_input(p, &err), 0), "push_end_input again is a no-op");
	cr_assert(eq(int, push_feed(p, "x", 1, &err), -1), "push_feed after the end is refused");
	cr_assert(eq(int, err.http, 500), "... as a 500 (a caller bug)");
	struct push_release meta = { .ns = "ns", .name = "app", .release = "1.0.0" };
	cr_assert(eq(int, push_finish(p, &meta, &err), 0), "push_finish: %s", err.msg);
	cr_assert(eq(str, (char *)push_digest(p), tar_digest), "digest still known after finish");
	push_free(p);

	struct storage_manifest m;
	cr_assert(eq(int, storage_get_manifest(st, "ns", "app", "1.0.0", "kpm", ar, &m, &err), 0),
		  "media type NULL is stored as kpm: %s", err.msg);
	sb_free(&tgz);
}

Test(push, force_and_conflict)
{
	struct strbuf a = { 0 }, b = { 0 };
	make_tgz(&a, "name: app\nversion: a\n", NULL);
	make_tgz(&b, "name: app\nversion: b\n", NULL);
	expect_ok((struct outcome[]){ push_as(PUSH_RAW, a.buf, a.len, 0, "1.0.0", "helm") },
		  "first push");
	struct outcome o = push_as(PUSH_RAW, b.buf, b.len, 0, "1.0.0", "helm");
	expect_refused(&o, 409, APPR_E_PACKAGE_EXISTS, "second push without force");
	cr_assert(eq(int, blob_files(), 1), "the 409 left only the first blob");

	struct appr_error err = { 0 };
	struct push *p;
	struct push_release meta = { .ns = "ns", .name = "app", .release = "1.0.0",
				     .media_type = "helm", .force = true };
	cr_assert(eq(int, push_begin(st, &cfg, PUSH_RAW, &p, &err), 0), "push_begin");
	cr_assert(eq(int, push_feed(p, b.buf, b.len, &err), 0), "feed: %s", err.msg);
	cr_assert(eq(int, push_finish(p, &meta, &err), 0), "forced push: %s", err.msg);
	push_free(p);
	cr_assert(eq(int, blob_files(), 1), "the forced push replaced the blob");
	sb_free(&a);
	sb_free(&b);
}

/* ---- refusals: right error, nothing stored ---- */

Test(push, invalid_base64)
{
	const char *text = "@@@@not base64!!";
	struct outcome o = push_as(PUSH_BASE64, text, strlen(text), 0, "1.0.0", "helm");
	expect_refused(&o, 400, APPR_E_INVALID_USAGE, "invalid base64");
	cr_assert(eq(str, o.err.msg, (char *)"blob is not valid base64"), "invalid base64: message");
	expect_nothing_stored("invalid base64");

	struct strbuf tgz = { 0 };
	make_tgz(&tgz, "x", NULL);
	char *good = base64_of(&tgz, false);
	struct strbuf t = { 0 };
	sb_printf(&t, "%sA", good);           /* a dangling character at the end */
	o = push_as(PUSH_BASE64, t.buf, t.len, 3, "1.0.0", "helm");
	expect_refused(&o, 400, APPR_E_INVALID_USAGE, "dangling base64 character");
	cr_assert(eq(str, o.err.msg, (char *)"blob is not valid base64"), "dangling: message");
	expect_nothing_stored("dangling base64 character");
	free(good);
	sb_free(&t);
	sb_free(&tgz);
}

Test(push, not_gzip)
{
	const char *plain = "this is not a gzip stream at all\n";
	struct outcome o = push_as(PUSH_RAW, plain, strlen(plain), 0, "1.0.0", "helm");
	expect_refused(&o, 400, APPR_E_INVALID_USAGE, "not gzip");
	expect_nothing_stored("not gzip");
	o = push_as(PUSH_RAW, "", 0, 0, "1.0.0", "helm");
	expect_refused(&o, 400, APPR_E_INVALID_USAGE, "no bytes at all");
	expect_nothing_stored("no bytes at all");
}

Test(push, gzip_but_not_tar)
{
	struct strbuf gz = { 0 };
	const char *text = "hello, this is text and not a tar header block\n";
	gzip_append(&gz, text, strlen(text));
	struct outcome o = push_as(PUSH_RAW, gz.buf, gz.len, 0, "1.0.0", "helm");
	expect_refused(&o, 400, APPR_E_INVALID_USAGE, "gzip but not tar");
	expect_nothing_stored("gzip but not tar");
	sb_free(&gz);
}

Test(push, tar_bomb_over_the_limits)
{
	struct strbuf tar = { 0 }, gz = { 0 };
	make_tar(&tar, "big", NULL, 8 * MiB);
	gzip_append(&gz, tar.buf, tar.len);
	char *text = base64_of(&gz, true);
	struct outcome o = push_as(PUSH_BASE64, text, strlen(text), 4096, "1.0.0", "helm");
	expect_refused(&o, 413, APPR_E_PAYLOAD_TOO_LARGE, "8 MiB of zeros over a 2 MiB limit");
	expect_nothing_stored("tar bomb");
	free(text);
	sb_free(&tar);
	sb_free(&gz);
}

Test(push, invalid_release_media_type_visibility)
{
	struct strbuf tgz = { 0 };
	make_tgz(&tgz, "name: app\n", NULL);
	static const char *const bad_releases[] = { "1.0", "v1.0.0", "01.0.0", "latest", "" };
	for (size_t i = 0; i < sizeof bad_releases / sizeof bad_releases[0]; i++) {
		struct outcome o = push_as(PUSH_RAW, tgz.buf, tgz.len, 0, bad_releases[i], "helm");
		expect_refused(&o, 422, APPR_E_INVALID_RELEASE, bad_releases[i]);
		expect_nothing_stored(bad_releases[i]);
	}
	struct outcome o = push_as(PUSH_RAW, tgz.buf, tgz.len, 0, NULL, "helm");
	expect_refused(&o, 400, APPR_E_INVALID_USAGE, "no release");
	expect_nothing_stored("no release");

	o = push_as(PUSH_RAW, tgz.buf, tgz.len, 0, "1.0.0", "Helm!");
	expect_refused(&o, 400, APPR_E_INVALID_USAGE, "media type Helm!");
	cr_assert(eq(str, o.err.msg, (char *)"invalid media type \"Helm!\""), "media type: message");
	cr_assert(eq(str, o.err.release, (char *)"1.0.0"), "media type error: details.release set");
	expect_nothing_stored("media type Helm!");
	o = push_as(PUSH_RAW, tgz.buf, tgz.len, 0, "1.0.0", "");
	expect_refused(&o, 400, APPR_E_INVALID_USAGE, "empty media type");
	expect_nothing_stored("empty media type");

	struct appr_error err = { 0 };
	struct push *p;
	struct push_release meta = { .ns = "ns", .name = "app", .release = "1.0.0",
				     .media_type = "helm", .visibility = "secret" };
	cr_assert(eq(int, push_begin(st, &cfg, PUSH_RAW, &p, &err), 0), "push_begin");
	cr_assert(eq(int, push_feed(p, tgz.buf, tgz.len, &err), 0), "feed: %s", err.msg);
	cr_assert(eq(int, push_finish(p, &meta, &err), -1), "visibility secret refused");
	cr_assert(eq(int, err.http, 400), "visibility secret: 400");
	cr_assert(eq(str, err.media_type, (char *)"helm"), "visibility error: details.media_type set");
	push_free(p);
	expect_nothing_stored("visibility secret");
	sb_free(&tgz);
}

Test(push, check_release_alone)
{
	char mt[NAMES_MEDIA_TYPE_MAX + 1];
	struct appr_error err = { 0 };
	struct push_release meta = {
		.release = "1.2.3-rc.1+b5",
		.media_type = "application/vnd.appr.package-manifest.helm.v0.json",
		.visibility = "private",
	};
	cr_assert(eq(int, push_check_release(&meta, mt, &err), 0), "valid meta: %s", err.msg);
	cr_assert(eq(str, mt, (char *)"helm"), "the short form of the media type");
	meta.release = "1.2";
	meta.visibility = "nope";
	cr_assert(eq(int, push_check_release(&meta, NULL, &err), -1), "1.2 refused");
	cr_assert(eq(int, err.http, 422), "the release is checked before the visibility");
	cr_assert(eq(int, blob_files(), 0), "checking stores nothing");
}

/* ---- failures are sticky; push_free drops the unfinished ---- */

Test(push, failure_repeats_and_drops_the_blob)
{
	struct appr_error err = { 0 }, again = { 0 };
	struct push *p;
	cr_assert(eq(int, push_begin(st, &cfg, PUSH_BASE64, &p, &err), 0), "push_begin");
	cr_assert(eq(int, push_feed(p, "H4sI", 4, &err), 0), "a valid start");
	cr_assert(eq(int, push_feed(p, "!!!!", 4, &err), -1), "then not base64");
	cr_assert(eq(int, blob_files(), 0), "the failed push's temp blob is already gone");
	cr_assert(eq(int, push_feed(p, "AAAA", 4, &again), -1), "a later feed fails too");
	cr_assert(eq(int, again.http, err.http), "... with the same status");
	cr_assert(eq(str, again.msg, err.msg), "... and message");
	struct push_release meta = { .ns = "ns", .name = "app", .release = "1.0.0" };
	memset(&again, 0, sizeof again);
	cr_assert(eq(int, push_finish(p, &meta, &again), -1), "finish fails too");
	cr_assert(eq(str, (char *)again.code, (char *)APPR_E_INVALID_USAGE), "... with the same code");
	cr_assert(eq(ptr, (void *)push_digest(p), NULL), "no digest after a failure");
	push_free(p);
	expect_nothing_stored("failed push");
}

Test(push, free_of_an_unfinished_push_leaves_nothing)
{
	struct strbuf tgz = { 0 };
	struct appr_error err = { 0 };
	struct push *p;
	make_tgz(&tgz, "name: app\n", NULL);
	cr_assert(eq(int, push_begin(st, &cfg, PUSH_RAW, &p, &err), 0), "push_begin");
	cr_assert(eq(int, push_feed(p, tgz.buf, tgz.len / 2, &err), 0), "half the bytes");
	cr_assert(gt(int, blob_files(), 0), "a temp blob exists while the push runs");
	push_free(p);
	expect_nothing_stored("push freed half way");

	cr_assert(eq(int, push_begin(st, &cfg, PUSH_RAW, &p, &err), 0), "push_begin");
	cr_assert(eq(int, push_feed(p, tgz.buf, tgz.len, &err), 0), "all the bytes");
	cr_assert(eq(int, push_end_input(p, &err), 0), "end of input");
	push_free(p);
	expect_nothing_stored("push freed after end_input, before finish");
	push_free(NULL);
	sb_free(&tgz);
}
