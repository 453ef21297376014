/* auth.h - credentials: password hashing (PBKDF2-SHA256, libgcrypt), API tokens (random,
 * stored only as SHA-256), constant-time comparison, and parsing the Authorization
 * header (Bearer and Basic), permission level names, and minting a stored token (the
 * one place that knows storage: used by the responder and appr-admin alike). */
#ifndef APPR_AUTH_H
#define APPR_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"
#include "storage.h"

/* Password hashes are self-describing strings:
 *     pbkdf2-sha256$<iterations>$<salt, 16 bytes, hex>$<key, 32 bytes, hex>
 * so the cost can be raised later without invalidating stored hashes. The default
 * cost is AUTH_PBKDF2_ITERATIONS (40-60 ms per check on the 2-core test machines). */
#define AUTH_PBKDF2_ITERATIONS 100000
#define AUTH_HASH_MAX 160            /* room for a hash string with its NUL */

/* Hash password with a fresh random salt and `iterations` (0 = the default) into out.
 * Returns 0, or -1 (libgcrypt failure, iterations out of range). */
int auth_password_hash(const char *password, unsigned long iterations, char out[AUTH_HASH_MAX]);

/* Whether password matches stored. A NULL or malformed stored hash never matches but
 * costs the same as a real check at the default cost (so a missing user and a wrong
 * password take the same time: pass NULL for a user that does not exist). */
bool auth_password_check(const char *password, const char *stored);

/* API tokens: "appr_" + 64 hex characters (32 random bytes from libgcrypt's strong
 * generator). Only their SHA-256 (hex) is stored; the token itself is shown once. */
#define AUTH_TOKEN_PREFIX "appr_"
#define AUTH_TOKEN_LEN (5 + 64)
/* A new token in token and its stored form (SHA-256 hex of the whole token) in hash. */
void auth_token_new(char token[AUTH_TOKEN_LEN + 1], char hash[DIGEST_HEX_LEN + 1]);
/* The stored form of a presented token. */
void auth_token_hash(const char *token, char hash[DIGEST_HEX_LEN + 1]);
/* Whether s has the shape of a token (prefix + 64 lowercase hex). */
bool auth_token_shaped(const char *s);

/* Mint a token for t->user (t->namespace, t->scope, t->expires_at set by the caller)
 * and store it in s: fills t->id (16 hex characters, written to id), t->created_at
 * and t->hash, and writes the token itself to token (to be shown once). Returns 0,
 * or -1 with err filled (404 when the user is absent). */
#define AUTH_TOKEN_ID_LEN 16
int auth_token_mint(struct storage *s, struct storage_token *t, char id[AUTH_TOKEN_ID_LEN + 1],
		    char token[AUTH_TOKEN_LEN + 1], struct appr_error *err);

/* Permission level names: "none", "read", "write", "admin" ("none" for a value out
 * of range). */
const char *auth_level_name(enum storage_level level);
/* Parse a level name (case-insensitive) into *out; -1 when unknown. */
int auth_level_parse(const char *s, enum storage_level *out);

/* Compare n bytes without data-dependent timing. */
bool auth_equal(const void *a, const void *b, size_t n);

/* A parsed Authorization header. */
enum auth_scheme { AUTH_NONE, AUTH_BEARER, AUTH_BASIC };
struct auth_credentials {
	enum auth_scheme scheme;
	char user[128];              /* Basic: the user name */
	char secret[512];            /* Bearer: the token; Basic: the password or a token */
};

/* Parse an Authorization header value: "Bearer <token>" or "Basic <base64 user:secret>"
 * (scheme names case-insensitive, as HTTP says). NULL or "" gives AUTH_NONE and 0.
 * Returns -1 for anything malformed (unknown scheme, bad base64, no ':', control
 * characters, too long): the caller answers 401. */
int auth_parse_header(const char *value, struct auth_credentials *out);

#endif
