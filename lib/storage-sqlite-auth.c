/* storage-sqlite-auth.c - the embedded store's users, grants, tokens and package visibility. */
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

/* ---- users, grants, tokens ---- */

/* Inside a transaction: does user name exist? 1 yes, 0 no, -1 error. */
static int user_exists(struct sq_storage *ss, const char *name, struct appr_error *err)
{
	sqlite3_stmt *st = sq_stmt_get(ss, S_USER_GET);
	sq_bind_text(ss, st, 1, name);
	int r = sq_step(ss, st, err);
	sqlite3_reset(st);
	return r;
}

int sq_user_put(struct storage *s, const char *name, const char *password_hash,
		bool create, const char *created_at, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;
	char now[32];
	int r;

	if (sq_tx_write(ss, err) < 0)
		goto fail;
	r = user_exists(ss, name, err);
	if (r < 0)
		goto fail;
	if (create && r == 1) {
		storage_err_user_exists(err, name);
		goto fail;
	}
	if (!create && r == 0) {
		storage_err_user_absent(err, name);
		goto fail;
	}
	if (create) {
		if (created_at)
			snprintf(now, sizeof now, "%s", created_at);
		else
			util_utc_now(now);
		st = sq_stmt_get(ss, S_USER_INSERT);
		sq_bind_text(ss, st, 1, name);
		sq_bind_text(ss, st, 2, password_hash);
		sq_bind_text(ss, st, 3, now);
	} else {
		st = sq_stmt_get(ss, S_USER_UPDATE);
		sq_bind_text(ss, st, 1, name);
		sq_bind_text(ss, st, 2, password_hash);
	}
	if (sq_run(ss, st, err) < 0)
		goto fail;
	return sq_tx_commit(ss, err);
fail:
	sq_tx_abort(ss);
	return -1;
}

static void fill_user(struct arena *a, sqlite3_stmt *st, struct storage_user *u)
{
	u->name = sq_col_str(a, st, 0);
	u->password_hash = sq_col_str(a, st, 1);
	sq_col_copy(u->created_at, sizeof u->created_at, st, 2);
}

