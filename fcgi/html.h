/* html.h - the one place HTML text is escaped, URL parts are encoded and Markdown is
 * rendered (md4c, raw HTML refused) for the browse pages (fcgi/h-ui*.c), like cgit's
 * html.c. Every byte a page takes from a request or the store goes through here. */
#ifndef APPR_FCGI_HTML_H
#define APPR_FCGI_HTML_H

#include <stddef.h>

#include "util.h"

/* Append s (len bytes) to out, escaped for HTML text and for double- or single-quoted
 * attribute values: & < > " ' become entities; NUL bytes are dropped and bytes that
 * are not valid UTF-8 become U+FFFD, so the page stays valid UTF-8 whatever is stored. */
void html_txt_n(struct strbuf *out, const char *s, size_t len);
/* html_txt_n of a NUL-terminated s; NULL appends nothing. */
void html_txt(struct strbuf *out, const char *s);

/* Append s percent-encoded for one URL path segment or query value: every byte but
 * A-Z a-z 0-9 - . _ ~ becomes %XX (so '/', '?', '&', '#', '+' and quotes never pass).
 * The result needs no further escaping inside an attribute. NULL appends nothing. */
void html_url_part(struct strbuf *out, const char *s);

/* Append the Markdown text md (len bytes) rendered as HTML (CommonMark with GitHub's
 * tables, strikethrough and autolinks), raw HTML blocks and inline HTML refused
 * (shown as text), so nothing the author wrote becomes markup of its own. Returns 0,
 * or -1 when md4c failed (out then holds what was rendered before). */
int html_markdown(struct strbuf *out, const char *md, size_t len);

/* Append a byte count for people: "512 B", "1.5 KiB", "20.0 MiB". */
void html_size(struct strbuf *out, long long bytes);

#endif
