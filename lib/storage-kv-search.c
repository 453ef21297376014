/* storage-kv-search.c - the kv store's search index: substring queries of 3 bytes or
 * more (search, list query=) read a few key ranges instead of every package key.
 *
 * Keys (beside storage-kv.c's layout):
 *   tri/<t>/<ns>/<name>   "1": t (3 bytes) is a trigram of lower("<ns>/<name>"); one
 *                         key per distinct trigram of each package
 *   tix/<ns>/<name>       "1": package ns/name exists but its tri/ keys may not all be
 *                         written yet (put by the transaction that creates the package,
 *                         deleted once they are; the delete of the package deletes it)
 *   searchidx             "1" once every package stored before the index existed was
 *                         indexed (a store written by an older version gets its index
 *                         built by the first responder that opens it)
 *
 * A trigram t of the query: every package whose name holds the query is under tri/<t>/
 * or tix/. A search reads tri/<t>/ for up to four trigrams of the query, each cut at
 * 256 keys or at the size of the smallest whole set so far, keeps the smallest (or
 * reads one whole when all are larger), adds tix/, and checks each candidate with
 * the exact rule (contains_ci). The query's trigrams are lower-cased as the index's
 * are, so the match stays case-insensitive.
 *
 * The tri/ keys are written after the transaction that creates the package (up to 127
 * of them would not fit the KV_MAX_OPS of one transaction), and deleted after the one
 * that deletes it, each conditioned on the package record being absent, so that a
 * package created again meanwhile keeps its keys. A crash in between leaves a tix/ key
 * (the package is still found, through tix/; gc finishes its index) or stale tri/
 * keys (candidates whose package does not exist: every listing reads the records of
 * its page, search checks that each package it answers exists). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "storage-kv.h"
#include "storage-kv-txn.h"
#include "storage-kv-internal.h"
#include "util.h"

#define TRI_MAX (2 * NAMES_PART_MAX)     /* trigrams of "ns/name", at most */
#define PROBES 4                         /* trigrams of a query whose ranges are read */
#define PROBE_CAP 256                    /* keys read of each before one is known whole */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The distinct trigrams of lower(s) into tri (each 3 bytes + NUL); their count. */
static size_t trigrams(const char *s, char tri[][4], size_t cap)
{
	size_t n = 0, len = strlen(s);

	for (size_t i = 0; i + 3 <= len; i++) {
		char t[4] = { lower(s[i]), lower(s[i + 1]), lower(s[i + 2]), '\0' };
		size_t j = 0;
		while (j < n && strcmp(tri[j], t) != 0)
			j++;
		if (j < n)
			continue;
		if (n == cap)
			break;
		memcpy(tri[n++], t, 4);
	}
	return n;
}

const char *kvs_tix_key(struct arena *a, const char *ns, const char *name)
{
	return arena_printf(a, "tix/%s/%s", ns, name);
}

/* Ops putting (or deleting) the tri/ keys of ns/name into ops from *n on, at most
 * cap in all; the trigrams from *next on, *next advanced. */
static void tri_ops(struct arena *a, const char *ns, const char *name, enum kv_op_type type,
		    char tri[][4], size_t n_tri, size_t *next, struct kv_op *ops, size_t *n,
		    size_t cap)
{
	for (; *next < n_tri && *n < cap; (*next)++) {
		ops[*n] = (struct kv_op){
			.type = type,
			.key = arena_printf(a, "tri/%s/%s/%s", tri[*next], ns, name),
			.value = type == KV_PUT ? "1" : NULL,
			.len = type == KV_PUT ? 1 : 0,
		};
		(*n)++;
	}
}

/* Packages being indexed together: their tri/ keys go in as few transactions as
 * fit them, then their tix/ keys are deleted in one (only once every tri/ key of
 * each is written). Building the index of a whole store costs about one
 * transaction per KV_MAX_OPS keys instead of two per package. */
struct tri_batch {
	struct kv_op put[KV_MAX_OPS];
	size_t n_put;
	const char *tix[KV_MAX_OPS];
	size_t n_tix;
};

/* Commit the batch's tri/ keys, then delete its tix/ keys. 0 or -1. */
static int batch_flush(struct kvs *ks, struct tri_batch *b, struct appr_error *err)
{
	if (b->n_put && kv_txn(ks->kv, NULL, 0, b->put, b->n_put, err) != KV_COMMITTED)
		return -1;
	b->n_put = 0;
	if (b->n_tix) {
		struct kv_op del[KV_MAX_OPS];
		for (size_t i = 0; i < b->n_tix; i++)
			del[i] = (struct kv_op){ .type = KV_DELETE, .key = b->tix[i] };
		if (kv_txn(ks->kv, NULL, 0, del, b->n_tix, err) != KV_COMMITTED)
			return -1;
	}
	b->n_tix = 0;
	return 0;
}

