/* test-targz.c - gzip+tar verification, limits, path checks, and the blob digest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <zlib.h>

#include "digest.h"
#include "error.h"
#include "targz.h"
#include "util.h"

#define MiB (1024 * 1024)

static const struct targz_limits default_limits = {
	.max_uncompressed = 512ULL * MiB,
	.max_ratio = 250,
	.ratio_floor = 0,
	.max_entries = 10000,
};

/* ---- fixtures: tar headers, archives, gzip ---- */

static void set_checksum(unsigned char *h, int is_signed)
{
	long sum = 0;
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += is_signed ? (long)(signed char)h[i] : (long)h[i];
	snprintf((char *)h + 148, 8, "%06o", (unsigned)(sum & 0777777));
	h[155] = ' ';
}

/* A ustar header; link and prefix may be NULL. */
static void make_header(unsigned char h[512], const char *name, char type, uint64_t size,
			const char *link, const char *prefix)
{
	memset(h, 0, 512);
	memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 108, "0001750", 7);
	memcpy(h + 116, "0001750", 7);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	memcpy(h + 136, "14511263400", 11);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strlen(link) < 100 ? strlen(link) : 100);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	if (prefix)
		memcpy(h + 345, prefix, strlen(prefix) < 155 ? strlen(prefix) : 155);
	set_checksum(h, 0);
}

static void add_zeros(struct strbuf *sb, size_t n)
{
	static const unsigned char zero[512];
	while (n) {
		size_t k = n < sizeof zero ? n : sizeof zero;
		sb_append(sb, zero, k);
		n -= k;
	}
}

static void add_padded(struct strbuf *sb, const void *data, size_t size)
{
	if (size)
		sb_append(sb, data, size);
	add_zeros(sb, (512 - size % 512) % 512);
}

/* An entry of any type with its data. */
static void add_entry(struct strbuf *sb, const char *name, char type, const void *data,
		      size_t size, const char *link, const char *prefix)
{
	unsigned char h[512];
	make_header(h, name, type, size, link, prefix);
	sb_append(sb, h, 512);
	add_padded(sb, data, size);
}

static void add_file(struct strbuf *sb, const char *name, const char *content)
{
	add_entry(sb, name, '0', content, strlen(content), NULL, NULL);
}

static void add_end(struct strbuf *sb)
{
	add_zeros(sb, 1024);
}

/* A pax record "LEN key=value\n". */
static void pax_record(struct strbuf *sb, const char *key, const char *value)
{
	size_t body = 1 + strlen(key) + 1 + strlen(value) + 1;
	size_t len = body + 1;
	while (len != body + (size_t)snprintf(NULL, 0, "%zu", len))
		len = body + (size_t)snprintf(NULL, 0, "%zu", len);
	sb_printf(sb, "%zu %s=%s\n", len, key, value);
}

static void add_pax(struct strbuf *sb, char type, const char *key, const char *value)
{
	struct strbuf rec = { 0 };
	pax_record(&rec, key, value);
	add_entry(sb, "PaxHeaders/x", type, rec.buf, rec.len, NULL, NULL);
	sb_free(&rec);
}

static void add_longname(struct strbuf *sb, char type, const char *name)
{
	add_entry(sb, "././@LongLink", type, name, strlen(name) + 1, NULL, NULL);
}

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

static void gzip_of(struct strbuf *out, const struct strbuf *tar)
{
	gzip_append(out, tar->buf, tar->len);
}

/* Append a raw deflate stream of len bytes made from a fresh state: non-final
 * pieces end with a full flush, so their blocks may be repeated and joined. */
static void raw_deflate(struct strbuf *out, const void *data, size_t len, int final)
{
	z_stream zs;
	unsigned char buf[65536];
	memset(&zs, 0, sizeof zs);
	cr_assert(eq(int, deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK),
		  "deflateInit2 raw");
	zs.next_in = (unsigned char *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	for (;;) {
		zs.next_out = buf;
		zs.avail_out = sizeof buf;
		int r = deflate(&zs, final ? Z_FINISH : Z_FULL_FLUSH);
		sb_append(out, buf, sizeof buf - zs.avail_out);
		if (final ? r == Z_STREAM_END : zs.avail_out != 0)
			break;
		cr_assert(eq(int, r, Z_OK), "deflate");
	}
	deflateEnd(&zs);
}

static void put_le32(struct strbuf *out, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8),
			       (unsigned char)(v >> 16), (unsigned char)(v >> 24) };
	sb_append(out, b, 4);
}

/* The gzip of a tar holding one file "big" of n zero bytes and the end blocks,
 * built quickly: the deflate blocks of 1 MiB of zeros are made once and repeated. */
