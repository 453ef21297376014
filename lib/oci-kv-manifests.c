/* oci-kv-manifests.c - the kv OCI store's manifests (oci-kv.c has the key layout and
 * the put and delete steps): reading them and their referrers, putting them with
 * their blob references, deleting them, and their tags. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "oci-helm.h"
#include "oci-kv-internal.h"

/* The tags of the Helm view of repo, sorted, distinct, into *v (count *m), in a. */
static int helm_tags(struct kvo *s, const char *repo, struct arena *a, const char ***v,
		     size_t *m, struct appr_error *err)
{
	struct oci_chart_release *rels;
	size_t n, k = 0;
	if (oci_chart_releases(&s->base, repo, NULL, a, &rels, &n, err) < 0)
		return -1;
	const char **t = arena_alloc(a, (n + 1) * sizeof *t);
	for (size_t i = 0; i < n; i++) {
		char tag[OCI_HELM_TAG_MAX + 1];
		if (oci_helm_tag(rels[i].version, tag) == 0)
			t[k++] = arena_strdup(a, tag);
	}
	*v = okv_distinct(a, t, k, m);
	return 0;
}

int kvo_tags_list(struct oci_store *os, const char *repo, const char *last, long n,
		  struct arena *a, const char ***tags, size_t *count, bool *more,
		  struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *t = scratch(s);
	const char *prefix = arena_printf(t, "oci/tag/%s/", repo);
	const char *after = last ? arena_printf(t, "%s%s", prefix, last) : NULL;
	const char **helm;
	struct kv_pair *kp;
	size_t n_helm, n_kp, pl = strlen(prefix);
	/* n + 1 of each side after last is enough to fill the page and tell "more" */
	if (kv_range(s->kv, prefix, after, n < 0 ? 0 : (size_t)n + 1, true, t, &kp, &n_kp, NULL,
		     err) < 0 ||
	    helm_tags(s, repo, t, &helm, &n_helm, err) < 0)
		return -1;
	const char **v = arena_alloc(t, (n_kp + n_helm + 1) * sizeof *v);
	size_t m = 0;
	for (size_t i = 0; i < n_kp; i++)
		v[m++] = kp[i].key + pl;
	for (size_t i = 0; i < n_helm; i++)
		if (!last || strcmp(helm[i], last) > 0)
			v[m++] = helm[i];
	v = okv_distinct(t, v, m, &m);
	okv_page(a, v, m, last, n, tags, count, more);
	return 0;
}

