/* storage-kv.c - packages, releases, channels and blobs on a kv client (kv.h), for the etcd and redis drivers. */

/*
 * Key layout (every key below the configured key_prefix, which the kv client adds):
 *
 *   pkg/<ns>/<name>                      the package record, JSON:
 *       {"created_at": "...", "visibility": "public", "txn": "<token of the last write>",
 *        "releases": {"<release>": {"<media type>": {"digest": "<hex>", "size": N,
 *                      "created_at": "...", "token": "<upload id>", "meta": true|false,
 *                      "sha256": "<hex>", "chart": true}}},
 *        "channels": {"<channel>": {"current": "<release>", "releases": ["<release>", ...]}}}
 *       (a manifest's "sha256", the SHA-256 of its stored blob's bytes, is absent while
 *       unknown; "chart" is present once a helm/ key holds what its blob was found to be)
 *   man/<ns>/<name>/<release>/<media type>   "<upload id>\n<metadata JSON as pushed>",
 *                                        present only when the manifest has metadata
 *   helm/<ns>/<name>/<release>           media type helm: "<upload id>\nchart\n<chart.h
 *                                        JSON>" or "<upload id>\nproblem\n<why not a
 *                                        chart>", present while the manifest says "chart"
 *   ns/<ns>                              {"changed_at": "..."}: put by every transaction
 *                                        that changes something under the namespace
 *                                        (push, delete, set_chart; not channels), so its
 *                                        revision is the namespace's stamp: revisions
 *                                        grow (etcd's mod_revision is the cluster's
 *                                        revision, kv-redis.c numbers transactions)
 *   blob/<digest>                        {"size": N, "upload": "<id>", "chunks": K, "refs": R,
 *                                        "sha256": "<hex>"}: R = manifests (of any
 *                                        package) naming the blob; sha256 of its bytes,
 *                                        absent while unknown (stored before it was kept)
 *   chunk/<upload id>/<NNNNNNNN>         the gzipped bytes, KV_MAX_VALUE per chunk, at
 *                                        least one chunk per blob
 *   upload/<upload id>                   "<unix seconds>": an upload in flight, put with
 *                                        each of its chunks, deleted by the transaction
 *                                        that stores (or drops) them; the transaction
 *                                        is conditioned on it, so that gc, which takes
 *                                        the chunks of an upload idle for upload_ttl
 *                                        and referenced by no blob, never takes those
 *                                        of a push that then commits
 *   priv/<ns>/<name>                     "1" while the package exists and is private
 *                                        (written with the record that creates it,
 *                                        deleted with the record): listings of a
 *                                        reader drop private packages by this range
 * and, for users, grants and tokens, the keys storage-kv-auth.c documents.
 *
 * Names in keys: '/' is the only separator, and no name, release or media type holds
 * one (names.h, semver); every other byte of a name (upper case, '.', '_', '-', a
 * leading '_' or '-') is kept as sent and compared bytewise, so "Foo/bar" and
 * "foo/bar" are two packages. A prefix range always ends in '/' ("pkg/<ns>/"), so
 * namespace "ns" never matches "ns.x" or "ns-x". Channel names are in no key: they
 * are members of the package record (JSON strings), '+' and all. Listings sort the
 * (namespace, name) pairs themselves (the key order puts "ns.x/" before "ns/").
 *
 * A push streams its bytes into chunk keys under a fresh random upload id BEFORE the
 * manifest transaction; that transaction writes the package record, the metadata and
 * the blob record (new, or refs + 1 and the upload's own chunks deleted when the digest
 * is already stored). A refused push deletes its chunks; a blob whose refs drop to 0 is
 * deleted with its chunks in the transaction that drops the last reference.
 *
 * Every change is one kv transaction conditioned on the revisions of every key it read
 * (package record, blob records), built, retried and settled by storage-kv-txn.c: a
 * lost answer is settled by re-reading the package record, which carries the token of
 * the writer that wrote it last, and a pushed manifest carries its upload id.
 *
 * Reads: one package record (plus its man/ range when metadata is asked for); the
 * metadata value starts with the manifest's upload id, so a record and a metadata read
 * that straddle a concurrent force push are detected and read again. list/search are a
 * keys-only range over pkg/ (or pkg/<ns>/) and the records of the page only.
 * list_charts is a range over pkg/<ns>/ (the records of the namespace) then one over
 * helm/<ns>/, matched by upload id the same way; namespace_stamp one get of ns/<ns>.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "names.h"
#include "semver.h"
#include "storage-kv.h"
#include "storage-kv-txn.h"

#define KV_READ_TRIES 10             /* re-reads of a record/metadata pair that disagree */
#define TOKEN_HEX KVTXN_TOKEN_HEX    /* an upload id */

struct kvs_writer {
	struct storage_blob_writer base; /* first */
	char upload[TOKEN_HEX + 1];
	unsigned char *buf;              /* the chunk being filled: KV_MAX_VALUE bytes */
	size_t len;
	unsigned long chunks;            /* chunks written so far */
};

struct kvs_reader {
	struct storage_blob_reader base; /* first */
	struct arena *a;                 /* holds the current chunk */
	char upload[TOKEN_HEX + 1];
	unsigned long next, chunks;
	const char *data;
	size_t len, off;
};

/* ---- JSON (jget, jstr, jint: storage-kv-txn.h) ---- */

/* o when it is a JSON object, else NULL: foreach and length need an object. */
static json_object *jasobj(json_object *o)
{
	return o && json_object_is_type(o, json_type_object) ? o : NULL;
}

/* The member k of o, created as an empty object when absent. */
static json_object *jobj(json_object *o, const char *k)
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

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The member names of object o (arena strings), sorted bytewise. */
static const char **member_names(struct arena *a, json_object *o, size_t *n)
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
	qsort(v, i, sizeof *v, str_cmp);
	return v;
}

/* The releases of a package record, highest first. */
static const char **record_releases(struct arena *a, json_object *rec, size_t *n)
{
	const char **v = member_names(a, jget(rec, "releases"), n);
	sort_releases(a, v, *n);
	return v;
}

/* ---- keys and reads ---- */

static const char *pkg_key(struct arena *a, const char *ns, const char *name)
{
	return arena_printf(a, "pkg/%s/%s", ns, name);
}

/* Present (value "1") exactly while package ns/name exists and is private: the index
 * that lets listings drop private packages before paging. */
static const char *priv_key(struct arena *a, const char *ns, const char *name)
{
	return arena_printf(a, "priv/%s/%s", ns, name);
}

static const char *man_key(struct arena *a, const char *ns, const char *name,
			   const char *release, const char *media_type)
{
	return arena_printf(a, "man/%s/%s/%s/%s", ns, name, release, media_type);
}

static const char *helm_key(struct arena *a, const char *ns, const char *name,
			    const char *release)
{
	return arena_printf(a, "helm/%s/%s/%s", ns, name, release);
}

static const char *ns_key(struct arena *a, const char *ns)
{
	return arena_printf(a, "ns/%s", ns);
}

/* Add to t the put of ns/<ns> that makes the change a change of the namespace. */
static void ns_touch(struct kvtxn *t, struct arena *a, const char *ns, const char *now)
{
	const char *v = arena_printf(a, "{\"changed_at\":\"%s\"}", now);
	kvtxn_op(t, KV_PUT, ns_key(a, ns), v, strlen(v));
}

/* Into *out the helm/ value recording for upload what a helm blob was found to be:
 * its chart (which wins when both are given) or the problem; NULL when neither is
 * given. 413 payload-too-large when it would exceed KV_MAX_VALUE. */
