/* kv-redis.c - the redis client of kv.h (hiredis, Lua scripts), and at the bottom the
 * redis storage driver's table, storage_redis_ops.
 *
 * Layout in redis, P = cfg->key_prefix (default "/appr/"), for a kv key K:
 *   P "k:" K   a hash {v: the value (binary), r: the key's revision}
 *   P "idx"    a sorted set, every member scored 0: the kv keys (K, without P), so
 *              ZRANGEBYLEX gives a prefix range in byte order
 *   P "rev"    a counter: INCR gives each committed transaction its revision, which
 *              becomes the revision of every key it writes (as etcd's mod_revision)
 * get is one HMGET; range and txn are Lua scripts (EVALSHA, loaded with SCRIPT LOAD on
 * each connect; EVAL when the server answers NOSCRIPT), so a range reads one consistent
 * state and a transaction checks its conditions and applies its writes atomically.
 * Two prefixes share nothing as long as neither is the other followed by "k:".
 *
 * One connection per kv (one per process). Before each command the connection is
 * checked (a readable idle socket means the server closed it, e.g. a restart) and
 * reopened; a read that fails on an I/O error is retried once on a new connection;
 * a transaction whose answer was lost is KV_UNKNOWN. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "redis-url.h"
#include "storage-kv.h"

/* ARGV: P, min, max, limit (0 = all), keys_only ("1"/"0").
 * Returns {more (0/1), key, rev[, value], key, rev[, value], ...}. */
static const char range_lua[] =
	"local p = ARGV[1]\n"
	"local lim = tonumber(ARGV[4])\n"
	"local ks\n"
	"if lim > 0 then\n"
	"  ks = redis.call('ZRANGEBYLEX', p .. 'idx', ARGV[2], ARGV[3], 'LIMIT', 0, lim + 1)\n"
	"else\n"
	"  ks = redis.call('ZRANGEBYLEX', p .. 'idx', ARGV[2], ARGV[3])\n"
	"end\n"
	"local n = #ks\n"
	"local out = {0}\n"
	"if lim > 0 and n > lim then out[1] = 1; n = lim end\n"
	"for i = 1, n do\n"
	"  local k = ks[i]\n"
	"  if ARGV[5] == '1' then\n"
	"    local r = redis.call('HGET', p .. 'k:' .. k, 'r')\n"
	"    if r then out[#out + 1] = k; out[#out + 1] = r end\n"
	"  else\n"
	"    local h = redis.call('HMGET', p .. 'k:' .. k, 'r', 'v')\n"
	"    if h[1] then\n"
	"      out[#out + 1] = k; out[#out + 1] = h[1]; out[#out + 1] = h[2] or ''\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return out\n";

/* ARGV: P, number of conditions, (key, rev) per condition, then (type, key, arg) per
 * op: type "p" put (arg = value), "d" delete, "x" delete prefix (arg = the ZRANGEBYLEX
 * upper bound of the prefix). Returns {0, revision} when applied, {1, 0} on conflict. */
static const char txn_lua[] =
	"local p = ARGV[1]\n"
	"local i = 3\n"
	"for c = 1, tonumber(ARGV[2]) do\n"
	"  local r = redis.call('HGET', p .. 'k:' .. ARGV[i], 'r')\n"
	"  if tonumber(r or '0') ~= tonumber(ARGV[i + 1]) then return {1, 0} end\n"
	"  i = i + 2\n"
	"end\n"
	"if i > #ARGV then return {0, 0} end\n"
	"local rev = redis.call('INCR', p .. 'rev')\n"
	"local idx = p .. 'idx'\n"
	"while i <= #ARGV do\n"
	"  local t, k, a = ARGV[i], ARGV[i + 1], ARGV[i + 2]\n"
	"  if t == 'p' then\n"
	"    redis.call('HSET', p .. 'k:' .. k, 'v', a, 'r', rev)\n"
	"    redis.call('ZADD', idx, 0, k)\n"
	"  elseif t == 'd' then\n"
	"    redis.call('DEL', p .. 'k:' .. k)\n"
	"    redis.call('ZREM', idx, k)\n"
	"  else\n"
	"    local ks = redis.call('ZRANGEBYLEX', idx, '[' .. k, a)\n"
	"    for j = 1, #ks do redis.call('DEL', p .. 'k:' .. ks[j]) end\n"
	"    redis.call('ZREMRANGEBYLEX', idx, '[' .. k, a)\n"
	"  end\n"
	"  i = i + 3\n"
	"end\n"
	"return {0, rev}\n";

