/* digest.h - SHA-256 through libgcrypt, as lowercase hex. */
#ifndef APPR_DIGEST_H
#define APPR_DIGEST_H

#include <stddef.h>

#define DIGEST_HEX_LEN 64

/* Initialise libgcrypt once per process (idempotent; call before threads if any). */
void digest_global_init(void);

struct digest_ctx;     /* opaque, owns a gcry_md_hd_t */
struct digest_ctx *digest_new(void);          /* aborts on failure */
void digest_update(struct digest_ctx *d, const void *data, size_t len);
/* Write the 64 hex chars + NUL of the digest; the context may not be updated after. */
void digest_final_hex(struct digest_ctx *d, char out[DIGEST_HEX_LEN + 1]);
void digest_free(struct digest_ctx *d);       /* NULL is a no-op */

/* One-shot convenience. */
void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_HEX_LEN + 1]);

#endif
