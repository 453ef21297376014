/* storage-kv-auth.c - users, grants and tokens (auth = tokens) on a kv client (kv.h), for the etcd and redis drivers. */

/*
 * Key layout (below the key_prefix, next to storage-kv.c's package keys):
 *   user/<name>                          {"password_hash": "..." | null, "created_at": "...",
 *                                        "txn": "<token of the last write>"}
 *   grant/<user>/<ns>                    {"level": 1..3, "txn": "..."}  (ns "*": every one)
 *   usertok/<user>/<id>                  the token record: {"id", "user", "hash",
 *                                        "namespace": "..." | null, "scope", "expires_at",
 *                                        "created_at", "txn"}; authoritative: a token
 *                                        exists exactly while this key does
 *   token/<hash>                         the same record: token_find's one key look-up
 *   tokenid/<id>                         {"user", "hash"}: token_revoke's look-up
 * User names, namespaces and token ids hold no '/' (key_part_ok checks), so '/'
 * separates key parts unambiguously; they are kept and compared bytewise.
 *
 * A user delete is one transaction deleting user/<name> and the prefixes grant/<name>/
 * and usertok/<name>/ (so every token of the user stops existing at once), plus the
 * token/ and tokenid/ keys of as many tokens as fit; the rest are deleted by further
 * transactions right after. Until then (or if those fail) they are inert: token_find
 * and token_revoke accept a token/ or tokenid/ key only when usertok/<user>/<id>
 * exists with the same hash.
 *
 * Every change is one transaction of storage-kv-txn.c, settled after a lost answer by
 * the key it writes (holding its token) or deletes (absent).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "names.h"
#include "storage-kv.h"
#include "storage-kv-txn.h"

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

/* The records under "<kind>/<user>/" (user NULL: every user's, under "<kind>/"), read
 * into ks->tmp: 0 with *kp and *n set (none for a name no key holds), or -1. */
static int user_records(struct kvs *ks, const char *kind, const char *user,
			struct kv_pair **kp, size_t *n, struct appr_error *err)
{
	*kp = NULL;
	*n = 0;
	if (user && !key_part_ok(user))
		return 0;
	const char *prefix = user ? arena_printf(ks->tmp, "%s/%s/", kind, user)
				  : arena_printf(ks->tmp, "%s/", kind);
	return kv_range(ks->kv, prefix, NULL, 0, false, ks->tmp, kp, n, NULL, err);
}

/* Read user/<name> for a transaction on the user: 0 with *rev (its revision, for a
 * condition that the user still exists), -1 when absent (404) or on a read error. */
static int user_rev(struct kvs *ks, struct arena *a, const char *ukey, const char *name,
		    long long *rev, struct appr_error *err)
{
	json_object *rec;
	int r = kvtxn_load(ks->kv, ukey, a, &rec, rev, err);

	json_object_put(rec);
	if (r < 0)
		return -1;
	return r == 0 ? storage_err_user_absent(err, name) : 0;
}

/* A user_put being committed. */
struct user_put_txn {
	struct kvs *ks;
	const char *name, *ukey, *password_hash, *now;
	bool create;
};

/* Build user_put's transaction (kvtxn_build_fn): the user record, new or updated. */
static int user_put_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct user_put_txn *ut = ctx;
	json_object *rec;
	long long rev;
	int r = kvtxn_load(ut->ks->kv, ut->ukey, a, &rec, &rev, err);

	if (r < 0)
		return -1;
	if (ut->create && r == 1) {
		json_object_put(rec);
		return storage_err_user_exists(err, ut->name);
	}
	if (!ut->create && r == 0)
		return storage_err_user_absent(err, ut->name);
	if (ut->create) {
		rec = json_object_new_object();
		json_object_object_add(rec, "created_at", json_object_new_string(ut->now));
	}
	json_object_object_add(rec, "password_hash", ut->password_hash
			       ? json_object_new_string(ut->password_hash) : NULL);
	kvtxn_init(t, ut->ukey, false);
	kvtxn_cond(t, ut->ukey, rev);
	r = kvtxn_put(t, a, ut->ukey, rec, err);
	json_object_put(rec);
	return r;
}

int storage_kv_user_put(struct storage *s, const char *name, const char *password_hash,
			bool create, const char *created_at, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	char now[32];

	arena_reset(ks->tmp);
	if (!key_part_ok(name))
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "invalid user name");
	if (created_at)
		snprintf(now, sizeof now, "%s", created_at);
	else
		util_utc_now(now);
	struct user_put_txn ut = { ks, name, user_key(ks->tmp, name), password_hash, now, create };
	return kvtxn_run(ks->kv, ks->tmp, user_put_build, &ut, err) == KVTXN_APPLIED ? 0 : -1;
}

