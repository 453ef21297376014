/* storage.h - the storage interface: one versioned table of operations per driver
 * (storage-sqlite.c today; etcd and redis later), found by name, called through the
 * small inline wrappers at the bottom. Operations are what the protocol needs, each
 * atomic on its own; drivers do them their own best way.
 *
 * Conventions for every operation:
 *  - returns 0 on success, -1 on failure with err filled (err may be NULL);
 *  - names (ns, name, channel) are already validated by the caller (names.h),
 *    media types are short forms, releases are strings the caller validated as
 *    semver when it creates them (lookups compare strings exactly);
 *  - everything returned is allocated from the arena a and lives until it is reset;
 *  - "absent" errors: 404 package-not-found (package, release, media type, blob)
 *    or 404 channel-not-found, with err details set;
 *  - a lock not obtained within the configured busy timeout: 409 resource-in-use;
 *  - anything else: 500 internal-error, and one line to stderr with the cause. */
#ifndef APPR_STORAGE_H
#define APPR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"
#include "error.h"
#include "config.h"
#include "digest.h"

#define STORAGE_OPS_VERSION 1

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
	const char **channels;           /* get_manifest only: channels whose current */
	size_t n_channels;               /*   is this release, by name */
};

/* One row of list_packages. */
struct storage_package {
	const char *package;             /* "ns/name" */
	const char *default_release;     /* highest by semver precedence */
	const char **releases;           /* every release, highest first */
	size_t n_releases;
	const char **media_types;        /* media types of the default release, sorted */
	size_t n_media_types;
	const char *visibility;          /* "public" (or "private", later) */
	char created_at[32];             /* newest manifest of the default release */
};

/* A channel: a named set of releases of one package and its current one. */
struct storage_channel {
	const char *name;
	const char *current;             /* a member of releases */
	const char **releases;           /* highest first */
	size_t n_releases;
};

struct storage_list_query {
	const char *namespace;           /* exact namespace, or NULL for all */
	const char *query;               /* case-insensitive substring of "ns/name", or NULL */
	const char *media_type;          /* only packages with a manifest of it, or NULL */
	size_t limit;                    /* packages per page, 0 = all */
	size_t offset;                   /* packages to skip (ordered by ns, name) */
};

struct storage_push {
	const char *ns, *name;
	const char *release;             /* valid semver */
	const char *media_type;          /* short form */
	const char *metadata;            /* JSON text, or NULL for null */
	const char *visibility;          /* for a new package; NULL = "public" */
	char digest[DIGEST_HEX_LEN + 1]; /* SHA-256 of the uncompressed tar */
	bool force;                      /* replace an existing release+media type */
};

struct storage_ops {
	int version;                     /* STORAGE_OPS_VERSION */
	const char *name;                /* "filesystem", "etcd", "redis" */

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
	/* Is digest the blob of some manifest of package ns/name? 0 and its size, or 404. */
	int (*blob_lookup)(struct storage *s, const char *ns, const char *name,
			   const char *digest, long long *size, struct appr_error *err);
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
	/* Packages with at least one release, ordered by namespace then name, filtered
	 * and paged as q says. An index look-up, never a read of every package. */
	int (*list_packages)(struct storage *s, const struct storage_list_query *q,
			     struct arena *a, struct storage_package **out, size_t *n,
			     struct appr_error *err);
	/* Names "ns/name" containing text (case-insensitive, plain substring), sorted,
	 * at most limit (0 = all). */
	int (*search)(struct storage *s, const char *text, size_t limit, struct arena *a,
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
};

/* The driver table registered under name ("filesystem"/"sqlite"), or NULL. */
const struct storage_ops *storage_find(const char *name);

/* Open the driver cfg->storage names. A driver not built (etcd, redis until their
 * issue lands) or unknown gives -1 with a clear message. */
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
				      const char *digest, long long *size, struct appr_error *err)
{ return s->ops->blob_lookup(s, ns, name, digest, size, err); }
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
static inline int storage_search(struct storage *s, const char *text, size_t limit,
				 struct arena *a, const char ***out, size_t *n,
				 struct appr_error *err)
{ return s->ops->search(s, text, limit, a, out, n, err); }
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

/* Driver tables (defined in storage-<name>.c). */
extern const struct storage_ops storage_sqlite_ops;
extern const struct storage_ops storage_etcd_ops;
extern const struct storage_ops storage_redis_ops;

#endif