/* Add the tri/ keys of ns/name to the batch, flushing it when full; its tix/ key
 * is deleted by the flush that follows the last of them. 0 or -1. */
static int batch_add(struct kvs *ks, struct tri_batch *b, struct arena *a, const char *ns,
		     const char *name, struct appr_error *err)
{
	char tri[TRI_MAX][4];
	const char *full = arena_printf(a, "%s/%s", ns, name);
	size_t n_tri = trigrams(full, tri, TRI_MAX), next = 0;

	for (;;) {
		tri_ops(a, ns, name, KV_PUT, tri, n_tri, &next, b->put, &b->n_put, KV_MAX_OPS);
		if (next == n_tri && b->n_tix < KV_MAX_OPS)
			break;
		if (batch_flush(ks, b, err) < 0)
			return -1;
	}
	b->tix[b->n_tix++] = kvs_tix_key(a, ns, name);
	return 0;
}

/* Write the tri/ keys of ns/name, then delete its tix/ key. 0 or -1. */
static int index_one(struct kvs *ks, struct arena *a, const char *ns, const char *name,
		     struct appr_error *err)
{
	struct tri_batch b = { .n_put = 0 };

	return batch_add(ks, &b, a, ns, name, err) < 0 ? -1 : batch_flush(ks, &b, err);
}

void kvs_search_index(struct kvs *ks, const char *ns, const char *name)
{
	struct appr_error e;
	struct arena *a = arena_new();

	if (index_one(ks, a, ns, name, &e) < 0)
		fprintf(stderr, "appr: storage: search index of %s/%s left to gc: %s\n", ns, name,
			e.msg);
	arena_free(a);
}

void kvs_search_unindex(struct kvs *ks, const char *ns, const char *name)
{
	char tri[TRI_MAX][4];
	struct appr_error e;
	struct arena *a = arena_new();
	const char *full = arena_printf(a, "%s/%s", ns, name);
	size_t n_tri = trigrams(full, tri, TRI_MAX), next = 0;
	struct kv_cond cond = { .key = kvs_pkg_key(a, ns, name), .rev = 0 };
	struct kv_op ops[KV_MAX_OPS];

	while (next < n_tri) {
		size_t n = 0;
		tri_ops(a, ns, name, KV_DELETE, tri, n_tri, &next, ops, &n, KV_MAX_OPS);
		int r = kv_txn(ks->kv, &cond, 1, ops, n, &e);
		if (r == KV_CONFLICT)
			break;                /* created again: the keys are its own */
		if (r != KV_COMMITTED) {
			fprintf(stderr, "appr: storage: search index of deleted %s/%s: stale keys"
				" left: %s\n", ns, name, r < 0 || r == KV_UNKNOWN ? e.msg : "?");
			break;
		}
	}
	arena_free(a);
}

/* Is there a package ns/name (full = "ns/name")? 1, 0 or -1. */
static int exists(struct kvs *ks, struct arena *a, const char *full, struct appr_error *err)
{
	const char *key = arena_printf(a, "pkg/%s", full);
	struct kv_pair *keys = NULL;
	size_t n = 0;

	if (kv_range(ks->kv, key, NULL, 1, true, a, &keys, &n, NULL, err) < 0)
		return -1;
	return n == 1 && strcmp(keys[0].key, key) == 0;
}

/* Index every package of the store whose keys may be missing: those under tix/
 * (fix_tix), or all of them (the first open of a store written before the index).
 * 0 or -1. */
static int index_all(struct kvs *ks, bool fix_tix, size_t *done, struct appr_error *err)
{
	struct arena *a = arena_new();
	struct kv_pair *keys = NULL;
	size_t n_keys = 0;
	const char *prefix = fix_tix ? "tix/" : "pkg/";
	struct tri_batch *b = xcalloc(1, sizeof *b);
	int rc = -1;

	*done = 0;
	if (kv_range(ks->kv, prefix, NULL, 0, true, a, &keys, &n_keys, NULL, err) < 0)
		goto out;
	if (n_keys > 100 && !fix_tix)
		fprintf(stderr, "appr: storage: building the search index of %zu packages\n",
			n_keys);
	for (size_t i = 0; i < n_keys; i++) {
		const char *full = keys[i].key + 4, *slash = strchr(full, '/');
		if (!slash)
			continue;
		const char *ns = arena_strndup(a, full, (size_t)(slash - full));
		if (fix_tix) {
			/* a package that no longer exists: its marker only goes */
			int r = exists(ks, a, full, err);
			if (r < 0)
				goto out;
			if (r == 0) {
				struct kv_op op = { .type = KV_DELETE, .key = keys[i].key };
				if (kv_txn(ks->kv, NULL, 0, &op, 1, err) != KV_COMMITTED)
					goto out;
				continue;
			}
		}
		if (batch_add(ks, b, a, ns, slash + 1, err) < 0)
			goto out;
		(*done)++;
	}
	rc = batch_flush(ks, b, err);
out:
	free(b);
	arena_free(a);
	return rc;
}

