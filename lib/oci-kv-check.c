/* oci-kv-check.c - appr-admin fsck on the OCI content of an etcd or redis store
 * (oci-transfer.h: oci_kv_check): every blob read whole through the store's reader
 * (its chunks there, its size and SHA-256 its digest), every manifest's body (its
 * SHA-256 its digest) and what it references (blobs present and sound, manifests of
 * its repository present), every tag (naming a manifest) and link (naming a blob).
 * With repair, what cannot be served goes through the store's own deletes: a damaged
 * blob's links, a manifest whose body or references are wrong (with its tags; the
 * blobs only it used with it), a tag or link naming nothing. Blobs nothing uses are
 * counted (no problem: removed with repair, else gc's); crash debris is gc's
 * (oci-kv-gc.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "oci-kv-internal.h"
#include "oci-transfer.h"

struct check {
	struct kvo *s;
	struct oci_store *os;
	bool repair;
	oci_dump_say_fn say;
	void *sctx;
	struct oci_dump_check_report *rep;
	struct arena *a;                 /* one key's */
	char (*bad)[DIGEST_HEX_LEN + 1]; /* damaged blobs */
	size_t n_bad;
	bool again;                      /* a later pass over the manifests: not counted */
	unsigned long deleted;           /* manifests repair deleted in this pass */
};

#define problem(c, ...) ((c)->rep->problems++, oci_dump_sayf((c)->say, (c)->sctx, __VA_ARGS__))

static void repaired(struct check *c, int rc, struct appr_error *e, const char *what)
{
	if (rc == 0) {
		c->rep->repaired++;
		oci_dump_sayf(c->say, c->sctx, "  repaired: %s", what);
	} else {
		oci_dump_sayf(c->say, c->sctx, "  not repaired (%s): %s", what, e->msg);
	}
	appr_err_clear(e);
}

static bool is_bad(const struct check *c, const char *hex)
{
	for (size_t i = 0; i < c->n_bad; i++)
		if (strcmp(c->bad[i], hex) == 0)
			return true;
	return false;
}

/* Whether key exists: 1, 0, -1. */
static int exists(struct check *c, const char *key, struct appr_error *err)
{
	struct kv_pair kp;
	int r = kv_get(c->s->kv, key, c->a, &kp, err);
	return r < 0 ? -1 : r == 0;
}

/* The bytes of blob hex read whole: NULL when sound, else why not. */
static const char *read_blob(struct check *c, const char *hex, long long size)
{
	struct oci_blob_reader *rd;
	struct appr_error e = { 0 };
	static char why[200];
	char got[DIGEST_HEX_LEN + 1], *buf;
	long long n = 0;
	long k;
	if (oci_blob_open(c->os, hex, 0, &rd, &e) < 0) {
		snprintf(why, sizeof why, "cannot be read: %s", e.msg);
		return why;
	}
	struct digest_ctx *d = digest_new();
	buf = xmalloc(65536);
	while ((k = oci_blob_read(rd, buf, 65536)) > 0) {
		digest_update(d, buf, (size_t)k);
		n += k;
	}
	digest_final_hex(d, got);
	digest_free(d);
	free(buf);
	oci_blob_close(rd);
	if (k < 0)
		snprintf(why, sizeof why, "its chunks cannot be read whole (see above)");
	else if (n != size)
		snprintf(why, sizeof why, "%lld bytes stored, its record says %lld", n, size);
	else if (strcmp(got, hex) != 0)
		snprintf(why, sizeof why, "its bytes have SHA-256 %s", got);
	else
		return NULL;
	return why;
}

/* Each repository linking blob hex: its link deleted (the blob goes with its last
 * use). 0 or -1. */
