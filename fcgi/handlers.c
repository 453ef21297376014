/* handlers.c - argument checks and release/media type selection shared by handlers. */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "manifest.h"
#include "names.h"
#include "push.h"
#include "semver.h"

char *h_concat(struct arena *a, const char *s1, const char *s2, const char *s3,
	       const char *s4)
{
	const char *part[4] = { s1, s2, s3, s4 };
	size_t len[4] = { 0 }, total = 0;
	for (int i = 0; i < 4 && part[i]; i++)
		total += len[i] = strlen(part[i]);
	char *out = arena_alloc(a, total + 1), *p = out;
	for (int i = 0; i < 4 && part[i]; i++) {
		memcpy(p, part[i], len[i]);
		p += len[i];
	}
	*p = '\0';
	return out;
}

int h_after_cursor(struct request *req, const char **after_ns, const char **after_name)
{
	const char *v = request_query(req, "after");
	*after_ns = *after_name = NULL;
	if (!v || !*v)
		return 0;
	const char *slash = strchr(v, '/');
	char *ns = slash ? arena_strndup(req->arena, v, (size_t)(slash - v)) : NULL;
	if (!ns || !names_valid_part(ns) || !names_valid_part(slash + 1))
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"after must name a package as namespace/name, not \"%.64s\"", v);
	*after_ns = ns;
	*after_name = slash + 1;
	return 0;
}

int h_package_args(struct request *req, const char **ns, const char **name)
{
	*ns = req->args[0];
	*name = req->args[1];
	unsigned long long max = req->app->cfg.max_name_length;
	if (!names_valid_part(*ns) || !names_valid_part(*name) || strlen(*ns) > max ||
	    strlen(*name) > max)
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"invalid package name \"%.64s/%.64s\": each part is 1-%llu of [A-Za-z0-9._-], not \".\" or \"..\"",
				*ns, *name, max);
	req->package = h_concat(req->arena, *ns, "/", *name, NULL);
	appr_err_details(&req->err, req->package, NULL, NULL);
	return 0;
}

int h_channel_arg(struct request *req, const char *channel)
{
	unsigned long long max = req->app->cfg.max_name_length;
	if (!names_valid_channel(channel) || strlen(channel) > max)
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"invalid channel name \"%.64s\": 1-%llu of [A-Za-z0-9._+-], not \".\" or \"..\"",
				channel, max);
	return 0;
}

int h_exact_release(struct request *req, const char *release)
{
	return push_check_version(release, &req->err);
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

int h_release_retry(struct request *req, const char *ns, const char *name,
		    const char *release, const char **out)
{
	struct semver v;
	struct appr_error e = { 0 };
	const char **rel;
	size_t n;
	if (req->err.http != 404 || semver_parse(release, &v) < 0)
		return 0;
	if (storage_list_releases(req->app->store, ns, name, req->arena, &rel, &n, &e) < 0) {
		if (e.http == 404)
			return 0;
		req->err = e;
		return -1;
	}
	long i = semver_select(release, (const char *const *)rel, n, NULL);
	if (i < 0 || strcmp(rel[i], release) == 0)
		return 0;
	*out = rel[i];
	memset(&req->err, 0, sizeof req->err);
	appr_err_details(&req->err, req->package, *out, NULL);
	return 1;
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
