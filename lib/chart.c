/* chart.c - Helm charts: Chart.yaml through libyaml into the index fields, and the
 * archive checks of Helm's loader, run while the archive streams through targz. */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "chart.h"
#include "error.h"
#include "semver.h"
#include "targz.h"
#include "util.h"

#define MAX_NODES 100000        /* node visits while converting (aliases can repeat) */

/* The conversion of one Chart.yaml document. */
struct conv {
	yaml_document_t *doc;
	size_t visits;
	struct appr_error *err;
};

static int invalid(struct appr_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int invalid(struct appr_error *err, const char *fmt, ...)
{
	va_list ap;
	char msg[140];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return appr_err(err, 422, APPR_E_INVALID_CHART, "not a valid Helm chart: %s", msg);
}

static yaml_node_t *node(struct conv *c, int id)
{
	if (++c->visits > MAX_NODES)
		return NULL;
	return yaml_document_get_node(c->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A plain scalar YAML reads as null. */
static bool is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = scalar(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

/* A YAML 1.1 boolean, as Go's yaml reads one: 1 true, 0 false, -1 not a boolean. */
static int boolean(const yaml_node_t *n)
{
	static const char *const yes[] = { "true", "yes", "on", "y" };
	static const char *const no[] = { "false", "no", "off", "n" };
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(scalar(n), yes[i]))
			return 1;
		if (!strcasecmp(scalar(n), no[i]))
			return 0;
	}
	return -1;
}

/* A string field: a scalar's text (1.10 stays "1.10"). NULL when null (left out). */
static int to_string(struct conv *c, const yaml_node_t *n, const char *what,
		     struct json_object **out)
{
	*out = NULL;
	if (is_null(n))
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return invalid(c->err, "Chart.yaml %s must be a string", what);
	*out = json_object_new_string_len(scalar(n), (int)n->data.scalar.length);
	return 0;
}

static int to_bool(struct conv *c, const yaml_node_t *n, const char *what,
		   struct json_object **out)
{
	*out = NULL;
	if (is_null(n))
		return 0;
	int b = boolean(n);
	if (b < 0)
		return invalid(c->err, "Chart.yaml %s must be true or false", what);
	*out = json_object_new_boolean(b);
	return 0;
}

static int to_string_list(struct conv *c, const yaml_node_t *n, const char *what,
			  struct json_object **out)
{
	*out = NULL;
	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return invalid(c->err, "Chart.yaml %s must be a list of strings", what);
	struct json_object *a = json_object_new_array();
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = node(c, *it);
		struct json_object *s;
		if (!e || to_string(c, e, what, &s) < 0) {
			json_object_put(a);
			return e ? -1 : invalid(c->err, "Chart.yaml is too large a document");
		}
		json_object_array_add(a, s ? s : json_object_new_string(""));
	}
	*out = a;
	return 0;
}

/* Any YAML value as JSON (import-values): scalars as strings, except plain
 * booleans and nulls. Mapping keys must be scalars. */
static int to_any(struct conv *c, const yaml_node_t *n, struct json_object **out)
{
	*out = NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		if (is_null(n))
			return 0;
		if (boolean(n) >= 0 && n->data.scalar.length > 1)
			*out = json_object_new_boolean(boolean(n));
		else
			*out = json_object_new_string_len(scalar(n), (int)n->data.scalar.length);
		return 0;
	case YAML_SEQUENCE_NODE: {
		struct json_object *a = json_object_new_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			yaml_node_t *e = node(c, *it);
			struct json_object *v;
			if (!e || to_any(c, e, &v) < 0) {
				json_object_put(a);
				return e ? -1 : invalid(c->err, "Chart.yaml is too large a document");
			}
			json_object_array_add(a, v);
		}
		*out = a;
		return 0;
	}
	case YAML_MAPPING_NODE: {
		struct json_object *o = json_object_new_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
			struct json_object *jv;
			if (!k || !v) {
				json_object_put(o);
				return invalid(c->err, "Chart.yaml is too large a document");
			}
			if (k->type != YAML_SCALAR_NODE || to_any(c, v, &jv) < 0) {
				json_object_put(o);
				return k->type != YAML_SCALAR_NODE
					? invalid(c->err, "Chart.yaml has a key that is not a string") : -1;
			}
			json_object_object_add(o, scalar(k), jv);
		}
		*out = o;
		return 0;
	}
	default:
		return invalid(c->err, "Chart.yaml holds an empty node");
	}
}

