/* routes.c - the route table and the dispatcher. Patterns are '/'-separated segments;
 * ":x" captures one segment into req->args in order. Earlier rows win, so literal
 * segments ("channels", "blobs") come before the captures they could be taken for.
 * Every route is also served under /cnr (request.c strips that prefix). */
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "handlers.h"
#include "h-ui.h"
#include "names.h"
#include "routes.h"
#include "semver.h"

/* What a route needs (auth = tokens), checked before its handler runs; {ns} is the
 * first capture. No or bad credentials where some are needed: 401 with a challenge;
 * not enough: 403; a private package is 404 to whoever may not read its namespace. */
enum perm {
	P_NONE,      /* nothing: no credentials are even read */
	P_LIST,      /* may read (anyone when anonymous_read); private packages filtered */
	P_READ,      /* may read; private packages only with read on {ns} */
	P_WRITE,     /* write on {ns} */
	P_ADMIN,     /* admin on {ns} ("*": on every namespace) */
	P_USER,      /* any authenticated user: the handler checks the rest */
};

/* What the third capture of a route is, for hide_private to answer as the handler
 * would for an absent package. */
enum arg3 {
	A_NONE,      /* no third capture (or one that is not about a package) */
	A_RELEASE,   /* a release spec, maybe followed by a media type */
	A_DIGEST,    /* a blob digest */
	A_CHANNEL,   /* a channel name */
};

/* How a route's errors are worded. */
enum style {
	S_APPR,      /* {"code", "message", "details"} */
	S_CM,        /* ChartMuseum's {"error": "..."} */
	S_OCI,       /* the OCI Distribution API's {"errors": [{"code", "message", "detail"}]} */
	S_HTML,      /* the browse pages' HTML error page (h-ui.h) */
};

