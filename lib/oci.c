/* oci.c - repository, tag and digest grammar and manifest checks of the OCI
 * Distribution API, independent of the store. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "oci.h"

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool oci_valid_component(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 64 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n;) {
		if (lower_alnum(s[i])) {
			i++;
			continue;
		}
		/* a separator: ".", "_", "__" or a run of "-", then an alnum */
		size_t j = i;
		if (s[i] == '.')
			j = i + 1;
		else if (s[i] == '_')
			j = i + (s[i + 1] == '_' ? 2 : 1);
		else if (s[i] == '-')
			while (s[j] == '-')
				j++;
		else
			return false;
		if (!lower_alnum(s[j]))
			return false;
		i = j;
	}
	return true;
}

bool oci_valid_tag(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || (i > 0 && (c == '.' || c == '-'));
		if (!ok)
			return false;
	}
	return true;
}

int oci_parse_digest(const char *s, char hex[DIGEST_HEX_LEN + 1])
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s + 7) != DIGEST_HEX_LEN)
		return -1;
	for (size_t i = 0; i < DIGEST_HEX_LEN; i++) {
		char c = s[7 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
		hex[i] = c;
	}
	hex[DIGEST_HEX_LEN] = '\0';
	return 0;
}

static const char *str_field(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Descriptor d into hex: 0, or -1 with err. what names it in the message. */
static int descriptor(struct json_object *d, const char *what, char *hex,
		      struct appr_error *err)
{
	struct json_object *size;
	if (!json_object_is_type(d, json_type_object))
		return appr_err(err, 400, OCI_E_MANIFEST_INVALID, "%s is not an object", what);
	if (!str_field(d, "mediaType"))
		return appr_err(err, 400, OCI_E_MANIFEST_INVALID, "%s has no mediaType", what);
	if (oci_parse_digest(str_field(d, "digest"), hex) < 0)
		return appr_err(err, 400, OCI_E_MANIFEST_INVALID,
				"%s has no digest sha256:<64 lowercase hex>", what);
	if (!json_object_object_get_ex(d, "size", &size) ||
	    !json_object_is_type(size, json_type_int) || json_object_get_int64(size) < 0)
		return appr_err(err, 400, OCI_E_MANIFEST_INVALID, "%s has no size >= 0", what);
	return 0;
}

/* The descriptors of array key into *out (hex strings in a). */
static int descriptors(struct json_object *o, const char *key, bool required,
		       struct arena *a, const char ***out, size_t *n, struct appr_error *err)
{
	struct json_object *arr;
	*out = NULL;
	*n = 0;
	if (!json_object_object_get_ex(o, key, &arr)) {
		if (required)
			return appr_err(err, 400, OCI_E_MANIFEST_INVALID, "no %s array", key);
		return 0;
	}
	if (!json_object_is_type(arr, json_type_array))
		return appr_err(err, 400, OCI_E_MANIFEST_INVALID, "%s is not an array", key);
	size_t len = json_object_array_length(arr);
	*out = arena_alloc(a, (len + 1) * sizeof **out);
	for (size_t i = 0; i < len; i++) {
		char *hex = arena_alloc(a, DIGEST_HEX_LEN + 1);
		if (descriptor(json_object_array_get_idx(arr, i), key, hex, err) < 0)
			return -1;
		(*out)[(*n)++] = hex;
	}
	return 0;
}

int oci_manifest_parse(const char *body, size_t len, const char *ctype, struct arena *a,
		       struct oci_manifest_info *out, struct appr_error *err)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = NULL, *v;
	int rc = -1;
	memset(out, 0, sizeof *out);
	if (len > 0)
		o = json_tokener_parse_ex(tok, body, (int)len);
	if (!o || json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		appr_err(err, 400, OCI_E_MANIFEST_INVALID, "the manifest is not a JSON object");
		goto out;
	}
	const char *mt = str_field(o, "mediaType");
	char ct[128] = "";
	if (ctype) {                     /* without parameters */
		size_t k = strcspn(ctype, "; ");
		snprintf(ct, sizeof ct, "%.*s", (int)(k < sizeof ct ? k : sizeof ct - 1), ctype);
	}
	if (mt && ct[0] && strcmp(mt, ct) != 0) {
		appr_err(err, 400, OCI_E_MANIFEST_INVALID,
			 "mediaType %.60s is not the Content-Type %.60s", mt, ct);
		goto out;
	}
	if (!mt)
		mt = ct;
	out->media_type = arena_strdup(a, mt);
	bool index = strcmp(mt, OCI_MT_INDEX) == 0 ||
		     strcmp(mt, "application/vnd.docker.distribution.manifest.list.v2+json") == 0 ||
		     (!mt[0] && json_object_object_get_ex(o, "manifests", NULL));
	if (!mt[0]) {
		appr_err(err, 400, OCI_E_MANIFEST_INVALID,
			 "the manifest has no mediaType and no Content-Type was sent");
		goto out;
	}
	if (json_object_object_get_ex(o, "schemaVersion", &v) &&
	    (!json_object_is_type(v, json_type_int) || json_object_get_int(v) != 2)) {
		appr_err(err, 400, OCI_E_MANIFEST_INVALID, "schemaVersion is not 2");
		goto out;
	}
	if (index) {
		if (descriptors(o, "manifests", true, a, &out->manifests, &out->n_manifests,
				err) < 0)
			goto out;
	} else {
		struct json_object *config;
		const char **layers;
		size_t n_layers;
		char *hex = arena_alloc(a, DIGEST_HEX_LEN + 1);
		if (!json_object_object_get_ex(o, "config", &config)) {
			appr_err(err, 400, OCI_E_MANIFEST_INVALID, "no config descriptor");
			goto out;
		}
		if (descriptor(config, "config", hex, err) < 0 ||
		    descriptors(o, "layers", true, a, &layers, &n_layers, err) < 0)
			goto out;
		out->blobs = arena_alloc(a, (n_layers + 1) * sizeof *out->blobs);
		out->blobs[out->n_blobs++] = hex;
		for (size_t i = 0; i < n_layers; i++)
			out->blobs[out->n_blobs++] = layers[i];
		out->artifact_type = str_field(config, "mediaType");
		out->config_media_type = arena_strdup(a, out->artifact_type);
		struct json_object *arr;
		json_object_object_get_ex(o, "layers", &arr);
		for (size_t i = 0; i < n_layers; i++) {
			const char *lmt = str_field(json_object_array_get_idx(arr, i), "mediaType");
			if (strcmp(lmt, OCI_MT_HELM_CHART) == 0 && out->n_chart_layers++ == 0)
				memcpy(out->chart_layer, layers[i], DIGEST_HEX_LEN + 1);
		}
		if (out->n_chart_layers != 1)
			out->chart_layer[0] = '\0';
	}
	const char *at = str_field(o, "artifactType");
	if (at)
		out->artifact_type = at;
	if (out->artifact_type)
		out->artifact_type = arena_strdup(a, out->artifact_type);
	if (json_object_object_get_ex(o, "subject", &v) &&
	    descriptor(v, "subject", out->subject, err) < 0)
		goto out;
	rc = 0;
out:
	json_object_put(o);
	json_tokener_free(tok);
	return rc;
}
