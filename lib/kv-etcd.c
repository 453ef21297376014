/* kv-etcd.c - the etcd client (kv.h) over etcd v3's HTTP/JSON gateway (libcurl,
 * json-c), and at the bottom the etcd storage driver's table, storage_etcd_ops.
 *
 * Every call is one POST to /v3/kv/range or /v3/kv/txn of one endpoint, on one curl
 * handle per process whose connection is kept alive across requests. Keys and values
 * travel base64-encoded. When an endpoint cannot be reached (or times out, or answers
 * that it is unavailable) a read goes on to the next endpoint; a transaction does so
 * only when its request certainly did not reach etcd (connection refused, body not
 * sent), otherwise it answers KV_UNKNOWN. The last endpoint that answered is tried
 * first next time. */
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "storage-kv.h"

struct etcd_kv {
	struct kv base;
	CURL *curl;
	struct curl_slist *headers;
	char **endpoints;              /* without a trailing '/' */
	size_t n_endpoints;
	size_t cur;                    /* the endpoint tried first */
	char *prefix;                  /* a copy of cfg->key_prefix */
	size_t prefix_len;
	struct strbuf req;             /* request body */
	size_t req_off;                /* how much of it curl took */
	bool req_rewind;               /* curl may send it again (idempotent request) */
	struct strbuf resp;            /* response body */
	char curl_err[CURL_ERROR_SIZE];
};

/* How one request ended, besides success. */
enum etcd_fail {
	ETCD_NOT_SENT,                 /* etcd certainly did not act on it */
	ETCD_MAYBE_SENT,               /* it may have been applied (timeout, reset) */
	ETCD_REFUSED,                  /* etcd answered an error: err filled, final */
};

/* ---- JSON building ---- */

/* Append the base64 of len bytes of data to sb, in quotes. */
static void sb_b64(struct strbuf *sb, const void *data, size_t len)
{
	size_t need = B64_ENCODED_LEN(len) + 3;
	if (sb->cap < sb->len + need + 1) {
		size_t cap = sb->cap ? sb->cap : 256;
		while (cap < sb->len + need + 1)
			cap *= 2;
		sb->buf = xrealloc(sb->buf, cap);
		sb->cap = cap;
	}
	sb->buf[sb->len++] = '"';
	sb->len += b64_encode(data, len, sb->buf + sb->len);
	sb->buf[sb->len++] = '"';
	sb->buf[sb->len] = '\0';
}

/* Append "name":"<base64 of prefix + key>" (keylen bytes of key). */
static void sb_key(struct etcd_kv *e, struct strbuf *sb, const char *name, const char *key,
		   size_t keylen)
{
	char stackbuf[512];
	size_t n = e->prefix_len + keylen;
	char *full = n <= sizeof stackbuf ? stackbuf : xmalloc(n);
	memcpy(full, e->prefix, e->prefix_len);
	memcpy(full + e->prefix_len, key, keylen);
	sb_printf(sb, "\"%s\":", name);
	sb_b64(sb, full, n);
	if (full != stackbuf)
		free(full);
}

/* Append "range_end":... for every key starting with prefix + key: the full prefix with
 * its last byte below 0xff incremented (and what follows cut), or "\0" (every key). */
static void sb_range_end(struct etcd_kv *e, struct strbuf *sb, const char *key)
{
	size_t keylen = strlen(key), n = e->prefix_len + keylen;
	char *end = xmalloc(n + 1);
	memcpy(end, e->prefix, e->prefix_len);
	memcpy(end + e->prefix_len, key, keylen);
	while (n > 0 && (unsigned char)end[n - 1] == 0xff)
		n--;
	if (n == 0) {
		end[0] = '\0';
		n = 1;
	} else {
		end[n - 1] = (char)((unsigned char)end[n - 1] + 1);
	}
	sb_puts(sb, "\"range_end\":");
	sb_b64(sb, end, n);
	free(end);
}

/* ---- transport ---- */

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct strbuf *sb = userdata;
	sb_append(sb, ptr, size * nmemb);
	return size * nmemb;
}

