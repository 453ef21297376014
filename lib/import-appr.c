/* import-appr.c - the original appr server's kv store read into an archive index: a
 * tiny reader per backend (a directory, etcd through its v2 or v3 API, redis) that
 * gets a key and lists the names one level under a prefix, the original's layout
 * read once over it, and its blobs served by digest to import_apply. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#ifdef HAVE_ETCD
#include <curl/curl.h>
#include "kv.h"
#endif
#ifdef HAVE_REDIS
#include <hiredis/hiredis.h>
#include "redis-url.h"
#endif

#include "b64.h"
#include "digest-map.h"
#include "import-appr.h"
#include "names.h"
#include "semver.h"

static struct json_object *parse_json(const char *s, size_t len);

/* ---- the reader ---- */

/* Names gathered by a listing; strings in the arena given to list. */
struct namelist {
	const char **v;
	size_t n, cap;
};

static void namelist_add(struct namelist *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = s;
}

static int cmp_strp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Sort and drop repeats. */
static void namelist_finish(struct namelist *l)
{
	size_t k = 0;
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, cmp_strp);
	for (size_t i = 0; i < l->n; i++)
		if (k == 0 || strcmp(l->v[k - 1], l->v[i]) != 0)
			l->v[k++] = l->v[i];
	l->n = k;
}

/* A backend of the original store. Keys are the original's, prefix included. */
struct reader {
	char what[160];     /* "directory /srv/appr", for messages */
	/* The value of key into val (reset first): 0, 1 when absent, -1 with err. */
	int (*get)(struct reader *r, const char *key, struct strbuf *val, struct appr_error *err);
	/* Add to out each distinct name that follows prefix up to the next '/' in some
	 * key (a directory's entries): 0, or -1 with err. Nothing under it: 0, none. */
	int (*list)(struct reader *r, const char *prefix, struct arena *a, struct namelist *out,
		    struct appr_error *err);
	void (*close)(struct reader *r);
};

#if defined(HAVE_ETCD) || defined(HAVE_REDIS)
/* For a key a listing found: add to out the name that follows prefix in it, up to
 * the next '/'. (The directory reader lists entries itself.) */
static void add_component(struct namelist *out, struct arena *a, const char *key, size_t klen,
			  const char *prefix)
{
	size_t pl = strlen(prefix);
	if (klen <= pl || memcmp(key, prefix, pl) != 0)
		return;
	const char *s = key + pl, *end = key + klen;
	const char *slash = memchr(s, '/', (size_t)(end - s));
	if (slash)
		end = slash;
	if (end > s)
		namelist_add(out, arena_strndup(a, s, (size_t)(end - s)));
}
#endif

/* -- a directory: the original's "filesystem" driver, one file per key -- */

struct fs_reader {
	struct reader base;
	char *dir;
};

static char *fs_path(struct fs_reader *f, const char *key)
{
	struct strbuf sb = { 0 };
	while (*key == '/')
		key++;
	sb_printf(&sb, "%s/%s", f->dir, key);
	return sb.buf;
}

