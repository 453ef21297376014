/* oci-dump.c - the OCI content of a filesystem store walked whole for appr-admin:
 * collected into an archive index, loaded from one, checked, swept and counted, with
 * SQL made from the table of oci_dump_tables. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "digest-map.h"
#include "export.h"
#include "names.h"
#include "oci-dump.h"

#define CHUNK 65536
#define PATHBUF 4096
#define BUSY_MS 30000

const struct oci_dump_table oci_dump_tables[OCI_DUMP_N_TABLES] = {
	[OCI_DUMP_T_BLOBS] = { "oci_blobs", "oci_blob", 1, 2, {
		{ "digest", OCI_DUMP_DIGEST, true },
		{ "size", OCI_DUMP_SIZE, true },
	} },
	[OCI_DUMP_T_LINKS] = { "oci_blob_links", "oci_blob_link", 2, 2, {
		{ "repo", OCI_DUMP_REPO, true },
		{ "digest", OCI_DUMP_DIGEST, true },
	} },
	[OCI_DUMP_T_MANIFESTS] = { "oci_manifests", "oci_manifest", 2, 7, {
		{ "repo", OCI_DUMP_REPO, true },
		{ "digest", OCI_DUMP_DIGEST, true },
		{ "media_type", OCI_DUMP_TEXT, true },
		{ "artifact_type", OCI_DUMP_TEXT_NULL, true },
		{ "subject", OCI_DUMP_DIGEST_NULL, true },
		{ "body", OCI_DUMP_BODY, false },          /* its digest is the key */
		{ "created_at", OCI_DUMP_TIME, false },    /* pushed twice: either time */
	} },
	[OCI_DUMP_T_REFS] = { "oci_manifest_refs", "oci_manifest_ref", 3, 3, {
		{ "repo", OCI_DUMP_REPO, true },
		{ "manifest", OCI_DUMP_DIGEST, true },
		{ "digest", OCI_DUMP_DIGEST, true },
	} },
	[OCI_DUMP_T_TAGS] = { "oci_tags", "oci_tag", 2, 3, {
		{ "repo", OCI_DUMP_REPO, true },
		{ "tag", OCI_DUMP_TAG, true },
		{ "digest", OCI_DUMP_DIGEST, true },
	} },
};

struct oci_dump {
	sqlite3 *db;
	char oci_dir[PATHBUF / 2];       /* data_dir/oci */
	char blob_dir[PATHBUF / 2];      /* data_dir/oci/sha256 */
	char up_dir[PATHBUF / 2];        /* data_dir/oci/uploads */
};

static int sql_fail(sqlite3 *db, const char *what, struct appr_error *err)
{
	int rc = db ? sqlite3_errcode(db) & 0xff : SQLITE_NOMEM;
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return appr_err(err, 409, APPR_E_RESOURCE_IN_USE, "%s: the store is busy: try "
				"again", what);
	return appr_err(err, 500, APPR_E_INTERNAL, "%s: %s", what,
			db ? sqlite3_errmsg(db) : "out of memory");
}

static int sys_fail(const char *what, const char *path, int e, struct appr_error *err)
{
	return appr_err(err, 500, APPR_E_INTERNAL, "%s %s: %s", what, path, strerror(e));
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct appr_error *err)
{
	if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
		return sql_fail(db, sql, err);
	return 0;
}

static int exec(sqlite3 *db, const char *sql, struct appr_error *err)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : sql_fail(db, sql, err);
}

static void rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* Whether db has the OCI tables: 1, 0, or -1 with err. */
static int has_oci_tables(sqlite3 *db, struct appr_error *err)
{
	sqlite3_stmt *st;
	if (prepare(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
		    "'oci_blobs'", &st, err) < 0)
		return -1;
	int r = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) > 0 : -1;
	if (r < 0)
		sql_fail(db, "looking for the OCI tables", err);
	sqlite3_finalize(st);
	return r;
}

static void blob_file(const struct oci_dump *d, const char *hex, char *path)
{
	snprintf(path, PATHBUF, "%s/%.2s/%s", d->blob_dir, hex, hex);
}

int oci_dump_open(const char *data_dir, struct oci_dump **out, struct appr_error *err)
{
	struct oci_dump *d;
	char path[PATHBUF];
	*out = NULL;
	if (strlen(data_dir) > PATHBUF / 2 - 32)
		return appr_err(err, 400, APPR_E_INVALID_USAGE, "data_dir is too long");
	d = xcalloc(1, sizeof *d);
	snprintf(d->oci_dir, sizeof d->oci_dir, "%s/oci", data_dir);
	snprintf(d->blob_dir, sizeof d->blob_dir, "%s/oci/sha256", data_dir);
	snprintf(d->up_dir, sizeof d->up_dir, "%s/oci/uploads", data_dir);
	snprintf(path, sizeof path, "%s/appr.db", data_dir);
	if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sql_fail(d->db, path, err);
		goto fail;
	}
	sqlite3_busy_timeout(d->db, BUSY_MS);
	if (exec(d->db, "PRAGMA foreign_keys=ON", err) < 0)
		goto fail;
	int r = has_oci_tables(d->db, err);
	if (r <= 0) {
		if (r == 0)
			appr_err(err, 500, APPR_E_INTERNAL, "%s has no OCI tables "
				 "(schema/005-oci.sql)", path);
		goto fail;
	}
	*out = d;
	return 0;
fail:
	oci_dump_close(d);
	return -1;
}

void oci_dump_close(struct oci_dump *d)
{
	if (!d)
		return;
	sqlite3_close(d->db);
	free(d);
}