/* The request body, to curl. */
static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct etcd_kv *e = userdata;
	size_t n = e->req.len - e->req_off;
	if (n > size * nitems)
		n = size * nitems;
	memcpy(buf, e->req.buf + e->req_off, n);
	e->req_off += n;
	return n;
}

/* curl rewinds the body to send it again on a fresh connection when a kept-alive one
 * turned out closed. A transaction is never re-sent behind our back: it may have been
 * applied before the connection died (curl then fails, and the answer is KV_UNKNOWN). */
static int on_seek(void *userdata, curl_off_t offset, int origin)
{
	struct etcd_kv *e = userdata;
	if (!e->req_rewind || origin != SEEK_SET || offset < 0 || (size_t)offset > e->req.len)
		return CURL_SEEKFUNC_CANTSEEK;
	e->req_off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* 503 naming the endpoints and what went wrong; one line on stderr. */
static int unavailable(struct appr_error *err, const char *what)
{
	fprintf(stderr, "appr: etcd: %s\n", what);
	return appr_err(err, 503, APPR_E_UNAVAILABLE, "etcd unavailable: %s", what);
}

/* Whether an etcd error answer (gRPC code) says the member cannot serve now, so that
 * another member may: Unavailable, DeadlineExceeded, Unknown, Canceled, Aborted. */
static bool grpc_retryable(int code)
{
	return code == 14 || code == 4 || code == 2 || code == 1 || code == 10;
}

/* POST body e->req to path on the endpoints, from e->cur on. On success returns 0 and
 * *out (the parsed answer, the caller puts it). idempotent: a request whose fate is
 * unknown is retried on the next endpoint too. On failure returns -1 with err filled and
 * *how saying whether etcd may have applied it. */
static int etcd_post(struct etcd_kv *e, const char *path, bool idempotent,
		     struct json_object **out, enum etcd_fail *how, struct appr_error *err)
{
	char tried[512];
	size_t tlen = 0;
	*out = NULL;
	*how = ETCD_NOT_SENT;
	tried[0] = '\0';
	for (size_t i = 0; i < e->n_endpoints; i++) {
		size_t idx = (e->cur + i) % e->n_endpoints;
		const char *ep = e->endpoints[idx];
		char url[600];
		snprintf(url, sizeof url, "%s%s", ep, path);
		sb_reset(&e->resp);
		e->curl_err[0] = '\0';
		curl_easy_setopt(e->curl, CURLOPT_URL, url);
		e->req_off = 0;
		e->req_rewind = idempotent;
		curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)e->req.len);
		CURLcode rc = curl_easy_perform(e->curl);
		char why[200];
		if (rc != CURLE_OK) {
			curl_off_t up = 0;
			curl_easy_getinfo(e->curl, CURLINFO_SIZE_UPLOAD_T, &up);
			if (rc == CURLE_SEND_FAIL_REWIND)
				snprintf(why, sizeof why, "the kept-alive connection was lost");
			else
				snprintf(why, sizeof why, "%.150s", e->curl_err[0] ? e->curl_err
					 : curl_easy_strerror(rc));
			/* it may have reached etcd: the whole body went out, or curl wanted
			 * to send it again (a kept-alive connection died meanwhile) */
			bool sent = rc == CURLE_SEND_FAIL_REWIND ||
				    (!(rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
				       rc == CURLE_COULDNT_RESOLVE_PROXY) && up >= (curl_off_t)e->req.len);
			if (sent && !idempotent) {
				*how = ETCD_MAYBE_SENT;
				char msg[400];
				snprintf(msg, sizeof msg, "%s%s: %s (the transaction may have been applied)",
					 ep, path, why);
				return unavailable(err, msg);
			}
		} else {
			long status = 0;
			curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
			struct json_tokener *tok = json_tokener_new();
			if (!tok) {
				fprintf(stderr, "appr: out of memory (json_tokener_new)\n");
				abort();
			}
			struct json_object *j = json_tokener_parse_ex(tok, e->resp.buf ? e->resp.buf : "",
								      (int)e->resp.len);
			if (j && json_tokener_get_error(tok) != json_tokener_success) {
				json_object_put(j);
				j = NULL;
			}
			json_tokener_free(tok);
			if (status == 200 && j && json_object_is_type(j, json_type_object)) {
				e->cur = idx;
				*out = j;
				return 0;
			}
			struct json_object *m = NULL, *c = NULL;
			if (j && json_object_is_type(j, json_type_object) &&
			    (json_object_object_get_ex(j, "message", &m) ||
			     json_object_object_get_ex(j, "error", &m)) &&
			    json_object_is_type(m, json_type_string)) {
				int code = json_object_object_get_ex(j, "code", &c) ? json_object_get_int(c) : 0;
				snprintf(why, sizeof why, "HTTP %ld: %.150s", status,
					 json_object_get_string(m));
				json_object_put(j);
				if (!grpc_retryable(code) && status != 503) {
					*how = ETCD_REFUSED;
					fprintf(stderr, "appr: etcd: %s%s: %s\n", ep, path, why);
					return appr_err(err, 500, APPR_E_INTERNAL, "etcd: %s", why);
				}
			} else {
				json_object_put(j);
				snprintf(why, sizeof why, "HTTP %ld, %s", status,
					 e->resp.len ? "not an etcd answer" : "empty answer");
			}
			/* etcd cannot serve this now: it may have acted on a transaction. */
			if (!idempotent) {
				*how = ETCD_MAYBE_SENT;
				char msg[400];
				snprintf(msg, sizeof msg, "%s%s: %s (the transaction may have been applied)",
					 ep, path, why);
				return unavailable(err, msg);
			}
		}
		int w = snprintf(tried + tlen, sizeof tried - tlen, "%s%s: %s", tlen ? "; " : "", ep, why);
		if (w > 0)
			tlen = tlen + (size_t)w < sizeof tried ? tlen + (size_t)w : sizeof tried - 1;
	}
	*how = ETCD_NOT_SENT;
	return unavailable(err, tried);
}

