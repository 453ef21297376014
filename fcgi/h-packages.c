/* h-packages.c - packages and releases: list, search, push, show, delete, pull. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "deliver.h"
#include "handlers.h"
#include "h-oci.h"
#include "manifest.h"
#include "names.h"
#include "push.h"
#include "pushbody.h"

#define MAX_MEMBER (1 << 20)         /* largest non-blob member of a push body */

/* A non-negative integer query parameter (0 when absent). */
static int query_count(struct request *req, const char *key, size_t *out)
{
	const char *v = request_query(req, key);
	*out = 0;
	if (!v || !*v)
		return 0;
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (*end || v[0] < '0' || v[0] > '9' || n > 1000000000ULL)
		return appr_err(&req->err, 422, APPR_E_INVALID_PARAMETERS,
				"%s must be a non-negative integer", key);
	*out = (size_t)n;
	return 0;
}

/* Packages a listing reads and sends at a time: the memory a listing holds, whatever
 * its size, and what the first byte waits for. */
#define LIST_PAGE 200

/* A listing past its first page, sent a page at a time (response.h: more). */
struct list_stream {
	struct storage *store;
	struct storage_list_query q;     /* its strings live as long as the request */
	char media_type[NAMES_MEDIA_TYPE_MAX + 1];
	struct arena *a;                 /* one page's rows */
	size_t left;                     /* packages still wanted; SIZE_MAX: every one */
	char *after;                     /* the last package sent: "ns\0name" */
};

/* Write rows p[0..n) to out, each after a comma when others came before; remember
 * the last as the cursor of the next page. */
static void list_rows(struct strbuf *out, const struct storage_package *p, size_t n,
		      bool first, char **after)
{
	for (size_t i = 0; i < n; i++) {
		if (i || !first)
			sb_putc(out, ',');
		manifest_write_package(out, &p[i]);
	}
	if (n) {
		free(*after);
		*after = xstrdup(p[n - 1].package);
		*strchr(*after, '/') = '\0';
	}
}

/* The limit of the next call for a listing still wanting left packages: a page, or
 * with a store whose every call reads the whole listing (list_pages_cheap false) all
 * of them at once (0: no limit). */
static size_t list_want(const struct storage *s, size_t left)
{
	if (!s->ops->list_pages_cheap)
		return left == SIZE_MAX ? 0 : left;
	return left < LIST_PAGE ? left : LIST_PAGE;
}

/* response.h more: the next page of the listing, or the end. */
static int list_more(void *ctx, struct strbuf *out)
{
	struct list_stream *ls = ctx;
	struct appr_error err = { 0 };
	struct storage_package *p;
	size_t n;

	if (!out) {
		arena_free(ls->a);
		free(ls->after);
		free(ls);
		return 0;
	}
	if (!ls->a)
		ls->a = arena_new();
	arena_reset(ls->a);
	ls->q.limit = list_want(ls->store, ls->left);
	ls->q.after_ns = ls->after;
	ls->q.after_name = ls->after + strlen(ls->after) + 1;
	if (storage_list_packages(ls->store, &ls->q, ls->a, &p, &n, &err) < 0) {
		fprintf(stderr, "appr: listing packages after %s/%s: %s: the answer is cut "
			"short\n", ls->q.after_ns, ls->q.after_name, err.msg);
		return -1;
	}
	list_rows(out, p, n, false, &ls->after);
	if (ls->left != SIZE_MAX)
		ls->left -= n;
	if (!ls->q.limit || n < ls->q.limit || ls->left == 0) {
		sb_putc(out, ']');
		return 0;
	}
	return 1;
}

/* GET /api/v1/packages?namespace=&query=&media_type=&limit=&offset=&after=
 * The first page is read before anything is answered (its errors are answers); a
 * listing longer than a page goes on a page at a time as it is sent. */
int h_list(struct request *req, struct response *resp)
{
	struct storage_list_query q = { 0 };
	char mt[NAMES_MEDIA_TYPE_MAX + 1];
	size_t limit;
	q.namespace = request_query(req, "namespace");
	if (q.namespace && !*q.namespace)
		q.namespace = NULL;
	if (q.namespace && !names_valid_part(q.namespace))
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE, "invalid namespace \"%.64s\"",
				q.namespace);
	q.query = request_query(req, "query");
	if (q.query && !*q.query)
		q.query = NULL;
	const char *m = request_query(req, "media_type");
	if (m && *m) {
		if (names_media_type(m, mt, sizeof mt) < 0)
			return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
					"invalid media type \"%.64s\"", m);
		q.media_type = mt;
	}
	if (query_count(req, "limit", &limit) < 0 || query_count(req, "offset", &q.offset) < 0 ||
	    h_after_cursor(req, &q.after_ns, &q.after_name) < 0)
		return -1;
	if (!req->who)
		return appr_err(&req->err, 500, APPR_E_INTERNAL, "no identity for the listing");
	q.readers = access_readers(req->who, req->arena);

	size_t left = limit ? limit : SIZE_MAX;
	struct storage_package *p;
	size_t n;
	char *after = NULL;
	q.limit = list_want(req->app->store, left);
	if (storage_list_packages(req->app->store, &q, req->arena, &p, &n, &req->err) < 0)
		return -1;
	sb_putc(&resp->body, '[');
	list_rows(&resp->body, p, n, true, &after);
	if (left != SIZE_MAX)
		left -= n;
	resp_json_written(resp, 200);
	if (!q.limit || n < q.limit || left == 0) {
		sb_putc(&resp->body, ']');
		free(after);
		return 0;
	}
	struct list_stream *ls = xmalloc(sizeof *ls);
	*ls = (struct list_stream){ .store = req->app->store, .q = q, .left = left,
				    .after = after };
	ls->q.offset = 0;
	if (q.media_type) {
		memcpy(ls->media_type, mt, sizeof mt);
		ls->q.media_type = ls->media_type;
	}
	resp->more = list_more;
	resp->more_ctx = ls;
	return 0;
}