/* "SELECT c1, c2... FROM table" of t, then tail (an ORDER BY or WHERE). */
static void select_sql(const struct oci_dump_table *t, const char *tail, struct strbuf *sb)
{
	sb_puts(sb, "SELECT ");
	for (unsigned c = 0; c < t->n_cols; c++)
		sb_printf(sb, "%s%s", c ? ", " : "", t->cols[c].name);
	sb_printf(sb, " FROM %s%s", t->table, tail);
}

/* The key columns of t as "k1, k2" or "k1 = ?1 AND k2 = ?2". */
static void key_sql(const struct oci_dump_table *t, bool where, struct strbuf *sb)
{
	for (unsigned c = 0; c < t->n_key; c++) {
		if (where)
			sb_printf(sb, "%s%s = ?%u", c ? " AND " : "", t->cols[c].name, c + 1);
		else
			sb_printf(sb, "%s%s", c ? ", " : "", t->cols[c].name);
	}
}

/* Row r from the columns of st, in arena a. */
static void row_from(const struct oci_dump_table *t, sqlite3_stmt *st, struct arena *a,
		     struct oci_dump_row *r)
{
	for (unsigned c = 0; c < t->n_cols; c++) {
		char num[24];
		if (sqlite3_column_type(st, (int)c) == SQLITE_NULL)
			continue;
		if (t->cols[c].kind == OCI_DUMP_SIZE) {
			snprintf(num, sizeof num, "%lld",
				 (long long)sqlite3_column_int64(st, (int)c));
			r->v[c] = arena_strdup(a, num);
			r->len[c] = strlen(num);
			continue;
		}
		const void *p = t->cols[c].kind == OCI_DUMP_BODY ? sqlite3_column_blob(st, (int)c)
			: (const void *)sqlite3_column_text(st, (int)c);
		size_t n = (size_t)sqlite3_column_bytes(st, (int)c);
		char *v = arena_alloc(a, n + 1);
		if (n)
			memcpy(v, p, n);
		r->v[c] = v;
		r->len[c] = n;
	}
}

int oci_dump_collect(struct oci_dump *d, struct archive_index *ix, struct appr_error *err)
{
	int rc = -1;
	if (exec(d->db, "BEGIN", err) < 0)
		return -1;
	for (unsigned t = 0; t < OCI_DUMP_N_TABLES; t++) {
		const struct oci_dump_table *tb = &oci_dump_tables[t];
		struct strbuf sql = { 0 }, order = { 0 };
		sqlite3_stmt *st = NULL;
		int r;
		sb_puts(&order, " ORDER BY ");
		key_sql(tb, false, &order);
		select_sql(tb, order.buf, &sql);
		sb_free(&order);
		r = prepare(d->db, sql.buf, &st, err);
		sb_free(&sql);
		if (r < 0)
			goto out;
		while ((r = sqlite3_step(st)) == SQLITE_ROW) {
			struct oci_dump_row *row = archive_add_oci_row(ix, t);
			row_from(tb, st, ix->a, row);
			if (t == OCI_DUMP_T_BLOBS && row->v[0])
				archive_add_oci_blob(ix, row->v[0], strtoll(row->v[1], NULL, 10));
		}
		sqlite3_finalize(st);
		if (r != SQLITE_DONE) {
			sql_fail(d->db, tb->table, err);
			goto out;
		}
	}
	rc = 0;
out:
	rollback(d->db);                 /* the read transaction ends */
	return rc;
}

int oci_dump_blob_open(struct oci_dump *d, const char *hex, int *fd, long long *size,
		       struct appr_error *err)
{
	char path[PATHBUF];
	struct stat sb;
	blob_file(d, hex, path);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return errno == ENOENT ? appr_err(err, 404, APPR_E_INTERNAL, "OCI blob %s is "
						  "missing", hex) : sys_fail("open", path, errno, err);
	if (fstat(*fd, &sb) < 0) {
		int e = errno;
		close(*fd);
		*fd = -1;
		return sys_fail("stat", path, e, err);
	}
	*size = sb.st_size;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	int e = fsync(fd) < 0 ? errno : 0;
	close(fd);
	return e;
}

/* ---- loading ---- */

/* Blob b's bytes from src into its file (absent: checked first by the caller). */
static int load_blob(struct oci_dump *d, const struct archive_oci_blob *b,
		     struct blob_source *src, unsigned char *buf, long long *bytes,
		     struct appr_error *err)
{
	char dir[PATHBUF / 2 + 8], tmp[PATHBUF], final[PATHBUF], sha[DIGEST_HEX_LEN + 1];
	struct digest_ctx *dg = NULL;
	long long size, got = 0;
	int fd = -1, rc = -1, e;

