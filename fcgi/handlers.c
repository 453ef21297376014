/* handlers.c - argument checks and release/media type selection shared by handlers. */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "manifest.h"
#include "names.h"
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

/* Whether an If-None-Match value (a list of entity tags, or "*") names the strong
 * tag "digest"; tags compare weakly (W/ ignored), as RFC 9110 says for this header. */
static bool etag_listed(const char *inm, const char *digest)
{
	size_t dlen = strlen(digest);
	const char *p = inm;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		if (*p == '*')
			return true;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"')
			return false;             /* not a list of entity tags: no match */
		const char *end = strchr(p + 1, '"');
		if (!end)
			return false;
		if ((size_t)(end - p - 1) == dlen && memcmp(p + 1, digest, dlen) == 0)
			return true;
		p = end + 1;
	}
	return false;
}

/* Characters a web server takes literally in an X-Sendfile path or an
 * X-Accel-Redirect URI (no %-decoding surprise, no header injection). */
static bool delivery_safe(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("/._-+~@,=:", *s)))
			return false;
	return true;
}

/* blob_delivery x-sendfile / x-accel-redirect: the header naming the blob file.
 * Returns 1 when added, 0 when the blob must be streamed (driver without files, or
 * a path a web server would read differently: said once on stderr), -1 on error. */
static int delegate_blob(struct request *req, struct response *resp, const char *digest)
{
	static bool warned;
	const struct appr_config *cfg = &req->app->cfg;
	bool accel = strcmp(cfg->blob_delivery, "x-accel-redirect") == 0;
	char path[4096];
	if (!accel && strcmp(cfg->blob_delivery, "x-sendfile") != 0)
		return 0;
	if (!storage_has_blob_files(req->app->store))
		return 0;
	if (storage_blob_path(req->app->store, digest, path, sizeof path, &req->err) < 0)
		return -1;
	if (accel) {
		const char *loc = cfg->x_accel_location;
		size_t n = strlen(loc);
		if (loc[0] != '/' || !delivery_safe(loc))
			return appr_err(&req->err, 500, APPR_E_INTERNAL,
					"x_accel_location \"%.64s\" must be a path starting with /", loc);
		char sub[DIGEST_HEX_LEN + 12];         /* "sha256/xx/<digest>" */
		memcpy(sub, "sha256/", 7);
		memcpy(sub + 7, digest, 2);
		sub[9] = '/';
		memcpy(sub + 10, digest, DIGEST_HEX_LEN + 1);
		resp_header_cat(resp, "X-Accel-Redirect", loc, loc[n - 1] == '/' ? "" : "/", sub);
	} else {
		if (!delivery_safe(path)) {
			if (!warned)
				fprintf(stderr, "appr: blob path %s has characters a web server may "
					"decode: blobs are streamed instead of X-Sendfile\n", path);
			warned = true;
			return 0;
		}
		resp_header_cat(resp, "X-Sendfile", path, NULL, NULL);
	}
	resp_delegated(resp);
	return 1;
}

int h_send_blob(struct request *req, struct response *resp, const char *digest,
		long long size, const char *filename, const char *release, const char *media_type,
		bool json, bool immutable)
{
	struct storage_blob_reader *r;
	long long stored;
	if (!json) {
		resp_header_cat(resp, "ETag", "\"", digest, "\"");
		resp_header_cat(resp, "Cache-Control",
				immutable ? "public, max-age=31536000, immutable" : "no-cache",
				NULL, NULL);
		const char *inm = req->io->param(req->io->ctx, "HTTP_IF_NONE_MATCH");
		if (inm && etag_listed(inm, digest)) {
			resp_not_modified(resp);
			return 0;
		}
		resp->content_type = "application/x-gzip";
		resp_header_cat(resp, "Content-Disposition", "attachment; filename=\"", filename,
				"\"");
		int d = delegate_blob(req, resp, digest);
		if (d != 0)
			return d < 0 ? -1 : 0;
		resp_header_cat(resp, "Accept-Ranges", "none", NULL, NULL);
	}
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
	}
	return 0;
}
