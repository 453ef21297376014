/* test-names.c - package, channel, digest and media type validation. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "names.h"

Test(names, valid_parts)
{
	const char *good[] = { "a", "0", "myname", "elastic-search", "a.b_c-d", "9lives",
			       "A", "myName", "Web.App", "-a", "_a", ".a", "a..b", "...", "a_", "a-",
			       "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		cr_assert(names_valid_part(good[i]), "\"%s\" is a valid name part", good[i]);
}

Test(names, invalid_parts)
{
	const char *bad[] = { "", "a/b", "..", ".", "a b", "a+b", "a\tb", "a\nb", "a\x7f",
			      "a%2f", "é", "a:b", "a@b", "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij12345" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert(not(names_valid_part(bad[i])), "\"%s\" is refused as a name part", bad[i]);
	cr_assert(not(names_valid_part(NULL)), "NULL is refused");
}

Test(names, channels)
{
	const char *good[] = { "stable", "Beta", "1.0+x", "-rc", "_x", "a.b_c-d+e" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		cr_assert(names_valid_channel(good[i]), "\"%s\" is a valid channel", good[i]);
	const char *bad[] = { "", ".", "..", "a/b", "a b", "a\x01", "é" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert(not(names_valid_channel(bad[i])), "\"%s\" is refused as a channel", bad[i]);
	cr_assert(not(names_valid_channel(NULL)), "NULL is refused as a channel");
}

Test(names, users)
{
	cr_assert(names_valid_user("alice.b-c_1"), "a lower-case user name is valid");
	const char *bad[] = { "", "Alice", "-a", "_a", ".a", "a/b", "a+b" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert(not(names_valid_user(bad[i])), "\"%s\" is refused as a user name", bad[i]);
}

Test(names, digests)
{
	char d[65];
	memset(d, 'a', 64);
	d[64] = '\0';
	cr_assert(names_valid_digest(d), "64 lowercase hex is a digest");
	d[10] = 'A';
	cr_assert(not(names_valid_digest(d)), "uppercase hex is refused");
	d[10] = 'g';
	cr_assert(not(names_valid_digest(d)), "non-hex is refused");
	d[10] = 'a';
	d[63] = '\0';
	cr_assert(not(names_valid_digest(d)), "63 characters are refused");
	cr_assert(not(names_valid_digest("../../etc/passwd")), "a path is refused");
}

Test(names, media_types)
{
	struct { const char *in, *want; } ok[] = {
		{ "helm", "helm" },
		{ "docker-compose", "docker-compose" },
		{ "kpm", "kpm" },
		{ "application/vnd.appr.package-manifest.helm.v0.json", "helm" },
		{ "application/vnd.cnr.package-manifest.kpm.v1.json", "kpm" },
		{ "application/vnd.appr.package.helm.v0.tar+gzip", "helm" },
		{ "application/vnd.appr.package-manifest.docker-compose.v0.json", "docker-compose" },
	};
	char out[NAMES_MEDIA_TYPE_MAX + 1];
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		cr_assert(eq(int, names_media_type(ok[i].in, out, sizeof out), 0), "accepts %s", ok[i].in);
		cr_assert(eq(str, out, (char *)ok[i].want), "short form of %s", ok[i].in);
	}
	const char *bad[] = { "", "-", ".helm", "Helm", "he lm", "a/b", "application/vnd.appr.package-manifest.json",
			      "application/vnd.appr.package-manifest.helm.v0.xml",
			      "application/json" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert(eq(int, names_media_type(bad[i], out, sizeof out), -1), "refuses \"%s\"", bad[i]);
}