	snprintf(dir, sizeof dir, "%s/%.2s", d->blob_dir, b->digest);
	snprintf(tmp, sizeof tmp, "%s/.load-%ld-%s", dir, (long)getpid(), b->digest);
	blob_file(d, b->digest, final);
	if ((e = util_mkdir_p(dir)))
		return sys_fail("mkdir", dir, e, err);
	if (!src->oci_open)
		return appr_err(err, 500, APPR_E_INTERNAL, "the source has no OCI blobs");
	if (src->oci_open(src, b->digest, &size, err) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		sys_fail("create", tmp, errno, err);
		goto out;
	}
	dg = digest_new();
	for (;;) {
		long n = src->read(src, buf, CHUNK);
		if (n < 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "OCI blob %s cannot be read", b->digest);
			goto out;
		}
		if (n == 0)
			break;
		digest_update(dg, buf, (size_t)n);
		if (write(fd, buf, (size_t)n) != (ssize_t)n) {
			sys_fail("write", tmp, errno, err);
			goto out;
		}
		got += n;
	}
	digest_final_hex(dg, sha);
	if (got != b->size || strcmp(sha, b->digest) != 0) {
		appr_err(err, 400, APPR_E_INVALID_USAGE, "OCI blob %s: %lld bytes with SHA-256 "
			 "%s, not what the index lists", b->digest, got, sha);
		goto out;
	}
	if (fsync(fd) < 0) {
		sys_fail("fsync", tmp, errno, err);
		goto out;
	}
	if (rename(tmp, final) < 0) {
		sys_fail("rename", tmp, errno, err);
		goto out;
	}
	tmp[0] = '\0';
	if ((e = fsync_dir(dir))) {
		sys_fail("fsync", dir, e, err);
		goto out;
	}
	*bytes += got;
	rc = 0;
out:
	src->close(src);
	digest_free(dg);
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	return rc;
}

static void bind_row(sqlite3_stmt *st, const struct oci_dump_table *t,
		     const struct oci_dump_row *r, unsigned n)
{
	for (unsigned c = 0; c < n; c++) {
		if (!r->v[c])
			sqlite3_bind_null(st, (int)c + 1);
		else if (t->cols[c].kind == OCI_DUMP_SIZE)
			sqlite3_bind_int64(st, (int)c + 1, strtoll(r->v[c], NULL, 10));
		else if (t->cols[c].kind == OCI_DUMP_BODY)
			sqlite3_bind_blob(st, (int)c + 1, r->v[c], (int)r->len[c], SQLITE_STATIC);
		else
			sqlite3_bind_text(st, (int)c + 1, r->v[c], (int)r->len[c], SQLITE_STATIC);
	}
}

/* The first compared column where the row st holds differs from r, or -1. */
static int differs(const struct oci_dump_table *t, sqlite3_stmt *st,
		   const struct oci_dump_row *r)
{
	for (unsigned c = 0; c < t->n_cols; c++) {
		if (!t->cols[c].compared)
			continue;
		bool null = sqlite3_column_type(st, (int)c) == SQLITE_NULL;
		if (null || !r->v[c]) {
			if (null != !r->v[c])
				return (int)c;
			continue;
		}
		if (t->cols[c].kind == OCI_DUMP_SIZE) {
			if (sqlite3_column_int64(st, (int)c) != strtoll(r->v[c], NULL, 10))
				return (int)c;
			continue;
		}
		const void *p = sqlite3_column_blob(st, (int)c);
		if ((size_t)sqlite3_column_bytes(st, (int)c) != r->len[c] ||
		    (r->len[c] && memcmp(p, r->v[c], r->len[c]) != 0))
			return (int)c;
	}
	return -1;
}

/* Every row of table t: written, present or a conflict. */
static int load_table(struct oci_dump *d, const struct archive_index *ix, unsigned t,
		      oci_dump_say_fn say, void *sctx, struct oci_dump_load_report *rep,
		      struct appr_error *err)
{
	const struct oci_dump_table *tb = &oci_dump_tables[t];
	struct strbuf ins = { 0 }, sel = { 0 }, where = { 0 };
	sqlite3_stmt *si = NULL, *ss = NULL;
	int rc = -1;

	sb_printf(&ins, "INSERT OR IGNORE INTO %s (", tb->table);
	for (unsigned c = 0; c < tb->n_cols; c++)
		sb_printf(&ins, "%s%s", c ? ", " : "", tb->cols[c].name);
	sb_puts(&ins, ") VALUES (");
	for (unsigned c = 0; c < tb->n_cols; c++)
		sb_printf(&ins, "%s?%u", c ? ", " : "", c + 1);
	sb_puts(&ins, ")");
	sb_puts(&where, " WHERE ");
	key_sql(tb, true, &where);
	select_sql(tb, where.buf, &sel);
	if (prepare(d->db, ins.buf, &si, err) < 0 || prepare(d->db, sel.buf, &ss, err) < 0)
		goto out;
	for (size_t i = 0; i < ix->oci[t].n; i++) {
		const struct oci_dump_row *r = &ix->oci[t].rows[i];
		sqlite3_reset(si);
		sqlite3_clear_bindings(si);
		bind_row(si, tb, r, tb->n_cols);
		if (sqlite3_step(si) != SQLITE_DONE) {
			sql_fail(d->db, tb->table, err);
			goto out;
		}
		if (sqlite3_changes(d->db) > 0) {
			rep->rows_written[t]++;
			continue;
		}
		sqlite3_reset(ss);
		sqlite3_clear_bindings(ss);
		bind_row(ss, tb, r, tb->n_key);
		if (sqlite3_step(ss) != SQLITE_ROW) {
			sql_fail(d->db, tb->table, err);
			goto out;
		}
		int col = differs(tb, ss, r);
		if (col < 0) {
			rep->rows_present[t]++;
			continue;
		}
		rep->conflicts++;
		char line[512];
		int n = snprintf(line, sizeof line, "conflict: %s", tb->record);
		for (unsigned c = 0; c < tb->n_key && n > 0 && (size_t)n < sizeof line; c++)
			n += snprintf(line + n, sizeof line - (size_t)n, " %s", r->v[c]);
		if (n > 0 && (size_t)n < sizeof line)
			snprintf(line + n, sizeof line - (size_t)n, ": the store holds another %s",
				 tb->cols[col].name);
		if (say)
			say(sctx, line);
	}
	rc = 0;
out:
	sqlite3_finalize(si);
	sqlite3_finalize(ss);
	sb_free(&ins);
	sb_free(&sel);
	sb_free(&where);
	return rc;
}