static int unlink_everywhere(struct check *c, const char *hex, struct appr_error *err)
{
	struct kv_pair *kp;
	size_t n;
	struct arena *a = arena_new();
	const char *prefix = arena_printf(a, "oci/use/%s/", hex);
	int rc = kv_range(c->s->kv, prefix, NULL, 0, true, a, &kp, &n, NULL, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t len = strlen(kp[i].key);
		if (len < 5 || strcmp(kp[i].key + len - 5, "/link") != 0)
			continue;
		const char *repo = arena_strndup(a, kp[i].key + strlen(prefix),
						 len - 5 - strlen(prefix));
		struct appr_error e = { 0 };
		repaired(c, oci_blob_delete(c->os, repo, hex, &e), &e,
			 arena_printf(a, "the link of %s to it deleted", repo));
	}
	arena_free(a);
	return rc;
}

static int check_blob(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct check *c = ctx;
	const char *hex = kp->key + strlen("oci/blob/");
	json_object *rec = kvtxn_parse(kp->value, kp->len);
	arena_reset(c->a);
	c->rep->blobs++;
	if (!rec || !valid_hex(hex)) {
		json_object_put(rec);
		problem(c, "OCI blob record %s: not a blob record", kp->key);
		return 0;
	}
	long long size = jint(rec, "size");
	json_object_put(rec);
	const char *why = read_blob(c, hex, size);
	long n = okv_count_keys(c->s, c->a, arena_printf(c->a, "oci/use/%s/", hex), 1, NULL, err);
	if (n < 0)
		return -1;
	if (n == 0) {
		c->rep->unused++;
		/* with repair, gone as gc would take it (unless used meanwhile) */
		if (!why && c->repair && okv_blob_collect(c->s, c->a, hex, err) < 0)
			return -1;
	}
	if (!why)
		return 0;
	problem(c, "OCI blob sha256:%s: %s", hex, why);
	c->bad = xrealloc(c->bad, (c->n_bad + 1) * sizeof *c->bad);
	memcpy(c->bad[c->n_bad++], hex, DIGEST_HEX_LEN + 1);
	return c->repair ? unlink_everywhere(c, hex, err) : 0;
}

/* What is wrong with a reference list (member of rec) of manifest hex of repo: NULL
 * or why. */
static const char *bad_refs(struct check *c, json_object *rec, const char *member,
			    const char *repo, struct appr_error *err, bool *failed)
{
	json_object *arr;
	*failed = false;
	if (!json_object_object_get_ex(rec, member, &arr) || !json_object_is_type(arr, json_type_array))
		return NULL;
	bool blobs = strcmp(member, "blobs") == 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		const char *d = json_object_get_string(json_object_array_get_idx(arr, i));
		if (!valid_hex(d))
			return arena_printf(c->a, "a reference that is no digest");
		int r = exists(c, blobs ? k_blob(c->a, d) : k_mf(c->a, repo, d), err);
		if (r < 0) {
			*failed = true;
			return NULL;
		}
		if (!r)
			return arena_printf(c->a, "its %s sha256:%s is missing", blobs ? "blob" :
					    "manifest", d);
		if (blobs && is_bad(c, d))
			return arena_printf(c->a, "its blob sha256:%s is damaged", d);
	}
	return NULL;
}

static int check_manifest(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct check *c = ctx;
	const char *repo, *hex, *why = NULL;
	struct oci_manifest m;
	struct appr_error e = { 0 };
	bool failed = false;
	arena_reset(c->a);
	if (!c->again)
		c->rep->manifests++;
	if (!okv_split_repo_key(c->a, kp->key, strlen("oci/mf/"), &repo, &hex) || !valid_hex(hex)) {
		problem(c, "OCI manifest record %s: not a manifest's key", kp->key);
		return 0;
	}
	json_object *rec = kvtxn_parse(kp->value, kp->len);
	if (!rec) {
		why = "its record is not JSON";
	} else if (oci_manifest_get(c->os, repo, hex, NULL, c->a, &m, &e) < 0) {
		why = arena_printf(c->a, "its body cannot be read: %s", e.msg);
		appr_err_clear(&e);
	} else {
		char got[DIGEST_HEX_LEN + 1];
		struct digest_ctx *d = digest_new();
		digest_update(d, m.body, m.len);
		digest_final_hex(d, got);
		digest_free(d);
		if (strcmp(got, hex) != 0)
			why = arena_printf(c->a, "its body has SHA-256 %s", got);
		if (!why)
			why = bad_refs(c, rec, "blobs", repo, err, &failed);
		if (!why && !failed)
			why = bad_refs(c, rec, "manifests", repo, err, &failed);
		if (failed) {
			json_object_put(rec);
			return -1;
		}
	}
	json_object_put(rec);
	if (!why)
		return 0;
	problem(c, "OCI manifest sha256:%s of %s: %s", hex, repo, why);
	if (c->repair) {
		int r = oci_manifest_delete(c->os, repo, hex, &e);
		c->deleted += r == 0;
		repaired(c, r, &e, "deleted, with its tags");
	}
	return 0;
}

