/* oci-store.h - the OCI store: blobs, manifests, tags and upload sessions, behind one
 * table of operations with two implementations:
 *   lib/oci-sqlite.c  the filesystem store's: its own connection to data_dir/appr.db
 *                     (schema/005-oci.sql), blobs as files data_dir/oci/sha256/...
 *   lib/oci-kv.c      the etcd and redis stores': everything in the kv store the
 *                     registry's storage uses (kv.h), blobs in chunks
 * lib/oci-store.c opens the one that goes with the registry's storage and holds what
 * both share (the generic Helm view, adopting a blob by copying it).
 *
 * The Helm view: the appr helm releases whose chart is valid (chart fields stored) and
 * whose .tgz SHA-256 is known are read from the appr store at request time, with
 * their OCI artifact as kept at push (the filesystem store's helm_oci table, the kv
 * stores' helm/ keys), else made from the chart fields (oci_helm_artifact);
 * tags/list, _catalog and oci_repo_known count them as tags (the version, '+' as '_')
 * of repository "ns/name". Nothing of the view is stored in the OCI tables.
 *
 * Every function returns 0 or -1 with err filled: absent things are 404 with an OCI
 * code (BLOB_UNKNOWN, BLOB_UPLOAD_UNKNOWN, MANIFEST_UNKNOWN, NAME_UNKNOWN), a lock
 * not obtained within busy_timeout_ms (or a kv transaction that kept conflicting) 409
 * resource-in-use, a kv server out of reach 503, anything else 500 internal-error
 * with a line on stderr. repo is "ns/name", hex a 64-hex SHA-256, uuid an upload id
 * as the client sent it (anything: a store answers 404 to what it never made); repo
 * and hex are already checked by the caller. */
#ifndef APPR_OCI_STORE_H
#define APPR_OCI_STORE_H

#include <stdbool.h>

#include "config.h"
#include "oci.h"

struct storage;
struct oci_store_ops;

#define OCI_UUID_LEN 32                  /* an upload session's id: 32 lowercase hex */

/* Base of a store: each implementation's own struct has it first. */
struct oci_store {
	const struct oci_store_ops *ops;
	const struct appr_config *cfg;   /* borrowed */
	struct storage *st;              /* the registry's storage (borrowed): the Helm view */
};

/* Base of an open blob (oci_blob_open). */
struct oci_blob_reader {
	struct oci_store *s;
	long long size;                  /* the blob's bytes, all of them */
};

/* Base of an upload being appended to (oci_upload_append). */
struct oci_upload_writer {
	struct oci_store *s;
	long long size;                  /* bytes the session holds, those written included */
};

/* Open the OCI store that goes with storage st (its migrations already applied by
 * storage_open): the filesystem store's or a kv store's; sweeps upload sessions idle
 * for upload_ttl seconds. 501 for a storage without one. Called once per process. */
int oci_store_open(const struct appr_config *cfg, struct storage *st, struct oci_store **out,
		   struct appr_error *err);
void oci_store_close(struct oci_store *s);        /* NULL is a no-op */

/* Whether repo holds anything (a blob link, a manifest, an upload session). */
int oci_repo_known(struct oci_store *s, const char *repo, bool *known, struct appr_error *err);

/* The size of blob hex when repo may serve it (received it, or a manifest of repo
 * references it). */
int oci_blob_stat(struct oci_store *s, const char *repo, const char *hex, long long *size,
		  struct appr_error *err);

/* Open stored blob hex to read from byte from on (the caller checked with
 * oci_blob_stat that the repository may serve it). */
int oci_blob_open(struct oci_store *s, const char *hex, long long from,
		  struct oci_blob_reader **r, struct appr_error *err);
/* Up to len bytes: the count, 0 at the end of the stored bytes, -1 on an error (a line
 * on stderr). */
long oci_blob_read(struct oci_blob_reader *r, void *buf, size_t len);
void oci_blob_close(struct oci_blob_reader *r);   /* NULL is a no-op */

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

/* Open upload uuid of repo to append to; (*w)->size is the bytes it holds so far.
 * Every oci_upload_append is ended by one oci_upload_end. */