static void gzip_zero_bomb(struct strbuf *out, uint64_t n)
{
	static const unsigned char gz_header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	static unsigned char zero[2 * MiB];
	unsigned char h[512];
	struct strbuf piece = { 0 };

	make_header(h, "big", '0', n, NULL, NULL);
	sb_append(out, gz_header, sizeof gz_header);
	raw_deflate(out, h, 512, 0);
	uLong crc = crc32(crc32(0, NULL, 0), h, 512);
	raw_deflate(&piece, zero, MiB, 0);
	uLong piece_crc = crc32(crc32(0, NULL, 0), zero, MiB);
	for (uint64_t i = 0; i < n / MiB; i++) {
		sb_append(out, piece.buf, piece.len);
		crc = crc32_combine(crc, piece_crc, MiB);
	}
	size_t tail = (size_t)(n % MiB) + 1024;
	raw_deflate(out, zero, tail, 1);
	crc = crc32(crc, zero, (uInt)tail);
	put_le32(out, (uint32_t)crc);
	put_le32(out, (uint32_t)(512 + n + 1024));
	sb_free(&piece);
}

struct result {
	int rc;                         /* 0 or -1 */
	int failed_in_feed;
	char digest[DIGEST_HEX_LEN + 1];
	struct appr_error err;
	uint64_t usize;
	uint64_t entries;
};

/* Verify len gzip bytes fed in pieces of chunk bytes (0 = all at once). */
static struct result run_lim(const struct targz_limits *lim, const void *gz, size_t len,
			     size_t chunk)
{
	struct result res;
	memset(&res, 0, sizeof res);
	struct targz *t = targz_new(lim);
	const unsigned char *p = gz;
	size_t off = 0;
	if (!chunk)
		chunk = len ? len : 1;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		if (targz_feed(t, p + off, n, &res.err) < 0) {
			res.rc = -1;
			res.failed_in_feed = 1;
			goto out;
		}
		off += n;
	}
	res.rc = targz_finish(t, res.digest, &res.err);
out:
	res.usize = targz_uncompressed_size(t);
	res.entries = targz_entry_count(t);
	targz_free(t);
	return res;
}

static struct result run(const struct strbuf *gz, size_t chunk)
{
	return run_lim(&default_limits, gz->buf, gz->len, chunk);
}

/* Gzip the tar and verify it in one piece. */
static struct result run_tar(const struct strbuf *tar)
{
	struct strbuf gz = { 0 };
	gzip_of(&gz, tar);
	struct result r = run(&gz, 0);
	sb_free(&gz);
	return r;
}

static void expect_ok(const struct result *r, const char *what)
{
	cr_assert(eq(int, r->rc, 0), "%s accepted (got %d %s: %s)", what, r->err.http,
		  r->err.code ? r->err.code : "-", r->err.msg);
}

static void expect_fail(const struct result *r, int http, const char *msg_part, const char *what)
{
	cr_assert(eq(int, r->rc, -1), "%s refused", what);
	cr_assert(eq(int, r->err.http, http), "%s: HTTP status (message: %s)", what, r->err.msg);
	cr_assert(eq(str, (char *)r->err.code,
		     (char *)(http == 413 ? APPR_E_PAYLOAD_TOO_LARGE : APPR_E_INVALID_USAGE)),
		  "%s: error code", what);
	cr_assert(not(eq(ptr, strstr(r->err.msg, msg_part), NULL)),
		  "%s: message \"%s\" mentions \"%s\"", what, r->err.msg, msg_part);
}

/* ---- temp dir and system tools ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test-targz-XXXXXX");
	cr_assert(not(eq(ptr, mkdtemp(tmpdir), NULL)), "mkdtemp");
}

static void remove_tmpdir(void)
{
	char cmd[128];
	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	cr_assert(eq(int, system(cmd), 0), "remove %s", tmpdir);
	tmpdir[0] = '\0';
}

TestSuite(targz, .init = make_tmpdir, .fini = remove_tmpdir);

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert(not(eq(ptr, f, NULL)), "create %s", path);
	cr_assert(eq(sz, fwrite(data, 1, len, f), len), "write %s", path);
	cr_assert(eq(int, fclose(f), 0), "close %s", path);
}

static void read_file(const char *path, struct strbuf *sb)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "rb");
	cr_assert(not(eq(ptr, f, NULL)), "open %s", path);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sb_append(sb, buf, n);
	fclose(f);
}

/* The first word printed by a shell command (a sha256sum). */
static void command_hex(const char *cmd, char out[DIGEST_HEX_LEN + 1])
{
	FILE *p = popen(cmd, "r");
	cr_assert(not(eq(ptr, p, NULL)), "popen %s", cmd);
	char line[256] = "";
	cr_assert(not(eq(ptr, fgets(line, sizeof line, p), NULL)), "output of %s", cmd);
	cr_assert(eq(int, pclose(p), 0), "%s succeeds", cmd);
	cr_assert(ge(sz, strlen(line), (size_t)DIGEST_HEX_LEN), "sha256sum output");
	memcpy(out, line, DIGEST_HEX_LEN);
	out[DIGEST_HEX_LEN] = '\0';
}