struct redis_kv {
	struct kv base;
	redisContext *c;        /* NULL when not connected */
	char *host;
	int port;
	char *user;             /* NULL: no AUTH user (AUTH password only) */
	char *password;         /* NULL: no AUTH */
	long db;
	const char *prefix;     /* cfg->key_prefix */
	size_t prefix_len;
	struct timeval tv;
	char where[300];        /* "redis at host:port", for messages */
	char sha_range[41];
	char sha_txn[41];
};

/* 503 naming the server, one line on stderr. */
static int unavailable(struct redis_kv *r, struct appr_error *err, const char *what)
{
	fprintf(stderr, "appr: %s: %s\n", r->where, what);
	return appr_err(err, 503, APPR_E_UNAVAILABLE, "%s: %s", r->where, what);
}

/* An error reply of the server for command what: 503 when the server says it cannot
 * serve for now (LOADING after a restart, BUSY script, MASTERDOWN, TRYAGAIN), 500 with
 * its text otherwise; one line on stderr. */
static int reply_error(struct redis_kv *r, struct appr_error *err, const char *what,
		       const redisReply *rep)
{
	static const char *const transient[] = { "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN" };
	int http = 500;
	const char *code = APPR_E_INTERNAL;
	for (size_t i = 0; i < sizeof transient / sizeof *transient; i++) {
		size_t l = strlen(transient[i]);
		if (strncmp(rep->str, transient[i], l) == 0 && (rep->str[l] == ' ' || !rep->str[l])) {
			http = 503;
			code = APPR_E_UNAVAILABLE;
		}
	}
	fprintf(stderr, "appr: %s: %s: %s\n", r->where, what, rep->str);
	return appr_err(err, http, code, "%s: %s: %.100s", r->where, what, rep->str);
}

static void disconnect(struct redis_kv *r)
{
	if (r->c) {
		redisFree(r->c);
		r->c = NULL;
	}
}

/* Parse redis://[[user]:password@]host[:port][/db] into r (redis-url.c). */
static int parse_url(struct redis_kv *r, const char *url, struct appr_error *err)
{
	struct redis_url u;

	if (redis_url_parse(url, &u) == 0) {
		r->host = u.host;
		r->port = u.port;
		r->user = u.user;
		r->password = u.password;
		r->db = u.db;
		return 0;
	}
	/* (the URL is not shown when it holds a password) */
	return appr_err(err, 500, APPR_E_INTERNAL,
			"redis_url \"%.80s\": not redis://[:password@]host:port/db",
			strchr(url, '@') ? "..." : url);
}

/* Run one command; the reply, or NULL with the connection dropped and what[] filled. */
static redisReply *command(struct redis_kv *r, int argc, const char **argv,
			   const size_t *argvlen, char *what, size_t what_cap)
{
	redisReply *rep = redisCommandArgv(r->c, argc, argv, argvlen);
	if (!rep || r->c->err) {
		snprintf(what, what_cap, "%s",
			 r->c->err ? (r->c->err == REDIS_ERR_IO && (errno == EAGAIN ||
				     errno == EWOULDBLOCK) ? "timed out" : r->c->errstr)
				   : "no answer");
		if (rep)
			freeReplyObject(rep);
		disconnect(r);
		return NULL;
	}
	return rep;
}

