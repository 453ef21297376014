/* fuzz-chart.c - libFuzzer target: Chart.yaml text through chart_parse. Whatever it
 * is, the answer is a chart whose JSON parses and whose name and version are those of
 * the JSON, or a 422 invalid-chart with a message; never a crash or a leak. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chart *c = NULL;
	struct appr_error e = { 0 };
	if (chart_parse((const char *)data, size, &c, &e) < 0) {
		if (c || e.http != 422 || strcmp(e.code, APPR_E_INVALID_CHART) != 0 || !e.msg[0])
			abort();
		return 0;
	}
	struct json_object *o = json_tokener_parse(c->json), *v;
	if (!o || !json_object_object_get_ex(o, "name", &v) ||
	    strcmp(json_object_get_string(v), c->name) != 0 ||
	    !json_object_object_get_ex(o, "version", &v) ||
	    strcmp(json_object_get_string(v), c->version) != 0)
		abort();
	json_object_put(o);
	chart_free(c);
	return 0;
}
