/* h-ui.c - the browse pages' shared part: the page frame with its security headers,
 * the HTML error page, links, times, the ready-to-copy commands, and the style sheet. */
#include <stdio.h>
#include <string.h>

#include "deliver.h"
#include "digest.h"
#include "h-ui.h"
#include "handlers.h"
#include "names.h"
#include "oci.h"

/* fcgi/ui.css, compiled in (fcgi/ui-css.c, made from it by make) */
extern const char ui_css[];
extern const size_t ui_css_len;

#define CSP "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; " \
	"form-action 'self'; frame-ancestors 'none'"

/* The first 16 hex digits of the style sheet's SHA-256: its ETag and URL version. */
static const char *css_version(void)
{
	static char v[DIGEST_HEX_LEN + 1];
	if (!v[0]) {
		digest_sha256_hex(ui_css, ui_css_len, v);
		v[16] = '\0';
	}
	return v;
}

const char *ui_css_url(void)
{
	static char url[96];
	if (!url[0])
		snprintf(url, sizeof url, "/static/appr.css?v=%s", css_version());
	return url;
}

/* The headers of every HTML answer, on a fresh status, type and body. */
static void html_answer(struct response *resp, int status)
{
	storage_blob_close(resp->blob);
	resp->blob = NULL;
	resp->delegated = false;
	sb_reset(&resp->headers);
	sb_reset(&resp->body);
	sb_reset(&resp->tail);
	resp->status = status;
	resp->content_type = "text/html; charset=utf-8";
	resp_header_cat(resp, "Content-Security-Policy", CSP, NULL, NULL);
	resp_header_cat(resp, "X-Content-Type-Options", "nosniff", NULL, NULL);
	resp_header_cat(resp, "Referrer-Policy", "no-referrer", NULL, NULL);
	resp_header_cat(resp, "X-Frame-Options", "DENY", NULL, NULL);
	/* what a page shows depends on who asks */
	resp_header_cat(resp, "Cache-Control", "private, no-cache", NULL, NULL);
	resp_header_cat(resp, "Vary", "Authorization", NULL, NULL);
}

void ui_begin(struct request *req, struct response *resp, const char *title, const char *q)
{
	(void)req;
	struct strbuf *o = &resp->body;
	html_answer(resp, 200);
	sb_puts(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<link rel=\"icon\" href=\"data:,\">\n<title>");
	html_txt(o, title);
	sb_puts(o, " - appr</title>\n<link rel=\"stylesheet\" href=\"");
	html_txt(o, ui_css_url());
	sb_puts(o, "\">\n</head>\n<body>\n<header class=\"top\">"
		"<a class=\"brand\" href=\"/\">appr registry</a>"
		"<form method=\"get\" action=\"/search\" role=\"search\">"
		"<input type=\"search\" name=\"q\" aria-label=\"Search packages\" "
		"placeholder=\"Search packages\" maxlength=\"200\" value=\"");
	html_txt(o, q);
	sb_puts(o, "\"><button type=\"submit\">Search</button></form></header>\n<main>\n");
}

void ui_end(struct response *resp)
{
	sb_puts(&resp->body, "</main>\n<footer>appr-fcgi " PACKAGE_VERSION
		" &middot; <a href=\"/\">home</a> &middot; <a href=\"/packages\">all packages</a>"
		"</footer>\n</body>\n</html>\n");
}

void ui_error_page(struct request *req, struct response *resp, const struct appr_error *err)
{
	int status = err->http >= 400 && err->http <= 599 ? err->http : 500;
	char title[64];
	snprintf(title, sizeof title, "%d %s", status, resp_reason(status));
	ui_begin(req, resp, title, NULL);
	resp->status = status;
	struct strbuf *o = &resp->body;
	sb_puts(o, "<h1>");
	html_txt(o, title);
	sb_puts(o, "</h1>\n<p class=\"error\">");
	html_txt(o, err->msg[0] ? err->msg : "internal error");
	sb_puts(o, "</p>\n<p><a href=\"/\">Back to the home page</a></p>\n");
	ui_end(resp);
}

bool ui_wants_html(const struct request *req)
{
	if (req->nseg == 0)           /* but the appr client's discovery: as before */
		return !request_query(req, "appr-discovery");
	const char *s = req->seg[0];
	if (strcmp(s, "packages") == 0 || strcmp(s, "search") == 0 || strcmp(s, "static") == 0)
		return true;
	if (strcmp(s, "api") == 0 || strcmp(s, "v2") == 0 || strcmp(s, "helm") == 0 ||
	    strcmp(s, "version") == 0 || strcmp(s, "cnr") == 0)
		return false;
	const char *accept = req->io->param(req->io->ctx, "HTTP_ACCEPT");
	return accept && strncmp(accept, "text/html", 9) == 0;
}