static int fs_get(struct reader *r, const char *key, struct strbuf *val, struct appr_error *err)
{
	char *path = fs_path((struct fs_reader *)r, key);
	struct stat st;
	char buf[65536];
	int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC);
	sb_reset(val);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			rc = 1;
		else
			appr_err(err, 500, APPR_E_INTERNAL, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = 1;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "reading %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		sb_append(val, buf, (size_t)n);
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static int fs_list(struct reader *r, const char *prefix, struct arena *a, struct namelist *out,
		   struct appr_error *err)
{
	char *path = fs_path((struct fs_reader *)r, prefix);
	DIR *d = opendir(path);
	struct dirent *e;
	if (!d) {
		int e0 = errno;
		free(path);
		if (e0 == ENOENT || e0 == ENOTDIR)
			return 0;
		return appr_err(err, 500, APPR_E_INTERNAL, "%s: %s", prefix, strerror(e0));
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			namelist_add(out, arena_strdup(a, e->d_name));
	closedir(d);
	free(path);
	return 0;
}

static void fs_close(struct reader *r)
{
	struct fs_reader *f = (struct fs_reader *)r;
	free(f->dir);
	free(f);
}

static int fs_open(const char *dir, struct reader **out, struct appr_error *err)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return appr_err(err, 400, APPR_E_INVALID_USAGE, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return appr_err(err, 400, APPR_E_INVALID_USAGE, "%s: not a directory", dir);
	struct fs_reader *f = xcalloc(1, sizeof *f);
	f->dir = xstrdup(dir);
	f->base.get = fs_get;
	f->base.list = fs_list;
	f->base.close = fs_close;
	snprintf(f->base.what, sizeof f->base.what, "directory %.140s", dir);
	*out = &f->base;
	return 0;
}

/* -- redis: one string key per original key -- */

#ifdef HAVE_REDIS
struct redis_reader {
	struct reader base;
	redisContext *c;
};

static int redis_failed(struct redis_reader *r, struct appr_error *err, const char *msg)
{
	return appr_err(err, 503, APPR_E_UNAVAILABLE, "%s: %s", r->base.what,
			msg && *msg ? msg : "no answer");
}

static int rd_get(struct reader *base, const char *key, struct strbuf *val,
		  struct appr_error *err)
{
	struct redis_reader *r = (struct redis_reader *)base;
	redisReply *rep = redisCommand(r->c, "GET %b", key, strlen(key));
	int rc = -1;
	sb_reset(val);
	if (!rep)
		return redis_failed(r, err, r->c->errstr);
	if (rep->type == REDIS_REPLY_NIL) {
		rc = 1;
	} else if (rep->type == REDIS_REPLY_STRING) {
		sb_append(val, rep->str, rep->len);
		rc = 0;
	} else if (rep->type == REDIS_REPLY_ERROR) {
		appr_err(err, 500, APPR_E_INTERNAL, "%s: GET %.80s: %.80s", base->what, key, rep->str);
	} else {
		appr_err(err, 500, APPR_E_INTERNAL, "%s: GET %.80s: not a string", base->what, key);
	}
	freeReplyObject(rep);
	return rc;
}

static int rd_list(struct reader *base, const char *prefix, struct arena *a,
		   struct namelist *out, struct appr_error *err)
{
	struct redis_reader *r = (struct redis_reader *)base;
	struct strbuf pat = { 0 };
	char cursor[32] = "0";
	int rc = -1;
	for (const char *p = prefix; *p; p++) {       /* the prefix, matched literally */
		if (strchr("*?[]\\", *p))
			sb_putc(&pat, '\\');
		sb_putc(&pat, *p);
	}
	sb_putc(&pat, '*');
	do {
		redisReply *rep = redisCommand(r->c, "SCAN %s MATCH %b COUNT 1000", cursor,
					       pat.buf, pat.len);
		if (!rep) {
			redis_failed(r, err, r->c->errstr);
			goto out;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY || rep->element[0]->len >= sizeof cursor) {
			appr_err(err, 500, APPR_E_INTERNAL, "%s: SCAN: unexpected answer", base->what);
			freeReplyObject(rep);
			goto out;
		}
		memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
		cursor[rep->element[0]->len] = '\0';
		for (size_t i = 0; i < rep->element[1]->elements; i++) {
			const redisReply *k = rep->element[1]->element[i];
			if (k->type == REDIS_REPLY_STRING)
				add_component(out, a, k->str, k->len, prefix);
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	rc = 0;
out:
	sb_free(&pat);
	return rc;
}

static void rd_close(struct reader *base)
{
	struct redis_reader *r = (struct redis_reader *)base;
	if (r->c)
		redisFree(r->c);
	free(r);
}

/* Connect as redis://[[user]:password@]host[:port][/db] says. */
static int rd_open(const char *url, const struct appr_config *cfg, struct reader **out,
		   struct appr_error *err)
{
	struct redis_reader *r = xcalloc(1, sizeof *r);
	struct redis_url u = { 0 };
	redisReply *rep = NULL;

	r->base.get = rd_get;
	r->base.list = rd_list;
	r->base.close = rd_close;
	if (redis_url_parse(url, &u) < 0)
		goto bad;
	snprintf(r->base.what, sizeof r->base.what, "redis at %.100s:%d/%ld", u.host, u.port,
		 u.db);
	long ms = cfg->kv_timeout_ms ? (long)cfg->kv_timeout_ms : 5000;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	r->c = redisConnectWithTimeout(u.host, u.port, tv);
	if (!r->c || r->c->err) {
		redis_failed(r, err, r->c ? r->c->errstr : "cannot connect");
		goto fail;
	}
	redisSetTimeout(r->c, tv);
	if (u.password) {
		rep = u.user ? redisCommand(r->c, "AUTH %s %s", u.user, u.password)
			     : redisCommand(r->c, "AUTH %s", u.password);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			redis_failed(r, err, rep ? rep->str : r->c->errstr);
			goto fail;
		}
		freeReplyObject(rep);
		rep = NULL;
	}
	if (u.db) {
		rep = redisCommand(r->c, "SELECT %ld", u.db);
		if (!rep || rep->type == REDIS_REPLY_ERROR) {
			redis_failed(r, err, rep ? rep->str : r->c->errstr);
			goto fail;
		}
		freeReplyObject(rep);
		rep = NULL;
	}
	redis_url_free(&u);
	*out = &r->base;
	return 0;
bad:
	appr_err(err, 400, APPR_E_INVALID_USAGE, "--redis \"%.80s\": not "
		 "redis://[[user]:password@]host[:port][/db]", strchr(url, '@') ? "..." : url);
fail:
	if (rep)
		freeReplyObject(rep);
	redis_url_free(&u);
	rd_close(&r->base);
	return -1;
}
#endif

/* -- etcd: the original wrote through etcd's v2 API (keys "/" + its key); a store
 * migrated to the v3 keyspace keeps the same key names -- */

#ifdef HAVE_ETCD
struct etcd_reader {
	struct reader base;
	char **eps;                /* endpoints, without a trailing '/' */
	size_t n_eps, cur;         /* cur: the one that answered last */
	CURL *h;
	long timeout_ms;
	struct strbuf resp;
	struct kv *kv;             /* v3 mode: our own client, keys as given */
	bool v3;
	bool v3_slash;             /* v3 keys carry a leading '/' */
	struct appr_config kcfg;   /* the configuration kv reads (strings below) */
	char *k_eps;
};

static size_t et_on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	sb_append(userdata, ptr, size * nmemb);
	return size * nmemb;
}

/* GET path (after the endpoint) from the first endpoint that answers: its HTTP
 * status, the body in e->resp; -1 with err when none answers. */
static long et_http(struct etcd_reader *e, const char *path, struct appr_error *err)
{
	struct strbuf url = { 0 };
	char ebuf[CURL_ERROR_SIZE] = "";
	for (size_t t = 0; t < e->n_eps; t++) {
		size_t i = (e->cur + t) % e->n_eps;
		long status = 0;
		sb_reset(&url);
		sb_printf(&url, "%s%s", e->eps[i], path);
		sb_reset(&e->resp);
		curl_easy_setopt(e->h, CURLOPT_URL, url.buf);
		curl_easy_setopt(e->h, CURLOPT_ERRORBUFFER, ebuf);
		if (curl_easy_perform(e->h) == CURLE_OK) {
			curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
			e->cur = i;
			sb_free(&url);
			sb_putc(&e->resp, '\0');     /* a NUL after the body, not counted */
			e->resp.len--;
			return status;
		}
	}
	sb_free(&url);
	return appr_err(err, 503, APPR_E_UNAVAILABLE, "%s: %s", e->base.what,
			ebuf[0] ? ebuf : "no answer");
}

/* "/v2/keys/" + key without its leading '/', escaped. */
static void et_v2_path(struct strbuf *sb, const char *key)
{
	static const char hex[] = "0123456789ABCDEF";
	sb_puts(sb, "/v2/keys/");
	while (*key == '/')
		key++;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/", *p)) {
			sb_putc(sb, (char)*p);
		} else {
			sb_putc(sb, '%');
			sb_putc(sb, hex[*p >> 4]);
			sb_putc(sb, hex[*p & 15]);
		}
	}
}

