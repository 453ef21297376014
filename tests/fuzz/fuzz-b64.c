/* fuzz-b64.c - libFuzzer target: the streaming base64 decoder, fed in pieces whose
 * sizes come from the input, must agree with a one-shot decode; and decoding what
 * b64_encode wrote gives the bytes back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode in pieces of the given size; returns the decoded length or -1. */
static ssize_t decode(const char *in, size_t len, size_t piece, unsigned char *out)
{
	struct b64_decoder d;
	ssize_t total = 0;
	b64_decoder_init(&d);
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		ssize_t r = b64_decode_update(&d, in + off, n, out + total);
		if (r < 0)
			return -1;
		total += r;
	}
	ssize_t r = b64_decode_final(&d, out + total);
	return r < 0 ? -1 : total + r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t piece = (size_t)data[0] % 17 + 1;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;

	unsigned char *a = malloc(len / 4 * 3 + 8 + len), *b = malloc(len / 4 * 3 + 8 + len);
	ssize_t la = decode(in, len, len ? len : 1, a);
	ssize_t lb = decode(in, len, piece, b);
	if (la != lb || (la > 0 && memcmp(a, b, (size_t)la) != 0))
		abort();   /* piece boundaries must not change the result */

	char *enc = malloc(B64_ENCODED_LEN(len) + 1);
	size_t el = b64_encode(in, len, enc);
	if (el != B64_ENCODED_LEN(len) || enc[el] != '\0')
		abort();
	unsigned char *back = malloc(len + 8);
	ssize_t bl = decode(enc, el, piece, back);
	if (bl != (ssize_t)len || memcmp(back, in, len) != 0)
		abort();   /* round trip */
	free(a);
	free(b);
	free(enc);
	free(back);
	return 0;
}
