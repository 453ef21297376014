/* h-blobs.c - blobs by digest: GET .../blobs/sha256/{digest}[/json]. */
#include <string.h>

#include "deliver.h"
#include "handlers.h"
#include "names.h"

static int blob(struct request *req, struct response *resp, bool json)
{
	const char *ns, *name, *digest = req->args[2];
	long long size;
	char sha256[DIGEST_HEX_LEN + 1];
	if (h_package_args(req, &ns, &name) < 0)
		return -1;
	/* no blob has a malformed digest: absent, as the original server answers */
	if (!names_valid_digest(digest))
		return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND,
				"blob sha256:%.70s not found in %s (a digest is 64 lowercase hex characters)",
				digest, req->package);
	if (storage_blob_lookup(req->app->store, ns, name, digest, &size, sha256, &req->err) < 0)
		return -1;
	char short_digest[9];
	memcpy(short_digest, digest, 8);
	short_digest[8] = '\0';
	const char *filename = h_concat(req->arena, req->package, "_", short_digest, ".tar.gz");
	*strchr((char *)filename, '/') = '_';            /* ns_name_DIGEST8.tar.gz */
	struct delivery d = {
		.digest = digest, .size = size, .sha256 = sha256, .filename = filename,
		.immutable = true,                    /* content-addressed: never changes */
		.json = json, .package = req->package, .release = digest,
	};
	return deliver_blob(req, resp, &d);
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