/* A v2 answer: 0 with its node, 1 when the key is absent (etcd's error 100), 2 when
 * the v2 API is off (a 404 that is not etcd's JSON), -1 with err. *root must be
 * json_object_put by the caller when 0. */
static int et_v2(struct etcd_reader *e, const char *key, const char *query,
		 struct json_object **root, struct json_object **node, struct appr_error *err)
{
	struct strbuf path = { 0 };
	et_v2_path(&path, key);
	if (query)
		sb_puts(&path, query);
	long st = et_http(e, path.buf, err);
	sb_free(&path);
	if (st < 0)
		return -1;
	struct json_object *o = parse_json(e->resp.buf, e->resp.len), *x;
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	if (st == 404 && o && json_object_object_get_ex(o, "errorCode", &x) &&
	    json_object_get_int(x) == 100) {
		json_object_put(o);
		return 1;
	}
	if (st == 404 && !o)
		return 2;
	if (st != 200 || !o || !json_object_object_get_ex(o, "node", node)) {
		json_object_put(o);
		return appr_err(err, 500, APPR_E_INTERNAL, "%s: GET %.80s: HTTP %ld, %.60s",
				e->base.what, key, st, e->resp.buf);
	}
	*root = o;
	return 0;
}

static int et_get(struct reader *base, const char *key, struct strbuf *val,
		  struct appr_error *err)
{
	struct etcd_reader *e = (struct etcd_reader *)base;
	struct json_object *root, *node, *v;
	sb_reset(val);
	if (e->v3) {
		struct arena *a = arena_new();
		struct kv_pair p;
		char *k = arena_printf(a, "%s%s", e->v3_slash ? "/" : "", key);
		int rc = kv_get(e->kv, k, a, &p, err);
		if (rc == 0)
			sb_append(val, p.value, p.len);
		arena_free(a);
		return rc;
	}
	int rc = et_v2(e, key, NULL, &root, &node, err);
	if (rc == 2)
		return appr_err(err, 500, APPR_E_INTERNAL, "%s: its v2 API is off", base->what);
	if (rc != 0)
		return rc;
	rc = 1;                                     /* a directory is no value */
	if (json_object_object_get_ex(node, "value", &v) && json_object_is_type(v, json_type_string)) {
		sb_append(val, json_object_get_string(v), (size_t)json_object_get_string_len(v));
		rc = 0;
	}
	json_object_put(root);
	return rc;
}

static int et_list(struct reader *base, const char *prefix, struct arena *a,
		   struct namelist *out, struct appr_error *err)
{
	struct etcd_reader *e = (struct etcd_reader *)base;
	struct json_object *root, *node, *nodes;
	if (e->v3) {
		struct arena *t = arena_new();
		struct kv_pair *ps;
		size_t n;
		char *k = arena_printf(t, "%s%s", e->v3_slash ? "/" : "", prefix);
		int rc = kv_range(e->kv, k, NULL, 0, true, t, &ps, &n, NULL, err);
		for (size_t i = 0; rc == 0 && i < n; i++)
			add_component(out, a, ps[i].key, strlen(ps[i].key), k);
		arena_free(t);
		return rc;
	}
	char *dir = arena_strdup(a, prefix);
	size_t dl = strlen(dir);
	while (dl > 0 && dir[dl - 1] == '/')
		dir[--dl] = '\0';
	int rc = et_v2(e, dir, "?sorted=true", &root, &node, err);
	if (rc == 1)
		return 0;
	if (rc == 2)
		return appr_err(err, 500, APPR_E_INTERNAL, "%s: its v2 API is off", base->what);
	if (rc < 0)
		return -1;
	if (json_object_object_get_ex(node, "nodes", &nodes) &&
	    json_object_is_type(nodes, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(nodes); i++) {
			struct json_object *k, *c = json_object_array_get_idx(nodes, i);
			if (!json_object_object_get_ex(c, "key", &k))
				continue;
			const char *ks = json_object_get_string(k), *b = strrchr(ks, '/');
			if (b && b[1])
				namelist_add(out, arena_strdup(a, b + 1));
		}
	}
	json_object_put(root);
	return 0;
}