/* SHA-256 of bytes by the system's sha256sum, independent of lib/digest.c. */
static void system_sha256(const void *data, size_t len, char out[DIGEST_HEX_LEN + 1])
{
	char path[128], cmd[256];
	snprintf(path, sizeof path, "%s/raw", tmpdir);
	write_file(path, data, len);
	snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
	command_hex(cmd, out);
	unlink(path);
}

/* A small valid archive: a directory, two files, a symlink, the end blocks. */
static void sample_tar(struct strbuf *tar)
{
	add_entry(tar, "chart/", '5', NULL, 0, NULL, NULL);
	add_file(tar, "chart/Chart.yaml", "name: chart\nversion: 1.0.0\n");
	char big[3000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	add_entry(tar, "chart/values.yaml", '0', big, sizeof big, NULL, NULL);
	add_entry(tar, "chart/link", '2', NULL, 0, "values.yaml", NULL);
	add_end(tar);
}

/* ---- digest ---- */

Test(targz, digest_known_answers)
{
	char hex[DIGEST_HEX_LEN + 1];
	digest_sha256_hex("", 0, hex);
	cr_assert(eq(str, hex,
		     (char *)"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
		  "sha256 of nothing");
	digest_sha256_hex("abc", 3, hex);
	cr_assert(eq(str, hex,
		     (char *)"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
		  "sha256 of abc");
	struct digest_ctx *d = digest_new();
	digest_update(d, "a", 1);
	digest_update(d, NULL, 0);
	digest_update(d, "bc", 2);
	char hex2[DIGEST_HEX_LEN + 1];
	digest_final_hex(d, hex2);
	digest_free(d);
	digest_free(NULL);
	cr_assert(eq(str, hex2, hex), "incremental sha256 of abc");
	digest_global_init();
	digest_global_init();
}

/* ---- valid archives ---- */

Test(targz, valid_archive_digest)
{
	struct strbuf tar = { 0 }, gz = { 0 };
	sample_tar(&tar);
	gzip_of(&gz, &tar);
	char want[DIGEST_HEX_LEN + 1];
	system_sha256(tar.buf, tar.len, want);

	struct result r = run(&gz, 0);
	expect_ok(&r, "sample archive");
	cr_assert(eq(str, r.digest, want), "digest is the sha256 of the uncompressed tar");
	cr_assert(eq(u64, r.usize, (uint64_t)tar.len), "uncompressed size");
	cr_assert(eq(u64, r.entries, (uint64_t)4), "entry count");

	struct result r1 = run(&gz, 1);
	expect_ok(&r1, "sample archive in 1-byte pieces");
	cr_assert(eq(str, r1.digest, want), "1-byte pieces give the same digest");
	struct result r7 = run(&gz, 7);
	expect_ok(&r7, "sample archive in 7-byte pieces");
	cr_assert(eq(str, r7.digest, want), "7-byte pieces give the same digest");
	sb_free(&tar);
	sb_free(&gz);
}

Test(targz, big_random_archive_in_pieces)
{
	struct strbuf tar = { 0 }, gz = { 0 };
	size_t n = 300000;
	unsigned char *data = xmalloc(n);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	add_entry(&tar, "random.bin", '0', data, n, NULL, NULL);
	add_file(&tar, "after", "x");
	add_end(&tar);
	gzip_of(&gz, &tar);
	char want[DIGEST_HEX_LEN + 1];
	system_sha256(tar.buf, tar.len, want);
	size_t chunks[] = { 0, 1, 100, 65536, 70000 };
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		struct result r = run(&gz, chunks[i]);
		expect_ok(&r, "random archive");
		cr_assert(eq(str, r.digest, want), "digest with pieces of %zu bytes", chunks[i]);
		cr_assert(eq(u64, r.entries, (uint64_t)2), "entry count");
	}
	free(data);
	sb_free(&tar);
	sb_free(&gz);
}

Test(targz, concatenated_members)
{
	struct strbuf tar = { 0 }, gz = { 0 };
	sample_tar(&tar);
	/* Split at a point that is not a block boundary; a third member is empty. */
	gzip_append(&gz, tar.buf, 700);
	gzip_append(&gz, tar.buf + 700, tar.len - 700);
	gzip_append(&gz, "", 0);
	char want[DIGEST_HEX_LEN + 1];
	system_sha256(tar.buf, tar.len, want);
	struct result r = run(&gz, 0);
	expect_ok(&r, "three gzip members");
	cr_assert(eq(str, r.digest, want), "digest over all members");
	r = run(&gz, 1);
	expect_ok(&r, "three gzip members in 1-byte pieces");
	cr_assert(eq(str, r.digest, want), "digest over all members, 1-byte pieces");
	sb_free(&tar);
	sb_free(&gz);
}

Test(targz, no_end_blocks_and_trailing_zeros)
{
	struct strbuf tar = { 0 };
	add_file(&tar, "a", "hello");
	struct result r = run_tar(&tar);
	expect_ok(&r, "archive ending at a header boundary without end blocks");

	add_end(&tar);
	add_zeros(&tar, 10240 - tar.len % 10240);
	r = run_tar(&tar);
	expect_ok(&r, "archive padded with zeros to a 10 KiB record");

	add_zeros(&tar, 100);
	r = run_tar(&tar);
	expect_ok(&r, "zero bytes after the end blocks, not a whole block");
	sb_free(&tar);
}

Test(targz, only_end_blocks)
{
	struct strbuf tar = { 0 };
	add_end(&tar);
	struct result r = run_tar(&tar);
	expect_ok(&r, "archive with no entries but the end blocks");
	cr_assert(eq(u64, r.entries, (uint64_t)0), "no entries");
	sb_free(&tar);
}

Test(targz, long_names_and_prefix_accepted)
{
	struct strbuf tar = { 0 };
	char longname[301];
	memset(longname, 'n', 300);
	longname[0] = 'd';
	longname[1] = '/';
	longname[300] = '\0';
	add_longname(&tar, 'L', longname);
	add_file(&tar, "d/nnnnnnnnnnnnnnnn", "long named");
	add_pax(&tar, 'x', "path", longname);
	add_file(&tar, "d/nnnn", "pax named");
	add_entry(&tar, "file", '0', "p", 1, NULL, "some/prefix");
	add_entry(&tar, "..a/b..", '0', "p", 1, NULL, "./x");
	add_end(&tar);
	struct result r = run_tar(&tar);
	expect_ok(&r, "GNU long name, pax path, ustar prefix, names with dots");
	cr_assert(eq(u64, r.entries, (uint64_t)4), "metadata headers are not entries");
	sb_free(&tar);
}

Test(targz, signed_checksum_and_base256_size)
{
	struct strbuf tar = { 0 };
	unsigned char h[512];
	make_header(h, "caf\xc3\xa9", '0', 3, NULL, NULL);
	set_checksum(h, 1);
	sb_append(&tar, h, 512);
	add_padded(&tar, "abc", 3);
	/* Size 600 in GNU base-256. */
	char data[600];
	memset(data, 'z', sizeof data);
	make_header(h, "b256", '0', 0, NULL, NULL);
	memset(h + 124, 0, 12);
	h[124] = 0x80;
	h[134] = 0x02;
	h[135] = 0x58;
	set_checksum(h, 0);
	sb_append(&tar, h, 512);
	add_padded(&tar, data, sizeof data);
	add_end(&tar);
	struct result r = run_tar(&tar);
	expect_ok(&r, "signed checksum and base-256 size");
	cr_assert(eq(u64, r.entries, (uint64_t)2), "both entries seen");
	sb_free(&tar);
}

Test(targz, pax_size_overrides_header)
{
	struct strbuf tar = { 0 };
	add_pax(&tar, 'x', "size", "700");
	unsigned char h[512];
	make_header(h, "f", '0', 0, NULL, NULL);
	sb_append(&tar, h, 512);
	char data[700];
	memset(data, 1, sizeof data);
	add_padded(&tar, data, sizeof data);
	add_end(&tar);
	struct result r = run_tar(&tar);
	expect_ok(&r, "pax size record");
	cr_assert(eq(u64, r.entries, (uint64_t)1), "the data was skipped as data");
	sb_free(&tar);
}

/* ---- the system's tar and gzip ---- */

static void system_archive(const char *tar_opts)
{
	char cmd[1024], path[256], want[DIGEST_HEX_LEN + 1];
	snprintf(cmd, sizeof cmd,
		 "set -e; cd '%s'; mkdir -p src/chart/templates/a-rather-long-directory-name-"
		 "that-goes-on-and-on/and-on-and-on-and-on-until-it-is-over-one-hundred-chars; "
		 "printf 'name: c\\nversion: 1.0.0\\n' > src/chart/Chart.yaml; "
		 "head -c 200000 /dev/urandom > src/chart/blob.bin; "
		 "echo x > src/chart/templates/a-rather-long-directory-name-that-goes-on-and-on/"
		 "and-on-and-on-and-on-until-it-is-over-one-hundred-chars/file.yaml; "
		 "ln -s Chart.yaml src/chart/link; "
		 "tar %s -czf out.tar.gz -C src chart", tmpdir, tar_opts);
	cr_assert(eq(int, system(cmd), 0), "create an archive with tar %s", tar_opts);
	snprintf(path, sizeof path, "%s/out.tar.gz", tmpdir);
	snprintf(cmd, sizeof cmd, "gzip -dc '%s' | sha256sum", path);
	command_hex(cmd, want);

	struct strbuf gz = { 0 };
	read_file(path, &gz);
	struct result r = run(&gz, 0);
	expect_ok(&r, "archive made by tar");
	cr_assert(eq(str, r.digest, want), "digest equals gzip -dc | sha256sum (tar %s)", tar_opts);
	cr_assert(eq(u64, r.entries, (uint64_t)8), "entries: 6 directories/files + link (tar %s)",
		  tar_opts);
	r = run(&gz, 4096);
	expect_ok(&r, "archive made by tar, 4 KiB pieces");
	cr_assert(eq(str, r.digest, want), "digest with 4 KiB pieces (tar %s)", tar_opts);
	sb_free(&gz);
}

Test(targz, system_tar_gnu_format)
{
	system_archive("--format=gnu");
}

Test(targz, system_tar_pax_format)
{
	system_archive("--format=posix");
}

/* ---- gzip errors ---- */

Test(targz, truncated_gzip)
{
	struct strbuf tar = { 0 }, gz = { 0 };
	sample_tar(&tar);
	gzip_of(&gz, &tar);
	size_t cuts[] = { 1, 4, 8, 9, 50 };
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		struct result r = run_lim(&default_limits, gz.buf, gz.len - cuts[i], 0);
		expect_fail(&r, 400, "truncated", "gzip cut short");
	}
	struct result r = run_lim(&default_limits, gz.buf, 5, 0);
	expect_fail(&r, 400, "truncated gzip", "only 5 bytes of gzip");
	sb_free(&tar);
	sb_free(&gz);
}

Test(targz, corrupt_gzip)
{
	struct strbuf tar = { 0 }, gz = { 0 };
	sample_tar(&tar);
	gzip_of(&gz, &tar);
	/* A flipped byte in the deflate data, in the CRC, and in the length. */
	size_t at[] = { gz.len / 2, gz.len - 6, gz.len - 2 };
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		gz.buf[at[i]] ^= 0x55;
		struct result r = run(&gz, 0);
		cr_assert(eq(int, r.rc, -1), "flipped byte at %zu refused", at[i]);
		cr_assert(eq(int, r.err.http, 400), "flipped byte at %zu: 400 (%s)", at[i], r.err.msg);
		gz.buf[at[i]] ^= 0x55;
	}
	struct result r = run(&gz, 0);
	expect_ok(&r, "restored archive");
	gz.buf[gz.len - 6] ^= 1;
	r = run(&gz, 0);
	expect_fail(&r, 400, "corrupt gzip", "bad CRC");
	sb_free(&tar);
	sb_free(&gz);
}

