/* test-b64.c - base64 encoding and streaming decoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "b64.h"

/* Deterministic pseudo-random bytes (xorshift32). */
static void fill_random(unsigned char *p, size_t n, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

/* Room promised by b64_decode_update for len characters, allocated exactly so
 * that AddressSanitizer catches any write beyond it. */
static unsigned char *out_for(size_t len)
{
	return malloc((len / 4 + 1) * 3);
}

/* Decode s in pieces of at most chunk characters (0 = all at once). Returns the
 * decoded length or -1; out must hold strlen(s) bytes. */
static ssize_t decode_chunked(const char *s, size_t chunk, unsigned char *out)
{
	struct b64_decoder d;
	size_t len = strlen(s), off = 0, total = 0;

	b64_decoder_init(&d);
	if (!chunk)
		chunk = len ? len : 1;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		unsigned char *tmp = out_for(n);
		ssize_t r = b64_decode_update(&d, s + off, n, tmp);
		if (r >= 0) {
			cr_assert(le(sz, (size_t)r, (n / 4 + 1) * 3), "decode writes within the promise");
			memcpy(out + total, tmp, (size_t)r);
			total += (size_t)r;
		}
		free(tmp);
		if (r < 0)
			return -1;
		off += n;
	}
	unsigned char tail[3];
	ssize_t r = b64_decode_final(&d, tail);
	if (r < 0)
		return -1;
	memcpy(out + total, tail, (size_t)r);
	return (ssize_t)(total + (size_t)r);
}

Test(b64, rfc4648_vectors)
{
	static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const want[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					    "Zm9vYmFy" };
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		char out[16];
		size_t n = b64_encode(in[i], strlen(in[i]), out);
		cr_assert(eq(sz, n, strlen(want[i])), "encoded length of \"%s\"", in[i]);
		cr_assert(eq(str, out, (char *)want[i]), "encoding of \"%s\"", in[i]);
		cr_assert(eq(sz, n, (size_t)B64_ENCODED_LEN(strlen(in[i]))), "B64_ENCODED_LEN(%zu)",
			  strlen(in[i]));

		unsigned char dec[16];
		ssize_t r = decode_chunked(want[i], 0, dec);
		cr_assert(eq(long, (long)r, (long)strlen(in[i])), "decoded length of \"%s\"", want[i]);
		cr_assert(eq(int, memcmp(dec, in[i], strlen(in[i])), 0), "decoding of \"%s\"", want[i]);
	}
}

Test(b64, all_bytes_encode)
{
	unsigned char in[256];
	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	char out[B64_ENCODED_LEN(256) + 1];
	b64_encode(in, 3, out);
	cr_assert(eq(str, out, (char *)"AAEC"), "encoding of 00 01 02");
	b64_encode(in + 0xfb, 3, out);
	cr_assert(eq(str, out, (char *)"+/z9"), "encoding of fb fc fd uses + and /");
	size_t n = b64_encode(in, 256, out);
	unsigned char back[256 + 3];
	cr_assert(eq(long, (long)decode_chunked(out, 0, back), 256L), "256 bytes round trip length");
	cr_assert(eq(int, memcmp(back, in, 256), 0), "256 bytes round trip content");
	cr_assert(eq(sz, n, (size_t)344), "encoded length of 256 bytes");
}

Test(b64, round_trip_lengths_0_to_64)
{
	for (size_t len = 0; len <= 64; len++) {
		unsigned char in[64], back[64 + 3];
		char enc[B64_ENCODED_LEN(64) + 1];
		fill_random(in, len, (uint32_t)(len * 7919 + 1));
		size_t n = b64_encode(in, len, enc);
		cr_assert(eq(sz, n, strlen(enc)), "NUL after the encoding of %zu bytes", len);
		cr_assert(eq(sz, n, (size_t)B64_ENCODED_LEN(len)), "encoded length of %zu bytes", len);
		ssize_t r = decode_chunked(enc, 0, back);
		cr_assert(eq(long, (long)r, (long)len), "decoded length of %zu bytes", len);
		cr_assert(eq(int, memcmp(back, in, len), 0), "round trip of %zu bytes", len);
	}
}

Test(b64, encode_in_chunks_of_multiples_of_3)
{
	unsigned char in[100];
	char whole[B64_ENCODED_LEN(100) + 1], parts[B64_ENCODED_LEN(100) + 1];
	fill_random(in, sizeof in, 42);
	b64_encode(in, sizeof in, whole);
	size_t o = b64_encode(in, 33, parts);
	o += b64_encode(in + 33, 45, parts + o);
	b64_encode(in + 78, 22, parts + o);
	cr_assert(eq(str, parts, whole), "chunked encoding equals one-shot encoding");
}

