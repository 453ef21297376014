/* h-oci-manifests.c - OCI manifests: HEAD/GET/PUT/DELETE
 * /v2/<ns>/<name>/manifests/<reference>, the reference a tag or a digest. Manifests
 * are kept byte for byte; their digest is the SHA-256 of the bytes sent. The Helm
 * bridge: the view's manifests answered, a Helm chart manifest PUT by tag made the
 * appr release too, deletes linked (README "OCI"). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "handlers.h"
#include "chart.h"
#include "h-oci.h"
#include "push.h"

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

/* The chart of the Helm view that reference names (hex a digest, else tag a tag):
 * *out, or NULL when none. */
static int view_find(struct request *req, struct oci_store *s, const char *repo,
		     const char *hex, const char *tag, struct h_oci_chart **out)
{
	struct h_oci_chart *c;
	size_t n;
	*out = NULL;
	if (h_oci_charts(req, s, repo, hex ? NULL : oci_helm_version(tag, req->arena), &c, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (hex ? strcmp(c[i].manifest_hex, hex) == 0 : strcmp(c[i].tag, tag) == 0) {
			*out = &c[i];
			break;
		}
	return 0;
}

/* HEAD/GET /v2/<ns>/<name>/manifests/<reference>: a stored manifest, else the Helm
 * view's manifest of an appr chart release. */
int h_oci_manifest_get(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo;
	char hex[DIGEST_HEX_LEN + 1];
	struct oci_manifest m;
	struct h_oci_chart *c;
	struct appr_error e = { 0 };
	int by_digest;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0 ||
	    (by_digest = reference(req, hex)) < 0)
		return -1;
	if (oci_manifest_get(s, repo, by_digest ? hex : NULL, req->args[2], req->arena, &m,
			     &e) < 0) {
		if (e.http != 404 || view_find(req, s, repo, by_digest ? hex : NULL,
					       req->args[2], &c) < 0) {
			if (e.http != 404)
				req->err = e;
			return -1;
		}
		if (!c) {
			req->err = e;
			return -1;
		}
		memcpy(m.digest, c->manifest_hex, sizeof m.digest);
		m.media_type = OCI_MT_MANIFEST;
		m.body = c->manifest;
		m.len = c->manifest_len;
	}
	h_oci_digest_header(resp, m.digest);
	resp->status = 200;
	resp->content_type = m.media_type;    /* the arena's: lives until after sending */
	sb_append(&resp->body, m.body, m.len);
	return 0;
}

/* Bytes in memory, read by oci_blob_put. */
struct mem_src {
	const char *p;
	size_t left;
};

static long read_mem(void *ctx, void *buf, size_t len)
{
	struct mem_src *m = ctx;
	size_t n = m->left < len ? m->left : len;
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (long)n;
}

/* Blobs info references that repo does not hold but its Helm view serves (a chart's
 * .tgz, its config: a client that found them there by HEAD did not upload them):
 * recorded in the OCI store, the .tgz adopted from its appr blob (oci_blob_adopt). */
static int adopt_view_blobs(struct request *req, struct oci_store *s, const char *repo,
			    const struct oci_manifest_info *info)
{
	struct h_oci_chart *c = NULL;
	size_t n = 0;
	bool listed = false;
	for (size_t i = 0; i < info->n_blobs; i++) {
		long long size;
		struct appr_error e = { 0 };
		const char *hex = info->blobs[i];
		if (oci_blob_stat(s, repo, hex, &size, &e) == 0)
			continue;
		if (e.http != 404) {
			req->err = e;
			return -1;
		}
		if (!listed && h_oci_charts(req, s, repo, NULL, &c, &n) < 0)
			return -1;
		listed = true;
		for (size_t k = 0; k < n; k++) {
			if (strcmp(c[k].r.sha256, hex) == 0) {
				if (oci_blob_adopt(s, repo, hex, c[k].r.digest, c[k].r.size,
						   &req->err) < 0)
					return -1;
				break;
			}
			if (strcmp(c[k].config_hex, hex) == 0) {
				struct mem_src m = { c[k].config, c[k].config_len };
				if (oci_blob_put(s, repo, hex, read_mem, &m, &req->err) < 0)
					return -1;
				break;
			}
		}
	}
	return 0;
}

/* The chart in blob layer (of the OCI store, or appr blob appr_digest: the view's
 * .tgz) through the push pipeline into *p (ended, a valid chart: push_chart). 0, or
 * -1 with 400 MANIFEST_INVALID. */
static int read_chart(struct request *req, struct oci_store *s, const char *layer,
		      const char *appr_digest, struct push **p)
{
	struct h_oci_src src;
	char *buf;
	int rc = -1;
	if (push_begin(req->app->store, &req->app->cfg, PUSH_RAW, p, &req->err) < 0)
		return -1;
	if (h_oci_src_open(req, s, layer, appr_digest, 0, &src) < 0)
		return -1;
	buf = xmalloc(65536);
	for (;;) {
		long n = h_oci_src_read(&src, buf, 65536);
		if (n < 0) {
			appr_err(&req->err, 500, APPR_E_INTERNAL, "the chart blob cannot be read");
			goto out;
		}
		if (n == 0)
			break;
		if (push_feed(*p, buf, (size_t)n, &req->err) < 0)
			goto invalid;
	}
	if (push_end_input(*p, &req->err) < 0)
		goto invalid;
	struct appr_error why = { 0 };
	if (!push_chart(*p, &why)) {
		req->err = why;
		goto invalid;
	}
	rc = 0;
	goto out;
invalid:
	if (req->err.http < 500) {
		char msg[sizeof req->err.msg];
		memcpy(msg, req->err.msg, sizeof msg);
		appr_err(&req->err, 400, OCI_E_MANIFEST_INVALID, "the chart layer: %.130s", msg);
	}
out:
	free(buf);
	h_oci_src_close(&src);
	return rc;
}

/* A Helm chart manifest PUT by tag: its chart layer (an uploaded blob, or the view's
 * .tgz of the release) must be a valid chart named as the repository, at the version
 * the tag names; the appr helm release ns/name@version is then created (*created)
 * unless it holds these .tgz bytes already (409 DENIED when it holds others). Nothing
 * is stored on an error. */
static int bridge_push(struct request *req, struct oci_store *s, const char *repo,
		       const char *tag, const struct oci_manifest_info *info, bool *created)
{
	const char *ns = req->args[0], *name = req->args[1];
	char want[OCI_HELM_TAG_MAX + 1];
	const char *appr_digest = NULL;
	long long size;
	struct push *p = NULL;
	struct storage_manifest old;
	struct appr_error e = { 0 };
	int rc = -1;
	*created = false;
	if (info->n_chart_layers != 1)
		return appr_err(&req->err, 400, OCI_E_MANIFEST_INVALID,
				"a Helm chart manifest has one layer of media type %s, not %zu",
				OCI_MT_HELM_CHART, info->n_chart_layers);
	if (oci_blob_stat(s, repo, info->chart_layer, &size, &e) < 0) {
		/* not uploaded: the view's (the release's own .tgz, found by HEAD) */
		struct h_oci_chart *v;
		size_t n, i;
		if (e.http != 404 || h_oci_charts(req, s, repo, NULL, &v, &n) < 0) {
			if (e.http != 404)
				req->err = e;
			return -1;
		}
		for (i = 0; i < n && strcmp(v[i].r.sha256, info->chart_layer) != 0; i++)
			;
		if (i == n)
			return appr_err(&req->err, 400, OCI_E_MANIFEST_BLOB_UNKNOWN,
					"blob sha256:%s is not in %.140s", info->chart_layer, repo);
		appr_digest = v[i].r.digest;
		memset(&e, 0, sizeof e);
	}
	if (read_chart(req, s, info->chart_layer, appr_digest, &p) < 0)
		goto out;
	const struct chart *c = push_chart(p, NULL);
	if (strcmp(c->name, name) != 0) {
		appr_err(&req->err, 400, OCI_E_MANIFEST_INVALID,
			 "the chart is named %.64s, not %.64s as the repository", c->name, name);
		goto out;
	}
	if (oci_helm_tag(c->version, want) < 0 || strcmp(want, tag) != 0) {
		appr_err(&req->err, 400, OCI_E_MANIFEST_INVALID,
			 "the chart's version %.64s is not the tag %.64s (the version, '+' as '_')",
			 c->version, tag);
		goto out;
	}
	if (storage_get_manifest(req->app->store, ns, name, c->version, "helm", req->arena, &old,
				 &e) == 0) {
		if (strcmp(old.blob_sha256, info->chart_layer) != 0) {
			appr_err(&req->err, 409, OCI_E_DENIED,
				 "%s %s exists with another chart archive (sha256:%.64s)", repo,
				 c->version, old.blob_sha256[0] ? old.blob_sha256 : "unknown");
			goto out;
		}
		rc = 0;                  /* the same bytes: nothing to add */
		goto out;
	}
	if (e.http != 404) {
		req->err = e;
		goto out;
	}
	struct push_release meta = {
		.ns = ns, .name = name, .release = c->version, .media_type = "helm",
	};
	if (push_finish(p, &meta, &req->err) < 0) {
		if (req->err.http != 409)
			goto out;
		/* pushed meanwhile (another responder): fine when with these bytes */
		memset(&e, 0, sizeof e);
		if (storage_get_manifest(req->app->store, ns, name, meta.release, "helm",
					 req->arena, &old, &e) == 0 &&
		    strcmp(old.blob_sha256, info->chart_layer) == 0) {
			appr_err_clear(&req->err);
			rc = 0;
			goto out;
		}
		appr_err(&req->err, 409, OCI_E_DENIED, "%s %s exists already", repo, meta.release);
		goto out;
	}
	*created = true;
	rc = 0;
out:
	push_free(p);
	return rc;
}

/* After a bridged push: the appr release's blob file and the OCI chart blob are one
 * file (a hard link) when they hold the same bytes (a store with blob files). */
static void share_chart(struct request *req, struct oci_store *s, const char *version,
			const char *layer)
{
	struct storage_manifest m;
	struct appr_error e = { 0 };
	char path[PATH_MAX];
	if (storage_get_manifest(req->app->store, req->args[0], req->args[1], version, "helm",
				 req->arena, &m, &e) < 0 || strcmp(m.blob_sha256, layer) != 0 ||
	    storage_blob_path(req->app->store, m.digest, path, sizeof path, &e) < 0)
		return;
	oci_blob_share(s, layer, path);
}

/* PUT /v2/<ns>/<name>/manifests/<reference>: 201. A Helm chart manifest (config
 * media type OCI_MT_HELM_CONFIG) PUT by tag is also the appr helm release. */
int h_oci_manifest_put(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo;
	char hex[DIGEST_HEX_LEN + 1], got[DIGEST_HEX_LEN + 1];
	struct oci_manifest_info info;
	int by_digest;
	bool helm, created = false;
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
	helm = !by_digest && info.config_media_type &&
	       strcmp(info.config_media_type, OCI_MT_HELM_CONFIG) == 0;
	if (helm && bridge_push(req, s, repo, req->args[2], &info, &created) < 0)
		return -1;
	if (adopt_view_blobs(req, s, repo, &info) < 0 ||
	    oci_manifest_put(s, repo, got, &info, body, len, by_digest ? NULL : req->args[2],
			     &req->err) < 0) {
		struct appr_error e = { 0 };
		if (created && storage_delete_manifest(req->app->store, req->args[0], req->args[1],
						       oci_helm_version(req->args[2], req->arena),
						       "helm", &e) < 0)
			fprintf(stderr, "appr: oci: %s: undoing the release of a failed push: %s\n",
				repo, e.msg);
		return -1;
	}
	if (helm)
		share_chart(req, s, oci_helm_version(req->args[2], req->arena), info.chart_layer);
	resp_header(resp, "Location", "/v2/%s/manifests/sha256:%s", repo, got);
	h_oci_digest_header(resp, got);
	if (info.subject[0])
		resp_header_cat(resp, "OCI-Subject", "sha256:", info.subject, NULL);
	resp->status = 201;
	resp->content_type = "text/plain";
	return 0;
}

/* DELETE /v2/<ns>/<name>/manifests/<reference>: by digest the manifest and its tags,
 * by tag the tag only; 202. A Helm chart (a stored chart manifest, or the view's) goes
 * whole, by tag or digest, with its appr helm release. */
int h_oci_manifest_delete(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo, *ns = req->args[0], *name = req->args[1], *version = NULL;
	char hex[DIGEST_HEX_LEN + 1];
	struct oci_manifest m;
	struct oci_manifest_info info;
	struct appr_error e = { 0 };
	struct storage_manifest old;
	int by_digest;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0 ||
	    (by_digest = reference(req, hex)) < 0)
		return -1;
	if (oci_manifest_get(s, repo, by_digest ? hex : NULL, req->args[2], req->arena, &m,
			     &e) == 0) {
		struct appr_error pe = { 0 };
		if (oci_manifest_parse(m.body, m.len, m.media_type, req->arena, &info, &pe) < 0 ||
		    !info.config_media_type ||
		    strcmp(info.config_media_type, OCI_MT_HELM_CONFIG) != 0) {
			if (by_digest ? oci_manifest_delete(s, repo, hex, &req->err)
				      : oci_tag_delete(s, repo, req->args[2], &req->err))
				return -1;
			goto done;
		}
		const char *tag = req->args[2];
		if (by_digest && oci_manifest_tag(s, repo, m.digest, req->arena, &tag, &req->err) < 0)
			return -1;
		if (h_oci_drop_chart(req, s, repo, m.digest, &info) < 0)
			return -1;
		if (!tag)
			goto done;
		version = oci_helm_version(tag, req->arena);
		/* the appr release of the same chart goes with it */
		if (storage_get_manifest(req->app->store, ns, name, version, "helm", req->arena,
					 &old, &e) < 0 || strcmp(old.blob_sha256, info.chart_layer) != 0)
			goto done;
	} else {
		struct h_oci_chart *c;
		if (e.http != 404 || view_find(req, s, repo, by_digest ? hex : NULL, req->args[2],
					       &c) < 0 || !c) {
			if (!req->err.http)
				req->err = e;
			return -1;
		}
		version = c->r.version;
	}
	if (storage_delete_manifest(req->app->store, ns, name, version, "helm", &e) < 0 &&
	    e.http != 404) {
		req->err = e;
		return -1;
	}
done:
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
