/* storage-sqlite-channels.c - the embedded store's channels and their current release. */
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

/* ---- channels ---- */

/* Channels of a package (only the one named channel when not NULL), by name, each
 * with its releases highest first. */
static int read_channels(struct sq_storage *ss, sqlite3_int64 pkg_id, const char *channel,
			 struct arena *a, struct vec *out, struct appr_error *err)
{
	sqlite3_stmt *st = sq_stmt_get(ss, S_CHANNELS);
	struct storage_channel *cur = NULL;
	struct vec rels = { 0 };
	sqlite3_int64 cur_id = -1;
	int r;

	sq_bind_int(ss, st, 1, pkg_id);
	sq_bind_text(ss, st, 2, channel);
	while ((r = sq_step(ss, st, err)) == 1) {
		sqlite3_int64 id = sqlite3_column_int64(st, 0);
		if (id != cur_id) {
			if (cur) {
				cur->releases = rels.items;
				cur->n_releases = rels.n;
				memset(&rels, 0, sizeof rels);
			}
			cur = sq_vec_push(a, out, sizeof *cur);
			cur_id = id;
			cur->name = sq_col_str(a, st, 1);
			cur->current = sq_col_str(a, st, 2);
		}
		sq_vec_push_str(a, &rels, sq_col_str(a, st, 3));
	}
	if (r < 0)
		return -1;
	if (cur) {
		cur->releases = rels.items;
		cur->n_releases = rels.n;
	}
	return 0;
}

int sq_list_channels(struct storage *s, const char *ns, const char *name,
		     struct arena *a, struct storage_channel **out, size_t *n,
		     struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id;
	struct vec v = { 0 };
	int r, rc = -1;

	if (sq_tx_read(ss, err) < 0)
		return -1;
	r = sq_find_package(ss, ns, name, &pkg_id, err);
	if (r == 0)
		storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, NULL, NULL);
	if (r != 1 || read_channels(ss, pkg_id, NULL, a, &v, err) < 0)
		goto out;
	*out = v.items;
	*n = v.n;
	rc = 0;
out:
	sq_tx_read_end(ss);
	return rc;
}

int sq_get_channel(struct storage *s, const char *ns, const char *name,
		   const char *channel, struct arena *a, struct storage_channel *out,
		   struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id;
	struct vec v = { 0 };
	int r, rc = -1;

	if (sq_tx_read(ss, err) < 0)
		return -1;
	r = sq_find_package(ss, ns, name, &pkg_id, err);
	if (r == 0)
		storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, NULL, NULL);
	if (r != 1 || read_channels(ss, pkg_id, channel, a, &v, err) < 0)
		goto out;
	if (v.n == 0) {
		storage_err_channel_absent(err, ns, name, channel);
		goto out;
	}
	*out = *(struct storage_channel *)v.items;
	rc = 0;
out:
	sq_tx_read_end(ss);
	return rc;
}

int sq_channel_add(struct storage *s, const char *ns, const char *name,
		   const char *channel, const char *release, struct arena *a,
		   struct storage_channel *out, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id, rel_id, chan_id;
	sqlite3_stmt *st;
	struct vec v = { 0 };
	int r;

	if (sq_tx_write(ss, err) < 0)
		goto fail;
	r = sq_find_package(ss, ns, name, &pkg_id, err);
	if (r == 1)
		r = sq_find_release(ss, pkg_id, release, &rel_id, err);
	if (r == 0)
		sq_not_found(ss, ns, name, release, NULL, err);
	if (r != 1)
		goto fail;
	r = sq_find_channel(ss, pkg_id, channel, &chan_id, err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		st = sq_stmt_get(ss, S_CHAN_INSERT);
		sq_bind_int(ss, st, 1, pkg_id);
		sq_bind_text(ss, st, 2, channel);
		sq_bind_int(ss, st, 3, rel_id);
		if (sq_run(ss, st, err) < 0)
			goto fail;
		chan_id = sqlite3_last_insert_rowid(ss->db);
	}
	st = sq_stmt_get(ss, S_CHAN_MEMBER_ADD);
	sq_bind_int(ss, st, 1, chan_id);
	sq_bind_int(ss, st, 2, rel_id);
	if (sq_run(ss, st, err) < 0)
		goto fail;
	st = sq_stmt_get(ss, S_CHAN_SET_CURRENT);
	sq_bind_int(ss, st, 1, chan_id);
	sq_bind_int(ss, st, 2, rel_id);
	if (sq_run(ss, st, err) < 0 || read_channels(ss, pkg_id, channel, a, &v, err) < 0)
		goto fail;
	if (v.n != 1) {
		fprintf(stderr, "appr: storage: channel %s vanished while adding to it\n", channel);
		storage_err_internal(err);
		goto fail;
	}
	*out = *(struct storage_channel *)v.items;
	return sq_tx_commit(ss, err);
fail:
	sq_tx_abort(ss);
	return -1;
}

/* Inside a write transaction: the channel's package and id, or 404 channel-not-found. */
static int find_package_channel(struct sq_storage *ss, const char *ns, const char *name,
				const char *channel, sqlite3_int64 *pkg_id,
				sqlite3_int64 *chan_id, struct appr_error *err)
{
	int r = sq_find_package(ss, ns, name, pkg_id, err);
	if (r == 1)
		r = sq_find_channel(ss, *pkg_id, channel, chan_id, err);
	if (r == 0)
		storage_err_channel_absent(err, ns, name, channel);
	return r == 1 ? 0 : -1;
}

int sq_channel_remove(struct storage *s, const char *ns, const char *name,
		      const char *channel, const char *release, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id, chan_id, rel_id;
	sqlite3_stmt *st;
	int r;

	if (sq_tx_write(ss, err) < 0 ||
	    find_package_channel(ss, ns, name, channel, &pkg_id, &chan_id, err) < 0)
		goto fail;
	r = sq_find_release(ss, pkg_id, release, &rel_id, err);
	if (r < 0)
		goto fail;
	if (r == 1) {
		st = sq_stmt_get(ss, S_CHAN_MEMBER_DEL);
		sq_bind_int(ss, st, 1, chan_id);
		sq_bind_int(ss, st, 2, rel_id);
		if (sq_run(ss, st, err) < 0)
			goto fail;
		r = sqlite3_changes(ss->db) > 0;
	}
	if (r == 0) {
		storage_err_not_in_channel(err, ns, name, channel, release);
		goto fail;
	}
	if (sq_channels_repair(ss, pkg_id, err) < 0)
		goto fail;
	return sq_tx_commit(ss, err);
fail:
	sq_tx_abort(ss);
	return -1;
}

int sq_channel_delete(struct storage *s, const char *ns, const char *name,
		      const char *channel, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_int64 pkg_id, chan_id;
	sqlite3_stmt *st;

	if (sq_tx_write(ss, err) < 0 ||
	    find_package_channel(ss, ns, name, channel, &pkg_id, &chan_id, err) < 0)
		goto fail;
	st = sq_stmt_get(ss, S_CHAN_DELETE);
	sq_bind_int(ss, st, 1, chan_id);
	if (sq_run(ss, st, err) < 0)
		goto fail;
	return sq_tx_commit(ss, err);
fail:
	sq_tx_abort(ss);
	return -1;
}