int kvs_search_open(struct kvs *ks, struct appr_error *err)
{
	struct kv_pair mark;
	size_t done;
	int r = kv_get(ks->kv, "searchidx", ks->tmp, &mark, err);

	if (r < 0)
		return -1;
	if (r == 1) {
		if (index_all(ks, false, &done, err) < 0)
			return -1;
		struct kv_op op = { .type = KV_PUT, .key = "searchidx", .value = "1", .len = 1 };
		if (kv_txn(ks->kv, NULL, 0, &op, 1, err) != KV_COMMITTED)
			return -1;
	}
	arena_reset(ks->tmp);
	ks->search_indexed = true;
	return 0;
}

int kvs_search_fix(struct kvs *ks, bool dry, size_t *n, struct appr_error *err)
{
	struct arena *a = arena_new();
	struct kv_pair *keys = NULL;
	int rc = 0;

	*n = 0;
	if (dry) {
		rc = kv_range(ks->kv, "tix/", NULL, 0, true, a, &keys, n, NULL, err);
		arena_free(a);
		return rc;
	}
	arena_free(a);
	return index_all(ks, true, n, err);
}

int kvs_search_verify(struct kvs *ks, struct arena *a, const char **full, size_t *n,
		      size_t limit, struct appr_error *err)
{
	size_t k = 0;

	for (size_t i = 0; i < *n && (!limit || k < limit); i++) {
		int r = exists(ks, a, full[i], err);
		if (r < 0)
			return -1;
		if (r)
			full[k++] = full[i];
	}
	*n = k;
	return 0;
}

/* The key prefix of trigram t's packages (of namespace ns when not NULL). */
static const char *tri_prefix(struct arena *a, const char *t, const char *ns)
{
	return ns ? arena_printf(a, "tri/%s/%s/", t, ns) : arena_printf(a, "tri/%s/", t);
}

int kvs_search_candidates(struct kvs *ks, const char *ns, const char *text, struct arena *a,
			  const char ***out, size_t *n, struct appr_error *err)
{
	char tri[TRI_MAX][4];
	size_t n_tri = trigrams(text, tri, TRI_MAX);
	struct kv_pair *best = NULL, *keys, *tix = NULL;
	size_t n_best = 0, n_keys, n_tix = 0, last = 0;
	bool have = false;

	/* up to PROBES trigrams spread over the query (the first, the last, between),
	 * each range cut at PROBE_CAP keys, or at the smallest whole set read so far */
	for (size_t p = 0; p < PROBES && p < n_tri; p++) {
		/* distinct: the step is at least 1 when n_tri > PROBES */
		size_t i = n_tri <= PROBES ? p : p * (n_tri - 1) / (PROBES - 1);
		bool more = false;
		if (kv_range(ks->kv, tri_prefix(a, tri[i], ns), NULL, have ? n_best : PROBE_CAP,
			     true, a, &keys, &n_keys, &more, err) < 0)
			return -1;
		last = i;
		if (!more && (!have || n_keys < n_best)) {
			best = keys;
			n_best = n_keys;
			have = true;
			if (n_best == 0)
				break;
		}
	}
	/* every probe over the cap: one of them read whole */
	if (!have && n_tri > 0 &&
	    kv_range(ks->kv, tri_prefix(a, tri[last], ns), NULL, 0, true, a, &best, &n_best,
		     NULL, err) < 0)
		return -1;
	const char *tprefix = ns ? arena_printf(a, "tix/%s/", ns) : "tix/";
	if (kv_range(ks->kv, tprefix, NULL, 0, true, a, &tix, &n_tix, NULL, err) < 0)
		return -1;
	const char **v = arena_alloc(a, (n_best + n_tix + 1) * sizeof *v);
	size_t k = 0;
	for (size_t i = 0; i < n_best; i++)
		v[k++] = best[i].key + 8;           /* "tri/ttt/" */
	for (size_t i = 0; i < n_tix; i++)
		v[k++] = tix[i].key + 4;            /* "tix/" */
	*out = v;
	*n = k;
	return 0;
}
