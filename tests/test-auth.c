/* test-auth.c - password hashes, tokens, constant-time comparison, Authorization parsing. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>
#include <time.h>

#include "auth.h"

Test(auth, password_round_trip)
{
	char h[AUTH_HASH_MAX], h2[AUTH_HASH_MAX];
	cr_assert(eq(int, auth_password_hash("s3cret", 1000, h), 0), "hash");
	cr_assert(eq(int, strncmp(h, "pbkdf2-sha256$1000$", 19), 0), "self-describing: %s", h);
	cr_assert(auth_password_check("s3cret", h), "the right password matches");
	cr_assert(not(auth_password_check("s3cret ", h)), "a different password does not");
	cr_assert(not(auth_password_check("", h)), "the empty password does not");
	cr_assert(eq(int, auth_password_hash("s3cret", 1000, h2), 0), "hash again");
	cr_assert(not(eq(str, h, h2)), "fresh salt each time");
	cr_assert(auth_password_check("s3cret", h2), "both verify");
}

Test(auth, bad_hashes_never_match)
{
	char h[AUTH_HASH_MAX];
	cr_assert(eq(int, auth_password_hash("pw", 1000, h), 0));
	cr_assert(not(auth_password_check("pw", NULL)), "no user");
	cr_assert(not(auth_password_check("pw", "")), "empty");
	cr_assert(not(auth_password_check("pw", "plain-pw")), "not a hash");
	h[strlen(h) - 1] = h[strlen(h) - 1] == '0' ? '1' : '0';
	cr_assert(not(auth_password_check("pw", h)), "a changed key");
	cr_assert(not(auth_password_check("pw", "pbkdf2-sha256$10$00$00")), "too few iterations");
	cr_assert(eq(int, auth_password_hash("pw", 10, h), -1), "refuses a weak cost");
}

static double seconds(const char *pw, const char *stored)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 3; i++)
		(void)auth_password_check(pw, stored);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* Not a timing assertion in the benchmark sense: a missing user must do the same KDF
 * work as a real one, i.e. not return in microseconds. The bound is a factor of 10. */
Test(auth, missing_user_costs_a_real_check)
{
	char h[AUTH_HASH_MAX];
	cr_assert(eq(int, auth_password_hash("pw", 0, h), 0), "default cost");
	double real = seconds("wrong", h), missing = seconds("wrong", NULL);
	cr_assert(missing > real / 10, "missing user %.4fs vs real %.4fs", missing, real);
}

Test(auth, tokens)
{
	char t[AUTH_TOKEN_LEN + 1], hash[DIGEST_HEX_LEN + 1], again[DIGEST_HEX_LEN + 1];
	char t2[AUTH_TOKEN_LEN + 1], hash2[DIGEST_HEX_LEN + 1];
	auth_token_new(t, hash);
	cr_assert(eq(sz, strlen(t), (size_t)AUTH_TOKEN_LEN), "length");
	cr_assert(auth_token_shaped(t), "shape: %s", t);
	auth_token_hash(t, again);
	cr_assert(eq(str, hash, again), "the stored form is the SHA-256 of the token");
	cr_assert(not(eq(str, hash, t + 5)), "the token is not its hash");
	auth_token_new(t2, hash2);
	cr_assert(not(eq(str, t, t2)), "random");
	cr_assert(not(auth_token_shaped("appr_123")), "short");
	cr_assert(not(auth_token_shaped("Bearer x")), "not a token");
	t[10] = 'G';
	cr_assert(not(auth_token_shaped(t)), "upper-case hex refused");
}

Test(auth, equal)
{
	cr_assert(auth_equal("abc", "abc", 3));
	cr_assert(not(auth_equal("abc", "abd", 3)));
	cr_assert(auth_equal("x", "y", 0), "zero bytes are equal");
}

Test(auth, parse_header)
{
	struct auth_credentials c;
	cr_assert(eq(int, auth_parse_header(NULL, &c), 0));
	cr_assert(eq(int, c.scheme, AUTH_NONE), "absent");
	cr_assert(eq(int, auth_parse_header("  ", &c), 0));
	cr_assert(eq(int, c.scheme, AUTH_NONE), "blank");

	cr_assert(eq(int, auth_parse_header("Bearer appr_abc", &c), 0));
	cr_assert(eq(int, c.scheme, AUTH_BEARER));
	cr_assert(eq(str, c.secret, (char *)"appr_abc"));
	cr_assert(eq(int, auth_parse_header("bearer   tok  ", &c), 0), "case and spaces");
	cr_assert(eq(str, c.secret, (char *)"tok"));

	/* "alice:pa:ss" */
	cr_assert(eq(int, auth_parse_header("Basic YWxpY2U6cGE6c3M=", &c), 0));
	cr_assert(eq(int, c.scheme, AUTH_BASIC));
	cr_assert(eq(str, c.user, (char *)"alice"));
	cr_assert(eq(str, c.secret, (char *)"pa:ss"), "only the first colon splits");
	/* "alice:" : an empty password is allowed to parse (and then fails the check) */
	cr_assert(eq(int, auth_parse_header("BASIC YWxpY2U6", &c), 0));
	cr_assert(eq(str, c.secret, (char *)""));

	cr_assert(eq(int, auth_parse_header("Bearer", &c), -1), "no token");
	cr_assert(eq(int, auth_parse_header("Bearer a b", &c), -1), "two tokens");
	cr_assert(eq(int, auth_parse_header("Digest x", &c), -1), "unknown scheme");
	cr_assert(eq(int, auth_parse_header("Basic !!!!", &c), -1), "bad base64");
	cr_assert(eq(int, auth_parse_header("Basic YWxpY2U=", &c), -1), "no colon (alice)");
	cr_assert(eq(int, auth_parse_header("Basic OnB3", &c), -1), "empty user (:pw)");
	cr_assert(eq(int, auth_parse_header("Basic YQpiOmM=", &c), -1), "control character (a\\nb:c)");
	char longtok[700] = "Bearer ";
	memset(longtok + 7, 'a', 600);
	longtok[607] = '\0';
	cr_assert(eq(int, auth_parse_header(longtok, &c), -1), "too long");
}