int oci_upload_append(struct oci_store *s, const char *repo, const char *uuid,
		      struct oci_upload_writer **w, struct appr_error *err);
/* Append len bytes (507 insufficient-storage when the store is full). */
int oci_upload_write(struct oci_upload_writer *w, const void *data, size_t len,
		     struct appr_error *err);
/* End appending and free w: with keep, what was written is part of the session from
 * now on (0, or -1 when it could not be kept); without (a failed request), the session
 * holds what it held before or some of what was written after it (the client asks its
 * status to go on). w NULL is a no-op. */
int oci_upload_end(struct oci_upload_writer *w, bool keep, struct appr_error *err);

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
	const char *config, *manifest;   /* its OCI artifact as stored at push
					  * (oci_helm_artifact), or NULL: not stored */
	size_t config_len, manifest_len;
};

/* The chart releases of appr package repo ("ns/name"), lowest first, or only
 * release version when version is not NULL; allocated in a (*n may be 0). */
int oci_chart_releases(struct oci_store *s, const char *repo, const char *version,
		       struct arena *a, struct oci_chart_release **out, size_t *n,
		       struct appr_error *err);

/* Record appr blob digest (size bytes of .tgz whose SHA-256 is hex) as OCI blob hex
 * linked to repo: the filesystem store hard-links its file into place (copies it when
 * it cannot), other stores copy the bytes (verified); nothing but the link when the
 * store has the blob already. */
int oci_blob_adopt(struct oci_store *s, const char *repo, const char *hex,
		   const char *digest, long long size, struct appr_error *err);

/* What oci_blob_put reads from: up to len bytes into buf, the count, 0 at the end, -1
 * on an error. */
typedef long (*oci_read_fn)(void *ctx, void *buf, size_t len);

/* Store the bytes read gives as blob hex linked to repo, through an upload session
 * (so checked against hex: 400 DIGEST_INVALID, nothing kept, when they differ). */
int oci_blob_put(struct oci_store *s, const char *repo, const char *hex, oci_read_fn read,
		 void *ctx, struct appr_error *err);

/* Replace file dst (an appr blob file with the same bytes) by a hard link to blob
 * hex's file, atomically (a temporary name in its directory, then rename), so the
 * bytes are on disk once. 0, or -1 with errno's reason on stderr (dst untouched); -1
 * without a word from a store without files. */
int oci_blob_share(struct oci_store *s, const char *hex, const char *dst);

/* The first tag (in byte order) of manifest hex of repo into *tag, NULL when none. */
int oci_manifest_tag(struct oci_store *s, const char *repo, const char *hex, struct arena *a,
		     const char **tag, struct appr_error *err);

/* ---- for the implementations ----
 * Each operation as its public function above says (lib/oci-store.c calls through
 * the table). An operation a store leaves NULL is done by oci-store.c generically:
 * chart_releases (from storage_list_charts), blob_adopt (a copy through an upload
 * session), blob_share (nothing to share). */
