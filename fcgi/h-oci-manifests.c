/* h-oci-manifests.c - OCI manifests: HEAD/GET/PUT/DELETE
 * /v2/<ns>/<name>/manifests/<reference>, the reference a tag or a digest. Manifests
 * are kept byte for byte; their digest is the SHA-256 of the bytes sent. */
#include <string.h>

#include <json-c/json.h>

#include "handlers.h"
#include "h-oci.h"

/* args[2] as a digest (hex set, returns 1) or a tag (returns 0); -1 with 400 when it
 * is neither. */
static int reference(struct request *req, char *hex)
{
	const char *ref = req->args[2];
	if (strchr(ref, ':')) {
		if (oci_parse_digest(ref, hex) < 0)
			return appr_err(&req->err, 400, OCI_E_DIGEST_INVALID,
					"%.80s is not a digest sha256:<64 lowercase hex>", ref);
		return 1;
	}
	if (!oci_valid_tag(ref))
		return appr_err(&req->err, 400, OCI_E_MANIFEST_INVALID,
				"%.80s is not a tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})", ref);
	return 0;
}

/* HEAD/GET /v2/<ns>/<name>/manifests/<reference> */
int h_oci_manifest_get(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo;
	char hex[DIGEST_HEX_LEN + 1];
	struct oci_manifest m;
	int by_digest;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0 ||
	    (by_digest = reference(req, hex)) < 0)
		return -1;
	if (oci_manifest_get(s, repo, by_digest ? hex : NULL, req->args[2], req->arena, &m,
			     &req->err) < 0)
		return -1;
	h_oci_digest_header(resp, m.digest);
	resp->status = 200;
	resp->content_type = m.media_type;    /* the arena's: lives until after sending */
	sb_append(&resp->body, m.body, m.len);
	return 0;
}

/* PUT /v2/<ns>/<name>/manifests/<reference>: 201. */
int h_oci_manifest_put(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo;
	char hex[DIGEST_HEX_LEN + 1], got[DIGEST_HEX_LEN + 1];
	struct oci_manifest_info info;
	int by_digest;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0 ||
	    (by_digest = reference(req, hex)) < 0)
		return -1;
	if (req->content_length > (long long)OCI_MANIFEST_MAX)
		return appr_err(&req->err, 413, OCI_E_SIZE_INVALID,
				"a manifest of %lld bytes is above the limit of %u",
				req->content_length, OCI_MANIFEST_MAX);
	if (req->content_length <= 0)
		return appr_err(&req->err, 400, OCI_E_MANIFEST_INVALID, "empty manifest");
	size_t len = (size_t)req->content_length;
	char *body = arena_alloc(req->arena, len + 1);
	for (size_t got_n = 0; got_n < len;) {
		long n = request_read_body(req, body + got_n, len - got_n);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got_n += (size_t)n;
	}
	digest_sha256_hex(body, len, got);
	if (by_digest && strcmp(got, hex) != 0)
		return appr_err(&req->err, 400, OCI_E_DIGEST_INVALID,
				"the manifest's bytes have digest sha256:%s, not sha256:%s", got, hex);
	if (oci_manifest_parse(body, len, h_oci_header(req, "CONTENT_TYPE"), req->arena, &info,
			       &req->err) < 0)
		return -1;
	if (oci_manifest_put(s, repo, got, &info, body, len, by_digest ? NULL : req->args[2],
			     &req->err) < 0)
		return -1;
	resp_header(resp, "Location", "/v2/%s/manifests/sha256:%s", repo, got);
	h_oci_digest_header(resp, got);
	if (info.subject[0])
		resp_header_cat(resp, "OCI-Subject", "sha256:", info.subject, NULL);
	resp->status = 201;
	resp->content_type = "text/plain";
	return 0;
}

/* DELETE /v2/<ns>/<name>/manifests/<reference>: by digest the manifest and its tags,
 * by tag the tag only; 202. */
int h_oci_manifest_delete(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo;
	char hex[DIGEST_HEX_LEN + 1];
	int by_digest;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0 ||
	    (by_digest = reference(req, hex)) < 0)
		return -1;
	if (by_digest ? oci_manifest_delete(s, repo, hex, &req->err)
		      : oci_tag_delete(s, repo, req->args[2], &req->err))
		return -1;
	resp->status = 202;
	resp->content_type = "text/plain";
	return 0;
}

/* GET /v2/<ns>/<name>/referrers/<digest>[?artifactType=]: an image index of the
 * manifests of the repository whose subject is that digest. */
int h_oci_referrers(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo, *want = request_query(req, "artifactType"), **types;
	char hex[DIGEST_HEX_LEN + 1];
	struct oci_manifest *m;
	size_t n;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0)
		return -1;
	if (oci_parse_digest(req->args[2], hex) < 0)
		return appr_err(&req->err, 400, OCI_E_DIGEST_INVALID,
				"%.80s is not a digest sha256:<64 lowercase hex>", req->args[2]);
	if (oci_referrers(s, repo, hex, req->arena, &m, &types, &n, &req->err) < 0)
		return -1;
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	json_object_object_add(o, "schemaVersion", json_object_new_int(2));
	json_object_object_add(o, "mediaType", json_object_new_string(OCI_MT_INDEX));
	for (size_t i = 0; i < n; i++) {
		if (want && (!types[i] || strcmp(types[i], want) != 0))
			continue;
		struct json_object *d = json_object_new_object(), *body, *ann;
		json_object_object_add(d, "mediaType", json_object_new_string(m[i].media_type));
		json_object_object_add(d, "digest", json_object_new_string(
			h_concat(req->arena, "sha256:", m[i].digest, NULL, NULL)));
		json_object_object_add(d, "size", json_object_new_int64((int64_t)m[i].len));
		if (types[i])
			json_object_object_add(d, "artifactType", json_object_new_string(types[i]));
		body = json_tokener_parse(m[i].body);     /* checked when it was pushed */
		if (body && json_object_object_get_ex(body, "annotations", &ann) &&
		    json_object_is_type(ann, json_type_object))
			json_object_object_add(d, "annotations", json_object_get(ann));
		json_object_put(body);
		json_object_array_add(arr, d);
	}
	json_object_object_add(o, "manifests", arr);
	if (want)
		resp_header_cat(resp, "OCI-Filters-Applied", "artifactType", NULL, NULL);
	resp_json(resp, 200, o);
	resp->content_type = OCI_MT_INDEX;
	return 0;
}