/* GET /api/v1/packages/search?q=TEXT */
int h_search(struct request *req, struct response *resp)
{
	const char *text = request_query(req, "q");
	if (!text)
		text = request_query(req, "query");
	if (!text)
		text = "";
	size_t limit;
	if (query_count(req, "limit", &limit) < 0)
		return -1;
	const char **names;
	size_t n;
	if (!req->who)
		return appr_err(&req->err, 500, APPR_E_INTERNAL, "no identity for the search");
	const struct storage_readers *readers = access_readers(req->who, req->arena);
	if (storage_search(req->app->store, text, readers, limit, req->arena, &names, &n,
			   &req->err) < 0)
		return -1;
	/* written as they come: no JSON tree of every name (a search of a short text may
	 * name every package) */
	sb_putc(&resp->body, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_putc(&resp->body, ',');
		manifest_write_string(&resp->body, names[i]);
	}
	sb_putc(&resp->body, ']');
	resp_json_written(resp, 200);
	return 0;
}

/* ---- push: body -> pushbody -> the push pipeline (push.h) ---- */

/* pushbody callback: the blob's base64 text, in pieces, into the pipeline. */
static int push_blob_text(void *ctx, const char *data, size_t len, struct appr_error *err)
{
	return push_feed(ctx, data, len, err);
}

static bool json_true(struct json_object *o)
{
	if (!o)
		return false;
	if (json_object_is_type(o, json_type_boolean))
		return json_object_get_boolean(o);
	if (json_object_is_type(o, json_type_string))
		return strcasecmp(json_object_get_string(o), "true") == 0;
	return false;
}

/* The string member key of the body, or NULL if absent; 400 if not a string. */
static int body_string(struct request *req, struct pushbody *pb, const char *key,
		       const char **out)
{
	struct json_object *o = pushbody_get(pb, key);
	*out = NULL;
	if (!o)
		return 0;
	if (!json_object_is_type(o, json_type_string))
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE, "\"%s\" must be a string", key);
	*out = json_object_get_string(o);
	return 0;
}

static int feed_pushbody(void *ctx, const void *data, size_t len, struct appr_error *err)
{
	return pushbody_feed(ctx, data, len, err);
}

/* POST /api/v1/packages/{ns}/{name} */
int h_push(struct request *req, struct response *resp)
{
	const struct appr_config *cfg = &req->app->cfg;
	struct push_release rel = { 0 };
	struct push *up = NULL;
	struct pushbody *pb = NULL;
	int rc = -1;

	if (h_package_args(req, &rel.ns, &rel.name) < 0)
		return -1;
	if (request_body_wanted(req, cfg->max_body_size, "a JSON object with blob and release") < 0)
		return -1;
	if (push_begin(req->app->store, cfg, PUSH_BASE64, &up, &req->err) < 0)
		goto out;
	pb = pushbody_new(push_blob_text, up, MAX_MEMBER);
	if (request_stream_body(req, feed_pushbody, pb) < 0 || pushbody_finish(pb, &req->err) < 0)
		goto out;
	if (!pushbody_has(pb, "blob")) {
		appr_err(&req->err, 400, APPR_E_INVALID_USAGE, "missing field \"blob\" (base64 tar.gz)");
		goto out;
	}
	if (push_end_input(up, &req->err) < 0)
		goto out;

	if (body_string(req, pb, "release", &rel.release) < 0 ||
	    body_string(req, pb, "media_type", &rel.media_type) < 0)
		goto out;
	struct json_object *meta = pushbody_get(pb, "metadata");
	rel.metadata = meta ? json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	rel.force = json_true(pushbody_get(pb, "force")) || request_query_true(req, "force");
	struct json_object *vis = pushbody_get(pb, "visibility");
	if (vis && !json_object_is_type(vis, json_type_string)) {
		/* a missing or bad release or media type is reported first */
		if (push_check_release(&rel, NULL, &req->err) == 0)
			body_string(req, pb, "visibility", &rel.visibility);
		goto out;
	}
	rel.visibility = vis ? json_object_get_string(vis) : NULL;
	if (push_finish(up, &rel, &req->err) < 0)
		goto out;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("ok"));
	h_ok(resp, o);
	rc = 0;
