/* h-ui-release.c - GET /packages/{ns}/{name}/{release}: a release's manifests (digest,
 * size, created, channels, metadata) and, for a Helm chart, its Chart.yaml fields, its
 * README.md rendered and its values.yaml, read from the stored archive (lib/ui-files). */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "access.h"
#include "chart.h"
#include "h-ui.h"
#include "handlers.h"
#include "semver.h"
#include "ui-files.h"

#define FILE_MAX (256 * 1024)        /* bytes of README.md, values.yaml shown */
#define METADATA_MAX (64 * 1024)     /* bytes of metadata shown */

/* The Chart.yaml fields of a chart as a definition list (values as text). */
static void chart_fields(struct strbuf *o, const struct ui_file *f)
{
	struct chart *c = NULL;
	struct appr_error e = { 0 };
	if (!f->data || chart_parse(f->data, f->len, &c, &e) < 0) {
		sb_puts(o, "<p class=\"muted\">No valid Chart.yaml");
		if (e.msg[0]) {
			sb_puts(o, ": ");
			html_txt(o, e.msg);
		}
		sb_puts(o, "</p>\n");
		return;
	}
	struct json_object *j = json_tokener_parse(c->json);
	sb_puts(o, "<dl class=\"fields chart\">\n");
	if (j && json_object_is_type(j, json_type_object)) {
		json_object_object_foreach(j, key, val) {
			sb_puts(o, "<dt>");
			html_txt(o, key);
			sb_puts(o, "</dt><dd>");
			if (json_object_is_type(val, json_type_string))
				html_txt(o, json_object_get_string(val));
			else
				html_txt(o, json_object_to_json_string_ext(val,
						JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
			sb_puts(o, "</dd>\n");
		}
	}
	sb_puts(o, "</dl>\n");
	json_object_put(j);
	chart_free(c);
}

/* " (the first N bytes)" when f was cut. */
static void cut_note(struct strbuf *o, const struct ui_file *f)
{
	if (f->cut)
		sb_printf(o, "<p class=\"muted\">Only the first %lu bytes are shown.</p>\n",
			  (unsigned long)f->len);
}

/* A helm manifest's chart: fields, README, values. */
static void chart(struct request *req, struct strbuf *o, const struct storage_manifest *m)
{
	struct ui_chart_files f;
	struct appr_error e = { 0 };
	int rc = ui_chart_files_read(req->app->store, &req->app->cfg, m->digest, FILE_MAX,
				     req->arena, &f, &e);
	if (rc < 0) {
		fprintf(stderr, "appr-fcgi: browse pages: reading the chart files of %s %s: %s\n",
			m->package, m->release, e.msg);
		sb_puts(o, "<p class=\"muted\">The chart's files could not be read: ");
		html_txt(o, e.msg);
		sb_puts(o, "</p>\n");
	}
	sb_puts(o, "<h2>Chart.yaml</h2>\n");
	chart_fields(o, &f.chart_yaml);
	if (f.readme.data) {
		sb_puts(o, "<h2 id=\"readme\">README.md</h2>\n<div class=\"readme\">\n");
		if (html_markdown(o, f.readme.data, f.readme.len) < 0)
			sb_puts(o, "<p class=\"muted\">README.md could not be rendered.</p>\n");
		sb_puts(o, "</div>\n");
		cut_note(o, &f.readme);
	}
	if (f.values.data) {
		sb_puts(o, "<h2 id=\"values\">values.yaml</h2>\n<pre class=\"values\"><code>");
		html_txt_n(o, f.values.data, f.values.len);
		sb_puts(o, "</code></pre>\n");
		cut_note(o, &f.values);
	}
}

/* A manifest's metadata, pretty-printed as text. */
static void metadata(struct strbuf *o, const char *md)
{
	if (!md || strcmp(md, "null") == 0)
		return;
	struct json_object *j = json_tokener_parse(md);
	const char *text = j ? json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
				JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE) : md;
	size_t len = strlen(text);
	sb_puts(o, "<dt>metadata</dt><dd><pre class=\"metadata\"><code>");
	html_txt_n(o, text, len > METADATA_MAX ? METADATA_MAX : len);
	sb_puts(o, "</code></pre></dd>\n");
	json_object_put(j);
}

/* GET /packages/{ns}/{name}/{release} */
int h_ui_release(struct request *req, struct response *resp)
{
	const char *ns, *name, *vis, *release = req->args[2];
	struct storage_manifest *m;
	struct semver v;
	size_t n;
	struct storage *s = req->app->store;
	struct strbuf *o = &resp->body;
	if (ui_package_args(req, &ns, &name) < 0)
		return -1;
	if (!release || semver_parse(release, &v) < 0)
		return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND,
				"no release \"%.64s\" of %.64s/%.64s: not a version", release ? release : "",
				ns, name);
	if (storage_package_visibility(s, ns, name, req->arena, &vis, &req->err) < 0 ||
	    storage_get_manifests(s, ns, name, release, NULL, req->arena, &m, &n, &req->err) < 0)
		return -1;
	if (n == 0)
		return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND, "release %.64s of "
				"%.64s/%.64s not found", release, ns, name);
	const struct storage_manifest *helm = NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].media_type, "helm") == 0)
			helm = &m[i];

	ui_begin(req, resp, arena_printf(req->arena, "%s/%s %s", ns, name, release), NULL);
	sb_puts(o, "<nav class=\"crumbs\"><a href=\"/\">home</a> / <a href=\"/packages/");
	html_url_part(o, ns);
	sb_puts(o, "\">");
	html_txt(o, ns);
	sb_puts(o, "</a> / ");
	ui_link_package(o, ns, name);
	sb_puts(o, " / ");
	html_txt(o, release);
	sb_puts(o, "</nav>\n<h1>");
	html_txt(o, ns);
	sb_putc(o, '/');
	html_txt(o, name);
	sb_puts(o, " <span class=\"muted\">");
	html_txt(o, release);
	sb_puts(o, "</span>");
	if (strcmp(vis, "public") != 0)
		ui_private_badge(o);
	sb_puts(o, "</h1>\n");
	ui_commands(req, o, ns, name, release, helm != NULL, helm ? helm->digest : m[0].digest);

	for (size_t i = 0; i < n; i++) {
		struct storage_manifest one;
		struct appr_error e = { 0 };
		bool chans = storage_get_manifest(s, ns, name, release, m[i].media_type,
						  req->arena, &one, &e) == 0;
		sb_puts(o, "<h2>Manifest <span class=\"badge\">");
		html_txt(o, m[i].media_type);
		sb_puts(o, "</span></h2>\n<dl class=\"fields manifest\">\n<dt>digest</dt>"
			"<dd class=\"mono digest\">sha256:");
		html_txt(o, m[i].digest);
		sb_puts(o, "</dd>\n<dt>size</dt><dd>");
		html_size(o, m[i].size);
		sb_printf(o, " (%lld bytes)</dd>\n<dt>created</dt><dd>", m[i].size);
		ui_time(o, m[i].created_at);
		sb_puts(o, "</dd>\n");
		if (chans && one.n_channels) {
			sb_puts(o, "<dt>current in</dt><dd>");
			for (size_t k = 0; k < one.n_channels; k++) {
				sb_puts(o, "<span class=\"badge current\">");
				html_txt(o, one.channels[k]);
				sb_puts(o, "</span> ");
			}
			sb_puts(o, "</dd>\n");
		}
		metadata(o, m[i].metadata);
		sb_puts(o, "</dl>\n");
	}
	if (helm)
		chart(req, o, helm);
	ui_end(resp);
	return 0;
}