int oci_dump_load(struct oci_dump *d, const struct archive_index *ix, struct blob_source *src,
		  oci_dump_say_fn say, void *sctx, struct oci_dump_load_report *rep,
		  struct appr_error *err)
{
	unsigned char *buf = xmalloc(CHUNK);
	int rc = -1, e;

	memset(rep, 0, sizeof *rep);
	if ((e = util_mkdir_p(d->blob_dir))) {
		sys_fail("mkdir", d->blob_dir, e, err);
		goto out;
	}
	/* the files first: a row never names a missing file */
	for (size_t i = 0; i < ix->n_oci_blobs; i++) {
		const struct archive_oci_blob *b = &ix->oci_blobs[i];
		char final[PATHBUF];
		struct stat sb;
		blob_file(d, b->digest, final);
		if (stat(final, &sb) == 0 && sb.st_size == b->size)
			continue;            /* there (fsck checks its bytes) */
		if (load_blob(d, b, src, buf, &rep->bytes, err) < 0)
			goto out;
	}
	if (exec(d->db, "BEGIN IMMEDIATE", err) < 0)
		goto out;
	for (unsigned t = 0; t < OCI_DUMP_N_TABLES; t++)
		if (load_table(d, ix, t, say, sctx, rep, err) < 0)
			goto out;
	if (exec(d->db, "COMMIT", err) < 0)
		goto out;
	rc = 0;
out:
	rollback(d->db);
	free(buf);
	return rc;
}

/* ---- sweeping ---- */

void oci_dump_sayf(oci_dump_say_fn say, void *ctx, const char *fmt, ...)
{
	char line[PATHBUF + 256];
	va_list ap;
	if (!say)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	say(ctx, line);
}

#define found(rep, ...) oci_dump_sayf((rep)->found, (rep)->found_ctx, __VA_ARGS__)

/* 1 when a blob row names hex, 0 not, -1 error. */
static int row_names(sqlite3_stmt *st, const char *hex)
{
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
	int r = sqlite3_step(st);
	return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : -1;
}

/* A file to go: its path, and the name it is renamed to before the COMMIT. */
struct doomed {
	char path[PATHBUF];
	char trash[PATHBUF];
	long long size;
};

struct doomed_list {
	struct doomed *v;
	size_t n, cap;
};

static struct doomed *doom(struct doomed_list *l, const char *path, long long size)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 32;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	struct doomed *x = &l->v[l->n++];
	snprintf(x->path, sizeof x->path, "%s", path);
	x->trash[0] = '\0';
	x->size = size;
	return x;
}

/* Blob files older than OCI_DUMP_SAFE_AGE that no row may name (not 64 hex: a temp
 * file), into l; left-over trash of an earlier sweep removed. */
static void walk_files(struct oci_dump *d, time_t old, struct doomed_list *l, bool dry,
		       struct oci_dump_sweep_report *rep)
{
	DIR *top = opendir(d->oci_dir), *sub;
	struct dirent *de, *fe;
	char path[PATHBUF];
	struct stat sb;

	while (top && (de = readdir(top))) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".del") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", d->oci_dir, de->d_name);
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		found(rep, "OCI blob file left by an interrupted gc %s", path);
		rep->files++;
		rep->bytes += sb.st_size;
		if (!dry)
			unlink(path);
	}
	if (top)
		closedir(top);
	top = opendir(d->blob_dir);
	while (top && (de = readdir(top))) {
		if (de->d_name[0] == '.')
			continue;
		char dir[PATHBUF];
		snprintf(dir, sizeof dir, "%s/%s", d->blob_dir, de->d_name);
		sub = opendir(dir);
		while (sub && (fe = readdir(sub))) {
			if (strcmp(fe->d_name, ".") == 0 || strcmp(fe->d_name, "..") == 0)
				continue;
			if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, fe->d_name) >=
			    sizeof path || lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) ||
			    sb.st_mtime >= old)
				continue;
			doom(l, path, sb.st_size);
		}
		if (sub)
			closedir(sub);
	}
	if (top)
		closedir(top);
}

/* Blob files no row names: under the write lock each is checked and renamed aside,
 * then COMMIT (nothing written: it releases the lock), then they are unlinked; a
 * failed COMMIT renames them back. */
static int sweep_files(struct oci_dump *d, bool dry, struct oci_dump_sweep_report *rep,
		       struct appr_error *err)
{
	struct doomed_list l = { 0 };
	sqlite3_stmt *st = NULL;
	time_t old = time(NULL) - OCI_DUMP_SAFE_AGE;
	size_t gone = 0;
	int rc = -1;

