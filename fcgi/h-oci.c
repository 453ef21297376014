/* h-oci.c - the OCI Distribution API's base: GET /v2/, the error body, the store, the
 * repository argument, GET /v2/<ns>/<name>/tags/list, and the Helm bridge's shared
 * parts (the view's bytes, linked deletes). Blobs and uploads are in h-oci-blobs.c,
 * manifests (and the bridge's push) in h-oci-manifests.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "access.h"
#include "handlers.h"
#include "h-oci.h"

int h_oci_store(struct request *req, struct oci_store **out)
{
	static struct oci_store *store;  /* lives as long as the process */
	if (!store && oci_store_open(&req->app->cfg, req->app->store, &store, &req->err) < 0)
		return -1;
	*out = store;
	return 0;
}

int h_oci_src_open(struct request *req, struct oci_store *s, const char *hex,
		   const char *appr_digest, long long from, struct h_oci_src *src)
{
	long long size;
	memset(src, 0, sizeof *src);
	if (!appr_digest)
		return oci_blob_open(s, hex, from, &src->oci, &req->err);
	if (storage_blob_open(req->app->store, appr_digest, &src->appr, &size, &req->err) < 0)
		return -1;
	src->skip = from;
	return 0;
}

long h_oci_src_read(struct h_oci_src *src, void *buf, size_t len)
{
	if (src->oci)
		return oci_blob_read(src->oci, buf, len);
	while (src->skip > 0) {          /* a Range of the appr blob: read up to it */
		long n = storage_blob_read(src->appr, buf,
					   src->skip < (long long)len ? (size_t)src->skip : len);
		if (n <= 0)
			return n < 0 ? -1 : 0;
		src->skip -= n;
	}
	return storage_blob_read(src->appr, buf, len);
}

void h_oci_src_close(struct h_oci_src *src)
{
	oci_blob_close(src->oci);
	storage_blob_close(src->appr);
	memset(src, 0, sizeof *src);
}

int h_oci_repo(struct request *req, const char **repo)
{
	const char *ns = req->args[0], *name = req->args[1];
	size_t max = req->app->cfg.max_name_length;
	if (!oci_valid_component(ns) || !oci_valid_component(name) || strlen(ns) > max ||
	    strlen(name) > max)
		return appr_err(&req->err, 400, OCI_E_NAME_INVALID,
				"invalid repository name %.64s/%.64s: each part is lower-case "
				"letters and digits, separated by '.', '_', '__' or '-'",
				ns ? ns : "", name ? name : "");
	*repo = h_concat(req->arena, ns, "/", name, NULL);
	return 0;
}

bool h_oci_may_read(struct request *req, const char *ns, const char *name)
{
	const struct access_who *who = req->who;
	struct appr_error e = { 0 };
	const char *vis;
	if (who->open || access_can_read(who, ns))
		return true;
	if (!who->user && !req->app->cfg.anonymous_read)
		return false;
	if (storage_package_visibility(req->app->store, ns, name, req->arena, &vis, &e) < 0)
		return e.http == 404;    /* no appr package: nothing makes it private */
	return strcmp(vis, "public") == 0;
}

const char *h_oci_header(struct request *req, const char *cgi_name)
{
	const char *v = req->io->param(req->io->ctx, cgi_name);
	return v && *v ? v : NULL;
}

void h_oci_digest_header(struct response *resp, const char *hex)
{
	resp_header_cat(resp, "Docker-Content-Digest", "sha256:", hex, NULL);
}

/* The OCI code for an error that has none (one of the protocol's or the router's). */
static const char *oci_code(const struct appr_error *err)
{
	if (err->code && err->code[0] >= 'A' && err->code[0] <= 'Z')
		return err->code;
	switch (err->http) {
	case 401: return OCI_E_UNAUTHORIZED;
	case 403: return OCI_E_DENIED;
	case 404: return OCI_E_NAME_UNKNOWN;
	case 409: return OCI_E_DENIED;
	case 413: return OCI_E_SIZE_INVALID;
	}
	return err->http >= 500 && err->http != 501 ? "UNKNOWN" : OCI_E_UNSUPPORTED;
}

