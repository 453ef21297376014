/* b64.c - base64 (RFC 4648, standard alphabet): table-driven encoding and streaming decoding. */
#include <string.h>

#include "b64.h"

static const char enc_table[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decoding classes above the 6-bit values: any of them has bit 6 or 7 set. */
#define D_WS  0x40
#define D_PAD 0x41
#define D_BAD 0xff

/* Built by hand so it needs no initialisation at run time. */
#define B8 D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD
static const unsigned char dec_table[256] = {
	D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD,    /* 0x00 */
	D_BAD, D_WS,  D_WS,  D_BAD, D_BAD, D_WS,  D_BAD, D_BAD,    /* \t \n \r */
	D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD,    /* 0x10 */
	D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD,
	D_WS,  D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD,    /* space */
	D_BAD, D_BAD, D_BAD, 62,    D_BAD, D_BAD, D_BAD, 63,       /* + / */
	52, 53, 54, 55, 56, 57, 58, 59,                            /* 0-7 */
	60, 61, D_BAD, D_BAD, D_BAD, D_PAD, D_BAD, D_BAD,          /* 8 9 = */
	D_BAD, 0, 1, 2, 3, 4, 5, 6,                                /* @ A-G */
	7, 8, 9, 10, 11, 12, 13, 14,                               /* H-O */
	15, 16, 17, 18, 19, 20, 21, 22,                            /* P-W */
	23, 24, 25, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD,             /* X-Z */
	D_BAD, 26, 27, 28, 29, 30, 31, 32,                         /* a-g */
	33, 34, 35, 36, 37, 38, 39, 40,                            /* h-o */
	41, 42, 43, 44, 45, 46, 47, 48,                            /* p-w */
	49, 50, 51, D_BAD, D_BAD, D_BAD, D_BAD, D_BAD,             /* x-z */
	/* 0x80-0xff: all invalid */
	B8, B8, B8, B8, B8, B8, B8, B8, B8, B8, B8, B8, B8, B8, B8, B8,
};
#undef B8

/* Encode len bytes into out (room for B64_ENCODED_LEN(len) + 1), NUL-terminated.
 * Returns the encoded length. */
size_t b64_encode(const void *in, size_t len, char *out)
{
	const unsigned char *p = in;
	char *o = out;
	size_t i = 0;

	for (; i + 3 <= len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		o[0] = enc_table[v >> 18];
		o[1] = enc_table[(v >> 12) & 63];
		o[2] = enc_table[(v >> 6) & 63];
		o[3] = enc_table[v & 63];
		o += 4;
	}
	if (len - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		o[0] = enc_table[v >> 18];
		o[1] = enc_table[(v >> 12) & 63];
		o[2] = '=';
		o[3] = '=';
		o += 4;
	} else if (len - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		o[0] = enc_table[v >> 18];
		o[1] = enc_table[(v >> 12) & 63];
		o[2] = enc_table[(v >> 6) & 63];
		o[3] = '=';
		o += 4;
	}
	*o = '\0';
	return (size_t)(o - out);
}

/* Start a new decoding. */
void b64_decoder_init(struct b64_decoder *d)
{
	memset(d, 0, sizeof *d);
}

/* Write the bytes of the n (2..4) values held in d->quad; returns how many. */
static size_t flush_quad(const struct b64_decoder *d, int n, unsigned char *out)
{
	unsigned v = (unsigned)d->quad[0] << 18 | (unsigned)d->quad[1] << 12 |
		     (unsigned)d->quad[2] << 6 | d->quad[3];
	out[0] = (unsigned char)(v >> 16);
	if (n == 2)
		return 1;
	out[1] = (unsigned char)(v >> 8);
	if (n == 3)
		return 2;
	out[2] = (unsigned char)v;
	return 3;
}

/*
 * d->pad: 0 = no '=' seen; 1 = one '=' seen after two characters (one more must
 * follow); 2 = padding complete. Once pad is set, only '=' (while pad is 1) and
 * whitespace may follow. Writes at most (len / 4 + 1) * 3 bytes: at most 3
 * characters are held from earlier calls, so len new characters complete at most
 * (len + 3) / 4 groups.
 */
ssize_t b64_decode_update(struct b64_decoder *d, const char *in, size_t len, unsigned char *out)
{
	const unsigned char *p = (const unsigned char *)in;
	const unsigned char *end = p + len;
	unsigned char *o = out;

	if (d->failed)
		return -1;
	while (p < end) {
		/* Fast path: whole groups of four data characters. */
		if (d->n == 0 && !d->pad) {
			while (end - p >= 4) {
				unsigned a = dec_table[p[0]], b = dec_table[p[1]];
				unsigned c = dec_table[p[2]], e = dec_table[p[3]];
				if ((a | b | c | e) & 0xc0)
					break;
				unsigned v = a << 18 | b << 12 | c << 6 | e;
				o[0] = (unsigned char)(v >> 16);
				o[1] = (unsigned char)(v >> 8);
				o[2] = (unsigned char)v;
				o += 3;
				p += 4;
			}
			if (p == end)
				break;
		}
		unsigned char c = dec_table[*p++];
		if (c == D_WS)
			continue;
		if (c == D_BAD)
			goto fail;
		if (c == D_PAD) {
			if (d->pad == 1) {
				d->pad = 2;
			} else if (d->pad == 2 || d->n < 2) {
				goto fail;     /* too much padding, or '=' too early */
			} else {
				d->quad[d->n] = 0;
				if (d->n == 2)
					d->quad[3] = 0;
				o += flush_quad(d, d->n, o);
				d->pad = d->n == 2 ? 1 : 2;
				d->n = 0;
			}
			continue;
		}
		if (d->pad)
			goto fail;             /* data after padding */
		d->quad[d->n++] = c;
		if (d->n == 4) {
			o += flush_quad(d, 4, o);
			d->n = 0;
		}
	}
	return (ssize_t)(o - out);
fail:
	d->failed = 1;
	return -1;
}

/* Finish: an unpadded tail of 2 or 3 characters gives 1 or 2 bytes; a single
 * dangling character or half of a "==" padding is an error. */
ssize_t b64_decode_final(struct b64_decoder *d, unsigned char *out)
{
	if (d->failed || d->n == 1 || d->pad == 1) {
		d->failed = 1;
		return -1;
	}
	if (d->n == 0)
		return 0;
	int n = d->n;
	for (int i = n; i < 4; i++)
		d->quad[i] = 0;
	d->n = 0;
	d->pad = 2;    /* nothing may follow */
	return (ssize_t)flush_quad(d, n, out);
}
