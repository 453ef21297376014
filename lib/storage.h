/* storage.h - the storage interface: one versioned table of operations per driver
 * (storage-sqlite.c; the kv drivers etcd and redis in kv-etcd.c and kv-redis.c, when
 * configure built them), found by name, called through the small inline wrappers at
 * the bottom. Operations are what the protocol needs, each atomic on its own; drivers
 * do them their own best way.
 *
 * Conventions for every operation:
 *  - returns 0 on success, -1 on failure with err filled (err may be NULL);
 *  - names (ns, name, channel) are already validated by the caller (names.h) and are
 *    stored, compared and ordered exactly as given: case-sensitive, bytewise
 *    ("Foo/bar" and "foo/bar" are two packages); media types are short forms,
 *    releases are strings the caller validated as semver when it creates them
 *    (lookups compare strings exactly);
 *  - everything returned is allocated from the arena a and lives until it is reset;
 *  - "absent" errors: 404 package-not-found (package, release, media type, blob)
 *    or 404 channel-not-found, with err details set;
 *  - a lock not obtained within the configured busy timeout: 409 resource-in-use;
 *  - anything else: 500 internal-error, and one line to stderr with the cause.
 * Errors every driver gives are worded once, in storage.c (storage_err_* below). */
#ifndef APPR_STORAGE_H
#define APPR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"
#include "error.h"
#include "config.h"
#include "digest.h"

#define STORAGE_OPS_VERSION 3

/* Base of every driver's state: drivers embed it as their first member. */
struct storage {
	const struct storage_ops *ops;
	const struct appr_config *cfg;   /* borrowed: outlives the storage */
};

/* Base of a driver's blob writer / reader: embedded first, like struct storage. */
struct storage_blob_writer {
	struct storage *s;
	long long size;                  /* bytes written so far (kept by the wrappers) */
};
struct storage_blob_reader {
	struct storage *s;
};

/* One manifest: a (package, release, media type) and its blob. */
struct storage_manifest {
	const char *package;             /* "ns/name" */
	const char *release;
	const char *media_type;          /* short form, e.g. "helm" */
	char digest[DIGEST_HEX_LEN + 1];
	long long size;                  /* gzipped blob bytes */
	const char *metadata;            /* JSON text as pushed, or NULL */
	char created_at[32];             /* "YYYY-MM-DDTHH:MM:SS.ffffff", UTC */
	char blob_sha256[DIGEST_HEX_LEN + 1]; /* SHA-256 of the stored blob's bytes (the
					  * .tgz as served); "" when not recorded (a manifest
					  * pushed before this was kept) */
	const char **channels;           /* get_manifest only: channels whose current */
	size_t n_channels;               /*   is this release, by name */
};

/* What gc did (or, in a dry run, would do). */
struct storage_gc_report {
	unsigned long temp_files;         /* temp files of dead uploads removed */
	unsigned long unreferenced_blobs; /* blobs no manifest references, removed */
	unsigned long blobs_restored;     /* blobs a killed delete moved aside, put back */
	long long bytes_freed;
	/* When set, called with each: "temp file of a dead upload PATH", "unreferenced
	 * blob PATH", "blob a killed delete moved aside, still referenced: PATH". */
	void (*found)(void *ctx, const char *what, const char *path);
	void *found_ctx;
};

/* One helm manifest of a namespace, as a Helm chart repository index needs it. */
struct storage_chart {
	const char *name;                /* the package name (a valid chart's own name) */
	const char *release;
	const char *chart;               /* the chart's index fields (chart.h JSON), or NULL */
	const char *problem;             /* why the blob is not a valid chart, or NULL; both
					  * NULL: not examined yet (pushed before charts were) */
	const char *visibility;          /* the package's */
	char digest[DIGEST_HEX_LEN + 1]; /* the blob, as appr names it */
	char blob_sha256[DIGEST_HEX_LEN + 1]; /* SHA-256 of the stored .tgz, "" unknown */
	long long size;
	char created_at[32];
	const char *oci_config;          /* the release's OCI artifact (oci-helm.h) as kept
					  * with the chart fields, or NULL: a driver that
					  * keeps none there, or none kept */
	const char *oci_manifest;
};