Test(targz, not_gzip)
{
	struct strbuf tar = { 0 };
	sample_tar(&tar);
	struct result r = run_lim(&default_limits, tar.buf, tar.len, 0);
	expect_fail(&r, 400, "not gzip", "plain tar");
	cr_assert(eq(int, r.failed_in_feed, 1), "refused while feeding");
	r = run_lim(&default_limits, "hello world", 11, 1);
	expect_fail(&r, 400, "not gzip", "text");
	r = run_lim(&default_limits, "\x1f\x8c", 2, 1);
	expect_fail(&r, 400, "not gzip", "wrong second magic byte");
	sb_free(&tar);
}

Test(targz, trailing_garbage_and_zeros)
{
	struct strbuf tar = { 0 }, gz = { 0 };
	sample_tar(&tar);
	gzip_of(&gz, &tar);
	size_t len = gz.len;
	sb_append(&gz, "junk", 4);
	struct result r = run(&gz, 0);
	expect_fail(&r, 400, "trailing data", "garbage after the gzip stream");
	gz.len = len;
	add_zeros(&gz, 8);
	r = run(&gz, 3);
	expect_fail(&r, 400, "trailing data", "zeros after the gzip stream");
	sb_free(&tar);
	sb_free(&gz);
}

Test(targz, empty_input)
{
	struct result r = run_lim(&default_limits, "", 0, 0);
	expect_fail(&r, 400, "not a tar archive", "empty input");

	struct strbuf gz = { 0 };
	gzip_append(&gz, "", 0);
	r = run(&gz, 0);
	expect_fail(&r, 400, "not a tar archive", "gzip of nothing");
	sb_free(&gz);

	struct strbuf tar = { 0 };
	add_zeros(&tar, 512);
	r = run_tar(&tar);
	expect_fail(&r, 400, "not a tar archive", "a single zero block");
	sb_free(&tar);
}