static void et_close(struct reader *base)
{
	struct etcd_reader *e = (struct etcd_reader *)base;
	for (size_t i = 0; i < e->n_eps; i++)
		free(e->eps[i]);
	free(e->eps);
	if (e->h)
		curl_easy_cleanup(e->h);
	sb_free(&e->resp);
	kv_close(e->kv);
	free(e->k_eps);
	free(e);
}

/* Which API holds the original's store: v2 when its packages.json is there, else v3
 * under "/" + prefix or prefix, else v2 when it answers at all (then v3). */
static int et_choose(struct etcd_reader *e, const char *prefix, struct appr_error *err)
{
	struct strbuf key = { 0 };
	struct arena *a = arena_new();
	struct kv_pair p;
	int v2 = 0, rc = -1;
	sb_printf(&key, "%spackages.json", prefix);
	struct json_object *root, *node;
	v2 = et_v2(e, key.buf, NULL, &root, &node, err);
	if (v2 < 0)
		goto out;
	if (v2 == 0) {
		json_object_put(root);
		rc = 0;
		goto out;
	}
	e->kcfg.key_prefix = (char *)"";
	e->kcfg.etcd_endpoints = e->k_eps;
	if (kv_etcd_ops.open(&e->kcfg, &e->kv, err) < 0)
		goto out;
	for (int slash = 1; slash >= 0; slash--) {
		char *k = arena_printf(a, "%s%s", slash ? "/" : "", key.buf);
		int r = kv_get(e->kv, k, a, &p, err);
		if (r < 0)
			goto out;
		if (r == 0) {
			e->v3 = true;
			e->v3_slash = slash;
			rc = 0;
			goto out;
		}
	}
	e->v3 = v2 == 2;        /* v2 off: the v3 keyspace, the way a migration names keys */
	e->v3_slash = true;
	rc = 0;
out:
	sb_free(&key);
	arena_free(a);
	return rc;
}

static int et_open(const char *endpoints, const char *prefix, const struct appr_config *cfg,
		   struct reader **out, struct appr_error *err)
{
	static bool curl_ready;
	struct etcd_reader *e = xcalloc(1, sizeof *e);
	const char *p = endpoints;
	e->base.get = et_get;
	e->base.list = et_list;
	e->base.close = et_close;
	e->k_eps = xstrdup(endpoints);
	e->kcfg = *cfg;
	snprintf(e->base.what, sizeof e->base.what, "etcd at %.120s", endpoints);
	while (*p) {
		const char *c = strchr(p, ','), *end = c ? c : p + strlen(p);
		while (p < end && *p == ' ')
			p++;
		const char *t = end;
		while (t > p && (t[-1] == ' ' || t[-1] == '/'))
			t--;
		if (t > p) {
			if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) {
				appr_err(err, 400, APPR_E_INVALID_USAGE,
					 "--etcd: \"%.*s\" is not an http:// or https:// URL",
					 (int)(t - p > 60 ? 60 : t - p), p);
				goto fail;
			}
			e->eps = xrealloc(e->eps, (e->n_eps + 1) * sizeof *e->eps);
			e->eps[e->n_eps++] = xstrndup(p, (size_t)(t - p));
		}
		p = c ? c + 1 : end;
	}
	if (e->n_eps == 0) {
		appr_err(err, 400, APPR_E_INVALID_USAGE, "--etcd: no endpoint");
		goto fail;
	}
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			appr_err(err, 500, APPR_E_INTERNAL, "curl_global_init failed");
			goto fail;
		}
		curl_ready = true;
	}
	e->h = curl_easy_init();
	if (!e->h) {
		appr_err(err, 500, APPR_E_INTERNAL, "curl_easy_init failed");
		goto fail;
	}
	e->timeout_ms = cfg->kv_timeout_ms ? (long)cfg->kv_timeout_ms : 5000;
	curl_easy_setopt(e->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, e->timeout_ms);
	curl_easy_setopt(e->h, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
	curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, et_on_data);
	curl_easy_setopt(e->h, CURLOPT_WRITEDATA, &e->resp);
	if (et_choose(e, prefix, err) < 0)
		goto fail;
	*out = &e->base;
	return 0;
fail:
	et_close(&e->base);
	return -1;
}
#endif

/* ---- the source ---- */