static int chart_value(struct arena *a, const char *upload, const char *chart,
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

static int load_pkg(struct kvs *ks, const char *ns, const char *name, struct arena *a,
		    json_object **rec, long long *rev, struct appr_error *err)
{
	return kvtxn_load(ks->kv, pkg_key(a, ns, name), a, rec, rev, err);
}

/* 404 package-not-found naming what is missing in rec (NULL: the package). */
static int not_found(json_object *rec, const char *ns, const char *name, const char *release,
		     const char *media_type, struct appr_error *err)
{
	enum storage_absent what = !rec || !release ? STORAGE_NO_PACKAGE
		: !jget(jget(rec, "releases"), release) || !media_type ? STORAGE_NO_RELEASE
		: STORAGE_NO_MANIFEST;
	return storage_err_absent(err, what, ns, name, release, media_type);
}

static int package_absent(const char *ns, const char *name, struct appr_error *err)
{
	return storage_err_absent(err, STORAGE_NO_PACKAGE, ns, name, NULL, NULL);
}

/* ---- blob references ---- */

/* Add to t the ops dropping one reference to blob digest (read now; its revision
 * becomes a condition): the blob and its chunks go with the last reference. */
static int unref_blob(struct kvs *ks, struct kvtxn *t, struct arena *a, const char *digest,
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

/* A change of one package record: rec as read (NULL when the package is absent) is
 * changed in place (0), or the change is refused (-1, err filled). tmp is scratch. */
typedef int (*record_change_fn)(json_object *rec, struct arena *tmp, void *ctx,
				struct appr_error *err);

/* A record_update being committed. */
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
static int record_update(struct kvs *ks, const char *ns, const char *name,
			 record_change_fn change, void *ctx, struct appr_error *err)
{
	arena_reset(ks->tmp);
	struct record_txn rt = { ks, pkg_key(ks->tmp, ns, name), change, ctx };
	return kvtxn_run(ks->kv, ks->tmp, record_build, &rt, err) == KVTXN_APPLIED ? 0 : -1;
}

/* ---- channels inside a record ---- */

static bool array_has(json_object *arr, const char *s)
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
static bool array_remove(json_object *arr, const char *s)
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
static void channels_repair(struct arena *a, json_object *rec)
{
	json_object *chans = jget(rec, "channels");
	size_t n;
	const char **names = member_names(a, chans, &n);

	for (size_t i = 0; i < n; i++) {
		json_object *c = jget(chans, names[i]);
		json_object *rels = jget(c, "releases");
		size_t m = rels ? json_object_array_length(rels) : 0;
		if (m == 0) {
			json_object_object_del(chans, names[i]);
			continue;
		}
		const char *cur = jstr(c, "current");
		if (cur && array_has(rels, cur))
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
static void fill_channel(struct arena *a, json_object *c, const char *name,
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

/* ---- open / close ---- */

int storage_kv_open(const struct appr_config *cfg, const struct kv_ops *kv_ops,
		    const struct storage_ops *table, struct storage **out,
		    struct appr_error *err)
{
	struct kv *kv = NULL;
	struct kvs *ks;

	*out = NULL;
	if (kv_ops->open(cfg, &kv, err) < 0)
		return -1;
	ks = xcalloc(1, sizeof *ks);
	ks->base.ops = table;
	ks->base.cfg = cfg;
	ks->kv = kv;
	ks->tmp = arena_new();
	*out = &ks->base;
	return 0;
}

void storage_kv_close(struct storage *s)
{
	struct kvs *ks = (struct kvs *)s;

	if (!ks)
		return;
	kv_close(ks->kv);
	arena_free(ks->tmp);
	free(ks);
}

/* ---- blobs ---- */

/* Delete every chunk of an upload, and its marker (best effort: a failure is logged,
 * and gc takes them later). */
static void chunks_delete(struct kvs *ks, const char *upload)
{
	char key[TOKEN_HEX + 16], mark[TOKEN_HEX + 16];
	struct kv_op op[2] = { { .type = KV_DELETE_PREFIX, .key = key },
			       { .type = KV_DELETE, .key = mark } };
	struct appr_error e = { 0 };

	snprintf(key, sizeof key, "chunk/%s/", upload);
	snprintf(mark, sizeof mark, "upload/%s", upload);
	for (int i = 0; i < 3; i++) {
		int r = kv_txn(ks->kv, NULL, 0, op, 2, &e);
		if (r == KV_COMMITTED)
			return;
		if (r < 0)
			break;
	}
	fprintf(stderr, "appr: storage: left the chunks of upload %s: %s\n", upload, e.msg);
}

/* Put the buffered bytes as the next chunk, and refresh the upload's marker. */
static int writer_flush(struct kvs *ks, struct kvs_writer *w, struct appr_error *err)
{
	char key[TOKEN_HEX + 32], mark[TOKEN_HEX + 16], now[24];
	int nl = snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	struct kv_op op[2] = {
		{ .type = KV_PUT, .key = key, .value = w->buf, .len = w->len },
		{ .type = KV_PUT, .key = mark, .value = now, .len = (size_t)nl },
	};
	int r = -1;

	snprintf(key, sizeof key, "chunk/%s/%08lu", w->upload, w->chunks);
	snprintf(mark, sizeof mark, "upload/%s", w->upload);
	for (int i = 0; i < 3; i++) {       /* a put is idempotent: retry a lost answer */
		r = kv_txn(ks->kv, NULL, 0, op, 2, err);
		if (r != KV_UNKNOWN && r != KV_CONFLICT)
			break;
	}
	if (r != KV_COMMITTED)
		return r < 0 ? -1 : appr_err(err, 503, APPR_E_UNAVAILABLE,
					     "storage server unavailable");
	appr_err_clear(err);
	w->chunks++;
	w->len = 0;
	return 0;
}

static void writer_free(struct kvs *ks, struct kvs_writer *w, bool drop_chunks)
{
	if (drop_chunks && w->chunks > 0)
		chunks_delete(ks, w->upload);
	free(w->buf);
	free(w);
}

int storage_kv_blob_begin(struct storage *s, struct storage_blob_writer **out,
			  struct appr_error *err)
{
	struct kvs_writer *w = xcalloc(1, sizeof *w);

	(void)err;
	w->base.s = s;
	kvtxn_token(w->upload);
	w->buf = xmalloc(KV_MAX_VALUE);
	*out = &w->base;
	return 0;
}

int storage_kv_blob_write(struct storage_blob_writer *bw, const void *data, size_t len,
			  struct appr_error *err)
{
	struct kvs_writer *w = (struct kvs_writer *)bw;
	struct kvs *ks = (struct kvs *)bw->s;
	const unsigned char *p = data;

	while (len > 0) {
		if (w->len == KV_MAX_VALUE && writer_flush(ks, w, err) < 0)
			return -1;
		size_t n = KV_MAX_VALUE - w->len < len ? KV_MAX_VALUE - w->len : len;
		memcpy(w->buf + w->len, p, n);
		w->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

void storage_kv_blob_abort(struct storage_blob_writer *bw)
{
	if (bw)
		writer_free((struct kvs *)bw->s, (struct kvs_writer *)bw, true);
}

int storage_kv_blob_lookup(struct storage *s, const char *ns, const char *name,
			   const char *digest, long long *size, char sha256[DIGEST_HEX_LEN + 1],
			   struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec = NULL;
	long long rev;
	int r = 0;

	arena_reset(ks->tmp);
	if (names_valid_digest(digest))
		r = load_pkg(ks, ns, name, ks->tmp, &rec, &rev, err);
	if (r < 0)
		return -1;
	if (r == 1 && jasobj(jget(rec, "releases"))) {
		json_object_object_foreach(jget(rec, "releases"), rel, types) {
			(void)rel;
			if (!jasobj(types))
				continue;
			json_object_object_foreach(types, mt, m) {
				(void)mt;
				const char *d = jstr(m, "digest");
				if (d && strcmp(d, digest) == 0) {
					const char *h = jstr(m, "sha256");
					*size = jint(m, "size");
					snprintf(sha256, DIGEST_HEX_LEN + 1, "%s",
						 names_valid_digest(h) ? h : "");
					json_object_put(rec);
					return 0;
				}
			}
		}
		json_object_put(rec);
	}
	return storage_err_blob_absent(err, ns, name, digest);
}

int storage_kv_blob_open(struct storage *s, const char *digest,
			 struct storage_blob_reader **out, long long *size,
			 struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *b;
	long long rev;
	int r;

	*out = NULL;
	if (!names_valid_digest(digest))
		return storage_err_blob_absent(err, NULL, NULL, NULL);
	arena_reset(ks->tmp);
	r = kvtxn_load(ks->kv, arena_printf(ks->tmp, "blob/%s", digest), ks->tmp, &b, &rev,
		       err);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_blob_absent(err, NULL, NULL, digest);
	const char *up = jstr(b, "upload");
	long long chunks = jint(b, "chunks");
	if (!up || strlen(up) != TOKEN_HEX || chunks < 1) {
		json_object_put(b);
		return kvtxn_corrupt("blob", digest, err);
	}
	struct kvs_reader *rd = xcalloc(1, sizeof *rd);
	rd->base.s = s;
	rd->a = arena_new();
	memcpy(rd->upload, up, TOKEN_HEX + 1);
	rd->chunks = (unsigned long)chunks;
	*size = jint(b, "size");
	json_object_put(b);
	*out = &rd->base;
	return 0;
}

long storage_kv_blob_read(struct storage_blob_reader *br, void *buf, size_t len)
{
	struct kvs_reader *rd = (struct kvs_reader *)br;
	struct kvs *ks = (struct kvs *)br->s;

	while (rd->off == rd->len) {
		struct appr_error e = { 0 };
		struct kv_pair kp;
		char key[TOKEN_HEX + 32];
		if (rd->next >= rd->chunks)
			return 0;
		snprintf(key, sizeof key, "chunk/%s/%08lu", rd->upload, rd->next);
		arena_reset(rd->a);
		int r = kv_get(ks->kv, key, rd->a, &kp, &e);
		if (r != 0) {
			fprintf(stderr, "appr: storage: read %s: %s\n", key,
				r > 0 ? "chunk missing" : e.msg);
			return -1;
		}
		rd->data = kp.value;
		rd->len = kp.len;
		rd->off = 0;
		rd->next++;
	}
	size_t n = rd->len - rd->off < len ? rd->len - rd->off : len;
	if (n > LONG_MAX)
		n = LONG_MAX;
	memcpy(buf, rd->data + rd->off, n);
	rd->off += n;
	return (long)n;
}

void storage_kv_blob_close(struct storage_blob_reader *br)
{
	struct kvs_reader *rd = (struct kvs_reader *)br;

	if (!rd)
		return;
	arena_free(rd->a);
	free(rd);
}

/* ---- releases ---- */

/* A push being committed: put_release's transaction. */
struct push_txn {
	struct kvs *ks;
	const struct storage_push *p;
	struct kvs_writer *w;
	const char *pkey, *mkey, *bkey, *mval, *now;
	const char *hkey, *hval;         /* media type helm: helm/ key, value or NULL */
};

/* Build the manifest transaction of a push (kvtxn_build_fn): the package record with
 * the manifest, its metadata and chart, the blob record (new, or one reference more
 * and our chunks dropped), the reference a replaced manifest drops, and the
 * namespace's stamp. The manifest's sha256 is the stored blob's: the pushed bytes'
 * for a new blob, else what the blob record knows. */
static int push_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct push_txn *pt = ctx;
	const struct storage_push *p = pt->p;
	struct kvs_writer *w = pt->w;
	json_object *rec = NULL, *blob = NULL;
	long long prev, brev, size = w->base.size;
	int r = kvtxn_load(pt->ks->kv, pt->pkey, a, &rec, &prev, err);

	if (r < 0)
		return -1;
	if (r == 0) {
		rec = json_object_new_object();
		json_object_object_add(rec, "created_at", json_object_new_string(
					       p->created_at ? p->created_at : pt->now));
		json_object_object_add(rec, "visibility", json_object_new_string(
					       p->visibility ? p->visibility : "public"));
	}
	bool is_new = r == 0;
	json_object *types = jobj(jobj(rec, "releases"), p->release);
	json_object *old = jget(types, p->media_type);
	if (old && !p->force) {
		json_object_put(rec);
		return storage_err_exists(err, p);
	}
	const char *old_digest = old ? arena_strdup(a, jstr(old, "digest")) : NULL;

	kvtxn_init(t, pt->pkey, false);
	kvtxn_settle_upload(t, p->release, p->media_type, w->upload);
	/* our chunks are ours only while the marker gc looks at is */
	struct kv_pair mark;
	const char *mkey = arena_printf(a, "upload/%s", w->upload);
	r = kv_get(pt->ks->kv, mkey, a, &mark, err);
	if (r != 0) {
		json_object_put(rec);
		if (r < 0)
			return -1;
		fprintf(stderr, "appr: storage: upload %s was taken by gc before its push "
			"committed (idle over upload_ttl)\n", w->upload);
		return storage_err_internal(err);
	}
	kvtxn_cond(t, mkey, mark.rev);
	kvtxn_op(t, KV_DELETE, mkey, NULL, 0);
	r = kvtxn_load(pt->ks->kv, pt->bkey, a, &blob, &brev, err);
	if (r < 0) {
		json_object_put(rec);
		return -1;
	}
	bool same = old_digest && strcmp(old_digest, p->digest) == 0;
	const char *sha = names_valid_digest(p->blob_sha256) ? p->blob_sha256 : NULL;
	if (blob) {
		/* stored already: its bytes win (same tar), ours go */
		size = jint(blob, "size");
		sha = jstr(blob, "sha256") ? arena_strdup(a, jstr(blob, "sha256")) : NULL;
		if (!same)
			json_object_object_add(blob, "refs", json_object_new_int64(
						       jint(blob, "refs") + 1));
		size_t len;
		const char *text = kvtxn_text(a, blob, &len);
		kvtxn_cond(t, pt->bkey, brev);
		kvtxn_op(t, KV_PUT, pt->bkey, text, len);
		kvtxn_op(t, KV_DELETE_PREFIX, arena_printf(a, "chunk/%s/", w->upload), NULL, 0);
		json_object_put(blob);
	} else {
		const char *text = arena_printf(
			a, "{\"size\":%lld,\"upload\":\"%s\",\"chunks\":%lu,\"refs\":1%s%s%s}",
			size, w->upload, w->chunks, sha ? ",\"sha256\":\"" : "", sha ? sha : "",
			sha ? "\"" : "");
		kvtxn_cond(t, pt->bkey, 0);
		kvtxn_op(t, KV_PUT, pt->bkey, text, strlen(text));
	}
	if (old_digest && !same && unref_blob(pt->ks, t, a, old_digest, err) < 0) {
		json_object_put(rec);
		return -1;
	}
	json_object *m = json_object_new_object();
	json_object_object_add(m, "digest", json_object_new_string(p->digest));
	json_object_object_add(m, "size", json_object_new_int64(size));
	json_object_object_add(m, "created_at", json_object_new_string(
				       p->created_at ? p->created_at : pt->now));
	json_object_object_add(m, "token", json_object_new_string(w->upload));
	json_object_object_add(m, "meta", json_object_new_boolean(p->metadata != NULL));
	if (sha)
		json_object_object_add(m, "sha256", json_object_new_string(sha));
	if (pt->hval)
		json_object_object_add(m, "chart", json_object_new_boolean(1));
	json_object_object_add(types, p->media_type, m);
	if (pt->mval)
		kvtxn_op(t, KV_PUT, pt->mkey, pt->mval, strlen(pt->mval));
	else
		kvtxn_op(t, KV_DELETE, pt->mkey, NULL, 0);
	if (pt->hval)
		kvtxn_op(t, KV_PUT, pt->hkey, pt->hval, strlen(pt->hval));
	else if (pt->hkey)
		kvtxn_op(t, KV_DELETE, pt->hkey, NULL, 0);
	ns_touch(t, a, p->ns, pt->now);
	if (is_new && p->visibility && strcmp(p->visibility, "private") == 0)
		kvtxn_op(t, KV_PUT, priv_key(a, p->ns, p->name), "1", 1);
	else if (is_new)
		kvtxn_op(t, KV_DELETE, priv_key(a, p->ns, p->name), NULL, 0);
	kvtxn_cond(t, pt->pkey, prev);
	r = kvtxn_put(t, a, pt->pkey, rec, err);
	json_object_put(rec);
	return r;
}

int storage_kv_put_release(struct storage *s, const struct storage_push *p,
			   struct storage_blob_writer *bw, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct kvs_writer *w = (struct kvs_writer *)bw;
	struct arena *a = ks->tmp;
	unsigned char key[SEMVER_SORTKEY_MAX];
	char now[32];
	bool drop_chunks = true;
	int r, rc = -1;

	arena_reset(a);
	if (semver_sortkey(p->release, key, sizeof key) < 0) {
		storage_err_not_semver(err, p);
		goto out;
	}
	if (!names_valid_digest(p->digest)) {
		fprintf(stderr, "appr: storage: put_release: bad digest\n");
		storage_err_internal(err);
		goto out;
	}
	if (p->metadata && strlen(p->metadata) > KV_MAX_VALUE - TOKEN_HEX - 1) {
		appr_err(err, 413, APPR_E_PAYLOAD_TOO_LARGE, "metadata larger than %d bytes",
			 KV_MAX_VALUE - TOKEN_HEX - 1);
		goto out;
	}
	if ((w->len > 0 || w->chunks == 0) && writer_flush(ks, w, err) < 0)
		goto out;
	util_utc_now(now);

	struct push_txn pt = {
		.ks = ks, .p = p, .w = w, .now = now,
		.pkey = pkg_key(a, p->ns, p->name),
		.mkey = man_key(a, p->ns, p->name, p->release, p->media_type),
		.bkey = arena_printf(a, "blob/%s", p->digest),
		.mval = p->metadata ? arena_printf(a, "%s\n%s", w->upload, p->metadata) : NULL,
	};
	if (strcmp(p->media_type, "helm") == 0) {
		pt.hkey = helm_key(a, p->ns, p->name, p->release);
		if (chart_value(a, w->upload, p->chart, p->chart_problem, &pt.hval, err) < 0)
			goto out;
	}
	r = kvtxn_run(ks->kv, a, push_build, &pt, err);
	if (r == KVTXN_UNKNOWN) {
		/* maybe applied: the chunks may be the blob's now, keep them */
		fprintf(stderr, "appr: storage: push of %.64s/%.64s %s: outcome unknown,"
			" upload %s kept\n", p->ns, p->name, p->release, w->upload);
		drop_chunks = false;
		goto out;
	}
	if (r != KVTXN_APPLIED)
		goto out;
	drop_chunks = false;                  /* the blob's now, or deleted by the txn */
	rc = 0;
out:
	writer_free(ks, w, drop_chunks);
	return rc;
}

int storage_kv_list_releases(struct storage *s, const char *ns, const char *name,
			     struct arena *a, const char ***out, size_t *n,
			     struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec;
	long long rev;
	int r = load_pkg(ks, ns, name, a, &rec, &rev, err);

	if (r < 0)
		return -1;
	if (r == 0)
		return package_absent(ns, name, err);
	*out = record_releases(a, rec, n);
	json_object_put(rec);
	if (*n == 0)
		return package_absent(ns, name, err);
	return 0;
}

/* Fill m (package, release, media_type set) from manifest entry e. */
static void fill_manifest(json_object *e, struct storage_manifest *m)
{
	snprintf(m->digest, sizeof m->digest, "%s", jstr(e, "digest") ? jstr(e, "digest") : "");
	m->size = jint(e, "size");
	snprintf(m->created_at, sizeof m->created_at, "%s",
		 jstr(e, "created_at") ? jstr(e, "created_at") : "");
	snprintf(m->blob_sha256, sizeof m->blob_sha256, "%s",
		 jstr(e, "sha256") ? jstr(e, "sha256") : "");
}

/* The metadata in a man/ value if it belongs to upload token: 1 (*out set), 0 not. */
static int meta_of(struct arena *a, const struct kv_pair *kp, const char *token,
		   const char **out)
{
	const char *nl = memchr(kp->value, '\n', kp->len);

	if (!nl || !token || (size_t)(nl - kp->value) != strlen(token) ||
	    memcmp(kp->value, token, strlen(token)) != 0)
		return 0;
	*out = arena_strndup(a, nl + 1, kp->len - (size_t)(nl + 1 - kp->value));
	return 1;
}

static int pair_cmp(const void *k, const void *p)
{
	return strcmp((const char *)k, ((const struct kv_pair *)p)->key);
}

int storage_kv_get_manifests(struct storage *s, const char *ns, const char *name,
			     const char *release, const char *media_type, struct arena *a,
			     struct storage_manifest **out, size_t *n, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	const char *pkg = arena_printf(a, "%s/%s", ns, name);

	for (int attempt = 0; attempt < KV_READ_TRIES; attempt++) {
		json_object *rec;
		long long rev;
		struct kv_pair *metas = NULL;
		size_t n_metas = 0, n_rels, cnt = 0;
		bool stale = false;
		int r = load_pkg(ks, ns, name, a, &rec, &rev, err);

		if (r < 0)
			return -1;
		if (r == 0)
			return not_found(NULL, ns, name, release, NULL, err);
		json_object *rels = jget(rec, "releases");
		if (release && !jget(rels, release)) {
			not_found(rec, ns, name, release, NULL, err);
			json_object_put(rec);
			return -1;
		}
		const char *prefix = release ? arena_printf(a, "man/%s/%s/%s/", ns, name, release)
					     : arena_printf(a, "man/%s/%s/", ns, name);
		if (kv_range(ks->kv, prefix, NULL, 0, false, a, &metas, &n_metas, NULL, err) < 0) {
			json_object_put(rec);
			return -1;
		}
		const char **names = release ? &release : record_releases(a, rec, &n_rels);
		if (release)
			n_rels = 1;
		size_t cap = 0;
		for (size_t i = 0; i < n_rels; i++)
			cap += (size_t)json_object_object_length(jget(rels, names[i]));
		struct storage_manifest *v = arena_alloc(a, (cap + 1) * sizeof *v);
		for (size_t i = 0; i < n_rels && !stale; i++) {
			json_object *types = jget(rels, names[i]);
			size_t n_types;
			const char **tn = member_names(a, types, &n_types);
			for (size_t j = 0; j < n_types && cnt < cap; j++) {
				if (media_type && strcmp(media_type, tn[j]) != 0)
					continue;
				json_object *e = jget(types, tn[j]);
				struct storage_manifest *m = &v[cnt++];
				m->package = pkg;
				m->release = arena_strdup(a, names[i]);
				m->media_type = tn[j];
				fill_manifest(e, m);
				if (!json_object_get_boolean(jget(e, "meta")))
					continue;
				const char *mk = man_key(a, ns, name, names[i], tn[j]);
				struct kv_pair *kp = bsearch(mk, metas, n_metas, sizeof *metas,
							     pair_cmp);
				if (!kp || !meta_of(a, kp, jstr(e, "token"), &m->metadata))
					stale = true;
			}
		}
		json_object_put(rec);
		if (stale)
			continue;             /* a write between the two reads: again */
		*out = v;
		*n = cnt;
		return 0;
	}
	return storage_err_busy(err);
}

int storage_kv_get_manifest(struct storage *s, const char *ns, const char *name,
			    const char *release, const char *media_type, struct arena *a,
			    struct storage_manifest *out, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;

	memset(out, 0, sizeof *out);
	for (int attempt = 0; attempt < KV_READ_TRIES; attempt++) {
		json_object *rec;
		long long rev;
		int r = load_pkg(ks, ns, name, a, &rec, &rev, err);

		if (r < 0)
			return -1;
		json_object *e = jget(jget(jget(rec, "releases"), release), media_type);
		if (!e) {
			not_found(rec, ns, name, release, media_type, err);
			json_object_put(rec);
			return -1;
		}
		memset(out, 0, sizeof *out);
		out->package = arena_printf(a, "%s/%s", ns, name);
		out->release = arena_strdup(a, release);
		out->media_type = arena_strdup(a, media_type);
		fill_manifest(e, out);
		/* channels whose current is this release, by name */
		json_object *chans = jget(rec, "channels");
		size_t n_ch, k = 0;
		const char **cn = member_names(a, chans, &n_ch);
		for (size_t i = 0; i < n_ch; i++) {
			const char *cur = jstr(jget(chans, cn[i]), "current");
			if (cur && strcmp(cur, release) == 0)
				cn[k++] = cn[i];
		}
		out->channels = cn;
		out->n_channels = k;
		bool meta = json_object_get_boolean(jget(e, "meta"));
		const char *token = arena_strdup(a, jstr(e, "token"));
		json_object_put(rec);
		if (!meta)
			return 0;
		struct kv_pair kp;
		r = kv_get(ks->kv, man_key(a, ns, name, release, media_type), a, &kp, err);
		if (r < 0)
			return -1;
		if (r == 0 && meta_of(a, &kp, token, &out->metadata))
			return 0;
	}
	return storage_err_busy(err);
}

/* A manifest being deleted: delete_manifest's transaction. */
struct delete_txn {
	struct kvs *ks;
	const char *ns, *name, *release, *media_type, *pkey, *now;
};

/* Build the transaction deleting a manifest (kvtxn_build_fn): the record without it
 * (and without its release when it was the last one, the record itself and every
 * key of the package when it was the last release), the blob reference it drops, and
 * the namespace's stamp. */
static int delete_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct delete_txn *dt = ctx;
	const char *ns = dt->ns, *name = dt->name, *release = dt->release;
	json_object *rec;
	long long rev;
	int r = kvtxn_load(dt->ks->kv, dt->pkey, a, &rec, &rev, err);

	if (r < 0)
		return -1;
	json_object *rels = jget(rec, "releases");
	json_object *types = jget(rels, release);
	json_object *e = jget(types, dt->media_type);
	if (!e) {
		not_found(rec, ns, name, release, dt->media_type, err);
		json_object_put(rec);
		return -1;
	}
	const char *digest = arena_strdup(a, jstr(e, "digest"));
	kvtxn_init(t, dt->pkey, false);
	json_object_object_del(types, dt->media_type);
	kvtxn_op(t, KV_DELETE, man_key(a, ns, name, release, dt->media_type), NULL, 0);
	if (strcmp(dt->media_type, "helm") == 0)
		kvtxn_op(t, KV_DELETE, helm_key(a, ns, name, release), NULL, 0);
	ns_touch(t, a, ns, dt->now);
	if (json_object_object_length(types) == 0) {
		/* the release goes with its last manifest: out of every channel */
		if (jasobj(jget(rec, "channels"))) {
			json_object_object_foreach(jget(rec, "channels"), cname, c) {
				(void)cname;
				array_remove(jget(c, "releases"), release);
			}
		}
		channels_repair(a, rec);
		json_object_object_del(rels, release);
	}
	kvtxn_cond(t, dt->pkey, rev);
	if (json_object_object_length(rels) == 0) {
		t->check_absent = true;           /* the package goes with its last release */
		kvtxn_op(t, KV_DELETE, dt->pkey, NULL, 0);
		kvtxn_op(t, KV_DELETE_PREFIX, arena_printf(a, "man/%s/%s/", ns, name), NULL, 0);
		kvtxn_op(t, KV_DELETE_PREFIX, arena_printf(a, "helm/%s/%s/", ns, name), NULL, 0);
		kvtxn_op(t, KV_DELETE, priv_key(a, ns, name), NULL, 0);
	} else if (kvtxn_put(t, a, dt->pkey, rec, err) < 0) {
		json_object_put(rec);
		return -1;
	}
	json_object_put(rec);
	return digest ? unref_blob(dt->ks, t, a, digest, err) : 0;
}

int storage_kv_delete_manifest(struct storage *s, const char *ns, const char *name,
			       const char *release, const char *media_type,
			       struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;
	char now[32];

	arena_reset(a);
	util_utc_now(now);
	struct delete_txn dt = { ks, ns, name, release, media_type, pkg_key(a, ns, name), now };
	return kvtxn_run(ks->kv, a, delete_build, &dt, err) == KVTXN_APPLIED ? 0 : -1;
}

/* ---- list and search ---- */

struct pkgref {
	const char *ns, *name, *full;    /* full: "ns/name" */
};

static int pkgref_cmp(const void *pa, const void *pb)
{
	const struct pkgref *a = pa, *b = pb;
	int c = strcmp(a->ns, b->ns);
	return c ? c : strcmp(a->name, b->name);
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive plain substring (ASCII). */
static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++) {
		size_t i = 0;
		while (i < n && hay[i] && lower(hay[i]) == lower(needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return n == 0;
}

/* Do readers restrict what is listed (not NULL, not all, no "*")? */
static bool readers_limited(const struct storage_readers *r)
{
	if (!r || r->all)
		return false;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->namespaces[i], "*") == 0)
			return false;
	return true;
}

/* May readers see the private packages of namespace ns? */
static bool readers_see(const struct storage_readers *r, const char *ns)
{
	if (!readers_limited(r))
		return true;
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->namespaces[i], ns) == 0)
			return true;
	return false;
}

/* Drop from v (k refs) the private packages readers may not see: a keys-only range
 * over priv/ (or priv/<ns>/). *k is updated. */
static int drop_unreadable(struct kvs *ks, const char *ns,
			   const struct storage_readers *readers, struct arena *a,
			   struct pkgref *v, size_t *k, struct appr_error *err)
{
	const char *prefix = ns ? arena_printf(a, "priv/%s/", ns) : "priv/";
	struct kv_pair *keys = NULL;
	size_t n_keys = 0, kept = 0;

	if (!readers_limited(readers))
		return 0;
	if (kv_range(ks->kv, prefix, NULL, 0, true, a, &keys, &n_keys, NULL, err) < 0)
		return -1;
	if (n_keys == 0)
		return 0;
	const char **priv = arena_alloc(a, n_keys * sizeof *priv);
	for (size_t i = 0; i < n_keys; i++)
		priv[i] = keys[i].key + 5;        /* "ns/name" */
	qsort(priv, n_keys, sizeof *priv, str_cmp);
	for (size_t i = 0; i < *k; i++) {
		const char *full = v[i].full;
		if (bsearch(&full, priv, n_keys, sizeof *priv, str_cmp) &&
		    !readers_see(readers, v[i].ns))
			continue;
		v[kept++] = v[i];
	}
	*k = kept;
	return 0;
}

/* Packages under pkg/ (of namespace ns when not NULL) whose "ns/name" contains text
 * (NULL: all) and that readers may see, ordered by namespace then name: keys-only
 * ranges over pkg/ then priv/ (in that order: a package created in between is in
 * neither, one deleted in between is skipped when its record is read). */
static int package_refs(struct kvs *ks, const char *ns, const char *text,
			const struct storage_readers *readers, struct arena *a,
			struct pkgref **out, size_t *n, struct appr_error *err)
{
	const char *prefix = ns ? arena_printf(a, "pkg/%s/", ns) : "pkg/";
	struct kv_pair *keys = NULL;
	size_t n_keys = 0, k = 0;

	if (kv_range(ks->kv, prefix, NULL, 0, true, a, &keys, &n_keys, NULL, err) < 0)
		return -1;
	struct pkgref *v = arena_alloc(a, (n_keys + 1) * sizeof *v);
	for (size_t i = 0; i < n_keys; i++) {
		const char *rest = keys[i].key + 4;
		const char *slash = strchr(rest, '/');
		if (strncmp(keys[i].key, "pkg/", 4) != 0 || !slash)
			continue;
		const char *full = rest;
		if (text && !contains_ci(full, text))
			continue;
		v[k].ns = arena_strndup(a, rest, (size_t)(slash - rest));
		v[k].name = slash + 1;
		v[k].full = full;
		k++;
	}
	if (drop_unreadable(ks, ns, readers, a, v, &k, err) < 0)
		return -1;
	qsort(v, k, sizeof *v, pkgref_cmp);
	*out = v;
	*n = k;
	return 0;
}

/* Fill one list row from a package record, narrowed to media type mt when not NULL:
 * only the releases with a manifest of it (struct storage_package). No release left:
 * n_releases is 0. */
static void fill_package(struct arena *a, const struct pkgref *ref, json_object *rec,
			 const char *mt, struct storage_package *p)
{
	json_object *all = jget(rec, "releases");
	size_t n, k = 0;
	const char **rels = record_releases(a, rec, &n);

	for (size_t i = 0; i < n; i++)
		if (!mt || jget(jget(all, rels[i]), mt))
			rels[k++] = rels[i];
	n = k;
	p->package = arena_strdup(a, ref->full);
	p->releases = rels;
	p->n_releases = n;
	p->default_release = n ? rels[0] : NULL;
	p->visibility = arena_strdup(a, jstr(rec, "visibility") ? jstr(rec, "visibility")
							       : "public");
	json_object *types = n ? jget(all, rels[0]) : NULL;
	p->media_types = member_names(a, types, &p->n_media_types);
	p->created_at[0] = '\0';
	for (size_t i = 0; i < p->n_media_types; i++) {
		const char *c = jstr(jget(types, p->media_types[i]), "created_at");
		if (c && strcmp(c, p->created_at) > 0)
			snprintf(p->created_at, sizeof p->created_at, "%s", c);
	}
}

int storage_kv_list_packages(struct storage *s, const struct storage_list_query *q,
			     struct arena *a, struct storage_package **out, size_t *n,
			     struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct pkgref *refs;
	size_t n_refs, skipped = 0, k = 0;

	if (package_refs(ks, q->namespace, q->query, q->readers, a, &refs, &n_refs, err) < 0)
		return -1;
	size_t want = q->limit ? q->limit : n_refs;
	struct storage_package *v = arena_alloc(a, ((want < n_refs ? want : n_refs) + 1) *
						   sizeof *v);
	/* the cursor: past every package up to (after_ns, after_name) in listing order
	 * (the key range is read whole anyway, so this is a search in it, not an index
	 * range as in SQLite) */
	size_t first = 0;
	if (q->after_ns) {
		const char *an = q->after_name ? q->after_name : "";
		while (first < n_refs) {
			int c = strcmp(refs[first].ns, q->after_ns);
			if (c > 0 || (c == 0 && strcmp(refs[first].name, an) > 0))
				break;
			first++;
		}
	}
	/* without a media type filter the page is a slice of the key range */
	size_t start = first;
	if (!q->media_type) {
		start = q->offset < n_refs - first ? first + q->offset : n_refs;
		skipped = q->offset;
	}
	for (size_t i = start; i < n_refs && k < want; i++) {
		json_object *rec;
		long long rev;
		int r = load_pkg(ks, refs[i].ns, refs[i].name, a, &rec, &rev, err);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;             /* deleted since the range read */
		const char *vis = jstr(rec, "visibility");
		if (vis && strcmp(vis, "private") == 0 && !readers_see(q->readers, refs[i].ns)) {
			json_object_put(rec);     /* re-created private since the ranges */
			continue;
		}
		fill_package(a, &refs[i], rec, q->media_type, &v[k]);
		json_object_put(rec);
		if (v[k].n_releases == 0)
			continue;             /* no manifest of the media type */
		if (skipped < q->offset) {
			skipped++;
			continue;
		}
		k++;
	}
	*out = v;
	*n = k;
	return 0;
}

int storage_kv_search(struct storage *s, const char *text,
		      const struct storage_readers *readers, size_t limit, struct arena *a,
		      const char ***out, size_t *n, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct pkgref *refs;
	size_t n_refs;

	if (package_refs(ks, NULL, text ? text : "", readers, a, &refs, &n_refs, err) < 0)
		return -1;
	if (limit && n_refs > limit)
		n_refs = limit;
	const char **v = arena_alloc(a, (n_refs + 1) * sizeof *v);
	for (size_t i = 0; i < n_refs; i++)
		v[i] = refs[i].full;
	*out = v;
	*n = n_refs;
	return 0;
}

/* ---- channels ---- */

int storage_kv_list_channels(struct storage *s, const char *ns, const char *name,
			     struct arena *a, struct storage_channel **out, size_t *n,
			     struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec;
	long long rev;
	size_t n_ch;
	int r = load_pkg(ks, ns, name, a, &rec, &rev, err);

	if (r < 0)
		return -1;
	if (r == 0)
		return package_absent(ns, name, err);
	json_object *chans = jget(rec, "channels");
	const char **cn = member_names(a, chans, &n_ch);
	struct storage_channel *v = arena_alloc(a, (n_ch + 1) * sizeof *v);
	for (size_t i = 0; i < n_ch; i++)
		fill_channel(a, jget(chans, cn[i]), cn[i], &v[i]);
	json_object_put(rec);
	*out = v;
	*n = n_ch;
	return 0;
}

int storage_kv_get_channel(struct storage *s, const char *ns, const char *name,
			   const char *channel, struct arena *a, struct storage_channel *out,
			   struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec;
	long long rev;
	int r = load_pkg(ks, ns, name, a, &rec, &rev, err);

	if (r < 0)
		return -1;
	if (r == 0)
		return package_absent(ns, name, err);
	json_object *c = jget(jget(rec, "channels"), channel);
	if (!c) {
		json_object_put(rec);
		return storage_err_channel_absent(err, ns, name, channel);
	}
	fill_channel(a, c, channel, out);
	json_object_put(rec);
	return 0;
}

/* A channel operation: what it changes, and where channel_add puts the result. */
struct chan_change {
	const char *ns, *name, *channel, *release;
	struct arena *a;                 /* channel_add: out's arena */
	struct storage_channel *out;
};

static int channel_add_change(json_object *rec, struct arena *tmp, void *ctx,
			      struct appr_error *err)
{
	const struct chan_change *cc = ctx;

	(void)tmp;
	if (!jget(jget(rec, "releases"), cc->release))
		return not_found(rec, cc->ns, cc->name, cc->release, NULL, err);
	json_object *c = jobj(jobj(rec, "channels"), cc->channel);
	json_object *rels = jget(c, "releases");
	if (!rels || !json_object_is_type(rels, json_type_array)) {
		rels = json_object_new_array();
		json_object_object_add(c, "releases", rels);
	}
	if (!array_has(rels, cc->release))
		json_object_array_add(rels, json_object_new_string(cc->release));
	json_object_object_add(c, "current", json_object_new_string(cc->release));
	fill_channel(cc->a, c, cc->channel, cc->out);
	return 0;
}

int storage_kv_channel_add(struct storage *s, const char *ns, const char *name,
			   const char *channel, const char *release, struct arena *a,
			   struct storage_channel *out, struct appr_error *err)
{
	struct chan_change cc = { ns, name, channel, release, a, out };
	return record_update((struct kvs *)s, ns, name, channel_add_change, &cc, err);
}

static int channel_remove_change(json_object *rec, struct arena *tmp, void *ctx,
				 struct appr_error *err)
{
	const struct chan_change *cc = ctx;
	json_object *c = jget(jget(rec, "channels"), cc->channel);

	if (!c)
		return storage_err_channel_absent(err, cc->ns, cc->name, cc->channel);
	if (!array_remove(jget(c, "releases"), cc->release))
		return storage_err_not_in_channel(err, cc->ns, cc->name, cc->channel,
						  cc->release);
	channels_repair(tmp, rec);
	return 0;
}

int storage_kv_channel_remove(struct storage *s, const char *ns, const char *name,
			      const char *channel, const char *release, struct appr_error *err)
{
	struct chan_change cc = { ns, name, channel, release, NULL, NULL };
	return record_update((struct kvs *)s, ns, name, channel_remove_change, &cc, err);
}

static int channel_delete_change(json_object *rec, struct arena *tmp, void *ctx,
				 struct appr_error *err)
{
	const struct chan_change *cc = ctx;
	json_object *chans = jget(rec, "channels");

	(void)tmp;
	if (!jget(chans, cc->channel))
		return storage_err_channel_absent(err, cc->ns, cc->name, cc->channel);
	json_object_object_del(chans, cc->channel);
	return 0;
}

int storage_kv_channel_delete(struct storage *s, const char *ns, const char *name,
			      const char *channel, struct appr_error *err)
{
	struct chan_change cc = { ns, name, channel, NULL, NULL, NULL };
	return record_update((struct kvs *)s, ns, name, channel_delete_change, &cc, err);
}

int storage_kv_package_visibility(struct storage *s, const char *ns, const char *name,
				  struct arena *a, const char **out, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec;
	long long rev;

	arena_reset(ks->tmp);
	int r = load_pkg(ks, ns, name, ks->tmp, &rec, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0 || !jasobj(jget(rec, "releases")) ||
	    json_object_object_length(jget(rec, "releases")) == 0) {
		json_object_put(rec);
		return package_absent(ns, name, err);
	}
	const char *vis = jstr(rec, "visibility");
	*out = arena_strdup(a, vis ? vis : "public");
	json_object_put(rec);
	return 0;
}

/* ---- Helm chart repositories ---- */

/* What the helm/ value kp records for upload: 1 with *chart or *problem set, 0 when it
 * is another upload's (a write between two reads), -1 when it is not a helm/ value. */
static int chart_of(struct arena *a, const struct kv_pair *kp, const char *upload,
		    const char **chart, const char **problem)
{
	const char *text;

	if (!meta_of(a, kp, upload, &text))
		return 0;
	if (strncmp(text, "chart\n", 6) == 0)
		*chart = text + 6;
	else if (strncmp(text, "problem\n", 8) == 0)
		*problem = text + 8;
	else
		return -1;
	return 1;
}

/* How many helm manifests the package record rec has. */
static size_t count_charts(json_object *rec)
{
	json_object *rels = jasobj(jget(rec, "releases"));
	size_t n = 0;

	if (rels) {
		json_object_object_foreach(rels, rel, types) {
			(void)rel;
			n += jget(types, "helm") != NULL;
		}
	}
	return n;
}

/* Append to v (at *k) the rows of the helm manifests of package ns/name, whose record
 * is rec, highest release first, each with its chart or problem from charts (the
 * helm/<ns>/ range). 0, 1 when a helm/ value is not the manifest's (written between
 * the two ranges: read again), -1 when one is not a helm/ value at all. */
static int package_charts(struct arena *a, const char *ns, const char *name, json_object *rec,
			  const struct kv_pair *charts, size_t n_charts,
			  struct storage_chart *v, size_t *k)
{
	json_object *all = jget(rec, "releases");
	const char *vis = arena_strdup(a, jstr(rec, "visibility") ? jstr(rec, "visibility")
								  : "public");
	size_t n;
	const char **rels = record_releases(a, rec, &n);

	for (size_t i = 0; i < n; i++) {
		json_object *e = jget(jget(all, rels[i]), "helm");
		if (!e)
			continue;
		struct storage_chart *c = &v[(*k)++];
		struct storage_manifest m = { 0 };
		fill_manifest(e, &m);
		c->name = name;
		c->release = rels[i];
		c->visibility = vis;
		memcpy(c->digest, m.digest, sizeof c->digest);
		memcpy(c->blob_sha256, m.blob_sha256, sizeof c->blob_sha256);
		c->size = m.size;
		memcpy(c->created_at, m.created_at, sizeof c->created_at);
		if (!json_object_get_boolean(jget(e, "chart")))
			continue;                 /* not examined yet */
		const char *key = helm_key(a, ns, name, rels[i]);
		struct kv_pair *kp = bsearch(key, charts, n_charts, sizeof *charts, pair_cmp);
		int r = kp ? chart_of(a, kp, jstr(e, "token"), &c->chart, &c->problem) : 0;
		if (r <= 0)
			return r < 0 ? -1 : 1;
	}
	return 0;
}

int storage_kv_list_charts(struct storage *s, const char *ns, bool include_private,
			   struct arena *a, struct storage_chart **out, size_t *n,
			   struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	const char *pprefix = arena_printf(a, "pkg/%s/", ns);
	const char *hprefix = arena_printf(a, "helm/%s/", ns);

	for (int attempt = 0; attempt < KV_READ_TRIES; attempt++) {
		struct kv_pair *recs = NULL, *charts = NULL;
		size_t n_recs = 0, n_charts = 0, cap = 0, k = 0, i;
		int r = 0;

		/* records first: a helm/ value newer than its record is seen as such */
		if (kv_range(ks->kv, pprefix, NULL, 0, false, a, &recs, &n_recs, NULL, err) < 0 ||
		    kv_range(ks->kv, hprefix, NULL, 0, false, a, &charts, &n_charts, NULL,
			     err) < 0)
			return -1;
		json_object **parsed = arena_alloc(a, (n_recs + 1) * sizeof *parsed);
		for (i = 0; i < n_recs; i++) {
			parsed[i] = kvtxn_parse(recs[i].value, recs[i].len);
			if (!parsed[i])
				break;
			const char *vis = jstr(parsed[i], "visibility");
			if (!include_private && vis && strcmp(vis, "public") != 0) {
				json_object_put(parsed[i]);
				parsed[i] = NULL;     /* private: not listed */
				continue;
			}
			cap += count_charts(parsed[i]);
		}
		if (i < n_recs) {
			r = kvtxn_corrupt("parse", recs[i].key, err);
			n_recs = i;
		}
		/* key order is name order: the namespace is the same in every key */
		struct storage_chart *v = arena_alloc(a, (cap + 1) * sizeof *v);
		for (i = 0; i < n_recs && r == 0; i++) {
			if (!parsed[i])
				continue;
			const char *name = recs[i].key + strlen(pprefix);
			r = package_charts(a, ns, name, parsed[i], charts, n_charts, v, &k);
			if (r < 0)
				kvtxn_corrupt("chart", hprefix, err);
		}
		for (i = 0; i < n_recs; i++)
			json_object_put(parsed[i]);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;                 /* a write between the two ranges: again */
		*out = v;
		*n = k;
		return 0;
	}
	return storage_err_busy(err);
}

/* set_chart's transaction; unchanged is set when there is nothing left to fill. */
struct chart_txn {
	struct kvs *ks;
	const char *ns, *name, *release, *digest, *chart, *problem, *sha, *pkey, *now;
	bool unchanged;
};

/* Build set_chart's transaction (kvtxn_build_fn): the record whose helm manifest gets
 * what is unset of its chart (a helm/ key) and sha256 (the blob record too, so that a
 * later push of the digest records it), and the namespace's stamp. Nothing unset:
 * -1 with ct->unchanged. */
static int chart_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	struct chart_txn *ct = ctx;
	json_object *rec, *blob = NULL;
	long long rev, brev;
	int r = kvtxn_load(ct->ks->kv, ct->pkey, a, &rec, &rev, err);

	if (r < 0)
		return -1;
	json_object *e = jget(jget(jget(rec, "releases"), ct->release), "helm");
	if (!e) {
		not_found(rec, ct->ns, ct->name, ct->release, "helm", err);
		json_object_put(rec);
		return -1;
	}
	const char *cur = jstr(e, "digest");
	bool same_blob = !ct->digest || (cur && strcmp(cur, ct->digest) == 0);
	bool fill_chart = same_blob && !json_object_get_boolean(jget(e, "chart")) &&
		((ct->chart && *ct->chart) || (ct->problem && *ct->problem));
	bool fill_sha = same_blob && ct->sha && !(jstr(e, "sha256") && *jstr(e, "sha256"));
	ct->unchanged = !fill_chart && !fill_sha;
	if (ct->unchanged)
		goto fail;
	kvtxn_init(t, ct->pkey, false);
	kvtxn_cond(t, ct->pkey, rev);
	if (fill_chart) {
		const char *hval;
		const char *up = jstr(e, "token") ? jstr(e, "token") : "";
		if (chart_value(a, up, ct->chart, ct->problem, &hval, err) < 0)
			goto fail;
		kvtxn_op(t, KV_PUT, helm_key(a, ct->ns, ct->name, ct->release), hval,
			 strlen(hval));
		json_object_object_add(e, "chart", json_object_new_boolean(1));
	}
	if (fill_sha) {
		const char *bkey = arena_printf(a, "blob/%s", jstr(e, "digest"));
		json_object_object_add(e, "sha256", json_object_new_string(ct->sha));
		if (kvtxn_load(ct->ks->kv, bkey, a, &blob, &brev, err) < 0)
			goto fail;
		if (blob && !jstr(blob, "sha256")) {
			size_t len;
			json_object_object_add(blob, "sha256", json_object_new_string(ct->sha));
			const char *text = kvtxn_text(a, blob, &len);
			kvtxn_cond(t, bkey, brev);
			kvtxn_op(t, KV_PUT, bkey, text, len);
		}
		json_object_put(blob);
	}
	ns_touch(t, a, ct->ns, ct->now);
	r = kvtxn_put(t, a, ct->pkey, rec, err);
	json_object_put(rec);
	return r;
fail:
	json_object_put(rec);
	return -1;
}

int storage_kv_set_chart(struct storage *s, const char *ns, const char *name,
			 const char *release, const char *digest, const char *chart,
			 const char *problem, const char *blob_sha256, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	char now[32];

	arena_reset(ks->tmp);
	util_utc_now(now);
	struct chart_txn ct = {
		.ks = ks, .ns = ns, .name = name, .release = release, .digest = digest,
		.chart = chart,
		.problem = problem, .now = now, .pkey = pkg_key(ks->tmp, ns, name),
		.sha = names_valid_digest(blob_sha256) ? blob_sha256 : NULL,
	};
	int r = kvtxn_run(ks->kv, ks->tmp, chart_build, &ct, err);
	return r == KVTXN_APPLIED || (r == KVTXN_FAILED && ct.unchanged) ? 0 : -1;
}

int storage_kv_namespace_stamp(struct storage *s, const char *ns, unsigned long long *stamp,
			       char changed_at[32], struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;

	*stamp = 0;
	changed_at[0] = '\0';
	arena_reset(a);
	const char *key = ns_key(a, ns);
	for (int attempt = 0; attempt < KV_READ_TRIES; attempt++) {
		struct kv_pair kp, *any;
		size_t n_any;
		int r = kv_get(ks->kv, key, a, &kp, err);
		if (r < 0)
			return -1;
		if (r == 0) {
			json_object *o = kvtxn_parse(kp.value, kp.len);
			const char *at = jstr(o, "changed_at");
			snprintf(changed_at, 32, "%s", at ? at : "");
			json_object_put(o);
			*stamp = (unsigned long long)kp.rev;
			return 0;
		}
		/* absent: nothing was ever stored under ns, or only before stamps were
		 * kept; then the stamp starts now */
		if (kv_range(ks->kv, arena_printf(a, "pkg/%s/", ns), NULL, 1, true, a, &any,
			     &n_any, NULL, err) < 0)
			return -1;
		if (n_any == 0)
			return 0;
		char now[32];
		util_utc_now(now);
		struct kvtxn t;
		kvtxn_init(&t, key, false);
		kvtxn_cond(&t, key, 0);
		ns_touch(&t, a, ns, now);
		if (kv_txn(ks->kv, t.conds, t.n_conds, t.ops, t.n_ops, err) < 0)
			return -1;
		appr_err_clear(err);                  /* applied, lost or beaten: read again */
	}
	return storage_err_busy(err);
}

/* ---- upkeep ---- */

#define GC_PAGE 500                   /* keys per range read */

/* An upload gc saw: its id, whether a blob references it, its marker. */
struct gc_upload {
	char id[TOKEN_HEX + 1];
	unsigned long chunks;
	bool referenced;
	long long mark_rev;              /* 0: no marker */
	long long mark_at;               /* the marker's time (unix seconds) */
};

static int upload_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gc_upload *)a)->id, ((const struct gc_upload *)b)->id);
}