int storage_kv_user_get(struct storage *s, const char *name, struct arena *a,
			struct storage_user *out, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec;
	long long rev;

	arena_reset(ks->tmp);
	if (!key_part_ok(name))
		return storage_err_user_absent(err, name);
	int r = kvtxn_load(ks->kv, user_key(ks->tmp, name), ks->tmp, &rec, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_user_absent(err, name);
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

/* Add to t the deletes of the token/ and tokenid/ keys of toks[from..n) that fit in
 * it: the index of the first token left. */
static size_t token_keys_delete(struct kvtxn *t, struct arena *a, const struct tokref *toks,
				size_t from, size_t n)
{
	for (; from < n && t->n_ops + 2 <= KV_MAX_OPS; from++) {
		if (toks[from].hash)
			kvtxn_op(t, KV_DELETE, arena_printf(a, "token/%s", toks[from].hash),
				 NULL, 0);
		if (toks[from].id)
			kvtxn_op(t, KV_DELETE, arena_printf(a, "tokenid/%s", toks[from].id),
				 NULL, 0);
	}
	return from;
}

/* A user_delete being committed; the tokens it read stay for the clean-up after it. */
struct user_delete_txn {
	struct kvs *ks;
	const char *name, *ukey, *tprefix;
	struct tokref *toks;
	size_t n_toks, done;             /* tokens read, and whose keys the txn deletes */
};

/* Build user_delete's transaction (kvtxn_build_fn): the user, its grants and tokens,
 * and the look-up keys of as many tokens as fit. */
static int user_delete_build(struct kvtxn *t, struct arena *a, void *ctx,
			     struct appr_error *err)
{
	struct user_delete_txn *dt = ctx;
	struct kv_pair *kp;
	long long rev;

	if (user_rev(dt->ks, a, dt->ukey, dt->name, &rev, err) < 0 ||
	    kv_range(dt->ks->kv, dt->tprefix, NULL, 0, false, a, &kp, &dt->n_toks, NULL,
		     err) < 0)
		return -1;
	dt->toks = arena_alloc(a, (dt->n_toks + 1) * sizeof *dt->toks);
	for (size_t i = 0; i < dt->n_toks; i++) {
		json_object *o = kvtxn_parse(kp[i].value, kp[i].len);
		dt->toks[i].id = arena_strdup(a, jstr(o, "id"));
		dt->toks[i].hash = arena_strdup(a, jstr(o, "hash"));
		json_object_put(o);
	}
	kvtxn_init(t, dt->ukey, true);
	kvtxn_cond(t, dt->ukey, rev);
	kvtxn_op(t, KV_DELETE, dt->ukey, NULL, 0);
	kvtxn_op(t, KV_DELETE_PREFIX, arena_printf(a, "grant/%s/", dt->name), NULL, 0);
	kvtxn_op(t, KV_DELETE_PREFIX, dt->tprefix, NULL, 0);
	dt->done = token_keys_delete(t, a, dt->toks, 0, dt->n_toks);
	return 0;
}

int storage_kv_user_delete(struct storage *s, const char *name, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;

	arena_reset(a);
	if (!key_part_ok(name))
		return storage_err_user_absent(err, name);
	struct user_delete_txn dt = {
		.ks = ks, .name = name, .ukey = user_key(a, name),
		.tprefix = arena_printf(a, "usertok/%s/", name),
	};
	if (kvtxn_run(ks->kv, a, user_delete_build, &dt, err) != KVTXN_APPLIED)
		return -1;
	/* the user and its tokens are gone; now the look-up keys of the rest */
	while (dt.done < dt.n_toks) {
		struct kvtxn t;
		struct appr_error e = { 0 };

		kvtxn_init(&t, NULL, true);
		dt.done = token_keys_delete(&t, a, dt.toks, dt.done, dt.n_toks);
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
		json_object *o = kvtxn_parse(kp[i].value, kp[i].len);
		if (!o)
			return kvtxn_corrupt("user", kp[i].key, err);
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

/* A grant_set being committed. */
struct grant_txn {
	struct kvs *ks;
	const char *user, *ukey, *gkey;
	enum storage_level level;
};

/* Build grant_set's transaction (kvtxn_build_fn): the grant put or deleted, if the
 * user still exists. */
static int grant_build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
{
	const struct grant_txn *gt = ctx;
	long long rev;
	int r = 0;

	if (user_rev(gt->ks, a, gt->ukey, gt->user, &rev, err) < 0)
		return -1;
	kvtxn_init(t, gt->gkey, gt->level == STORAGE_LEVEL_NONE);
	kvtxn_cond(t, gt->ukey, rev);
	if (gt->level == STORAGE_LEVEL_NONE) {
		kvtxn_op(t, KV_DELETE, gt->gkey, NULL, 0);
	} else {
		json_object *g = json_object_new_object();
		json_object_object_add(g, "level", json_object_new_int((int)gt->level));
		r = kvtxn_put(t, a, gt->gkey, g, err);
		json_object_put(g);
	}
	return r;
}

int storage_kv_grant_set(struct storage *s, const char *user, const char *ns,
			 enum storage_level level, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;

	arena_reset(a);
	if (storage_check_level(err, level) < 0)
		return -1;
	if (!key_part_ok(user))
		return storage_err_user_absent(err, user);
	if (!key_part_ok(ns))
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "invalid namespace");
	struct grant_txn gt = {
		.ks = ks, .user = user, .ukey = user_key(a, user),
		.gkey = arena_printf(a, "grant/%s/%s", user, ns), .level = level,
	};
	return kvtxn_run(ks->kv, a, grant_build, &gt, err) == KVTXN_APPLIED ? 0 : -1;
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
	if (user_records(ks, "grant", user, &kp, &n_kp, err) < 0)
		return -1;
	struct storage_grant *v = arena_alloc(a, (n_kp + 1) * sizeof *v);
	for (size_t i = 0; i < n_kp; i++) {
		const char *rest = kp[i].key + 6, *slash = strchr(rest, '/');
		json_object *o = kvtxn_parse(kp[i].value, kp[i].len);
		if (!o || !slash) {
			json_object_put(o);
			return kvtxn_corrupt("grant", kp[i].key, err);
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
	int r = kvtxn_load(ks->kv, usertok_key(a, user, id), a, out, rev, err);
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

/* A token_add being committed. */
struct token_add_txn {
	struct kvs *ks;
	const struct storage_token *tok;
	const char *now, *ukey, *tkey, *ikey, *okey;
};

/* Build token_add's transaction (kvtxn_build_fn): the token's usertok/, token/ and
 * tokenid/ keys, if the user still exists and no live token has its id or hash. */
static int token_add_build(struct kvtxn *t, struct arena *a, void *ctx,
			   struct appr_error *err)
{
	const struct token_add_txn *tt = ctx;
	const struct storage_token *tok = tt->tok;
	json_object *rec, *o;
	long long urev, trev, irev, orev;
	int r;

	if (user_rev(tt->ks, a, tt->ukey, tok->user, &urev, err) < 0)
		return -1;
	/* a token/ or tokenid/ key already there names a live token (409) or is a
	 * left-over of a deleted user (overwritten) */
	const char *keys[2] = { tt->tkey, tt->ikey };
	long long *revs[2] = { &trev, &irev };
	for (int i = 0; i < 2; i++) {
		r = kvtxn_load(tt->ks->kv, keys[i], a, &o, revs[i], err);
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		r = token_record(tt->ks, a, jstr(o, "user"), i == 0 ? jstr(o, "id") : tok->id,
				 jstr(o, "hash"), &rec, &orev, err);
		json_object_put(o);
		json_object_put(rec);
		if (r < 0)
			return -1;
		if (r == 1)
			return storage_err_token_taken(err);
	}
	r = kvtxn_load(tt->ks->kv, tt->okey, a, &o, &orev, err);
	if (r < 0)
		return -1;
	json_object_put(o);
	kvtxn_init(t, tt->tkey, false);
	kvtxn_cond(t, tt->ukey, urev);                /* the user still exists */
	kvtxn_cond(t, tt->tkey, trev);
	kvtxn_cond(t, tt->ikey, irev);
	kvtxn_cond(t, tt->okey, orev);
	for (int i = 0; i < 2; i++) {             /* token/ and usertok/: the record */
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(tok->id));
		json_object_object_add(o, "user", json_object_new_string(tok->user));
		json_object_object_add(o, "hash", json_object_new_string(tok->hash));
		json_object_object_add(o, "namespace", tok->namespace
				       ? json_object_new_string(tok->namespace) : NULL);
		json_object_object_add(o, "scope", json_object_new_int((int)tok->scope));
		json_object_object_add(o, "expires_at", json_object_new_int64(tok->expires_at));
		json_object_object_add(o, "created_at", json_object_new_string(tt->now));
		r = kvtxn_put(t, a, i == 0 ? tt->tkey : tt->okey, o, err);
		json_object_put(o);
		if (r < 0)
			return -1;
	}
	o = json_object_new_object();                /* tokenid/: where the record is */
	json_object_object_add(o, "user", json_object_new_string(tok->user));
	json_object_object_add(o, "hash", json_object_new_string(tok->hash));
	r = kvtxn_put(t, a, tt->ikey, o, err);
	json_object_put(o);
	return r;
}

int storage_kv_token_add(struct storage *s, const struct storage_token *tok,
			 struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	struct arena *a = ks->tmp;
	char now[32];

	arena_reset(a);
	if (storage_check_level(err, tok->scope) < 0)
		return -1;
	if (!key_part_ok(tok->id) || !names_valid_digest(tok->hash))
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "invalid token id or hash");
	if (!key_part_ok(tok->user))
		return storage_err_user_absent(err, tok->user);
	if (tok->created_at[0])
		snprintf(now, sizeof now, "%s", tok->created_at);
	else
		util_utc_now(now);
	struct token_add_txn tt = {
		.ks = ks, .tok = tok, .now = now, .ukey = user_key(a, tok->user),
		.tkey = arena_printf(a, "token/%s", tok->hash),
		.ikey = arena_printf(a, "tokenid/%s", tok->id),
		.okey = usertok_key(a, tok->user, tok->id),
	};
	return kvtxn_run(ks->kv, a, token_add_build, &tt, err) == KVTXN_APPLIED ? 0 : -1;
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
		return storage_err_token_absent(err, NULL);
	r = kvtxn_load(ks->kv, arena_printf(ks->tmp, "token/%s", hash), ks->tmp, &o, &rev, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_token_absent(err, NULL);
	r = token_record(ks, ks->tmp, jstr(o, "user"), jstr(o, "id"), hash, &rec, &rev, err);
	json_object_put(o);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_token_absent(err, NULL);   /* its user was deleted */
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
	if (user_records(ks, "usertok", user, &kp, &n_kp, err) < 0)
		return -1;
	struct storage_token *v = arena_alloc(a, (n_kp + 1) * sizeof *v);
	for (size_t i = 0; i < n_kp; i++) {
		json_object *o = kvtxn_parse(kp[i].value, kp[i].len);
		if (!o || !jstr(o, "id") || !jstr(o, "user")) {
			json_object_put(o);
			return kvtxn_corrupt("token", kp[i].key, err);
		}
		fill_token(a, o, &v[k++]);
		json_object_put(o);
	}
	qsort(v, k, sizeof *v, token_cmp);
	*out = v;
	*n = k;
	return 0;
}

/* A token_revoke being committed. */
struct token_revoke_txn {
	struct kvs *ks;
	const char *id, *ikey;
};

/* Build token_revoke's transaction (kvtxn_build_fn): the token's three keys, if it
 * still is the live token of its user. */
static int token_revoke_build(struct kvtxn *t, struct arena *a, void *ctx,
			      struct appr_error *err)
{
	const struct token_revoke_txn *rt = ctx;
	json_object *o, *rec;
	long long rev, orev;
	int r = kvtxn_load(rt->ks->kv, rt->ikey, a, &o, &rev, err);

	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_token_absent(err, rt->id);
	const char *user = arena_strdup(a, jstr(o, "user"));
	const char *hash = arena_strdup(a, jstr(o, "hash"));
	json_object_put(o);
	r = token_record(rt->ks, a, user, rt->id, hash, &rec, &orev, err);
	json_object_put(rec);
	if (r < 0)
		return -1;
	if (r == 0)
		return storage_err_token_absent(err, rt->id);   /* its user was deleted */
	const char *okey = usertok_key(a, user, rt->id);
	kvtxn_init(t, okey, true);
	kvtxn_cond(t, okey, orev);
	kvtxn_cond(t, rt->ikey, rev);
	kvtxn_op(t, KV_DELETE, okey, NULL, 0);
	kvtxn_op(t, KV_DELETE, rt->ikey, NULL, 0);
	kvtxn_op(t, KV_DELETE, arena_printf(a, "token/%s", hash), NULL, 0);
	return 0;
}

int storage_kv_token_revoke(struct storage *s, const char *id, struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;

	arena_reset(ks->tmp);
	if (!key_part_ok(id))
		return storage_err_token_absent(err, id);
	struct token_revoke_txn rt = { ks, id, arena_printf(ks->tmp, "tokenid/%s", id) };
	return kvtxn_run(ks->kv, ks->tmp, token_revoke_build, &rt, err) == KVTXN_APPLIED
		? 0 : -1;
}
