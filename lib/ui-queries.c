/* ui-queries.c - namespaces with counts and the latest releases, by SQL on the SQLite
 * store (schema/001-init.sql packages, releases; schema/003-charts.sql namespaces). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "ui-queries.h"

enum {
	Q_NAMESPACES,        /* namespaces after ?1 (index: namespaces PRIMARY KEY) */
	Q_COUNT,             /* packages of ?1 (public only unless ?2), at most ?3 */
	Q_RECENT,            /* the last ?1 releases created (releases' rowid, descending) */
	Q_N
};

static const char *const sql[Q_N] = {
	[Q_NAMESPACES] = "SELECT name FROM namespaces WHERE name > ?1 ORDER BY name LIMIT ?2",
	[Q_COUNT] = "SELECT count(*) FROM (SELECT 1 FROM packages WHERE namespace = ?1 "
		    "AND (?2 OR visibility = 'public') LIMIT ?3)",
	[Q_RECENT] = "SELECT p.namespace, p.name, p.visibility, r.version, r.created_at "
		     "FROM releases r JOIN packages p ON p.id = r.package_id "
		     "ORDER BY r.id DESC LIMIT ?1",
};

struct ui_queries {
	sqlite3 *db;
	sqlite3_stmt *q[Q_N];
};

/* 500 internal-error, with the cause on stderr. */
static int db_fail(sqlite3 *db, int rc, const char *what, struct appr_error *err)
{
	fprintf(stderr, "appr-fcgi: browse pages: %s: %s\n", what,
		db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return appr_err(err, 409, APPR_E_RESOURCE_IN_USE, "the store is busy: try again");
	return appr_err(err, 500, APPR_E_INTERNAL, "the store could not be read");
}

int ui_queries_open(const struct appr_config *cfg, struct ui_queries **out,
		    struct appr_error *err)
{
	struct ui_queries *q = xcalloc(1, sizeof *q);
	char path[PATH_MAX];
	int rc;
	*out = NULL;
	if (snprintf(path, sizeof path, "%s/appr.db", cfg->data_dir) >= (int)sizeof path) {
		free(q);
		return appr_err(err, 500, APPR_E_INTERNAL, "data_dir is too long");
	}
	/* read-write only so that a WAL database opens whoever made its -shm file; the
	 * statements only read */
	rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		db_fail(q->db, rc, path, err);
		goto fail;
	}
	sqlite3_busy_timeout(q->db, cfg->busy_timeout_ms > INT_MAX
				    ? INT_MAX : (int)cfg->busy_timeout_ms);
	for (int i = 0; i < Q_N; i++) {
		rc = sqlite3_prepare_v3(q->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->q[i],
					NULL);
		if (rc != SQLITE_OK) {
			db_fail(q->db, rc, sql[i], err);
			goto fail;
		}
	}
	*out = q;
	return 0;
fail:
	ui_queries_free(q);
	return -1;
}

void ui_queries_free(struct ui_queries *q)
{
	if (!q)
		return;
	for (int i = 0; i < Q_N; i++)
		sqlite3_finalize(q->q[i]);
	sqlite3_close_v2(q->db);
	free(q);
}

/* A column as an arena string ("" for NULL). */
static const char *col(struct arena *a, sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return arena_strdup(a, t ? (const char *)t : "");
}

/* The visible packages of ns, at most cap + 1 (cap + 1: more than cap). */
static int count_of(struct ui_queries *q, const char *ns, bool all, long cap, long *out,
		    struct appr_error *err)
{
	sqlite3_stmt *s = q->q[Q_COUNT];
	int rc;
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, all);
	sqlite3_bind_int64(s, 3, cap + 1);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		db_fail(q->db, rc, "counting packages", err);
		sqlite3_reset(s);
		return -1;
	}
	*out = (long)sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return 0;
}

int ui_namespaces(struct ui_queries *q, const char *after, size_t limit, long cap,
		  ui_can_read_fn can_read, void *ctx, struct arena *a,
		  struct ui_namespace **out, size_t *n, const char **next,
		  struct appr_error *err)
{
	sqlite3_stmt *s = q->q[Q_NAMESPACES];
	size_t scan = 4 * limit, seen = 0, k = 0;
	const char **names = arena_alloc(a, (scan + 1) * sizeof *names);
	int rc;
	*out = arena_alloc(a, (limit ? limit : 1) * sizeof **out);
	*n = 0;
	*next = NULL;
	sqlite3_bind_text(s, 1, after ? after : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)scan + 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		names[seen++] = col(a, s, 0);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return db_fail(q->db, rc, "listing namespaces", err);
	for (size_t i = 0; i < seen && i < scan; i++) {
		long c;
		if (k == limit) {
			*next = names[i - 1];
			return 0;
		}
		if (count_of(q, names[i], can_read(ctx, names[i]), cap, &c, err) < 0)
			return -1;
		if (c == 0)
			continue;
		(*out)[k].name = names[i];
		(*out)[k].count = c > cap ? cap : c;
		(*out)[k].more = c > cap;
		*n = ++k;
	}
	if (seen > scan)
		*next = names[scan - 1];
	return 0;
}

int ui_recent(struct ui_queries *q, size_t limit, size_t scan, ui_can_read_fn can_read,
	      void *ctx, struct arena *a, struct ui_push **out, size_t *n,
	      struct appr_error *err)
{
	sqlite3_stmt *s = q->q[Q_RECENT];
	int rc = SQLITE_DONE;
	*out = arena_alloc(a, (limit ? limit : 1) * sizeof **out);
	*n = 0;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)scan);
	while (*n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *ns = (const char *)sqlite3_column_text(s, 0);
		const char *vis = (const char *)sqlite3_column_text(s, 2);
		bool priv = !vis || strcmp(vis, "public") != 0;
		if (!ns || (priv && !can_read(ctx, ns)))
			continue;
		struct ui_push *p = &(*out)[(*n)++];
		p->ns = col(a, s, 0);
		p->name = col(a, s, 1);
		p->release = col(a, s, 3);
		p->private_ = priv;
		snprintf(p->created_at, sizeof p->created_at, "%s", col(a, s, 4));
	}
	if (*n < limit && rc != SQLITE_DONE) {
		sqlite3_reset(s);
		return db_fail(q->db, rc, "listing the latest releases", err);
	}
	sqlite3_reset(s);
	return 0;
}