Test(targz, failure_is_sticky)
{
	struct targz *t = targz_new(&default_limits);
	struct appr_error err = { 0 };
	cr_assert(eq(int, targz_feed(t, "plain", 5, &err), -1), "not gzip");
	struct appr_error err2 = { 0 };
	cr_assert(eq(int, targz_feed(t, "\x1f\x8b", 2, &err2), -1), "feed after failure fails");
	cr_assert(eq(str, err2.msg, err.msg), "same message again");
	char digest[DIGEST_HEX_LEN + 1];
	struct appr_error err3 = { 0 };
	cr_assert(eq(int, targz_finish(t, digest, &err3), -1), "finish after failure fails");
	cr_assert(eq(int, err3.http, 400), "finish after failure: same status");
	targz_free(t);
	targz_free(NULL);
}

/* ---- tar errors ---- */

Test(targz, bad_checksum)
{
	struct strbuf tar = { 0 };
	sample_tar(&tar);
	tar.buf[10] ^= 1;      /* the first header's name */
	struct result r = run_tar(&tar);
	expect_fail(&r, 400, "not a tar archive", "bad checksum in the first header");
	tar.buf[10] ^= 1;
	tar.buf[512 + 20] ^= 1;      /* the second header */
	r = run_tar(&tar);
	expect_fail(&r, 400, "checksum mismatch at offset 512", "bad checksum in the second header");
	sb_free(&tar);
}