int kvo_manifest_tag(struct oci_store *os, const char *repo, const char *hex,
		     struct arena *a, const char **tag, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *t = scratch(s);
	const char *prefix = arena_printf(t, "oci/tag/%s/", repo);
	struct kv_pair *kp;
	size_t n;
	*tag = NULL;
	if (kv_range(s->kv, prefix, NULL, 0, false, t, &kp, &n, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kp[i].len == DIGEST_HEX_LEN && memcmp(kp[i].value, hex, DIGEST_HEX_LEN) == 0) {
			*tag = arena_strdup(a, kp[i].key + strlen(prefix));
			break;
		}
	return 0;
}

/* Manifest hex of repo, record and body: 1 (m, *artifact_type in a), 0 absent, -1. */
static int mf_read(struct kvo *s, struct arena *t, const char *repo, const char *hex,
		   struct arena *a, struct oci_manifest *m, const char **artifact_type,
		   struct appr_error *err)
{
	const char *key = k_mf(t, repo, hex);
	for (int attempt = 0; attempt < 3; attempt++) {
		json_object *rec;
		long long rev;
		int r = kvtxn_load(s->kv, key, t, &rec, &rev, err);
		if (r <= 0)
			return r;
		const char *id = jstr(rec, "id"), *mt = jstr(rec, "media_type");
		long long len = jint(rec, "len");
		unsigned long chunks = (unsigned long)jint(rec, "chunks");
		if (!valid_id(id) || !mt || len < 0 || len > (long long)OCI_MANIFEST_MAX ||
		    chunks != chunks_of(len)) {
			json_object_put(rec);
			return kvtxn_corrupt("oci manifest", key, err);
		}
		char *body = arena_alloc(a, (size_t)len + 1);
		size_t off = 0;
		bool gone = false;
		for (unsigned long i = 0; i < chunks && !gone; i++) {
			struct kv_pair kp;
			r = kv_get(s->kv, arena_printf(t, "oci/mfb/%s/%08lu", id, i), t, &kp, err);
			if (r < 0) {
				json_object_put(rec);
				return -1;
			}
			if (r > 0 || kp.len > (size_t)len - off) {
				gone = true;
				break;
			}
			memcpy(body + off, kp.value, kp.len);
			off += kp.len;
		}
		if (gone || off != (size_t)len) {
			json_object_put(rec);
			continue;             /* deleted or replaced meanwhile: again */
		}
		snprintf(m->digest, sizeof m->digest, "%s", hex);
		m->media_type = arena_strdup(a, mt);
		m->body = body;
		m->len = (size_t)len;
		if (artifact_type)
			*artifact_type = arena_strdup(a, jstr(rec, "artifact_type"));
		json_object_put(rec);
		return 1;
	}
	return kvtxn_corrupt("oci manifest body", key, err);
}

int kvo_manifest_get(struct oci_store *os, const char *repo, const char *hex,
		     const char *tag, struct arena *a, struct oci_manifest *m,
		     struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *t = scratch(s);
	const char *h = hex;
	if (!h) {
		struct kv_pair kp;
		int r = kv_get(s->kv, k_tag(t, repo, tag), t, &kp, err);
		if (r < 0)
			return -1;
		h = r == 0 ? arena_strndup(t, kp.value, kp.len) : NULL;
	}
	int r = h && valid_hex(h) ? mf_read(s, t, repo, h, a, m, NULL, err) : 0;
	if (r < 0)
		return -1;
	if (r == 0)
		return appr_err(err, 404, OCI_E_MANIFEST_UNKNOWN, "manifest %s%.128s unknown to %.120s",
				hex ? "sha256:" : "", hex ? hex : tag, repo);
	return 0;
}

int kvo_referrers(struct oci_store *os, const char *repo, const char *hex,
		  struct arena *a, struct oci_manifest **out, const char ***artifact_types,
		  size_t *n, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *t = scratch(s);
	const char *prefix = arena_printf(t, "oci/subj/%s/%s/", repo, hex);
	struct kv_pair *kp;
	size_t n_kp;
	*n = 0;
	if (kv_range(s->kv, prefix, NULL, 0, true, t, &kp, &n_kp, NULL, err) < 0)
		return -1;
	*out = arena_alloc(a, (n_kp + 1) * sizeof **out);
	*artifact_types = arena_alloc(a, (n_kp + 1) * sizeof **artifact_types);
	for (size_t i = 0; i < n_kp; i++) {
		const char *mhex = kp[i].key + strlen(prefix);
		if (!valid_hex(mhex))
			continue;
		int r = mf_read(s, t, repo, mhex, a, &(*out)[*n], &(*artifact_types)[*n], err);
		if (r < 0)
			return -1;
		if (r > 0)
			(*n)++;
	}
	return 0;
}

/* A manifest being put. */
struct put_txn {
	struct kvo *s;
	const char *repo, *hex, *tag, *mkey, *now, *id;
	const struct oci_manifest_info *info;
	const char *body;
	size_t len;
	bool inline_body;
	const char **blobs, **mans;      /* distinct */
	size_t n_blobs, n_mans;
	size_t from, count;              /* pin_build: blobs[from .. from + count) */
	bool pinned;                     /* final_build: the references are written */
	bool need_pins;                  /*   it found no record and nothing pinned */
	bool existed;                    /*   it found the record there: a retag */
};

/* Write the ref and use keys of blobs[from..from+count) (kvtxn_build_fn): each blob
 * conditioned on and rewriting its record. */
static int pin_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct put_txn *p = ctx;
	for (size_t i = 0; i < p->count; i++) {
		const char *hex = p->blobs[p->from + i];
		if (i == 0)
			kvtxn_init(t, k_blob(a, hex), false);
		int r = okv_blob_pin(t, p->s, a, hex, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return appr_err(err, 400, OCI_E_MANIFEST_BLOB_UNKNOWN,
					"blob sha256:%s is not in %.140s", hex, p->repo);
		kvtxn_op(t, KV_PUT, k_ref(a, p->repo, hex, p->hex, p->id), "1", 1);
		kvtxn_op(t, KV_PUT, k_use(a, hex, p->repo, p->hex, p->id), "1", 1);
	}
	return 0;
}

static json_object *str_array(const char *const *v, size_t n)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i]));
	return arr;
}

/* The manifest's own transaction (kvtxn_build_fn): its record, body (when small),
 * subject key, tag and repository key, conditioned on the record being absent; or,
 * when it is there, the tag only, conditioned on the record and rewriting it. */
