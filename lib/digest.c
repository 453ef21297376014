/* digest.c - SHA-256 through libgcrypt, rendered as lowercase hex. */
#include <stdio.h>
#include <stdlib.h>

#include <gcrypt.h>

#include "digest.h"
#include "util.h"

struct digest_ctx {
	gcry_md_hd_t md;
};

static int digest_initialised;

/* Initialise libgcrypt once: version check, no secure memory, initialisation
 * finished. Idempotent; not thread safe, so call it before starting threads. */
void digest_global_init(void)
{
	if (digest_initialised)
		return;
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		if (!gcry_check_version(NULL)) {
			fprintf(stderr, "appr: libgcrypt initialisation failed\n");
			abort();
		}
		gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	digest_initialised = 1;
}

/* A fresh SHA-256 context, owned by the caller (digest_free). Aborts on failure. */
struct digest_ctx *digest_new(void)
{
	digest_global_init();
	struct digest_ctx *d = xmalloc(sizeof *d);
	gcry_error_t e = gcry_md_open(&d->md, GCRY_MD_SHA256, 0);
	if (e) {
		fprintf(stderr, "appr: gcry_md_open: %s\n", gcry_strerror(e));
		abort();
	}
	return d;
}

/* Hash len more bytes. */
void digest_update(struct digest_ctx *d, const void *data, size_t len)
{
	if (len)
		gcry_md_write(d->md, data, len);
}

/* Write the 64 lowercase hex characters and a NUL to out. */
void digest_final_hex(struct digest_ctx *d, char out[DIGEST_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *h = gcry_md_read(d->md, GCRY_MD_SHA256);
	for (int i = 0; i < DIGEST_HEX_LEN / 2; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 0x0f];
	}
	out[DIGEST_HEX_LEN] = '\0';
}

/* Release the context; NULL is a no-op. */
void digest_free(struct digest_ctx *d)
{
	if (!d)
		return;
	gcry_md_close(d->md);
	free(d);
}

/* SHA-256 of one buffer as hex. */
void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_HEX_LEN + 1])
{
	struct digest_ctx *d = digest_new();
	digest_update(d, data, len);
	digest_final_hex(d, out);
	digest_free(d);
}
