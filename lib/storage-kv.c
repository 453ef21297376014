/* storage-kv.c - every storage operation (storage.h) on a kv client (kv.h): etcd and redis. */

/*
 * Key layout (every key below the configured key_prefix, which the kv client adds):
 *
 *   pkg/<ns>/<name>                      the package record, JSON:
 *       {"created_at": "...", "visibility": "public", "txn": "<token of the last write>",
 *        "releases": {"<release>": {"<media type>": {"digest": "<hex>", "size": N,
 *                      "created_at": "...", "token": "<upload id>", "meta": true|false}}},
 *        "channels": {"<channel>": {"current": "<release>", "releases": ["<release>", ...]}}}
 *   man/<ns>/<name>/<release>/<media type>   "<upload id>\n<metadata JSON as pushed>",
 *                                        present only when the manifest has metadata
 *   blob/<digest>                        {"size": N, "upload": "<id>", "chunks": K, "refs": R}:
 *                                        R = manifests (of any package) naming the blob
 *   chunk/<upload id>/<NNNNNNNN>         the gzipped bytes, KV_MAX_VALUE per chunk, at
 *                                        least one chunk per blob
 *   priv/<ns>/<name>                     "1" while the package exists and is private
 *                                        (written with the record that creates it,
 *                                        deleted with the record): listings of a
 *                                        reader drop private packages by this range
 *
 * Users, grants and tokens (auth = tokens):
 *   user/<name>                          {"password_hash": "..." | null, "created_at": "...",
 *                                        "txn": "<token of the last write>"}
 *   grant/<user>/<ns>                    {"level": 1..3, "txn": "..."}  (ns "*": every one)
 *   usertok/<user>/<id>                  the token record: {"id", "user", "hash",
 *                                        "namespace": "..." | null, "scope", "expires_at",
 *                                        "created_at", "txn"}; authoritative: a token
 *                                        exists exactly while this key does
 *   token/<hash>                         the same record: token_find's one key look-up
 *   tokenid/<id>                         {"user", "hash"}: token_revoke's look-up
 * A user delete is one transaction deleting user/<name> and the prefixes grant/<name>/
 * and usertok/<name>/ (so every token of the user stops existing at once), plus the
 * token/ and tokenid/ keys of as many tokens as fit; the rest are deleted by further
 * transactions right after. Until then (or if those fail) they are inert: token_find
 * and token_revoke accept a token/ or tokenid/ key only when usertok/<user>/<id>
 * exists with the same hash.
 *
 * A push streams its bytes into chunk keys under a fresh random upload id BEFORE the
 * manifest transaction; that transaction writes the package record, the metadata and
 * the blob record (new, or refs + 1 and the upload's own chunks deleted when the digest
 * is already stored). A refused push deletes its chunks; a blob whose refs drop to 0 is
 * deleted with its chunks in the transaction that drops the last reference.
 *
 * Every change is one kv transaction conditioned on the revisions of every key it read
 * (package record, blob records), retried on conflict (KV_MAX_TRIES, random backoff,
 * then 409 resource-in-use). A transaction whose answer was lost (KV_UNKNOWN) is
 * settled by re-reading the package record: it carries the token of the writer that
 * wrote it last, and a pushed manifest carries its upload id.
 *
 * Reads: one package record (plus its man/ range when metadata is asked for); the
 * metadata value starts with the manifest's upload id, so a record and a metadata read
 * that straddle a concurrent force push are detected and read again. list/search are a
 * keys-only range over pkg/ (or pkg/<ns>/) and the records of the page only.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "names.h"
#include "semver.h"
#include "storage-kv.h"

#define KV_MAX_TRIES 100             /* transaction attempts before 409 resource-in-use */
#define KV_READ_TRIES 10             /* re-reads of a record/metadata pair that disagree */
#define TOKEN_BYTES 16               /* random bytes of an upload id / txn token */
#define TOKEN_HEX (TOKEN_BYTES * 2)

struct kvs {
	struct storage base;             /* first: callers hold &base */
	struct kv *kv;
	struct arena *tmp;               /* scratch of one operation, reset at its start */
};

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

/* ---- small helpers ---- */

static void rand_bytes(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* no entropy source: still unique enough per process and moment */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			unsigned long long x = (unsigned long long)ts.tv_nsec ^
				((unsigned long long)getpid() << 32) ^ (unsigned long long)ts.tv_sec;
			for (; n > 0; n--, p++) {
				x = x * 6364136223846793005ULL + 1442695040888963407ULL;
				*p = (unsigned char)(x >> 56);
			}
			return;
		}
		p += r;
		n -= (size_t)r;
	}
}