static const struct route {
	const char *method;
	const char *pattern;
	handler_fn fn;
	enum perm perm;
	enum arg3 arg3;
	enum style style;
} routes[] = {
	{ "GET",    "version",                                          h_version,          P_NONE,  A_NONE, S_APPR },
	{ "POST",   "api/v1/users/login",                               h_login,            P_NONE,  A_NONE, S_APPR },
	{ "POST",   "api/v1/tokens",                                    h_token_create,     P_USER,  A_NONE, S_APPR },
	{ "PUT",    "api/v1/namespaces/:ns/grants/:user",               h_grant_set,        P_ADMIN, A_NONE, S_APPR },
	{ "DELETE", "api/v1/namespaces/:ns/grants/:user",               h_grant_delete,     P_ADMIN, A_NONE, S_APPR },
	{ "GET",    "api/v1/packages",                                  h_list,             P_LIST,  A_NONE, S_APPR },
	{ "GET",    "api/v1/packages/search",                           h_search,           P_LIST,  A_NONE, S_APPR },
	{ "POST",   "api/v1/packages/:ns/:name",                        h_push,             P_WRITE, A_NONE, S_APPR },
	{ "GET",    "api/v1/packages/:ns/:name",                        h_show_package,     P_READ,  A_NONE, S_APPR },
	{ "GET",    "api/v1/packages/:ns/:name/channels",               h_channels_list,    P_READ,  A_NONE, S_APPR },
	{ "GET",    "api/v1/packages/:ns/:name/channels/:channel",      h_channel_show,     P_READ,  A_CHANNEL, S_APPR },
	{ "DELETE", "api/v1/packages/:ns/:name/channels/:channel",      h_channel_delete,   P_WRITE, A_CHANNEL, S_APPR },
	{ "POST",   "api/v1/packages/:ns/:name/channels/:channel/:release", h_channel_add,  P_WRITE, A_CHANNEL, S_APPR },
	{ "DELETE", "api/v1/packages/:ns/:name/channels/:channel/:release", h_channel_remove, P_WRITE, A_CHANNEL, S_APPR },
	{ "GET",    "api/v1/packages/:ns/:name/blobs/sha256/:digest",   h_blob,             P_READ,  A_DIGEST, S_APPR },
	{ "GET",    "api/v1/packages/:ns/:name/blobs/sha256/:digest/json", h_blob_json,     P_READ,  A_DIGEST, S_APPR },
	{ "GET",    "api/v1/packages/:ns/:name/:release",               h_show_release,     P_READ,  A_RELEASE, S_APPR },
	{ "GET",    "api/v1/packages/:ns/:name/:release/:media_type",   h_show_manifest,    P_READ,  A_RELEASE, S_APPR },
	{ "DELETE", "api/v1/packages/:ns/:name/:release/:media_type",   h_delete_manifest,  P_WRITE, A_RELEASE, S_APPR },
	{ "GET",    "api/v1/packages/:ns/:name/:release/:media_type/pull", h_pull,          P_READ,  A_RELEASE, S_APPR },
	{ "GET",    "api/v1/packages/:ns/:name/:release/:media_type/pull/json", h_pull_json, P_READ, A_RELEASE, S_APPR },
	/* Helm chart repositories; private packages are filtered by the handlers */
	{ "GET",    "helm/:ns/index.yaml",                              h_helm_index,       P_LIST,  A_NONE, S_APPR },
	{ "GET",    "helm/:ns/charts/:file",                            h_helm_chart,       P_LIST,  A_NONE, S_APPR },
	/* ChartMuseum's API */
	{ "GET",    "helm/health",                                      h_cm_health,        P_NONE,  A_NONE, S_CM },
	{ "GET",    "helm/info",                                        h_cm_info,          P_NONE,  A_NONE, S_CM },
	{ "POST",   "helm/api/:ns/charts",                              h_cm_upload,        P_WRITE, A_NONE, S_CM },
	{ "GET",    "helm/api/:ns/charts",                              h_cm_list,          P_LIST,  A_NONE, S_CM },
	{ "GET",    "helm/api/:ns/charts/:name",                        h_cm_chart,         P_LIST,  A_NONE, S_CM },
	{ "GET",    "helm/api/:ns/charts/:name/:version",               h_cm_version,       P_LIST,  A_NONE, S_CM },
	{ "DELETE", "helm/api/:ns/charts/:name/:version",               h_cm_delete,        P_WRITE, A_NONE, S_CM },
	/* the OCI Distribution API (repositories <ns>/<name>; fcgi/h-oci*.c) */
	{ "GET",    "v2",                                               h_oci_base,         P_LIST,  A_NONE, S_OCI },
	{ "GET",    "v2/_catalog",                                      h_oci_catalog,      P_LIST,  A_NONE, S_OCI },
	{ "GET",    "v2/:ns/:name/tags/list",                           h_oci_tags,         P_READ,  A_NONE, S_OCI },
	{ "POST",   "v2/:ns/:name/blobs/uploads",                       h_oci_upload_start, P_WRITE, A_NONE, S_OCI },
	{ "GET",    "v2/:ns/:name/blobs/uploads/:uuid",                 h_oci_upload_status, P_WRITE, A_NONE, S_OCI },
	{ "PATCH",  "v2/:ns/:name/blobs/uploads/:uuid",                 h_oci_upload_patch, P_WRITE, A_NONE, S_OCI },
	{ "PUT",    "v2/:ns/:name/blobs/uploads/:uuid",                 h_oci_upload_finish, P_WRITE, A_NONE, S_OCI },
	{ "DELETE", "v2/:ns/:name/blobs/uploads/:uuid",                 h_oci_upload_cancel, P_WRITE, A_NONE, S_OCI },
	{ "GET",    "v2/:ns/:name/blobs/:digest",                       h_oci_blob_get,     P_READ,  A_NONE, S_OCI },
	{ "DELETE", "v2/:ns/:name/blobs/:digest",                       h_oci_blob_delete,  P_WRITE, A_NONE, S_OCI },
	{ "GET",    "v2/:ns/:name/manifests/:reference",                h_oci_manifest_get, P_READ,  A_NONE, S_OCI },
	{ "PUT",    "v2/:ns/:name/manifests/:reference",                h_oci_manifest_put, P_WRITE, A_NONE, S_OCI },
	{ "DELETE", "v2/:ns/:name/manifests/:reference",                h_oci_manifest_delete, P_WRITE, A_NONE, S_OCI },
	{ "GET",    "v2/:ns/:name/referrers/:digest",                   h_oci_referrers,    P_READ,  A_NONE, S_OCI },
	/* the browse pages (fcgi/h-ui*.c): read-only HTML for people */
	{ "GET",    "",                                                 h_ui_home,          P_LIST,  A_NONE, S_HTML },
	{ "GET",    "search",                                           h_ui_search,        P_LIST,  A_NONE, S_HTML },
	{ "GET",    "static/appr.css",                                  h_ui_css,           P_NONE,  A_NONE, S_HTML },
	{ "GET",    "packages",                                         h_ui_all,           P_LIST,  A_NONE, S_HTML },
	{ "GET",    "packages/:ns",                                     h_ui_namespace,     P_LIST,  A_NONE, S_HTML },
	{ "GET",    "packages/:ns/:name",                               h_ui_package,       P_READ,  A_NONE, S_HTML },
	{ "GET",    "packages/:ns/:name/:release",                      h_ui_release,       P_READ,  A_RELEASE, S_HTML },
};