/* The upload id of key prefix + "<id>" + ("/..." or end), or false. */
static bool upload_id_of(const char *key, const char *prefix, char id[TOKEN_HEX + 1])
{
	size_t pl = strlen(prefix);
	if (strncmp(key, prefix, pl) != 0)
		return false;
	const char *s = key + pl, *e = strchr(s, '/');
	size_t n = e ? (size_t)(e - s) : strlen(s);
	if (n != TOKEN_HEX)
		return false;
	memcpy(id, s, n);
	id[n] = '\0';
	return true;
}

struct gc_uploads {
	struct gc_upload *v;
	size_t n, cap;
	bool sorted;
};

static struct gc_upload *gc_find(struct gc_uploads *u, const char *id, bool add)
{
	struct gc_upload key;
	snprintf(key.id, sizeof key.id, "%s", id);
	if (u->sorted) {
		struct gc_upload *f = bsearch(&key, u->v, u->n, sizeof *u->v, upload_cmp);
		if (f || !add)
			return f;
	} else if (u->n && strcmp(u->v[u->n - 1].id, id) == 0) {
		return &u->v[u->n - 1];       /* chunk keys come grouped by upload */
	}
	if (!add)
		return NULL;
	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 64;
		u->v = xrealloc(u->v, u->cap * sizeof *u->v);
	}
	memset(&u->v[u->n], 0, sizeof *u->v);
	memcpy(u->v[u->n].id, key.id, sizeof key.id);
	u->sorted = false;
	return &u->v[u->n++];
}

