/* oci-kv-gc.c - what crashes leave in the kv OCI store (oci-kv.c: "Crashes ...")
 * swept by appr-admin gc, without ever taking what an operation running meanwhile
 * still needs:
 *
 *  1. chunks (oci/data/<id>/) that neither an upload session nor a blob record names.
 *     The ids of the chunks are read first, then the sessions, then the blobs: a
 *     session's record is written before its first chunk and hands its chunks to a
 *     blob record in the transaction that deletes it, so chunks whose owner exists
 *     are seen owned whatever runs meanwhile;
 *  2. manifest instances that no manifest record names (a put stopped before its
 *     record, a delete stopped after it): their ref and use keys and their body
 *     chunks (oci/mfb/<id>/). A put writes those before its record, so an instance
 *     is only taken once its id says it was made OKV_GC_GRACE seconds ago;
 *  3. then blobs nothing uses any more (okv_blob_collect: the rule of oci-kv.c) and
 *     repository keys of repositories that hold nothing (okv_repo_collect), both
 *     conditioned on what they read, as every delete of the store is.
 *
 * Everything is read in pages (kvtxn_each), so a store of any size is swept in
 * bounded memory but for the sets of live ids (33 bytes each). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oci-kv-internal.h"
#include "oci-store.h"
#include "util.h"

/* A set of 32-hex ids: appended, then sorted for lookups. */
struct idset {
	char (*id)[KVTXN_TOKEN_HEX + 1];
	size_t n, cap;
};

static void idset_add(struct idset *set, const char *id)
{
	if (!valid_id(id))
		return;
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 256;
		set->id = xrealloc(set->id, set->cap * sizeof *set->id);
	}
	memcpy(set->id[set->n++], id, KVTXN_TOKEN_HEX + 1);
}

static int id_cmp(const void *x, const void *y)
{
	return strcmp(x, y);
}

static void idset_sort(struct idset *set)
{
	if (set->n)
		qsort(set->id, set->n, sizeof *set->id, id_cmp);
}

static bool idset_has(const struct idset *set, const char *id)
{
	return set->n && bsearch(id, set->id, set->n, sizeof *set->id, id_cmp) != NULL;
}

struct gc {
	struct kvo *s;
	struct oci_kv_gc_report *r;
	const char *prefix;              /* found_id's: "oci/data/" or "oci/mfb/" */
	struct idset found, live;        /* ids seen under prefix; ids something names */
	long long now;
};

__attribute__((format(printf, 2, 3)))
static void say(struct gc *g, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	if (!g->r->found)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	g->r->found(g->r->ctx, line);
}

static int found_id(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct gc *g = ctx;
	char id[KVTXN_TOKEN_HEX + 1];
	(void)err;
	if (kvtxn_id_after(kp->key, g->prefix, id) &&
	    (!g->found.n || strcmp(g->found.id[g->found.n - 1], id) != 0))
		idset_add(&g->found, id);
	return 0;
}

/* oci/up/<repo>/<uuid>: the session's uuid names its chunks. */
static int live_upload(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct gc *g = ctx;
	const char *uuid = strrchr(kp->key, '/');
	(void)err;
	if (uuid)
		idset_add(&g->live, uuid + 1);
	return 0;
}

/* oci/blob/<hex> {"data": id}; oci/mf/<repo>/<hex> {"id": id}: the id named. */
static int live_record(void *ctx, const struct kv_pair *kp, struct appr_error *err,
		       const char *member)
{
	struct gc *g = ctx;
	json_object *rec = kvtxn_parse(kp->value, kp->len);
	if (!rec)
		return kvtxn_corrupt("oci record", kp->key, err);
	idset_add(&g->live, jstr(rec, member));
	json_object_put(rec);
	return 0;
}

static int live_blob(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	return live_record(ctx, kp, err, "data");
}

static int live_manifest(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	return live_record(ctx, kp, err, "id");
}