static void rand_hex(char out[TOKEN_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[TOKEN_BYTES];

	rand_bytes(b, sizeof b);
	for (size_t i = 0; i < TOKEN_BYTES; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[TOKEN_HEX] = '\0';
}

/* Sleep a random while, longer as attempts grow (1 ms .. ~50 ms). */
static void backoff(int attempt)
{
	unsigned int r;
	long max_us = 1000L + (attempt < 25 ? attempt : 25) * 2000L;

	rand_bytes(&r, sizeof r);
	struct timespec ts = { 0, (long)(r % (unsigned long)max_us) * 1000L };
	nanosleep(&ts, NULL);
}

static void pkg_name(char out[136], const char *ns, const char *name)
{
	snprintf(out, 136, "%.64s/%.64s", ns, name);
}

static int corrupt(const char *what, const char *key, struct appr_error *err)
{
	fprintf(stderr, "appr: storage: %s: bad record %.200s\n", what, key);
	return appr_err(err, 500, APPR_E_INTERNAL, "storage error");
}

static int busy(struct appr_error *err)
{
	return appr_err(err, 409, APPR_E_RESOURCE_IN_USE, "registry is busy, retry");
}

/* Before attempt number `attempt` (from 0) of a conflicting transaction: 0 to go on
 * (after a random pause, except the first time), or -1 with 409 resource-in-use
 * once KV_MAX_TRIES attempts were made. */
static int retry_wait(int attempt, struct appr_error *err)
{
	if (attempt == KV_MAX_TRIES)
		return busy(err);
	if (attempt)
		backoff(attempt);
	return 0;
}

/* ---- JSON ---- */

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v = jget(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static long long jint(json_object *o, const char *k)
{
	json_object *v = jget(o, k);
	return v ? (long long)json_object_get_int64(v) : 0;
}

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

/* Parse a JSON object of len bytes: the object (caller puts it) or NULL. */
static json_object *jparse(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int)len);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* o as JSON text in the arena; *len its length. */
static const char *jtext(struct arena *a, json_object *o, size_t *len)
{
	size_t n;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
	*len = n;
	return arena_strndup(a, s, n);
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

/* Read key as a JSON object: 1 found (*out to be put by the caller), 0 absent
 * (*out NULL, *rev 0), -1 error. */
static int load_json(struct kvs *ks, const char *key, struct arena *a, json_object **out,
		     long long *rev, struct appr_error *err)
{
	struct kv_pair kp;
	int r = kv_get(ks->kv, key, a, &kp, err);

	*out = NULL;
	*rev = 0;
	if (r < 0)
		return -1;
	if (r == 1)
		return 0;
	*out = jparse(kp.value, kp.len);
	if (!*out)
		return corrupt("parse", key, err);
	*rev = kp.rev;
	return 1;
}

static int load_pkg(struct kvs *ks, const char *ns, const char *name, struct arena *a,
		    json_object **rec, long long *rev, struct appr_error *err)
{
	return load_json(ks, pkg_key(a, ns, name), a, rec, rev, err);
}

/* ---- errors as the sqlite driver gives them ---- */

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
	return not_found(NULL, ns, name, NULL, NULL, err);
}

static int channel_absent(const char *ns, const char *name, const char *channel,
			  struct appr_error *err)
{
	return storage_err_channel_absent(err, ns, name, channel);
}

/* ---- transactions ---- */

#define MAX_CONDS 4
#define MAX_OPS 10

/* One write being prepared: conditions and ops, and how to recognise it afterwards. */
struct txn {
	struct kv_cond conds[MAX_CONDS];
	size_t n_conds;
	struct kv_op ops[MAX_OPS];
	size_t n_ops;
	const char *pkgkey;              /* the package record it writes or deletes */
	char token[TOKEN_HEX + 1];       /* written into the record as "txn" */
	bool deletes_pkg;
	bool overflow;                   /* more conds/ops than room: a bug, refused */
	const char *release, *media_type, *upload;   /* put_release: the manifest's token */
};

static void txn_init(struct txn *t, const char *pkgkey)
{
	memset(t, 0, sizeof *t);
	t->pkgkey = pkgkey;
	rand_hex(t->token);
}

static void txn_cond(struct txn *t, const char *key, long long rev)
{
	if (t->n_conds < MAX_CONDS)
		t->conds[t->n_conds++] = (struct kv_cond){ .key = key, .rev = rev };
	else
		t->overflow = true;
}

static void txn_op(struct txn *t, enum kv_op_type type, const char *key, const void *value,
		   size_t len)
{
	if (t->n_ops < MAX_OPS)
		t->ops[t->n_ops++] = (struct kv_op){ .type = type, .key = key, .value = value,
						     .len = len };
	else
		t->overflow = true;
}

/* Write the package record rec (with this txn's token) under the condition rev. */
static int txn_put_record(struct txn *t, struct arena *a, json_object *rec, long long rev,
			  struct appr_error *err)
{
	size_t len;
	const char *text;

	json_object_object_add(rec, "txn", json_object_new_string(t->token));
	text = jtext(a, rec, &len);
	if (len > KV_MAX_VALUE)
		return appr_err(err, 413, APPR_E_PAYLOAD_TOO_LARGE,
				"package record would exceed %d bytes", KV_MAX_VALUE);
	txn_cond(t, t->pkgkey, rev);
	txn_op(t, KV_PUT, t->pkgkey, text, len);
	return 0;
}

/* After KV_UNKNOWN: was t applied? 1 yes, 0 no, -1 error. */
static int txn_applied(struct kvs *ks, struct txn *t, struct arena *a, struct appr_error *err)
{
	json_object *rec;
	long long rev;
	int r = load_json(ks, t->pkgkey, a, &rec, &rev, err), applied = 0;

	if (r < 0)
		return -1;
	if (r == 0)
		return t->deletes_pkg;
	const char *tok = jstr(rec, "txn");
	if (tok && strcmp(tok, t->token) == 0)
		applied = 1;
	if (t->upload) {
		const char *up = jstr(jget(jget(jget(rec, "releases"), t->release),
					   t->media_type), "token");
		if (up && strcmp(up, t->upload) == 0)
			applied = 1;
	}
	json_object_put(rec);
	return applied;
}

/* Commit t: 0 applied, 1 not applied (retry), -1 error, not applied (err filled),
 * 2 error, outcome unknown: the answer was lost and the re-read failed too. */
static int txn_commit(struct kvs *ks, struct txn *t, struct arena *a, struct appr_error *err)
{
	if (t->overflow) {
		fprintf(stderr, "appr: storage: transaction too large\n");
		return appr_err(err, 500, APPR_E_INTERNAL, "storage error");
	}
	int r = kv_txn(ks->kv, t->conds, t->n_conds, t->ops, t->n_ops, err);
	if (r == KV_COMMITTED)
		return 0;
	if (r == KV_CONFLICT)
		return 1;
	if (r == KV_UNKNOWN) {
		int ap = txn_applied(ks, t, a, err);
		if (ap < 0)
			return 2;
		if (ap)
			appr_err_clear(err);
		return ap ? 0 : 1;
	}
	return -1;
}

/* Add to t the ops dropping one reference to blob digest (read now; its revision
 * becomes a condition): the blob and its chunks go with the last reference. */
static int txn_unref_blob(struct kvs *ks, struct txn *t, struct arena *a, const char *digest,
			  struct appr_error *err)
{
	const char *key = arena_printf(a, "blob/%s", digest);
	json_object *b;
	long long rev;
	int r = load_json(ks, key, a, &b, &rev, err);

	if (r < 0)
		return -1;
	if (r == 0) {
		fprintf(stderr, "appr: storage: blob %s was already gone\n", digest);
		return 0;
	}
	txn_cond(t, key, rev);
	long long refs = jint(b, "refs") - 1;
	if (refs <= 0) {
		const char *up = jstr(b, "upload");
		txn_op(t, KV_DELETE, key, NULL, 0);
		if (up && *up)
			txn_op(t, KV_DELETE_PREFIX, arena_printf(a, "chunk/%s/", up), NULL, 0);
	} else {
		size_t len;
		json_object_object_add(b, "refs", json_object_new_int64(refs));
		const char *text = jtext(a, b, &len);
		txn_op(t, KV_PUT, key, text, len);
	}
	json_object_put(b);
	return 0;
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

int storage_kv_open(const struct appr_config *cfg, const struct kv_ops *ops,
		    struct storage **out, struct appr_error *err)
{
	const struct storage_ops *table = storage_find(ops->name);
	struct kv *kv = NULL;
	struct kvs *ks;

	*out = NULL;
	if (!table || !ops->open) {
		fprintf(stderr, "appr: storage: no driver table for kv %s\n", ops->name);
		return appr_err(err, 500, APPR_E_INTERNAL, "storage error");
	}
	if (ops->open(cfg, &kv, err) < 0)
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

/* Delete every chunk of an upload (best effort: a failure is logged). */
static void chunks_delete(struct kvs *ks, const char *upload)
{
	char key[TOKEN_HEX + 16];
	struct kv_op op = { .type = KV_DELETE_PREFIX, .key = key };
	struct appr_error e = { 0 };

	snprintf(key, sizeof key, "chunk/%s/", upload);
	for (int i = 0; i < 3; i++) {
		int r = kv_txn(ks->kv, NULL, 0, &op, 1, &e);
		if (r == KV_COMMITTED)
			return;
		if (r < 0)
			break;
	}
	fprintf(stderr, "appr: storage: left the chunks of upload %s: %s\n", upload, e.msg);
}

/* Put the buffered bytes as the next chunk. */
static int writer_flush(struct kvs *ks, struct kvs_writer *w, struct appr_error *err)
{
	char key[TOKEN_HEX + 32];
	struct kv_op op = { .type = KV_PUT, .key = key, .value = w->buf, .len = w->len };
	int r = -1;

	snprintf(key, sizeof key, "chunk/%s/%08lu", w->upload, w->chunks);
	for (int i = 0; i < 3; i++) {       /* a put is idempotent: retry a lost answer */
		r = kv_txn(ks->kv, NULL, 0, &op, 1, err);
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
	rand_hex(w->upload);
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
			   const char *digest, long long *size, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec = NULL;
	long long rev;
	char pkg[136];
	int r = 0;

	arena_reset(ks->tmp);
	pkg_name(pkg, ns, name);
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
					*size = jint(m, "size");
					json_object_put(rec);
					return 0;
				}
			}
		}
		json_object_put(rec);
	}
	appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND, "blob sha256:%.64s not found in %s",
		 digest ? digest : "", pkg);
	appr_err_details(err, pkg, NULL, NULL);
	return -1;
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
		return appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND, "blob not found");
	arena_reset(ks->tmp);
	r = load_json(ks, arena_printf(ks->tmp, "blob/%s", digest), ks->tmp, &b, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND, "blob sha256:%s not found",
				digest);
	const char *up = jstr(b, "upload");
	long long chunks = jint(b, "chunks");
	if (!up || strlen(up) != TOKEN_HEX || chunks < 1) {
		json_object_put(b);
		return corrupt("blob", digest, err);
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

int storage_kv_put_release(struct storage *s, const struct storage_push *p,
			   struct storage_blob_writer *bw, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct kvs_writer *w = (struct kvs_writer *)bw;
	struct arena *a = ks->tmp;
	unsigned char key[SEMVER_SORTKEY_MAX];
	char pkg[136], now[32];
	bool drop_chunks = true;
	int rc = -1;

	arena_reset(a);
	pkg_name(pkg, p->ns, p->name);
	if (semver_sortkey(p->release, key, sizeof key) < 0) {
		appr_err(err, 422, APPR_E_INVALID_RELEASE,
			 "release \"%.64s\" is not a semantic version", p->release);
		appr_err_details(err, pkg, p->release, p->media_type);
		goto out;
	}
	if (!names_valid_digest(p->digest)) {
		fprintf(stderr, "appr: storage: put_release: bad digest\n");
		appr_err(err, 500, APPR_E_INTERNAL, "storage error");
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

	const char *pkey = pkg_key(a, p->ns, p->name);
	const char *mkey = man_key(a, p->ns, p->name, p->release, p->media_type);
	const char *bkey = arena_printf(a, "blob/%s", p->digest);
	const char *mval = p->metadata ? arena_printf(a, "%s\n%s", w->upload, p->metadata)
				       : NULL;
	for (int attempt = 0;; attempt++) {
		json_object *rec = NULL, *blob = NULL;
		long long prev, brev, size = bw->size;
		struct txn t;
		int r;

		if (retry_wait(attempt, err) < 0)
			goto out;
		r = load_json(ks, pkey, a, &rec, &prev, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			rec = json_object_new_object();
			json_object_object_add(rec, "created_at", json_object_new_string(now));
			json_object_object_add(rec, "visibility", json_object_new_string(
						       p->visibility ? p->visibility : "public"));
		}
		bool is_new = r == 0;
		json_object *types = jobj(jobj(rec, "releases"), p->release);
		json_object *old = jget(types, p->media_type);
		if (old && !p->force) {
			json_object_put(rec);
			appr_err(err, 409, APPR_E_PACKAGE_EXISTS,
				 "%s release %.40s (%.40s) already exists; push with force to"
				 " replace it", pkg, p->release, p->media_type);
			appr_err_details(err, pkg, p->release, p->media_type);
			goto out;
		}
		const char *old_digest = old ? arena_strdup(a, jstr(old, "digest")) : NULL;

		txn_init(&t, pkey);
		t.release = p->release;
		t.media_type = p->media_type;
		t.upload = w->upload;
		r = load_json(ks, bkey, a, &blob, &brev, err);
		if (r < 0) {
			json_object_put(rec);
			goto out;
		}
		bool same = old_digest && strcmp(old_digest, p->digest) == 0;
		if (blob) {
			/* stored already: its bytes win (same tar), ours go */
			size = jint(blob, "size");
			if (!same)
				json_object_object_add(blob, "refs", json_object_new_int64(
							       jint(blob, "refs") + 1));
			size_t len;
			const char *text = jtext(a, blob, &len);
			txn_cond(&t, bkey, brev);
			txn_op(&t, KV_PUT, bkey, text, len);
			txn_op(&t, KV_DELETE_PREFIX, arena_printf(a, "chunk/%s/", w->upload),
			       NULL, 0);
			json_object_put(blob);
		} else {
			const char *text = arena_printf(
				a, "{\"size\":%lld,\"upload\":\"%s\",\"chunks\":%lu,\"refs\":1}",
				size, w->upload, w->chunks);
			txn_cond(&t, bkey, 0);
			txn_op(&t, KV_PUT, bkey, text, strlen(text));
		}
		if (old_digest && !same && txn_unref_blob(ks, &t, a, old_digest, err) < 0) {
			json_object_put(rec);
			goto out;
		}
		json_object *m = json_object_new_object();
		json_object_object_add(m, "digest", json_object_new_string(p->digest));
		json_object_object_add(m, "size", json_object_new_int64(size));
		json_object_object_add(m, "created_at", json_object_new_string(now));
		json_object_object_add(m, "token", json_object_new_string(w->upload));
		json_object_object_add(m, "meta", json_object_new_boolean(p->metadata != NULL));
		json_object_object_add(types, p->media_type, m);
		if (mval)
			txn_op(&t, KV_PUT, mkey, mval, strlen(mval));
		else
			txn_op(&t, KV_DELETE, mkey, NULL, 0);
		if (is_new && p->visibility && strcmp(p->visibility, "private") == 0)
			txn_op(&t, KV_PUT, priv_key(a, p->ns, p->name), "1", 1);
		else if (is_new)
			txn_op(&t, KV_DELETE, priv_key(a, p->ns, p->name), NULL, 0);
		r = txn_put_record(&t, a, rec, prev, err);
		json_object_put(rec);
		if (r < 0)
			goto out;
		r = txn_commit(ks, &t, a, err);
		if (r == 2) {
			/* maybe applied: the chunks may be the blob's now, keep them */
			fprintf(stderr, "appr: storage: push of %s %s: outcome unknown, upload %s"
				" kept\n", pkg, p->release, w->upload);
			drop_chunks = false;
			goto out;
		}
		if (r < 0)
			goto out;
		if (r == 0)
			break;
	}
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
	return busy(err);
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
	return busy(err);
}

int storage_kv_delete_manifest(struct storage *s, const char *ns, const char *name,
			       const char *release, const char *media_type,
			       struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;

	arena_reset(a);
	const char *pkey = pkg_key(a, ns, name);
	for (int attempt = 0;; attempt++) {
		json_object *rec;
		long long rev;
		struct txn t;
		int r;

		if (retry_wait(attempt, err) < 0)
			return -1;
		r = load_json(ks, pkey, a, &rec, &rev, err);
		if (r < 0)
			return -1;
		json_object *rels = jget(rec, "releases");
		json_object *types = jget(rels, release);
		json_object *e = jget(types, media_type);
		if (!e) {
			not_found(rec, ns, name, release, media_type, err);
			json_object_put(rec);
			return -1;
		}
		const char *digest = arena_strdup(a, jstr(e, "digest"));
		txn_init(&t, pkey);
		json_object_object_del(types, media_type);
		txn_op(&t, KV_DELETE, man_key(a, ns, name, release, media_type), NULL, 0);
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
		if (json_object_object_length(rels) == 0) {
			t.deletes_pkg = true;
			txn_cond(&t, pkey, rev);
			txn_op(&t, KV_DELETE, pkey, NULL, 0);
			txn_op(&t, KV_DELETE_PREFIX, arena_printf(a, "man/%s/%s/", ns, name),
			       NULL, 0);
			txn_op(&t, KV_DELETE, priv_key(a, ns, name), NULL, 0);
		} else if (txn_put_record(&t, a, rec, rev, err) < 0) {
			json_object_put(rec);
			return -1;
		}
		json_object_put(rec);
		if (digest && txn_unref_blob(ks, &t, a, digest, err) < 0)
			return -1;
		r = txn_commit(ks, &t, a, err);
		if (r != 1)
			return r == 0 ? 0 : -1;
	}
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

/* Does record rec have a manifest of media type mt in any release? */
static bool has_media_type(json_object *rec, const char *mt)
{
	if (!jasobj(jget(rec, "releases")))
		return false;
	json_object_object_foreach(jget(rec, "releases"), rel, types) {
		(void)rel;
		if (jget(types, mt))
			return true;
	}
	return false;
}

/* Fill one list row from a package record. */
static void fill_package(struct arena *a, const struct pkgref *ref, json_object *rec,
			 struct storage_package *p)
{
	size_t n;
	const char **rels = record_releases(a, rec, &n);

	p->package = arena_strdup(a, ref->full);
	p->releases = rels;
	p->n_releases = n;
	p->default_release = n ? rels[0] : NULL;
	p->visibility = arena_strdup(a, jstr(rec, "visibility") ? jstr(rec, "visibility")
							       : "public");
	json_object *types = n ? jget(jget(rec, "releases"), rels[0]) : NULL;
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
	/* without a media type filter the page is a slice of the key range */
	size_t start = 0;
	if (!q->media_type) {
		start = q->offset < n_refs ? q->offset : n_refs;
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
		if (q->media_type && !has_media_type(rec, q->media_type)) {
			json_object_put(rec);
			continue;
		}
		if (skipped < q->offset) {
			skipped++;
			json_object_put(rec);
			continue;
		}
		fill_package(a, &refs[i], rec, &v[k]);
		json_object_put(rec);
		if (v[k].n_releases)
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
		return channel_absent(ns, name, channel, err);
	}
	fill_channel(a, c, channel, out);
	json_object_put(rec);
	return 0;
}

int storage_kv_channel_add(struct storage *s, const char *ns, const char *name,
			   const char *channel, const char *release, struct arena *a,
			   struct storage_channel *out, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *tmp = ks->tmp;

	arena_reset(tmp);
	const char *pkey = pkg_key(tmp, ns, name);
	for (int attempt = 0;; attempt++) {
		json_object *rec;
		long long rev;
		struct txn t;
		int r;

		if (retry_wait(attempt, err) < 0)
			return -1;
		r = load_json(ks, pkey, tmp, &rec, &rev, err);
		if (r < 0)
			return -1;
		if (!jget(jget(rec, "releases"), release)) {
			not_found(rec, ns, name, release, NULL, err);
			json_object_put(rec);
			return -1;
		}
		json_object *c = jobj(jobj(rec, "channels"), channel);
		json_object *rels = jget(c, "releases");
		if (!rels || !json_object_is_type(rels, json_type_array)) {
			rels = json_object_new_array();
			json_object_object_add(c, "releases", rels);
		}
		if (!array_has(rels, release))
			json_object_array_add(rels, json_object_new_string(release));
		json_object_object_add(c, "current", json_object_new_string(release));
		fill_channel(a, c, channel, out);
		txn_init(&t, pkey);
		r = txn_put_record(&t, tmp, rec, rev, err);
		json_object_put(rec);
		if (r < 0)
			return -1;
		r = txn_commit(ks, &t, tmp, err);
		if (r != 1)
			return r == 0 ? 0 : -1;
	}
}

int storage_kv_channel_remove(struct storage *s, const char *ns, const char *name,
			      const char *channel, const char *release, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;

	arena_reset(a);
	const char *pkey = pkg_key(a, ns, name);
	for (int attempt = 0;; attempt++) {
		json_object *rec;
		long long rev;
		struct txn t;
		int r;

		if (retry_wait(attempt, err) < 0)
			return -1;
		r = load_json(ks, pkey, a, &rec, &rev, err);
		if (r < 0)
			return -1;
		json_object *c = jget(jget(rec, "channels"), channel);
		if (!c) {
			json_object_put(rec);
			return channel_absent(ns, name, channel, err);
		}
		if (!array_remove(jget(c, "releases"), release)) {
			char pkg[136];
			json_object_put(rec);
			pkg_name(pkg, ns, name);
			appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND,
				 "release %.64s of package %s is not in channel %.64s", release,
				 pkg, channel);
			appr_err_details(err, pkg, release, NULL);
			return -1;
		}
		channels_repair(a, rec);
		txn_init(&t, pkey);
		r = txn_put_record(&t, a, rec, rev, err);
		json_object_put(rec);
		if (r < 0)
			return -1;
		r = txn_commit(ks, &t, a, err);
		if (r != 1)
			return r == 0 ? 0 : -1;
	}
}

int storage_kv_channel_delete(struct storage *s, const char *ns, const char *name,
			      const char *channel, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;

	arena_reset(a);
	const char *pkey = pkg_key(a, ns, name);
	for (int attempt = 0;; attempt++) {
		json_object *rec;
		long long rev;
		struct txn t;
		int r;

		if (retry_wait(attempt, err) < 0)
			return -1;
		r = load_json(ks, pkey, a, &rec, &rev, err);
		if (r < 0)
			return -1;
		json_object *chans = jget(rec, "channels");
		if (!jget(chans, channel)) {
			json_object_put(rec);
			return channel_absent(ns, name, channel, err);
		}
		json_object_object_del(chans, channel);
		txn_init(&t, pkey);
		r = txn_put_record(&t, a, rec, rev, err);
		json_object_put(rec);
		if (r < 0)
			return -1;
		r = txn_commit(ks, &t, a, err);
		if (r != 1)
			return r == 0 ? 0 : -1;
	}
}

/* ---- users, grants, tokens ---- */

/* One auth write: conditions, ops, and the key that settles a lost answer. */
struct atxn {
	struct kv_cond conds[4];
	size_t n_conds;
	struct kv_op ops[KV_MAX_OPS];
	size_t n_ops;
	char token[TOKEN_HEX + 1];       /* written as "txn" into the records it puts */
	const char *check;               /* applied when this key is absent (check_absent) */
	bool check_absent;               /*   or holds "txn" = token */
};

static void atxn_init(struct atxn *t, const char *check, bool check_absent)
{
	memset(t, 0, sizeof *t);
	rand_hex(t->token);
	t->check = check;
	t->check_absent = check_absent;
}

static void atxn_cond(struct atxn *t, const char *key, long long rev)
{
	if (t->n_conds < sizeof t->conds / sizeof t->conds[0])
		t->conds[t->n_conds++] = (struct kv_cond){ .key = key, .rev = rev };
}

static void atxn_op(struct atxn *t, enum kv_op_type type, const char *key, const char *value)
{
	if (t->n_ops < KV_MAX_OPS)
		t->ops[t->n_ops++] = (struct kv_op){ .type = type, .key = key, .value = value,
						     .len = value ? strlen(value) : 0 };
}

/* Put record o (with t's token as "txn") at key; o is consumed. */
static void atxn_put(struct atxn *t, struct arena *a, const char *key, json_object *o)
{
	size_t len;

	json_object_object_add(o, "txn", json_object_new_string(t->token));
	atxn_op(t, KV_PUT, key, jtext(a, o, &len));
	json_object_put(o);
}

/* Commit t: 0 applied, 1 not applied (retry), -1 error (err filled). */
static int atxn_commit(struct kvs *ks, struct atxn *t, struct arena *a, struct appr_error *err)
{
	json_object *o;
	long long rev;
	int r = kv_txn(ks->kv, t->conds, t->n_conds, t->ops, t->n_ops, err);

	if (r == KV_COMMITTED)
		return 0;
	if (r == KV_CONFLICT)
		return 1;
	if (r != KV_UNKNOWN)
		return -1;
	r = load_json(ks, t->check, a, &o, &rev, err);
	if (r < 0)
		return -1;
	bool applied = t->check_absent ? r == 0
		: r == 1 && jstr(o, "txn") && strcmp(jstr(o, "txn"), t->token) == 0;
	json_object_put(o);
	if (applied)
		appr_err_clear(err);
	return applied ? 0 : 1;
}

static int user_absent(const char *name, struct appr_error *err)
{
	return appr_err(err, 404, APPR_E_USER_NOT_FOUND, "user %.64s not found", name);
}

static int token_absent(struct appr_error *err)
{
	return appr_err(err, 404, APPR_E_TOKEN_NOT_FOUND, "token not found");
}

static int level_invalid(int level, struct appr_error *err)
{
	return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "invalid permission level %d",
			level);
}

static const char *user_key(struct arena *a, const char *name)
{
	return arena_printf(a, "user/%s", name);
}

static const char *usertok_key(struct arena *a, const char *user, const char *id)
{
	return arena_printf(a, "usertok/%s/%s", user, id);
}

/* A name usable as one key component. */
static bool key_part_ok(const char *s)
{
	return s && *s && !strchr(s, '/');
}

int storage_kv_user_put(struct storage *s, const char *name, const char *password_hash,
			bool create, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;
	char now[32];

	arena_reset(a);
	if (!key_part_ok(name))
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "invalid user name");
	const char *key = user_key(a, name);
	util_utc_now(now);
	for (int attempt = 0;; attempt++) {
		json_object *rec;
		long long rev;
		struct atxn t;
		int r;

		if (retry_wait(attempt, err) < 0)
			return -1;
		r = load_json(ks, key, a, &rec, &rev, err);
		if (r < 0)
			return -1;
		if (create && r == 1) {
			json_object_put(rec);
			return appr_err(err, 409, APPR_E_USER_EXISTS, "user %.64s already exists",
					name);
		}
		if (!create && r == 0)
			return user_absent(name, err);
		if (create) {
			rec = json_object_new_object();
			json_object_object_add(rec, "created_at", json_object_new_string(now));
		}
		json_object_object_add(rec, "password_hash", password_hash
				       ? json_object_new_string(password_hash) : NULL);
		atxn_init(&t, key, false);
		atxn_cond(&t, key, rev);
		atxn_put(&t, a, key, rec);
		r = atxn_commit(ks, &t, a, err);
		if (r != 1)
			return r;
	}
}