struct import_appr {
	struct reader *r;
	char *prefix;                    /* ends with '/' (or is "") */
	struct digest_map *keys;         /* digest -> the key of a good copy (malloc'd) */
	/* serving blobs */
	struct blob_source base;
	struct strbuf raw;
	unsigned char *data;
	size_t len, off;
};

int import_appr_open(const struct import_appr_where *w, const struct appr_config *cfg,
		     struct import_appr **out, struct appr_error *err)
{
	const char *prefix = w->prefix ? w->prefix : IMPORT_APPR_PREFIX;
	struct reader *r = NULL;
	struct strbuf p = { 0 };
	*out = NULL;
	sb_puts(&p, prefix);
	if (p.len && p.buf[p.len - 1] != '/')
		sb_putc(&p, '/');
	if (w->dir) {
		if (fs_open(w->dir, &r, err) < 0)
			goto fail;
	} else if (w->etcd) {
#ifdef HAVE_ETCD
		if (et_open(w->etcd, p.buf ? p.buf : "", cfg, &r, err) < 0)
			goto fail;
#else
		appr_err(err, 400, APPR_E_INVALID_USAGE,
			 "this build has no etcd support: configure --with-etcd (libcurl)");
		goto fail;
#endif
	} else if (w->redis) {
#ifdef HAVE_REDIS
		if (rd_open(w->redis, cfg, &r, err) < 0)
			goto fail;
#else
		appr_err(err, 400, APPR_E_INVALID_USAGE,
			 "this build has no redis support: configure --with-redis (hiredis)");
		goto fail;
#endif
	} else {
		appr_err(err, 400, APPR_E_INVALID_USAGE, "no original store given");
		goto fail;
	}
	(void)cfg;
	struct import_appr *o = xcalloc(1, sizeof *o);
	o->r = r;
	o->prefix = p.buf ? p.buf : xstrdup("");
	o->keys = digest_map_new();
	*out = o;
	return 0;
fail:
	sb_free(&p);
	return -1;
}

void import_appr_close(struct import_appr *o)
{
	if (!o)
		return;
	o->r->close(o->r);
	digest_map_free(o->keys, free);
	sb_free(&o->raw);
	free(o->data);
	free(o->prefix);
	free(o);
}

/* Decode the base64 text of raw into o->data, o->len: 0, or -1 when it is not base64. */
static int decode_blob(struct import_appr *o)
{
	struct b64_decoder d;
	free(o->data);
	o->data = xmalloc(o->raw.len / 4 * 3 + 8);
	o->len = o->off = 0;
	b64_decoder_init(&d);
	ssize_t n = b64_decode_update(&d, o->raw.buf ? o->raw.buf : "", o->raw.len, o->data);
	if (n < 0)
		return -1;
	o->len = (size_t)n;
	n = b64_decode_final(&d, o->data + o->len);
	if (n < 0)
		return -1;
	o->len += (size_t)n;
	return 0;
}

static int blob_open(struct blob_source *base, const char *digest, long long *size,
		     struct appr_error *err)
{
	struct import_appr *o = (struct import_appr *)((char *)base - offsetof(struct import_appr, base));
	bool found;
	void **slot;
	if (!names_valid_digest(digest))
		return storage_err_blob_absent(err, NULL, NULL, digest);
	slot = digest_map_slot(o->keys, digest, &found);
	if (!found || !*slot)
		return storage_err_blob_absent(err, NULL, NULL, digest);
	int rc = o->r->get(o->r, *slot, &o->raw, err);
	if (rc < 0)
		return -1;
	if (rc > 0)
		return storage_err_blob_absent(err, NULL, NULL, digest);
	if (decode_blob(o) < 0)
		return appr_err(err, 500, APPR_E_INTERNAL, "%s: %s is not base64 any more",
				o->r->what, (const char *)*slot);
	*size = (long long)o->len;
	return 0;
}

static long blob_read(struct blob_source *base, void *buf, size_t len)
{
	struct import_appr *o = (struct import_appr *)((char *)base - offsetof(struct import_appr, base));
	size_t n = o->len - o->off < len ? o->len - o->off : len;
	memcpy(buf, o->data + o->off, n);
	o->off += n;
	return (long)n;
}

static void blob_close(struct blob_source *base)
{
	struct import_appr *o = (struct import_appr *)((char *)base - offsetof(struct import_appr, base));
	free(o->data);
	o->data = NULL;
	o->len = o->off = 0;
	sb_free(&o->raw);
}

struct blob_source *import_appr_blobs(struct import_appr *o)
{
	o->base.open = blob_open;
	o->base.read = blob_read;
	o->base.close = blob_close;
	return &o->base;
}

/* ---- reading the layout ---- */

struct collect {
	struct import_appr *o;
	struct archive_index *ix;
	import_say_fn say;
	void *sctx;
	struct import_appr_report *rep;
	struct arena *a;                  /* per package */
	struct strbuf val;
};

/* Parse len bytes as one JSON value (NULL when they are not). */
static struct json_object *parse_json(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, s ? s : "", (int)len);
	size_t end = o ? (size_t)json_tokener_get_parse_end(tok) : 0;
	while (end < len && (s[end] == ' ' || s[end] == '\t' || s[end] == '\r' || s[end] == '\n'))
		end++;
	if (o && (json_tokener_get_error(tok) != json_tokener_success || end != len)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The string member k of o, or NULL. */
static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *x;
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &x) ||
	    !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

