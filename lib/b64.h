/* b64.h - base64 (RFC 4648, standard alphabet): one-shot encoding, streaming decoding. */
#ifndef APPR_B64_H
#define APPR_B64_H

#include <stddef.h>
#include <sys/types.h>

/* Length of the encoding of n bytes, padded, without NUL. */
#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode len bytes into out (room for B64_ENCODED_LEN(len) + 1; NUL-terminated).
 * Returns the encoded length. Chunks of a stream may be encoded separately as long
 * as every chunk but the last has a length that is a multiple of 3. */
size_t b64_encode(const void *in, size_t len, char *out);

/* Streaming decoder: whitespace (space, \t, \r, \n) is skipped anywhere; '='
 * padding is accepted only at the end, complete ("Zg==") or absent ("Zg"),
 * never half ("Zg="); any
 * other character, data after padding, or a dangling single character is an error. */
struct b64_decoder {
	unsigned char quad[4];
	int n;       /* characters held in quad */
	int pad;     /* '=' seen: only '=' and whitespace may follow */
	int failed;
};
void b64_decoder_init(struct b64_decoder *d);

/* Decode len characters; writes at most (len / 4 + 1) * 3 bytes to out.
 * Returns the number of bytes written, or -1 on invalid input (the decoder then
 * stays failed). */
ssize_t b64_decode_update(struct b64_decoder *d, const char *in, size_t len, unsigned char *out);

/* Finish: writes the last 0-2 bytes of an unpadded tail to out (room for 3).
 * Returns the bytes written, or -1 if the input ended mid-group invalidly. */
ssize_t b64_decode_final(struct b64_decoder *d, unsigned char *out);

#endif