/* ---- answers ---- */

static long long json_ll(struct json_object *o, const char *name)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_string))
		return strtoll(json_object_get_string(v), NULL, 10);
	return (long long)json_object_get_int64(v);
}

/* Decode base64 s into the arena: NUL-terminated, *len bytes. NULL on bad input. */
static char *b64_to_arena(struct arena *a, const char *s, size_t slen, size_t *len)
{
	unsigned char *out = arena_alloc(a, (slen / 4 + 1) * 3 + 4);
	struct b64_decoder d;
	b64_decoder_init(&d);
	ssize_t n = b64_decode_update(&d, s, slen, out);
	if (n < 0)
		return NULL;
	ssize_t f = b64_decode_final(&d, out + n);
	if (f < 0)
		return NULL;
	*len = (size_t)(n + f);
	out[*len] = '\0';
	return (char *)out;
}

/* Fill p from one element of "kvs". 0, or -1 (garbage: 503). */
static int parse_kv(struct etcd_kv *e, struct json_object *o, bool keys_only, struct arena *a,
		    struct kv_pair *p, struct appr_error *err)
{
	struct json_object *k, *v;
	size_t klen;
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "key", &k) || !json_object_is_type(k, json_type_string))
		return unavailable(err, "an answer's key is missing");
	char *key = b64_to_arena(a, json_object_get_string(k), (size_t)json_object_get_string_len(k),
				 &klen);
	if (!key || klen < e->prefix_len || memcmp(key, e->prefix, e->prefix_len) != 0 ||
	    strlen(key) != klen)
		return unavailable(err, "an answer holds a key outside the key prefix");
	p->key = key + e->prefix_len;
	p->rev = json_ll(o, "mod_revision");
	p->value = NULL;
	p->len = 0;
	if (!keys_only) {
		if (json_object_object_get_ex(o, "value", &v) && json_object_is_type(v, json_type_string)) {
			p->value = b64_to_arena(a, json_object_get_string(v),
						(size_t)json_object_get_string_len(v), &p->len);
			if (!p->value)
				return unavailable(err, "an answer's value is not base64");
		} else {
			p->value = arena_alloc(a, 1); /* etcd leaves an empty value out */
		}
	}
	return 0;
}