/* A command for which an error reply is a failure: 0, or -1 with err filled. */
static int simple(struct redis_kv *r, int argc, const char **argv, const size_t *argvlen,
		  char *out, size_t out_cap, struct appr_error *err)
{
	char what[200];
	redisReply *rep = command(r, argc, argv, argvlen, what, sizeof what);
	if (!rep)
		return unavailable(r, err, what);
	if (rep->type == REDIS_REPLY_ERROR) {
		reply_error(r, err, argv[0], rep);
		freeReplyObject(rep);
		disconnect(r);
		return -1;
	}
	if (out) {
		if (rep->type != REDIS_REPLY_STRING || rep->len >= out_cap) {
			freeReplyObject(rep);
			disconnect(r);
			return unavailable(r, err, "unexpected answer to SCRIPT LOAD");
		}
		memcpy(out, rep->str, rep->len);
		out[rep->len] = '\0';
	}
	freeReplyObject(rep);
	return 0;
}

/* Connect, AUTH, SELECT, load the scripts. */
static int connect_now(struct redis_kv *r, struct appr_error *err)
{
	char db[24];
	disconnect(r);
	r->c = redisConnectWithTimeout(r->host, r->port, r->tv);
	if (!r->c)
		return unavailable(r, err, "out of memory");
	if (r->c->err) {
		char what[200];
		snprintf(what, sizeof what, "%s", r->c->errstr);
		disconnect(r);
		return unavailable(r, err, what);
	}
	if (redisSetTimeout(r->c, r->tv) != REDIS_OK) {
		disconnect(r);
		return unavailable(r, err, "cannot set the socket timeout");
	}
	if (r->password) {
		const char *argv[3] = { "AUTH" };
		size_t argvlen[3] = { 4 };
		int argc = 1;
		if (r->user) {
			argv[argc] = r->user;
			argvlen[argc++] = strlen(r->user);
		}
		argv[argc] = r->password;
		argvlen[argc++] = strlen(r->password);
		if (simple(r, argc, argv, argvlen, NULL, 0, err) < 0)
			goto fail;
	}
	if (r->db) {
		snprintf(db, sizeof db, "%ld", r->db);
		const char *argv[2] = { "SELECT", db };
		size_t argvlen[2] = { 6, strlen(db) };
		if (simple(r, 2, argv, argvlen, NULL, 0, err) < 0)
			goto fail;
	}
	{
		const char *argv[3] = { "SCRIPT", "LOAD", range_lua };
		size_t argvlen[3] = { 6, 4, sizeof range_lua - 1 };
		if (simple(r, 3, argv, argvlen, r->sha_range, sizeof r->sha_range, err) < 0)
			goto fail;
		argv[2] = txn_lua;
		argvlen[2] = sizeof txn_lua - 1;
		if (simple(r, 3, argv, argvlen, r->sha_txn, sizeof r->sha_txn, err) < 0)
			goto fail;
	}
	return 0;
fail:
	disconnect(r);
	return -1;
}

/* Make sure a connection is there: an idle connection with something to read (EOF:
 * the server closed it, e.g. it restarted) is replaced by a new one. */
static int ensure(struct redis_kv *r, struct appr_error *err)
{
	if (r->c) {
		struct pollfd p = { .fd = r->c->fd, .events = POLLIN };
		if (r->c->err || poll(&p, 1, 0) != 0)
			disconnect(r);
	}
	return r->c ? 0 : connect_now(r, err);
}

/* A read-only command (idempotent): retried once on a new connection when the
 * connection fails. The reply (never an error reply: that is -1, 500), or NULL. */
static redisReply *read_command(struct redis_kv *r, int argc, const char **argv,
				const size_t *argvlen, struct appr_error *err)
{
	char what[200];
	for (int attempt = 0; attempt < 2; attempt++) {
		if (ensure(r, err) < 0)
			return NULL;
		redisReply *rep = command(r, argc, argv, argvlen, what, sizeof what);
		if (!rep)
			continue;
		if (rep->type == REDIS_REPLY_ERROR) {
			reply_error(r, err, argv[0], rep);
			freeReplyObject(rep);
			return NULL;
		}
		return rep;
	}
	unavailable(r, err, what);
	return NULL;
}

