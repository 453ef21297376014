/* test-chart.c - Chart.yaml parsing and the chart checks of Helm's loader, on archives
 * made by the system's tar and gzip and streamed through targz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <json-c/json.h>

#include "chart.h"
#include "error.h"
#include "targz.h"
#include "util.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test-chart.XXXXXX");
	cr_assert(not(eq(ptr, mkdtemp(tmpdir), NULL)), "mkdtemp");
}

static void remove_tmpdir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	cr_assert(eq(int, system(cmd), 0), "rm -rf the temp dir");
}

TestSuite(chart, .init = make_tmpdir, .fini = remove_tmpdir);

/* Parse text; the JSON object on success (caller puts it), NULL on failure with e. */
static struct json_object *parse(const char *text, struct appr_error *e)
{
	struct chart *c = NULL;
	memset(e, 0, sizeof *e);
	if (chart_parse(text, strlen(text), &c, e) < 0) {
		cr_assert(eq(ptr, c, NULL), "no chart on failure");
		return NULL;
	}
	struct json_object *o = json_tokener_parse(c->json);
	cr_assert(not(eq(ptr, o, NULL)), "the chart's JSON parses: %s", c->json);
	cr_assert(eq(str, c->name, (char *)json_object_get_string(json_object_object_get(o, "name"))),
		  "name is the JSON's name");
	chart_free(c);
	return o;
}

static const char *jpath(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = json_object_object_get(o, a);
	if (v && b)
		v = json_object_object_get(v, b);
	return v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
						  JSON_C_TO_STRING_NOSLASHESCAPE) : "absent";
}

Test(chart, every_index_field)
{
	struct appr_error e;
	struct json_object *o = parse(
		"apiVersion: v2\n"
		"name: web\n"
		"version: 1.2.3-rc.1+b5\n"
		"appVersion: 1.10\n"
		"description: \"A web \\\"app\\\"\"\n"
		"type: application\n"
		"keywords: [web, http]\n"
		"home: https://example.org/web\n"
		"sources:\n  - https://example.org/src\n"
		"icon: https://example.org/icon.png\n"
		"maintainers:\n  - name: Ann\n    email: ann@example.org\n    extra: dropped\n"
		"dependencies:\n  - name: db\n    version: ~1.0\n    repository: https://x.example\n"
		"    condition: db.enabled\n    tags: [back]\n    enabled: true\n    alias: store\n"
		"    import-values:\n      - child: a\n        parent: b\n      - data\n"
		"deprecated: yes\n"
		"annotations:\n  category: web\n  n: 5\n"
		"kubeVersion: \">=1.20\"\n"
		"condition: web.on\n"
		"tags: front\n"
		"unknownKey: 1\n", &e);
	cr_assert(not(eq(ptr, o, NULL)), "a full Chart.yaml parses: %s", e.msg);
	cr_assert(eq(str, (char *)jpath(o, "version", NULL), (char *)"\"1.2.3-rc.1+b5\""), "version");
	cr_assert(eq(str, (char *)jpath(o, "appVersion", NULL), (char *)"\"1.10\""), "appVersion keeps its text");
	cr_assert(eq(str, (char *)jpath(o, "description", NULL), (char *)"\"A web \\\"app\\\"\""), "description");
	cr_assert(eq(str, (char *)jpath(o, "keywords", NULL), (char *)"[\"web\",\"http\"]"), "keywords");
	cr_assert(eq(str, (char *)jpath(o, "sources", NULL), (char *)"[\"https://example.org/src\"]"), "sources");
	cr_assert(eq(str, (char *)jpath(o, "maintainers", NULL),
		     (char *)"[{\"name\":\"Ann\",\"email\":\"ann@example.org\"}]"), "maintainers without unknown keys");
	cr_assert(eq(str, (char *)jpath(o, "dependencies", NULL),
		     (char *)"[{\"name\":\"db\",\"version\":\"~1.0\",\"repository\":\"https://x.example\","
		     "\"condition\":\"db.enabled\",\"tags\":[\"back\"],\"enabled\":true,\"alias\":\"store\","
		     "\"import-values\":[{\"child\":\"a\",\"parent\":\"b\"},\"data\"]}]"), "dependencies");
	cr_assert(eq(str, (char *)jpath(o, "deprecated", NULL), (char *)"true"), "deprecated is a boolean");
	cr_assert(eq(str, (char *)jpath(o, "annotations", NULL), (char *)"{\"category\":\"web\",\"n\":\"5\"}"),
		  "annotations are strings");
	cr_assert(eq(str, (char *)jpath(o, "kubeVersion", NULL), (char *)"\">=1.20\""), "kubeVersion");
	cr_assert(eq(str, (char *)jpath(o, "tags", NULL), (char *)"\"front\""), "tags");
	cr_assert(eq(str, (char *)jpath(o, "unknownKey", NULL), (char *)"absent"), "unknown keys left out");
	cr_assert(eq(int, json_object_object_length(o), 17), "17 fields, nothing else");
	json_object_put(o);
}