/* Delete prefix for each id found under it that nothing names (and, for manifest
 * bodies, old enough); one report line and count each. */
static int sweep_prefixes(struct gc *g, const char *prefix, bool check_age,
			  unsigned long *count, struct appr_error *err)
{
	struct arena *a = arena_new();
	int rc = 0;
	idset_sort(&g->live);
	for (size_t i = 0; i < g->found.n && rc == 0; i++) {
		const char *id = g->found.id[i];
		if (idset_has(&g->live, id))
			continue;
		if (check_age && g->now - okv_instance_time(id) < OKV_GC_GRACE)
			continue;
		arena_reset(a);
		const char *key = arena_printf(a, "%s%s/", prefix, id);
		struct kv_op op = { .type = KV_DELETE_PREFIX, .key = key };
		if (okv_commit_plain(g->s->kv, NULL, 0, &op, 1, err) < 0) {
			rc = -1;
			break;
		}
		(*count)++;
		say(g, "%s (nothing names them)", key);
	}
	g->found.n = g->live.n = 0;
	arena_free(a);
	return rc;
}

/* 1: chunks no session or blob names. */
static int sweep_data(struct gc *g, struct appr_error *err)
{
	g->prefix = "oci/data/";
	if (kvtxn_each(g->s->kv, "oci/data/", true, found_id, g, err) < 0 ||
	    kvtxn_each(g->s->kv, "oci/up/", true, live_upload, g, err) < 0 ||
	    kvtxn_each(g->s->kv, "oci/blob/", false, live_blob, g, err) < 0)
		return -1;
	return sweep_prefixes(g, "oci/data/", false, &g->r->chunk_sets, err);
}

/* The last '/' of [s, end), or NULL. */
static const char *last_slash(const char *s, const char *end)
{
	while (end > s)
		if (*--end == '/')
			return end;
	return NULL;
}

/* 2: the use keys of manifest instances (oci/use/<hex>/<repo>/<mhex>/<id>) whose
 * record does not name them, their ref keys with them. A manifest's record is read
 * again unless it is the one read last. */
struct inst {
	struct gc *g;
	struct arena *a;                 /* reset whenever the batch is empty */
	struct batch b;
	char last_mkey[300];             /* the manifest record read last */
	char last_id[KVTXN_TOKEN_HEX + 1];   /* its instance ("" when absent) */
};

static int instance_key(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct inst *in = ctx;
	struct gc *g = in->g;
	if (in->b.n == 0)
		arena_reset(in->a);          /* nothing borrows from it */
	/* oci/use/<hex>/<ns>/<name>/<mhex>/<id>, or .../<ns>/<name>/link */
	char hex[DIGEST_HEX_LEN + 1], mhex[DIGEST_HEX_LEN + 1], id[KVTXN_TOKEN_HEX + 1];
	const char *p = kp->key + strlen("oci/use/"), *end = kp->key + strlen(kp->key);
	const char *id_at = last_slash(kp->key, end);
	if (!id_at || strcmp(id_at, "/link") == 0 || strlen(p) < DIGEST_HEX_LEN + 1)
		return 0;
	const char *mhex_at = last_slash(kp->key, id_at);
	if (!mhex_at || mhex_at <= p + DIGEST_HEX_LEN ||
	    (size_t)(id_at - mhex_at - 1) != DIGEST_HEX_LEN)
		return 0;
	memcpy(hex, p, DIGEST_HEX_LEN);
	hex[DIGEST_HEX_LEN] = '\0';
	memcpy(mhex, mhex_at + 1, DIGEST_HEX_LEN);
	mhex[DIGEST_HEX_LEN] = '\0';
	snprintf(id, sizeof id, "%s", id_at + 1);
	if (!valid_hex(hex) || !valid_hex(mhex) || !valid_id(id) || p[DIGEST_HEX_LEN] != '/')
		return 0;
	const char *repo = arena_strndup(in->a, p + DIGEST_HEX_LEN + 1,
					 (size_t)(mhex_at - (p + DIGEST_HEX_LEN + 1)));
	if (g->now - okv_instance_time(id) < OKV_GC_GRACE)
		return 0;                    /* a put may be writing it */
	const char *mkey = k_mf(in->a, repo, mhex);
	if (strcmp(mkey, in->last_mkey) != 0) {
		json_object *rec;
		long long rev;
		int r = kvtxn_load(g->s->kv, mkey, in->a, &rec, &rev, err);
		if (r < 0)
			return -1;
		const char *rid = r ? jstr(rec, "id") : NULL;
		snprintf(in->last_mkey, sizeof in->last_mkey, "%s", mkey);
		snprintf(in->last_id, sizeof in->last_id, "%s", rid ? rid : "");
		if (rec)
			json_object_put(rec);
	}
	if (strcmp(in->last_id, id) == 0)
		return 0;                    /* the manifest's own instance */
	if (okv_batch_add(&in->b, KV_DELETE, arena_strdup(in->a, kp->key), NULL, 0, err) < 0 ||
	    okv_batch_add(&in->b, KV_DELETE, k_ref(in->a, repo, hex, mhex, id), NULL, 0, err) < 0)
		return -1;
	g->r->instance_keys += 2;
	say(g, "references of a manifest instance no record names: %s", kp->key);
	return 0;
}

