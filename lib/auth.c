/* auth.c - password hashing (PBKDF2-SHA256), API tokens, constant-time comparison and
 * Authorization header parsing. */
#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "b64.h"

#define SALT_BYTES 16
#define KEY_BYTES 32
#define MIN_ITERATIONS 1000UL
#define MAX_ITERATIONS 10000000UL

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Decode exactly n bytes of lowercase hex from s; returns the end or NULL. */
static const char *unhex(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int k = 0; k < 2; k++) {
			char c = *s++;
			if (c >= '0' && c <= '9')
				v = v * 16 + (c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (c - 'a' + 10);
			else
				return NULL;
		}
		out[i] = (unsigned char)v;
	}
	return s;
}

static int derive(const char *password, const unsigned char *salt, unsigned long iterations,
		  unsigned char key[KEY_BYTES])
{
	digest_global_init();
	return gcry_kdf_derive(password, strlen(password), GCRY_KDF_PBKDF2, GCRY_MD_SHA256,
			       salt, SALT_BYTES, iterations, KEY_BYTES, key) ? -1 : 0;
}

int auth_password_hash(const char *password, unsigned long iterations, char out[AUTH_HASH_MAX])
{
	unsigned char salt[SALT_BYTES], key[KEY_BYTES];
	char salt_hex[2 * SALT_BYTES + 1], key_hex[2 * KEY_BYTES + 1];

	if (!iterations)
		iterations = AUTH_PBKDF2_ITERATIONS;
	if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS)
		return -1;
	digest_global_init();
	gcry_randomize(salt, sizeof salt, GCRY_STRONG_RANDOM);
	if (derive(password, salt, iterations, key) < 0)
		return -1;
	hex(salt, sizeof salt, salt_hex);
	hex(key, sizeof key, key_hex);
	snprintf(out, AUTH_HASH_MAX, "pbkdf2-sha256$%lu$%s$%s", iterations, salt_hex, key_hex);
	return 0;
}

/* Split a stored hash; returns 0 or -1 when malformed. */
static int parse_hash(const char *stored, unsigned long *iterations,
		      unsigned char salt[SALT_BYTES], unsigned char key[KEY_BYTES])
{
	static const char tag[] = "pbkdf2-sha256$";
	char *end;

	if (!stored || strncmp(stored, tag, sizeof tag - 1) != 0)
		return -1;
	stored += sizeof tag - 1;
	if (*stored < '1' || *stored > '9')
		return -1;
	*iterations = strtoul(stored, &end, 10);
	if (*end != '$' || *iterations < MIN_ITERATIONS || *iterations > MAX_ITERATIONS)
		return -1;
	const char *p = unhex(end + 1, salt, SALT_BYTES);
	if (!p || *p != '$')
		return -1;
	p = unhex(p + 1, key, KEY_BYTES);
	return p && *p == '\0' ? 0 : -1;
}

bool auth_password_check(const char *password, const char *stored)
{
	unsigned long iterations;
	unsigned char salt[SALT_BYTES], want[KEY_BYTES], got[KEY_BYTES];
	bool valid = parse_hash(stored, &iterations, salt, want) == 0;

	if (!valid) {   /* same work as a real check, then no */
		iterations = AUTH_PBKDF2_ITERATIONS;
		memset(salt, 0x5a, sizeof salt);
		memset(want, 0, sizeof want);
	}
	if (derive(password ? password : "", salt, iterations, got) < 0)
		return false;
	return auth_equal(got, want, KEY_BYTES) && valid;
}

void auth_token_hash(const char *token, char hash[DIGEST_HEX_LEN + 1])
{
	digest_global_init();
	digest_sha256_hex(token, strlen(token), hash);
}