	walk_files(d, old, &l, dry, rep);
	if (l.n == 0)
		return 0;
	if (prepare(d->db, "SELECT 1 FROM oci_blobs WHERE digest = ?1", &st, err) < 0)
		goto out;
	if (!dry && exec(d->db, "BEGIN IMMEDIATE", err) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		struct doomed *x = &l.v[i];
		const char *name = strrchr(x->path, '/') + 1;
		bool blob = names_valid_digest(name);
		struct stat sb;
		if (blob) {
			int r = row_names(st, name);
			if (r < 0) {
				sql_fail(d->db, "oci_blobs", err);
				goto out;
			}
			if (r > 0)
				continue;
		}
		if (lstat(x->path, &sb) < 0 || sb.st_mtime >= old)
			continue;                 /* gone, or written again meanwhile */
		found(rep, "%s %s", blob ? "unreferenced OCI blob file" : "OCI temp file",
		      x->path);
		rep->files++;
		rep->bytes += x->size;
		if (dry)
			continue;
		snprintf(x->trash, sizeof x->trash, "%s/%s.%ld.%zu.del", d->oci_dir, name,
			 (long)getpid(), i);
		if (rename(x->path, x->trash) < 0)
			x->trash[0] = '\0';
		else
			gone = i + 1;
	}
	if (!dry && exec(d->db, "COMMIT", err) < 0) {
		for (size_t i = 0; i < gone; i++)
			if (l.v[i].trash[0])
				rename(l.v[i].trash, l.v[i].path);
		goto out;
	}
	for (size_t i = 0; i < gone; i++)
		if (l.v[i].trash[0])
			unlink(l.v[i].trash);
	rc = 0;
out:
	if (!dry)
		rollback(d->db);
	sqlite3_finalize(st);
	free(l.v);
	return rc;
}

/* Blob rows no link or reference uses: deleted and their files renamed aside under
 * the write lock, COMMIT, then the files unlinked (renamed back when COMMIT fails). */
static int sweep_rows(struct oci_dump *d, bool dry, struct oci_dump_sweep_report *rep,
		      struct appr_error *err)
{
	struct doomed_list l = { 0 };
	sqlite3_stmt *st = NULL, *del = NULL;
	int rc = -1, r;

	if (!dry && exec(d->db, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (prepare(d->db, "SELECT digest, size FROM oci_blobs b WHERE NOT EXISTS (SELECT 1 "
		    "FROM oci_blob_links l WHERE l.digest = b.digest) AND NOT EXISTS (SELECT 1 "
		    "FROM oci_manifest_refs r WHERE r.digest = b.digest) ORDER BY digest",
		    &st, err) < 0 ||
	    prepare(d->db, "DELETE FROM oci_blobs WHERE digest = ?1", &del, err) < 0)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(st, 0);
		char path[PATHBUF];
		if (!hex || !names_valid_digest(hex))
			continue;
		if (!rep->quiet_unused)
			found(rep, "OCI blob %s: no repository links or references it", hex);
		rep->rows++;
		rep->bytes += sqlite3_column_int64(st, 1);
		if (dry)
			continue;
		blob_file(d, hex, path);
		doom(&l, path, sqlite3_column_int64(st, 1));
	}
	if (r != SQLITE_DONE) {
		sql_fail(d->db, "oci_blobs", err);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* (the walk done: each row deleted, its file moved aside) */
	for (size_t i = 0; i < l.n; i++) {
		struct doomed *x = &l.v[i];
		const char *hex = strrchr(x->path, '/') + 1;
		snprintf(x->trash, sizeof x->trash, "%s/%s.%ld.r%zu.del", d->oci_dir, hex,
			 (long)getpid(), i);
		if (rename(x->path, x->trash) < 0)
			x->trash[0] = '\0';
		sqlite3_reset(del);
		sqlite3_bind_text(del, 1, hex, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(del) != SQLITE_DONE) {
			sql_fail(d->db, "deleting an OCI blob row", err);
			goto undo;
		}
	}
	if (!dry && exec(d->db, "COMMIT", err) < 0)
		goto undo;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].trash[0])
			unlink(l.v[i].trash);
	rc = 0;
	goto out;
undo:
	sqlite3_finalize(st);
	st = NULL;
	rollback(d->db);
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].trash[0])
			rename(l.v[i].trash, l.v[i].path);
out:
	if (!dry)
		rollback(d->db);
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	free(l.v);
	return rc;
}

/* Upload sessions idle for ttl seconds (the file's last write, or the row's creation
 * when the file is gone), and upload files no row names as old: rows, then files. */
static int sweep_uploads(struct oci_dump *d, unsigned long long ttl, bool dry,
			 struct oci_dump_sweep_report *rep, struct appr_error *err)
{
	time_t limit = time(NULL) - (time_t)(ttl > (unsigned long long)INT32_MAX ? INT32_MAX : ttl);
	sqlite3_stmt *st = NULL, *del = NULL, *has = NULL;
	char path[PATHBUF];
	struct stat sb;
	int rc = -1, r;
	DIR *dir = NULL;
	struct dirent *de;

	if (prepare(d->db, "SELECT uuid, repo, created FROM oci_uploads ORDER BY uuid", &st,
		    err) < 0 ||
	    prepare(d->db, "DELETE FROM oci_uploads WHERE uuid = ?1", &del, err) < 0 ||
	    prepare(d->db, "SELECT 1 FROM oci_uploads WHERE uuid = ?1", &has, err) < 0)
		goto out;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *uuid = (const char *)sqlite3_column_text(st, 0);
		const char *repo = (const char *)sqlite3_column_text(st, 1);
		long long idle_since = sqlite3_column_int64(st, 2);
		if (!uuid || strchr(uuid, '/') || uuid[0] == '.' || !uuid[0])
			continue;
		snprintf(path, sizeof path, "%s/%s", d->up_dir, uuid);
		bool file = stat(path, &sb) == 0;
		if (file)
			idle_since = (long long)sb.st_mtime;
		if (idle_since >= (long long)limit)
			continue;
		found(rep, "stale OCI upload session %s of %s", uuid, repo ? repo : "?");
		rep->uploads++;
		if (file)
			rep->bytes += sb.st_size;
		if (dry)
			continue;
		sqlite3_reset(del);
		sqlite3_bind_text(del, 1, uuid, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(del) != SQLITE_DONE) {
			sql_fail(d->db, "deleting an upload session", err);
			goto out;
		}
		if (file)
			unlink(path);
	}
	if (r != SQLITE_DONE) {
		sql_fail(d->db, "oci_uploads", err);
		goto out;
	}
	dir = opendir(d->up_dir);
	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", d->up_dir, de->d_name);
		if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_mtime >= limit)
			continue;
		sqlite3_reset(has);
		sqlite3_bind_text(has, 1, de->d_name, -1, SQLITE_TRANSIENT);
		r = sqlite3_step(has);
		if (r == SQLITE_ROW)
			continue;                 /* a live row (dry run: said above) */
		if (r != SQLITE_DONE) {
			sql_fail(d->db, "oci_uploads", err);
			goto out;
		}
		found(rep, "stale OCI upload file %s", path);
		rep->uploads++;
		rep->bytes += sb.st_size;
		if (!dry)
			unlink(path);
	}
	rc = 0;
