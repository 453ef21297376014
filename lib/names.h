/* names.h - validation of package names, channels, digests and media types. */
#ifndef APPR_NAMES_H
#define APPR_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAMES_PART_MAX 64        /* namespace, name, channel, user */
#define NAMES_MEDIA_TYPE_MAX 64  /* short form */

/* A namespace or package name, as the original appr server and its client accept
 * them: [A-Za-z0-9._-], 1-64 characters, anywhere (a leading '_', '-' or '.' too),
 * but not "." or "..". Compared case-sensitively: "Foo" and "foo" differ. */
bool names_valid_part(const char *s);

/* A channel name: the characters of a name part, and '+'. */
bool names_valid_channel(const char *s);

/* A user name: [a-z0-9] then [a-z0-9._-], 1-64 characters (lower case only, so that
 * "Admin" and "admin" are never two users). */
bool names_valid_user(const char *s);

/* A blob digest: exactly 64 lowercase hex characters. */
bool names_valid_digest(const char *s);

/* Reduce a media type to its short form into out (cap >= NAMES_MEDIA_TYPE_MAX + 1):
 * "helm" stays "helm"; "application/vnd.appr.package-manifest.helm.v0.json" and the
 * vnd.cnr. and package.<type>.<v>.tar+gzip forms give "helm". The short form must
 * match [a-z0-9] then [a-z0-9._-] (1-64 chars). Returns 0, or -1 if invalid; so "-"
 * ("the only media type" in a GET) is never a media type. */
int names_media_type(const char *in, char *out, size_t cap);

#endif