static int final_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	struct put_txn *p = ctx;
	const struct oci_manifest_info *info = p->info;
	json_object *rec;
	long long rev;
	int r = kvtxn_load(p->s->kv, p->mkey, a, &rec, &rev, err);
	if (r < 0)
		return -1;
	p->existed = r == 1;
	p->need_pins = false;
	if (!p->existed && !p->pinned) {
		p->need_pins = true;         /* deleted meanwhile: the whole put */
		return appr_err(err, 409, APPR_E_RESOURCE_IN_USE, "manifest changed meanwhile");
	}
	kvtxn_init(t, p->mkey, false);
	kvtxn_cond(t, p->mkey, rev);
	if (!p->existed) {
		rec = json_object_new_object();
		json_object_object_add(rec, "media_type", json_object_new_string(info->media_type));
		if (info->artifact_type)
			json_object_object_add(rec, "artifact_type",
					       json_object_new_string(info->artifact_type));
		if (info->subject[0])
			json_object_object_add(rec, "subject", json_object_new_string(info->subject));
		json_object_object_add(rec, "created_at", json_object_new_string(p->now));
		json_object_object_add(rec, "len", json_object_new_int64((long long)p->len));
		json_object_object_add(rec, "id", json_object_new_string(p->id));
		json_object_object_add(rec, "chunks", json_object_new_int64(
					       (long long)chunks_of((long long)p->len)));
		json_object_object_add(rec, "blobs", str_array(p->blobs, p->n_blobs));
		json_object_object_add(rec, "manifests", str_array(p->mans, p->n_mans));
		if (p->inline_body && p->len)
			kvtxn_op(t, KV_PUT, arena_printf(a, "oci/mfb/%s/%08lu", p->id, 0UL), p->body,
				 p->len);
		if (info->subject[0])
			kvtxn_op(t, KV_PUT, k_subj(a, p->repo, info->subject, p->hex), "1", 1);
	}
	r = kvtxn_put(t, a, p->mkey, rec, err);
	json_object_put(rec);
	if (p->tag)
		kvtxn_op(t, KV_PUT, k_tag(a, p->repo, p->tag), p->hex, DIGEST_HEX_LEN);
	kvtxn_op(t, KV_PUT, k_repo(a, p->repo), "1", 1);
	return r;
}

/* Delete the keys of instance id of manifest hex (refs and uses of refs, body) in
 * plain txns: 0, or -1 (err filled). */
static int drop_instance(struct kvo *s, struct arena *a, const char *repo, const char *hex,
			 const char *id, const char *const *refs, size_t n_refs, bool body,
			 struct appr_error *err)
{
	struct batch b = { .s = s };
	for (size_t i = 0; i < n_refs; i++) {
		if (okv_batch_add(&b, KV_DELETE, k_ref(a, repo, refs[i], hex, id), NULL, 0, err) < 0 ||
		    okv_batch_add(&b, KV_DELETE, k_use(a, refs[i], repo, hex, id), NULL, 0, err) < 0)
			return -1;
		if (b.n >= 2 * KEYS_PER_TXN && okv_batch_flush(&b, err) < 0)
			return -1;
	}
	if (body && okv_batch_add(&b, KV_DELETE_PREFIX, k_body(a, id), NULL, 0, err) < 0)
		return -1;
	return okv_batch_flush(&b, err);
}

/* Undo what a put that did not make the record wrote under its instance. */
static void put_undo(struct put_txn *p, struct arena *a)
{
	struct appr_error e = { 0 };
	const char **all = arena_alloc(a, (p->n_blobs + p->n_mans + 1) * sizeof *all);
	if (p->n_blobs)
		memcpy(all, p->blobs, p->n_blobs * sizeof *all);
	if (p->n_mans)
		memcpy(all + p->n_blobs, p->mans, p->n_mans * sizeof *all);
	if (drop_instance(p->s, a, p->repo, p->hex, p->id, all, p->n_blobs + p->n_mans, true,
			  &e) < 0)
		fprintf(stderr, "appr: oci: left the keys of an unfinished put of manifest"
			" sha256:%s in %.140s: %s\n", p->hex, p->repo, e.msg);
}