void h_oci_error(struct response *resp, const struct appr_error *err)
{
	struct json_object *e = json_object_new_object(), *arr = json_object_new_array();
	struct json_object *o = json_object_new_object(), *detail = json_object_new_object();
	json_object_object_add(e, "code", json_object_new_string(oci_code(err)));
	json_object_object_add(e, "message", json_object_new_string(err->msg[0] ? err->msg
									  : "error"));
	if (err->code && !(err->code[0] >= 'A' && err->code[0] <= 'Z'))
		json_object_object_add(detail, "appr_code", json_object_new_string(err->code));
	json_object_object_add(e, "detail", detail);
	json_object_array_add(arr, e);
	json_object_object_add(o, "errors", arr);
	resp_json(resp, err->http ? err->http : 500, o);
}

/* GET /v2/: 200 {} to whoever may read (the router asked for credentials). */
int h_oci_base(struct request *req, struct response *resp)
{
	struct oci_store *s;
	if (h_oci_store(req, &s) < 0)
		return -1;
	resp_header_cat(resp, "Docker-Distribution-API-Version", "registry/2.0", NULL, NULL);
	resp_json(resp, 200, json_object_new_object());
	return 0;
}

/* ?n= as a count >= 0 into *n (-1 when absent): 0, or -1 with 400. */
static int page_size(struct request *req, long *n)
{
	const char *v = request_query(req, "n");
	char *end;
	*n = -1;
	if (!v)
		return 0;
	long k = strtol(v, &end, 10);
	if (!*v || *end || k < 0 || k > 100000)
		return appr_err(&req->err, 400, OCI_E_UNSUPPORTED,
				"n=%.20s is not a count from 0 to 100000", v);
	*n = k;
	return 0;
}

/* GET /v2/_catalog[?n=&last=]: the repositories this caller may read (a page may
 * hold fewer than n when some are hidden from it). */
int h_oci_catalog(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *last = request_query(req, "last"), **repos;
	size_t count;
	bool more;
	long n;
	if (h_oci_store(req, &s) < 0 || page_size(req, &n) < 0 ||
	    oci_repos_list(s, last, n, req->arena, &repos, &count, &more, &req->err) < 0)
		return -1;
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	for (size_t i = 0; i < count; i++) {
		char *ns = arena_strdup(req->arena, repos[i]), *slash = strchr(ns, '/');
		if (!slash)
			continue;
		*slash = '\0';
		/* a Helm view repository whose appr name is not OCI-spellable is not one */
		if (oci_valid_component(ns) && oci_valid_component(slash + 1) &&
		    h_oci_may_read(req, ns, slash + 1))
			json_object_array_add(arr, json_object_new_string(repos[i]));
	}
	json_object_object_add(o, "repositories", arr);
	if (more && count > 0)
		resp_header(resp, "Link", "</v2/_catalog?n=%ld&last=%s>; rel=\"next\"", n,
			    repos[count - 1]);
	resp_json(resp, 200, o);
	return 0;
}

/* GET /v2/<ns>/<name>/tags/list[?n=&last=] */
int h_oci_tags(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo, *last = request_query(req, "last"), **tags;
	size_t count;
	bool more, known;
	long n;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0 || page_size(req, &n) < 0)
		return -1;
	if (oci_repo_known(s, repo, &known, &req->err) < 0)
		return -1;
	if (!known)
		return appr_err(&req->err, 404, OCI_E_NAME_UNKNOWN, "no repository %s", repo);
	if (oci_tags_list(s, repo, last, n, req->arena, &tags, &count, &more, &req->err) < 0)
		return -1;
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	json_object_object_add(o, "name", json_object_new_string(repo));
	for (size_t i = 0; i < count; i++)
		json_object_array_add(arr, json_object_new_string(tags[i]));
	json_object_object_add(o, "tags", arr);
	if (more && count > 0)
		resp_header(resp, "Link", "</v2/%s/tags/list?n=%ld&last=%s>; rel=\"next\"", repo,
			    n, tags[count - 1]);
	resp_json(resp, 200, o);
	return 0;
}