/* One row of list_packages. With a media type in the query, the row is narrowed to it:
 * releases are those with a manifest of that media type, and the default release is
 * the highest of them (its media_types are still all of its own). */
struct storage_package {
	const char *package;             /* "ns/name" */
	const char *default_release;     /* highest of releases by semver precedence */
	const char **releases;           /* every release (see above), highest first */
	size_t n_releases;
	const char **media_types;        /* every media type of the default release, sorted */
	size_t n_media_types;
	const char *visibility;          /* "public" or "private" */
	char created_at[32];             /* newest manifest of the default release */
};

/* A channel: a named set of releases of one package and its current one. */
struct storage_channel {
	const char *name;
	const char *current;             /* a member of releases */
	const char **releases;           /* highest first */
	size_t n_releases;
};

/* Whose view a listing is (auth = tokens): a private package is listed only when
 * `all` is set or its namespace is one of `namespaces`. */
struct storage_readers {
	bool all;
	const char *const *namespaces;
	size_t n;
};

struct storage_list_query {
	const char *namespace;           /* exact namespace, or NULL for all */
	const char *query;               /* case-insensitive substring of "ns/name", or NULL */
	const char *media_type;          /* only packages with a manifest of it, each row
					  * narrowed to it (struct storage_package), or NULL */
	size_t limit;                    /* packages per page, 0 = all */
	size_t offset;                   /* packages to skip (ordered by ns, name), after
					  * those the cursor below skips */
	const char *after_ns;            /* keyset cursor: only packages after (after_ns,
					  * after_name) in the listing order, NULL: from the
					  * start. SQLite answers it with an index range, so a
					  * deep page costs what the first does */
	const char *after_name;
	const struct storage_readers *readers;  /* NULL: private packages listed too */
};

struct storage_push {
	const char *ns, *name;
	const char *release;             /* valid semver */
	const char *media_type;          /* short form */
	const char *metadata;            /* JSON text, or NULL for null */
	const char *visibility;          /* for a new package; NULL = "public" */
	char digest[DIGEST_HEX_LEN + 1]; /* SHA-256 of the uncompressed tar */
	bool force;                      /* replace an existing release+media type */
	char blob_sha256[DIGEST_HEX_LEN + 1]; /* SHA-256 of the blob's bytes as pushed; the
					  * manifest records the stored blob's (the first
					  * bytes kept under digest), which may differ */
	const char *chart;               /* media type helm: a valid chart's index fields
					  * (chart.h JSON), else NULL */
	const char *chart_problem;       /* media type helm: why not a valid chart, else NULL */
	const char *created_at;          /* util_utc_now form: the time the manifest (and a
					  * package or release it creates) records, as an
					  * import keeps it; NULL = now */
};

/* Permission levels, each including the ones below it. */
enum storage_level {
	STORAGE_LEVEL_NONE = 0,
	STORAGE_LEVEL_READ = 1,          /* see private packages of the namespace */
	STORAGE_LEVEL_WRITE = 2,         /* push, delete, channels */
	STORAGE_LEVEL_ADMIN = 3,         /* grant levels on the namespace to others */
};

struct storage_user {
	const char *name;                /* validated by names.h rules for a namespace */
	const char *password_hash;       /* auth.h format, or NULL: no password login */
	char created_at[32];
};

/* A user's level on one namespace ("*" = every namespace). */
struct storage_grant {
	const char *user;
	const char *namespace;
	enum storage_level level;
};

/* An API token; only its SHA-256 is stored. */
struct storage_token {
	const char *id;                  /* public id: 16 hex chars, for list and revoke */
	const char *user;
	char hash[DIGEST_HEX_LEN + 1];   /* SHA-256 hex of the token */
	const char *namespace;           /* only this namespace, or NULL: all of the user's */
	enum storage_level scope;        /* at most this level */
	long long expires_at;            /* unix seconds; 0 = never */
	char created_at[32];
};