int storage_kv_user_get(struct storage *s, const char *name, struct arena *a,
			struct storage_user *out, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec;
	long long rev;

	arena_reset(ks->tmp);
	if (!key_part_ok(name))
		return user_absent(name ? name : "", err);
	int r = load_json(ks, user_key(ks->tmp, name), ks->tmp, &rec, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return user_absent(name, err);
	memset(out, 0, sizeof *out);
	out->name = arena_strdup(a, name);
	out->password_hash = arena_strdup(a, jstr(rec, "password_hash"));
	snprintf(out->created_at, sizeof out->created_at, "%s",
		 jstr(rec, "created_at") ? jstr(rec, "created_at") : "");
	json_object_put(rec);
	return 0;
}

/* The tokens of a user as read from usertok/<user>/: ids and hashes. */
struct tokref {
	const char *id, *hash;
};

int storage_kv_user_delete(struct storage *s, const char *name, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;
	struct tokref *toks = NULL;
	size_t n_toks = 0, done = 0;

	arena_reset(a);
	if (!key_part_ok(name))
		return user_absent(name ? name : "", err);
	const char *key = user_key(a, name);
	const char *tprefix = arena_printf(a, "usertok/%s/", name);
	for (int attempt = 0;; attempt++) {
		json_object *rec;
		long long rev;
		struct kv_pair *kp;
		struct atxn t;
		int r;

		if (retry_wait(attempt, err) < 0)
			return -1;
		r = load_json(ks, key, a, &rec, &rev, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return user_absent(name, err);
		json_object_put(rec);
		if (kv_range(ks->kv, tprefix, NULL, 0, false, a, &kp, &n_toks, NULL, err) < 0)
			return -1;
		toks = arena_alloc(a, (n_toks + 1) * sizeof *toks);
		for (size_t i = 0; i < n_toks; i++) {
			json_object *o = jparse(kp[i].value, kp[i].len);
			toks[i].id = arena_strdup(a, jstr(o, "id"));
			toks[i].hash = arena_strdup(a, jstr(o, "hash"));
			json_object_put(o);
		}
		atxn_init(&t, key, true);
		atxn_cond(&t, key, rev);
		atxn_op(&t, KV_DELETE, key, NULL);
		atxn_op(&t, KV_DELETE_PREFIX, arena_printf(a, "grant/%s/", name), NULL);
		atxn_op(&t, KV_DELETE_PREFIX, tprefix, NULL);
		for (done = 0; done < n_toks && t.n_ops + 2 <= KV_MAX_OPS; done++) {
			if (toks[done].hash)
				atxn_op(&t, KV_DELETE, arena_printf(a, "token/%s", toks[done].hash),
					NULL);
			if (toks[done].id)
				atxn_op(&t, KV_DELETE, arena_printf(a, "tokenid/%s", toks[done].id),
					NULL);
		}
		r = atxn_commit(ks, &t, a, err);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
	}
	/* the user and its tokens are gone; now the look-up keys of the rest */
	while (done < n_toks) {
		struct atxn t;
		struct appr_error e = { 0 };

		atxn_init(&t, NULL, true);
		for (; done < n_toks && t.n_ops + 2 <= KV_MAX_OPS; done++) {
			if (toks[done].hash)
				atxn_op(&t, KV_DELETE, arena_printf(a, "token/%s", toks[done].hash),
					NULL);
			if (toks[done].id)
				atxn_op(&t, KV_DELETE, arena_printf(a, "tokenid/%s", toks[done].id),
					NULL);
		}
		if (kv_txn(ks->kv, NULL, 0, t.ops, t.n_ops, &e) != KV_COMMITTED)
			fprintf(stderr, "appr: storage: left token keys of deleted user"
				" %.64s: %s\n", name, e.msg);
	}
	return 0;
}

static int user_name_cmp(const void *pa, const void *pb)
{
	const struct storage_user *a = pa, *b = pb;
	return strcmp(a->name, b->name);
}

int storage_kv_user_list(struct storage *s, struct arena *a, struct storage_user **out,
			 size_t *n, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct kv_pair *kp;
	size_t n_kp, k = 0;

	arena_reset(ks->tmp);
	if (kv_range(ks->kv, "user/", NULL, 0, false, ks->tmp, &kp, &n_kp, NULL, err) < 0)
		return -1;
	struct storage_user *v = arena_alloc(a, (n_kp + 1) * sizeof *v);
	for (size_t i = 0; i < n_kp; i++) {
		json_object *o = jparse(kp[i].value, kp[i].len);
		if (!o)
			return corrupt("user", kp[i].key, err);
		v[k].name = arena_strdup(a, kp[i].key + 5);
		v[k].password_hash = arena_strdup(a, jstr(o, "password_hash"));
		snprintf(v[k].created_at, sizeof v[k].created_at, "%s",
			 jstr(o, "created_at") ? jstr(o, "created_at") : "");
		json_object_put(o);
		k++;
	}
	qsort(v, k, sizeof *v, user_name_cmp);
	*out = v;
	*n = k;
	return 0;
}

int storage_kv_grant_set(struct storage *s, const char *user, const char *ns,
			 enum storage_level level, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;

	arena_reset(a);
	if ((int)level < STORAGE_LEVEL_NONE || (int)level > STORAGE_LEVEL_ADMIN)
		return level_invalid((int)level, err);
	if (!key_part_ok(user))
		return user_absent(user ? user : "", err);
	if (!key_part_ok(ns))
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "invalid namespace");
	const char *ukey = user_key(a, user);
	const char *gkey = arena_printf(a, "grant/%s/%s", user, ns);
	for (int attempt = 0;; attempt++) {
		json_object *rec;
		long long rev;
		struct atxn t;
		int r;

		if (retry_wait(attempt, err) < 0)
			return -1;
		r = load_json(ks, ukey, a, &rec, &rev, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return user_absent(user, err);
		json_object_put(rec);
		atxn_init(&t, gkey, level == STORAGE_LEVEL_NONE);
		atxn_cond(&t, ukey, rev);                 /* the user still exists */
		if (level == STORAGE_LEVEL_NONE) {
			atxn_op(&t, KV_DELETE, gkey, NULL);
		} else {
			json_object *g = json_object_new_object();
			json_object_object_add(g, "level", json_object_new_int((int)level));
			atxn_put(&t, a, gkey, g);
		}
		r = atxn_commit(ks, &t, a, err);
		if (r != 1)
			return r;
	}
}

static int grant_cmp(const void *pa, const void *pb)
{
	const struct storage_grant *a = pa, *b = pb;
	int c = strcmp(a->user, b->user);
	return c ? c : strcmp(a->namespace, b->namespace);
}

int storage_kv_grant_list(struct storage *s, const char *user, struct arena *a,
			  struct storage_grant **out, size_t *n, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct kv_pair *kp;
	size_t n_kp, k = 0;

	arena_reset(ks->tmp);
	if (user && !key_part_ok(user)) {
		*out = arena_alloc(a, sizeof **out);
		*n = 0;
		return 0;
	}
	const char *prefix = user ? arena_printf(ks->tmp, "grant/%s/", user) : "grant/";
	if (kv_range(ks->kv, prefix, NULL, 0, false, ks->tmp, &kp, &n_kp, NULL, err) < 0)
		return -1;
	struct storage_grant *v = arena_alloc(a, (n_kp + 1) * sizeof *v);
	for (size_t i = 0; i < n_kp; i++) {
		const char *rest = kp[i].key + 6, *slash = strchr(rest, '/');
		json_object *o = jparse(kp[i].value, kp[i].len);
		if (!o || !slash) {
			json_object_put(o);
			return corrupt("grant", kp[i].key, err);
		}
		v[k].user = arena_strndup(a, rest, (size_t)(slash - rest));
		v[k].namespace = arena_strdup(a, slash + 1);
		v[k].level = (enum storage_level)jint(o, "level");
		json_object_put(o);
		k++;
	}
	qsort(v, k, sizeof *v, grant_cmp);
	*out = v;
	*n = k;
	return 0;
}

/* A token record (usertok/ or token/ value) as a storage_token in arena a. */
static void fill_token(struct arena *a, json_object *o, struct storage_token *t)
{
	memset(t, 0, sizeof *t);
	t->id = arena_strdup(a, jstr(o, "id"));
	t->user = arena_strdup(a, jstr(o, "user"));
	snprintf(t->hash, sizeof t->hash, "%s", jstr(o, "hash") ? jstr(o, "hash") : "");
	t->namespace = arena_strdup(a, jstr(o, "namespace"));
	t->scope = (enum storage_level)jint(o, "scope");
	t->expires_at = jint(o, "expires_at");
	snprintf(t->created_at, sizeof t->created_at, "%s",
		 jstr(o, "created_at") ? jstr(o, "created_at") : "");
}

/* The authoritative record of the token (user, id) if its hash is hash: 1 (*out to
 * be put by the caller, *rev its revision), 0 no such token, -1 error. */
static int token_record(struct kvs *ks, struct arena *a, const char *user, const char *id,
			const char *hash, json_object **out, long long *rev,
			struct appr_error *err)
{
	*out = NULL;
	*rev = 0;
	if (!key_part_ok(user) || !key_part_ok(id) || !hash)
		return 0;
	int r = load_json(ks, usertok_key(a, user, id), a, out, rev, err);
	if (r <= 0)
		return r;
	const char *h = jstr(*out, "hash");
	if (!h || strcmp(h, hash) != 0) {
		json_object_put(*out);
		*out = NULL;
		*rev = 0;
		return 0;
	}
	return 1;
}

int storage_kv_token_add(struct storage *s, const struct storage_token *tok,
			 struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;
	char now[32];

	arena_reset(a);
	if ((int)tok->scope < STORAGE_LEVEL_NONE || (int)tok->scope > STORAGE_LEVEL_ADMIN)
		return level_invalid((int)tok->scope, err);
	if (!key_part_ok(tok->id) || !names_valid_digest(tok->hash))
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "invalid token id or hash");
	if (!key_part_ok(tok->user))
		return user_absent(tok->user ? tok->user : "", err);
	if (tok->created_at[0])
		snprintf(now, sizeof now, "%s", tok->created_at);
	else
		util_utc_now(now);
	const char *ukey = user_key(a, tok->user);
	const char *tkey = arena_printf(a, "token/%s", tok->hash);
	const char *ikey = arena_printf(a, "tokenid/%s", tok->id);
	const char *okey = usertok_key(a, tok->user, tok->id);
	for (int attempt = 0;; attempt++) {
		json_object *rec, *o;
		long long urev, trev, irev, orev;
		struct atxn t;
		int r;

		if (retry_wait(attempt, err) < 0)
			return -1;
		r = load_json(ks, ukey, a, &rec, &urev, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return user_absent(tok->user, err);
		json_object_put(rec);
		/* a token/ or tokenid/ key already there names a live token (409) or is a
		 * left-over of a deleted user (overwritten) */
		const char *keys[2] = { tkey, ikey };
		long long *revs[2] = { &trev, &irev };
		for (int i = 0; i < 2; i++) {
			r = load_json(ks, keys[i], a, &o, revs[i], err);
			if (r < 0)
				return -1;
			if (r == 0)
				continue;
			r = token_record(ks, a, jstr(o, "user"), i == 0 ? jstr(o, "id") : tok->id,
					 jstr(o, "hash"), &rec, &orev, err);
			json_object_put(o);
			json_object_put(rec);
			if (r < 0)
				return -1;
			if (r == 1)
				return appr_err(err, 409, APPR_E_RESOURCE_IN_USE,
						"token id or hash already in use");
		}
		r = load_json(ks, okey, a, &o, &orev, err);
		if (r < 0)
			return -1;
		json_object_put(o);
		atxn_init(&t, tkey, false);
		atxn_cond(&t, ukey, urev);                /* the user still exists */
		atxn_cond(&t, tkey, trev);
		atxn_cond(&t, ikey, irev);
		atxn_cond(&t, okey, orev);
		for (int i = 0; i < 2; i++) {
			o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_string(tok->id));
			json_object_object_add(o, "user", json_object_new_string(tok->user));
			json_object_object_add(o, "hash", json_object_new_string(tok->hash));
			json_object_object_add(o, "namespace", tok->namespace
					       ? json_object_new_string(tok->namespace) : NULL);
			json_object_object_add(o, "scope", json_object_new_int((int)tok->scope));
			json_object_object_add(o, "expires_at",
					       json_object_new_int64(tok->expires_at));
			json_object_object_add(o, "created_at", json_object_new_string(now));
			atxn_put(&t, a, i == 0 ? tkey : okey, o);
		}
		o = json_object_new_object();
		json_object_object_add(o, "user", json_object_new_string(tok->user));
		json_object_object_add(o, "hash", json_object_new_string(tok->hash));
		atxn_put(&t, a, ikey, o);
		r = atxn_commit(ks, &t, a, err);
		if (r != 1)
			return r;
	}
}

int storage_kv_token_find(struct storage *s, const char *hash, struct arena *a,
			  struct storage_token *out, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *o, *rec;
	long long rev;
	int r;

	arena_reset(ks->tmp);
	if (!hash || !names_valid_digest(hash))
		return token_absent(err);
	r = load_json(ks, arena_printf(ks->tmp, "token/%s", hash), ks->tmp, &o, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return token_absent(err);
	r = token_record(ks, ks->tmp, jstr(o, "user"), jstr(o, "id"), hash, &rec, &rev, err);
	json_object_put(o);
	if (r < 0)
		return -1;
	if (r == 0)
		return token_absent(err);          /* its user was deleted */
	fill_token(a, rec, out);
	json_object_put(rec);
	return 0;
}

static int token_cmp(const void *pa, const void *pb)
{
	const struct storage_token *a = pa, *b = pb;
	int c = strcmp(a->user, b->user);
	if (!c)
		c = strcmp(a->created_at, b->created_at);
	return c ? c : strcmp(a->id, b->id);
}

int storage_kv_token_list(struct storage *s, const char *user, struct arena *a,
			  struct storage_token **out, size_t *n, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct kv_pair *kp;
	size_t n_kp, k = 0;

	arena_reset(ks->tmp);
	if (user && !key_part_ok(user)) {
		*out = arena_alloc(a, sizeof **out);
		*n = 0;
		return 0;
	}
	const char *prefix = user ? arena_printf(ks->tmp, "usertok/%s/", user) : "usertok/";
	if (kv_range(ks->kv, prefix, NULL, 0, false, ks->tmp, &kp, &n_kp, NULL, err) < 0)
		return -1;
	struct storage_token *v = arena_alloc(a, (n_kp + 1) * sizeof *v);
	for (size_t i = 0; i < n_kp; i++) {
		json_object *o = jparse(kp[i].value, kp[i].len);
		if (!o || !jstr(o, "id") || !jstr(o, "user")) {
			json_object_put(o);
			return corrupt("token", kp[i].key, err);
		}
		fill_token(a, o, &v[k++]);
		json_object_put(o);
	}
	qsort(v, k, sizeof *v, token_cmp);
	*out = v;
	*n = k;
	return 0;
}

int storage_kv_token_revoke(struct storage *s, const char *id, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;

	arena_reset(a);
	if (!key_part_ok(id))
		return token_absent(err);
	const char *ikey = arena_printf(a, "tokenid/%s", id);
	for (int attempt = 0;; attempt++) {
		json_object *o, *rec;
		long long rev, orev;
		struct atxn t;
		int r;

		if (retry_wait(attempt, err) < 0)
			return -1;
		r = load_json(ks, ikey, a, &o, &rev, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return token_absent(err);
		const char *user = arena_strdup(a, jstr(o, "user"));
		const char *hash = arena_strdup(a, jstr(o, "hash"));
		json_object_put(o);
		r = token_record(ks, a, user, id, hash, &rec, &orev, err);
		json_object_put(rec);
		if (r < 0)
			return -1;
		if (r == 0)
			return token_absent(err);      /* its user was deleted */
		const char *okey = usertok_key(a, user, id);
		atxn_init(&t, okey, true);
		atxn_cond(&t, okey, orev);
		atxn_cond(&t, ikey, rev);
		atxn_op(&t, KV_DELETE, okey, NULL);
		atxn_op(&t, KV_DELETE, ikey, NULL);
		atxn_op(&t, KV_DELETE, arena_printf(a, "token/%s", hash), NULL);
		r = atxn_commit(ks, &t, a, err);
		if (r != 1)
			return r;
	}
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