/* ---- kv_ops ---- */

static int etcd_get(struct kv *kv, const char *key, struct arena *a, struct kv_pair *out,
		    struct appr_error *err)
{
	struct etcd_kv *e = (struct etcd_kv *)kv;
	struct json_object *j, *kvs;
	enum etcd_fail how;
	memset(out, 0, sizeof *out);
	sb_reset(&e->req);
	sb_putc(&e->req, '{');
	sb_key(e, &e->req, "key", key, strlen(key));
	sb_putc(&e->req, '}');
	if (etcd_post(e, "/v3/kv/range", true, &j, &how, err) < 0)
		return -1;
	int rc = 1;
	if (json_object_object_get_ex(j, "kvs", &kvs) && json_object_is_type(kvs, json_type_array) &&
	    json_object_array_length(kvs) > 0) {
		rc = parse_kv(e, json_object_array_get_idx(kvs, 0), false, a, out, err) < 0 ? -1 : 0;
		if (rc == 0 && strcmp(out->key, key) != 0)
			rc = unavailable(err, "get answered another key");
	}
	json_object_put(j);
	if (rc == 1)
		out->rev = 0;
	return rc;
}

static int etcd_range(struct kv *kv, const char *prefix, const char *after, size_t limit,
		      bool keys_only, struct arena *a, struct kv_pair **out, size_t *n,
		      bool *more, struct appr_error *err)
{
	struct etcd_kv *e = (struct etcd_kv *)kv;
	struct json_object *j, *kvs, *m;
	enum etcd_fail how;
	*out = NULL;
	*n = 0;
	if (more)
		*more = false;
	sb_reset(&e->req);
	sb_putc(&e->req, '{');
	if (after && *after && strcmp(after, prefix) >= 0) {
		/* start right after `after`: after + "\0" (an `after` below the prefix:
		 * from the prefix) */
		size_t al = strlen(after);
		char *start = xmalloc(al + 1);
		memcpy(start, after, al);
		start[al] = '\0';
		sb_key(e, &e->req, "key", start, al + 1);
		free(start);
	} else {
		sb_key(e, &e->req, "key", prefix, strlen(prefix));
	}
	sb_putc(&e->req, ',');
	sb_range_end(e, &e->req, prefix);
	sb_puts(&e->req, ",\"sort_order\":\"ASCEND\",\"sort_target\":\"KEY\"");
	if (limit)
		sb_printf(&e->req, ",\"limit\":\"%zu\"", limit);
	if (keys_only)
		sb_puts(&e->req, ",\"keys_only\":true");
	sb_putc(&e->req, '}');
	if (etcd_post(e, "/v3/kv/range", true, &j, &how, err) < 0)
		return -1;
	int rc = 0;
	if (json_object_object_get_ex(j, "kvs", &kvs) && json_object_is_type(kvs, json_type_array)) {
		size_t cnt = json_object_array_length(kvs);
		struct kv_pair *p = arena_alloc(a, (cnt ? cnt : 1) * sizeof *p);
		for (size_t i = 0; i < cnt && rc == 0; i++)
			rc = parse_kv(e, json_object_array_get_idx(kvs, i), keys_only, a, &p[i], err);
		if (rc == 0) {
			*out = p;
			*n = cnt;
		}
	}
	if (rc == 0 && more && json_object_object_get_ex(j, "more", &m))
		*more = json_object_get_boolean(m);
	json_object_put(j);
	return rc;
}

