/* h-chartmuseum.c - ChartMuseum's API on the same store: /helm/api/{ns}/charts...,
 * /helm/health, /helm/info. A chart uploaded here is the appr release
 * {ns}/{name} {version} of media type helm, named by its own Chart.yaml. Errors are
 * ChartMuseum's {"error": "..."} (the route table says so). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "chart.h"
#include "handlers.h"
#include "h-oci.h"
#include "helm.h"
#include "manifest.h"
#include "multipart.h"
#include "names.h"
#include "push.h"
#include "semver.h"

/* GET /helm/health */
int h_cm_health(struct request *req, struct response *resp)
{
	(void)req;
	sb_puts(&resp->body, "{\"healthy\":true}");
	resp_json_written(resp, 200);
	return 0;
}

/* GET /helm/info */
int h_cm_info(struct request *req, struct response *resp)
{
	(void)req;
	sb_puts(&resp->body, "{\"version\":\"appr-fcgi " PACKAGE_VERSION "\"}");
	resp_json_written(resp, 200);
	return 0;
}

static int feed_push(void *ctx, const void *data, size_t len, struct appr_error *err)
{
	return push_feed(ctx, data, len, err);
}

static int feed_form(void *ctx, const void *data, size_t len, struct appr_error *err)
{
	return multipart_feed(ctx, data, len, err);
}

/* POST /helm/api/{ns}/charts: the .tgz as the body, or as the form field "chart"
 * (multipart/form-data; a "prov" field is read and dropped). ?force replaces. */
int h_cm_upload(struct request *req, struct response *resp)
{
	const struct appr_config *cfg = &req->app->cfg;
	const char *ns;
	struct push *p = NULL;
	struct multipart *mp = NULL;
	int rc = -1;

	if (h_helm_namespace(req, &ns) < 0)
		return -1;
	if (request_body_wanted(req, cfg->max_body_size,
				"a chart (.tgz), raw or as the form field \"chart\"") < 0)
		return -1;
	const char *ct = req->io->param(req->io->ctx, "CONTENT_TYPE");
	char boundary[MULTIPART_BOUNDARY_MAX + 1];
	bool form = ct && strncasecmp(ct, "multipart/", 10) == 0;
	if (form && multipart_boundary(ct, boundary) < 0)
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"Content-Type %.80s: expected multipart/form-data with a boundary", ct);
	if (push_begin(req->app->store, cfg, PUSH_RAW, &p, &req->err) < 0)
		return -1;
	if (form)
		mp = multipart_new(boundary, "chart", feed_push, p);
	if ((mp ? request_stream_body(req, feed_form, mp) : request_stream_body(req, feed_push, p)) < 0)
		goto out;
	if (mp && multipart_finish(mp, &req->err) < 0)
		goto out;
	if (mp && !multipart_found(mp)) {
		appr_err(&req->err, 400, APPR_E_INVALID_USAGE, "no form field \"chart\" in the upload");
		goto out;
	}
	if (push_end_input(p, &req->err) < 0)
		goto out;
	struct appr_error why = { 0 };
	const struct chart *c = push_chart(p, &why);
	if (!c) {
		req->err = why;
		goto out;
	}
	if (!names_valid_part(c->name) || strlen(c->name) > cfg->max_name_length) {
		appr_err(&req->err, 422, APPR_E_INVALID_CHART,
			 "chart name \"%.64s\" cannot be a package name: 1-%llu of [A-Za-z0-9._-]",
			 c->name, cfg->max_name_length);
		goto out;
	}
	struct push_release meta = {
		.ns = ns, .name = c->name, .release = c->version, .media_type = "helm",
		.force = request_query_true(req, "force") ||
			 (request_query(req, "force") && !*request_query(req, "force")),
	};
	req->package = h_concat(req->arena, ns, "/", c->name, NULL);
	if (push_finish(p, &meta, &req->err) < 0) {
		if (req->err.http == 409)
			appr_err(&req->err, 409, APPR_E_PACKAGE_EXISTS,
				 "%s-%s.tgz already exists (upload with ?force to replace it)",
				 c->name, c->version);
		goto out;
	}
	sb_puts(&resp->body, "{\"saved\":true}");
	resp_json_written(resp, 201);
	rc = 0;