Test(targz, truncated_tar)
{
	struct strbuf tar = { 0 };
	char data[1000];
	memset(data, 'd', sizeof data);
	unsigned char h[512];
	make_header(h, "short", '0', 1000, NULL, NULL);
	sb_append(&tar, h, 512);
	sb_append(&tar, data, 512);     /* half the data, then the end */
	struct result r = run_tar(&tar);
	expect_fail(&r, 400, "truncated tar", "entry data missing");
	cr_assert(not(eq(ptr, strstr(r.err.msg, "short"), NULL)), "message names the entry: %s",
		  r.err.msg);

	tar.len = 0;
	add_file(&tar, "a", "hello");
	add_zeros(&tar, 100);
	tar.buf[tar.len - 1] = 'x';
	r = run_tar(&tar);
	expect_fail(&r, 400, "truncated tar", "partial header at the end");

	tar.len = 0;
	add_longname(&tar, 'L', "a/long/name");
	r = run_tar(&tar);
	expect_fail(&r, 400, "truncated tar", "GNU long name without its entry");
	add_end(&tar);
	r = run_tar(&tar);
	expect_fail(&r, 400, "truncated tar", "GNU long name followed by the end blocks");
	sb_free(&tar);
}

Test(targz, data_after_end)
{
	struct strbuf tar = { 0 };
	sample_tar(&tar);
	add_file(&tar, "../hidden", "after the end");
	struct result r = run_tar(&tar);
	expect_fail(&r, 400, "after the end", "entry after the end blocks");
	sb_free(&tar);
}

Test(targz, lone_zero_block_does_not_hide_entries)
{
	struct strbuf tar = { 0 };
	add_file(&tar, "a", "x");
	add_zeros(&tar, 512);
	add_file(&tar, "../evil", "x");
	add_end(&tar);
	struct result r = run_tar(&tar);
	expect_fail(&r, 400, "path escapes the archive", "entry after a lone zero block");
	sb_free(&tar);
}

static void expect_bad_name(const char *name, const char *prefix, const char *msg_part)
{
	struct strbuf tar = { 0 };
	add_file(&tar, "ok", "fine");
	add_entry(&tar, name, '0', "x", 1, NULL, prefix);
	add_end(&tar);
	struct result r = run_tar(&tar);
	expect_fail(&r, 400, msg_part, name);
	sb_free(&tar);
}

Test(targz, absolute_path)
{
	expect_bad_name("/etc/passwd", NULL, "tar entry \"/etc/passwd\": absolute path");
	expect_bad_name("x", "/abs", "absolute path");
}

Test(targz, dotdot_paths)
{
	expect_bad_name("../x", NULL, "tar entry \"../x\": path escapes the archive");
	expect_bad_name("a/../../b", NULL, "tar entry \"a/../../b\": path escapes the archive");
	expect_bad_name("..", NULL, "path escapes the archive");
	expect_bad_name("a/..", NULL, "path escapes the archive");
	expect_bad_name("a//../b", NULL, "path escapes the archive");
	expect_bad_name("../../x", "dir", "tar entry \"dir/../../x\": path escapes the archive");
	expect_bad_name("x", "../up", "tar entry \"../up/x\": path escapes the archive");
}