struct storage_ops {
	int version;                     /* STORAGE_OPS_VERSION */
	const char *name;                /* "filesystem", "etcd", "redis" */
	/* Whether list_packages from a cursor (after_ns) costs what its page costs (an
	 * index range): a long listing is then read a page at a time. false: each call
	 * reads the whole listing's key range (etcd, redis), so a listing asks for all of
	 * it in one call. */
	bool list_pages_cheap;

	/* Open (creating if needed) the store cfg describes. Called once per process. */
	int (*open)(const struct appr_config *cfg, struct storage **out, struct appr_error *err);
	/* Release everything; NULL is a no-op. */
	void (*close)(struct storage *s);

	/* -- blobs: content-addressed by digest, stored once however often pushed -- */

	/* Start a new blob (its gzipped bytes). Nothing is visible to anyone until
	 * put_release commits it; an aborted or failed push leaves nothing behind. */
	int (*blob_begin)(struct storage *s, struct storage_blob_writer **out,
			  struct appr_error *err);
	int (*blob_write)(struct storage_blob_writer *w, const void *data, size_t len,
			  struct appr_error *err);
	/* Drop an unfinished blob and free w. */
	void (*blob_abort)(struct storage_blob_writer *w);
	/* Is digest the blob of some manifest of package ns/name? 0 with its size and the
	 * SHA-256 of its stored bytes ("" when unknown: stored before it was recorded),
	 * or 404. */
	int (*blob_lookup)(struct storage *s, const char *ns, const char *name,
			   const char *digest, long long *size, char sha256[DIGEST_HEX_LEN + 1],
			   struct appr_error *err);
	/* Open a stored blob for reading; *size is its length. 404 when absent. */
	int (*blob_open)(struct storage *s, const char *digest,
			 struct storage_blob_reader **out, long long *size,
			 struct appr_error *err);
	/* Read up to len bytes: >0 bytes read, 0 at the end, -1 on error (logged). */
	long (*blob_read)(struct storage_blob_reader *r, void *buf, size_t len);
	void (*blob_close)(struct storage_blob_reader *r);   /* NULL is a no-op */

	/* -- releases -- */

	/* Store a manifest for (ns/name, release, media_type) whose blob is the one
	 * written through w (p->digest is its digest), atomically with making the blob
	 * visible. Creates the package and release as needed. Without p->force an
	 * existing (release, media_type) is 409 package-exists and nothing changes.
	 * With force the manifest is replaced (new digest, metadata, created_at).
	 * A blob no longer referenced by any manifest after the change is deleted.
	 * Always consumes w (committed or aborted). */
	int (*put_release)(struct storage *s, const struct storage_push *p,
			   struct storage_blob_writer *w, struct appr_error *err);
	/* Every release of ns/name, highest precedence first. 404 if the package has none. */
	int (*list_releases)(struct storage *s, const char *ns, const char *name,
			     struct arena *a, const char ***out, size_t *n,
			     struct appr_error *err);
	/* Manifests of ns/name, of one release (or all when release is NULL), of one
	 * media type (or all when NULL); ordered by release (highest first) then media
	 * type. 404 when the package, or the given release, is absent; an unmatched
	 * media type gives 0 manifests. channels are not filled. */
	int (*get_manifests)(struct storage *s, const char *ns, const char *name,
			     const char *release, const char *media_type, struct arena *a,
			     struct storage_manifest **out, size_t *n, struct appr_error *err);
	/* One manifest, with channels filled. 404 when absent. */
	int (*get_manifest)(struct storage *s, const char *ns, const char *name,
			    const char *release, const char *media_type, struct arena *a,
			    struct storage_manifest *out, struct appr_error *err);
	/* Delete one manifest; the release goes with its last manifest (and leaves every
	 * channel: a channel whose current it was moves current to its highest remaining
	 * release, an emptied channel is deleted), the package with its last release
	 * (and its channels). Unreferenced blobs are deleted. 404 when absent. */
	int (*delete_manifest)(struct storage *s, const char *ns, const char *name,
			       const char *release, const char *media_type,
			       struct appr_error *err);
	/* Packages with at least one release, ordered by namespace then name (bytewise),
	 * filtered and paged as q says, each row narrowed to q->media_type when given.
	 * An index look-up, never a read of every package. */
	int (*list_packages)(struct storage *s, const struct storage_list_query *q,
			     struct arena *a, struct storage_package **out, size_t *n,
			     struct appr_error *err);
	/* Names "ns/name" containing text (case-insensitive, plain substring), sorted,
	 * at most limit (0 = all); private packages only as readers allows (as
	 * list_packages: filtered before the limit; NULL = private packages included). */
	int (*search)(struct storage *s, const char *text,
		      const struct storage_readers *readers, size_t limit, struct arena *a,
		      const char ***out, size_t *n, struct appr_error *err);

