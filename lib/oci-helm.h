/* oci-helm.h - Helm charts as OCI artifacts: the tag of a chart version, and the
 * config and image manifest bytes the OCI view of an appr helm release answers
 * (json-c; the same bytes for the same chart every time, so digests are stable). */
#ifndef APPR_OCI_HELM_H
#define APPR_OCI_HELM_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"
#include "util.h"

#define OCI_HELM_TAG_MAX 128             /* a tag's length (oci_valid_tag) */

/* The tag of chart version v: v with every '+' as '_' (Helm's rule: '+' is not a tag
 * character), into tag (OCI_HELM_TAG_MAX + 1 bytes). Returns 0, or -1 when it does
 * not fit. */
int oci_helm_tag(const char *v, char tag[OCI_HELM_TAG_MAX + 1]);

/* The chart version a tag names: every '_' as '+' (a semver has no '_'); in a. */
char *oci_helm_version(const char *tag, struct arena *a);

/* The config blob of a chart whose index fields are chart_json (lib/chart.h JSON):
 * its fields as one compact JSON object in the order Helm writes its config (name,
 * home, sources, version, description, keywords, maintainers, icon, apiVersion,
 * condition, tags, appVersion, deprecated, annotations, kubeVersion, dependencies,
 * type), absent ones left out. The bytes live in a; -1 when chart_json is not a
 * JSON object. */
int oci_helm_config(const char *chart_json, struct arena *a, const char **out, size_t *len);

/* The image manifest of a chart: config (config_hex, config_len bytes, media type
 * OCI_MT_HELM_CONFIG), one layer (layer_hex, layer_size bytes, OCI_MT_HELM_CHART),
 * annotations org.opencontainers.image.title and .version (name, version). In a. */
void oci_helm_manifest(const char *config_hex, size_t config_len, const char *layer_hex,
		       long long layer_size, const char *name, const char *version,
		       struct arena *a, const char **out, size_t *len);

/* The OCI artifact of a chart release: its config (oci_helm_config of chart_json) and
 * its image manifest (oci_helm_manifest with the config and the .tgz layer_hex of
 * layer_size bytes), in a. What a store keeps at push, so that a release's OCI digest
 * never changes whatever later versions of this code would make of it. -1 when
 * chart_json is not a JSON object or the version has no tag (oci_helm_tag). */
int oci_helm_artifact(const char *chart_json, const char *layer_hex, long long layer_size,
		      const char *name, const char *version, struct arena *a,
		      const char **config, size_t *config_len, const char **manifest,
		      size_t *manifest_len);

#endif
