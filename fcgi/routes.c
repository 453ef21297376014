/* routes.c - the route table and the dispatcher. Patterns are '/'-separated segments;
 * ":x" captures one segment into req->args in order. Earlier rows win, so literal
 * segments ("channels", "blobs") come before the captures they could be taken for.
 * Every route is also served under /cnr (request.c strips that prefix). */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "routes.h"

static const struct route {
	const char *method;
	const char *pattern;
	handler_fn fn;
} routes[] = {
	{ "GET",    "version",                                          h_version },
	{ "GET",    "api/v1/packages",                                  h_list },
	{ "GET",    "api/v1/packages/search",                           h_search },
	{ "POST",   "api/v1/packages/:ns/:name",                        h_push },
	{ "GET",    "api/v1/packages/:ns/:name",                        h_show_package },
	{ "GET",    "api/v1/packages/:ns/:name/channels",               h_channels_list },
	{ "GET",    "api/v1/packages/:ns/:name/channels/:channel",      h_channel_show },
	{ "DELETE", "api/v1/packages/:ns/:name/channels/:channel",      h_channel_delete },
	{ "POST",   "api/v1/packages/:ns/:name/channels/:channel/:release", h_channel_add },
	{ "DELETE", "api/v1/packages/:ns/:name/channels/:channel/:release", h_channel_remove },
	{ "GET",    "api/v1/packages/:ns/:name/blobs/sha256/:digest",   h_blob },
	{ "GET",    "api/v1/packages/:ns/:name/blobs/sha256/:digest/json", h_blob_json },
	{ "GET",    "api/v1/packages/:ns/:name/:release",               h_show_release },
	{ "GET",    "api/v1/packages/:ns/:name/:release/:media_type",   h_show_manifest },
	{ "DELETE", "api/v1/packages/:ns/:name/:release/:media_type",   h_delete_manifest },
	{ "GET",    "api/v1/packages/:ns/:name/:release/:media_type/pull", h_pull },
	{ "GET",    "api/v1/packages/:ns/:name/:release/:media_type/pull/json", h_pull_json },
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

void routes_dispatch(struct request *req, struct response *resp)
{
	const char *method = req->head ? "GET" : req->method;
	char allow[64] = "";
	for (size_t i = 0; i < NROUTES; i++) {
		const char *args[REQUEST_MAX_ARGS] = { 0 };
		if (!match(req, i, args))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			memcpy(req->args, args, sizeof args);
			if (routes[i].fn(req, resp) < 0)
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
		appr_err(&req->err, 405, APPR_E_INVALID_USAGE, "method %s not allowed on %s",
			 req->method, req->path);
		resp_error(resp, &req->err);
		resp_header(resp, "Allow", "%s", allow);
		return;
	}
	appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND, "no route for %s", req->path);
fail:
	resp_error(resp, &req->err);
}
