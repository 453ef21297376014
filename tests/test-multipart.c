/* test-multipart.c - multipart/form-data read in every split of its input. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "error.h"
#include "multipart.h"
#include "util.h"

static int collect(void *ctx, const void *data, size_t len, struct appr_error *err)
{
	(void)err;
	sb_append(ctx, data, len);
	return 0;
}

/* Read body in pieces of `piece` bytes; the field "chart" into got. */
static int read_body(const char *boundary, const char *body, size_t len, size_t piece,
		     struct strbuf *got, struct appr_error *e)
{
	struct multipart *m = multipart_new(boundary, "chart", collect, got);
	int rc = 0;
	memset(e, 0, sizeof *e);
	sb_reset(got);
	for (size_t i = 0; i < len && rc == 0; i += piece)
		rc = multipart_feed(m, body + i, len - i < piece ? len - i : piece, e);
	if (rc == 0)
		rc = multipart_finish(m, e);
	if (rc == 0 && !multipart_found(m))
		rc = 1;
	multipart_free(m);
	return rc;
}

Test(multipart, boundary)
{
	char b[MULTIPART_BOUNDARY_MAX + 1];
	cr_assert(eq(int, multipart_boundary("multipart/form-data; boundary=abc123", b), 0), "plain");
	cr_assert(eq(str, b, (char *)"abc123"), "its value");
	cr_assert(eq(int, multipart_boundary("Multipart/Form-Data;charset=x; BOUNDARY=\"a b:c\"", b), 0),
		  "quoted, any case, after another parameter");
	cr_assert(eq(str, b, (char *)"a b:c"), "the quoted value");
	cr_assert(eq(int, multipart_boundary("application/json", b), -1), "not multipart");
	cr_assert(eq(int, multipart_boundary("multipart/form-data", b), -1), "no boundary");
	cr_assert(eq(int, multipart_boundary("multipart/form-data; boundary=", b), -1), "empty");
	cr_assert(eq(int, multipart_boundary("multipart/form-data; boundary=a\"b", b), -1), "a quote");
	char longb[100];
	memset(longb, 'x', sizeof longb);
	longb[99] = '\0';
	char ct[160];
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", longb);
	cr_assert(eq(int, multipart_boundary(ct, b), -1), "a boundary over 70 characters");
}

Test(multipart, every_split)
{
	/* binary data that holds near-delimiters: CR LF, "--", the boundary's prefix */
	static const char data[] = "\x1f\x8b\r\n--XY\r\n-\r\n--XY!\r\r\n-XYZ\r\n\x00--XYZ\r";
	size_t dlen = sizeof data - 1;
	struct strbuf body = { 0 }, got = { 0 };
	sb_puts(&body, "preamble --XYZ not a delimiter\r\n--XYZ\r\n"
		"Content-Disposition: form-data; name=\"prov\"; filename=\"c.prov\"\r\n\r\n"
		"signature\r\n--XYZ  \r\n"
		"Content-Type: application/octet-stream\r\n"
		"Content-Disposition: form-data; filename=\"name=x.tgz\"; name=chart\r\n\r\n");
	sb_append(&body, data, dlen);
	sb_puts(&body, "\r\n--XYZ--\r\nepilogue\r\n--XYZ\r\n");
	for (size_t piece = 1; piece <= body.len; piece++) {
		struct appr_error e;
		cr_assert(eq(int, read_body("XYZ", body.buf, body.len, piece, &got, &e), 0),
			  "pieces of %zu: %s", piece, e.msg);
		cr_assert(eq(sz, got.len, dlen), "pieces of %zu: all the field's bytes", piece);
		cr_assert(eq(int, memcmp(got.buf, data, dlen), 0), "pieces of %zu: the same bytes", piece);
	}
	sb_free(&body);
	sb_free(&got);
}

Test(multipart, refused)
{
	struct strbuf got = { 0 }, big = { 0 };
	struct appr_error e;
	static const char *const bad[] = {
		"--B\r\nContent-Disposition: form-data; name=chart\r\n\r\nabc",   /* no end */
		"--B\r\nContent-Type: x\r\n\r\nabc\r\n--B--",                    /* no name */
		"--B junk\r\n",                                                   /* not a line end */
		"--B\r\nContent-Disposition: form-data; name=chart\r\n\r\na\r\n--B\r\n"
		"Content-Disposition: form-data; name=chart\r\n\r\nb\r\n--B--",  /* twice */
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = read_body("B", bad[i], strlen(bad[i]), 3, &got, &e);
		cr_assert(eq(int, rc, -1), "refused: %s", bad[i]);
		cr_assert(eq(int, e.http, 400), "400 for: %s", bad[i]);
	}
	static const char other[] = "--B\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--B--";
	cr_assert(eq(int, read_body("B", other, sizeof other - 1, 7, &got, &e), 1),
		  "a body without the field: not found");
	sb_puts(&big, "--B\r\nX-Long: ");
	for (int i = 0; i < 9000; i++)
		sb_putc(&big, 'a');
	sb_puts(&big, "\r\n\r\n");
	cr_assert(eq(int, read_body("B", big.buf, big.len, 4096, &got, &e), -1), "headers over 8 KiB");
	cr_assert(not(eq(ptr, strstr(e.msg, "too long"), NULL)), "says so: %s", e.msg);
	sb_free(&got);
	sb_free(&big);
}
