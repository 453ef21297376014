/* storage-sqlite-list.c - the embedded store's package lists and search (one query per
 * page, keyset cursor, the trigram index of schema/004-search.sql). */
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

static void package_done(struct storage_package *p, struct vec *rels, struct vec *types)
{
	p->releases = rels->items;
	p->n_releases = rels->n;
	p->media_types = types->items;
	p->n_media_types = types->n;
	memset(rels, 0, sizeof *rels);
	memset(types, 0, sizeof *types);
}

/* The readers of a listing as bound to READERS_SQL's parameter: NULL (SQL NULL:
 * every private package visible) for no readers or readers->all, else
 * ",ns1,ns2,...," (namespace names hold no comma), "," for none. A "*" among the
 * namespaces means every namespace. */
static const char *readers_arg(struct arena *a, const struct storage_readers *r)
{
	size_t len = 2;
	char *out, *p;

	if (!r || r->all)
		return NULL;
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->namespaces[i], "*") == 0)
			return NULL;
		len += strlen(r->namespaces[i]) + 1;
	}
	p = out = arena_alloc(a, len);
	*p++ = ',';
	for (size_t i = 0; i < r->n; i++) {
		size_t l = strlen(r->namespaces[i]);
		memcpy(p, r->namespaces[i], l);
		p += l;
		*p++ = ',';
	}
	*p = '\0';
	return out;
}

/* The trigrams of lower(text) as a JSON array of strings, or NULL when the trigram
 * index cannot answer text: shorter than 3 bytes, or holding a byte no name holds
 * (not printable ASCII: no name can match, the scan says so). */
static const char *query_trigrams(struct arena *a, const char *text)
{
	size_t len = strlen(text);
	if (len < 3)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] >= 0x7f)
			return NULL;
	/* at most 6 bytes per character escaped, 3 for quotes and a comma */
	char *out = arena_alloc(a, (len - 2) * (3 * 2 + 3) + 3), *o = out;
	*o++ = '[';
	for (size_t i = 0; i + 3 <= len; i++) {
		if (i)
			*o++ = ',';
		*o++ = '"';
		for (size_t j = i; j < i + 3; j++) {
			char c = text[j];
			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (c == '"' || c == '\\')
				*o++ = '\\';
			*o++ = c;
		}
		*o++ = '"';
	}
	*o++ = ']';
	*o = '\0';
	return out;
}

int sq_list_packages(struct storage *s, const struct storage_list_query *q,
		     struct arena *a, struct storage_package **out, size_t *n,
		     struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	const char *tri = q->query ? query_trigrams(a, q->query) : NULL;
	const char *after_name = q->after_ns && q->after_name ? q->after_name : "";
	if (q->namespace && q->after_ns) {     /* the cursor against the namespace */
		int c = strcmp(q->after_ns, q->namespace);
		if (c > 0) {
			*out = NULL;          /* the namespace is wholly before the cursor */
			*n = 0;
			return 0;
		}
		if (c < 0)
			after_name = "";      /* wholly after it */
	}
	sqlite3_stmt *st = sq_stmt_get(ss, tri ? (q->namespace ? S_LIST_NS_TRI : S_LIST_ALL_TRI)
					       : (q->namespace ? S_LIST_NS : S_LIST_ALL));
	struct vec pkgs = { 0 }, rels = { 0 }, types = { 0 };
	struct storage_package *cur = NULL;
	sqlite3_int64 cur_id = -1;
	const char *last_rel = NULL;
	int r;

	sq_bind_text(ss, st, 1, q->namespace);
	sq_bind_text(ss, st, 2, q->query);
	sq_bind_text(ss, st, 3, q->media_type);
	sq_bind_limit(ss, st, 4, q->limit);
	sq_bind_int(ss, st, 5, q->offset > INT64_MAX ? INT64_MAX : (sqlite3_int64)q->offset);
	sq_bind_text(ss, st, 6, readers_arg(a, q->readers));
	if (!q->namespace)
		sq_bind_text(ss, st, 7, q->after_ns ? q->after_ns : "");
	sq_bind_text(ss, st, 8, after_name);
	if (tri)
		sq_bind_text(ss, st, 9, tri);
	while ((r = sq_step(ss, st, err)) == 1) {
		sqlite3_int64 id = sqlite3_column_int64(st, 0);
		const char *version = (const char *)sqlite3_column_text(st, 4);
		if (id != cur_id) {
			if (cur)
				package_done(cur, &rels, &types);
			cur = sq_vec_push(a, &pkgs, sizeof *cur);
			cur_id = id;
			cur->package = arena_printf(a, "%s/%s",
						    (const char *)sqlite3_column_text(st, 1),
						    (const char *)sqlite3_column_text(st, 2));
			cur->visibility = sq_col_str(a, st, 3);
			cur->default_release = sq_col_str(a, st, 4);   /* highest comes first */
			last_rel = NULL;
		}
		if (!last_rel || strcmp(last_rel, version ? version : "") != 0) {
			last_rel = sq_col_str(a, st, 4);
			sq_vec_push_str(a, &rels, last_rel);
		}
		if (sqlite3_column_type(st, 5) != SQLITE_NULL) {
			const char *created = (const char *)sqlite3_column_text(st, 6);
			sq_vec_push_str(a, &types, sq_col_str(a, st, 5));
			if (created && strcmp(created, cur->created_at) > 0)
				snprintf(cur->created_at, sizeof cur->created_at, "%s", created);
		}
	}
	if (r < 0)
		return -1;
	if (cur)
		package_done(cur, &rels, &types);
	*out = pkgs.items;
	*n = pkgs.n;
	return 0;
}

int sq_search(struct storage *s, const char *text,
	      const struct storage_readers *readers, size_t limit, struct arena *a,
	      const char ***out, size_t *n, struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	const char *tri = query_trigrams(a, text ? text : "");
	sqlite3_stmt *st = sq_stmt_get(ss, tri ? S_SEARCH_TRI : S_SEARCH);
	struct vec v = { 0 };
	int r;

	sq_bind_text(ss, st, 1, text ? text : "");
	sq_bind_limit(ss, st, 2, limit);
	sq_bind_text(ss, st, 3, readers_arg(a, readers));
	if (tri)
		sq_bind_text(ss, st, 4, tri);
	while ((r = sq_step(ss, st, err)) == 1)
		sq_vec_push_str(a, &v, sq_col_str(a, st, 0));
	if (r < 0)
		return -1;
	*out = v.items;
	*n = v.n;
	return 0;
}
