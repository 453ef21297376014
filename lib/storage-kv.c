/* storage-kv.c - packages, releases, channels and blobs on a kv client (kv.h), for the etcd
 * and redis drivers. This file: the key layout (below), open/close, releases, manifests,
 * deletes; storage-kv-internal.h lists the files of the rest. */

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
 *                                        JSON>[\n<OCI config>\n<OCI manifest>]" (the
 *                                        release's OCI artifact, oci-helm.h, when its
 *                                        .tgz SHA-256 was known) or "<upload id>\n
 *                                        problem\n<why not a chart>", present while the
 *                                        manifest says "chart"
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
#include "storage-kv-internal.h"

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
	if (kvs_search_open(ks, err) < 0) {
		storage_kv_close(&ks->base);
		return -1;
	}
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

/* ---- releases ---- */

/* A push being committed: put_release's transaction. */
struct push_txn {
	struct kvs *ks;
	const struct storage_push *p;
	struct kvs_writer *w;
	const char *pkey, *mkey, *bkey, *mval, *now;
	const char *hkey, *hval;         /* media type helm: helm/ key, value or NULL */
	bool *created;                   /* set: the attempt creates the package */
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
	*pt->created = is_new;
	json_object *types = kvs_jobj(kvs_jobj(rec, "releases"), p->release);
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
	if (old_digest && !same && kvs_unref_blob(pt->ks, t, a, old_digest, err) < 0) {
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
	if (pt->hval) {
		const char *hval = kvs_chart_with_artifact(a, pt->hval, p->chart, sha, size,
							   p->name, p->release);
		kvtxn_op(t, KV_PUT, pt->hkey, hval, strlen(hval));
	} else if (pt->hkey)
		kvtxn_op(t, KV_DELETE, pt->hkey, NULL, 0);
	kvs_ns_touch(t, a, p->ns, pt->now);
	if (is_new && p->visibility && strcmp(p->visibility, "private") == 0)
		kvtxn_op(t, KV_PUT, kvs_priv_key(a, p->ns, p->name), "1", 1);
	else if (is_new)
		kvtxn_op(t, KV_DELETE, kvs_priv_key(a, p->ns, p->name), NULL, 0);
	if (is_new)                           /* until its tri/ keys are written */
		kvtxn_op(t, KV_PUT, kvs_tix_key(a, p->ns, p->name), "1", 1);
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
	bool drop_chunks = true, created = false;
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
	if ((w->len > 0 || w->chunks == 0) && kvs_writer_flush(ks, w, err) < 0)
		goto out;
	util_utc_now(now);

	struct push_txn pt = {
		.ks = ks, .p = p, .w = w, .now = now,
		.pkey = kvs_pkg_key(a, p->ns, p->name),
		.mkey = kvs_man_key(a, p->ns, p->name, p->release, p->media_type),
		.bkey = arena_printf(a, "blob/%s", p->digest),
		.mval = p->metadata ? arena_printf(a, "%s\n%s", w->upload, p->metadata) : NULL,
		.created = &created,
	};
	if (strcmp(p->media_type, "helm") == 0) {
		pt.hkey = kvs_helm_key(a, p->ns, p->name, p->release);
		if (kvs_chart_value(a, w->upload, p->chart, p->chart_problem, &pt.hval, err) < 0)
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
	if (created)
		kvs_search_index(ks, p->ns, p->name);
out:
	kvs_writer_free(ks, w, drop_chunks);
	return rc;
}

int storage_kv_list_releases(struct storage *s, const char *ns, const char *name,
			     struct arena *a, const char ***out, size_t *n,
			     struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec;
	long long rev;
	int r = kvs_load_pkg(ks, ns, name, a, &rec, &rev, err);

	if (r < 0)
		return -1;
	if (r == 0)
		return kvs_package_absent(ns, name, err);
	*out = kvs_record_releases(a, rec, n);
	json_object_put(rec);
	if (*n == 0)
		return kvs_package_absent(ns, name, err);
	return 0;
}

/* Fill m (package, release, media_type set) from manifest entry e. */
void kvs_fill_manifest(json_object *e, struct storage_manifest *m)
{
	snprintf(m->digest, sizeof m->digest, "%s", jstr(e, "digest") ? jstr(e, "digest") : "");
	m->size = jint(e, "size");
	snprintf(m->created_at, sizeof m->created_at, "%s",
		 jstr(e, "created_at") ? jstr(e, "created_at") : "");
	snprintf(m->blob_sha256, sizeof m->blob_sha256, "%s",
		 jstr(e, "sha256") ? jstr(e, "sha256") : "");
}

/* The metadata in a man/ value if it belongs to upload token: 1 (*out set), 0 not. */
int kvs_meta_of(struct arena *a, const struct kv_pair *kp, const char *token,
		const char **out)
{
	const char *nl = memchr(kp->value, '\n', kp->len);

	if (!nl || !token || (size_t)(nl - kp->value) != strlen(token) ||
	    memcmp(kp->value, token, strlen(token)) != 0)
		return 0;
	*out = arena_strndup(a, nl + 1, kp->len - (size_t)(nl + 1 - kp->value));
	return 1;
}

int kvs_pair_cmp(const void *k, const void *p)
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
		int r = kvs_load_pkg(ks, ns, name, a, &rec, &rev, err);

		if (r < 0)
			return -1;
		if (r == 0)
			return kvs_not_found(NULL, ns, name, release, NULL, err);
		json_object *rels = jget(rec, "releases");
		if (release && !jget(rels, release)) {
			kvs_not_found(rec, ns, name, release, NULL, err);
			json_object_put(rec);
			return -1;
		}
		const char *prefix = release ? arena_printf(a, "man/%s/%s/%s/", ns, name, release)
					     : arena_printf(a, "man/%s/%s/", ns, name);
		if (kv_range(ks->kv, prefix, NULL, 0, false, a, &metas, &n_metas, NULL, err) < 0) {
			json_object_put(rec);
			return -1;
		}
		const char **names = release ? &release : kvs_record_releases(a, rec, &n_rels);
		if (release)
			n_rels = 1;
		size_t cap = 0;
		for (size_t i = 0; i < n_rels; i++)
			cap += (size_t)json_object_object_length(jget(rels, names[i]));
		struct storage_manifest *v = arena_alloc(a, (cap + 1) * sizeof *v);
		for (size_t i = 0; i < n_rels && !stale; i++) {
			json_object *types = jget(rels, names[i]);
			size_t n_types;
			const char **tn = kvs_member_names(a, types, &n_types);
			for (size_t j = 0; j < n_types && cnt < cap; j++) {
				if (media_type && strcmp(media_type, tn[j]) != 0)
					continue;
				json_object *e = jget(types, tn[j]);
				struct storage_manifest *m = &v[cnt++];
				m->package = pkg;
				m->release = arena_strdup(a, names[i]);
				m->media_type = tn[j];
				kvs_fill_manifest(e, m);
				if (!json_object_get_boolean(jget(e, "meta")))
					continue;
				const char *mk = kvs_man_key(a, ns, name, names[i], tn[j]);
				struct kv_pair *kp = bsearch(mk, metas, n_metas, sizeof *metas,
							     kvs_pair_cmp);
				if (!kp || !kvs_meta_of(a, kp, jstr(e, "token"), &m->metadata))
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
		int r = kvs_load_pkg(ks, ns, name, a, &rec, &rev, err);

		if (r < 0)
			return -1;
		json_object *e = jget(jget(jget(rec, "releases"), release), media_type);
		if (!e) {
			kvs_not_found(rec, ns, name, release, media_type, err);
			json_object_put(rec);
			return -1;
		}
		memset(out, 0, sizeof *out);
		out->package = arena_printf(a, "%s/%s", ns, name);
		out->release = arena_strdup(a, release);
		out->media_type = arena_strdup(a, media_type);
		kvs_fill_manifest(e, out);
		/* channels whose current is this release, by name */
		json_object *chans = jget(rec, "channels");
		size_t n_ch, k = 0;
		const char **cn = kvs_member_names(a, chans, &n_ch);
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
		r = kv_get(ks->kv, kvs_man_key(a, ns, name, release, media_type), a, &kp, err);
		if (r < 0)
			return -1;
		if (r == 0 && kvs_meta_of(a, &kp, token, &out->metadata))
			return 0;
	}
	return storage_err_busy(err);
}

/* A manifest being deleted: delete_manifest's transaction. */
struct delete_txn {
	struct kvs *ks;
	const char *ns, *name, *release, *media_type, *pkey, *now;
	bool *gone;                      /* set: the attempt deletes the package */
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
		kvs_not_found(rec, ns, name, release, dt->media_type, err);
		json_object_put(rec);
		return -1;
	}
	const char *digest = arena_strdup(a, jstr(e, "digest"));
	kvtxn_init(t, dt->pkey, false);
	json_object_object_del(types, dt->media_type);
	kvtxn_op(t, KV_DELETE, kvs_man_key(a, ns, name, release, dt->media_type), NULL, 0);
	if (strcmp(dt->media_type, "helm") == 0)
		kvtxn_op(t, KV_DELETE, kvs_helm_key(a, ns, name, release), NULL, 0);
	kvs_ns_touch(t, a, ns, dt->now);
	if (json_object_object_length(types) == 0) {
		/* the release goes with its last manifest: out of every channel */
		if (kvs_jasobj(jget(rec, "channels"))) {
			json_object_object_foreach(jget(rec, "channels"), cname, c) {
				(void)cname;
				kvs_array_remove(jget(c, "releases"), release);
			}
		}
		kvs_channels_repair(a, rec);
		json_object_object_del(rels, release);
	}
	kvtxn_cond(t, dt->pkey, rev);
	*dt->gone = json_object_object_length(rels) == 0;
	if (*dt->gone) {
		t->check_absent = true;           /* the package goes with its last release */
		kvtxn_op(t, KV_DELETE, kvs_tix_key(a, ns, name), NULL, 0);
		kvtxn_op(t, KV_DELETE, dt->pkey, NULL, 0);
		kvtxn_op(t, KV_DELETE_PREFIX, arena_printf(a, "man/%s/%s/", ns, name), NULL, 0);
		kvtxn_op(t, KV_DELETE_PREFIX, arena_printf(a, "helm/%s/%s/", ns, name), NULL, 0);
		kvtxn_op(t, KV_DELETE, kvs_priv_key(a, ns, name), NULL, 0);
	} else if (kvtxn_put(t, a, dt->pkey, rec, err) < 0) {
		json_object_put(rec);
		return -1;
	}
	json_object_put(rec);
	return digest ? kvs_unref_blob(dt->ks, t, a, digest, err) : 0;
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
	bool gone = false;
	struct delete_txn dt = { ks, ns, name, release, media_type, kvs_pkg_key(a, ns, name), now,
				 &gone };
	if (kvtxn_run(ks->kv, a, delete_build, &dt, err) != KVTXN_APPLIED)
		return -1;
	if (gone)
		kvs_search_unindex(ks, ns, name);
	return 0;
}

int storage_kv_package_visibility(struct storage *s, const char *ns, const char *name,
				  struct arena *a, const char **out, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec;
	long long rev;

	arena_reset(ks->tmp);
	int r = kvs_load_pkg(ks, ns, name, ks->tmp, &rec, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0 || !kvs_jasobj(jget(rec, "releases")) ||
	    json_object_object_length(jget(rec, "releases")) == 0) {
		json_object_put(rec);
		return kvs_package_absent(ns, name, err);
	}
	const char *vis = jstr(rec, "visibility");
	*out = arena_strdup(a, vis ? vis : "public");
	json_object_put(rec);
	return 0;
}
