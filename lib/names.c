/* names.c - validation of package names, channels, digests and media types. */
#include <string.h>

#include "names.h"

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9._-]: media types and user names */
static bool name_char(char c)
{
	return lower_alnum(c) || c == '.' || c == '_' || c == '-';
}

/* [A-Za-z0-9._-] plus the characters of extra. */
static bool segment_char(char c, const char *extra)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || (c && extra && strchr(extra, c));
}

/* 1..NAMES_PART_MAX characters of segment_char, and not "." or "..". */
static bool valid_segment(const char *s, const char *extra)
{
	if (!s || !s[0] || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	size_t i = 0;
	for (; s[i]; i++)
		if (i >= NAMES_PART_MAX || !segment_char(s[i], extra))
			return false;
	return true;
}

bool names_valid_part(const char *s)
{
	return valid_segment(s, NULL);
}

bool names_valid_channel(const char *s)
{
	return valid_segment(s, "+");
}

bool names_valid_user(const char *s)
{
	if (!s || !lower_alnum(s[0]))
		return false;
	size_t i = 1;
	for (; s[i]; i++)
		if (i >= NAMES_PART_MAX || !name_char(s[i]))
			return false;
	return true;
}

bool names_valid_digest(const char *s)
{
	if (!s)
		return false;
	size_t i = 0;
	for (; s[i]; i++)
		if (i >= 64 || !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

/* The long forms: application/vnd.{appr,cnr}.package-manifest.<type>.<v>.json and
 * application/vnd.{appr,cnr}.package.<type>.<v>.tar+gzip. */
static const char *const long_prefixes[] = {
	"application/vnd.appr.package-manifest.",
	"application/vnd.cnr.package-manifest.",
	"application/vnd.appr.package.",
	"application/vnd.cnr.package.",
};

int names_media_type(const char *in, char *out, size_t cap)
{
	if (!in)
		return -1;
	const char *start = in;
	size_t len = strlen(in);
	for (size_t i = 0; i < sizeof long_prefixes / sizeof long_prefixes[0]; i++) {
		size_t pl = strlen(long_prefixes[i]);
		if (strncmp(in, long_prefixes[i], pl) != 0)
			continue;
		/* strip the suffix ".json" or ".tar+gzip", then the ".<version>" */
		const char *rest = in + pl;
		size_t rl = strlen(rest);
		if (rl > 5 && strcmp(rest + rl - 5, ".json") == 0)
			rl -= 5;
		else if (rl > 9 && strcmp(rest + rl - 9, ".tar+gzip") == 0)
			rl -= 9;
		else
			return -1;
		const char *dot = NULL;
		for (size_t j = rl; j > 0; j--)
			if (rest[j - 1] == '.') {
				dot = rest + j - 1;
				break;
			}
		if (!dot || dot == rest)
			return -1;
		start = rest;
		len = (size_t)(dot - rest);
		break;
	}
	if (len == 0 || len > NAMES_MEDIA_TYPE_MAX || len + 1 > cap || !lower_alnum(start[0]))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!name_char(start[i]))
			return -1;
	memcpy(out, start, len);
	out[len] = '\0';
	return 0;
}
