/* manifest.c - JSON rendering of manifests, package lists and channels. */
#include <stdio.h>
#include <string.h>

#include "manifest.h"

void manifest_write_string(struct strbuf *sb, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	sb_putc(sb, '"');
	const char *run = s;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		sb_append(sb, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"': sb_puts(sb, "\\\""); break;
		case '\\': sb_puts(sb, "\\\\"); break;
		case '\n': sb_puts(sb, "\\n"); break;
		case '\r': sb_puts(sb, "\\r"); break;
		case '\t': sb_puts(sb, "\\t"); break;
		default: {
			char u[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };
			sb_puts(sb, u);
		}
		}
	}
	sb_append(sb, run, (size_t)(s - run));
	sb_putc(sb, '"');
}

static void write_strings(struct strbuf *sb, const char *const *v, size_t n)
{
	sb_putc(sb, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_putc(sb, ',');
		manifest_write_string(sb, v[i]);
	}
	sb_putc(sb, ']');
}

/* "key":"value" (null for NULL), after a comma unless first */
static void member(struct strbuf *sb, const char *key, const char *value, bool first)
{
	sb_puts(sb, first ? "\"" : ",\"");
	sb_puts(sb, key);
	sb_puts(sb, "\":");
	if (value)
		manifest_write_string(sb, value);
	else
		sb_puts(sb, "null");
}

void manifest_write(struct strbuf *sb, const struct storage_manifest *m, bool with_channels)
{
	sb_putc(sb, '{');
	member(sb, "package", m->package, true);
	member(sb, "release", m->release, false);
	sb_puts(sb, ",\"mediaType\":\"application/vnd.appr.package-manifest.");
	sb_puts(sb, m->media_type);         /* validated [a-z0-9._-] */
	sb_puts(sb, ".v0.json\",\"content\":{\"mediaType\":\"application/vnd.appr.package.");
	sb_puts(sb, m->media_type);
	sb_printf(sb, ".v0.tar+gzip\",\"digest\":\"%s\",\"size\":%lld,\"urls\":[]}", m->digest,
		  m->size);
	sb_puts(sb, ",\"metadata\":");
	sb_puts(sb, m->metadata ? m->metadata : "null");   /* JSON text, validated on push */
	member(sb, "created_at", m->created_at, false);
	if (with_channels) {
		sb_puts(sb, ",\"channels\":");
		write_strings(sb, m->channels, m->n_channels);
	}
	sb_putc(sb, '}');
}

void manifest_write_package(struct strbuf *sb, const struct storage_package *p)
{
	sb_putc(sb, '{');
	member(sb, "name", p->package, true);
	member(sb, "default", p->default_release, false);
	sb_puts(sb, ",\"releases\":");
	write_strings(sb, p->releases, p->n_releases);
	sb_puts(sb, ",\"manifests\":");
	write_strings(sb, p->media_types, p->n_media_types);
	member(sb, "visibility", p->visibility ? p->visibility : "public", false);
	member(sb, "created_at", p->created_at, false);
	sb_putc(sb, '}');
}

void manifest_write_channel(struct strbuf *sb, const struct storage_channel *c)
{
	sb_putc(sb, '{');
	member(sb, "name", c->name, true);
	member(sb, "current", c->current, false);
	sb_puts(sb, ",\"releases\":");
	write_strings(sb, c->releases, c->n_releases);
	sb_putc(sb, '}');
}