	/* -- channels -- */

	/* Channels of ns/name by name. 404 package-not-found when the package is absent. */
	int (*list_channels)(struct storage *s, const char *ns, const char *name,
			     struct arena *a, struct storage_channel **out, size_t *n,
			     struct appr_error *err);
	/* 404 package-not-found / channel-not-found. */
	int (*get_channel)(struct storage *s, const char *ns, const char *name,
			   const char *channel, struct arena *a, struct storage_channel *out,
			   struct appr_error *err);
	/* Add release to channel (created if absent) and make it current; *out is the
	 * channel after the change. 404 package-not-found when the package or release
	 * is absent. Adding a member again only makes it current. */
	int (*channel_add)(struct storage *s, const char *ns, const char *name,
			   const char *channel, const char *release, struct arena *a,
			   struct storage_channel *out, struct appr_error *err);
	/* Remove release from channel; current moves to the highest remaining release;
	 * the channel goes when empty. 404 channel-not-found when the channel is absent,
	 * package-not-found when release is not in it. */
	int (*channel_remove)(struct storage *s, const char *ns, const char *name,
			      const char *channel, const char *release, struct appr_error *err);
	/* Delete a channel. 404 channel-not-found when absent. */
	int (*channel_delete)(struct storage *s, const char *ns, const char *name,
			      const char *channel, struct appr_error *err);

	/* -- optional (NULL in a driver without blob files: etcd, redis) -- */

	/* The absolute path of the stored blob digest's file, written to out (cap bytes),
	 * for a web server to send it (X-Sendfile, X-Accel-Redirect). 404 when the blob
	 * is absent; 500 when the path does not fit in cap. */
	int (*blob_path)(struct storage *s, const char *digest, char *out, size_t cap,
			 struct appr_error *err);

	/* -- users, grants, tokens (auth = tokens); every driver has them -- */