static int sweep_instances(struct gc *g, struct appr_error *err)
{
	struct inst in = { .g = g, .a = arena_new(), .b = { .s = g->s } };
	int rc = kvtxn_each(g->s->kv, "oci/use/", true, instance_key, &in, err);
	if (rc == 0)
		rc = okv_batch_flush(&in.b, err);
	arena_free(in.a);
	if (rc < 0)
		return -1;
	/* the bodies: ids under oci/mfb/ that no manifest record names */
	g->prefix = "oci/mfb/";
	if (kvtxn_each(g->s->kv, "oci/mfb/", true, found_id, g, err) < 0 ||
	    kvtxn_each(g->s->kv, "oci/mf/", false, live_manifest, g, err) < 0)
		return -1;
	return sweep_prefixes(g, "oci/mfb/", true, &g->r->body_sets, err);
}

/* 3: blobs nothing uses, keys of empty repositories. */
static int collect_blob(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct gc *g = ctx;
	struct arena *a = arena_new();
	const char *hex = kp->key + strlen("oci/blob/");
	int r = valid_hex(hex) ? okv_blob_collect(g->s, a, hex, err) : 0;
	if (r > 0) {
		g->r->blobs++;
		say(g, "blob sha256:%s (nothing uses it)", hex);
	}
	arena_free(a);
	return r < 0 ? -1 : 0;
}

static int collect_repo(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct gc *g = ctx;
	struct arena *a = arena_new();
	const char *repo = kp->key + strlen("oci/repo/");
	int r = okv_repo_collect(g->s, a, repo, err);
	if (r > 0) {
		g->r->repos++;
		say(g, "the repository key of %s (it holds nothing)", repo);
	}
	arena_free(a);
	return r < 0 ? -1 : 0;
}

int oci_kv_gc(struct oci_store *os, struct oci_kv_gc_report *r, struct appr_error *err)
{
	if (strcmp(os->ops->name, "kv") != 0)
		return appr_err(err, 500, APPR_E_INTERNAL, "not a kv OCI store");
	struct gc g = { .s = kvo_of(os), .r = r, .now = (long long)time(NULL) };
	int rc = -1;
	if (sweep_data(&g, err) == 0 && sweep_instances(&g, err) == 0 &&
	    kvtxn_each(g.s->kv, "oci/blob/", true, collect_blob, &g, err) == 0 &&
	    kvtxn_each(g.s->kv, "oci/repo/", true, collect_repo, &g, err) == 0)
		rc = 0;
	free(g.found.id);
	free(g.live.id);
	return rc;
}
