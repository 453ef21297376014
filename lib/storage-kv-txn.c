/* storage-kv-txn.c - the kv drivers' transaction core: one builder, the retry rule, the lost-answer settling rule (storage-kv-txn.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "storage.h"
#include "storage-kv-txn.h"

#define KV_MAX_TRIES 100             /* transaction attempts before 409 resource-in-use */
#define TOKEN_BYTES (KVTXN_TOKEN_HEX / 2)

/* ---- randomness: tokens and backoff ---- */

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

void kvtxn_token(char out[KVTXN_TOKEN_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[TOKEN_BYTES];

	rand_bytes(b, sizeof b);
	for (size_t i = 0; i < TOKEN_BYTES; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[KVTXN_TOKEN_HEX] = '\0';
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

/* Before attempt number `attempt` (from 0): 0 to go on (after a random pause, except
 * the first time), or -1 with 409 resource-in-use once KV_MAX_TRIES were made. */
static int retry_wait(int attempt, struct appr_error *err)
{
	if (attempt == KV_MAX_TRIES)
		return storage_err_busy(err);
	if (attempt)
		backoff(attempt);
	return 0;
}

/* ---- records ---- */

int kvtxn_corrupt(const char *what, const char *key, struct appr_error *err)
{
	fprintf(stderr, "appr: storage: %s: bad record %.200s\n", what, key);
	return storage_err_internal(err);
}

int kvtxn_each(struct kv *kv, const char *prefix, bool keys_only, kvtxn_each_fn fn, void *ctx,
	       struct appr_error *err)
{
	struct arena *a = arena_new();
	char *after = NULL;
	int rc = -1;
	for (;;) {
		struct kv_pair *p;
		size_t n;
		bool more = false;
		arena_reset(a);
		if (kv_range(kv, prefix, after, KVTXN_PAGE, keys_only, a, &p, &n, &more, err) < 0)
			goto out;
		for (size_t i = 0; i < n; i++)
			if (fn(ctx, &p[i], err) < 0)
				goto out;
		if (!more || n == 0)
			break;
		free(after);
		after = xstrdup(p[n - 1].key);
	}
	rc = 0;
out:
	free(after);
	arena_free(a);
	return rc;
}

bool kvtxn_id_after(const char *key, const char *prefix, char id[KVTXN_TOKEN_HEX + 1])
{
	size_t pl = strlen(prefix);
	if (strncmp(key, prefix, pl) != 0)
		return false;
	const char *s = key + pl, *e = strchr(s, '/');
	size_t n = e ? (size_t)(e - s) : strlen(s);
	if (n != KVTXN_TOKEN_HEX)
		return false;
	memcpy(id, s, n);
	id[n] = '\0';
	return true;
}

json_object *kvtxn_parse(const char *s, size_t len)
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

const char *kvtxn_text(struct arena *a, json_object *o, size_t *len)
{
	size_t n;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
	*len = n;
	return arena_strndup(a, s, n);
}

int kvtxn_load(struct kv *kv, const char *key, struct arena *a, json_object **out,
	       long long *rev, struct appr_error *err)
{
	struct kv_pair kp;
	int r = kv_get(kv, key, a, &kp, err);

	*out = NULL;
	*rev = 0;
	if (r < 0)
		return -1;
	if (r == 1)
		return 0;
	*out = kvtxn_parse(kp.value, kp.len);
	if (!*out)
		return kvtxn_corrupt("parse", key, err);
	*rev = kp.rev;
	return 1;
}

/* ---- the builder ---- */

void kvtxn_init(struct kvtxn *t, const char *check, bool check_absent)
{
	memset(t, 0, sizeof *t);
	kvtxn_token(t->token);
	t->check = check;
	t->check_absent = check_absent;
}

void kvtxn_settle_upload(struct kvtxn *t, const char *release, const char *media_type,
			 const char *upload)
{
	t->release = release;
	t->media_type = media_type;
	t->upload = upload;
}

void kvtxn_cond(struct kvtxn *t, const char *key, long long rev)
{
	if (t->n_conds < KVTXN_MAX_CONDS)
		t->conds[t->n_conds++] = (struct kv_cond){ .key = key, .rev = rev };
	else
		t->overflow = true;
}

void kvtxn_op(struct kvtxn *t, enum kv_op_type type, const char *key, const void *value,
	      size_t len)
{
	if (t->n_ops < KV_MAX_OPS)
		t->ops[t->n_ops++] = (struct kv_op){ .type = type, .key = key, .value = value,
						     .len = len };
	else
		t->overflow = true;
}

int kvtxn_put(struct kvtxn *t, struct arena *a, const char *key, json_object *o,
	      struct appr_error *err)
{
	size_t len;
	const char *text;

	json_object_object_add(o, "txn", json_object_new_string(t->token));
	text = kvtxn_text(a, o, &len);
	if (len > KV_MAX_VALUE)
		return appr_err(err, 413, APPR_E_PAYLOAD_TOO_LARGE,
				"record %.64s would exceed %d bytes", key, KV_MAX_VALUE);
	kvtxn_op(t, KV_PUT, key, text, len);
	return 0;
}

/* ---- commit and settle ---- */

/* After KV_UNKNOWN: was t applied? 1 yes, 0 no, -1 the re-read failed (err filled). */
static int applied(struct kv *kv, const struct kvtxn *t, struct arena *a,
		   struct appr_error *err)
{
	json_object *rec;
	long long rev;
	int r = kvtxn_load(kv, t->check, a, &rec, &rev, err), yes;

	if (r < 0)
		return -1;
	if (r == 0)
		return t->check_absent;
	const char *tok = jstr(rec, "txn");
	yes = tok && strcmp(tok, t->token) == 0;
	if (t->upload) {
		const char *up = jstr(jget(jget(jget(rec, "releases"), t->release),
					   t->media_type), "token");
		if (up && strcmp(up, t->upload) == 0)
			yes = 1;
	}
	json_object_put(rec);
	return yes;
}

/* Commit t once, settling a lost answer: an enum kvtxn_result. */
static int commit(struct kv *kv, struct kvtxn *t, struct arena *a, struct appr_error *err)
{
	if (t->overflow) {
		fprintf(stderr, "appr: storage: transaction too large\n");
		storage_err_internal(err);
		return KVTXN_FAILED;
	}
	int r = kv_txn(kv, t->conds, t->n_conds, t->ops, t->n_ops, err);
	if (r == KV_COMMITTED)
		return KVTXN_APPLIED;
	if (r == KV_CONFLICT)
		return KVTXN_RETRY;
	if (r != KV_UNKNOWN)
		return KVTXN_FAILED;
	r = applied(kv, t, a, err);
	if (r < 0)
		return KVTXN_UNKNOWN;
	if (r)
		appr_err_clear(err);
	return r ? KVTXN_APPLIED : KVTXN_RETRY;
}

int kvtxn_run(struct kv *kv, struct arena *a, kvtxn_build_fn build, void *ctx,
	      struct appr_error *err)
{
	for (int attempt = 0;; attempt++) {
		struct kvtxn t;
		int r;

		if (retry_wait(attempt, err) < 0 || build(&t, a, ctx, err) < 0)
			return KVTXN_FAILED;
		r = commit(kv, &t, a, err);
		if (r != KVTXN_RETRY)
			return r;
	}
}