	/* Create (create = true: 409 user-exists when present) or update the password of
	 * (create = false: 404 user-not-found when absent) user name. created_at: the
	 * creation time a new user records (util_utc_now form, as an import keeps it),
	 * NULL = now. */
	int (*user_put)(struct storage *s, const char *name, const char *password_hash,
			bool create, const char *created_at, struct appr_error *err);
	/* 404 when absent. */
	int (*user_get)(struct storage *s, const char *name, struct arena *a,
			struct storage_user *out, struct appr_error *err);
	/* Delete a user with all its grants and tokens. 404 when absent. */
	int (*user_delete)(struct storage *s, const char *name, struct appr_error *err);
	/* Every user, by name. */
	int (*user_list)(struct storage *s, struct arena *a, struct storage_user **out,
			 size_t *n, struct appr_error *err);
	/* Set user's level on namespace; STORAGE_LEVEL_NONE removes the grant (absent: no-op).
	 * 404 when the user is absent. */
	int (*grant_set)(struct storage *s, const char *user, const char *ns,
			 enum storage_level level, struct appr_error *err);
	/* Grants of user (NULL: of everyone), by user then namespace. */
	int (*grant_list)(struct storage *s, const char *user, struct arena *a,
			  struct storage_grant **out, size_t *n, struct appr_error *err);
	/* Store a new token (t->id unique, t->user existing: else 404). */
	int (*token_add)(struct storage *s, const struct storage_token *t,
			 struct appr_error *err);
	/* The token whose hash is given. 404 when absent (expiry is the caller's check). */
	int (*token_find)(struct storage *s, const char *hash, struct arena *a,
			  struct storage_token *out, struct appr_error *err);
	/* Tokens of user (NULL: of everyone), by user then created_at. */
	int (*token_list)(struct storage *s, const char *user, struct arena *a,
			  struct storage_token **out, size_t *n, struct appr_error *err);
	/* Delete a token by id. 404 when absent. */
	int (*token_revoke)(struct storage *s, const char *id, struct appr_error *err);
	/* The visibility ("public"/"private") of package ns/name. 404 when absent. */
	int (*package_visibility)(struct storage *s, const char *ns, const char *name,
				  struct arena *a, const char **out, struct appr_error *err);

	/* -- Helm chart repositories (one per namespace) -- */

	/* Every manifest of media type helm in namespace ns (private packages only when
	 * include_private), ordered by package name, then release highest first. A
	 * namespace without any: 0 rows, no error. One range read of the namespace, never
	 * a read of each blob. */
	int (*list_charts)(struct storage *s, const char *ns, bool include_private,
			   struct arena *a, struct storage_chart **out, size_t *n,
			   struct appr_error *err);
	/* Record, for the helm manifest of ns/name release pushed before charts were
	 * examined, its chart (or why it is not one) and its blob's SHA-256: each only
	 * where still unset, so racing writers agree, and only while the manifest still
	 * names blob digest (the one examined; NULL: any), so that what was read from a
	 * blob a forced push replaced meanwhile is dropped (0, nothing changed). Counts
	 * as a change of ns (namespace_stamp). 404 when the manifest is absent. */
	int (*set_chart)(struct storage *s, const char *ns, const char *name,
			 const char *release, const char *digest, const char *chart,
			 const char *problem, const char *blob_sha256, struct appr_error *err);
	/* The change stamp of namespace ns: a number that grows with every change of
	 * what is stored under ns (put_release, delete_manifest, set_chart, a package
	 * created or gone, its visibility), in the same atomic step as the change, and
	 * when the last such change happened (util_utc_now form). 0 and "" for a
	 * namespace nothing was ever stored in. One key read. */
	int (*namespace_stamp)(struct storage *s, const char *ns, unsigned long long *stamp,
			       char changed_at[32], struct appr_error *err);

	/* -- upkeep -- */

	/* Remove what no acknowledged write needs and no live process is writing: temp
	 * files of dead uploads, blobs no manifest references (left by a push killed
	 * between publishing its blob and committing); put back a blob a killed delete
	 * moved aside while it is still referenced. Fills out (its found callback and
	 * context are the caller's). dry_run: only find and count, change nothing. NULL
	 * for a driver whose writes leave no such debris to find yet. */
	int (*gc)(struct storage *s, bool dry_run, struct storage_gc_report *out,
		  struct appr_error *err);
};

/* The driver table registered under name ("filesystem"/"sqlite", "etcd", "redis"), or
 * NULL when unknown or not built into this program (configure --without-etcd ...). */
const struct storage_ops *storage_find(const char *name);

/* Open the driver cfg->storage names. An unknown driver is a 422, one configure left
 * out a 501 whose message names the configure option that builds it in. */
int storage_open(const struct appr_config *cfg, struct storage **out, struct appr_error *err);

static inline void storage_close(struct storage *s)
{ if (s) s->ops->close(s); }