/* Whether the write op o touches key k (keys without the prefix). */
static bool op_covers(const struct kv_op *o, const char *k)
{
	if (o->type == KV_DELETE_PREFIX)
		return strncmp(k, o->key, strlen(o->key)) == 0;
	return strcmp(o->key, k) == 0;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* etcd refuses a transaction that writes a key twice or puts a key inside a range it
 * deletes; kv.h allows both (ops apply in order). So the ops are rewritten into their
 * net effect: the puts no later op touches, the deletes of keys not put afterwards,
 * and each deleted prefix split around the keys put afterwards. */
static void sb_ops(struct etcd_kv *e, const struct kv_op *ops, size_t n_ops)
{
	bool *final = xcalloc(n_ops ? n_ops : 1, sizeof *final);
	const char **inside = xmalloc((n_ops ? n_ops : 1) * sizeof *inside);
	bool first = true;
	for (size_t i = 0; i < n_ops; i++) {
		if (ops[i].type != KV_PUT)
			continue;
		final[i] = true;
		for (size_t j = i + 1; j < n_ops && final[i]; j++)
			if (op_covers(&ops[j], ops[i].key))
				final[i] = false;
	}
	for (size_t i = 0; i < n_ops; i++) {
		const struct kv_op *o = &ops[i];
		if (o->type == KV_PUT) {
			if (!final[i])
				continue;
			sb_puts(&e->req, first ? "{\"request_put\":{" : ",{\"request_put\":{");
			sb_key(e, &e->req, "key", o->key, strlen(o->key));
			sb_puts(&e->req, ",\"value\":");
			sb_b64(&e->req, o->value, o->len);
			sb_puts(&e->req, "}}");
			first = false;
			continue;
		}
		/* the keys put after this delete, which it must leave alone */
		size_t n_in = 0;
		for (size_t j = i + 1; j < n_ops; j++)
			if (final[j] && op_covers(o, ops[j].key))
				inside[n_in++] = ops[j].key;
		if (o->type == KV_DELETE) {
			if (n_in == 0) {
				sb_puts(&e->req, first ? "{\"request_delete_range\":{"
					: ",{\"request_delete_range\":{");
				sb_key(e, &e->req, "key", o->key, strlen(o->key));
				sb_puts(&e->req, "}}");
				first = false;
			}
			continue;
		}
		qsort(inside, n_in, sizeof *inside, cmp_str);
		size_t u = 0;
		for (size_t k = 0; k < n_in; k++)
			if (u == 0 || strcmp(inside[u - 1], inside[k]) != 0)
				inside[u++] = inside[k];
		n_in = u;
		/* pieces [start, end): [prefix, key1), [key1 "\0", key2), ..., [keyN "\0", end) */
		for (size_t k = 0; k <= n_in; k++) {
			if (k == 0 && n_in > 0 && strcmp(o->key, inside[0]) == 0)
				continue; /* [prefix, prefix) is empty */
			sb_puts(&e->req, first ? "{\"request_delete_range\":{"
				: ",{\"request_delete_range\":{");
			if (k == 0) {
				sb_key(e, &e->req, "key", o->key, strlen(o->key));
			} else {
				/* the key and its NUL */
				sb_key(e, &e->req, "key", inside[k - 1], strlen(inside[k - 1]) + 1);
			}
			sb_putc(&e->req, ',');
			if (k < n_in)
				sb_key(e, &e->req, "range_end", inside[k], strlen(inside[k]));
			else
				sb_range_end(e, &e->req, o->key);
			sb_puts(&e->req, "}}");
			first = false;
		}
	}
	free(inside);
	free(final);
}

static int etcd_txn(struct kv *kv, const struct kv_cond *conds, size_t n_conds,
		    const struct kv_op *ops, size_t n_ops, struct appr_error *err)
{
	struct etcd_kv *e = (struct etcd_kv *)kv;
	struct json_object *j, *s;
	enum etcd_fail how;
	sb_reset(&e->req);
	sb_puts(&e->req, "{\"compare\":[");
	for (size_t i = 0; i < n_conds; i++) {
		sb_puts(&e->req, i ? ",{" : "{");
		sb_key(e, &e->req, "key", conds[i].key, strlen(conds[i].key));
		sb_printf(&e->req, ",\"target\":\"MOD\",\"result\":\"EQUAL\",\"mod_revision\":\"%lld\"}",
			  conds[i].rev);
	}
	sb_puts(&e->req, "],\"success\":[");
	sb_ops(e, ops, n_ops);
	sb_puts(&e->req, "]}");
	if (etcd_post(e, "/v3/kv/txn", false, &j, &how, err) < 0)
		return how == ETCD_MAYBE_SENT ? KV_UNKNOWN : -1;
	bool ok = json_object_object_get_ex(j, "succeeded", &s) && json_object_get_boolean(s);
	json_object_put(j);
	return ok ? KV_COMMITTED : KV_CONFLICT;
}

static void etcd_close(struct kv *kv)
{
	struct etcd_kv *e = (struct etcd_kv *)kv;
	if (!e)
		return;
	if (e->curl)
		curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->headers);
	for (size_t i = 0; i < e->n_endpoints; i++)
		free(e->endpoints[i]);
	free(e->endpoints);
	free(e->prefix);
	sb_free(&e->req);
	sb_free(&e->resp);
	free(e);
}