/* The object member k of o, or NULL. */
static struct json_object *jobj(struct json_object *o, const char *k)
{
	struct json_object *x;
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, k, &x) ||
	    !json_object_is_type(x, json_type_object))
		return NULL;
	return x;
}

/* A time as Python's isoformat() wrote it: YYYY-MM-DDTHH:MM:SS[.ffffff]. */
static bool time_ok(const char *s)
{
	const char *shape = "dddd-dd-ddTdd:dd:dd.dddddd";
	size_t n = s ? strlen(s) : 0;
	bool ok = n == 19 || n == 26;
	for (size_t i = 0; ok && i < n; i++)
		ok = shape[i] == 'd' ? s[i] >= '0' && s[i] <= '9' : s[i] == shape[i];
	return ok;
}

struct pkg {
	const char *ns, *name, *created_at;
};

static int cmp_pkg(const void *x, const void *y)
{
	const struct pkg *a = x, *b = y;
	int c = strcmp(a->ns, b->ns);
	return c ? c : strcmp(a->name, b->name);
}

static int cmp_release(const void *x, const void *y)
{
	const char *a = *(const char *const *)x, *b = *(const char *const *)y;
	struct semver va, vb;
	semver_parse(a, &va);
	semver_parse(b, &vb);
	int c = semver_cmp(&va, &vb);
	return c ? c : strcmp(a, b);
}

/* The blob of digest in package ns/name read, decoded and checked: 0 (in the index,
 * *size and sha filled), 1 when it cannot be imported (said), -1 with err. */
static int check_blob(struct collect *c, const char *what, const char *ns, const char *name,
		      const char *digest, struct appr_error *err)
{
	struct import_appr *o = c->o;
	bool found;
	void **slot = digest_map_slot(o->keys, digest, &found);
	if (found && *slot)
		return 0;                        /* a good copy read already */
	char *key = arena_printf(c->a, "%s%s/%s/digests/sha256/%s", o->prefix, ns, name, digest);
	int rc = o->r->get(o->r, key, &o->raw, err);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		import_sayf(c->say, c->sctx, "%s: blob %s is missing (%s): skipped", what, digest, key);
		return 1;
	}
	if (decode_blob(o) < 0) {
		import_sayf(c->say, c->sctx, "%s: blob %s is not base64: skipped", what, digest);
		return 1;
	}
	struct archive_check *chk = archive_check_new();
	struct appr_error bad = { 0 };
	char got[DIGEST_HEX_LEN + 1], sha[DIGEST_HEX_LEN + 1];
	long long size;
	rc = 1;
	if (archive_check_feed(chk, o->data, o->len, &bad) < 0 ||
	    archive_check_finish(chk, got, sha, &size, &bad) < 0)
		import_sayf(c->say, c->sctx, "%s: blob %s is not a valid .tgz (%.100s): skipped", what, digest, bad.msg);
	else if (strcmp(got, digest) != 0)
		import_sayf(c->say, c->sctx, "%s: blob %s does not match its manifest (its tar's SHA-256 is %s): "
		    "skipped", what, digest, got);
	else
		rc = 0;
	archive_check_free(chk);
	c->rep->bytes += (long long)o->len;
	if (rc == 0) {
		archive_add_blob(c->ix, digest, size, sha);
		*slot = xstrdup(key);
	}
	free(o->data);
	o->data = NULL;
	o->len = 0;
	return rc;
}