static inline int storage_blob_begin(struct storage *s, struct storage_blob_writer **w,
				     struct appr_error *err)
{ return s->ops->blob_begin(s, w, err); }
static inline int storage_blob_write(struct storage_blob_writer *w, const void *d, size_t len,
				     struct appr_error *err)
{
	if (w->s->ops->blob_write(w, d, len, err) < 0)
		return -1;
	w->size += (long long)len;
	return 0;
}
static inline void storage_blob_abort(struct storage_blob_writer *w)
{ if (w) w->s->ops->blob_abort(w); }
static inline int storage_blob_lookup(struct storage *s, const char *ns, const char *name,
				      const char *digest, long long *size,
				      char sha256[DIGEST_HEX_LEN + 1], struct appr_error *err)
{ return s->ops->blob_lookup(s, ns, name, digest, size, sha256, err); }
static inline int storage_blob_open(struct storage *s, const char *digest,
				    struct storage_blob_reader **r, long long *size,
				    struct appr_error *err)
{ return s->ops->blob_open(s, digest, r, size, err); }
static inline long storage_blob_read(struct storage_blob_reader *r, void *buf, size_t len)
{ return r->s->ops->blob_read(r, buf, len); }
static inline void storage_blob_close(struct storage_blob_reader *r)
{ if (r) r->s->ops->blob_close(r); }

static inline int storage_put_release(struct storage *s, const struct storage_push *p,
				      struct storage_blob_writer *w, struct appr_error *err)
{ return s->ops->put_release(s, p, w, err); }
static inline int storage_list_releases(struct storage *s, const char *ns, const char *name,
					struct arena *a, const char ***out, size_t *n,
					struct appr_error *err)
{ return s->ops->list_releases(s, ns, name, a, out, n, err); }
static inline int storage_get_manifests(struct storage *s, const char *ns, const char *name,
					const char *release, const char *media_type,
					struct arena *a, struct storage_manifest **out, size_t *n,
					struct appr_error *err)
{ return s->ops->get_manifests(s, ns, name, release, media_type, a, out, n, err); }
static inline int storage_get_manifest(struct storage *s, const char *ns, const char *name,
				       const char *release, const char *media_type,
				       struct arena *a, struct storage_manifest *out,
				       struct appr_error *err)
{ return s->ops->get_manifest(s, ns, name, release, media_type, a, out, err); }
static inline int storage_delete_manifest(struct storage *s, const char *ns, const char *name,
					  const char *release, const char *media_type,
					  struct appr_error *err)
{ return s->ops->delete_manifest(s, ns, name, release, media_type, err); }
static inline int storage_list_packages(struct storage *s, const struct storage_list_query *q,
					struct arena *a, struct storage_package **out, size_t *n,
					struct appr_error *err)
{ return s->ops->list_packages(s, q, a, out, n, err); }
static inline int storage_search(struct storage *s, const char *text,
				 const struct storage_readers *readers, size_t limit,
				 struct arena *a, const char ***out, size_t *n,
				 struct appr_error *err)
{ return s->ops->search(s, text, readers, limit, a, out, n, err); }
static inline int storage_list_channels(struct storage *s, const char *ns, const char *name,
					struct arena *a, struct storage_channel **out, size_t *n,
					struct appr_error *err)
{ return s->ops->list_channels(s, ns, name, a, out, n, err); }
static inline int storage_get_channel(struct storage *s, const char *ns, const char *name,
				      const char *channel, struct arena *a,
				      struct storage_channel *out, struct appr_error *err)
{ return s->ops->get_channel(s, ns, name, channel, a, out, err); }
static inline int storage_channel_add(struct storage *s, const char *ns, const char *name,
				      const char *channel, const char *release,
				      struct arena *a, struct storage_channel *out,
				      struct appr_error *err)
{ return s->ops->channel_add(s, ns, name, channel, release, a, out, err); }
static inline int storage_channel_remove(struct storage *s, const char *ns, const char *name,
					 const char *channel, const char *release,
					 struct appr_error *err)
{ return s->ops->channel_remove(s, ns, name, channel, release, err); }
static inline int storage_channel_delete(struct storage *s, const char *ns, const char *name,
					 const char *channel, struct appr_error *err)
{ return s->ops->channel_delete(s, ns, name, channel, err); }