enum ftype { F_STRING, F_BOOL, F_STRINGS, F_ANY, F_STRING_MAP, F_MAINTAINERS, F_DEPENDENCIES };

/* The fields of one kind of object, as Helm's types declare them. */
struct field {
	const char *key;
	enum ftype type;
};

static const struct field chart_fields[] = {
	{ "name", F_STRING }, { "version", F_STRING }, { "appVersion", F_STRING },
	{ "apiVersion", F_STRING }, { "description", F_STRING }, { "type", F_STRING },
	{ "keywords", F_STRINGS }, { "home", F_STRING }, { "sources", F_STRINGS },
	{ "icon", F_STRING }, { "maintainers", F_MAINTAINERS },
	{ "dependencies", F_DEPENDENCIES }, { "deprecated", F_BOOL },
	{ "annotations", F_STRING_MAP }, { "kubeVersion", F_STRING },
	{ "condition", F_STRING }, { "tags", F_STRING },
};
static const struct field maintainer_fields[] = {
	{ "name", F_STRING }, { "email", F_STRING }, { "url", F_STRING },
};
static const struct field dependency_fields[] = {
	{ "name", F_STRING }, { "version", F_STRING }, { "repository", F_STRING },
	{ "condition", F_STRING }, { "tags", F_STRINGS }, { "enabled", F_BOOL },
	{ "import-values", F_ANY }, { "alias", F_STRING },
};

static int to_object(struct conv *c, const yaml_node_t *n, const char *what,
		     const struct field *fields, size_t nfields, struct json_object **out);

static int to_list_of(struct conv *c, const yaml_node_t *n, const char *what,
		      const struct field *fields, size_t nfields, struct json_object **out)
{
	*out = NULL;
	if (is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return invalid(c->err, "Chart.yaml %s must be a list", what);
	struct json_object *a = json_object_new_array();
	for (yaml_node_item_t *it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = node(c, *it);
		struct json_object *o;
		if (!e || to_object(c, e, what, fields, nfields, &o) < 0) {
			json_object_put(a);
			return e ? -1 : invalid(c->err, "Chart.yaml is too large a document");
		}
		if (!o) {
			json_object_put(a);
			return invalid(c->err, "Chart.yaml has an empty %s entry", what);
		}
		json_object_array_add(a, o);
	}
	*out = a;
	return 0;
}

static int to_field(struct conv *c, const yaml_node_t *n, const struct field *f,
		    struct json_object **out)
{
	switch (f->type) {
	case F_STRING:
		return to_string(c, n, f->key, out);
	case F_BOOL:
		return to_bool(c, n, f->key, out);
	case F_STRINGS:
		return to_string_list(c, n, f->key, out);
	case F_ANY:
		return to_any(c, n, out);
	case F_STRING_MAP: {
		*out = NULL;
		if (is_null(n))
			return 0;
		if (n->type != YAML_MAPPING_NODE)
			return invalid(c->err, "Chart.yaml %s must be a mapping of strings", f->key);
		struct json_object *o = json_object_new_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
			struct json_object *s = NULL;
			if (!k || !v || k->type != YAML_SCALAR_NODE ||
			    to_string(c, v, f->key, &s) < 0) {
				json_object_put(o);
				return c->err && c->err->http ? -1
					: invalid(c->err, "Chart.yaml %s must be a mapping of strings", f->key);
			}
			json_object_object_add(o, scalar(k), s ? s : json_object_new_string(""));
		}
		*out = o;
		return 0;
	}
	case F_MAINTAINERS:
		return to_list_of(c, n, f->key, maintainer_fields,
				  sizeof maintainer_fields / sizeof maintainer_fields[0], out);
	case F_DEPENDENCIES:
		return to_list_of(c, n, f->key, dependency_fields,
				  sizeof dependency_fields / sizeof dependency_fields[0], out);
	}
	return -1;
}

