/* h-ui-list.c - the listing pages: GET /packages (every package), /packages/{ns} (a
 * namespace) and /search?q= (names holding a text: the storage's search index), each a
 * page of UI_PAGE packages read with the list keyset cursor (?after=ns/name). */
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "h-ui.h"
#include "handlers.h"
#include "names.h"

#define SEARCH_MAX 200               /* longest search text */

/* The package rows of one page, and the link to the next when there is one more. */
static void rows(struct request *req, struct strbuf *o, const struct storage_package *p,
		 size_t n, const char *next_base)
{
	sb_puts(o, "<div class=\"scroll\"><table class=\"packages\">\n<thead><tr><th>Package</th>"
		"<th>Release</th><th class=\"wide\">Media types</th><th class=\"wide\">Created"
		"</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n && i < UI_PAGE; i++) {
		const char *slash = strchr(p[i].package, '/');
		if (!slash)
			continue;
		const char *ns = arena_strndup(req->arena, p[i].package,
					       (size_t)(slash - p[i].package));
		const char *name = slash + 1;
		sb_puts(o, "<tr><td>");
		ui_link_package(o, ns, name);
		if (p[i].visibility && strcmp(p[i].visibility, "public") != 0)
			ui_private_badge(o);
		sb_puts(o, "</td><td>");
		if (p[i].default_release) {
			sb_puts(o, "<a href=\"");
			ui_url_release(o, ns, name, p[i].default_release);
			sb_puts(o, "\">");
			html_txt(o, p[i].default_release);
			sb_puts(o, "</a>");
			if (p[i].n_releases > 1)
				sb_printf(o, " <span class=\"muted\">(%lu releases)</span>",
					  (unsigned long)p[i].n_releases);
		}
		sb_puts(o, "</td><td class=\"wide\">");
		for (size_t k = 0; k < p[i].n_media_types; k++) {
			sb_puts(o, "<span class=\"badge\">");
			html_txt(o, p[i].media_types[k]);
			sb_puts(o, "</span> ");
		}
		sb_puts(o, "</td><td class=\"wide\">");
		ui_time(o, p[i].created_at);
		sb_puts(o, "</td></tr>\n");
	}
	sb_puts(o, "</tbody></table></div>\n");
	sb_puts(o, "<p class=\"pager\">");
	if (request_query(req, "after")) {
		sb_puts(o, "<a href=\"");
		html_txt(o, next_base);
		sb_puts(o, "\">&larr; First page</a>");
	}
	if (n > UI_PAGE) {
		sb_puts(o, "<a rel=\"next\" href=\"");
		html_txt(o, next_base);
		sb_puts(o, strchr(next_base, '?') ? "&amp;after=" : "?after=");
		html_url_part(o, p[UI_PAGE - 1].package);
		sb_puts(o, "\">Next page &rarr;</a>");
	}
	sb_puts(o, "</p>\n");
}

/* One page of q's listing, after the request's cursor. */
static int page(struct request *req, struct storage_list_query *q,
		struct storage_package **p, size_t *n)
{
	if (h_after_cursor(req, &q->after_ns, &q->after_name) < 0)
		return -1;
	q->limit = UI_PAGE + 1;
	q->readers = access_readers(req->who, req->arena);
	return storage_list_packages(req->app->store, q, req->arena, p, n, &req->err);
}

/* GET /packages */
int h_ui_all(struct request *req, struct response *resp)
{
	struct storage_list_query q = { 0 };
	struct storage_package *p;
	size_t n;
	if (page(req, &q, &p, &n) < 0)
		return -1;
	ui_begin(req, resp, "All packages", NULL);
	sb_puts(&resp->body, "<nav class=\"crumbs\"><a href=\"/\">home</a> / packages</nav>\n"
		"<h1>All packages</h1>\n");
	if (n == 0)
		sb_puts(&resp->body, "<p class=\"muted\">No packages here.</p>\n");
	else
		rows(req, &resp->body, p, n, "/packages");
	ui_end(resp);
	return 0;
}

/* GET /packages/{ns} */
int h_ui_namespace(struct request *req, struct response *resp)
{
	const char *ns = req->args[0];
	struct storage_list_query q = { 0 };
	struct storage_package *p;
	size_t n;
	if (!names_valid_part(ns))
		return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND,
				"no namespace \"%.64s\": not a namespace name", ns);
	q.namespace = ns;
	if (page(req, &q, &p, &n) < 0)
		return -1;
	if (n == 0 && !q.after_ns)
		return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND,
				"no packages in namespace %.64s", ns);
	struct strbuf *o = &resp->body;
	ui_begin(req, resp, ns, NULL);
	sb_puts(o, "<nav class=\"crumbs\"><a href=\"/\">home</a> / ");
	html_txt(o, ns);
	sb_puts(o, "</nav>\n<h1>Namespace ");
	html_txt(o, ns);
	sb_puts(o, "</h1>\n<p class=\"muted\">Helm repository: <code>/helm/");
	html_txt(o, ns);
	sb_puts(o, "/index.yaml</code></p>\n");
	struct strbuf base = { 0 };
	sb_puts(&base, "/packages/");
	html_url_part(&base, ns);
	if (n == 0)
		sb_puts(o, "<p class=\"muted\">No more packages.</p>\n");
	else
		rows(req, o, p, n, base.buf);
	sb_free(&base);
	ui_end(resp);
	return 0;
}

/* GET /search?q=TEXT */
int h_ui_search(struct request *req, struct response *resp)
{
	const char *text = request_query(req, "q");
	struct storage_list_query q = { 0 };
	struct storage_package *p = NULL;
	size_t n = 0;
	struct strbuf *o = &resp->body;
	if (text && strlen(text) > SEARCH_MAX)
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"the search text is longer than %d bytes", SEARCH_MAX);
	if (text && *text) {
		q.query = text;
		if (page(req, &q, &p, &n) < 0)
			return -1;
	}
	ui_begin(req, resp, text && *text ? text : "Search", text);
	sb_puts(o, "<nav class=\"crumbs\"><a href=\"/\">home</a> / search</nav>\n<h1>Search</h1>\n");
	if (!text || !*text) {
		sb_puts(o, "<p class=\"muted\">Type a part of a package's name "
			"(namespace/name) in the search box.</p>\n");
	} else if (n == 0) {
		sb_puts(o, "<p class=\"results\">No package name holds &ldquo;");
		html_txt(o, text);
		sb_puts(o, "&rdquo;.</p>\n");
	} else {
		sb_puts(o, "<p class=\"results\">Packages whose name holds &ldquo;");
		html_txt(o, text);
		sb_puts(o, "&rdquo;:</p>\n");
		struct strbuf base = { 0 };
		sb_puts(&base, "/search?q=");
		html_url_part(&base, text);
		rows(req, o, p, n, base.buf);
		sb_free(&base);
	}
	ui_end(resp);
	return 0;
}
