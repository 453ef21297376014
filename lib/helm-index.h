/* helm-index.h - a Helm chart repository index (index.yaml), rendered from the chart
 * fields stored at push time, never from the charts themselves. */
#ifndef APPR_HELM_INDEX_H
#define APPR_HELM_INDEX_H

#include <stddef.h>

#include "util.h"

/* One chart version of the index. Strings are borrowed for the call. */
struct helm_index_entry {
	const char *name;            /* the chart's (= the package's) name */
	const char *version;         /* its version (= the release) */
	const char *chart_json;      /* the Chart.yaml fields as chart.h keeps them (a JSON
				      * object, name and version included) */
	const char *created_at;      /* when pushed, "YYYY-MM-DDTHH:MM:SS.ffffff" UTC */
	const char *digest;          /* SHA-256 (hex) of the .tgz bytes as served */
};

/* Write index.yaml for the n entries into sb: apiVersion v1, entries keyed by chart
 * name (e must be grouped by name, each group newest first: the order listed), each
 * version with its Chart.yaml fields, created (RFC 3339), digest and urls
 * ["charts/<name>-<version>.tgz"]; generated (RFC 3339, from generated_at, in the
 * same form as created_at); serverInfo.contextPath. Nothing else: Helm reads the index
 * strictly. The versions are JSON objects (YAML flow mappings), made safe for YAML. */
void helm_index_write(struct strbuf *sb, const struct helm_index_entry *e, size_t n,
		      const char *generated_at, const char *context_path);

/* One chart version as a JSON object (the same as in the index): the chart's
 * fields, created, digest, urls. ChartMuseum's API answers these. */
void helm_index_write_version(struct strbuf *sb, const struct helm_index_entry *e);

/* created_at's form as RFC 3339 ("...Z") into out. */
void helm_index_time(const char *created_at, char out[40]);

#endif
