/* h-blobs.c - blobs by digest: GET .../blobs/sha256/{digest}[/json]. */
#include <string.h>

#include "handlers.h"
#include "names.h"

static int blob(struct request *req, struct response *resp, bool json)
{
	const char *ns, *name, *digest = req->args[2];
	long long size;
	if (h_package_args(req, &ns, &name) < 0)
		return -1;
	if (!names_valid_digest(digest))
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"invalid digest \"%.70s\": expected 64 lowercase hex characters", digest);
	if (storage_blob_lookup(req->app->store, ns, name, digest, &size, &req->err) < 0)
		return -1;
	char short_digest[9];
	memcpy(short_digest, digest, 8);
	short_digest[8] = '\0';
	const char *filename = h_concat(req->arena, req->package, "_", short_digest, ".tar.gz");
	*strchr((char *)filename, '/') = '_';            /* ns_name_DIGEST8.tar.gz */
	/* content-addressed: never changes */
	return h_send_blob(req, resp, digest, size, filename, digest, NULL, json, true);
}

int h_blob(struct request *req, struct response *resp)
{
	const char *f = request_query(req, "format");
	return blob(req, resp, f && strcmp(f, "json") == 0);
}

int h_blob_json(struct request *req, struct response *resp)
{
	return blob(req, resp, true);
}
