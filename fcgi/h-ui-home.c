/* h-ui-home.c - GET /: the namespaces with their package counts and the latest releases
 * (SQLite store: lib/ui-queries.c), or the first packages (etcd, redis: no counts). */
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "h-ui.h"
#include "handlers.h"
#include "names.h"
#include "ui-queries.h"

#define HOME_NAMESPACES 100          /* namespaces a home page lists */
#define HOME_COUNT_CAP 1000          /* counts above: "1000+" */
#define HOME_RECENT 15               /* latest releases shown ... */
#define HOME_RECENT_SCAN 300         /* ... out of the last this many created */

static bool can_read(void *ctx, const char *ns)
{
	return access_can_read(ctx, ns);
}

/* The queries on the SQLite store, opened once per process; NULL on other stores. */
static int queries(struct request *req, struct ui_queries **out)
{
	static struct ui_queries *q;     /* lives as long as the process */
	*out = NULL;
	if (strcmp(req->app->store->ops->name, "filesystem") != 0)
		return 0;
	if (!q && ui_queries_open(&req->app->cfg, &q, &req->err) < 0)
		return -1;
	*out = q;
	return 0;
}

static int namespaces(struct request *req, struct strbuf *o, struct ui_queries *q)
{
	const char *after = request_query(req, "ns_after"), *next;
	struct ui_namespace *ns;
	size_t n;
	if (after && *after && !names_valid_part(after))
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"ns_after must be a namespace name");
	if (ui_namespaces(q, after && *after ? after : NULL, HOME_NAMESPACES, HOME_COUNT_CAP,
			  can_read, (void *)req->who, req->arena, &ns, &n, &next, &req->err) < 0)
		return -1;
	sb_puts(o, "<h2>Namespaces</h2>\n");
	if (n == 0) {
		sb_puts(o, "<p class=\"muted\">No packages yet.</p>\n");
	} else {
		sb_puts(o, "<div class=\"scroll\"><table class=\"namespaces\">\n<thead><tr>"
			"<th>Namespace</th><th class=\"num\">Packages</th><th>Helm repository</th>"
			"</tr></thead>\n<tbody>\n");
		for (size_t i = 0; i < n; i++) {
			sb_puts(o, "<tr><td><a href=\"/packages/");
			html_url_part(o, ns[i].name);
			sb_puts(o, "\">");
			html_txt(o, ns[i].name);
			sb_printf(o, "</a></td><td class=\"num\">%ld%s</td><td><code>/helm/",
				  ns[i].count, ns[i].more ? "+" : "");
			html_txt(o, ns[i].name);
			sb_puts(o, "</code></td></tr>\n");
		}
		sb_puts(o, "</tbody></table></div>\n");
	}
	if (next) {
		sb_puts(o, "<p class=\"pager\"><a rel=\"next\" href=\"/?ns_after=");
		html_url_part(o, next);
		sb_puts(o, "\">More namespaces &rarr;</a></p>\n");
	}
	return 0;
}

static int recent(struct request *req, struct strbuf *o, struct ui_queries *q)
{
	struct ui_push *p;
	size_t n;
	if (ui_recent(q, HOME_RECENT, HOME_RECENT_SCAN, can_read, (void *)req->who, req->arena,
		      &p, &n, &req->err) < 0)
		return -1;
	sb_puts(o, "<h2>Latest releases</h2>\n");
	if (n == 0) {
		sb_puts(o, "<p class=\"muted\">Nothing pushed yet.</p>\n");
		return 0;
	}
	sb_puts(o, "<div class=\"scroll\"><table class=\"recent\">\n<thead><tr><th>Package</th>"
		"<th>Release</th><th>Created</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		sb_puts(o, "<tr><td>");
		ui_link_package(o, p[i].ns, p[i].name);
		if (p[i].private_)
			ui_private_badge(o);
		sb_puts(o, "</td><td><a href=\"");
		ui_url_release(o, p[i].ns, p[i].name, p[i].release);
		sb_puts(o, "\">");
		html_txt(o, p[i].release);
		sb_puts(o, "</a></td><td>");
		ui_time(o, p[i].created_at);
		sb_puts(o, "</td></tr>\n");
	}
	sb_puts(o, "</tbody></table></div>\n");
	return 0;
}

/* etcd, redis: the first page of every package instead (no counts kept there). */
static int first_packages(struct request *req, struct strbuf *o)
{
	struct storage_list_query lq = { .limit = UI_PAGE + 1 };
	struct storage_package *p;
	size_t n;
	lq.readers = access_readers(req->who, req->arena);
	if (storage_list_packages(req->app->store, &lq, req->arena, &p, &n, &req->err) < 0)
		return -1;
	sb_printf(o, "<h2>Packages</h2>\n<p class=\"muted\">The %s store keeps no package "
		  "counts per namespace: the packages are listed by name.</p>\n",
		  req->app->store->ops->name);
	if (n == 0) {
		sb_puts(o, "<p class=\"muted\">No packages yet.</p>\n");
		return 0;
	}
	sb_puts(o, "<ul class=\"packages\">\n");
	for (size_t i = 0; i < n && i < UI_PAGE; i++) {
		const char *slash = strchr(p[i].package, '/');
		if (!slash)
			continue;
		sb_puts(o, "<li>");
		ui_link_package(o, arena_strndup(req->arena, p[i].package,
						 (size_t)(slash - p[i].package)), slash + 1);
		if (p[i].visibility && strcmp(p[i].visibility, "public") != 0)
			ui_private_badge(o);
		sb_puts(o, "</li>\n");
	}
	sb_puts(o, "</ul>\n");
	if (n > UI_PAGE) {
		sb_puts(o, "<p class=\"pager\"><a rel=\"next\" href=\"/packages?after=");
		html_url_part(o, p[UI_PAGE - 1].package);
		sb_puts(o, "\">More packages &rarr;</a></p>\n");
	}
	return 0;
}

/* GET / */
int h_ui_home(struct request *req, struct response *resp)
{
	struct ui_queries *q;
	struct strbuf *o = &resp->body;
	if (queries(req, &q) < 0)
		return -1;
	ui_begin(req, resp, "Packages", NULL);
	sb_puts(o, "<h1>App Registry</h1>\n<p class=\"muted\">Browse packages by namespace, "
		"or search them by name.</p>\n");
	if (q) {
		if (namespaces(req, o, q) < 0 || recent(req, o, q) < 0)
			return -1;
	} else if (first_packages(req, o) < 0) {
		return -1;
	}
	ui_end(resp);
	return 0;
}