Test(targz, empty_name)
{
	expect_bad_name("", NULL, "empty name");
}

Test(targz, pax_path_traversal)
{
	struct strbuf tar = { 0 };
	add_pax(&tar, 'x', "path", "../../etc/cron.d/x");
	add_file(&tar, "safe", "payload");
	add_end(&tar);
	struct result r = run_tar(&tar);
	expect_fail(&r, 400, "tar entry \"../../etc/cron.d/x\": path escapes", "pax path ../");

	tar.len = 0;
	add_pax(&tar, 'x', "path", "/etc/x");
	add_file(&tar, "safe", "payload");
	add_end(&tar);
	r = run_tar(&tar);
	expect_fail(&r, 400, "absolute path", "pax absolute path");

	tar.len = 0;
	add_pax(&tar, 'g', "path", "a/../../b");
	add_file(&tar, "safe", "payload");
	add_end(&tar);
	r = run_tar(&tar);
	expect_fail(&r, 400, "path escapes", "pax global path");

	tar.len = 0;
	add_pax(&tar, 'x', "GNU.sparse.name", "../sparse");
	add_file(&tar, "safe", "payload");
	add_end(&tar);
	r = run_tar(&tar);
	expect_fail(&r, 400, "path escapes", "pax GNU.sparse.name");

	tar.len = 0;
	add_pax(&tar, 'x', "linkpath", "/etc/shadow");
	add_entry(&tar, "l", '2', NULL, 0, "ok", NULL);
	add_end(&tar);
	r = run_tar(&tar);
	expect_fail(&r, 400, "link target \"/etc/shadow\"", "pax linkpath");
	sb_free(&tar);
}

Test(targz, pax_malformed)
{
	struct strbuf tar = { 0 };
	add_entry(&tar, "PaxHeaders/x", 'x', "99 path=x\n", 10, NULL, NULL);
	add_file(&tar, "safe", "payload");
	add_end(&tar);
	struct result r = run_tar(&tar);
	expect_fail(&r, 400, "malformed pax", "pax record length beyond the data");
	sb_free(&tar);
}

Test(targz, gnu_long_name_traversal)
{
	struct strbuf tar = { 0 };
	add_longname(&tar, 'L', "../../../../tmp/owned-by-a-very-long-name");
	add_file(&tar, "safe", "payload");
	add_end(&tar);
	struct result r = run_tar(&tar);
	expect_fail(&r, 400, "path escapes the archive", "GNU long name ../");

	tar.len = 0;
	add_longname(&tar, 'K', "/etc/passwd");
	add_entry(&tar, "l", '1', NULL, 0, "ok", NULL);
	add_end(&tar);
	r = run_tar(&tar);
	expect_fail(&r, 400, "link target \"/etc/passwd\"", "GNU long link name");

	tar.len = 0;
	char *huge = xmalloc(5001);
	memset(huge, 'a', 5000);
	huge[5000] = '\0';
	add_longname(&tar, 'L', huge);
	add_file(&tar, "safe", "payload");
	add_end(&tar);
	r = run_tar(&tar);
	expect_fail(&r, 400, "GNU long name header larger", "GNU long name of 5000 bytes");
	free(huge);
	sb_free(&tar);
}

Test(targz, link_targets)
{
	struct strbuf tar = { 0 };
	add_entry(&tar, "l", '2', NULL, 0, "/etc/passwd", NULL);
	add_end(&tar);
	struct result r = run_tar(&tar);
	expect_fail(&r, 400, "tar entry \"l\": link target \"/etc/passwd\" is an absolute path",
		    "absolute symlink");

	tar.len = 0;
	add_entry(&tar, "h", '1', NULL, 0, "../x", NULL);
	add_end(&tar);
	r = run_tar(&tar);
	expect_fail(&r, 400, "escapes the archive", "hard link ../");

	tar.len = 0;
	add_entry(&tar, "h", '1', NULL, 0, "", NULL);
	add_end(&tar);
	r = run_tar(&tar);
	expect_fail(&r, 400, "is empty", "hard link to nothing");

	tar.len = 0;
	add_entry(&tar, "d/", '5', "data", 4, NULL, NULL);
	add_end(&tar);
	r = run_tar(&tar);
	expect_fail(&r, 400, "data on a link", "directory with data");
	sb_free(&tar);
}

/* ---- limits ---- */

