/* storage-kv-charts.c - the kv store's Helm chart fields (helm/ keys) and namespace
 * stamps (ns/ keys). */
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

/* ---- Helm chart repositories ---- */

/* What the helm/ value kp records for upload: 1 with c->chart (and the OCI artifact
 * kept after it, when there is one) or c->problem set, 0 when it is another upload's
 * (a write between two reads), -1 when it is not a helm/ value. */
static int chart_of(struct arena *a, const struct kv_pair *kp, const char *upload,
		    struct storage_chart *c)
{
	const char *text;

	if (!kvs_meta_of(a, kp, upload, &text))
		return 0;
	if (strncmp(text, "chart\n", 6) == 0) {
		/* "chart\n<chart>[\n<OCI config>\n<OCI manifest>]": JSON has no raw newline */
		const char *nl = strchr(text + 6, '\n'), *nl2 = nl ? strchr(nl + 1, '\n') : NULL;
		c->chart = nl ? arena_strndup(a, text + 6, (size_t)(nl - text - 6)) : text + 6;
		if (nl2) {
			c->oci_config = arena_strndup(a, nl + 1, (size_t)(nl2 - nl - 1));
			c->oci_manifest = nl2 + 1;
		}
	} else if (strncmp(text, "problem\n", 8) == 0) {
		c->problem = text + 8;
	} else {
		return -1;
	}
	return 1;
}

/* How many helm manifests the package record rec has. */
static size_t count_charts(json_object *rec)
{
	json_object *rels = kvs_jasobj(jget(rec, "releases"));
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
	const char **rels = kvs_record_releases(a, rec, &n);

	for (size_t i = 0; i < n; i++) {
		json_object *e = jget(jget(all, rels[i]), "helm");
		if (!e)
			continue;
		struct storage_chart *c = &v[(*k)++];
		struct storage_manifest m = { 0 };
		kvs_fill_manifest(e, &m);
		c->name = name;
		c->release = rels[i];
		c->visibility = vis;
		memcpy(c->digest, m.digest, sizeof c->digest);
		memcpy(c->blob_sha256, m.blob_sha256, sizeof c->blob_sha256);
		c->size = m.size;
		memcpy(c->created_at, m.created_at, sizeof c->created_at);
		if (!json_object_get_boolean(jget(e, "chart")))
			continue;                 /* not examined yet */
		const char *key = kvs_helm_key(a, ns, name, rels[i]);
		struct kv_pair *kp = bsearch(key, charts, n_charts, sizeof *charts, kvs_pair_cmp);
		int r = kp ? chart_of(a, kp, jstr(e, "token"), c) : 0;
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
		kvs_not_found(rec, ct->ns, ct->name, ct->release, "helm", err);
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
		if (kvs_chart_value(a, up, ct->chart, ct->problem, &hval, err) < 0)
			goto fail;
		hval = kvs_chart_with_artifact(a, hval, ct->chart,
					       fill_sha ? ct->sha : jstr(e, "sha256"),
					       jint(e, "size"), ct->name, ct->release);
		kvtxn_op(t, KV_PUT, kvs_helm_key(a, ct->ns, ct->name, ct->release), hval,
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
	kvs_ns_touch(t, a, ct->ns, ct->now);
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
		.problem = problem, .now = now, .pkey = kvs_pkg_key(ks->tmp, ns, name),
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
	const char *key = kvs_ns_key(a, ns);
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
		kvs_ns_touch(&t, a, ns, now);
		if (kv_txn(ks->kv, t.conds, t.n_conds, t.ops, t.n_ops, err) < 0)
			return -1;
		appr_err_clear(err);                  /* applied, lost or beaten: read again */
	}
	return storage_err_busy(err);
}
