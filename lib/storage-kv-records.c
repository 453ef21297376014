/* storage-kv-records.c - the kv store's package records: JSON access, release order, keys
 * (the layout is storage-kv.c's opening comment), reads, blob references, record
 * transactions, channels inside a record. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "names.h"
#include "oci-helm.h"
#include "semver.h"
#include "storage-kv.h"
#include "storage-kv-txn.h"
#include "storage-kv-internal.h"

/* ---- JSON (jget, jstr, jint: storage-kv-txn.h) ---- */

/* o when it is a JSON object, else NULL: foreach and length need an object. */
json_object *kvs_jasobj(json_object *o)
{
	return o && json_object_is_type(o, json_type_object) ? o : NULL;
}

/* The member k of o, created as an empty object when absent. */
json_object *kvs_jobj(json_object *o, const char *k)
{
	json_object *v = jget(o, k);

	if (v && json_object_is_type(v, json_type_object))
		return v;
	v = json_object_new_object();
	json_object_object_add(o, k, v);
	return v;
}

/* ---- release order ---- */

struct relkey {
	const char *rel;
	unsigned char *key;
	int len;
};

/* Highest precedence first; strings that are not versions last, by name. */
static int relkey_cmp(const void *pa, const void *pb)
{
	const struct relkey *a = pa, *b = pb;

	if (a->len < 0 || b->len < 0) {
		if (a->len >= 0)
			return -1;
		if (b->len >= 0)
			return 1;
		return strcmp(a->rel, b->rel);
	}
	size_t n = (size_t)(a->len < b->len ? a->len : b->len);
	int c = memcmp(a->key, b->key, n);
	if (c == 0)
		c = a->len < b->len ? -1 : a->len > b->len;
	return -c;
}

/* Sort n release strings (in place) highest first. */
static void sort_releases(struct arena *a, const char **rels, size_t n)
{
	struct relkey *k;
	unsigned char buf[SEMVER_SORTKEY_MAX];

	if (n < 2)
		return;
	k = arena_alloc(a, n * sizeof *k);
	for (size_t i = 0; i < n; i++) {
		k[i].rel = rels[i];
		k[i].len = semver_sortkey(rels[i], buf, sizeof buf);
		if (k[i].len > 0) {
			k[i].key = arena_alloc(a, (size_t)k[i].len);
			memcpy(k[i].key, buf, (size_t)k[i].len);
		}
	}
	qsort(k, n, sizeof *k, relkey_cmp);
	for (size_t i = 0; i < n; i++)
		rels[i] = k[i].rel;
}

int kvs_str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The member names of object o (arena strings), sorted bytewise. */
const char **kvs_member_names(struct arena *a, json_object *o, size_t *n)
{
	size_t cap = o && json_object_is_type(o, json_type_object)
		? (size_t)json_object_object_length(o) : 0, i = 0;
	const char **v = arena_alloc(a, (cap + 1) * sizeof *v);

	if (cap) {
		json_object_object_foreach(o, key, val) {
			(void)val;
			if (i < cap)
				v[i++] = arena_strdup(a, key);
		}
	}
	*n = i;
	qsort(v, i, sizeof *v, kvs_str_cmp);
	return v;
}

/* The releases of a package record, highest first. */
const char **kvs_record_releases(struct arena *a, json_object *rec, size_t *n)
{
	const char **v = kvs_member_names(a, jget(rec, "releases"), n);
	sort_releases(a, v, *n);
	return v;
}

/* ---- keys and reads ---- */

const char *kvs_pkg_key(struct arena *a, const char *ns, const char *name)
{
	return arena_printf(a, "pkg/%s/%s", ns, name);
}

/* Present (value "1") exactly while package ns/name exists and is private: the index
 * that lets listings drop private packages before paging. */
const char *kvs_priv_key(struct arena *a, const char *ns, const char *name)
{
	return arena_printf(a, "priv/%s/%s", ns, name);
}

const char *kvs_man_key(struct arena *a, const char *ns, const char *name,
			const char *release, const char *media_type)
{
	return arena_printf(a, "man/%s/%s/%s/%s", ns, name, release, media_type);
}

