/* ui-queries.h - what the browse pages' home needs and the storage interface has no
 * cheap operation for, answered by SQL on the filesystem (SQLite) store's database
 * (data_dir/appr.db, its own read-only use of a connection, as lib/oci-sqlite.c has
 * one): namespaces with bounded package counts, the latest releases. Each query reads
 * an index range of a bounded length, never every package. The etcd and redis stores
 * have none of this: the pages say so and show less. */
#ifndef APPR_UI_QUERIES_H
#define APPR_UI_QUERIES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "util.h"

struct ui_queries;

/* Open the queries on cfg's SQLite store (cfg->storage "filesystem" or "sqlite", whose
 * schema the storage already applied). Returns 0, or -1 with err 500 (logged).
 * Owned by the caller: ui_queries_free. */
int ui_queries_open(const struct appr_config *cfg, struct ui_queries **out,
		    struct appr_error *err);
void ui_queries_free(struct ui_queries *q);     /* NULL is a no-op */

/* Whether the reader may see private packages of namespace ns. */
typedef bool (*ui_can_read_fn)(void *ctx, const char *ns);

struct ui_namespace {
	const char *name;
	long count;          /* packages the reader may see, at most cap */
	bool more;           /* ... and there are more than cap */
};

/* Namespaces after `after` (NULL: from the first), by name, that hold a package the
 * reader may see, at most limit of them, with their counts capped at cap. At most
 * 4 * limit namespaces are examined: *next is then the name to go on after (NULL when
 * the list ended). Everything in a. */
int ui_namespaces(struct ui_queries *q, const char *after, size_t limit, long cap,
		  ui_can_read_fn can_read, void *ctx, struct arena *a,
		  struct ui_namespace **out, size_t *n, const char **next,
		  struct appr_error *err);

struct ui_push {
	const char *ns, *name, *release;
	bool private_;       /* the package is private (and the reader may read it) */
	char created_at[32];
};

/* The releases created last, newest first, that the reader may see: at most limit of
 * the last scan releases created (a store whose newest are all hidden shows fewer).
 * Everything in a. */
int ui_recent(struct ui_queries *q, size_t limit, size_t scan, ui_can_read_fn can_read,
	      void *ctx, struct arena *a, struct ui_push **out, size_t *n,
	      struct appr_error *err);

#endif
