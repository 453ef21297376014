/* oci-kv-dump.c - the OCI content of an etcd or redis store read as a whole
 * (oci-transfer.h): into an archive index, its oci/blob/, oci/link/, oci/mf/ and
 * oci/tag/ keys (the layout of oci-kv.c) made the rows of the filesystem store's
 * tables (oci-dump.h), so that one archive format carries both and either store
 * loads it; and counted, for stats. */
#include <stdlib.h>
#include <string.h>

#include "oci-kv-internal.h"
#include "oci-transfer.h"

struct collect {
	struct kvo *s;
	struct oci_store *os;
	struct archive_index *ix;
};

static void set(struct oci_dump_row *r, unsigned c, const char *v)
{
	r->v[c] = v;
	r->len[c] = v ? strlen(v) : 0;
}

static int blob_row(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct collect *c = ctx;
	const char *hex = kp->key + strlen("oci/blob/");
	json_object *rec = kvtxn_parse(kp->value, kp->len);
	if (!rec || !valid_hex(hex)) {
		json_object_put(rec);
		return kvtxn_corrupt("oci blob", kp->key, err);
	}
	long long size = jint(rec, "size");
	json_object_put(rec);
	struct oci_dump_row *r = archive_add_oci_row(c->ix, OCI_DUMP_T_BLOBS);
	set(r, 0, arena_strdup(c->ix->a, hex));
	set(r, 1, arena_printf(c->ix->a, "%lld", size));
	archive_add_oci_blob(c->ix, hex, size);
	return 0;
}

static int link_row(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct collect *c = ctx;
	const char *repo, *hex;
	if (!okv_split_repo_key(c->ix->a, kp->key, strlen("oci/link/"), &repo, &hex) || !valid_hex(hex))
		return kvtxn_corrupt("oci link", kp->key, err);
	struct oci_dump_row *r = archive_add_oci_row(c->ix, OCI_DUMP_T_LINKS);
	set(r, 0, repo);
	set(r, 1, hex);
	return 0;
}