Test(targz, bomb_refused_by_ratio, .timeout = 60)
{
	struct strbuf gz = { 0 };
	gzip_zero_bomb(&gz, 1024ULL * MiB);     /* 1 GiB of zeros, about 1 MiB of gzip */
	struct targz_limits lim = default_limits;
	lim.max_uncompressed = 0;               /* only the ratio limit */
	lim.max_ratio = 100;
	lim.ratio_floor = 1 * MiB;
	clock_t start = clock();
	struct result r = run_lim(&lim, gz.buf, gz.len, 65536);
	double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
	expect_fail(&r, 413, "expands more than 100 times", "1 GiB zero bomb");
	cr_assert(eq(int, r.failed_in_feed, 1), "refused while feeding");
	cr_assert(lt(u64, r.usize, (uint64_t)4 * MiB), "refused early, after %llu bytes",
		  (unsigned long long)r.usize);
	cr_assert(gt(u64, r.usize, (uint64_t)1 * MiB), "not before the floor (%llu bytes)",
		  (unsigned long long)r.usize);
	cr_assert(lt(dbl, secs, 2.0), "refused quickly (%.2f s)", secs);

	/* The same in one piece and with the default floor. */
	lim.ratio_floor = 0;
	r = run_lim(&lim, gz.buf, gz.len, 0);
	expect_fail(&r, 413, "expands more than", "1 GiB zero bomb in one piece");
	cr_assert(lt(u64, r.usize, (uint64_t)4 * MiB), "refused early in one piece (%llu bytes)",
		  (unsigned long long)r.usize);
	sb_free(&gz);
}

Test(targz, bomb_refused_by_max_uncompressed)
{
	struct strbuf gz = { 0 };
	gzip_zero_bomb(&gz, 10ULL * MiB);
	struct targz_limits lim = default_limits;
	lim.max_ratio = 0;
	lim.max_uncompressed = 2 * MiB;
	struct result r = run_lim(&lim, gz.buf, gz.len, 0);
	expect_fail(&r, 413, "larger than 2097152 bytes", "10 MiB of zeros, 2 MiB limit");
	cr_assert(le(u64, r.usize, (uint64_t)2 * MiB + 1), "stopped right after the limit (%llu)",
		  (unsigned long long)r.usize);
	r = run_lim(&lim, gz.buf, gz.len, 1000);
	expect_fail(&r, 413, "larger than", "10 MiB of zeros in pieces, 2 MiB limit");

	/* Without limits the whole bomb goes through: the fixture is valid gzip. */
	struct targz_limits none = { 0 };
	r = run_lim(&none, gz.buf, gz.len, 0);
	expect_ok(&r, "10 MiB of zeros without limits");
	cr_assert(eq(u64, r.usize, (uint64_t)10 * MiB + 1536), "all of it inflated");

	/* Exactly at the limit is fine. */
	struct strbuf tar = { 0 };
	add_file(&tar, "a", "x");
	add_end(&tar);
	lim.max_uncompressed = tar.len;
	sb_reset(&gz);
	gzip_of(&gz, &tar);
	r = run_lim(&lim, gz.buf, gz.len, 0);
	expect_ok(&r, "archive exactly at max_uncompressed");
	lim.max_uncompressed = tar.len - 1;
	r = run_lim(&lim, gz.buf, gz.len, 0);
	expect_fail(&r, 413, "larger than", "archive one byte above max_uncompressed");
	sb_free(&tar);
	sb_free(&gz);
}

Test(targz, default_ratio_accepts_ordinary_archives)
{
	/* 10 MiB of zeros is far beyond a ratio of 250 with the default limits. */
	struct strbuf gz = { 0 };
	gzip_zero_bomb(&gz, 10ULL * MiB);
	struct result r = run(&gz, 0);
	expect_fail(&r, 413, "expands more than 250 times", "10 MiB zero bomb, default limits");
	cr_assert(lt(u64, r.usize, (uint64_t)2 * MiB), "refused just after the 1 MiB floor");
	sb_free(&gz);

	/* Under the floor, any ratio is fine. */
	gzip_zero_bomb(&gz, 512 * 1024);
	r = run(&gz, 0);
	expect_ok(&r, "512 KiB of zeros is under the ratio floor");
	sb_free(&gz);
}

Test(targz, too_many_entries)
{
	struct strbuf tar = { 0 };
	char name[16];
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "f%d", i);
		add_file(&tar, name, "x");
	}
	add_end(&tar);
	struct strbuf gz = { 0 };
	gzip_of(&gz, &tar);
	struct targz_limits lim = default_limits;
	lim.max_entries = 4;
	struct result r = run_lim(&lim, gz.buf, gz.len, 0);
	expect_fail(&r, 413, "more than 4 entries", "5 entries, limit 4");
	lim.max_entries = 5;
	r = run_lim(&lim, gz.buf, gz.len, 0);
	expect_ok(&r, "5 entries, limit 5");
	cr_assert(eq(u64, r.entries, (uint64_t)5), "5 entries counted");
	sb_free(&tar);
	sb_free(&gz);
}