int kvo_manifest_put(struct oci_store *os, const char *repo, const char *hex,
		     const struct oci_manifest_info *info, const char *body, size_t len,
		     const char *tag, struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	char now[32], id[KVTXN_TOKEN_HEX + 1];
	struct batch b = { .s = s };
	long long size;
	int r;
	util_utc_now(now);
	okv_instance_id(id);
	struct put_txn p = {
		.s = s, .repo = repo, .hex = hex, .tag = tag, .mkey = k_mf(a, repo, hex),
		.now = info->created_at ? info->created_at : now, .id = id, .info = info,
		.body = body, .len = len,
		.inline_body = len <= BODY_INLINE,
	};
	p.blobs = okv_distinct(a, info->blobs, info->n_blobs, &p.n_blobs);
	p.mans = okv_distinct(a, info->manifests, info->n_manifests, &p.n_mans);

	/* what it references must be in repo */
	for (size_t i = 0; i < p.n_mans; i++) {
		if ((r = okv_exists(s, a, k_mf(a, repo, p.mans[i]), NULL, err)) < 0)
			return -1;
		if (r == 0)
			return appr_err(err, 400, OCI_E_MANIFEST_BLOB_UNKNOWN,
					"manifest sha256:%s is not in %.140s", p.mans[i], repo);
	}
	for (size_t i = 0; i < p.n_blobs; i++) {
		if ((r = okv_readable(s, a, repo, p.blobs[i], &size, err)) < 0)
			return -1;
		if (r == 0)
			return appr_err(err, 400, OCI_E_MANIFEST_BLOB_UNKNOWN,
					"blob sha256:%s is not in %.140s", p.blobs[i], repo);
	}
	/* there already: a tag at most */
	if ((r = okv_exists(s, a, p.mkey, NULL, err)) < 0)
		return -1;
	if (r) {
		if (!tag)
			return 0;
		if (kvtxn_run(s->kv, a, final_build, &p, err) == KVTXN_APPLIED)
			return 0;
		if (!p.need_pins)
			return -1;
		appr_err_clear(err);
	}
	/* (1) a large body's chunks, one per txn (a request holds one chunk) */
	for (unsigned long i = 0; !p.inline_body && i < chunks_of((long long)len); i++) {
		size_t off = i * CHUNK, n = len - off < CHUNK ? len - off : CHUNK;
		struct kv_op op = { .type = KV_PUT, .key = arena_printf(a, "oci/mfb/%s/%08lu", id, i),
				    .value = body + off, .len = n };
		if (okv_commit_plain(s->kv, NULL, 0, &op, 1, err) != KV_COMMITTED)
			goto undo;
	}
	/* (2) the references: blobs with their records, an index's manifests plainly */
	for (p.from = 0; p.from < p.n_blobs; p.from += p.count) {
		p.count = p.n_blobs - p.from < PINS_PER_TXN ? p.n_blobs - p.from : PINS_PER_TXN;
		r = kvtxn_run(s->kv, a, pin_build, &p, err);
		if (r == KVTXN_UNKNOWN)
			return -1;           /* maybe written: left, as after a crash */
		if (r != KVTXN_APPLIED)
			goto undo;
	}
	for (size_t i = 0; i < p.n_mans; i++)
		if (okv_batch_add(&b, KV_PUT, k_ref(a, repo, p.mans[i], hex, id), "1", 1, err) < 0 ||
		    okv_batch_add(&b, KV_PUT, k_use(a, p.mans[i], repo, hex, id), "1", 1, err) < 0 ||
		    (b.n >= 2 * KEYS_PER_TXN && okv_batch_flush(&b, err) < 0))
			goto undo;
	if (okv_batch_flush(&b, err) < 0)
		goto undo;
	/* (3) the record */
	p.pinned = true;
	r = kvtxn_run(s->kv, a, final_build, &p, err);
	if (r == KVTXN_UNKNOWN)
		return -1;
	if (r != KVTXN_APPLIED)
		goto undo;
	if (p.existed)
		put_undo(&p, a);             /* a concurrent put of it won: ours are spare */
	return 0;
undo:
	put_undo(&p, a);
	return -1;
}

/* A manifest being deleted. */
struct del_txn {
	struct kvo *s;
	const char *repo, *hex, *mkey;
	bool again;                      /* the txn deleted extra tags only */
	const char *id;                  /* the deleted instance's, and what it referenced: */
	const char **refs;
	size_t n_refs, n_blobs;          /* blobs first */
};

/* Strings of JSON array arr appended to v (count *n, room enough), in a. */
static void take_strings(struct arena *a, json_object *arr, const char **v, size_t *n)
{
	size_t m = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < m; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		if (json_object_is_type(e, json_type_string) && valid_hex(json_object_get_string(e)))
			v[(*n)++] = arena_strdup(a, json_object_get_string(e));
	}
}

static size_t array_len(json_object *arr)
{
	return json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
}

/* Delete a manifest (kvtxn_build_fn): its record, body, subject key and tags, and the
 * repository key when it was the last thing in it; or, while more than
 * TAGS_WITH_RECORD tags name it, up to four of those tags only (again). */