Test(b64, decode_every_split_point)
{
	unsigned char in[64], back[64 + 8];
	char enc[B64_ENCODED_LEN(64) + 1];

	for (size_t len = 61; len <= 64; len++) {   /* 0, 1 and 2 padding characters */
		fill_random(in, len, (uint32_t)len);
		size_t n = b64_encode(in, len, enc);
		for (size_t split = 0; split <= n; split++) {
			struct b64_decoder d;
			b64_decoder_init(&d);
			unsigned char *o1 = out_for(split), *o2 = out_for(n - split);
			ssize_t r1 = b64_decode_update(&d, enc, split, o1);
			ssize_t r2 = b64_decode_update(&d, enc + split, n - split, o2);
			cr_assert(ge(long, (long)r1, 0L), "first part up to %zu of %zu", split, n);
			cr_assert(ge(long, (long)r2, 0L), "second part from %zu of %zu", split, n);
			memcpy(back, o1, (size_t)r1);
			memcpy(back + r1, o2, (size_t)r2);
			ssize_t r3 = b64_decode_final(&d, back + r1 + r2);
			cr_assert(eq(long, (long)r3, 0L), "nothing left at the end of padded input");
			cr_assert(eq(long, (long)(r1 + r2), (long)len), "split at %zu: length", split);
			cr_assert(eq(int, memcmp(back, in, len), 0), "split at %zu: content", split);
			free(o1);
			free(o2);
		}
	}
}

Test(b64, decode_one_char_at_a_time)
{
	unsigned char in[50], back[50 + 8];
	char enc[B64_ENCODED_LEN(50) + 1];
	fill_random(in, sizeof in, 9);
	b64_encode(in, sizeof in, enc);
	ssize_t r = decode_chunked(enc, 1, back);
	cr_assert(eq(long, (long)r, 50L), "1-char chunks: length");
	cr_assert(eq(int, memcmp(back, in, 50), 0), "1-char chunks: content");
	r = decode_chunked(enc, 5, back);
	cr_assert(eq(long, (long)r, 50L), "5-char chunks: length");
	cr_assert(eq(int, memcmp(back, in, 50), 0), "5-char chunks: content");
}

Test(b64, whitespace_anywhere)
{
	unsigned char out[32];
	ssize_t r = decode_chunked(" Zm9v\nYmFy\r\n", 0, out);
	cr_assert(eq(long, (long)r, 6L), "newlines and spaces: length");
	cr_assert(eq(int, memcmp(out, "foobar", 6), 0), "newlines and spaces: content");
	r = decode_chunked("Z\tm 9\rv\nY g = =\n", 3, out);
	cr_assert(eq(long, (long)r, 4L), "whitespace inside groups and padding: length");
	cr_assert(eq(int, memcmp(out, "foob", 4), 0), "whitespace inside groups and padding: content");
	r = decode_chunked(" \n\t\r", 1, out);
	cr_assert(eq(long, (long)r, 0L), "only whitespace decodes to nothing");
}

Test(b64, missing_padding)
{
	unsigned char out[16];
	ssize_t r = decode_chunked("Zg", 0, out);
	cr_assert(eq(long, (long)r, 1L), "\"Zg\" gives 1 byte");
	cr_assert(eq(int, out[0], 'f'), "\"Zg\" gives f");
	r = decode_chunked("Zm8", 1, out);
	cr_assert(eq(long, (long)r, 2L), "\"Zm8\" gives 2 bytes");
	cr_assert(eq(int, memcmp(out, "fo", 2), 0), "\"Zm8\" gives fo");
	r = decode_chunked("Zm9vYmE\n", 0, out);
	cr_assert(eq(long, (long)r, 5L), "\"Zm9vYmE\" gives 5 bytes");
	cr_assert(eq(int, memcmp(out, "fooba", 5), 0), "\"Zm9vYmE\" gives fooba");
}

Test(b64, invalid_characters)
{
	static const char *const bad[] = { "Zm9v!", "Zm-v", "Zm_v", "Zm9v\x80", "Zm.9", "Zm9v\v",
					   "Zm9v\f" };
	unsigned char out[16];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert(eq(long, (long)decode_chunked(bad[i], 0, out), -1L),
			  "invalid input #%zu refused", i);

	/* A NUL byte inside the input is not a base64 character either. */
	struct b64_decoder d;
	b64_decoder_init(&d);
	cr_assert(eq(long, (long)b64_decode_update(&d, "Zm\0v", 4, out), -1L), "NUL refused");
}