/* Whether rep is the NOSCRIPT error (the server lost its script cache). */
static int is_noscript(const redisReply *rep)
{
	return rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

/* The ZRANGEBYLEX upper bound of the keys starting with prefix: "(" followed by the
 * prefix with its last byte below 0xff incremented (later bytes dropped), or "+".
 * Allocated from a (or xmalloc when a is NULL). */
static char *prefix_max(struct arena *a, const char *prefix, size_t *len)
{
	size_t n = strlen(prefix);
	while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	char *m = a ? arena_alloc(a, n + 2) : xcalloc(1, n + 2);
	if (n == 0) {
		m[0] = '+';
		*len = 1;
		return m;
	}
	m[0] = '(';
	memcpy(m + 1, prefix, n);
	m[n] = (char)((unsigned char)m[n] + 1);
	*len = n + 1;
	return m;
}

static long long parse_rev(const redisReply *e)
{
	char buf[32];
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer;
	if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len >= sizeof buf)
		return -1;
	memcpy(buf, e->str, e->len);
	buf[e->len] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end || v <= 0)
		return -1;
	return v;
}

static int redis_kv_open(const struct appr_config *cfg, struct kv **out, struct appr_error *err)
{
	struct redis_kv *r = xcalloc(1, sizeof *r);
	unsigned long long ms = cfg->kv_timeout_ms ? cfg->kv_timeout_ms : 5000;

	*out = NULL;
	r->base.ops = &kv_redis_ops;
	r->base.cfg = cfg;
	r->prefix = cfg->key_prefix ? cfg->key_prefix : "";
	r->prefix_len = strlen(r->prefix);
	r->tv.tv_sec = (time_t)(ms / 1000);
	r->tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	if (parse_url(r, cfg->redis_url ? cfg->redis_url : "", err) < 0)
		goto fail;
	snprintf(r->where, sizeof r->where, "redis at %.200s:%d", r->host, r->port);
	if (connect_now(r, err) < 0)
		goto fail;
	*out = &r->base;
	return 0;
fail:
	r->base.ops->close(&r->base);
	return -1;
}

static void redis_kv_close(struct kv *kv)
{
	struct redis_kv *r = (struct redis_kv *)kv;
	if (!r)
		return;
	disconnect(r);
	free(r->host);
	free(r->user);
	free(r->password);
	free(r);
}

/* P + "k:" + key, xmalloc'ed. */
static char *hash_key(struct redis_kv *r, const char *key, size_t *len)
{
	size_t kl = strlen(key);
	char *s = xmalloc(r->prefix_len + 2 + kl + 1);
	memcpy(s, r->prefix, r->prefix_len);
	memcpy(s + r->prefix_len, "k:", 2);
	memcpy(s + r->prefix_len + 2, key, kl + 1);
	*len = r->prefix_len + 2 + kl;
	return s;
}

static int redis_kv_get(struct kv *kv, const char *key, struct arena *a, struct kv_pair *out,
			struct appr_error *err)
{
	struct redis_kv *r = (struct redis_kv *)kv;
	size_t hl;
	char *h = hash_key(r, key, &hl);
	const char *argv[4] = { "HMGET", h, "r", "v" };
	size_t argvlen[4] = { 5, hl, 1, 1 };
	int ret = -1;

	memset(out, 0, sizeof *out);
	redisReply *rep = read_command(r, 4, argv, argvlen, err);
	free(h);
	if (!rep)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
		unavailable(r, err, "unexpected answer to HMGET");
		goto done;
	}
	if (rep->element[0]->type == REDIS_REPLY_NIL) {
		out->key = arena_strdup(a, key);
		ret = 1;
		goto done;
	}
	const redisReply *v = rep->element[1];
	long long rev = parse_rev(rep->element[0]);
	if (rev <= 0 || (v->type != REDIS_REPLY_STRING && v->type != REDIS_REPLY_NIL)) {
		unavailable(r, err, "bad revision or value in the store");
		goto done;
	}
	out->key = arena_strdup(a, key);
	out->rev = rev;
	out->len = v->type == REDIS_REPLY_STRING ? v->len : 0;
	char *val = arena_alloc(a, out->len + 1);
	if (out->len)
		memcpy(val, v->str, out->len);
	out->value = val;
	ret = 0;
