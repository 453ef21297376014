/* helm.h - a namespace as a Helm chart repository, over the storage interface: its
 * valid chart versions (helm releases pushed before charts were read are examined
 * once, then remembered), and the file names charts are served under. */
#ifndef APPR_HELM_H
#define APPR_HELM_H

#include <stdbool.h>
#include <stddef.h>

#include "helm-index.h"
#include "storage.h"

struct appr_config;

/* One chart version a repository serves. */
struct helm_version {
	struct helm_index_entry index;   /* name, version, chart_json, created_at, digest
					  * (the .tgz SHA-256) */
	const char *blob;                /* the stored blob (appr digest) */
	long long size;
};

/* The chart versions of namespace ns as its repository serves them: helm releases
 * whose blob is a valid chart named as the package at the release's version, grouped
 * by name, newest first (helm-index.h's order). Private packages only when
 * include_private. A helm release not examined yet is read once now (its blob
 * through the archive checks, with cfg's limits) and what was found is stored
 * (storage set_chart). Everything is allocated in a. Returns 0, or -1 with err. */
int helm_versions(struct storage *s, const struct appr_config *cfg, const char *ns,
		  bool include_private, struct arena *a, struct helm_version **out, size_t *n,
		  struct appr_error *err);

/* The helm releases of ns left out of its repository, with the reason (for
 * appr-admin): rows of list_charts whose problem is set, after examining as above. */
int helm_left_out(struct storage *s, const struct appr_config *cfg, const char *ns,
		  struct arena *a, struct storage_chart **out, size_t *n, struct appr_error *err);

/* The file name of a chart version in a repository: "<name>-<version>.tgz". */
const char *helm_file_name(struct arena *a, const char *name, const char *version);

/* Split file "<name>-<version>.tgz" into the candidates (name, version): every '-'
 * after which a full semver follows up to ".tgz", leftmost first (a name may hold
 * '-', and so may a pre-release). Returns how many were written (at most max). */
size_t helm_file_split(struct arena *a, const char *file, const char **names,
		       const char **versions, size_t max);

#endif
