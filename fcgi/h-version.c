/* h-version.c - GET /version. */
#include "handlers.h"

int h_version(struct request *req, struct response *resp)
{
	(void)req;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "appr-api", json_object_new_string(PACKAGE_VERSION));
	h_ok(resp, o);
	return 0;
}