/* Whether the driver keeps blobs as files a web server can send (blob_path). */
static inline bool storage_has_blob_files(const struct storage *s)
{ return s->ops->blob_path != NULL; }
/* The blob's file path (see blob_path); 500 when the driver has no files. */
static inline int storage_blob_path(struct storage *s, const char *digest, char *out,
				    size_t cap, struct appr_error *err)
{
	if (!s->ops->blob_path)
		return appr_err(err, 500, APPR_E_INTERNAL, "storage %s keeps no blob files",
				s->ops->name);
	return s->ops->blob_path(s, digest, out, cap, err);
}

/* The errors every driver gives, worded once (storage.c). Each returns -1 with err
 * filled, and its details set when it names a package. */
enum storage_absent {                /* what storage_err_absent says is absent: */
	STORAGE_NO_PACKAGE,              /* package ns/name */
	STORAGE_NO_RELEASE,              /* release of an existing package */
	STORAGE_NO_MANIFEST,             /* media_type of an existing release */
};
/* 404 package-not-found. */
int storage_err_absent(struct appr_error *err, enum storage_absent what, const char *ns,
		       const char *name, const char *release, const char *media_type);
/* 404 channel-not-found. */
int storage_err_channel_absent(struct appr_error *err, const char *ns, const char *name,
			       const char *channel);
/* 404 package-not-found: release is not a member of an existing channel. */
int storage_err_not_in_channel(struct appr_error *err, const char *ns, const char *name,
			       const char *channel, const char *release);
/* 404 package-not-found for a blob: of package ns/name (blob_lookup), or of the store
 * when ns is NULL; digest NULL when it is not a digest at all. */
int storage_err_blob_absent(struct appr_error *err, const char *ns, const char *name,
			    const char *digest);
/* 409 package-exists: p's release already has a manifest of p's media type. */
int storage_err_exists(struct appr_error *err, const struct storage_push *p);
/* 422 invalid-release: p's release is not a semantic version. */
int storage_err_not_semver(struct appr_error *err, const struct storage_push *p);
/* 409 resource-in-use: a write lock (or a transaction) not obtained in time. */
int storage_err_busy(struct appr_error *err);
/* 500 internal-error, after the driver logged the cause. */
int storage_err_internal(struct appr_error *err);
/* 507 insufficient-storage: the store is out of space; nothing was stored. */
int storage_err_full(struct appr_error *err);
/* 404 user-not-found / 409 user-exists. */
int storage_err_user_absent(struct appr_error *err, const char *name);
int storage_err_user_exists(struct appr_error *err, const char *name);
/* 404 token-not-found: the token with public id (NULL: looked up by hash). */
int storage_err_token_absent(struct appr_error *err, const char *id);
/* 409 resource-in-use: a live token has this id or hash. */
int storage_err_token_taken(struct appr_error *err);
/* 0 when level is a storage_level, else 422 invalid-parameters. */
int storage_check_level(struct appr_error *err, enum storage_level level);

/* Called by storage_each_package with one package (p, split into ns and name) and an
 * arena reset with each page; returns 0 to go on, anything else to stop with it. */
typedef int (*storage_each_fn)(void *ctx, const struct storage_package *p, const char *ns,
			       const char *name, struct arena *a, struct appr_error *err);
/* Call fn for every package of s in listing order (namespace, then name), a page at a
 * time from the after_ns cursor (all at once with a driver whose pages are not cheap),
 * so that a package created or deleted meanwhile shifts nothing: every package present
 * from start to end is visited exactly once. Returns 0, fn's first nonzero return, or
 * -1 with err when listing fails. For the upkeep commands (fsck, stats, export);
 * lib/storage-walk.c. */
