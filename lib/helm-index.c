/* helm-index.c - index.yaml from stored chart fields: YAML whose chart versions are
 * JSON flow mappings (JSON is YAML), so no YAML emitter is needed per entry. */
#include <string.h>

#include "helm-index.h"
#include "manifest.h"

void helm_index_time(const char *created_at, char out[40])
{
	size_t n = strlen(created_at);
	if (n > 38)
		n = 38;
	memcpy(out, created_at, n);
	out[n] = 'Z';
	out[n + 1] = '\0';
}

/* Copy JSON text into sb with what YAML may not hold raw in a double-quoted scalar
 * (DEL and the C1 controls but NEL) written as \u escapes; JSON has them only
 * inside strings, where the escape means the same. */
static void put_yaml_safe_json(struct strbuf *sb, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s, *end = s + n;
	for (; s < end; s++) {
		unsigned char c = (unsigned char)s[0], d = s + 1 < end ? (unsigned char)s[1] : 0;
		unsigned cp;
		size_t len;
		if (c == 0x7f) {
			cp = 0x7f;
			len = 1;
		} else if (c == 0xc2 && d >= 0x80 && d <= 0x9f && d != 0x85) {
			cp = d;
			len = 2;
		} else {
			continue;
		}
		sb_append(sb, run, (size_t)(s - run));
		char u[7] = { '\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15], 0 };
		sb_puts(sb, u);
		s += len - 1;
		run = s + 1;
	}
	sb_append(sb, run, (size_t)(s - run));
}

void helm_index_write_version(struct strbuf *sb, const struct helm_index_entry *e)
{
	char t[40];
	/* the chart's fields without their closing brace, then ours */
	size_t len = strlen(e->chart_json);
	while (len > 0 && e->chart_json[len - 1] != '}')
		len--;
	if (len)
		put_yaml_safe_json(sb, e->chart_json, len - 1);
	else
		sb_putc(sb, '{');
	helm_index_time(e->created_at, t);
	sb_puts(sb, len > 2 ? ",\"created\":\"" : "\"created\":\"");
	sb_puts(sb, t);
	sb_puts(sb, "\",\"digest\":\"");
	sb_puts(sb, e->digest);
	sb_puts(sb, "\",\"urls\":[\"charts/");
	/* name and version hold no character JSON escapes ([A-Za-z0-9._+-]) */
	sb_puts(sb, e->name);
	sb_putc(sb, '-');
	sb_puts(sb, e->version);
	sb_puts(sb, ".tgz\"]}");
}

void helm_index_write(struct strbuf *sb, const struct helm_index_entry *e, size_t n,
		      const char *generated_at, const char *context_path)
{
	char t[40];
	sb_puts(sb, "apiVersion: v1\nentries:");
	if (n == 0)
		sb_puts(sb, " {}");
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(e[i].name, e[i - 1].name) != 0) {
			sb_puts(sb, "\n  ");
			manifest_write_string(sb, e[i].name);
			sb_putc(sb, ':');
		}
		sb_puts(sb, "\n  - ");
		helm_index_write_version(sb, &e[i]);
	}
	helm_index_time(generated_at, t);
	sb_puts(sb, "\ngenerated: \"");
	sb_puts(sb, t);
	sb_puts(sb, "\"\nserverInfo:\n  contextPath: ");
	manifest_write_string(sb, context_path);
	sb_putc(sb, '\n');
}