const char *kvs_helm_key(struct arena *a, const char *ns, const char *name,
			 const char *release)
{
	return arena_printf(a, "helm/%s/%s/%s", ns, name, release);
}

const char *kvs_ns_key(struct arena *a, const char *ns)
{
	return arena_printf(a, "ns/%s", ns);
}

/* Add to t the put of ns/<ns> that makes the change a change of the namespace. */
void kvs_ns_touch(struct kvtxn *t, struct arena *a, const char *ns, const char *now)
{
	const char *v = arena_printf(a, "{\"changed_at\":\"%s\"}", now);
	kvtxn_op(t, KV_PUT, kvs_ns_key(a, ns), v, strlen(v));
}

/* Into *out the helm/ value recording for upload what a helm blob was found to be:
 * its chart (which wins when both are given) or the problem; NULL when neither is
 * given. 413 payload-too-large when it would exceed KV_MAX_VALUE. */
const char *kvs_chart_with_artifact(struct arena *a, const char *hval, const char *chart,
				    const char *sha, long long size, const char *name,
				    const char *release)
{
	const char *config, *manifest, *out;
	size_t config_len, manifest_len;
	if (!hval || !chart || !*chart || !names_valid_digest(sha) ||
	    oci_helm_artifact(chart, sha, size, name, release, a, &config, &config_len,
			      &manifest, &manifest_len) < 0)
		return hval;
	out = arena_printf(a, "%s\n%s\n%s", hval, config, manifest);
	return strlen(out) > KV_MAX_VALUE ? hval : out;   /* too big: made when asked */
}

int kvs_chart_value(struct arena *a, const char *upload, const char *chart,
		    const char *problem, const char **out, struct appr_error *err)
{
	*out = chart && *chart ? arena_printf(a, "%s\nchart\n%s", upload, chart)
		: problem && *problem ? arena_printf(a, "%s\nproblem\n%s", upload, problem)
		: NULL;
	if (*out && strlen(*out) > KV_MAX_VALUE)
		return appr_err(err, 413, APPR_E_PAYLOAD_TOO_LARGE,
				"chart larger than %d bytes", KV_MAX_VALUE - TOKEN_HEX - 16);
	return 0;
}

int kvs_load_pkg(struct kvs *ks, const char *ns, const char *name, struct arena *a,
		 json_object **rec, long long *rev, struct appr_error *err)
{
	return kvtxn_load(ks->kv, kvs_pkg_key(a, ns, name), a, rec, rev, err);
}

/* 404 package-not-found naming what is missing in rec (NULL: the package). */
int kvs_not_found(json_object *rec, const char *ns, const char *name, const char *release,
		  const char *media_type, struct appr_error *err)
{
	enum storage_absent what = !rec || !release ? STORAGE_NO_PACKAGE
		: !jget(jget(rec, "releases"), release) || !media_type ? STORAGE_NO_RELEASE
		: STORAGE_NO_MANIFEST;
	return storage_err_absent(err, what, ns, name, release, media_type);
}

int kvs_package_absent(const char *ns, const char *name, struct appr_error *err)
{
	return storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, NULL, NULL);
}

/* ---- blob references ---- */

/* Add to t the ops dropping one reference to blob digest (read now; its revision
 * becomes a condition): the blob and its chunks go with the last reference. */
int kvs_unref_blob(struct kvs *ks, struct kvtxn *t, struct arena *a, const char *digest,
		   struct appr_error *err)
{
	const char *key = arena_printf(a, "blob/%s", digest);
	json_object *b;
	long long rev;
	int r = kvtxn_load(ks->kv, key, a, &b, &rev, err);

	if (r < 0)
		return -1;
	if (r == 0) {
		fprintf(stderr, "appr: storage: blob %s was already gone\n", digest);
		return 0;
	}
	kvtxn_cond(t, key, rev);
	long long refs = jint(b, "refs") - 1;
	if (refs <= 0) {
		const char *up = jstr(b, "upload");
		kvtxn_op(t, KV_DELETE, key, NULL, 0);
		if (up && *up)
			kvtxn_op(t, KV_DELETE_PREFIX, arena_printf(a, "chunk/%s/", up), NULL, 0);
	} else {
		size_t len;
		json_object_object_add(b, "refs", json_object_new_int64(refs));
		const char *text = kvtxn_text(a, b, &len);
		kvtxn_op(t, KV_PUT, key, text, len);
	}
	json_object_put(b);
	return 0;
}