out:
	multipart_free(mp);
	push_free(p);
	return rc;
}

/* The versions of chart name (all when NULL) in the namespace, for the reader. */
static int versions(struct request *req, const char *ns, const char *name,
		    struct helm_version **out, size_t *n)
{
	struct helm_version *v;
	size_t all, k = 0;
	if (helm_versions(req->app->store, &req->app->cfg, ns, access_can_read(req->who, ns),
			  req->arena, &v, &all, &req->err) < 0)
		return -1;
	for (size_t i = 0; i < all; i++)
		if (!name || strcmp(v[i].index.name, name) == 0)
			v[k++] = v[i];
	*out = v;
	*n = k;
	if (name && k == 0)
		return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND, "chart %.64s not found",
				name);
	return 0;
}

static void version_list(struct strbuf *b, const struct helm_version *v, size_t n)
{
	sb_putc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_putc(b, ',');
		helm_index_write_version(b, &v[i].index);
	}
	sb_putc(b, ']');
}

/* GET /helm/api/{ns}/charts: {"name": [versions, newest first], ...} */
int h_cm_list(struct request *req, struct response *resp)
{
	const char *ns;
	struct helm_version *v;
	size_t n;
	if (h_helm_namespace(req, &ns) < 0 || versions(req, ns, NULL, &v, &n) < 0)
		return -1;
	struct strbuf *b = &resp->body;
	sb_putc(b, '{');
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(v[j].index.name, v[i].index.name) == 0; j++)
			;
		if (i)
			sb_putc(b, ',');
		manifest_write_string(b, v[i].index.name);
		sb_putc(b, ':');
		version_list(b, v + i, j - i);
	}
	sb_putc(b, '}');
	resp_json_written(resp, 200);
	return 0;
}

/* GET /helm/api/{ns}/charts/{name}: [versions, newest first] */
int h_cm_chart(struct request *req, struct response *resp)
{
	const char *ns;
	struct helm_version *v;
	size_t n;
	if (h_helm_namespace(req, &ns) < 0 || versions(req, ns, req->args[1], &v, &n) < 0)
		return -1;
	version_list(&resp->body, v, n);
	resp_json_written(resp, 200);
	return 0;
}

/* GET /helm/api/{ns}/charts/{name}/{version}: one version; "latest" is the newest
 * version that is not a pre-release. */
int h_cm_version(struct request *req, struct response *resp)
{
	const char *ns, *want = req->args[2];
	struct helm_version *v;
	size_t n;
	struct semver sv;
	if (h_helm_namespace(req, &ns) < 0 || versions(req, ns, req->args[1], &v, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		bool hit = strcmp(want, "latest") == 0
			? semver_parse(v[i].index.version, &sv) == 0 && sv.pre_len == 0
			: strcmp(v[i].index.version, want) == 0;
		if (hit) {                    /* newest first: the first is the latest */
			helm_index_write_version(&resp->body, &v[i].index);
			resp_json_written(resp, 200);
			return 0;
		}
	}
	return appr_err(&req->err, 404, APPR_E_RELEASE_NOT_FOUND,
			"chart %.64s has no version %.64s", req->args[1], want);
}

/* DELETE /helm/api/{ns}/charts/{name}/{version} */
int h_cm_delete(struct request *req, struct response *resp)
{
	const char *ns, *name = req->args[1], *version = req->args[2];
	if (h_helm_namespace(req, &ns) < 0)
		return -1;
	if (!names_valid_part(name) || push_check_version(version, &req->err) < 0)
		return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND,
				"chart %.64s has no version %.64s", name, version);
	if (h_oci_release_deleting(req, ns, name, version, "helm") < 0)   /* its OCI face */
		return -1;
	if (storage_delete_manifest(req->app->store, ns, name, version, "helm", &req->err) < 0) {
		if (req->err.http == 404)         /* in the words of a chart repository */
			appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND,
				 "chart %.64s has no version %.64s", name, version);
		return -1;
	}
	sb_puts(&resp->body, "{\"deleted\":true}");
	resp_json_written(resp, 200);
	return 0;
}