void ui_url_release(struct strbuf *o, const char *ns, const char *name, const char *release)
{
	sb_puts(o, "/packages/");
	html_url_part(o, ns);
	sb_putc(o, '/');
	html_url_part(o, name);
	sb_putc(o, '/');
	html_url_part(o, release);
}

void ui_link_package(struct strbuf *o, const char *ns, const char *name)
{
	sb_puts(o, "<a href=\"/packages/");
	html_url_part(o, ns);
	sb_putc(o, '/');
	html_url_part(o, name);
	sb_puts(o, "\">");
	html_txt(o, ns);
	sb_putc(o, '/');
	html_txt(o, name);
	sb_puts(o, "</a>");
}

void ui_time(struct strbuf *o, const char *t)
{
	/* "YYYY-MM-DDTHH:MM:SS.ffffff" */
	if (!t || strlen(t) < 16 || t[10] != 'T') {
		html_txt(o, t && *t ? t : "-");
		return;
	}
	sb_puts(o, "<time datetime=\"");
	html_txt_n(o, t, strlen(t) > 19 ? 19 : strlen(t));
	sb_puts(o, "Z\">");
	html_txt_n(o, t, 10);
	sb_putc(o, ' ');
	html_txt_n(o, t + 11, 5);
	sb_puts(o, " UTC</time>");
}

void ui_private_badge(struct strbuf *o)
{
	sb_puts(o, " <span class=\"badge private\" title=\"only readers of its namespace see "
		"it\">private</span>");
}

/* The Host the client asked for, when it looks like a host name or address with an
 * optional port; else the server's name, else "localhost". */
static const char *host_of(struct request *req)
{
	const char *names[] = { "HTTP_HOST", "SERVER_NAME" };
	for (size_t i = 0; i < 2; i++) {
		const char *h = req->io->param(req->io->ctx, names[i]);
		size_t n = h ? strlen(h) : 0;
		if (n == 0 || n > 255)
			continue;
		if (strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")
		    == n)
			return h;
	}
	return "localhost";
}

/* "https" when the web server says the request came over TLS. */
static const char *scheme_of(struct request *req)
{
	const char *https = req->io->param(req->io->ctx, "HTTPS");
	const char *scheme = req->io->param(req->io->ctx, "REQUEST_SCHEME");
	if ((https && (strcmp(https, "on") == 0 || strcmp(https, "1") == 0)) ||
	    (scheme && strcmp(scheme, "https") == 0))
		return "https";
	return "http";
}

/* One command line: its label and the text (escaped) in a <pre> that selects whole. */
static void cmd(struct strbuf *o, const char *label, const char *text)
{
	sb_puts(o, "<dt>");
	html_txt(o, label);
	sb_puts(o, "</dt><dd><pre class=\"cmd\"><code>");
	html_txt(o, text);
	sb_puts(o, "</code></pre></dd>\n");
}

void ui_commands(struct request *req, struct strbuf *o, const char *ns, const char *name,
		 const char *release, bool helm, const char *digest)
{
	struct arena *a = req->arena;
	const char *host = host_of(req), *scheme = scheme_of(req);
	sb_puts(o, "<h2 id=\"commands\">Commands</h2>\n<dl class=\"fields commands\">\n");
	cmd(o, "appr", arena_printf(a, "appr pull %s/%s/%s@%s", host, ns, name, release));
	if (helm) {
		cmd(o, "helm", arena_printf(a, "helm repo add %s %s://%s/helm/%s\n"
					    "helm install %s %s/%s --version %s", ns, scheme, host,
					    ns, name, ns, name, release));
		if (strcmp(req->app->store->ops->name, "filesystem") == 0 &&
		    oci_valid_component(ns) && oci_valid_component(name))
			cmd(o, "helm (OCI)", arena_printf(a, "helm pull oci://%s/%s/%s --version %s%s",
							  host, ns, name, release,
							  /* Helm speaks TLS unless told */
							  strcmp(scheme, "http") == 0 ?
							  " --plain-http" : ""));
	}
	if (digest)
		cmd(o, "curl", arena_printf(a, "curl -fo %s-%s.tar.gz %s://%s/api/v1/packages/"
					    "%s/%s/blobs/sha256/%s", name, release, scheme, host,
					    ns, name, digest));
	sb_puts(o, "</dl>\n");
}

/* GET /static/appr.css */
int h_ui_css(struct request *req, struct response *resp)
{
	char tag[96];
	const char *v = request_query(req, "v");
	snprintf(tag, sizeof tag, "css-%s", css_version());
	sb_reset(&resp->headers);
	resp_header_cat(resp, "X-Content-Type-Options", "nosniff", NULL, NULL);
	/* the pages name it with its version: that URL never changes its bytes */
	if (deliver_validated(req, resp, tag, v && strcmp(v, css_version()) == 0
			      ? "public, max-age=31536000, immutable" : "public, max-age=3600"))
		return 0;
	resp->status = 200;
	resp->content_type = "text/css; charset=utf-8";
	sb_append(&resp->body, ui_css, ui_css_len);
	return 0;
}