/* A mapping with the known fields; the others are left out. NULL when null. */
static int to_object(struct conv *c, const yaml_node_t *n, const char *what,
		     const struct field *fields, size_t nfields, struct json_object **out)
{
	*out = NULL;
	if (is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return invalid(c->err, "%s must be a mapping", what);
	struct json_object *o = json_object_new_object();
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		if (!k || !v) {
			json_object_put(o);
			return invalid(c->err, "Chart.yaml is too large a document");
		}
		if (k->type != YAML_SCALAR_NODE)
			continue;
		for (size_t i = 0; i < nfields; i++) {
			if (strcmp(scalar(k), fields[i].key) != 0)
				continue;
			struct json_object *jv;
			if (to_field(c, v, &fields[i], &jv) < 0) {
				json_object_put(o);
				return -1;
			}
			if (jv)                /* a later duplicate key wins, as in Go's yaml */
				json_object_object_add(o, fields[i].key, jv);
			else
				json_object_object_del(o, fields[i].key);
			break;
		}
	}
	*out = o;
	return 0;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Helm's metadata rules over the converted fields. */
static int validate(struct json_object *o, struct appr_error *err)
{
	const char *name = get_str(o, "name"), *version = get_str(o, "version");
	const char *api = get_str(o, "apiVersion"), *type = get_str(o, "type");
	struct semver v;
	if (!api || !*api) {
		/* Helm's loader takes a chart without one as v1 (Helm 2 charts) */
		json_object_object_add(o, "apiVersion", json_object_new_string("v1"));
		api = "v1";
	}
	if (strcmp(api, "v1") != 0 && strcmp(api, "v2") != 0)
		return invalid(err, "Chart.yaml apiVersion \"%.20s\" is neither v1 nor v2", api);
	if (!name || !*name)
		return invalid(err, "Chart.yaml has no name");
	if (strchr(name, '/') || strchr(name, '\\') || !strcmp(name, ".") || !strcmp(name, ".."))
		return invalid(err, "chart name \"%.64s\" is not its own basename", name);
	if (!version || !*version)
		return invalid(err, "Chart.yaml has no version");
	if (semver_parse(version, &v) < 0)
		return invalid(err, "chart version \"%.64s\" is not a semantic version like 1.2.3",
			       version);
	if (type && *type && strcmp(type, "application") != 0 && strcmp(type, "library") != 0)
		return invalid(err, "chart type \"%.32s\" is neither application nor library", type);
	struct json_object *m;
	if (json_object_object_get_ex(o, "maintainers", &m))
		for (size_t i = 0; i < json_object_array_length(m); i++) {
			const char *mn = get_str(json_object_array_get_idx(m, i), "name");
			if (!mn || !*mn)
				return invalid(err, "each maintainer in Chart.yaml needs a name");
		}
	struct json_object *d;
	if (json_object_object_get_ex(o, "dependencies", &d))
		for (size_t i = 0; i < json_object_array_length(d); i++) {
			const char *dn = get_str(json_object_array_get_idx(d, i), "name");
			if (!dn || !*dn)
				return invalid(err, "each dependency in Chart.yaml needs a name");
		}
	return 0;
}

int chart_parse(const char *yaml, size_t len, struct chart **out, struct appr_error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct json_object *o = NULL;
	int rc = -1;

	*out = NULL;
	if (len > CHART_YAML_MAX)
		return invalid(err, "Chart.yaml is larger than %u bytes", CHART_YAML_MAX);
	if (!yaml_parser_initialize(&parser))
		return appr_err(err, 500, APPR_E_INTERNAL, "libyaml: cannot initialise a parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, &doc)) {
		invalid(err, "Chart.yaml is not YAML (line %lu: %.60s)",
			(unsigned long)parser.problem_mark.line + 1,
			parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return -1;
	}
	struct conv c = { .doc = &doc, .err = err };
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		invalid(err, "Chart.yaml is empty");
		goto out;
	}
	if (to_object(&c, root, "Chart.yaml", chart_fields,
		      sizeof chart_fields / sizeof chart_fields[0], &o) < 0)
		goto out;
	if (!o) {
		invalid(err, "Chart.yaml is empty");
		goto out;
	}
	if (validate(o, err) < 0)
		goto out;
	struct chart *ch = xcalloc(1, sizeof *ch);
	ch->name = xstrdup(get_str(o, "name"));
	ch->version = xstrdup(get_str(o, "version"));
	ch->json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	*out = ch;
	rc = 0;
out:
	json_object_put(o);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

void chart_free(struct chart *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->version);
	free(c->json);
	free(c);
}

bool chart_is_release(const struct chart *c, const struct appr_error *why, const char *name,
		      const char *release, char problem[CHART_PROBLEM_MAX])
{
	problem[0] = '\0';
	if (!c)
		snprintf(problem, CHART_PROBLEM_MAX, "%s",
			 why && why->msg[0] ? why->msg : "not a valid Helm chart");
	else if (strcmp(c->name, name) != 0)
		snprintf(problem, CHART_PROBLEM_MAX,
			 "not a valid Helm chart: the chart is named \"%.64s\", the package \"%.64s\"",
			 c->name, name);
	else if (strcmp(c->version, release) != 0)
		snprintf(problem, CHART_PROBLEM_MAX,
			 "not a valid Helm chart: the chart's version is %.64s, the release %.64s",
			 c->version, release);
	return problem[0] == '\0';
}

/* ---- the archive, as it streams ---- */

struct chart_reader {
	char top[256];                /* the top folder every entry is in */
	size_t top_len;
	bool have_top;
	char problem[140];            /* the first reason it is not a chart, or "" */
	bool in_chart_yaml;           /* the current entry is <top>/Chart.yaml */
	bool have_chart_yaml;
	struct strbuf yaml;
	uint64_t total;
};

struct chart_reader *chart_reader_new(void)
{
	return xcalloc(1, sizeof(struct chart_reader));
}

void chart_reader_free(struct chart_reader *r)
{
	if (!r)
		return;
	sb_free(&r->yaml);
	free(r);
}

/* Record the first reason the archive is not a chart: before + name + after. */
static void problem(struct chart_reader *r, const char *before, const char *name, size_t len,
		    const char *after)
{
	char shown[80];
	size_t n = len < sizeof shown - 1 ? len : sizeof shown - 1;
	if (r->problem[0])
		return;
	for (size_t i = 0; i < n; i++)
		shown[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
	shown[n] = '\0';
	snprintf(r->problem, sizeof r->problem, "%s%s%s", before, shown, after);
}

static int on_entry(void *ctx, const char *name, size_t len, char type, uint64_t size,
		    struct appr_error *err)
{
	struct chart_reader *r = ctx;
	(void)err;
	r->in_chart_yaml = false;
	while (len > 2 && name[0] == '.' && name[1] == '/') {   /* "./chart/..." */
		name += 2;
		len -= 2;
	}
	const char *slash = memchr(name, '/', len);
	size_t tl = slash ? (size_t)(slash - name) : len;
	const char *rest = slash ? slash + 1 : name + len;
	size_t rl = len - tl - (slash ? 1 : 0);
	bool file = type == '0' || type == '\0' || type == '7';
	if (!slash || !rl) {
		/* the top folder's own entry, or a file at the root */
		if (file) {
			if (tl == 10 && !memcmp(name, "Chart.yaml", 10))
				problem(r, "Chart.yaml is at the archive root, not in the chart's folder", "", 0, "");
			else
				problem(r, "file \"", name, len, "\" is outside the chart's folder");
			return 0;
		}
	}
	if (!r->have_top) {
		if (tl >= sizeof r->top)
			tl = sizeof r->top - 1;
		memcpy(r->top, name, tl);
		r->top_len = tl;
		r->have_top = true;
	} else if (tl != r->top_len || memcmp(name, r->top, tl) != 0) {
		problem(r, "entry \"", name, len, "\" is outside the chart's one top folder");
		return 0;
	}
	if (!file)
		return 0;
	if (size > CHART_MAX_FILE)
		problem(r, "file \"", name, len, "\" is larger than Helm's 5 MiB limit");
	r->total += size;
	if (r->total > CHART_MAX_TOTAL)
		problem(r, "the chart is larger than Helm's 100 MiB limit", "", 0, "");
	if (rl == 10 && !memcmp(rest, "Chart.yaml", 10)) {
		if (size > CHART_YAML_MAX)
			problem(r, "Chart.yaml is larger than 1 MiB", "", 0, "");
		r->in_chart_yaml = true;
		r->have_chart_yaml = true;
		sb_reset(&r->yaml);
	}
	return 0;
}

static int on_data(void *ctx, const void *data, size_t len, struct appr_error *err)
{
	struct chart_reader *r = ctx;
	(void)err;
	if (r->in_chart_yaml && r->yaml.len + len <= CHART_YAML_MAX)
		sb_append(&r->yaml, data, len);
	return 0;
}

void chart_reader_attach(struct chart_reader *r, struct targz *t)
{
	struct targz_watch w = { on_entry, on_data, r };
	targz_set_watch(t, &w);
}

int chart_reader_finish(struct chart_reader *r, struct chart **out, struct appr_error *err)
{
	*out = NULL;
	if (r->problem[0])
		return invalid(err, "%s", r->problem);
	if (!r->have_chart_yaml)
		return invalid(err, "no Chart.yaml in the chart's folder");
	return chart_parse(r->yaml.buf ? r->yaml.buf : "", r->yaml.len, out, err);
}
