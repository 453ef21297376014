/* storage-kv-txn.h - the transaction core of the kv drivers (storage-kv.c, storage-kv-auth.c):
 * one builder for a conditioned kv transaction, the retry rule for a conflict and the
 * settling rule for a lost answer, and the JSON records they read and write.
 *
 * Every change the kv drivers make is one kv transaction (kv.h) conditioned on the
 * revisions of the records it read. The operation is a build function, which reads
 * and fills the transaction, and kvtxn_run commits it, building it again from fresh
 * reads while a condition fails:
 *
 *   static int build(struct kvtxn *t, struct arena *a, void *ctx, struct appr_error *err)
 *   {
 *           ...read records (kvtxn_load), compute; -1 to refuse (err filled)...
 *           kvtxn_init(t, key, false);               // how to settle a lost answer
 *           kvtxn_cond(t, key, rev);                 // what was read
 *           return kvtxn_put(t, a, key, rec, err);   // what changes
 *   }
 *   return kvtxn_run(kv, a, build, &ctx, err) == KVTXN_APPLIED ? 0 : -1;
 *
 * Retrying: a conflict is retried after a random pause that grows with the attempts,
 * up to KV_MAX_TRIES (100) attempts, then 409 resource-in-use.
 *
 * Settling: a transaction whose answer was lost (KV_UNKNOWN) is judged by re-reading
 * one key, its check key: applied when the key is absent (check_absent, for a delete)
 * or when it holds the transaction's token as "txn" (every record a transaction puts
 * carries its random token), or, for a push, when the package record names the upload
 * of the pushed manifest (kvtxn_settle_upload).
 *
 * Also the two walks over key ranges every kv module needs: kvtxn_each (a range in
 * pages) and kvtxn_id_after (the id a key holds after a prefix). */
#ifndef APPR_STORAGE_KV_TXN_H
#define APPR_STORAGE_KV_TXN_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "kv.h"

#define KVTXN_TOKEN_HEX 32           /* hex digits of a txn token / upload id */
#define KVTXN_MAX_CONDS 4            /* conditions of one transaction */

/* One transaction being built. Keys and values are borrowed (arena strings). */
struct kvtxn {
	struct kv_cond conds[KVTXN_MAX_CONDS];
	size_t n_conds;
	struct kv_op ops[KV_MAX_OPS];
	size_t n_ops;
	bool overflow;                   /* more than room: a bug, refused at commit */
	char token[KVTXN_TOKEN_HEX + 1]; /* written as "txn" into every record it puts */
	const char *check;               /* the key that settles a lost answer */
	bool check_absent;               /*   applied when it is absent, else by token */
	const char *release, *media_type, *upload;   /* kvtxn_settle_upload */
};

/* kvtxn_run's answers (KVTXN_RETRY: one attempt's, inside it). */
enum kvtxn_result {
	KVTXN_FAILED = -1,               /* not applied; err filled */
	KVTXN_APPLIED = 0,
	KVTXN_RETRY = 1,                 /* a condition did not hold: read again */
	KVTXN_UNKNOWN = 2,               /* the answer was lost and the re-read failed
					  * too: maybe applied; err filled */
};

/* Start t, with a fresh token: a lost answer is settled by reading check (see the top). */
void kvtxn_init(struct kvtxn *t, const char *check, bool check_absent);
/* Also settled as applied when the package record at check holds, for release and
 * media_type, the manifest of upload (a push). */
void kvtxn_settle_upload(struct kvtxn *t, const char *release, const char *media_type,
			 const char *upload);
/* Require key to have revision rev (0: to be absent). */
void kvtxn_cond(struct kvtxn *t, const char *key, long long rev);
/* Add a write: KV_PUT of value (len bytes), KV_DELETE, KV_DELETE_PREFIX. */
void kvtxn_op(struct kvtxn *t, enum kv_op_type type, const char *key, const void *value,
	      size_t len);
/* Put the record o at key, with t's token as its "txn" member (o keeps it; the caller
 * still owns o). 413 payload-too-large when the record would exceed KV_MAX_VALUE. */
int kvtxn_put(struct kvtxn *t, struct arena *a, const char *key, json_object *o,
	      struct appr_error *err);
/* Build one attempt of a transaction into t (which it starts with kvtxn_init) from
 * fresh reads, scratch in a: 0 to commit it, -1 to give up (err filled). */
typedef int (*kvtxn_build_fn)(struct kvtxn *t, struct arena *a, void *ctx,
			      struct appr_error *err);

/* Build and commit until the transaction applies, is refused, or KV_MAX_TRIES
 * attempts conflicted (409 resource-in-use): an enum kvtxn_result, never KVTXN_RETRY. */
int kvtxn_run(struct kv *kv, struct arena *a, kvtxn_build_fn build, void *ctx,
	      struct appr_error *err);

/* A fresh random token (upload ids too): KVTXN_TOKEN_HEX lowercase hex digits. */
void kvtxn_token(char out[KVTXN_TOKEN_HEX + 1]);

/* Call fn on every key under prefix (with its value unless keys_only) in key order,
 * KVTXN_PAGE keys per range read, so that a range of any size is walked in bounded
 * memory; fn returns 0 to go on, -1 to stop (err filled). 0 or -1. */
#define KVTXN_PAGE 500
typedef int (*kvtxn_each_fn)(void *ctx, const struct kv_pair *kp, struct appr_error *err);
int kvtxn_each(struct kv *kv, const char *prefix, bool keys_only, kvtxn_each_fn fn, void *ctx,
	       struct appr_error *err);
/* When key is prefix + "<id>" + ("/..." or the end) with an id of KVTXN_TOKEN_HEX
 * characters: true, the id copied into id. */
bool kvtxn_id_after(const char *key, const char *prefix, char id[KVTXN_TOKEN_HEX + 1]);

/* Read key as a JSON object record: 1 found (*out for the caller to put, *rev its
 * revision), 0 absent (*out NULL, *rev 0), -1 error (a record that does not parse:
 * logged, 500). */
int kvtxn_load(struct kv *kv, const char *key, struct arena *a, json_object **out,
	       long long *rev, struct appr_error *err);
/* Parse len bytes as a JSON object: the object (the caller puts it) or NULL. */
json_object *kvtxn_parse(const char *s, size_t len);
/* o as JSON text in arena a; *len its length. */
const char *kvtxn_text(struct arena *a, json_object *o, size_t *len);
/* A record that is not what it should be: one line on stderr, 500. */
int kvtxn_corrupt(const char *what, const char *key, struct appr_error *err);

/* Member k of object o (NULL when o is not an object or has no k). */
static inline json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

/* String member k of o, or NULL. */
static inline const char *jstr(json_object *o, const char *k)
{
	json_object *v = jget(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* Integer member k of o, or 0. */
static inline long long jint(json_object *o, const char *k)
{
	json_object *v = jget(o, k);
	return v ? (long long)json_object_get_int64(v) : 0;
}

#endif