static int check_tag(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct check *c = ctx;
	const char *repo, *tag;
	struct appr_error e = { 0 };
	arena_reset(c->a);
	c->rep->tags++;
	char *hex = arena_strndup(c->a, kp->value, kp->len);
	if (!okv_split_repo_key(c->a, kp->key, strlen("oci/tag/"), &repo, &tag))
		return 0;
	int r = valid_hex(hex) ? exists(c, k_mf(c->a, repo, hex), err) : 0;
	if (r < 0)
		return -1;
	if (r)
		return 0;
	problem(c, "OCI tag %s:%s: names sha256:%.64s, no manifest of it", repo, tag, hex);
	if (c->repair)
		repaired(c, oci_tag_delete(c->os, repo, tag, &e), &e, "the tag deleted");
	return 0;
}

static int check_link(void *ctx, const struct kv_pair *kp, struct appr_error *err)
{
	struct check *c = ctx;
	const char *repo, *hex;
	struct appr_error e = { 0 };
	arena_reset(c->a);
	if (!okv_split_repo_key(c->a, kp->key, strlen("oci/link/"), &repo, &hex) || !valid_hex(hex))
		return 0;
	int r = exists(c, k_blob(c->a, hex), err);
	if (r < 0)
		return -1;
	if (r)
		return 0;
	problem(c, "OCI link of %s to blob sha256:%s: no such blob", repo, hex);
	if (c->repair) {
		/* the link and its use key, as the blob's own delete would */
		struct kv_op ops[2] = { { .type = KV_DELETE, .key = kp->key },
					{ .type = KV_DELETE, .key = k_use_link(c->a, hex, repo) } };
		int rc = okv_commit_plain(c->s->kv, NULL, 0, ops, 2, &e) == KV_COMMITTED ? 0 : -1;
		repaired(c, rc, &e, "the link deleted");
	}
	return 0;
}

int oci_kv_check(struct oci_store *os, bool repair, oci_dump_say_fn say, void *sctx,
		 struct oci_dump_check_report *rep, struct appr_error *err)
{
	memset(rep, 0, sizeof *rep);
	if (strcmp(os->ops->name, "kv") != 0)
		return appr_err(err, 500, APPR_E_INTERNAL, "not a kv OCI store");
	struct check c = { .s = kvo_of(os), .os = os, .repair = repair, .say = say,
			   .sctx = sctx, .rep = rep, .a = arena_new() };
	int rc = -1;
	if (kvtxn_each(c.s->kv, "oci/blob/", false, check_blob, &c, err) < 0)
		goto out;
	/* with repair, again while a pass deleted a manifest: an index listing it is
	 * one that cannot be served now */
	for (int pass = 0; pass == 0 || (c.deleted && pass < 8); pass++) {
		c.again = pass > 0;
		c.deleted = 0;
		if (kvtxn_each(c.s->kv, "oci/mf/", false, check_manifest, &c, err) < 0)
			goto out;
	}
	if (kvtxn_each(c.s->kv, "oci/tag/", false, check_tag, &c, err) == 0 &&
	    kvtxn_each(c.s->kv, "oci/link/", true, check_link, &c, err) == 0)
		rc = 0;
out:
	free(c.bad);
	arena_free(c.a);
	return rc;
}