Test(chart, minimal_and_nulls)
{
	struct appr_error e0;
	struct json_object *o0 = parse("name: a\nversion: 1.0.0\n", &e0);
	cr_assert(not(eq(ptr, o0, NULL)), "no apiVersion is a Helm 2 chart: %s", e0.msg);
	cr_assert(eq(str, (char *)jpath(o0, "apiVersion", NULL), (char *)"\"v1\""), "taken as v1");
	json_object_put(o0);
	struct appr_error e;
	struct json_object *o = parse("apiVersion: v1\nname: a\nversion: 0.1.0\nicon: ~\nkeywords:\n", &e);
	cr_assert(not(eq(ptr, o, NULL)), "a minimal v1 chart: %s", e.msg);
	cr_assert(eq(int, json_object_object_length(o), 3), "null fields are left out");
	json_object_put(o);
}

Test(chart, refused)
{
	static const struct { const char *yaml, *why; } bad[] = {
		{ "apiVersion: v3\nname: a\nversion: 1.0.0\n", "neither v1 nor v2" },
		{ "apiVersion: v2\nversion: 1.0.0\n", "no name" },
		{ "apiVersion: v2\nname: a\n", "no version" },
		{ "apiVersion: v2\nname: a\nversion: 1.0\n", "semantic version" },
		{ "apiVersion: v2\nname: a\nversion: v1.0.0\n", "semantic version" },
		{ "apiVersion: v2\nname: ../x\nversion: 1.0.0\n", "basename" },
		{ "apiVersion: v2\nname: a/b\nversion: 1.0.0\n", "basename" },
		{ "apiVersion: v2\nname: ..\nversion: 1.0.0\n", "basename" },
		{ "apiVersion: v2\nname: a\nversion: 1.0.0\ntype: plugin\n", "type" },
		{ "apiVersion: v2\nname: a\nversion: 1.0.0\nmaintainers:\n  - email: x@y\n", "maintainer" },
		{ "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n  - version: 1\n", "dependency" },
		{ "apiVersion: v2\nname: a\nversion: 1.0.0\nkeywords: {a: b}\n", "list of strings" },
		{ "apiVersion: v2\nname: [a]\nversion: 1.0.0\n", "must be a string" },
		{ "apiVersion: v2\nname: a\nversion: 1.0.0\ndeprecated: maybe\n", "true or false" },
		{ "- a\n- b\n", "mapping" },
		{ "", "empty" },
		{ "apiVersion: v2\nname: 'a\nversion: 1.0.0\n", "not YAML" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct appr_error e;
		struct json_object *o = parse(bad[i].yaml, &e);
		cr_assert(eq(ptr, o, NULL), "refused: %s", bad[i].yaml);
		cr_assert(eq(int, e.http, 422), "422 for %s", bad[i].yaml);
		cr_assert(eq(str, (char *)e.code, (char *)APPR_E_INVALID_CHART), "invalid-chart for %s", bad[i].yaml);
		cr_assert(not(eq(ptr, strstr(e.msg, bad[i].why), NULL)), "says \"%s\": %s", bad[i].why, e.msg);
	}
}

Test(chart, alias_bomb_is_bounded)
{
	/* a0 has 10 scalars, each a<i> 10 aliases of a<i-1>: a8 stands for 10^9 nodes */
	struct strbuf y = { 0 };
	sb_puts(&y, "apiVersion: v2\nname: a\nversion: 1.0.0\nx0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 9; i++) {
		sb_printf(&y, "x%d: &a%d [", i, i);
		for (int k = 0; k < 10; k++)
			sb_printf(&y, "%s*a%d", k ? ", " : "", i - 1);
		sb_puts(&y, "]\n");
	}
	sb_puts(&y, "dependencies:\n  - name: d\n    import-values: *a8\n");
	struct appr_error e;
	struct json_object *o = parse(y.buf, &e);
	cr_assert(eq(ptr, o, NULL), "10^9 aliased nodes are refused, not expanded");
	cr_assert(not(eq(ptr, strstr(e.msg, "too large"), NULL)), "says the document is too large: %s", e.msg);
	sb_free(&y);
}

/* ---- archives ---- */

static void write_file(const char *rel, const char *content, size_t len)
{
	char path[256], cmd[512];
	snprintf(path, sizeof path, "%s/src/%s", tmpdir, rel);
	snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
	cr_assert(eq(int, system(cmd), 0), "mkdir for %s", rel);
	FILE *f = fopen(path, "wb");
	cr_assert(not(eq(ptr, f, NULL)), "create %s", path);
	if (len)
		cr_assert(eq(sz, fwrite(content, 1, len, f), len), "write %s", path);
	fclose(f);
}

/* tar -czf of the named members of src/, streamed through targz with a chart reader:
 * 0 and the chart, or -1 and e. The archive itself must always pass targz. */
static int read_chart(const char *members, struct chart **c, struct appr_error *e)
{
	char cmd[512], path[128];
	snprintf(path, sizeof path, "%s/out.tgz", tmpdir);
	snprintf(cmd, sizeof cmd, "tar -C '%s/src' -czf '%s' %s", tmpdir, path, members);
	cr_assert(eq(int, system(cmd), 0), "%s", cmd);
	FILE *f = fopen(path, "rb");
	cr_assert(not(eq(ptr, f, NULL)), "open the archive");
	struct targz_limits lim = { .max_uncompressed = 1ULL << 30 };
	struct targz *tz = targz_new(&lim);
	struct chart_reader *r = chart_reader_new();
	chart_reader_attach(r, tz);
	unsigned char buf[1000];              /* small pieces: entries span feeds */
	size_t n;
	memset(e, 0, sizeof *e);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		cr_assert(eq(int, targz_feed(tz, buf, n, e), 0), "targz takes it: %s", e->msg);
	fclose(f);
	char digest[DIGEST_HEX_LEN + 1];
	cr_assert(eq(int, targz_finish(tz, digest, e), 0), "targz finishes: %s", e->msg);
	int rc = chart_reader_finish(r, c, e);
	chart_reader_free(r);
	targz_free(tz);
	return rc;
}

static const char chart_yaml[] = "apiVersion: v2\nname: web\nversion: 1.0.0\n";

Test(chart, archive_ok)
{
	struct chart *c;
	struct appr_error e;
	write_file("web/Chart.yaml", chart_yaml, strlen(chart_yaml));
	write_file("web/values.yaml", "a: 1\n", 5);
	write_file("web/templates/svc.yaml", "kind: Service\n", 14);
	cr_assert(eq(int, read_chart("web", &c, &e), 0), "a chart folder: %s", e.msg);
	cr_assert(eq(str, c->name, (char *)"web"), "its name");
	cr_assert(eq(str, c->version, (char *)"1.0.0"), "its version");
	chart_free(c);
	cr_assert(eq(int, read_chart("./web", &c, &e), 0), "./web/... names: %s", e.msg);
	chart_free(c);
}

Test(chart, archive_refused)
{
	struct chart *c;
	struct appr_error e;
	write_file("web/Chart.yaml", chart_yaml, strlen(chart_yaml));
	write_file("other/x.yaml", "x: 1\n", 5);
	write_file("Chart.yaml", chart_yaml, strlen(chart_yaml));
	write_file("nochart/values.yaml", "a: 1\n", 5);
	write_file("bad/Chart.yaml", "apiVersion: v2\nname: bad\n", 25);

	cr_assert(eq(int, read_chart("web other", &c, &e), -1), "two top folders refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "one top folder"), NULL)), "says so: %s", e.msg);
	cr_assert(eq(int, read_chart("Chart.yaml", &c, &e), -1), "Chart.yaml at the root refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "archive root"), NULL)), "says so: %s", e.msg);
	cr_assert(eq(int, read_chart("nochart", &c, &e), -1), "no Chart.yaml refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "no Chart.yaml"), NULL)), "says so: %s", e.msg);
	cr_assert(eq(int, read_chart("bad", &c, &e), -1), "a bad Chart.yaml refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "no version"), NULL)), "says why: %s", e.msg);
	cr_assert(eq(int, e.http, 422), "422");

	size_t big = (5u << 20) + 1;
	char *zeros = xcalloc(1, big);
	write_file("web/big.bin", zeros, big);
	free(zeros);
	cr_assert(eq(int, read_chart("web", &c, &e), -1), "a file above 5 MiB refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "5 MiB"), NULL)), "says so: %s", e.msg);
}