#define NROUTES (sizeof routes / sizeof routes[0])

/* Compiled form of a pattern: its segments; NULL marks a capture. */
static struct compiled {
	const char *seg[REQUEST_MAX_SEGMENTS];
	size_t nseg;
} compiled[NROUTES];

static char pattern_store[NROUTES][128];

void routes_init(void)
{
	for (size_t i = 0; i < NROUTES; i++) {
		char *p = pattern_store[i];
		snprintf(p, sizeof pattern_store[i], "%s", routes[i].pattern);
		compiled[i].nseg = 0;
		for (char *s = strtok(p, "/"); s; s = strtok(NULL, "/"))
			compiled[i].seg[compiled[i].nseg++] = s[0] == ':' ? NULL : s;
	}
}

/* 1 if req's segments fit compiled route i; captures go to args. */
static int match(const struct request *req, size_t i, const char **args)
{
	const struct compiled *c = &compiled[i];
	size_t na = 0;
	if (c->nseg != req->nseg)
		return 0;
	for (size_t k = 0; k < c->nseg; k++) {
		if (!c->seg[k]) {
			if (na < REQUEST_MAX_ARGS)
				args[na++] = req->seg[k];
		} else if (strcmp(c->seg[k], req->seg[k]) != 0) {
			return 0;
		}
	}
	return 1;
}

/* A private package is absent to whoever may not read its namespace: the same answer
 * as for a package that does not exist (arguments the handler refuses before it looks
 * at storage are left to it; the error details are those of an absent package). */
static int hide_private(struct request *req, const struct route *r, const struct access_who *who)
{
	const char *ns = req->args[0], *name = req->args[1], *vis;
	const char *a2 = req->args[2], *a3 = req->args[3], *release = NULL, *mt = NULL;
	char mtbuf[NAMES_MEDIA_TYPE_MAX + 1];
	struct appr_error e = { 0 };
	struct semver v;
	bool blob = r->arg3 == A_DIGEST, channel = r->arg3 == A_CHANNEL;
	bool rel = r->arg3 == A_RELEASE;
	if (!ns || !name || !names_valid_part(ns) || !names_valid_part(name))
		return 0;                     /* the handler answers 400 */
	if ((blob && !names_valid_digest(a2)) || (channel && !names_valid_channel(a2)))
		return 0;
	if (rel && a2 && semver_parse(a2, &v) == 0)
		release = a2;
	if (rel && a3 && strcmp(a3, "-") != 0) {
		if (names_media_type(a3, mtbuf, sizeof mtbuf) < 0)
			return 0;
		mt = mtbuf;
	}
	if (access_can_read(who, ns))
		return 0;
	if (storage_package_visibility(req->app->store, ns, name, req->arena, &vis, &e) < 0) {
		if (e.http == 404)
			return 0;             /* absent: the handler says so */
		req->err = e;
		return -1;
	}
	if (strcmp(vis, "public") == 0)
		return 0;
	const char *pkg = arena_printf(req->arena, "%s/%s", ns, name);
	if (blob)
		appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND,
			 "blob sha256:%.64s not found in %s", a2, pkg);
	else
		appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND, "package %s not found", pkg);
	appr_err_details(&req->err, pkg, release, mt);
	return -1;
}