struct oci_store_ops {
	const char *name;
	void (*close)(struct oci_store *s);
	int (*repo_known)(struct oci_store *s, const char *repo, bool *known,
			  struct appr_error *err);
	int (*blob_stat)(struct oci_store *s, const char *repo, const char *hex, long long *size,
			 struct appr_error *err);
	int (*blob_open)(struct oci_store *s, const char *hex, long long from,
			 struct oci_blob_reader **r, struct appr_error *err);
	long (*blob_read)(struct oci_blob_reader *r, void *buf, size_t len);
	void (*blob_close)(struct oci_blob_reader *r);
	int (*blob_mount)(struct oci_store *s, const char *repo, const char *from,
			  const char *hex, struct appr_error *err);
	int (*blob_delete)(struct oci_store *s, const char *repo, const char *hex,
			   struct appr_error *err);
	int (*repos_list)(struct oci_store *s, const char *last, long n, struct arena *a,
			  const char ***repos, size_t *count, bool *more, struct appr_error *err);
	int (*upload_new)(struct oci_store *s, const char *repo, char uuid[OCI_UUID_LEN + 1],
			  struct appr_error *err);
	int (*upload_append)(struct oci_store *s, const char *repo, const char *uuid,
			     struct oci_upload_writer **w, struct appr_error *err);
	int (*upload_write)(struct oci_upload_writer *w, const void *data, size_t len,
			    struct appr_error *err);
	int (*upload_end)(struct oci_upload_writer *w, bool keep, struct appr_error *err);
	int (*upload_finish)(struct oci_store *s, const char *repo, const char *uuid,
			     const char *hex, struct appr_error *err);
	int (*upload_cancel)(struct oci_store *s, const char *repo, const char *uuid,
			     struct appr_error *err);
	int (*manifest_put)(struct oci_store *s, const char *repo, const char *hex,
			    const struct oci_manifest_info *info, const char *body, size_t len,
			    const char *tag, struct appr_error *err);
	int (*referrers)(struct oci_store *s, const char *repo, const char *hex, struct arena *a,
			 struct oci_manifest **out, const char ***artifact_types, size_t *n,
			 struct appr_error *err);
	int (*manifest_get)(struct oci_store *s, const char *repo, const char *hex,
			    const char *tag, struct arena *a, struct oci_manifest *m,
			    struct appr_error *err);
	int (*manifest_delete)(struct oci_store *s, const char *repo, const char *hex,
			       struct appr_error *err);
	int (*tag_delete)(struct oci_store *s, const char *repo, const char *tag,
			  struct appr_error *err);
	int (*tags_list)(struct oci_store *s, const char *repo, const char *last, long n,
			 struct arena *a, const char ***tags, size_t *count, bool *more,
			 struct appr_error *err);
	int (*manifest_tag)(struct oci_store *s, const char *repo, const char *hex,
			    struct arena *a, const char **tag, struct appr_error *err);
	int (*chart_releases)(struct oci_store *s, const char *repo, const char *version,
			      struct arena *a, struct oci_chart_release **out, size_t *n,
			      struct appr_error *err);
	int (*blob_adopt)(struct oci_store *s, const char *repo, const char *hex,
			  const char *digest, long long size, struct appr_error *err);
	int (*blob_share)(struct oci_store *s, const char *hex, const char *dst);
};

/* The implementations' openers (oci_store_open picks one). oci_kv_open exists when
 * configure built a kv driver (HAVE_ETCD or HAVE_REDIS); st is then a kv store
 * (storage-kv.h), whose kv connection the OCI store shares. */
int oci_sqlite_open(const struct appr_config *cfg, struct storage *st, struct oci_store **out,
		    struct appr_error *err);
int oci_kv_open(const struct appr_config *cfg, struct storage *st, struct oci_store **out,
		struct appr_error *err);

/* Every key of a kv store's OCI content starts with this (lib/oci-kv.c). */
#define OCI_KV_PREFIX "oci/"

/* Whether st, an etcd or redis store, holds OCI content (false for other stores):
 * what appr-admin export and copy cannot carry from a kv store in this version. */
int oci_kv_has_content(struct storage *st, bool *has, struct appr_error *err);

/* What oci_kv_gc removed. */
struct oci_kv_gc_report {
	unsigned long chunk_sets;        /* oci/data/<id>/ no session or blob names */
	unsigned long instance_keys;     /* ref and use keys of instances no record names */
	unsigned long body_sets;         /* oci/mfb/<id>/ no manifest record names */
	unsigned long blobs;             /* blobs nothing uses (with their chunks) */
	unsigned long repos;             /* keys of repositories that hold nothing */
	void (*found)(void *ctx, const char *line);   /* when set: a line for each */
	void *ctx;
};

/* Sweep what crashes left in os, the OCI store of an etcd or redis store (lib/
 * oci-kv-gc.c says what and why it is safe beside running requests). 0 or -1. */
int oci_kv_gc(struct oci_store *os, struct oci_kv_gc_report *r, struct appr_error *err);

/* For appr-admin: the OCI store of st (configured by cfg) into *os when st is an
 * etcd or redis store holding OCI content, else *os NULL. 0, or -1 with err. */
int oci_kv_open_content(const struct appr_config *cfg, struct storage *st,
			struct oci_store **os, struct appr_error *err);

#endif
