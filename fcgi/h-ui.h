/* h-ui.h - what the browse pages (fcgi/h-ui*.c, read-only HTML in the style of cgit)
 * share: the page frame, the error page, links, times and the ready-to-copy commands.
 * Every string a page shows goes through html.h. */
#ifndef APPR_FCGI_H_UI_H
#define APPR_FCGI_H_UI_H

#include <stdbool.h>

#include "html.h"
#include "request.h"
#include "response.h"
#include "storage.h"

/* Rows a listing page shows (namespace, all packages, search results). */
#define UI_PAGE 50

/* Start an HTML answer: status 200, the security headers (CSP, nosniff...), and the
 * page up to its main content (title, the top bar with the search box holding q, NULL
 * for none). The page is written to resp->body; ui_end closes it. */
void ui_begin(struct request *req, struct response *resp, const char *title, const char *q);
void ui_end(struct response *resp);

/* The HTML page of err (its status, message; a 401 also gets the challenge from the
 * router). Used by the router for every failing browse route and for unknown pages. */
void ui_error_page(struct request *req, struct response *resp, const struct appr_error *err);

/* Whether an unmatched path should be answered with the HTML 404 page: the browse
 * pages' own paths, or a client that asks for HTML first (a browser). */
bool ui_wants_html(const struct request *req);

/* Append a link to a package page, "ns/name" as its text. */
void ui_link_package(struct strbuf *o, const char *ns, const char *name);
/* Append the URL path of a release page. */
void ui_url_release(struct strbuf *o, const char *ns, const char *name, const char *release);
/* Append a created_at time (util_utc_now form) for people: "2026-11-29 05:13 UTC". */
void ui_time(struct strbuf *o, const char *created_at);
/* Append a "private" badge. */
void ui_private_badge(struct strbuf *o);

/* Append the ready-to-copy commands for release of ns/name: appr pull; with helm,
 * helm repo add + helm install and, on the SQLite store with an OCI-spellable name,
 * helm pull oci://; with digest (NULL: none) a curl of that blob. */
void ui_commands(struct request *req, struct strbuf *o, const char *ns, const char *name,
		 const char *release, bool helm, const char *digest);

/* args[0], args[1] as a namespace and package name (404 otherwise). */
int ui_package_args(struct request *req, const char **ns, const char **name);


/* The style sheet's URL, with its version in the query (changes with its bytes). */
const char *ui_css_url(void);

#endif
