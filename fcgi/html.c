/* html.c - HTML escaping, URL part encoding and Markdown rendering for the browse pages. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <md4c-html.h>

#include "html.h"

#define REPLACEMENT "\xef\xbf\xbd"   /* U+FFFD */

/* The length of the valid UTF-8 sequence at s (at most len bytes), or 0 when the
 * bytes there are not one (overlong forms, surrogates and code points above
 * U+10FFFF are not). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* s as valid UTF-8 without NUL and C0 controls (but tab, newline, carriage return),
 * escaped for HTML when escape is set. */
static void put_text(struct strbuf *out, const char *s, size_t len, bool escape)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;     /* bytes p[i - run .. i) are copied as they are */
	while (i < len) {
		unsigned char c = p[i];
		const char *rep = NULL;
		size_t n = 1;
		if (c >= 0x80) {
			n = utf8_len(p + i, len - i);
			if (n == 0) {
				rep = REPLACEMENT;
				n = 1;
			}
		} else if (c == 0) {
			rep = "";
		} else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			rep = REPLACEMENT;
		} else if (c == 0x7f) {
			rep = REPLACEMENT;
		} else if (escape) {
			switch (c) {
			case '&': rep = "&amp;"; break;
			case '<': rep = "&lt;"; break;
			case '>': rep = "&gt;"; break;
			case '"': rep = "&quot;"; break;
			case '\'': rep = "&#39;"; break;
			default: break;
			}
		}
		if (rep) {
			sb_append(out, p + i - run, run);
			sb_puts(out, rep);
			run = 0;
		} else {
			run += n;
		}
		i += n;
	}
	sb_append(out, p + i - run, run);
}

void html_txt_n(struct strbuf *out, const char *s, size_t len)
{
	if (s)
		put_text(out, s, len, true);
}

void html_txt(struct strbuf *out, const char *s)
{
	if (s)
		put_text(out, s, strlen(s), true);
}

void html_url_part(struct strbuf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!s)
		return;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			sb_putc(out, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			sb_append(out, e, 3);
		}
	}
}

/* md_html's output callback: pieces of the rendered page (already escaped by md4c). */
static void md_out(const MD_CHAR *text, MD_SIZE size, void *ctx)
{
	sb_append(ctx, text, size);
}

int html_markdown(struct strbuf *out, const char *md, size_t len)
{
	struct strbuf clean = { 0 };
	int rc;
	/* md4c passes bytes through: give it valid UTF-8 only */
	put_text(&clean, md ? md : "", md ? len : 0, false);
	rc = md_html(clean.buf ? clean.buf : "", (MD_SIZE)clean.len, md_out, out,
		     MD_DIALECT_GITHUB | MD_FLAG_NOHTML, MD_HTML_FLAG_SKIP_UTF8_BOM);
	sb_free(&clean);
	return rc == 0 ? 0 : -1;
}

void html_size(struct strbuf *out, long long bytes)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	if (bytes < 1024) {
		sb_printf(out, "%lld B", bytes < 0 ? 0 : bytes);
		return;
	}
	double v = (double)bytes / 1024;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof unit / sizeof unit[0]) {
		v /= 1024;
		u++;
	}
	sb_printf(out, "%.1f %s", v, unit[u]);
}
