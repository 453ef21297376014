/* kv.h - an ordered key-value store with revisions and compare-and-swap transactions:
 * the part of etcd v3's model the registry needs. Two clients implement it, each
 * built only when configure finds its library: kv-etcd.c (etcd's HTTP/JSON gateway,
 * libcurl; HAVE_ETCD) and kv-redis.c (hiredis, Lua scripts; HAVE_REDIS), each with its
 * driver table (storage_etcd_ops, storage_redis_ops) at the bottom. storage-kv.c and
 * storage-kv-auth.c implement every storage operation (storage.h) on it once, on the
 * transaction core of storage-kv-txn.c, so the registry's rules (releases, channels,
 * blob reference counts) live in one place and each operation is one atomic
 * transaction whatever the server.
 *
 * The model:
 *  - keys are NUL-free byte strings given WITHOUT the configured key_prefix (the driver
 *    adds cfg->key_prefix in front of every key it sends and strips it from every key
 *    it returns), ordered bytewise; values are binary (len bytes);
 *  - every key has a revision: a number > 0 that changes on every write of the key
 *    (etcd's mod_revision; redis: a counter the driver keeps). An absent key has
 *    revision 0;
 *  - a transaction is a list of conditions "key has revision r" (r = 0: "key is
 *    absent") and a list of writes (put, delete, delete every key with a prefix),
 *    applied all together if every condition holds, not at all otherwise. Callers
 *    read, compute, and commit with conditions on what they read: optimistic
 *    concurrency, retried on conflict, never a lock.
 *
 * Conventions (as storage.h): 0 on success; -1 on failure with err filled:
 *  - the server cannot be reached / answers garbage / times out (cfg->kv_timeout_ms):
 *    503 APPR_E_UNAVAILABLE, message naming the server, one line on stderr;
 *  - anything else: 500 APPR_E_INTERNAL.
 * Results are allocated from the arena given and live until it is reset. A kv is used
 * by one thread; each responder process opens one at start and keeps its connection(s)
 * alive across requests, reconnecting by itself when a connection was lost. */
#ifndef APPR_KV_H
#define APPR_KV_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"
#include "error.h"
#include "config.h"

/* Base of a driver's connection state: drivers embed it as their first member. */
struct kv {
	const struct kv_ops *ops;
	const struct appr_config *cfg;   /* borrowed: outlives the kv */
};

struct kv_pair {
	const char *key;                 /* without the key prefix, NUL-terminated */
	const char *value;               /* len bytes followed by a NUL (not counted);
					  * NULL when read keys_only */
	size_t len;
	long long rev;                   /* the key's revision, > 0 */
};

struct kv_cond {
	const char *key;
	long long rev;                   /* required revision; 0 = the key must be absent */
};

enum kv_op_type {
	KV_PUT,                          /* key = value (len bytes) */
	KV_DELETE,                       /* delete key (absent: no-op) */
	KV_DELETE_PREFIX,                /* delete every key starting with key */
};

struct kv_op {
	enum kv_op_type type;
	const char *key;
	const void *value;               /* KV_PUT only */
	size_t len;
};

/* kv_txn results besides -1. */
#define KV_COMMITTED 0
#define KV_CONFLICT  1                   /* a condition did not hold: nothing was written */
#define KV_UNKNOWN   2                   /* the request went out but its answer was lost
					  * (timeout, connection reset): it may or may not
					  * have been applied. err is filled (503). Callers
					  * re-read to find out (write a unique token). */

struct kv_ops {
	const char *name;                /* "etcd", "redis" */

	/* Connect as cfg says (etcd_endpoints / redis_url, key_prefix, kv_timeout_ms).
	 * Fails (503) when no server answers, so a misconfiguration stops start-up. */
	int (*open)(const struct appr_config *cfg, struct kv **out, struct appr_error *err);
	void (*close)(struct kv *kv);    /* NULL is a no-op */

	/* Read one key. 0: found, out filled. 1: absent (out->rev = 0, value NULL). -1. */
	int (*get)(struct kv *kv, const char *key, struct arena *a, struct kv_pair *out,
		   struct appr_error *err);

	/* The keys starting with prefix that sort after `after` (NULL or "": from the
	 * first), in byte order, at most limit of them (0 = all), from one consistent
	 * snapshot. keys_only: values are not fetched (value NULL, len 0). *more is set
	 * when limit cut the answer short (may be NULL). */
	int (*range)(struct kv *kv, const char *prefix, const char *after, size_t limit,
		     bool keys_only, struct arena *a, struct kv_pair **out, size_t *n,
		     bool *more, struct appr_error *err);

	/* Apply ops atomically if every cond holds: KV_COMMITTED, KV_CONFLICT,
	 * KV_UNKNOWN or -1 (not applied). A key may appear in several ops; they apply in
	 * order. A transaction's total size stays under the server's request limit when
	 * every value is at most KV_MAX_VALUE and a transaction holds at most
	 * KV_MAX_OPS ops (storage-kv*.c keep to both). */
	int (*txn)(struct kv *kv, const struct kv_cond *conds, size_t n_conds,
		   const struct kv_op *ops, size_t n_ops, struct appr_error *err);
};

/* Largest value storage-kv*.c write (blob chunks are this size), and most ops in one
 * transaction: etcd's default request limit is 1.5 MiB (after base64 decoding by the
 * gateway) and 128 ops per transaction. */
#define KV_MAX_VALUE (1024 * 1024)
#define KV_MAX_OPS   64

#ifdef HAVE_ETCD
extern const struct kv_ops kv_etcd_ops;
#endif
#ifdef HAVE_REDIS
extern const struct kv_ops kv_redis_ops;
#endif

static inline int kv_get(struct kv *kv, const char *key, struct arena *a, struct kv_pair *out,
			 struct appr_error *err)
{ return kv->ops->get(kv, key, a, out, err); }
static inline int kv_range(struct kv *kv, const char *prefix, const char *after, size_t limit,
			   bool keys_only, struct arena *a, struct kv_pair **out, size_t *n,
			   bool *more, struct appr_error *err)
{ return kv->ops->range(kv, prefix, after, limit, keys_only, a, out, n, more, err); }
static inline int kv_txn(struct kv *kv, const struct kv_cond *conds, size_t n_conds,
			 const struct kv_op *ops, size_t n_ops, struct appr_error *err)
{ return kv->ops->txn(kv, conds, n_conds, ops, n_ops, err); }
static inline void kv_close(struct kv *kv)
{ if (kv) kv->ops->close(kv); }

#endif