/* ---- the Helm bridge ---- */

int h_oci_charts(struct request *req, struct oci_store *s, const char *repo,
		 const char *version, struct h_oci_chart **out, size_t *n)
{
	struct oci_chart_release *r;
	size_t all;
	const char *name = strchr(repo, '/') + 1;
	if (oci_chart_releases(s, repo, version, req->arena, &r, &all, &req->err) < 0)
		return -1;
	*out = arena_alloc(req->arena, (all + 1) * sizeof **out);
	*n = 0;
	for (size_t i = 0; i < all; i++) {
		struct h_oci_chart *c = &(*out)[*n];
		c->r = r[i];
		if (oci_helm_tag(r[i].version, c->tag) < 0)
			continue;            /* not representable: not in the view */
		if (r[i].config && r[i].manifest) {          /* as stored at push */
			c->config = r[i].config;
			c->config_len = r[i].config_len;
			c->manifest = r[i].manifest;
			c->manifest_len = r[i].manifest_len;
		} else if (oci_helm_artifact(r[i].chart, r[i].sha256, r[i].size, name,
					     r[i].version, req->arena, &c->config,
					     &c->config_len, &c->manifest,
					     &c->manifest_len) < 0) {
			continue;
		}
		digest_sha256_hex(c->config, c->config_len, c->config_hex);
		digest_sha256_hex(c->manifest, c->manifest_len, c->manifest_hex);
		(*n)++;
	}
	return 0;
}

int h_oci_drop_chart(struct request *req, struct oci_store *s, const char *repo,
		     const char *hex, const struct oci_manifest_info *info)
{
	if (oci_manifest_delete(s, repo, hex, &req->err) < 0)
		return -1;
	for (size_t i = 0; i < info->n_blobs; i++) {
		struct appr_error e = { 0 };
		/* the config and the chart only: a link it never had is no matter */
		if ((i == 0 || strcmp(info->blobs[i], info->chart_layer) == 0) &&
		    oci_blob_delete(s, repo, info->blobs[i], &e) < 0 && e.http != 404)
			fprintf(stderr, "appr: oci: %s: unlinking blob sha256:%s: %s\n", repo,
				info->blobs[i], e.msg);
	}
	return 0;
}

int h_oci_release_deleting(struct request *req, const char *ns, const char *name,
			   const char *release, const char *mt)
{
	struct oci_store *s;
	struct oci_manifest m;
	struct oci_manifest_info info;
	struct appr_error e = { 0 };
	char tag[OCI_HELM_TAG_MAX + 1];
	if (strcmp(mt, "helm") != 0 || !oci_valid_component(ns) || !oci_valid_component(name) ||
	    oci_helm_tag(release, tag) < 0)
		return 0;
	if (h_oci_store(req, &s) < 0)
		return req->err.http == 501 ? (appr_err_clear(&req->err), 0) : -1;
	const char *repo = h_concat(req->arena, ns, "/", name, NULL);
	if (oci_manifest_get(s, repo, NULL, tag, req->arena, &m, &e) < 0)
		return e.http == 404 ? 0 : (req->err = e, -1);
	if (oci_manifest_parse(m.body, m.len, m.media_type, req->arena, &info, &e) < 0 ||
	    !info.config_media_type || strcmp(info.config_media_type, OCI_MT_HELM_CONFIG) != 0)
		return 0;                /* not a chart: an OCI artifact of its own */
	return h_oci_drop_chart(req, s, repo, m.digest, &info);
}