typedef int (*gc_visit_fn)(struct gc_uploads *u, const struct kv_pair *p);

/* Every key under prefix, GC_PAGE at a time. */
static int gc_range(struct kvs *ks, const char *prefix, bool keys_only, struct gc_uploads *u,
		    gc_visit_fn visit, struct appr_error *err)
{
	struct arena *a = arena_new();
	char *after = NULL;
	int rc = -1;
	for (;;) {
		struct kv_pair *p;
		size_t n;
		bool more = false;
		arena_reset(a);
		if (kv_range(ks->kv, prefix, after, GC_PAGE, keys_only, a, &p, &n, &more, err) < 0)
			goto out;
		for (size_t i = 0; i < n; i++)
			if (visit(u, &p[i]) < 0)
				goto out;
		if (!more || n == 0)
			break;
		free(after);
		after = xstrdup(p[n - 1].key);
	}
	rc = 0;
out:
	free(after);
	arena_free(a);
	return rc;
}

static int visit_chunk(struct gc_uploads *u, const struct kv_pair *p)
{
	char id[TOKEN_HEX + 1];
	if (upload_id_of(p->key, "chunk/", id))
		gc_find(u, id, true)->chunks++;
	return 0;
}

static void gc_sort(struct gc_uploads *u)
{
	if (!u->sorted && u->n)
		qsort(u->v, u->n, sizeof *u->v, upload_cmp);
	u->sorted = true;
}

