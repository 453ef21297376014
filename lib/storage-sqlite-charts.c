/* storage-sqlite-charts.c - the embedded store's Helm chart fields (schema/003-charts.sql)
 * and namespace change stamps. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "semver.h"
#include "storage.h"
#include "storage-sqlite.h"

/* ---- Helm chart repositories ---- */

int sq_list_charts(struct storage *s, const char *ns, bool include_private,
		   struct arena *a, struct storage_chart **out, size_t *n,
		   struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = sq_stmt_get(ss, S_CHARTS);
	struct vec v = { 0 };
	const char *name = NULL;
	int r;

	sq_bind_text(ss, st, 1, ns);
	sq_bind_int(ss, st, 2, include_private);
	while ((r = sq_step(ss, st, err)) == 1) {
		struct storage_chart *c = sq_vec_push(a, &v, sizeof *c);
		const char *row_name = (const char *)sqlite3_column_text(st, 0);
		if (!name || !row_name || strcmp(name, row_name) != 0)
			name = sq_col_str(a, st, 0);      /* rows of one package share it */
		c->name = name;
		c->release = sq_col_str(a, st, 1);
		c->chart = sq_col_str(a, st, 2);
		c->problem = sq_col_str(a, st, 3);
		c->visibility = sq_col_str(a, st, 4);
		sq_col_copy(c->digest, sizeof c->digest, st, 5);
		sq_col_copy(c->blob_sha256, sizeof c->blob_sha256, st, 6);
		c->size = sqlite3_column_int64(st, 7);
		sq_col_copy(c->created_at, sizeof c->created_at, st, 8);
	}
	if (r < 0)
		return -1;
	*out = v.items;
	*n = v.n;
	return 0;
}

int sq_set_chart(struct storage *s, const char *ns, const char *name,
		 const char *release, const char *digest, const char *chart,
		 const char *problem, const char *blob_sha256, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;
	sqlite3_int64 rel_id;
	bool fill_sha, fill_chart;
	char now[32];
	int r;

	util_utc_now(now);
	if (sq_tx_write(ss, err) < 0 || sq_find_manifest(ss, ns, name, release, "helm", &st, err) != 1)
		goto fail;
	rel_id = sqlite3_column_int64(st, 1);
	if (digest && strcmp((const char *)sqlite3_column_text(st, 2), digest) != 0) {
		sqlite3_reset(st);      /* another blob since it was examined: drop it */
		return sq_tx_commit(ss, err);
	}
	fill_sha = sqlite3_column_bytes(st, 6) == 0 && sq_digest_ok(blob_sha256);
	long long size = sqlite3_column_int64(st, 3);
	char sha[DIGEST_HEX_LEN + 1];
	if (fill_sha)
		memcpy(sha, blob_sha256, sizeof sha);
	else
		sq_col_copy(sha, sizeof sha, st, 6);
	sqlite3_reset(st);

	st = sq_stmt_get(ss, S_CHART_EXAMINED);
	sq_bind_int(ss, st, 1, rel_id);
	r = sq_step(ss, st, err);
	sqlite3_reset(st);
	if (r < 0)
		goto fail;
	fill_chart = r == 0 && (sq_nonempty(chart) || sq_nonempty(problem));
	if (fill_chart && sq_chart_put(ss, rel_id, chart, problem, name, release, sha, size,
				       err) < 0)
		goto fail;
	if (fill_sha) {
		st = sq_stmt_get(ss, S_MAN_SET_SHA256);
		sq_bind_int(ss, st, 1, rel_id);
		sq_bind_text(ss, st, 2, "helm");
		sq_bind_text(ss, st, 3, blob_sha256);
		if (sq_run(ss, st, err) < 0)
			goto fail;
	}
	if ((fill_chart || fill_sha) && sq_ns_bump(ss, ns, now, err) < 0)
		goto fail;
	return sq_tx_commit(ss, err);
fail:
	sq_tx_abort(ss);
	return -1;
}

int sq_namespace_stamp(struct storage *s, const char *ns, unsigned long long *stamp,
		       char changed_at[32], struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = sq_stmt_get(ss, S_NS_STAMP);
	int r;

	*stamp = 0;
	changed_at[0] = '\0';
	sq_bind_text(ss, st, 1, ns);
	r = sq_step(ss, st, err);
	if (r < 0)
		return -1;
	if (r == 1) {
		*stamp = (unsigned long long)sqlite3_column_int64(st, 0);
		sq_col_copy(changed_at, 32, st, 1);
		sqlite3_reset(st);
	}
	return 0;
}