out:
	if (dir)
		closedir(dir);
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	sqlite3_finalize(has);
	return rc;
}

int oci_dump_sweep(struct oci_dump *d, unsigned long long upload_ttl, bool dry,
		   struct oci_dump_sweep_report *rep, struct appr_error *err)
{
	rep->files = rep->rows = rep->uploads = 0;
	rep->bytes = 0;
	if (sweep_uploads(d, upload_ttl, dry, rep, err) < 0 || sweep_rows(d, dry, rep, err) < 0 ||
	    sweep_files(d, dry, rep, err) < 0)
		return -1;
	return 0;
}

/* ---- checking ---- */

struct check {
	struct oci_dump *d;
	bool repair;
	oci_dump_say_fn say;
	void *sctx;
	struct oci_dump_check_report *rep;
	struct digest_map *bad;          /* blobs missing or damaged */
};

#define problem(c, counted, ...) \
	((c)->rep->problems += (counted) ? 1 : 0, oci_dump_sayf((c)->say, (c)->sctx, __VA_ARGS__))

/* Run sql with up to two text parameters: a repair. */
static void repair_sql(struct check *c, const char *sql, const char *a, const char *b,
		       const char *done)
{
	sqlite3_stmt *st;
	struct appr_error e = { 0 };
	if (prepare(c->d->db, sql, &st, &e) < 0) {
		problem(c, false, "  not repaired: %s", e.msg);
		return;
	}
	sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE) {
		problem(c, false, "  not repaired: %s", sqlite3_errmsg(c->d->db));
	} else if (sqlite3_changes(c->d->db) > 0) {
		c->rep->repaired++;
		problem(c, false, "  repaired: %s", done);
	}
	sqlite3_finalize(st);
}

/* The SHA-256 of file path and its size: 0, or an errno. */
static int hash_file(const char *path, unsigned char *buf, char hex[DIGEST_HEX_LEN + 1],
		     long long *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), e = 0;
	if (fd < 0)
		return errno;
	struct digest_ctx *dg = digest_new();
	*size = 0;
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : 0;
			break;
		}
		digest_update(dg, buf, (size_t)n);
		*size += n;
	}
	digest_final_hex(dg, hex);
	digest_free(dg);
	close(fd);
	return e;
}

static void mark_bad(struct check *c, const char *hex)
{
	bool known;
	void **slot = digest_map_slot(c->bad, hex, &known);
	*slot = (void *)1;
}

static bool is_bad(struct check *c, const char *hex)
{
	bool known;
	if (!names_valid_digest(hex))
		return false;
	void **slot = digest_map_slot(c->bad, hex, &known);
	return *slot != NULL;
}

/* Each blob row's file: present, its size, its SHA-256. */
static int check_blobs(struct check *c, struct appr_error *err)
{
	unsigned char *buf = xmalloc(CHUNK);
	sqlite3_stmt *st;
	int r, rc = -1;
	if (prepare(c->d->db, "SELECT digest, size FROM oci_blobs ORDER BY digest", &st, err) < 0) {
		free(buf);
		return -1;
	}
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(st, 0);
		long long want = sqlite3_column_int64(st, 1), size = 0;
		char path[PATHBUF], sha[DIGEST_HEX_LEN + 1];
		c->rep->blobs++;
		if (!hex || !names_valid_digest(hex)) {
			problem(c, true, "OCI blob row \"%.70s\": not a digest", hex ? hex : "");
			continue;
		}
		blob_file(c->d, hex, path);
		int e = hash_file(path, buf, sha, &size);
		if (e == ENOENT)
			problem(c, true, "OCI blob %s is missing (%s)", hex, path);
		else if (e)
			problem(c, true, "OCI blob %s cannot be read: %s", hex, strerror(e));
		else if (size != want)
			problem(c, true, "OCI blob %s is %lld bytes, the database says %lld", hex,
				size, want);
		else if (strcmp(sha, hex) != 0)
			problem(c, true, "OCI blob %s: its bytes' SHA-256 is %s", hex, sha);
		else
			continue;
		mark_bad(c, hex);
	}
	if (r != SQLITE_DONE)
		sql_fail(c->d->db, "oci_blobs", err);
	else
		rc = 0;
	sqlite3_finalize(st);
	free(buf);
	return rc;
}

/* Each manifest: its body's digest, each reference present and sound; *dropped: how
 * many were deleted (repair). */
