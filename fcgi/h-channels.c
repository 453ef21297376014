/* h-channels.c - channels of a package: list, show, add a release, remove, delete. */
#include "handlers.h"
#include "manifest.h"

/* GET /api/v1/packages/{ns}/{name}/channels */
int h_channels_list(struct request *req, struct response *resp)
{
	const char *ns, *name;
	struct storage_channel *c;
	size_t n;
	if (h_package_args(req, &ns, &name) < 0 ||
	    storage_list_channels(req->app->store, ns, name, req->arena, &c, &n, &req->err) < 0)
		return -1;
	sb_putc(&resp->body, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_putc(&resp->body, ',');
		manifest_write_channel(&resp->body, &c[i]);
	}
	sb_putc(&resp->body, ']');
	resp_json_written(resp, 200);
	return 0;
}

/* GET /api/v1/packages/{ns}/{name}/channels/{channel} */
int h_channel_show(struct request *req, struct response *resp)
{
	const char *ns, *name, *channel = req->args[2];
	struct storage_channel c;
	if (h_package_args(req, &ns, &name) < 0 || h_channel_arg(req, channel) < 0 ||
	    storage_get_channel(req->app->store, ns, name, channel, req->arena, &c, &req->err) < 0)
		return -1;
	manifest_write_channel(&resp->body, &c);
	resp_json_written(resp, 200);
	return 0;
}

/* POST /api/v1/packages/{ns}/{name}/channels/{channel}/{release} */
int h_channel_add(struct request *req, struct response *resp)
{
	const char *ns, *name, *channel = req->args[2], *release = req->args[3];
	struct storage_channel c;
	if (h_package_args(req, &ns, &name) < 0 || h_channel_arg(req, channel) < 0 ||
	    h_exact_release(req, release) < 0 ||
	    storage_channel_add(req->app->store, ns, name, channel, release, req->arena, &c,
				&req->err) < 0)
		return -1;
	manifest_write_channel(&resp->body, &c);
	resp_json_written(resp, 200);
	return 0;
}

/* DELETE /api/v1/packages/{ns}/{name}/channels/{channel}/{release} */
int h_channel_remove(struct request *req, struct response *resp)
{
	const char *ns, *name, *channel = req->args[2], *release = req->args[3];
	if (h_package_args(req, &ns, &name) < 0 || h_channel_arg(req, channel) < 0 ||
	    h_exact_release(req, release) < 0 ||
	    storage_channel_remove(req->app->store, ns, name, channel, release, &req->err) < 0)
		return -1;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("deleted"));
	json_object_object_add(o, "package", json_object_new_string(req->package));
	json_object_object_add(o, "name", json_object_new_string(channel));
	json_object_object_add(o, "release", json_object_new_string(release));
	h_ok(resp, o);
	return 0;
}

/* DELETE /api/v1/packages/{ns}/{name}/channels/{channel} */
int h_channel_delete(struct request *req, struct response *resp)
{
	const char *ns, *name, *channel = req->args[2];
	if (h_package_args(req, &ns, &name) < 0 || h_channel_arg(req, channel) < 0 ||
	    storage_channel_delete(req->app->store, ns, name, channel, &req->err) < 0)
		return -1;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "channel", json_object_new_string(channel));
	json_object_object_add(o, "package", json_object_new_string(req->package));
	json_object_object_add(o, "action", json_object_new_string("delete"));
	h_ok(resp, o);
	return 0;
}
