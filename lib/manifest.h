/* manifest.h - JSON rendering of manifests, package lists and channels (the wire
 * shapes of doc/protocol.md), written straight into a string buffer:
 * these are the hot answers, so no JSON tree is built and stored metadata (JSON text
 * validated on push) is copied as it is. */
#ifndef APPR_MANIFEST_H
#define APPR_MANIFEST_H

#include <stdbool.h>
#include "storage.h"
#include "util.h"

/* Append s as a JSON string literal (quotes, escapes; bytes >= 0x80 as they are). */
void manifest_write_string(struct strbuf *sb, const char *s);

/* Append the manifest object (doc/protocol.md); with_channels adds "channels" (the
 * single manifest view). */
void manifest_write(struct strbuf *sb, const struct storage_manifest *m, bool with_channels);
/* Append one element of the list route:
 * {"name","default","releases","manifests","visibility","created_at"}. */
void manifest_write_package(struct strbuf *sb, const struct storage_package *p);
/* Append {"name", "current", "releases"}. */
void manifest_write_channel(struct strbuf *sb, const struct storage_channel *c);

#endif
