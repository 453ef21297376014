/* manifest.c - JSON rendering of manifests, package lists and channels (wire shapes). */
#include <stdio.h>

#include "manifest.h"

static struct json_object *string_array(const char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

struct json_object *manifest_json(const struct storage_manifest *m, bool with_channels)
{
	char mt[128];
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "package", json_object_new_string(m->package));
	json_object_object_add(o, "release", json_object_new_string(m->release));
	snprintf(mt, sizeof mt, "application/vnd.appr.package-manifest.%s.v0.json", m->media_type);
	json_object_object_add(o, "mediaType", json_object_new_string(mt));

	struct json_object *c = json_object_new_object();
	snprintf(mt, sizeof mt, "application/vnd.appr.package.%s.v0.tar+gzip", m->media_type);
	json_object_object_add(c, "mediaType", json_object_new_string(mt));
	json_object_object_add(c, "digest", json_object_new_string(m->digest));
	json_object_object_add(c, "size", json_object_new_int64(m->size));
	json_object_object_add(c, "urls", json_object_new_array());
	json_object_object_add(o, "content", c);

	struct json_object *meta = NULL;
	if (m->metadata)
		meta = json_tokener_parse(m->metadata);   /* stored as validated JSON */
	json_object_object_add(o, "metadata", meta);
	json_object_object_add(o, "created_at", json_object_new_string(m->created_at));
	if (with_channels)
		json_object_object_add(o, "channels", string_array(m->channels, m->n_channels));
	return o;
}

struct json_object *manifest_package_json(const struct storage_package *p)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(p->package));
	json_object_object_add(o, "default", json_object_new_string(p->default_release));
	json_object_object_add(o, "releases", string_array(p->releases, p->n_releases));
	json_object_object_add(o, "manifests", string_array(p->media_types, p->n_media_types));
	json_object_object_add(o, "visibility",
			       json_object_new_string(p->visibility ? p->visibility : "public"));
	json_object_object_add(o, "created_at", json_object_new_string(p->created_at));
	return o;
}

struct json_object *manifest_channel_json(const struct storage_channel *c)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(c->name));
	json_object_object_add(o, "current", c->current ? json_object_new_string(c->current) : NULL);
	json_object_object_add(o, "releases", string_array(c->releases, c->n_releases));
	return o;
}
