/* handlers.c - argument checks and release/media type selection shared by handlers. */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "manifest.h"
#include "names.h"
#include "semver.h"

int h_package_args(struct request *req, const char **ns, const char **name)
{
	*ns = req->args[0];
	*name = req->args[1];
	if (!names_valid_part(*ns) || !names_valid_part(*name))
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"invalid package name \"%.64s/%.64s\": each part is [a-z0-9] then [a-z0-9._-], 1-64 characters",
				*ns, *name);
	req->package = arena_printf(req->arena, "%s/%s", *ns, *name);
	appr_err_details(&req->err, req->package, NULL, NULL);
	return 0;
}

int h_channel_arg(struct request *req, const char *channel)
{
	if (!names_valid_part(channel))
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"invalid channel name \"%.64s\": [a-z0-9] then [a-z0-9._-], 1-64 characters",
				channel);
	return 0;
}

int h_exact_release(struct request *req, const char *release)
{
	struct semver v;
	if (semver_parse(release, &v) < 0)
		return appr_err(&req->err, 422, APPR_E_INVALID_RELEASE,
				"invalid release \"%.64s\": expected a semantic version like 1.2.3", release);
	appr_err_details(&req->err, NULL, release, NULL);
	return 0;
}

int h_select_release(struct request *req, const char *ns, const char *name,
		     const char *spec, const char **out)
{
	struct semver v;
	if (semver_parse(spec, &v) == 0) {
		*out = spec;
		appr_err_details(&req->err, NULL, spec, NULL);
		return 0;
	}
	const char **rel;
	size_t n;
	if (storage_list_releases(req->app->store, ns, name, req->arena, &rel, &n, &req->err) < 0)
		return -1;
	long i = semver_select(spec, (const char *const *)rel, n, NULL);
	if (i == SEMVER_SELECT_INVALID)
		return appr_err(&req->err, 422, APPR_E_INVALID_RELEASE,
				"invalid release query \"%.64s\"", spec);
	if (i < 0) {
		appr_err_details(&req->err, NULL, spec, NULL);
		return appr_err(&req->err, 404, APPR_E_RELEASE_NOT_FOUND,
				"no release of %s/%s matches \"%.64s\"", ns, name, spec);
	}
	*out = rel[i];
	appr_err_details(&req->err, NULL, *out, NULL);
	return 0;
}

int h_select_media_type(struct request *req, const char *ns, const char *name,
			const char *release, const char *spec, const char **out)
{
	if (strcmp(spec, "-") != 0) {
		char mt[NAMES_MEDIA_TYPE_MAX + 1];
		if (names_media_type(spec, mt, sizeof mt) < 0)
			return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
					"invalid media type \"%.64s\"", spec);
		*out = arena_strdup(req->arena, mt);
		appr_err_details(&req->err, NULL, NULL, *out);
		return 0;
	}
	struct storage_manifest *m;
	size_t n;
	if (storage_get_manifests(req->app->store, ns, name, release, NULL, req->arena, &m, &n,
				  &req->err) < 0)
		return -1;
	if (n == 1) {
		*out = m[0].media_type;
		appr_err_details(&req->err, NULL, NULL, *out);
		return 0;
	}
	struct strbuf all = { 0 };
	for (size_t i = 0; i < n; i++)
		sb_printf(&all, "%s%s", i ? ", " : "", m[i].media_type);
	appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
		 "release %s of %s/%s has several media types (%.80s): name one instead of \"-\"",
		 release, ns, name, all.buf ? all.buf : "");
	sb_free(&all);
	return -1;
}

void h_ok(struct response *resp, struct json_object *o)
{
	resp_json(resp, 200, o);
}

int h_send_blob(struct request *req, struct response *resp, const char *digest,
		long long size, const char *filename, const char *release, const char *media_type,
		bool json)
{
	struct storage_blob_reader *r;
	long long stored;
	if (storage_blob_open(req->app->store, digest, &r, &stored, &req->err) < 0)
		return -1;
	if (stored != size)
		fprintf(stderr, "appr: blob %s is %lld bytes, its manifest says %lld\n", digest,
			stored, size);
	resp_blob(resp, r, stored, json);
	if (json) {
		struct strbuf *b = &resp->body;
		resp->content_type = "application/json";
		sb_puts(b, "{\"package\":");
		manifest_write_string(b, req->package);
		sb_puts(b, ",\"release\":");
		manifest_write_string(b, release);
		if (media_type) {
			sb_puts(b, ",\"media_type\":");
			manifest_write_string(b, media_type);
		}
		sb_puts(b, ",\"filename\":");
		manifest_write_string(b, filename);
		sb_puts(b, ",\"blob\":\"");
		sb_puts(&resp->tail, "\"}");
	} else {
		resp->content_type = "application/x-gzip";
		resp_header(resp, "Content-Disposition", "attachment; filename=\"%s\"", filename);
	}
	return 0;
}

