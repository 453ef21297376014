/* h-ui-package.c - GET /packages/{ns}/{name}: a package's releases (highest first) with
 * their manifests, its channels, and the commands for its default release. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "access.h"
#include "h-ui.h"
#include "handlers.h"
#include "names.h"

#define PACKAGE_ROWS 500             /* manifests a package page lists */

/* The description a manifest's metadata holds, or NULL. */
static const char *description(struct arena *a, const char *metadata)
{
	if (!metadata)
		return NULL;
	struct json_object *o = json_tokener_parse(metadata), *d;
	const char *out = NULL;
	if (o && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "description", &d) &&
	    json_object_is_type(d, json_type_string))
		out = arena_strdup(a, json_object_get_string(d));
	json_object_put(o);
	return out;
}

int ui_package_args(struct request *req, const char **ns, const char **name)
{
	*ns = req->args[0];
	*name = req->args[1];
	if (!names_valid_part(*ns) || !names_valid_part(*name))
		return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND,
				"no package \"%.64s/%.64s\": not a package name", *ns, *name);
	return 0;
}

static void channels(struct strbuf *o, const char *ns, const char *name,
		     const struct storage_channel *c, size_t n)
{
	sb_puts(o, "<h2>Channels</h2>\n");
	if (n == 0) {
		sb_puts(o, "<p class=\"muted\">No channels.</p>\n");
		return;
	}
	sb_puts(o, "<div class=\"scroll\"><table class=\"channels\">\n<thead><tr><th>Channel</th>"
		"<th>Current release</th><th>Releases</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		sb_puts(o, "<tr><td>");
		html_txt(o, c[i].name);
		sb_puts(o, "</td><td><a href=\"");
		ui_url_release(o, ns, name, c[i].current);
		sb_puts(o, "\">");
		html_txt(o, c[i].current);
		sb_puts(o, "</a></td><td>");
		for (size_t k = 0; k < c[i].n_releases && k < 20; k++) {
			if (k)
				sb_puts(o, ", ");
			html_txt(o, c[i].releases[k]);
		}
		if (c[i].n_releases > 20)
			sb_printf(o, " &hellip; (%lu)", (unsigned long)c[i].n_releases);
		sb_puts(o, "</td></tr>\n");
	}
	sb_puts(o, "</tbody></table></div>\n");
}

/* GET /packages/{ns}/{name} */
int h_ui_package(struct request *req, struct response *resp)
{
	const char *ns, *name, *vis;
	struct storage_manifest *m;
	struct storage_channel *c;
	size_t n, nc;
	struct storage *s = req->app->store;
	struct strbuf *o = &resp->body;
	if (ui_package_args(req, &ns, &name) < 0 ||
	    storage_package_visibility(s, ns, name, req->arena, &vis, &req->err) < 0 ||
	    storage_get_manifests(s, ns, name, NULL, NULL, req->arena, &m, &n, &req->err) < 0 ||
	    storage_list_channels(s, ns, name, req->arena, &c, &nc, &req->err) < 0)
		return -1;
	if (n == 0)
		return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND, "package %.64s/%.64s "
				"not found", ns, name);
	const char *top = m[0].release, *digest = m[0].digest, *desc = NULL;
	bool helm = false;
	for (size_t i = 0; i < n && strcmp(m[i].release, top) == 0; i++) {
		if (strcmp(m[i].media_type, "helm") == 0) {
			helm = true;
			digest = m[i].digest;
		}
		if (!desc)
			desc = description(req->arena, m[i].metadata);
	}

	ui_begin(req, resp, arena_printf(req->arena, "%s/%s", ns, name), NULL);
	sb_puts(o, "<nav class=\"crumbs\"><a href=\"/\">home</a> / <a href=\"/packages/");
	html_url_part(o, ns);
	sb_puts(o, "\">");
	html_txt(o, ns);
	sb_puts(o, "</a> / ");
	html_txt(o, name);
	sb_puts(o, "</nav>\n<h1>");
	html_txt(o, ns);
	sb_putc(o, '/');
	html_txt(o, name);
	if (strcmp(vis, "public") != 0)
		ui_private_badge(o);
	sb_puts(o, "</h1>\n");
	if (desc) {
		sb_puts(o, "<p class=\"description\">");
		html_txt(o, desc);
		sb_puts(o, "</p>\n");
	}
	ui_commands(req, o, ns, name, top, helm, digest);

	sb_puts(o, "<h2>Releases</h2>\n<div class=\"scroll\"><table class=\"releases\">\n"
		"<thead><tr><th>Release</th><th>Media type</th><th class=\"wide\">Digest</th>"
		"<th class=\"num\">Size</th><th class=\"wide\">Created</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n && i < PACKAGE_ROWS; i++) {
		bool first = i == 0 || strcmp(m[i - 1].release, m[i].release) != 0;
		sb_puts(o, "<tr><td>");
		if (first) {
			sb_puts(o, "<a href=\"");
			ui_url_release(o, ns, name, m[i].release);
			sb_puts(o, "\">");
			html_txt(o, m[i].release);
			sb_puts(o, "</a>");
			for (size_t k = 0; k < nc; k++)
				if (strcmp(c[k].current, m[i].release) == 0) {
					sb_puts(o, " <span class=\"badge current\">");
					html_txt(o, c[k].name);
					sb_puts(o, "</span>");
				}
		}
		sb_puts(o, "</td><td><span class=\"badge\">");
		html_txt(o, m[i].media_type);
		sb_puts(o, "</span></td><td class=\"wide mono digest\" title=\"sha256:");
		html_txt(o, m[i].digest);
		sb_puts(o, "\">");
		html_txt_n(o, m[i].digest, 12);
		sb_puts(o, "</td><td class=\"num\">");
		html_size(o, m[i].size);
		sb_puts(o, "</td><td class=\"wide\">");
		ui_time(o, m[i].created_at);
		sb_puts(o, "</td></tr>\n");
	}
	sb_puts(o, "</tbody></table></div>\n");
	if (n > PACKAGE_ROWS)
		sb_printf(o, "<p class=\"muted\">The first %d of %lu manifests.</p>\n",
			  PACKAGE_ROWS, (unsigned long)n);
	channels(o, ns, name, c, nc);
	ui_end(resp);
	return 0;
}