done:
	freeReplyObject(rep);
	return ret;
}

/* EVALSHA sha (falling back to EVAL script on NOSCRIPT) with argv[3..] already
 * filled (argv[0..2] are set here: command, script/sha, "0" keys). */
static redisReply *eval(struct redis_kv *r, const char *sha, const char *script,
			size_t script_len, int argc, const char **argv, size_t *argvlen,
			char *what, size_t what_cap)
{
	argv[0] = "EVALSHA";
	argvlen[0] = 7;
	argv[1] = sha;
	argvlen[1] = strlen(sha);
	argv[2] = "0";
	argvlen[2] = 1;
	redisReply *rep = command(r, argc, argv, argvlen, what, what_cap);
	if (is_noscript(rep)) {
		freeReplyObject(rep);
		argv[0] = "EVAL";
		argvlen[0] = 4;
		argv[1] = script;
		argvlen[1] = script_len;
		rep = command(r, argc, argv, argvlen, what, what_cap);
	}
	return rep;
}

static int redis_kv_range(struct kv *kv, const char *prefix, const char *after, size_t limit,
			  bool keys_only, struct arena *a, struct kv_pair **out, size_t *n,
			  bool *more, struct appr_error *err)
{
	struct redis_kv *r = (struct redis_kv *)kv;
	const char *argv[8];
	size_t argvlen[8];
	char lim[24];
	char *min, *max;
	size_t minlen, maxlen;
	redisReply *rep = NULL;
	char what[200] = "no answer";
	int ret = -1;

	*out = NULL;
	*n = 0;
	if (more)
		*more = false;
	if (!prefix)
		prefix = "";
	if (after && *after && strcmp(after, prefix) >= 0) {
		min = arena_printf(a, "(%s", after);
	} else {
		min = arena_printf(a, "[%s", prefix);
	}
	minlen = strlen(min);
	max = prefix_max(a, prefix, &maxlen);
	snprintf(lim, sizeof lim, "%zu", limit);
	argv[3] = r->prefix;
	argvlen[3] = r->prefix_len;
	argv[4] = min;
	argvlen[4] = minlen;
	argv[5] = max;
	argvlen[5] = maxlen;
	argv[6] = lim;
	argvlen[6] = strlen(lim);
	argv[7] = keys_only ? "1" : "0";
	argvlen[7] = 1;

	for (int attempt = 0; attempt < 2 && !rep; attempt++) {
		if (ensure(r, err) < 0)
			return -1;
		rep = eval(r, r->sha_range, range_lua, sizeof range_lua - 1, 8, argv, argvlen,
			   what, sizeof what);
	}
	if (!rep)
		return unavailable(r, err, what);
	if (rep->type == REDIS_REPLY_ERROR) {
		reply_error(r, err, "range", rep);
		goto done;
	}
	size_t per = keys_only ? 2 : 3;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER || (rep->elements - 1) % per) {
		unavailable(r, err, "unexpected answer to the range script");
		goto done;
	}
	size_t cnt = (rep->elements - 1) / per;
	struct kv_pair *p = arena_alloc(a, (cnt ? cnt : 1) * sizeof *p);
	for (size_t i = 0; i < cnt; i++) {
		redisReply **e = rep->element + 1 + i * per;
		if (e[0]->type != REDIS_REPLY_STRING || (p[i].rev = parse_rev(e[1])) <= 0 ||
		    (!keys_only && e[2]->type != REDIS_REPLY_STRING)) {
			unavailable(r, err, "bad key, revision or value in the store");
			goto done;
		}
		p[i].key = arena_strndup(a, e[0]->str, e[0]->len);
		if (!keys_only) {
			char *v = arena_alloc(a, e[2]->len + 1);
			if (e[2]->len)
				memcpy(v, e[2]->str, e[2]->len);
			p[i].value = v;
			p[i].len = e[2]->len;
		}
	}
	*out = p;
	*n = cnt;
	if (more)
		*more = rep->element[0]->integer != 0;
	ret = 0;
