/* names.h - validation of package names, channels, digests and media types. */
#ifndef APPR_NAMES_H
#define APPR_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAMES_PART_MAX 64        /* namespace, name, channel */
#define NAMES_MEDIA_TYPE_MAX 64  /* short form */

/* A namespace, package name or channel name: [a-z0-9] then [a-z0-9._-], 1-64 chars. */
bool names_valid_part(const char *s);

/* A blob digest: exactly 64 lowercase hex characters. */
bool names_valid_digest(const char *s);

/* Reduce a media type to its short form into out (cap >= NAMES_MEDIA_TYPE_MAX + 1):
 * "helm" stays "helm"; "application/vnd.appr.package-manifest.helm.v0.json" and the
 * vnd.cnr. and package.<type>.<v>.tar+gzip forms give "helm". The short form must
 * match [a-z0-9] then [a-z0-9._-] (1-64 chars). Returns 0, or -1 if invalid; so "-"
 * ("the only media type" in a GET) is never a media type. */
int names_media_type(const char *in, char *out, size_t cap);

#endif
