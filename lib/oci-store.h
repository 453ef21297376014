/* oci-store.h - the OCI store: blobs as content-addressed files, manifests, tags and
 * upload sessions in the SQLite database of the filesystem store (lib/oci-sqlite.c,
 * its own connection to data_dir/appr.db; schema/005-oci.sql). The etcd and redis
 * stores have none in this version.
 *
 * The Helm view: the appr helm releases whose chart is valid (a charts row with
 * chart set) are read from the appr tables of the same database (packages, releases,
 * manifests, charts) at request time; tags/list, _catalog and oci_repo_known count
 * them as tags (the version, '+' as '_') of repository "ns/name". Nothing of the
 * view is stored in the OCI tables.
 *
 * Every function returns 0 or -1 with err filled: absent things are 404 with an OCI
 * code (BLOB_UNKNOWN, BLOB_UPLOAD_UNKNOWN, MANIFEST_UNKNOWN, NAME_UNKNOWN), a lock
 * not obtained within busy_timeout_ms 409 resource-in-use, anything else 500
 * internal-error with a line on stderr. repo is "ns/name", hex a 64-hex SHA-256;
 * both already checked by the caller. */
#ifndef APPR_OCI_STORE_H
#define APPR_OCI_STORE_H

#include <stdbool.h>

#include "config.h"
#include "oci.h"

struct oci_store;

#define OCI_UUID_LEN 32                  /* an upload session's id: 32 lowercase hex */

/* Open the OCI store of the filesystem store cfg describes (its migrations already
 * applied by storage_open); sweeps upload sessions idle for upload_ttl seconds.
 * Called once per process. */
int oci_store_open(const struct appr_config *cfg, struct oci_store **out, struct appr_error *err);
void oci_store_close(struct oci_store *s);        /* NULL is a no-op */

/* Whether repo holds anything (a blob link, a manifest, an upload session). */
int oci_repo_known(struct oci_store *s, const char *repo, bool *known, struct appr_error *err);

/* The size of blob hex when repo may serve it (received it, or a manifest of repo
 * references it), and its file's path into path (PATH_MAX bytes). */
int oci_blob_stat(struct oci_store *s, const char *repo, const char *hex, long long *size,
		  char *path, struct appr_error *err);

/* Link blob hex, readable through repository from, to repo too (a cross-repository
 * mount): 0, or 404 BLOB_UNKNOWN when from may not serve it. */
int oci_blob_mount(struct oci_store *s, const char *repo, const char *from, const char *hex,
		   struct appr_error *err);

/* Up to n repositories (that hold a blob link or a manifest) after last (NULL: from
 * the start), in byte order; *more when there are others after them. */
int oci_repos_list(struct oci_store *s, const char *last, long n, struct arena *a,
		   const char ***repos, size_t *count, bool *more, struct appr_error *err);

/* Take blob hex away from repo (its link, not what manifests reference); the file
 * goes when no repository links or references it any more. */
int oci_blob_delete(struct oci_store *s, const char *repo, const char *hex,
		    struct appr_error *err);

/* A new upload session of repo: its id into uuid. */
int oci_upload_new(struct oci_store *s, const char *repo, char uuid[OCI_UUID_LEN + 1],
		   struct appr_error *err);

/* Open upload uuid of repo to append to: *fd (the caller closes it) and the bytes it
 * holds so far in *size. */
int oci_upload_open(struct oci_store *s, const char *repo, const char *uuid, int *fd,
		    long long *size, struct appr_error *err);

/* End upload uuid: its bytes must hash to hex (else 400 DIGEST_INVALID and nothing is
 * kept); the blob is then published and linked to repo; the session is gone in
 * either case. */
int oci_upload_finish(struct oci_store *s, const char *repo, const char *uuid,
		      const char *hex, struct appr_error *err);

/* Drop upload uuid of repo. */
int oci_upload_cancel(struct oci_store *s, const char *repo, const char *uuid,
		      struct appr_error *err);

/* One stored manifest. */
struct oci_manifest {
	char digest[DIGEST_HEX_LEN + 1];
	const char *media_type;
	const char *body;                /* the bytes as pushed */
	size_t len;
};

/* Store manifest body (SHA-256 hex) of repo as info describes it, and tag it when
 * tag is not NULL. Every blob it references must be readable through repo and every
 * manifest an index lists be a manifest of repo: else 400 MANIFEST_BLOB_UNKNOWN. */
int oci_manifest_put(struct oci_store *s, const char *repo, const char *hex,
		     const struct oci_manifest_info *info, const char *body, size_t len,
		     const char *tag, struct appr_error *err);

/* The manifests of repo whose subject is hex, by digest; allocated in a. */
int oci_referrers(struct oci_store *s, const char *repo, const char *hex, struct arena *a,
		  struct oci_manifest **out, const char ***artifact_types, size_t *n,
		  struct appr_error *err);

/* Manifest of repo by digest (hex != NULL) or tag; allocated in a. */
int oci_manifest_get(struct oci_store *s, const char *repo, const char *hex,
		     const char *tag, struct arena *a, struct oci_manifest *m,
		     struct appr_error *err);

/* Delete manifest hex of repo and its tags. */
int oci_manifest_delete(struct oci_store *s, const char *repo, const char *hex,
			struct appr_error *err);

/* Delete tag of repo (its manifest stays). */
int oci_tag_delete(struct oci_store *s, const char *repo, const char *tag,
		   struct appr_error *err);

/* Up to n tags of repo after last (NULL: from the start), in byte order; *more when
 * there are others after them. */
int oci_tags_list(struct oci_store *s, const char *repo, const char *last, long n,
		  struct arena *a, const char ***tags, size_t *count, bool *more,
		  struct appr_error *err);

/* ---- the Helm view ---- */

/* One appr helm release with a valid chart. */
struct oci_chart_release {
	const char *version;             /* the release (a semver) */
	char digest[DIGEST_HEX_LEN + 1]; /* its appr blob (the SHA-256 of the tar) */
	char sha256[DIGEST_HEX_LEN + 1]; /* the SHA-256 of the stored .tgz: the layer */
	long long size;                  /* the .tgz bytes */
	const char *chart;               /* its index fields (lib/chart.h JSON) */
};

/* The chart releases of appr package repo ("ns/name"), lowest first, or only
 * release version when version is not NULL; allocated in a (*n may be 0). */
int oci_chart_releases(struct oci_store *s, const char *repo, const char *version,
		       struct arena *a, struct oci_chart_release **out, size_t *n,
		       struct appr_error *err);

/* The path blob hex has (or would have) in the store, into path (PATH_MAX bytes). */
void oci_blob_path(const struct oci_store *s, const char *hex, char *path);

/* Record file (size bytes whose SHA-256 is hex, outside the OCI store: an appr blob
 * file) as blob hex linked to repo, the file hard-linked into place (copied when it
 * cannot be linked); nothing when the store has it already but the link. */
int oci_blob_adopt(struct oci_store *s, const char *repo, const char *hex, const char *file,
		   long long size, struct appr_error *err);

/* Replace file dst (an appr blob file with the same bytes) by a hard link to blob
 * hex's file, atomically (a temporary name in its directory, then rename), so the
 * bytes are on disk once. 0, or -1 with errno's reason on stderr (dst untouched). */
int oci_blob_share(struct oci_store *s, const char *hex, const char *dst);

/* The first tag (in byte order) of manifest hex of repo into *tag, NULL when none. */
int oci_manifest_tag(struct oci_store *s, const char *repo, const char *hex, struct arena *a,
		     const char **tag, struct appr_error *err);

#endif