Test(b64, every_byte_value_classified)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (int c = 0; c < 256; c++) {
		struct b64_decoder d;
		unsigned char out[8];
		char in[4] = { 'A', 'A', 'A', (char)c };
		b64_decoder_init(&d);
		ssize_t r = b64_decode_update(&d, in, 4, out);
		const char *pos = c ? memchr(alpha, c, 64) : NULL;
		if (pos) {
			cr_assert(eq(long, (long)r, 3L), "char %d is base64", c);
			cr_assert(eq(int, out[2], (int)(pos - alpha)), "char %d has value %d", c,
				  (int)(pos - alpha));
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '=') {
			cr_assert(ge(long, (long)r, 0L), "char %d is whitespace or padding", c);
		} else {
			cr_assert(eq(long, (long)r, -1L), "char %d refused", c);
		}
	}
}

Test(b64, data_after_padding)
{
	unsigned char out[32];
	cr_assert(eq(long, (long)decode_chunked("Zg==Zg==", 0, out), -1L), "Zg==Zg== refused");
	cr_assert(eq(long, (long)decode_chunked("Zm8=Zg", 1, out), -1L), "Zm8=Zg refused");
	cr_assert(eq(long, (long)decode_chunked("Zm8= \nA", 0, out), -1L),
		  "data after padding and whitespace refused");
	cr_assert(eq(long, (long)decode_chunked("Zg===", 0, out), -1L), "too much padding refused");
	cr_assert(eq(long, (long)decode_chunked("Zm8==", 0, out), -1L),
		  "two '=' after three characters refused");
	cr_assert(eq(long, (long)decode_chunked("Zg==\n \n", 2, out), 1L),
		  "whitespace after padding accepted");
}

Test(b64, padding_too_early)
{
	unsigned char out[32];
	cr_assert(eq(long, (long)decode_chunked("=", 0, out), -1L), "lone = refused");
	cr_assert(eq(long, (long)decode_chunked("Z===", 0, out), -1L), "Z=== refused");
	cr_assert(eq(long, (long)decode_chunked("Zm9v=", 0, out), -1L), "= after a full group refused");
	cr_assert(eq(long, (long)decode_chunked("Zg=x", 0, out), -1L), "Zg=x refused");
	cr_assert(eq(long, (long)decode_chunked("Zg=", 0, out), -1L), "half of == padding refused");
}

Test(b64, dangling_character)
{
	unsigned char out[32];
	cr_assert(eq(long, (long)decode_chunked("Zm9vY", 0, out), -1L), "Zm9vY refused");
	cr_assert(eq(long, (long)decode_chunked("Z", 0, out), -1L), "Z refused");
	cr_assert(eq(long, (long)decode_chunked("Zm9v Y \n", 1, out), -1L),
		  "dangling char with whitespace refused");
}

Test(b64, failure_is_sticky)
{
	struct b64_decoder d;
	unsigned char out[16];
	b64_decoder_init(&d);
	cr_assert(eq(long, (long)b64_decode_update(&d, "Zm!v", 4, out), -1L), "invalid input");
	cr_assert(eq(long, (long)b64_decode_update(&d, "Zm9v", 4, out), -1L),
		  "valid input after a failure still fails");
	cr_assert(eq(long, (long)b64_decode_final(&d, out), -1L), "final after a failure fails");
}

Test(b64, output_bound_holds_with_held_characters)
{
	/* 3 characters held, then 1: completes one group from a 1-character call. */
	struct b64_decoder d;
	b64_decoder_init(&d);
	unsigned char *o = out_for(3);
	ssize_t r = b64_decode_update(&d, "Zm9", 3, o);
	cr_assert(eq(long, (long)r, 0L), "3 characters held");
	free(o);
	o = out_for(1);
	r = b64_decode_update(&d, "v", 1, o);
	cr_assert(eq(long, (long)r, 3L), "group completed by one character");
	cr_assert(eq(int, memcmp(o, "foo", 3), 0), "group content");
	free(o);
	o = out_for(7);
	r = b64_decode_update(&d, "Zm9vYmF", 7, o);
	cr_assert(eq(long, (long)r, 3L), "one group of 7 characters");
	free(o);
	unsigned char tail[3];
	r = b64_decode_final(&d, tail);
	cr_assert(eq(long, (long)r, 2L), "unpadded tail of 3 characters");
	cr_assert(eq(int, memcmp(tail, "ba", 2), 0), "tail content");
}