out:
	push_free(up);
	pushbody_free(pb);
	return rc;
}

/* ---- show ---- */

static void manifests_json(struct response *resp, const struct storage_manifest *m, size_t n)
{
	sb_putc(&resp->body, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_putc(&resp->body, ',');
		manifest_write(&resp->body, &m[i], false);
	}
	sb_putc(&resp->body, ']');
	resp_json_written(resp, 200);
}

/* GET /api/v1/packages/{ns}/{name}?media_type= */
int h_show_package(struct request *req, struct response *resp)
{
	const char *ns, *name, *mt = NULL, *q;
	if (h_package_args(req, &ns, &name) < 0)
		return -1;
	q = request_query(req, "media_type");
	if (q && *q && h_select_media_type(req, ns, name, NULL, q, &mt) < 0)
		return -1;
	struct storage_manifest *m;
	size_t n;
	if (storage_get_manifests(req->app->store, ns, name, NULL, mt, req->arena, &m, &n,
				  &req->err) < 0)
		return -1;
	manifests_json(resp, m, n);
	return 0;
}

/* GET /api/v1/packages/{ns}/{name}/{release} */
int h_show_release(struct request *req, struct response *resp)
{
	const char *ns, *name, *release;
	if (h_package_args(req, &ns, &name) < 0 ||
	    h_select_release(req, ns, name, req->args[2], &release) < 0)
		return -1;
	struct storage_manifest *m;
	size_t n;
	while (storage_get_manifests(req->app->store, ns, name, release, NULL, req->arena, &m,
				     &n, &req->err) < 0)
		if (h_release_retry(req, ns, name, release, &release) <= 0)
			return -1;
	manifests_json(resp, m, n);
	return 0;
}

/* The manifest args[2]/args[3] select. */
static int find_manifest(struct request *req, struct storage_manifest *m)
{
	const char *ns, *name, *release, *mt;
	if (h_package_args(req, &ns, &name) < 0 ||
	    h_select_release(req, ns, name, req->args[2], &release) < 0)
		return -1;
	while (h_select_media_type(req, ns, name, release, req->args[3], &mt) < 0 ||
	       storage_get_manifest(req->app->store, ns, name, release, mt, req->arena, m,
				    &req->err) < 0)
		if (h_release_retry(req, ns, name, release, &release) <= 0)
			return -1;
	return 0;
}

/* GET /api/v1/packages/{ns}/{name}/{release}/{media_type} */
int h_show_manifest(struct request *req, struct response *resp)
{
	struct storage_manifest m;
	if (find_manifest(req, &m) < 0)
		return -1;
	manifest_write(&resp->body, &m, true);
	resp_json_written(resp, 200);
	return 0;
}

/* DELETE /api/v1/packages/{ns}/{name}/{release}/{media_type} */
int h_delete_manifest(struct request *req, struct response *resp)
{
	const char *ns, *name, *release = req->args[2], *mt;
	if (h_package_args(req, &ns, &name) < 0 || h_exact_release(req, release) < 0 ||
	    h_select_media_type(req, ns, name, release, req->args[3], &mt) < 0 ||
	    h_oci_release_deleting(req, ns, name, release, mt) < 0 ||   /* its OCI face */
	    storage_delete_manifest(req->app->store, ns, name, release, mt, &req->err) < 0)
		return -1;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("deleted"));
	json_object_object_add(o, "package", json_object_new_string(req->package));
	json_object_object_add(o, "release", json_object_new_string(release));
	h_ok(resp, o);
	return 0;
}

/* ---- pull ---- */

static int pull(struct request *req, struct response *resp, bool json)
{
	struct storage_manifest m;
	if (find_manifest(req, &m) < 0)
		return -1;
	const char *filename = h_concat(req->arena, m.package, "_", m.release, ".tar.gz");
	*strchr((char *)filename, '/') = '_';
	/* a release may move to another blob (force push): revalidate (ETag) every time */
	struct delivery d = {
		.digest = m.digest, .size = m.size, .sha256 = m.blob_sha256, .filename = filename,
		.immutable = false,
		.json = json, .package = m.package, .release = m.release, .media_type = m.media_type,
	};
	return deliver_blob(req, resp, &d);
}

/* GET .../{release}/{media_type}/pull[?format=json] */
int h_pull(struct request *req, struct response *resp)
{
	const char *f = request_query(req, "format");
	return pull(req, resp, f && strcmp(f, "json") == 0);
}

/* GET .../{release}/{media_type}/pull/json */
int h_pull_json(struct request *req, struct response *resp)
{
	return pull(req, resp, true);
}