/* One manifest (data) of ns/name release, media type mt. 0 (added or said), -1. */
static int read_manifest(struct collect *c, const struct pkg *p, const char *release,
			 const char *mt_in, struct json_object *data, struct appr_error *err)
{
	char mt[NAMES_MEDIA_TYPE_MAX + 1], what[300];
	snprintf(what, sizeof what, "%s/%s %s %.80s", p->ns, p->name, release, mt_in);
	if (!data) {
		import_sayf(c->say, c->sctx, "%s: its manifest is not a JSON object: skipped", what);
		c->rep->skipped++;
		return 0;
	}
	if (names_media_type(mt_in, mt, sizeof mt) < 0) {
		import_sayf(c->say, c->sctx, "%s: not a valid media type: skipped", what);
		c->rep->skipped++;
		return 0;
	}
	const char *digest = jstr(jobj(data, "content"), "digest");
	if (!digest || !names_valid_digest(digest)) {
		import_sayf(c->say, c->sctx, "%s: its manifest has no valid content digest: skipped", what);
		c->rep->skipped++;
		return 0;
	}
	int rc = check_blob(c, what, p->ns, p->name, digest, err);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		c->rep->skipped++;
		return 0;
	}
	const struct archive_blob *b = archive_find_blob(c->ix, digest);
	struct archive_manifest *m = archive_add_manifest(c->ix);
	struct arena *ia = c->ix->a;
	m->ns = arena_strdup(ia, p->ns);
	m->name = arena_strdup(ia, p->name);
	m->release = arena_strdup(ia, release);
	m->media_type = arena_strdup(ia, mt);
	memcpy(m->digest, b->digest, sizeof m->digest);
	memcpy(m->blob_sha256, b->sha256, sizeof m->blob_sha256);
	m->size = b->size;
	struct json_object *meta;
	if (json_object_object_get_ex(data, "metadata", &meta) && meta)
		m->metadata = arena_strdup(ia, json_object_to_json_string_ext(meta,
					JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	const char *t = jstr(data, "created_at");
	if (time_ok(t))
		snprintf(m->created_at, sizeof m->created_at, "%s", t);
	else if (time_ok(p->created_at))
		snprintf(m->created_at, sizeof m->created_at, "%s", p->created_at);
	else
		util_utc_now(m->created_at);
	c->rep->manifests++;
	return 0;
}

static bool in_array(struct json_object *arr, const char *s)
{
	if (!arr || !json_object_is_type(arr, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *x = json_object_array_get_idx(arr, i);
		if (json_object_is_type(x, json_type_string) && strcmp(json_object_get_string(x), s) == 0)
			return true;
	}
	return false;
}

/* Package p: its releases.json read, every manifest and channel. 0, or -1 with err. */
static int read_package(struct collect *c, const struct pkg *p, bool listed_only,
			struct appr_error *err)
{
	struct import_appr *o = c->o;
	char *key = arena_printf(c->a, "%s%s/%s/releases.json", o->prefix, p->ns, p->name);
	struct json_object *root = NULL, *rels, *chans;
	struct namelist rl = { 0 }, ml = { 0 };
	size_t before = c->ix->n_manifests;
	int rc;
	if (!names_valid_part(p->ns) || !names_valid_part(p->name)) {
		import_sayf(c->say, c->sctx, "%.64s/%.64s: not a valid package name: skipped", p->ns, p->name);
		c->rep->skipped++;
		return 0;
	}
	rc = o->r->get(o->r, key, &c->val, err);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		if (!listed_only)
			import_sayf(c->say, c->sctx, "%s/%s: listed in packages.json without releases: nothing to import",
			    p->ns, p->name);
		return 0;
	}
	rc = -1;
	root = parse_json(c->val.buf, c->val.len);
	rels = jobj(root, "releases");
	if (!rels) {
		import_sayf(c->say, c->sctx, "%s/%s: %s is not the original's releases.json: skipped", p->ns, p->name, key);
		c->rep->skipped++;
		rc = 0;
		goto out;
	}
	json_object_object_foreach(rels, rname, rval) {
		struct semver v;
		(void)rval;
		if (semver_parse(rname, &v) < 0) {
			import_sayf(c->say, c->sctx, "%s/%s %s: not a valid release: skipped", p->ns, p->name, rname);
			c->rep->skipped++;
		} else {
			namelist_add(&rl, rname);
		}
	}
	if (rl.n)
		qsort(rl.v, rl.n, sizeof *rl.v, cmp_release);
	for (size_t i = 0; i < rl.n; i++) {
		struct json_object *mans = jobj(jobj(rels, rl.v[i]), "manifests");
		ml.n = 0;
		if (mans) {
			json_object_object_foreach(mans, mname, mval) {
				(void)mval;
				namelist_add(&ml, mname);
			}
		}
		namelist_finish(&ml);
		for (size_t k = 0; k < ml.n; k++)
			if (read_manifest(c, p, rl.v[i], ml.v[k], jobj(mans, ml.v[k]), err) < 0)
				goto out;
	}
	if (c->ix->n_manifests > before) {
		struct archive_package *ap = archive_add_package(c->ix);
		ap->ns = arena_strdup(c->ix->a, p->ns);
		ap->name = arena_strdup(c->ix->a, p->name);
		ap->visibility = "public";
		c->rep->packages++;
	}
	/* channels: members are the releases naming them, current as recorded */
	chans = jobj(root, "channels");
	if (chans) {
		struct namelist cl = { 0 };
		json_object_object_foreach(chans, cname, cval) {
			(void)cval;
			namelist_add(&cl, cname);
		}
		namelist_finish(&cl);
		for (size_t k = 0; k < cl.n; k++) {
			const char *ch = cl.v[k], *cur = jstr(jobj(chans, ch), "current");
			bool cur_in = false;
			struct namelist members = { 0 };
			if (!names_valid_channel(ch)) {
				import_sayf(c->say, c->sctx, "%s/%s channel %s: not a valid channel name: skipped", p->ns,
				    p->name, ch);
				c->rep->skipped++;
				continue;
			}
			/* the releases of it that are in the index, highest first */
			for (size_t i = rl.n; i-- > 0;) {
				bool imported = false;
				for (size_t m = before; m < c->ix->n_manifests && !imported; m++)
					imported = strcmp(c->ix->manifests[m].release, rl.v[i]) == 0;
				if (!imported)
					continue;
				bool is_cur = cur && strcmp(cur, rl.v[i]) == 0;
				if (is_cur || in_array(json_object_object_get(jobj(rels, rl.v[i]),
									       "channels"), ch)) {
					namelist_add(&members, rl.v[i]);
					cur_in |= is_cur;
				}
			}
			if (!cur_in) {
				import_sayf(c->say, c->sctx, "%s/%s channel %s: its current release %s was not imported: "
				    "skipped", p->ns, p->name, ch, cur ? cur : "(none)");
				c->rep->skipped++;
				free(members.v);
				continue;
			}
			struct archive_channel *ac = archive_add_channel(c->ix);
			ac->ns = arena_strdup(c->ix->a, p->ns);
			ac->name = arena_strdup(c->ix->a, p->name);
			ac->channel = arena_strdup(c->ix->a, ch);
			ac->current = arena_strdup(c->ix->a, cur);
			ac->releases = arena_alloc(c->ix->a, members.n * sizeof *ac->releases);
			for (size_t i = 0; i < members.n; i++)
				ac->releases[i] = arena_strdup(c->ix->a, members.v[i]);
			ac->n_releases = members.n;
			c->rep->channels++;
			free(members.v);
		}
		free(cl.v);
	}
	rc = 0;
out:
	json_object_put(root);
	free(rl.v);
	free(ml.v);
	return rc;
}

int import_appr_collect(struct import_appr *o, struct archive_index *ix, import_say_fn sayf,
			void *sctx, archive_progress_fn progress, void *pctx,
			struct import_appr_report *rep, struct appr_error *err)
{
	struct collect c = { o, ix, sayf, sctx, rep, arena_new(), { 0 } };
	struct arena *la = arena_new();      /* the package list's strings */
	struct namelist nss = { 0 }, names = { 0 };
	struct pkg *pk = NULL;
	size_t n_pk = 0, cap_pk = 0, n_listed = 0;
	struct json_object *root = NULL;
	bool have_index = false;
	int rc = -1;

	memset(rep, 0, sizeof *rep);
	/* packages.json: {"packages": {ns: {name: {"created_at": ...}}}} */
	char *key = arena_printf(la, "%spackages.json", o->prefix);
	int r = o->r->get(o->r, key, &c.val, err);
	if (r < 0)
		goto out;
	if (r == 0) {
		have_index = true;
		root = parse_json(c.val.buf, c.val.len);
		struct json_object *all = jobj(root, "packages");
		if (!all) {
			import_sayf(c.say, c.sctx, "%s is not the original's packages.json: the packages are found "
			    "by their keys alone", key);
		} else {
			json_object_object_foreach(all, ns, nsv) {
				if (!json_object_is_type(nsv, json_type_object))
					continue;
				json_object_object_foreach(nsv, name, pv) {
					if (n_pk == cap_pk) {
						cap_pk = cap_pk ? 2 * cap_pk : 64;
						pk = xrealloc(pk, cap_pk * sizeof *pk);
					}
					const char *t = jstr(pv, "created_at");
					pk[n_pk++] = (struct pkg){ arena_strdup(la, ns), arena_strdup(la, name),
								   t ? arena_strdup(la, t) : NULL };
				}
			}
		}
	}
	n_listed = n_pk;
	/* and every <ns>/<name>/ found under the prefix (a push cut short between its
	 * releases.json and packages.json leaves a package only there) */
	if (o->r->list(o->r, o->prefix, la, &nss, err) < 0)
		goto out;
	namelist_finish(&nss);
	for (size_t i = 0; i < nss.n; i++) {
		if (strcmp(nss.v[i], ".") == 0 || strcmp(nss.v[i], "..") == 0)
			continue;
		names.n = 0;
		char *pre = arena_printf(la, "%s%s/", o->prefix, nss.v[i]);
		if (o->r->list(o->r, pre, la, &names, err) < 0)
			goto out;
		namelist_finish(&names);
		for (size_t k = 0; k < names.n; k++) {
			bool known = false;
			if (strcmp(names.v[k], ".") == 0 || strcmp(names.v[k], "..") == 0)
				continue;
			for (size_t j = 0; j < n_listed && !known; j++)
				known = strcmp(pk[j].ns, nss.v[i]) == 0 && strcmp(pk[j].name, names.v[k]) == 0;
			if (known)
				continue;
			if (n_pk == cap_pk) {
				cap_pk = cap_pk ? 2 * cap_pk : 64;
				pk = xrealloc(pk, cap_pk * sizeof *pk);
			}
			pk[n_pk++] = (struct pkg){ nss.v[i], names.v[k], NULL };
		}
	}
	if (!have_index && n_pk == 0) {
		appr_err(err, 404, APPR_E_INVALID_USAGE, "no original appr store in %s: no %s "
			 "and nothing under %s", o->r->what, key, o->prefix);
		goto out;
	}
	/* packages.json first, the ones found by listing after them: sort each part
	 * and keep listed-only packages apart by their NULL created_at */
	if (n_listed)
		qsort(pk, n_listed, sizeof *pk, cmp_pkg);
	if (n_pk > n_listed)
		qsort(pk + n_listed, n_pk - n_listed, sizeof *pk, cmp_pkg);
	for (size_t i = 0; i < n_pk; i++) {
		arena_reset(c.a);
		if (read_package(&c, &pk[i], i >= n_listed, err) < 0)
			goto out;
		if (progress)
			progress(pctx, "read", i + 1, n_pk, rep->bytes);
	}
	archive_link(ix);
	rc = 0;
out:
	json_object_put(root);
	free(pk);
	free(nss.v);
	free(names.v);
	sb_free(&c.val);
	arena_free(c.a);
	arena_free(la);
	return rc;
}