static int del_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	struct del_txn *dt = ctx;
	struct kvo *s = dt->s;
	const char *prefix = arena_printf(a, "oci/tag/%s/", dt->repo);
	json_object *rec;
	long long rev;
	struct kv_pair *kp;
	size_t n, n_tags = 0;
	int r = kvtxn_load(s->kv, dt->mkey, a, &rec, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return appr_err(err, 404, OCI_E_MANIFEST_UNKNOWN,
				"manifest sha256:%s unknown to %.140s", dt->hex, dt->repo);
	if (kv_range(s->kv, prefix, NULL, 0, false, a, &kp, &n, NULL, err) < 0) {
		json_object_put(rec);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (kp[i].len == DIGEST_HEX_LEN && memcmp(kp[i].value, dt->hex, DIGEST_HEX_LEN) == 0)
			kp[n_tags++] = kp[i];
	dt->again = n_tags > TAGS_WITH_RECORD;
	if (dt->again) {
		json_object_put(rec);
		kvtxn_init(t, kp[0].key, true);
		for (size_t i = 0; i < n_tags && i < KVTXN_MAX_CONDS; i++) {
			kvtxn_cond(t, kp[i].key, kp[i].rev);
			kvtxn_op(t, KV_DELETE, kp[i].key, NULL, 0);
		}
		return 0;
	}
	kvtxn_init(t, dt->mkey, true);
	kvtxn_cond(t, dt->mkey, rev);
	kvtxn_op(t, KV_DELETE, dt->mkey, NULL, 0);
	for (size_t i = 0; i < n_tags; i++) {
		kvtxn_cond(t, kp[i].key, kp[i].rev);
		kvtxn_op(t, KV_DELETE, kp[i].key, NULL, 0);
	}
	const char *id = jstr(rec, "id"), *subject = jstr(rec, "subject");
	dt->id = valid_id(id) ? arena_strdup(a, id) : NULL;
	if (dt->id)
		kvtxn_op(t, KV_DELETE_PREFIX, k_body(a, dt->id), NULL, 0);
	if (valid_hex(subject))
		kvtxn_op(t, KV_DELETE, k_subj(a, dt->repo, subject, dt->hex), NULL, 0);
	dt->refs = arena_alloc(a, (array_len(jget(rec, "blobs")) +
				   array_len(jget(rec, "manifests")) + 1) * sizeof *dt->refs);
	dt->n_refs = 0;
	take_strings(a, jget(rec, "blobs"), dt->refs, &dt->n_refs);
	dt->n_blobs = dt->n_refs;
	take_strings(a, jget(rec, "manifests"), dt->refs, &dt->n_refs);
	json_object_put(rec);
	return okv_repo_key_drop(t, s, a, dt->repo, NULL, dt->mkey, err);
}

int kvo_manifest_delete(struct oci_store *os, const char *repo, const char *hex,
			struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	struct del_txn dt = { .s = s, .repo = repo, .hex = hex, .mkey = k_mf(a, repo, hex) };
	struct appr_error e = { 0 };
	do {
		if (kvtxn_run(s->kv, a, del_build, &dt, err) != KVTXN_APPLIED)
			return -1;
	} while (dt.again);
	/* gone: now the instance's references, then the blobs nothing uses any more */
	if (dt.id && drop_instance(s, a, repo, hex, dt.id, dt.refs, dt.n_refs, false, &e) < 0) {
		fprintf(stderr, "appr: oci: left the references of deleted manifest sha256:%s"
			" in %.140s: %s\n", hex, repo, e.msg);
		return 0;                    /* their blobs stay: debris */
	}
	for (size_t i = 0; i < dt.n_refs; i++)
		okv_collect_after(s, a, NULL, dt.refs[i]);
	okv_collect_after(s, a, repo, NULL);
	return 0;
}

int kvo_tag_delete(struct oci_store *os, const char *repo, const char *tag,
		   struct appr_error *err)
{
	struct kvo *s = kvo_of(os);
	struct arena *a = scratch(s);
	const char *key = k_tag(a, repo, tag);
	int r = okv_exists(s, a, key, NULL, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return appr_err(err, 404, OCI_E_MANIFEST_UNKNOWN, "no tag %.128s in %.120s", tag, repo);
	struct kv_op op = { .type = KV_DELETE, .key = key };
	return okv_commit_plain(s->kv, NULL, 0, &op, 1, err) == KV_COMMITTED ? 0 : -1;
}