done:
	freeReplyObject(rep);
	return ret;
}

static int redis_kv_txn(struct kv *kv, const struct kv_cond *conds, size_t n_conds,
			const struct kv_op *ops, size_t n_ops, struct appr_error *err)
{
	struct redis_kv *r = (struct redis_kv *)kv;
	size_t argc = 5 + 2 * n_conds + 3 * n_ops;
	const char **argv = xcalloc(argc, sizeof *argv);
	size_t *argvlen = xcalloc(argc, sizeof *argvlen);
	char **revs = xcalloc(n_conds + 1, sizeof *revs);
	char **maxes = xcalloc(n_ops + 1, sizeof *maxes);
	char nc[24], what[200] = "no answer";
	redisReply *rep = NULL;
	int ret = -1;
	size_t i, k = 3;

	if (argc > INT_MAX) {
		appr_err(err, 500, APPR_E_INTERNAL, "transaction too large");
		goto done;
	}
	argv[k] = r->prefix;
	argvlen[k++] = r->prefix_len;
	snprintf(nc, sizeof nc, "%zu", n_conds);
	argv[k] = nc;
	argvlen[k++] = strlen(nc);
	for (i = 0; i < n_conds; i++) {
		revs[i] = xmalloc(24);
		snprintf(revs[i], 24, "%lld", conds[i].rev);
		argv[k] = conds[i].key;
		argvlen[k++] = strlen(conds[i].key);
		argv[k] = revs[i];
		argvlen[k++] = strlen(revs[i]);
	}
	for (i = 0; i < n_ops; i++) {
		const struct kv_op *o = &ops[i];
		argv[k + 1] = o->key;
		argvlen[k + 1] = strlen(o->key);
		switch (o->type) {
		case KV_PUT:
			argv[k] = "p";
			argv[k + 2] = o->len ? o->value : "";
			argvlen[k + 2] = o->len;
			break;
		case KV_DELETE:
			argv[k] = "d";
			argv[k + 2] = "";
			argvlen[k + 2] = 0;
			break;
		case KV_DELETE_PREFIX:
			argv[k] = "x";
			maxes[i] = prefix_max(NULL, o->key, &argvlen[k + 2]);
			argv[k + 2] = maxes[i];
			break;
		default:
			appr_err(err, 500, APPR_E_INTERNAL, "kv_txn: bad op type %d", (int)o->type);
			goto done;
		}
		argvlen[k] = 1;
		k += 3;
	}

	/* Not applied when the connection cannot be made; an answer lost after the
	 * request went out leaves the outcome unknown. */
	if (ensure(r, err) < 0)
		goto done;
	rep = eval(r, r->sha_txn, txn_lua, sizeof txn_lua - 1, (int)argc, argv, argvlen,
		   what, sizeof what);
	if (!rep) {
		unavailable(r, err, what);
		ret = KV_UNKNOWN;
		goto done;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		/* not applied: the server refused the script, or a check failed (a write
		 * failing after others, which only a key of the wrong type under the
		 * prefix can cause, would leave part applied) */
		reply_error(r, err, "txn", rep);
		goto done;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_INTEGER) {
		unavailable(r, err, "unexpected answer to the transaction script");
		ret = KV_UNKNOWN;
		goto done;
	}
	ret = rep->element[0]->integer == 0 ? KV_COMMITTED : KV_CONFLICT;
done:
	if (rep)
		freeReplyObject(rep);
	for (i = 0; i < n_conds; i++)
		free(revs[i]);
	for (i = 0; i < n_ops; i++)
		free(maxes[i]);
	free(revs);
	free(maxes);
	free(argv);
	free(argvlen);
	return ret;
}

const struct kv_ops kv_redis_ops = {
	.name = "redis",
	.open = redis_kv_open,
	.close = redis_kv_close,
	.get = redis_kv_get,
	.range = redis_kv_range,
	.txn = redis_kv_txn,
};