static int check_manifests(struct check *c, unsigned long *dropped, struct appr_error *err)
{
	sqlite3_stmt *st = NULL, *refs = NULL, *has = NULL;
	int r, rc = -1;
	if (prepare(c->d->db, "SELECT repo, digest, body FROM oci_manifests ORDER BY repo, digest",
		    &st, err) < 0 ||
	    prepare(c->d->db, "SELECT digest FROM oci_manifest_refs WHERE repo = ?1 AND "
		    "manifest = ?2 ORDER BY digest", &refs, err) < 0 ||
	    prepare(c->d->db, "SELECT EXISTS (SELECT 1 FROM oci_blobs WHERE digest = ?2) OR "
		    "EXISTS (SELECT 1 FROM oci_manifests WHERE repo = ?1 AND digest = ?2)",
		    &has, err) < 0)
		goto out;
	/* (repairs go after the walk: the statement reads the table) */
	struct { char *repo, *digest; } *drop = NULL;
	size_t n_drop = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *repo = (const char *)sqlite3_column_text(st, 0);
		const char *hex = (const char *)sqlite3_column_text(st, 1);
		const void *body = sqlite3_column_blob(st, 2);
		size_t len = (size_t)sqlite3_column_bytes(st, 2);
		char sha[DIGEST_HEX_LEN + 1];
		bool wrong = false;
		c->rep->manifests++;
		if (!repo || !hex)
			continue;
		struct digest_ctx *dg = digest_new();
		digest_update(dg, body, len);
		digest_final_hex(dg, sha);
		digest_free(dg);
		if (strcmp(sha, hex) != 0) {
			problem(c, true, "OCI manifest %s of %s: its body's SHA-256 is %s", hex,
				repo, sha);
			wrong = true;
		}
		sqlite3_reset(refs);
		sqlite3_bind_text(refs, 1, repo, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(refs, 2, hex, -1, SQLITE_TRANSIENT);
		while ((r = sqlite3_step(refs)) == SQLITE_ROW) {
			const char *ref = (const char *)sqlite3_column_text(refs, 0);
			if (!ref)
				continue;
			sqlite3_reset(has);
			sqlite3_bind_text(has, 1, repo, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(has, 2, ref, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(has) != SQLITE_ROW) {
				sql_fail(c->d->db, "oci_manifest_refs", err);
				goto fail;
			}
			if (!sqlite3_column_int(has, 0)) {
				problem(c, true, "OCI manifest %s of %s references %s, which is "
					"absent", hex, repo, ref);
				wrong = true;
			} else if (is_bad(c, ref)) {
				problem(c, true, "OCI manifest %s of %s references blob %s, which "
					"is damaged", hex, repo, ref);
				wrong = true;
			}
		}
		if (r != SQLITE_DONE) {
			sql_fail(c->d->db, "oci_manifest_refs", err);
			goto fail;
		}
		if (wrong && c->repair) {
			drop = xrealloc(drop, (n_drop + 1) * sizeof *drop);
			drop[n_drop].repo = xstrdup(repo);
			drop[n_drop++].digest = xstrdup(hex);
		}
	}
	if (r != SQLITE_DONE) {
		sql_fail(c->d->db, "oci_manifests", err);
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	for (size_t i = 0; i < n_drop; i++)
		repair_sql(c, "DELETE FROM oci_manifests WHERE repo = ?1 AND digest = ?2",
			   drop[i].repo, drop[i].digest, "deleted the OCI manifest and its tags");
	*dropped = n_drop;
	rc = 0;
fail:
	for (size_t i = 0; i < n_drop; i++) {
		free(drop[i].repo);
		free(drop[i].digest);
	}
	free(drop);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(refs);
	sqlite3_finalize(has);
	return rc;
}

/* Rows of sql (a, b, and what is wrong with them or ""): each wrong one a problem
 * said as "what a:b: wrong"; with repair, fix (parameters a, b) run for each after
 * the walk. */
static int check_rows(struct check *c, const char *sql, const char *what, const char *fix,
		      const char *done, unsigned long *count, struct appr_error *err)
{
	sqlite3_stmt *st;
	char **v = NULL;
	size_t n = 0;
	int r, rc = -1;
	if (prepare(c->d->db, sql, &st, err) < 0)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0);
		const char *b = (const char *)sqlite3_column_text(st, 1);
		const char *x = (const char *)sqlite3_column_text(st, 2);
		if (count)
			(*count)++;
		if (!a || !b || !x || !*x)
			continue;         /* x: "" when sound, else what is wrong */
		problem(c, true, "%s %s:%s: %s", what, a, b, x);
		if (c->repair) {
			v = xrealloc(v, (n + 2) * sizeof *v);
			v[n++] = xstrdup(a);
			v[n++] = xstrdup(b);
		}
	}
	if (r != SQLITE_DONE)
		sql_fail(c->d->db, sql, err);
	else
		rc = 0;
	sqlite3_finalize(st);
	for (size_t i = 0; i + 1 < n; i += 2) {
		if (rc == 0)
			repair_sql(c, fix, v[i], v[i + 1], done);
		free(v[i]);
		free(v[i + 1]);
	}
	free(v);
	return rc;
}

static void say_found(void *ctx, const char *line)
{
	struct check *c = ctx;
	problem(c, true, "%s", line);
	if (c->repair)
		c->rep->repaired++;
}

int oci_dump_check(struct oci_dump *d, unsigned long long upload_ttl, bool repair,
		   oci_dump_say_fn say, void *sctx, struct oci_dump_check_report *rep,
		   struct appr_error *err)
{
	struct check c = { d, repair, say, sctx, rep, digest_map_new() };
	int rc = -1;

