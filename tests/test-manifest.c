/* test-manifest.c - the JSON the hot routes write without a JSON tree: it must parse
 * and carry exactly the fields doc/protocol.md gives. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <json-c/json.h>
#include <string.h>

#include "manifest.h"

static struct json_object *parse(struct strbuf *sb)
{
	struct json_tokener *tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *o = json_tokener_parse_ex(tok, sb->buf, (int)sb->len);
	cr_assert(eq(int, (int)json_tokener_get_error(tok), (int)json_tokener_success),
		  "valid JSON: %s", sb->buf);
	cr_assert(eq(sz, (size_t)json_tokener_get_parse_end(tok), sb->len), "nothing after the value");
	json_tokener_free(tok);
	return o;
}

static const char *str(struct json_object *o, const char *path)
{
	struct json_object *v = o;
	char key[64];
	while (*path) {
		size_t n = strcspn(path, ".");
		memcpy(key, path, n);
		key[n] = '\0';
		cr_assert(json_object_object_get_ex(v, key, &v), "member %s present", key);
		path += n + (path[n] == '.');
	}
	return json_object_get_string(v);
}

Test(manifest, string_escapes)
{
	struct strbuf sb = { 0 };
	manifest_write_string(&sb, "a\"b\\c\nd\te\x01" "f/é");
	cr_assert(eq(str, sb.buf, (char *)"\"a\\\"b\\\\c\\nd\\te\\u0001f/é\""), "escaped literal");
	struct json_object *o = parse(&sb);
	cr_assert(eq(str, (char *)json_object_get_string(o), (char *)"a\"b\\c\nd\te\x01" "f/é"),
		  "round trip through a JSON parser");
	json_object_put(o);
	sb_free(&sb);
}

Test(manifest, manifest_object)
{
	const char *chans[] = { "beta", "stable" };
	struct storage_manifest m = {
		.package = "foo/bar", .release = "1.0.1-rc.1+b2", .media_type = "helm",
		.digest = "92ba810abfe250d43cea35bad65906a7e199cd50b6cfeead6c66d31844223885",
		.size = 132, .metadata = "{\"a\":[1,{\"b\":null}]}",
		.created_at = "2016-11-16T17:13:07.806579", .channels = chans, .n_channels = 2,
	};
	struct strbuf sb = { 0 };
	manifest_write(&sb, &m, true);
	struct json_object *o = parse(&sb), *v;
	cr_assert(eq(int, json_object_object_length(o), 7), "7 members with channels");
	cr_assert(eq(str, (char *)str(o, "package"), (char *)"foo/bar"), "package");
	cr_assert(eq(str, (char *)str(o, "release"), (char *)"1.0.1-rc.1+b2"), "release");
	cr_assert(eq(str, (char *)str(o, "mediaType"),
		     (char *)"application/vnd.appr.package-manifest.helm.v0.json"), "mediaType");
	cr_assert(eq(str, (char *)str(o, "content.mediaType"),
		     (char *)"application/vnd.appr.package.helm.v0.tar+gzip"), "content.mediaType");
	cr_assert(eq(str, (char *)str(o, "content.digest"), (char *)m.digest), "content.digest");
	json_object_object_get_ex(o, "content", &v);
	json_object_object_get_ex(v, "size", &v);
	cr_assert(eq(i64, json_object_get_int64(v), 132), "content.size is a number");
	json_object_object_get_ex(o, "content", &v);
	json_object_object_get_ex(v, "urls", &v);
	cr_assert(eq(sz, json_object_array_length(v), (size_t)0), "content.urls is []");
	json_object_object_get_ex(o, "metadata", &v);
	cr_assert(eq(str, (char *)json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
		     (char *)"{\"a\":[1,{\"b\":null}]}"), "metadata is the stored JSON");
	cr_assert(eq(str, (char *)str(o, "created_at"), (char *)"2016-11-16T17:13:07.806579"), "created_at");
	json_object_object_get_ex(o, "channels", &v);
	cr_assert(eq(str, (char *)json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
		     (char *)"[\"beta\",\"stable\"]"), "channels");
	json_object_put(o);

	sb_reset(&sb);
	m.metadata = NULL;
	manifest_write(&sb, &m, false);
	o = parse(&sb);
	cr_assert(eq(int, json_object_object_length(o), 6), "6 members without channels");
	cr_assert(json_object_object_get_ex(o, "metadata", &v) && v == NULL, "metadata null");
	json_object_put(o);
	sb_free(&sb);
}

Test(manifest, package_and_channel)
{
	const char *rels[] = { "2.0.0", "1.0.0" }, *types[] = { "helm", "kpm" };
	struct storage_package p = { .package = "ns/app", .default_release = "2.0.0",
		.releases = rels, .n_releases = 2, .media_types = types, .n_media_types = 2,
		.visibility = NULL, .created_at = "2026-01-02T03:04:05.000006" };
	struct strbuf sb = { 0 };
	manifest_write_package(&sb, &p);
	cr_assert(eq(str, sb.buf, (char *)"{\"name\":\"ns/app\",\"default\":\"2.0.0\","
		     "\"releases\":[\"2.0.0\",\"1.0.0\"],\"manifests\":[\"helm\",\"kpm\"],"
		     "\"visibility\":\"public\",\"created_at\":\"2026-01-02T03:04:05.000006\"}"),
		  "list element");
	sb_reset(&sb);
	struct storage_channel c = { .name = "stable", .current = "2.0.0", .releases = rels,
				     .n_releases = 2 };
	manifest_write_channel(&sb, &c);
	cr_assert(eq(str, sb.buf, (char *)"{\"name\":\"stable\",\"current\":\"2.0.0\","
		     "\"releases\":[\"2.0.0\",\"1.0.0\"]}"), "channel");
	json_object_put(parse(&sb));
	sb_free(&sb);
}
