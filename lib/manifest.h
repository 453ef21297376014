/* manifest.h - JSON rendering of manifests, package lists and channels (wire shapes). */
#ifndef APPR_MANIFEST_H
#define APPR_MANIFEST_H

#include <stdbool.h>
#include <json-c/json.h>
#include "storage.h"

/* The manifest object of the spec; with_channels adds "channels" (single view). */
struct json_object *manifest_json(const struct storage_manifest *m, bool with_channels);
/* One element of the list route. */
struct json_object *manifest_package_json(const struct storage_package *p);
/* {"name", "current", "releases"} */
struct json_object *manifest_channel_json(const struct storage_channel *c);

#endif