/* A kvs_record_update being committed. */
struct record_txn {
	struct kvs *ks;
	const char *pkey;
	record_change_fn change;
	void *ctx;
};

/* Build the transaction writing back the changed record (kvtxn_build_fn). */
static int record_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct record_txn *rt = ctx;
	json_object *rec;
	long long rev;
	int r = kvtxn_load(rt->ks->kv, rt->pkey, a, &rec, &rev, err);

	if (r < 0)
		return -1;
	if (rt->change(rec, a, rt->ctx, err) < 0) {
		json_object_put(rec);
		return -1;
	}
	kvtxn_init(t, rt->pkey, false);
	kvtxn_cond(t, rt->pkey, rev);
	r = kvtxn_put(t, a, rt->pkey, rec, err);
	json_object_put(rec);
	return r;
}

/* Apply change to the record of ns/name and write it back in one transaction
 * conditioned on the revision read (again from a fresh read on a conflict). */
int kvs_record_update(struct kvs *ks, const char *ns, const char *name,
		      record_change_fn change, void *ctx, struct appr_error *err)
{
	arena_reset(ks->tmp);
	struct record_txn rt = { ks, kvs_pkg_key(ks->tmp, ns, name), change, ctx };
	return kvtxn_run(ks->kv, ks->tmp, record_build, &rt, err) == KVTXN_APPLIED ? 0 : -1;
}

/* ---- channels inside a record ---- */

bool kvs_array_has(json_object *arr, const char *s)
{
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++) {
		const char *v = json_object_get_string(json_object_array_get_idx(arr, i));
		if (v && strcmp(v, s) == 0)
			return true;
	}
	return false;
}

/* Remove s from arr: true when it was there. */
bool kvs_array_remove(json_object *arr, const char *s)
{
	size_t n = arr ? json_object_array_length(arr) : 0;

	for (size_t i = 0; i < n; i++) {
		const char *v = json_object_get_string(json_object_array_get_idx(arr, i));
		if (v && strcmp(v, s) == 0) {
			json_object_array_del_idx(arr, i, 1);
			return true;
		}
	}
	return false;
}

/* Delete emptied channels; move the current of a channel whose current is no longer a
 * member to its highest remaining release. */
void kvs_channels_repair(struct arena *a, json_object *rec)
{
	json_object *chans = jget(rec, "channels");
	size_t n;
	const char **names = kvs_member_names(a, chans, &n);

	for (size_t i = 0; i < n; i++) {
		json_object *c = jget(chans, names[i]);
		json_object *rels = jget(c, "releases");
		size_t m = rels ? json_object_array_length(rels) : 0;
		if (m == 0) {
			json_object_object_del(chans, names[i]);
			continue;
		}
		const char *cur = jstr(c, "current");
		if (cur && kvs_array_has(rels, cur))
			continue;
		const char **v = arena_alloc(a, m * sizeof *v);
		for (size_t j = 0; j < m; j++)
			v[j] = arena_strdup(a, json_object_get_string(
						   json_object_array_get_idx(rels, j)));
		sort_releases(a, v, m);
		json_object_object_add(c, "current", json_object_new_string(v[0]));
	}
}

/* Channel name of record rec as a storage_channel in arena a. */
void kvs_fill_channel(struct arena *a, json_object *c, const char *name,
		      struct storage_channel *out)
{
	json_object *rels = jget(c, "releases");
	size_t m = rels ? json_object_array_length(rels) : 0;
	const char **v = arena_alloc(a, (m + 1) * sizeof *v);

	for (size_t j = 0; j < m; j++)
		v[j] = arena_strdup(a, json_object_get_string(json_object_array_get_idx(rels, j)));
	sort_releases(a, v, m);
	out->name = arena_strdup(a, name);
	out->current = arena_strdup(a, jstr(c, "current"));
	out->releases = v;
	out->n_releases = m;
}