/* ---- the redis storage driver: storage-kv*.c's operations on this client ---- */

static int redis_open(const struct appr_config *cfg, struct storage **out, struct appr_error *err)
{
	return storage_kv_open(cfg, &kv_redis_ops, &storage_redis_ops, out, err);
}

/* Each operation as the redis commands it sends: "get" is one HMGET, "range" one
 * EVALSHA of range_lua, "txn" one EVALSHA of txn_lua checking the revision of every
 * key it read. */
const struct storage_ops storage_redis_ops = {
	.version = STORAGE_OPS_VERSION,                   /* interface this table implements */
	.list_pages_cheap = false,                        /* every list reads the pkg/ key range */
	.name = "redis",
	.open = redis_open,                               /* parse redis_url, connect, SCRIPT LOAD */
	.close = storage_kv_close,                        /* redisFree */
	.blob_begin = storage_kv_blob_begin,              /* a fresh upload id, no command */
	.blob_write = storage_kv_blob_write,              /* txn: chunk/<upload>/<n> per MiB */
	.blob_abort = storage_kv_blob_abort,              /* txn: the chunk/<upload>/ range */
	.blob_lookup = storage_kv_blob_lookup,            /* get: the package record */
	.blob_open = storage_kv_blob_open,                /* get: blob/<digest> */
	.blob_read = storage_kv_blob_read,                /* get: one chunk at a time */
	.blob_close = storage_kv_blob_close,              /* no command */
	.put_release = storage_kv_put_release,            /* txn: record, blob, man/ priv/ helm/ ns/ */
	.list_releases = storage_kv_list_releases,        /* get: the package record */
	.get_manifests = storage_kv_get_manifests,        /* get record, range man/<ns>/<name>/ */
	.get_manifest = storage_kv_get_manifest,          /* get: record (+ its man/ key) */
	.delete_manifest = storage_kv_delete_manifest,    /* txn: record or its delete, blob, ns/ */
	.list_packages = storage_kv_list_packages,        /* range pkg/ keys only, get per row */
	.search = storage_kv_search,                      /* range: pkg/ (+ priv/) keys only */
	.list_channels = storage_kv_list_channels,        /* get: the package record */
	.get_channel = storage_kv_get_channel,            /* get: the package record */
	.channel_add = storage_kv_channel_add,            /* txn: the package record */
	.channel_remove = storage_kv_channel_remove,      /* txn: the package record */
	.channel_delete = storage_kv_channel_delete,      /* txn: the package record */
	.blob_path = NULL,                                /* blobs are chunk/ keys, no files */
	.user_put = storage_kv_user_put,                  /* txn: user/<name> */
	.user_get = storage_kv_user_get,                  /* get: user/<name> */
	.user_delete = storage_kv_user_delete,            /* txn: user, its grant/ and usertok/ */
	.user_list = storage_kv_user_list,                /* range: user/ */
	.grant_set = storage_kv_grant_set,                /* txn: grant/<user>/<ns> if user/ is */
	.grant_list = storage_kv_grant_list,              /* range: grant/[<user>/] */
	.token_add = storage_kv_token_add,                /* txn: usertok/, token/, tokenid/ */
	.token_find = storage_kv_token_find,              /* get: token/<hash>, its usertok/ */
	.token_list = storage_kv_token_list,              /* range: usertok/[<user>/] */
	.token_revoke = storage_kv_token_revoke,          /* txn: usertok/, tokenid/, token/ */
	.package_visibility = storage_kv_package_visibility,  /* get: the package record */
	.list_charts = storage_kv_list_charts,            /* range pkg/<ns>/, then helm/<ns>/ */
	.set_chart = storage_kv_set_chart,                /* txn: record, helm/, blob, ns/ */
	.namespace_stamp = storage_kv_namespace_stamp,    /* get: ns/<ns> (its revision) */
	.gc = storage_kv_gc,                              /* ranges chunk/, upload/, blob/; txn per upload */
};