/* The refs of manifest hex of repo: each hex of the record's array member, once. */
static void ref_rows(struct collect *c, json_object *rec, const char *member, const char *repo,
		     const char *hex)
{
	json_object *arr;
	if (!json_object_object_get_ex(rec, member, &arr) || !json_object_is_type(arr, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *d = json_object_get_string(json_object_array_get_idx(arr, i));
		if (!valid_hex(d))
			continue;
		struct oci_dump_row *r = archive_add_oci_row(c->ix, OCI_DUMP_T_REFS);
		set(r, 0, repo);
		set(r, 1, hex);
		set(r, 2, arena_strdup(c->ix->a, d));
	}
}

static int manifest_row(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct collect *c = ctx;
	struct arena *a = c->ix->a;
	const char *repo, *hex;
	struct oci_manifest m;
	if (!okv_split_repo_key(a, kp->key, strlen("oci/mf/"), &repo, &hex) || !valid_hex(hex))
		return kvtxn_corrupt("oci manifest", kp->key, err);
	json_object *rec = kvtxn_parse(kp->value, kp->len);
	if (!rec || !jstr(rec, "media_type") || !jstr(rec, "created_at")) {
		json_object_put(rec);
		return kvtxn_corrupt("oci manifest", kp->key, err);
	}
	/* its body through the store, which checks that its chunks are whole */
	if (oci_manifest_get(c->os, repo, hex, NULL, a, &m, err) < 0) {
		json_object_put(rec);
		return -1;
	}
	struct oci_dump_row *r = archive_add_oci_row(c->ix, OCI_DUMP_T_MANIFESTS);
	set(r, 0, repo);
	set(r, 1, hex);
	set(r, 2, arena_strdup(a, jstr(rec, "media_type")));
	set(r, 3, jstr(rec, "artifact_type") ? arena_strdup(a, jstr(rec, "artifact_type")) : NULL);
	set(r, 4, valid_hex(jstr(rec, "subject")) ? arena_strdup(a, jstr(rec, "subject")) : NULL);
	r->v[5] = m.body;
	r->len[5] = m.len;
	set(r, 6, arena_strdup(a, jstr(rec, "created_at")));
	ref_rows(c, rec, "blobs", repo, hex);
	ref_rows(c, rec, "manifests", repo, hex);
	json_object_put(rec);
	return 0;
}

static int tag_row(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct collect *c = ctx;
	const char *repo, *tag;
	char *hex = arena_strndup(c->ix->a, kp->value, kp->len);
	if (!okv_split_repo_key(c->ix->a, kp->key, strlen("oci/tag/"), &repo, &tag) || !valid_hex(hex))
		return kvtxn_corrupt("oci tag", kp->key, err);
	struct oci_dump_row *r = archive_add_oci_row(c->ix, OCI_DUMP_T_TAGS);
	set(r, 0, repo);
	set(r, 1, tag);
	set(r, 2, hex);
	return 0;
}

/* Rows ordered by their table's key columns, as SQLite's ORDER BY orders them (byte
 * order per column, which is not the order of the keys "ns/name/..." when a name
 * holds a byte below '/'), and without the duplicates an array could give. */
static unsigned sort_keys;

static int row_cmp(const void *x, const void *y)
{
	const struct oci_dump_row *a = x, *b = y;
	for (unsigned c = 0; c < sort_keys; c++) {
		int d = strcmp(a->v[c] ? a->v[c] : "", b->v[c] ? b->v[c] : "");
		if (d)
			return d;
	}
	return 0;
}

static void sort_rows(struct archive_oci_rows *rows, unsigned n_key)
{
	size_t k = 0;
	sort_keys = n_key;
	if (rows->n)
		qsort(rows->rows, rows->n, sizeof *rows->rows, row_cmp);
	for (size_t i = 0; i < rows->n; i++)
		if (k == 0 || row_cmp(&rows->rows[k - 1], &rows->rows[i]) != 0)
			rows->rows[k++] = rows->rows[i];
	rows->n = k;
}

int oci_kv_collect(struct oci_store *os, struct archive_index *ix, struct appr_error *err)
{
	if (strcmp(os->ops->name, "kv") != 0)
		return appr_err(err, 500, APPR_E_INTERNAL, "not a kv OCI store");
	struct collect c = { .s = kvo_of(os), .os = os, .ix = ix };
	if (kvtxn_each(c.s->kv, "oci/blob/", false, blob_row, &c, err) < 0 ||
	    kvtxn_each(c.s->kv, "oci/link/", true, link_row, &c, err) < 0 ||
	    kvtxn_each(c.s->kv, "oci/mf/", false, manifest_row, &c, err) < 0 ||
	    kvtxn_each(c.s->kv, "oci/tag/", false, tag_row, &c, err) < 0)
		return -1;
	for (unsigned t = 0; t < OCI_DUMP_N_TABLES; t++)
		sort_rows(&ix->oci[t], oci_dump_tables[t].n_key);
	return 0;
}

/* ---- counts ---- */

static int count_key(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	(void)kp;
	(void)err;
	(*(unsigned long *)ctx)++;
	return 0;
}

static int count_blob(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct oci_dump_counts *c = ctx;
	json_object *rec = kvtxn_parse(kp->value, kp->len);
	if (!rec)
		return kvtxn_corrupt("oci blob", kp->key, err);
	c->blobs++;
	c->bytes += jint(rec, "size");
	json_object_put(rec);
	return 0;
}

int oci_kv_stats(struct oci_store *os, struct oci_dump_counts *out, struct appr_error *err)
{
	memset(out, 0, sizeof *out);
	if (strcmp(os->ops->name, "kv") != 0)
		return appr_err(err, 500, APPR_E_INTERNAL, "not a kv OCI store");
	struct kvo *s = kvo_of(os);
	if (kvtxn_each(s->kv, "oci/repo/", true, count_key, &out->repositories, err) < 0 ||
	    kvtxn_each(s->kv, "oci/mf/", true, count_key, &out->manifests, err) < 0 ||
	    kvtxn_each(s->kv, "oci/tag/", true, count_key, &out->tags, err) < 0 ||
	    kvtxn_each(s->kv, "oci/blob/", false, count_blob, out, err) < 0)
		return -1;
	return 0;
}
