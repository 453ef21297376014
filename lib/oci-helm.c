/* oci-helm.c - Helm charts as OCI artifacts: tags, config and manifest bytes. */
#include <string.h>

#include <json-c/json.h>

#include "oci.h"
#include "oci-helm.h"

#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

int oci_helm_tag(const char *v, char tag[OCI_HELM_TAG_MAX + 1])
{
	size_t n = strlen(v);
	if (n > OCI_HELM_TAG_MAX)
		return -1;
	for (size_t i = 0; i <= n; i++)
		tag[i] = v[i] == '+' ? '_' : v[i];
	return 0;
}

char *oci_helm_version(const char *tag, struct arena *a)
{
	char *v = arena_strdup(a, tag);
	for (char *p = v; *p; p++)
		if (*p == '_')
			*p = '+';
	return v;
}

int oci_helm_config(const char *chart_json, struct arena *a, const char **out, size_t *len)
{
	static const char *const order[] = {
		"name", "home", "sources", "version", "description", "keywords",
		"maintainers", "icon", "apiVersion", "condition", "tags", "appVersion",
		"deprecated", "annotations", "kubeVersion", "dependencies", "type",
	};
	struct json_object *in = json_tokener_parse(chart_json), *o, *v;
	if (!in || !json_object_is_type(in, json_type_object)) {
		json_object_put(in);
		return -1;
	}
	o = json_object_new_object();
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (json_object_object_get_ex(in, order[i], &v))
			json_object_object_add(o, order[i], json_object_get(v));
	size_t n;
	const char *s = json_object_to_json_string_length(o, JSON_FLAGS, &n);
	*out = arena_strndup(a, s, n);
	*len = n;
	json_object_put(o);
	json_object_put(in);
	return 0;
}

static struct json_object *descriptor(const char *mt, const char *hex, long long size)
{
	struct json_object *d = json_object_new_object();
	char digest[DIGEST_HEX_LEN + 8];
	memcpy(digest, "sha256:", 7);
	memcpy(digest + 7, hex, DIGEST_HEX_LEN + 1);
	json_object_object_add(d, "mediaType", json_object_new_string(mt));
	json_object_object_add(d, "digest", json_object_new_string(digest));
	json_object_object_add(d, "size", json_object_new_int64(size));
	return d;
}

void oci_helm_manifest(const char *config_hex, size_t config_len, const char *layer_hex,
		       long long layer_size, const char *name, const char *version,
		       struct arena *a, const char **out, size_t *len)
{
	struct json_object *o = json_object_new_object(), *layers = json_object_new_array();
	struct json_object *ann = json_object_new_object();
	json_object_object_add(o, "schemaVersion", json_object_new_int(2));
	json_object_object_add(o, "mediaType", json_object_new_string(OCI_MT_MANIFEST));
	json_object_object_add(o, "config", descriptor(OCI_MT_HELM_CONFIG, config_hex,
						       (long long)config_len));
	json_object_array_add(layers, descriptor(OCI_MT_HELM_CHART, layer_hex, layer_size));
	json_object_object_add(o, "layers", layers);
	json_object_object_add(ann, "org.opencontainers.image.title", json_object_new_string(name));
	json_object_object_add(ann, "org.opencontainers.image.version",
			       json_object_new_string(version));
	json_object_object_add(o, "annotations", ann);
	size_t n;
	const char *s = json_object_to_json_string_length(o, JSON_FLAGS, &n);
	*out = arena_strndup(a, s, n);
	*len = n;
	json_object_put(o);
}

int oci_helm_artifact(const char *chart_json, const char *layer_hex, long long layer_size,
		      const char *name, const char *version, struct arena *a,
		      const char **config, size_t *config_len, const char **manifest,
		      size_t *manifest_len)
{
	char tag[OCI_HELM_TAG_MAX + 1], hex[DIGEST_HEX_LEN + 1];
	if (oci_helm_tag(version, tag) < 0 ||
	    oci_helm_config(chart_json, a, config, config_len) < 0)
		return -1;
	digest_sha256_hex(*config, *config_len, hex);
	oci_helm_manifest(hex, *config_len, layer_hex, layer_size, name, version, a, manifest,
			  manifest_len);
	return 0;
}
