/* fuzz-multipart.c - libFuzzer target: a multipart/form-data body read in pieces whose
 * size comes from the input must give the same field bytes and the same verdict as
 * the same body read whole. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "multipart.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int collect(void *ctx, const void *d, size_t len, struct appr_error *err)
{
	(void)err;
	sb_append(ctx, d, len);
	return 0;
}

static int read_body(const char *body, size_t len, size_t piece, struct strbuf *got)
{
	struct appr_error e = { 0 };
	struct multipart *m = multipart_new("XyZ", "chart", collect, got);
	int rc = 0;
	for (size_t i = 0; i < len && rc == 0; i += piece)
		rc = multipart_feed(m, body + i, len - i < piece ? len - i : piece, &e);
	if (rc == 0)
		rc = multipart_finish(m, &e) == 0 && multipart_found(m) ? 0 : 1;
	if (rc < 0 && (e.http != 400 || !e.msg[0]))
		abort();                         /* a refusal is a 400 with a message */
	multipart_free(m);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t piece = (size_t)data[0] % 23 + 1;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	struct strbuf a = { 0 }, b = { 0 };
	int ra = read_body(body, len, len ? len : 1, &a);
	int rb = read_body(body, len, piece, &b);
	/* a failure may stop a piecewise read earlier: compare complete reads only */
	if (ra != rb || (ra == 0 && (a.len != b.len || (a.len && memcmp(a.buf, b.buf, a.len)))))
		abort();
	sb_free(&a);
	sb_free(&b);
	return 0;
}
