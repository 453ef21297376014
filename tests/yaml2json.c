/* yaml2json.c - read one YAML document on standard input the strict way Helm reads a
 * repository index (a duplicate key anywhere, a second document, a non-string key or
 * an alias is an error) and print it as JSON for the tests to check with jq. Plain
 * scalars become booleans, nulls and numbers as YAML's core schema says; quoted ones
 * stay strings. Exit status 0, or 1 with the reason on standard error. */
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static int fail(const char *what, const yaml_node_t *n)
{
	fprintf(stderr, "yaml2json: %s (line %lu)\n", what,
		n ? (unsigned long)n->start_mark.line + 1 : 0UL);
	exit(1);
}

static struct json_object *scalar(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_object_new_string_len(s, (int)n->data.scalar.length);
	if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
		return json_object_new_boolean(1);
	if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
		return json_object_new_boolean(0);
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
		return NULL;
	char *end;
	long long i = strtoll(s, &end, 10);
	if (*s && !*end)
		return json_object_new_int64(i);
	double d = strtod(s, &end);
	if (*s && !*end && isfinite(d))
		return json_object_new_double(d);
	return json_object_new_string_len(s, (int)n->data.scalar.length);
}

static struct json_object *convert(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	if (depth > 64)
		fail("nested too deep", n);
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar(n);
	case YAML_SEQUENCE_NODE: {
		struct json_object *a = json_object_new_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++)
			json_object_array_add(a, convert(doc, yaml_document_get_node(doc, *it),
							 depth + 1));
		return a;
	}
	case YAML_MAPPING_NODE: {
		struct json_object *o = json_object_new_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			if (k->type != YAML_SCALAR_NODE)
				fail("a mapping key that is not a string", k);
			const char *key = (const char *)k->data.scalar.value;
			if (json_object_object_get_ex(o, key, NULL))
				fail("a duplicate key", k);
			json_object_object_add(o, key, convert(doc, yaml_document_get_node(doc, p->value),
							       depth + 1));
		}
		return o;
	}
	default:
		fail("an empty node", n);
	}
	return NULL;
}

int main(void)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	yaml_document_t doc;
	static char buf[64 << 20];
	size_t len = fread(buf, 1, sizeof buf, stdin);
	if (len == sizeof buf)
		fail("input too large", NULL);

	/* aliases are refused outright: a repository index has none */
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (unsigned char *)buf, len);
	int docs = 0;
	for (;;) {
		if (!yaml_parser_parse(&parser, &ev))
			fail(parser.problem ? parser.problem : "not YAML", NULL);
		yaml_event_type_t t = ev.type;
		if (t == YAML_ALIAS_EVENT)
			fail("an alias", NULL);
		if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1)
			fail("more than one document", NULL);
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&parser);

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc))
		fail(parser.problem ? parser.problem : "not YAML", NULL);
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root)
		fail("an empty document", NULL);
	struct json_object *o = convert(&doc, root, 0);
	puts(o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						JSON_C_TO_STRING_NOSLASHESCAPE) : "null");
	json_object_put(o);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return 0;
}