	unsigned long dropped = 0, manifests;
	memset(rep, 0, sizeof *rep);
	if (check_blobs(&c, err) < 0 || check_manifests(&c, &dropped, err) < 0)
		goto out;
	/* an index whose manifest went is wrong in turn: again until none goes */
	manifests = rep->manifests;
	for (int pass = 0; dropped && pass < 16; pass++)
		if (check_manifests(&c, &dropped, err) < 0)
			goto out;
	rep->manifests = manifests;
	if (
	    check_rows(&c, "SELECT repo, tag, CASE WHEN EXISTS (SELECT 1 FROM oci_manifests m "
		       "WHERE m.repo = t.repo AND m.digest = t.digest) THEN '' ELSE 'names "
		       "manifest ' || digest || ', which is absent' END "
		       "FROM oci_tags t ORDER BY repo, tag", "OCI tag",
		       "DELETE FROM oci_tags WHERE repo = ?1 AND tag = ?2", "deleted the tag",
		       &rep->tags, err) < 0 ||
	    check_rows(&c, "SELECT repo, digest, CASE WHEN EXISTS (SELECT 1 FROM oci_blobs b "
		       "WHERE b.digest = l.digest) THEN '' ELSE 'no blob row' END "
		       "FROM oci_blob_links l ORDER BY repo, digest", "OCI blob link",
		       "DELETE FROM oci_blob_links WHERE repo = ?1 AND digest = ?2",
		       "deleted the link", NULL, err) < 0)
		goto out;
	if (repair) {
		/* damaged blobs: their links (the manifests went above), then the sweep
		 * takes the rows nothing uses any more, with their files */
		sqlite3_stmt *st;
		if (prepare(d->db, "SELECT digest FROM oci_blobs ORDER BY digest", &st, err) < 0)
			goto out;
		char **v = NULL;
		size_t n = 0;
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *hex = (const char *)sqlite3_column_text(st, 0);
			if (hex && is_bad(&c, hex)) {
				v = xrealloc(v, (n + 1) * sizeof *v);
				v[n++] = xstrdup(hex);
			}
		}
		sqlite3_finalize(st);
		for (size_t i = 0; i < n; i++) {
			repair_sql(&c, "DELETE FROM oci_blob_links WHERE digest = ?1", v[i], NULL,
				   "unlinked the damaged OCI blob from every repository");
			repair_sql(&c, "DELETE FROM oci_manifest_refs WHERE digest = ?1", v[i],
				   NULL, "dropped the references to it");
			free(v[i]);
		}
		free(v);
	}
	struct oci_dump_sweep_report sw = { .found = say_found, .found_ctx = &c,
					    .quiet_unused = true };
	if (oci_dump_sweep(d, upload_ttl, !repair, &sw, err) < 0)
		goto out;
	rep->unused = sw.rows;
	rc = 0;
out:
	digest_map_free(c.bad, NULL);
	return rc;
}

/* ---- counting ---- */

static int count(sqlite3 *db, const char *sql, long long *v, struct appr_error *err)
{
	sqlite3_stmt *st;
	if (prepare(db, sql, &st, err) < 0)
		return -1;
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r == SQLITE_ROW ? 0 : sql_fail(db, sql, err);
}

int oci_dump_stats(struct oci_dump *d, struct oci_dump_counts *st, struct appr_error *err)
{
	long long repos = 0, mf = 0, tags = 0, blobs = 0, bytes = 0;
	int rc = -1;
	memset(st, 0, sizeof *st);
	if (exec(d->db, "BEGIN", err) < 0)
		return -1;
	if (count(d->db, "SELECT count(*) FROM (SELECT repo FROM oci_blob_links UNION "
		  "SELECT repo FROM oci_manifests)", &repos, err) < 0 ||
	    count(d->db, "SELECT count(*) FROM oci_manifests", &mf, err) < 0 ||
	    count(d->db, "SELECT count(*) FROM oci_tags", &tags, err) < 0 ||
	    count(d->db, "SELECT count(*) FROM oci_blobs", &blobs, err) < 0 ||
	    count(d->db, "SELECT coalesce(sum(size), 0) FROM oci_blobs", &bytes, err) < 0)
		goto out;
	st->repositories = (unsigned long)repos;
	st->manifests = (unsigned long)mf;
	st->tags = (unsigned long)tags;
	st->blobs = (unsigned long)blobs;
	st->bytes = bytes;
	rc = 0;
out:
	rollback(d->db);
	return rc;
}

int oci_dump_blob_list(sqlite3 *db, struct oci_dump_blob **out, size_t *n,
		       struct appr_error *err)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int r;
	*out = NULL;
	*n = 0;
	r = has_oci_tables(db, err);
	if (r <= 0)
		return r;
	if (prepare(db, "SELECT digest, size FROM oci_blobs ORDER BY digest", &st, err) < 0)
		return -1;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(st, 0);
		if (!hex || !names_valid_digest(hex)) {
			appr_err(err, 500, APPR_E_INTERNAL, "the database names an OCI blob "
				 "\"%.70s\"", hex ? hex : "");
			r = SQLITE_ERROR;
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = xrealloc(*out, cap * sizeof **out);
		}
		snprintf((*out)[*n].digest, sizeof (*out)[*n].digest, "%s", hex);
		(*out)[(*n)++].size = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE) {
		if (r != SQLITE_ERROR || !err->msg[0])
			sql_fail(db, "listing OCI blobs", err);
		free(*out);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}