static int etcd_kv_open(const struct appr_config *cfg, struct kv **out, struct appr_error *err)
{
	static bool curl_ready;
	struct etcd_kv *e = NULL;
	*out = NULL;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return appr_err(err, 500, APPR_E_INTERNAL, "curl_global_init failed");
		curl_ready = true;
	}
	e = xcalloc(1, sizeof *e);
	e->base.ops = &kv_etcd_ops;
	e->base.cfg = cfg;
	e->prefix = xstrdup(cfg->key_prefix ? cfg->key_prefix : "");
	e->prefix_len = strlen(e->prefix);

	/* endpoints: comma separated, blanks around them ignored, trailing '/' dropped */
	const char *p = cfg->etcd_endpoints ? cfg->etcd_endpoints : "";
	size_t cap = 1;
	for (const char *q = p; *q; q++)
		cap += *q == ',';
	e->endpoints = xcalloc(cap, sizeof *e->endpoints);
	while (*p) {
		const char *c = strchr(p, ',');
		const char *end = c ? c : p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		const char *t = end;
		while (t > p && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '/'))
			t--;
		if (t > p) {
			if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) {
				appr_err(err, 500, APPR_E_INTERNAL,
					 "etcd_endpoints: \"%.*s\" is not an http:// or https:// URL",
					 (int)(t - p > 60 ? 60 : t - p), p);
				goto fail;
			}
			e->endpoints[e->n_endpoints++] = xstrndup(p, (size_t)(t - p));
		}
		p = c ? c + 1 : end;
	}
	if (e->n_endpoints == 0) {
		appr_err(err, 500, APPR_E_INTERNAL, "etcd_endpoints is empty");
		goto fail;
	}

	e->curl = curl_easy_init();
	if (!e->curl) {
		appr_err(err, 500, APPR_E_INTERNAL, "curl_easy_init failed");
		goto fail;
	}
	long timeout = cfg->kv_timeout_ms ? (long)cfg->kv_timeout_ms : 5000;
	long connect_timeout = timeout / 4 < 100 ? (timeout < 100 ? timeout : 100) : timeout / 4;
	if (connect_timeout > 2000)
		connect_timeout = 2000;
	e->headers = curl_slist_append(NULL, "Content-Type: application/json");
	e->headers = curl_slist_append(e->headers, "Expect:");
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->headers);
	curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout);
	curl_easy_setopt(e->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(e->curl, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e->curl, CURLOPT_READDATA, e);
	curl_easy_setopt(e->curl, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(e->curl, CURLOPT_SEEKDATA, e);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &e->resp);
	curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, e->curl_err);
	curl_easy_setopt(e->curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http,https");

	/* Fail now when no endpoint answers: read one key. */
	struct arena *a = arena_new();
	struct kv_pair kp;
	int rc = etcd_get(&e->base, ".", a, &kp, err);
	arena_free(a);
	if (rc < 0)
		goto fail;
	*out = &e->base;
	return 0;
fail:
	etcd_close(&e->base);
	return -1;
}

const struct kv_ops kv_etcd_ops = {
	.name = "etcd",
	.open = etcd_kv_open,
	.close = etcd_close,
	.get = etcd_get,
	.range = etcd_range,
	.txn = etcd_txn,
};

