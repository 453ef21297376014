/* fuzz-targz.c - libFuzzer target: the streaming gunzip + tar checker on arbitrary
 * bytes, fed in pieces whose size comes from the input, under small limits. Whatever
 * comes in, it must end in 0 or a 400/413 error, never past its limits, and give the
 * same answer however the input is split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "targz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run(const uint8_t *in, size_t len, size_t piece, char digest[DIGEST_HEX_LEN + 1],
	       struct appr_error *err)
{
	const struct targz_limits lim = {
		.max_uncompressed = 4 << 20, .max_ratio = 250, .ratio_floor = 64 << 10,
		.max_entries = 64,
	};
	struct targz *t = targz_new(&lim);
	int rc = 0;
	for (size_t off = 0; off < len && rc == 0; off += piece)
		rc = targz_feed(t, in + off, len - off < piece ? len - off : piece, err);
	if (rc == 0)
		rc = targz_finish(t, digest, err);
	if (targz_uncompressed_size(t) > (4u << 20) + 65536 || targz_entry_count(t) > 65)
		abort();   /* a limit was overrun by more than one chunk */
	targz_free(t);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t piece = (size_t)data[0] * 7 + 1;
	char d1[DIGEST_HEX_LEN + 1] = "", d2[DIGEST_HEX_LEN + 1] = "";
	struct appr_error e1 = { 0 }, e2 = { 0 };
	int r1 = run(data + 1, size - 1, size, d1, &e1);
	int r2 = run(data + 1, size - 1, piece, d2, &e2);
	if (r1 != r2 || (r1 == 0 && strcmp(d1, d2) != 0))
		abort();   /* splitting the input changed the verdict or the digest */
	if (r1 < 0 && e1.http != 400 && e1.http != 413)
		abort();   /* bad input is a 400 or a 413, nothing else */
	return 0;
}
