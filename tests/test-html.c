/* test-html.c - the browse pages' escaping, URL encoding and Markdown rendering (fcgi/html.c). */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "html.h"

/* html_txt_n of len bytes of s, as a new string (the buffer's). */
static char *txt(const char *s, size_t len)
{
	struct strbuf b = { 0 };
	html_txt_n(&b, s, len);
	sb_putc(&b, '\0');
	return b.buf;
}

static char *md(const char *s)
{
	struct strbuf b = { 0 };
	cr_assert(eq(int, html_markdown(&b, s, strlen(s)), 0), "html_markdown renders");
	sb_putc(&b, '\0');
	return b.buf;
}

Test(html, escapes_markup)
{
	const char *in = "<script>alert(1)</script> & \"'><img src=x onerror=alert(2)>";
	char *got = txt(in, strlen(in));
	cr_assert(eq(str, got, (char *)"&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;&#39;&gt;"
		     "&lt;img src=x onerror=alert(2)&gt;"), "every markup character escaped");
	free(got);
}

Test(html, keeps_utf8_and_replaces_invalid_bytes)
{
	char *got = txt("caf\xc3\xa9 \xe2\x82\xac", 9);
	cr_assert(eq(str, got, (char *)"caf\xc3\xa9 \xe2\x82\xac"), "valid UTF-8 kept as is");
	free(got);
	/* a lone continuation byte, an overlong '/', a surrogate, a cut sequence */
	const char bad[] = "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82";
	got = txt(bad, sizeof bad - 1);
	cr_assert(eq(str, got, (char *)"a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd"
		     "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "d\xef\xbf\xbd\xef\xbf\xbd"),
		  "each invalid byte becomes U+FFFD");
	free(got);
}

Test(html, drops_nul_and_controls)
{
	char *got = txt("a\0b\x01" "c\td\n", 8);
	cr_assert(eq(str, got, (char *)"ab\xef\xbf\xbd" "c\td\n"), "NUL dropped, C0 replaced, tab and newline kept");
	free(got);
}

Test(html, null_appends_nothing)
{
	struct strbuf b = { 0 };
	html_txt(&b, NULL);
	html_url_part(&b, NULL);
	cr_assert(eq(sz, b.len, 0), "NULL strings append nothing");
	sb_free(&b);
}

Test(html, url_part_encodes_everything_but_unreserved)
{
	struct strbuf b = { 0 };
	html_url_part(&b, "a b/c?d&e#f+g\"h'i<j>~._-Z9");
	sb_putc(&b, '\0');
	cr_assert(eq(str, b.buf, (char *)"a%20b%2Fc%3Fd%26e%23f%2Bg%22h%27i%3Cj%3E~._-Z9"),
		  "reserved bytes percent-encoded");
	sb_free(&b);
}

Test(html, markdown_renders)
{
	char *got = md("# Title\n\nSome *emphasis* and `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
	cr_assert(strstr(got, "<h1>Title</h1>") != NULL, "heading: %s", got);
	cr_assert(strstr(got, "<em>emphasis</em>") != NULL, "emphasis: %s", got);
	cr_assert(strstr(got, "<code>code</code>") != NULL, "code: %s", got);
	cr_assert(strstr(got, "<table>") != NULL, "GitHub tables: %s", got);
	free(got);
}

Test(html, markdown_refuses_raw_html)
{
	char *got = md("<script>alert(1)</script>\n\ntext <img src=x onerror=alert(2)> more\n\n"
		       "<div onclick=\"x\">block</div>\n");
	cr_assert(strstr(got, "<script") == NULL, "no script element: %s", got);
	cr_assert(strstr(got, "<img") == NULL, "no img element: %s", got);
	cr_assert(strstr(got, "<div") == NULL, "no div element: %s", got);
	cr_assert(strstr(got, "&lt;script&gt;") != NULL, "the script shown as text: %s", got);
	free(got);
}

Test(html, markdown_escapes_attributes)
{
	char *got = md("[x](http://e.com/\"onmouseover=\"alert(1))\n");
	cr_assert(strstr(got, "\"onmouseover") == NULL, "a quote cannot end href: %s", got);
	free(got);
}

Test(html, markdown_invalid_utf8)
{
	char *got = md("bad \xff\xfe bytes\n");
	cr_assert(strstr(got, "\xff") == NULL, "invalid bytes replaced: %s", got);
	free(got);
}

Test(html, sizes)
{
	struct strbuf b = { 0 };
	html_size(&b, 512);
	sb_puts(&b, "|");
	html_size(&b, 1536);
	sb_puts(&b, "|");
	html_size(&b, 20LL << 20);
	cr_assert(eq(str, b.buf, (char *)"512 B|1.5 KiB|20.0 MiB"), "sizes for people");
	sb_free(&b);
}