/* ---- the etcd storage driver: storage-kv*.c's operations on this client ---- */

static int etcd_open(const struct appr_config *cfg, struct storage **out, struct appr_error *err)
{
	return storage_kv_open(cfg, &kv_etcd_ops, &storage_etcd_ops, out, err);
}

/* Each operation as the etcd requests it makes: "range" is a POST /v3/kv/range, "txn"
 * one POST /v3/kv/txn comparing the mod_revision of every key it read. */
const struct storage_ops storage_etcd_ops = {
	.version = STORAGE_OPS_VERSION,                   /* interface this table implements */
	.list_pages_cheap = false,                        /* every list reads the pkg/ key range */
	.name = "etcd",
	.open = etcd_open,                                /* endpoints, curl handle, range "." */
	.close = storage_kv_close,                        /* curl cleanup */
	.blob_begin = storage_kv_blob_begin,              /* a fresh upload id, no request */
	.blob_write = storage_kv_blob_write,              /* txn: put chunk/<upload>/<n> per MiB */
	.blob_abort = storage_kv_blob_abort,              /* txn: delete range chunk/<upload>/ */
	.blob_lookup = storage_kv_blob_lookup,            /* range: the package record */
	.blob_open = storage_kv_blob_open,                /* range: blob/<digest> */
	.blob_read = storage_kv_blob_read,                /* range: one chunk at a time */
	.blob_close = storage_kv_blob_close,              /* no request */
	.put_release = storage_kv_put_release,            /* txn: record, blob, man/ priv/ helm/ ns/ */
	.list_releases = storage_kv_list_releases,        /* range: the package record */
	.get_manifests = storage_kv_get_manifests,        /* range: record, then man/<ns>/<name>/ */
	.get_manifest = storage_kv_get_manifest,          /* range: record (+ its man/ key) */
	.delete_manifest = storage_kv_delete_manifest,    /* txn: record or its delete, blob, ns/ */
	.list_packages = storage_kv_list_packages,        /* range pkg/ keys only, page records */
	.search = storage_kv_search,                      /* range pkg/ (+ priv/) keys only */
	.list_channels = storage_kv_list_channels,        /* range: the package record */
	.get_channel = storage_kv_get_channel,            /* range: the package record */
	.channel_add = storage_kv_channel_add,            /* txn: the package record */
	.channel_remove = storage_kv_channel_remove,      /* txn: the package record */
	.channel_delete = storage_kv_channel_delete,      /* txn: the package record */
	.blob_path = NULL,                                /* blobs are chunk/ keys, no files */
	.user_put = storage_kv_user_put,                  /* txn: user/<name> */
	.user_get = storage_kv_user_get,                  /* range: user/<name> */
	.user_delete = storage_kv_user_delete,            /* txn: user, its grant/ and usertok/ */
	.user_list = storage_kv_user_list,                /* range: user/ */
	.grant_set = storage_kv_grant_set,                /* txn: grant/<user>/<ns> if user/ is */
	.grant_list = storage_kv_grant_list,              /* range: grant/[<user>/] */
	.token_add = storage_kv_token_add,                /* txn: usertok/, token/, tokenid/ */
	.token_find = storage_kv_token_find,              /* range: token/<hash>, its usertok/ */
	.token_list = storage_kv_token_list,              /* range: usertok/[<user>/] */
	.token_revoke = storage_kv_token_revoke,          /* txn: usertok/, tokenid/, token/ */
	.package_visibility = storage_kv_package_visibility,  /* range: the package record */
	.list_charts = storage_kv_list_charts,            /* range pkg/<ns>/, then helm/<ns>/ */
	.set_chart = storage_kv_set_chart,                /* txn: record, helm/, blob, ns/ */
	.namespace_stamp = storage_kv_namespace_stamp,    /* range: ns/<ns> (its mod_revision) */
	.gc = storage_kv_gc,                              /* ranges chunk/, upload/, blob/; txn per upload */
};
