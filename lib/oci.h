/* oci.h - the OCI Distribution API's driver-independent rules: repository, tag and
 * digest grammar, the error codes, and manifest checks (json-c). */
#ifndef APPR_OCI_H
#define APPR_OCI_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"
#include "error.h"
#include "util.h"

/* Error codes of the OCI Distribution specification (the "code" of an error body). */
#define OCI_E_BLOB_UNKNOWN          "BLOB_UNKNOWN"
#define OCI_E_BLOB_UPLOAD_INVALID   "BLOB_UPLOAD_INVALID"
#define OCI_E_BLOB_UPLOAD_UNKNOWN   "BLOB_UPLOAD_UNKNOWN"
#define OCI_E_DIGEST_INVALID        "DIGEST_INVALID"
#define OCI_E_MANIFEST_BLOB_UNKNOWN "MANIFEST_BLOB_UNKNOWN"
#define OCI_E_MANIFEST_INVALID      "MANIFEST_INVALID"
#define OCI_E_MANIFEST_UNKNOWN      "MANIFEST_UNKNOWN"
#define OCI_E_NAME_INVALID          "NAME_INVALID"
#define OCI_E_NAME_UNKNOWN          "NAME_UNKNOWN"
#define OCI_E_SIZE_INVALID          "SIZE_INVALID"
#define OCI_E_UNAUTHORIZED          "UNAUTHORIZED"
#define OCI_E_DENIED                "DENIED"
#define OCI_E_UNSUPPORTED           "UNSUPPORTED"

#define OCI_MANIFEST_MAX (4u << 20)      /* bytes of a manifest, 413 above */
#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_INDEX    "application/vnd.oci.image.index.v1+json"
#define OCI_MT_HELM_CONFIG "application/vnd.cncf.helm.config.v1+json"
#define OCI_MT_HELM_CHART  "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

/* Whether s is one path component of a repository name as the OCI grammar has it:
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, at most 64 bytes here. */
bool oci_valid_component(const char *s);

/* Whether s is a tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
bool oci_valid_tag(const char *s);

/* "sha256:<64 lowercase hex>" into hex: 0, or -1 (any other algorithm or form). */
int oci_parse_digest(const char *s, char hex[DIGEST_HEX_LEN + 1]);

/* What a manifest says, from oci_manifest_parse. Strings live in the arena. */
struct oci_manifest_info {
	const char *media_type;          /* its mediaType, or the Content-Type sent */
	const char *artifact_type;       /* artifactType, else config.mediaType for an
					  * image manifest, or NULL */
	char subject[DIGEST_HEX_LEN + 1];/* subject.digest as hex, "" when none */
	const char **blobs;              /* config and layers (hex) of an image manifest */
	size_t n_blobs;
	const char **manifests;          /* manifests (hex) of an index */
	size_t n_manifests;
	const char *config_media_type;   /* config.mediaType of an image manifest, or NULL */
	char chart_layer[DIGEST_HEX_LEN + 1]; /* the layer of media type OCI_MT_HELM_CHART
					  * (hex) when there is exactly one, else "" */
	size_t n_chart_layers;           /* how many layers have that media type */
	const char *created_at;          /* set by the caller: the time a store records
					  * (an import's, as the source had it), NULL: now */
};

/* Check the manifest bytes body (len bytes) sent with Content-Type ctype (may be
 * NULL): a JSON object whose mediaType, when present, is the Content-Type's (when that
 * is given), an image manifest (config and layers descriptors) or an image index
 * (manifests descriptors), each descriptor with a mediaType, a sha256 digest and a
 * size >= 0. Returns 0 with *out filled, or -1 with err 400 MANIFEST_INVALID. */
int oci_manifest_parse(const char *body, size_t len, const char *ctype, struct arena *a,
		       struct oci_manifest_info *out, struct appr_error *err);

#endif