int sq_user_get(struct storage *s, const char *name, struct arena *a,
		struct storage_user *out, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = sq_stmt_get(ss, S_USER_GET);
	int r;

	sq_bind_text(ss, st, 1, name);
	r = sq_step(ss, st, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_user_absent(err, name);
	memset(out, 0, sizeof *out);
	fill_user(a, st, out);
	sqlite3_reset(st);
	return 0;
}

int sq_user_delete(struct storage *s, const char *name, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;

	if (sq_tx_write(ss, err) < 0)
		goto fail;
	st = sq_stmt_get(ss, S_USER_DELETE);
	sq_bind_text(ss, st, 1, name);
	if (sq_run(ss, st, err) < 0)
		goto fail;
	if (sqlite3_changes(ss->db) == 0) {
		storage_err_user_absent(err, name);
		goto fail;
	}
	return sq_tx_commit(ss, err);
fail:
	sq_tx_abort(ss);
	return -1;
}

int sq_user_list(struct storage *s, struct arena *a, struct storage_user **out,
		 size_t *n, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = sq_stmt_get(ss, S_USER_LIST);
	struct vec v = { 0 };
	int r;

	while ((r = sq_step(ss, st, err)) == 1)
		fill_user(a, st, sq_vec_push(a, &v, sizeof(struct storage_user)));
	if (r < 0)
		return -1;
	*out = v.items;
	*n = v.n;
	return 0;
}

int sq_grant_set(struct storage *s, const char *user, const char *ns,
		 enum storage_level level, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;
	int r;

	if (storage_check_level(err, level) < 0)
		return -1;
	if (sq_tx_write(ss, err) < 0)
		goto fail;
	r = user_exists(ss, user, err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		storage_err_user_absent(err, user);
		goto fail;
	}
	st = sq_stmt_get(ss, level == STORAGE_LEVEL_NONE ? S_GRANT_DELETE : S_GRANT_SET);
	sq_bind_text(ss, st, 1, user);
	sq_bind_text(ss, st, 2, ns);
	if (level != STORAGE_LEVEL_NONE)
		sq_bind_int(ss, st, 3, (sqlite3_int64)level);
	if (sq_run(ss, st, err) < 0)
		goto fail;
	return sq_tx_commit(ss, err);
fail:
	sq_tx_abort(ss);
	return -1;
}

int sq_grant_list(struct storage *s, const char *user, struct arena *a,
		  struct storage_grant **out, size_t *n, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = sq_stmt_get(ss, user ? S_GRANT_LIST_USER : S_GRANT_LIST_ALL);
	struct vec v = { 0 };
	int r;

	if (user)
		sq_bind_text(ss, st, 1, user);
	while ((r = sq_step(ss, st, err)) == 1) {
		struct storage_grant *g = sq_vec_push(a, &v, sizeof *g);
		g->user = sq_col_str(a, st, 0);
		g->namespace = sq_col_str(a, st, 1);
		g->level = (enum storage_level)sqlite3_column_int(st, 2);
	}
	if (r < 0)
		return -1;
	*out = v.items;
	*n = v.n;
	return 0;
}

int sq_token_add(struct storage *s, const struct storage_token *t,
		 struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;
	char now[32];
	int r;

	if (storage_check_level(err, t->scope) < 0)
		return -1;
	if (sq_tx_write(ss, err) < 0)
		goto fail;
	r = user_exists(ss, t->user, err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		storage_err_user_absent(err, t->user);
		goto fail;
	}
	st = sq_stmt_get(ss, S_TOKEN_TAKEN);
	sq_bind_text(ss, st, 1, t->id);
	sq_bind_text(ss, st, 2, t->hash);
	r = sq_step(ss, st, err);
	sqlite3_reset(st);
	if (r < 0)
		goto fail;
	if (r == 1) {
		storage_err_token_taken(err);
		goto fail;
	}
	if (t->created_at[0])
		snprintf(now, sizeof now, "%s", t->created_at);
	else
		util_utc_now(now);
	st = sq_stmt_get(ss, S_TOKEN_INSERT);
	sq_bind_text(ss, st, 1, t->id);
	sq_bind_text(ss, st, 2, t->user);
	sq_bind_text(ss, st, 3, t->hash);
	sq_bind_text(ss, st, 4, t->namespace);
	sq_bind_int(ss, st, 5, (sqlite3_int64)t->scope);
	sq_bind_int(ss, st, 6, t->expires_at);
	sq_bind_text(ss, st, 7, now);
	if (sq_run(ss, st, err) < 0)
		goto fail;
	return sq_tx_commit(ss, err);
fail:
	sq_tx_abort(ss);
	return -1;
}

/* A row of S_TOKEN_FIND / S_TOKEN_LIST_*. */
static void fill_token(struct arena *a, sqlite3_stmt *st, struct storage_token *t)
{
	t->id = sq_col_str(a, st, 0);
	t->user = sq_col_str(a, st, 1);
	sq_col_copy(t->hash, sizeof t->hash, st, 2);
	t->namespace = sq_col_str(a, st, 3);
	t->scope = (enum storage_level)sqlite3_column_int(st, 4);
	t->expires_at = sqlite3_column_int64(st, 5);
	sq_col_copy(t->created_at, sizeof t->created_at, st, 6);
}

int sq_token_find(struct storage *s, const char *hash, struct arena *a,
		  struct storage_token *out, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = sq_stmt_get(ss, S_TOKEN_FIND);
	int r;

	sq_bind_text(ss, st, 1, hash);
	r = sq_step(ss, st, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_token_absent(err, NULL);
	memset(out, 0, sizeof *out);
	fill_token(a, st, out);
	sqlite3_reset(st);
	return 0;
}

int sq_token_list(struct storage *s, const char *user, struct arena *a,
		  struct storage_token **out, size_t *n, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = sq_stmt_get(ss, user ? S_TOKEN_LIST_USER : S_TOKEN_LIST_ALL);
	struct vec v = { 0 };
	int r;

	if (user)
		sq_bind_text(ss, st, 1, user);
	while ((r = sq_step(ss, st, err)) == 1)
		fill_token(a, st, sq_vec_push(a, &v, sizeof(struct storage_token)));
	if (r < 0)
		return -1;
	*out = v.items;
	*n = v.n;
	return 0;
}

int sq_token_revoke(struct storage *s, const char *id, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st;

	if (sq_tx_write(ss, err) < 0)
		goto fail;
	st = sq_stmt_get(ss, S_TOKEN_DELETE);
	sq_bind_text(ss, st, 1, id);
	if (sq_run(ss, st, err) < 0)
		goto fail;
	if (sqlite3_changes(ss->db) == 0) {
		storage_err_token_absent(err, id);
		goto fail;
	}
	return sq_tx_commit(ss, err);
fail:
	sq_tx_abort(ss);
	return -1;
}

int sq_package_visibility(struct storage *s, const char *ns, const char *name,
			  struct arena *a, const char **out, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	sqlite3_stmt *st = sq_stmt_get(ss, S_PKG_VISIBILITY);
	int r;

	sq_bind_text(ss, st, 1, ns);
	sq_bind_text(ss, st, 2, name);
	r = sq_step(ss, st, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, NULL, NULL);
	*out = sq_col_str(a, st, 0);
	sqlite3_reset(st);
	return 0;
}