void auth_token_new(char token[AUTH_TOKEN_LEN + 1], char hash[DIGEST_HEX_LEN + 1])
{
	unsigned char raw[32];
	digest_global_init();
	gcry_randomize(raw, sizeof raw, GCRY_STRONG_RANDOM);
	memcpy(token, AUTH_TOKEN_PREFIX, sizeof AUTH_TOKEN_PREFIX - 1);
	hex(raw, sizeof raw, token + sizeof AUTH_TOKEN_PREFIX - 1);
	auth_token_hash(token, hash);
}

bool auth_token_shaped(const char *s)
{
	unsigned char raw[32];
	if (!s || strncmp(s, AUTH_TOKEN_PREFIX, sizeof AUTH_TOKEN_PREFIX - 1) != 0)
		return false;
	const char *end = unhex(s + sizeof AUTH_TOKEN_PREFIX - 1, raw, sizeof raw);
	return end && *end == '\0';
}

bool auth_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(x[i] ^ y[i]);
	return diff == 0;
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

int auth_parse_header(const char *value, struct auth_credentials *out)
{
	memset(out, 0, sizeof *out);
	if (!value)
		return 0;
	while (*value == ' ' || *value == '\t')
		value++;
	if (!*value)
		return 0;
	const char *sp = strchr(value, ' ');
	if (!sp)
		return -1;
	size_t scheme_len = (size_t)(sp - value);
	const char *arg = sp;
	while (*arg == ' ')
		arg++;
	size_t len = strlen(arg);
	while (len && (arg[len - 1] == ' ' || arg[len - 1] == '\t'))
		len--;
	if (!len || !printable(arg, len))
		return -1;

	if (scheme_len == 6 && strncasecmp(value, "Bearer", 6) == 0) {
		if (len >= sizeof out->secret || memchr(arg, ' ', len))
			return -1;
		memcpy(out->secret, arg, len);
		out->scheme = AUTH_BEARER;
		return 0;
	}
	if (scheme_len == 5 && strncasecmp(value, "Basic", 5) == 0) {
		unsigned char buf[sizeof out->user + sizeof out->secret + 16];
		struct b64_decoder d;
		if (len > B64_ENCODED_LEN(sizeof out->user + sizeof out->secret))
			return -1;
		b64_decoder_init(&d);
		ssize_t n = b64_decode_update(&d, arg, len, buf);
		ssize_t m = n < 0 ? -1 : b64_decode_final(&d, buf + n);
		if (n < 0 || m < 0)
			return -1;
		size_t total = (size_t)(n + m);
		const unsigned char *colon = memchr(buf, ':', total);
		if (!colon || colon == buf)
			return -1;
		size_t ulen = (size_t)(colon - buf), slen = total - ulen - 1;
		if (ulen >= sizeof out->user || slen >= sizeof out->secret ||
		    !printable((const char *)buf, total) || memchr(buf, '\0', total))
			return -1;
		memcpy(out->user, buf, ulen);
		memcpy(out->secret, colon + 1, slen);
		out->scheme = AUTH_BASIC;
		return 0;
	}
	return -1;
}

int auth_token_mint(struct storage *s, struct storage_token *t, char id[AUTH_TOKEN_ID_LEN + 1],
		    char token[AUTH_TOKEN_LEN + 1], struct appr_error *err)
{
	unsigned char raw[AUTH_TOKEN_ID_LEN / 2];
	gcry_create_nonce(raw, sizeof raw);
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	t->id = id;
	util_utc_now(t->created_at);
	auth_token_new(token, t->hash);
	return storage_token_add(s, t, err);
}

static const char *const level_names[] = { "none", "read", "write", "admin" };

const char *auth_level_name(enum storage_level level)
{
	if ((int)level < 0 || (size_t)level >= sizeof level_names / sizeof level_names[0])
		return "none";
	return level_names[level];
}

int auth_level_parse(const char *s, enum storage_level *out)
{
	for (size_t i = 0; s && i < sizeof level_names / sizeof level_names[0]; i++)
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum storage_level)i;
			return 0;
		}
	return -1;
}