static int visit_marker(struct gc_uploads *u, const struct kv_pair *p)
{
	char id[TOKEN_HEX + 1];
	if (!upload_id_of(p->key, "upload/", id))
		return 0;
	gc_sort(u);
	struct gc_upload *g = gc_find(u, id, true);
	g->mark_rev = p->rev;
	g->mark_at = p->value ? strtoll(p->value, NULL, 10) : 0;
	return 0;
}

static int visit_blob(struct gc_uploads *u, const struct kv_pair *p)
{
	json_object *b = kvtxn_parse(p->value, p->len);
	const char *up = b ? jstr(b, "upload") : NULL;
	if (up) {
		gc_sort(u);
		struct gc_upload *g = gc_find(u, up, false);
		if (g)
			g->referenced = true;
	}
	json_object_put(b);
	return 0;
}

int storage_kv_gc(struct storage *s, bool dry, struct storage_gc_report *rep,
		  struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct gc_uploads u = { 0 };
	long long now = (long long)time(NULL), ttl = (long long)s->cfg->upload_ttl;
	int rc = -1;

	rep->temp_files = rep->unreferenced_blobs = rep->blobs_restored = 0;
	rep->bytes_freed = 0;
	/* chunks, then markers, then the blobs: an upload committed meanwhile is seen
	 * referenced, or its marker is gone and the delete below is refused */
	if (gc_range(ks, "chunk/", true, &u, visit_chunk, err) < 0 ||
	    gc_range(ks, "upload/", false, &u, visit_marker, err) < 0)
		goto out;
	gc_sort(&u);
	if (gc_range(ks, "blob/", false, &u, visit_blob, err) < 0)
		goto out;
	for (size_t i = 0; i < u.n; i++) {
		struct gc_upload *g = &u.v[i];
		char chunks[TOKEN_HEX + 16], mark[TOKEN_HEX + 16], what[96];
		if (g->referenced || (g->mark_rev && now - g->mark_at < ttl))
			continue;                 /* stored, or an upload still in flight */
		snprintf(chunks, sizeof chunks, "chunk/%s/", g->id);
		snprintf(mark, sizeof mark, "upload/%s", g->id);
		snprintf(what, sizeof what, "%lu chunks of a dead upload:", g->chunks);
		if (rep->found)
			rep->found(rep->found_ctx, what, chunks);
		if (dry) {
			rep->temp_files++;
			continue;
		}
		struct kv_cond c = { .key = mark, .rev = g->mark_rev };
		struct kv_op ops[2] = { { .type = KV_DELETE_PREFIX, .key = chunks },
					{ .type = KV_DELETE, .key = mark } };
		int r = kv_txn(ks->kv, &c, 1, ops, 2, err);
		if (r < 0)
			goto out;
		if (r == KV_COMMITTED) {
			fprintf(stderr, "appr: storage: gc removed the %lu chunks of dead upload %s\n",
				g->chunks, g->id);
			rep->temp_files++;
		}
		appr_err_clear(err);          /* refused or unknown: left for a later gc */
	}
	rc = 0;
out:
	free(u.v);
	return rc;
}