int storage_each_package(struct storage *s, storage_each_fn fn, void *ctx,
			 struct appr_error *err);

/* Auth operations: a driver that lacks one answers 501 (none should). */
#define STORAGE_AUTH_CALL(s, op, ...) \
	((s)->ops->op ? (s)->ops->op(__VA_ARGS__) \
	 : appr_err(err, 501, APPR_E_UNSUPPORTED, "storage %s has no " #op, (s)->ops->name))
static inline int storage_user_put(struct storage *s, const char *name, const char *hash,
				   bool create, struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, user_put, s, name, hash, create, NULL, err); }
/* storage_user_put for a new user created at created_at (an import). */
static inline int storage_user_put_at(struct storage *s, const char *name, const char *hash,
				      const char *created_at, struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, user_put, s, name, hash, true, created_at, err); }
static inline int storage_user_get(struct storage *s, const char *name, struct arena *a,
				   struct storage_user *out, struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, user_get, s, name, a, out, err); }
static inline int storage_user_delete(struct storage *s, const char *name, struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, user_delete, s, name, err); }
static inline int storage_user_list(struct storage *s, struct arena *a, struct storage_user **out,
				    size_t *n, struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, user_list, s, a, out, n, err); }
static inline int storage_grant_set(struct storage *s, const char *user, const char *ns,
				    enum storage_level level, struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, grant_set, s, user, ns, level, err); }
static inline int storage_grant_list(struct storage *s, const char *user, struct arena *a,
				     struct storage_grant **out, size_t *n, struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, grant_list, s, user, a, out, n, err); }
static inline int storage_token_add(struct storage *s, const struct storage_token *t,
				    struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, token_add, s, t, err); }
static inline int storage_token_find(struct storage *s, const char *hash, struct arena *a,
				     struct storage_token *out, struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, token_find, s, hash, a, out, err); }
static inline int storage_token_list(struct storage *s, const char *user, struct arena *a,
				     struct storage_token **out, size_t *n, struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, token_list, s, user, a, out, n, err); }
static inline int storage_token_revoke(struct storage *s, const char *id, struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, token_revoke, s, id, err); }
static inline int storage_list_charts(struct storage *s, const char *ns, bool include_private,
				      struct arena *a, struct storage_chart **out, size_t *n,
				      struct appr_error *err)
{ return s->ops->list_charts(s, ns, include_private, a, out, n, err); }
static inline int storage_set_chart(struct storage *s, const char *ns, const char *name,
				    const char *release, const char *digest, const char *chart,
				    const char *problem, const char *blob_sha256,
				    struct appr_error *err)
{ return s->ops->set_chart(s, ns, name, release, digest, chart, problem, blob_sha256, err); }
static inline bool storage_has_gc(const struct storage *s) { return s->ops->gc != NULL; }
static inline int storage_gc(struct storage *s, bool dry_run, struct storage_gc_report *out,
			     struct appr_error *err)
{ return s->ops->gc(s, dry_run, out, err); }
static inline int storage_namespace_stamp(struct storage *s, const char *ns,
					  unsigned long long *stamp, char changed_at[32],
					  struct appr_error *err)
{ return s->ops->namespace_stamp(s, ns, stamp, changed_at, err); }

static inline int storage_package_visibility(struct storage *s, const char *ns, const char *name,
					     struct arena *a, const char **out,
					     struct appr_error *err)
{ return STORAGE_AUTH_CALL(s, package_visibility, s, ns, name, a, out, err); }

/* Driver tables: storage-sqlite.c; kv-etcd.c and kv-redis.c when configure built them
 * (HAVE_ETCD, HAVE_REDIS in config.h). Callers outside lib/ find them by name. */
extern const struct storage_ops storage_sqlite_ops;
#ifdef HAVE_ETCD
extern const struct storage_ops storage_etcd_ops;
#endif
#ifdef HAVE_REDIS
extern const struct storage_ops storage_redis_ops;
#endif

#endif