/* Whether req may run route r: 0, or -1 with req->err filled (401, 403, 404). */
static int authorize(struct request *req, const struct route *r, struct access_who *who)
{
	const struct appr_config *cfg = &req->app->cfg;
	const char *ns = req->args[0];
	if (r->perm == P_NONE) {
		memset(who, 0, sizeof *who);
		who->open = access_is_open(cfg);
		return 0;
	}
	if (access_identify(req, who) < 0)
		return -1;
	if (who->open)
		return 0;
	switch (r->perm) {
	case P_NONE:
		return 0;
	case P_LIST:
	case P_READ:
		if (!who->user && !cfg->anonymous_read)
			return access_unauthorized(req, "credentials required (anonymous reads are off)");
		return r->perm == P_READ ? hide_private(req, r, who) : 0;
	case P_USER:
		if (!who->user)
			return access_unauthorized(req, "credentials required");
		return 0;
	case P_WRITE:
	case P_ADMIN:
		if (!who->user)
			return access_unauthorized(req, "credentials required");
		enum storage_level need = r->perm == P_WRITE ? STORAGE_LEVEL_WRITE
							     : STORAGE_LEVEL_ADMIN;
		if (access_level(who, ns) < need)
			return appr_err(&req->err, 403, APPR_E_FORBIDDEN,
					"%s %.64s lacks %s on namespace %.64s",
					who->token ? "this token of user" : "user", who->user,
					auth_level_name(need), ns);
		return 0;
	}
	return 0;
}

/* OPTIONS on a known path: 204 with Allow, and the CORS preflight answer when
 * cors_allow_origin is set (serve adds Access-Control-Allow-Origin to every answer). */
static void preflight(struct request *req, struct response *resp, const char *allow)
{
	resp_no_content(resp);
	resp_header_cat(resp, "Allow", allow, NULL, NULL);
	if (!req->app->cfg.cors_allow_origin[0])
		return;
	resp_header_cat(resp, "Access-Control-Allow-Methods", allow, NULL, NULL);
	resp_header_cat(resp, "Access-Control-Allow-Headers",
			"Authorization, Content-Type, If-None-Match, Range", NULL, NULL);
	resp_header_cat(resp, "Access-Control-Max-Age", "86400", NULL, NULL);
}

void routes_dispatch(struct request *req, struct response *resp)
{
	const char *method = req->head ? "GET" : req->method;
	bool options = strcmp(method, "OPTIONS") == 0;
	enum style style = req->nseg > 0 && strcmp(req->seg[0], "v2") == 0 ? S_OCI : S_APPR;
	char allow[96] = "";
	for (size_t i = 0; i < NROUTES; i++) {
		const char *args[REQUEST_MAX_ARGS] = { 0 };
		if (!match(req, i, args))
			continue;
		/* the appr client's discovery of a host (GET /?appr-discovery=1) is
		 * answered as before the browse pages: no route, 404 */
		if (routes[i].fn == h_ui_home && request_query(req, "appr-discovery"))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			struct access_who who;
			int rc;
			memcpy(req->args, args, sizeof args);
			style = routes[i].style;
			if (authorize(req, &routes[i], &who) < 0)
				goto fail;
			req->who = &who;
			rc = routes[i].fn(req, resp);
			req->who = NULL;
			if (rc < 0)
				goto fail;
			return;
		}
		if (!strstr(allow, routes[i].method)) {
			size_t len = strlen(allow);
			snprintf(allow + len, sizeof allow - len, "%s%s%s", len ? ", " : "",
				 routes[i].method, strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
		}
	}
	if (allow[0]) {
		size_t len = strlen(allow);
		snprintf(allow + len, sizeof allow - len, ", OPTIONS");
		if (options) {
			preflight(req, resp, allow);
			return;
		}
		appr_err(&req->err, 405, APPR_E_INVALID_USAGE, "method %s not allowed on %s",
			 req->method, req->path);
		resp_error(resp, &req->err);
		resp_header_cat(resp, "Allow", allow, NULL, NULL);
		return;
	}
	appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND, "no route for %s", req->path);
	if (ui_wants_html(req))
		style = S_HTML;
fail:
	if (style == S_HTML)
		ui_error_page(req, resp, &req->err);
	else if (style == S_CM)
		resp_error_chartmuseum(resp, &req->err);
	else if (style == S_OCI)
		h_oci_error(resp, &req->err);
	else
		resp_error(resp, &req->err);
	if (req->err.http == 401)
		resp_header(resp, "WWW-Authenticate", "%s", ACCESS_CHALLENGE);
}
