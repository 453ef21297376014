/* deliver.c - blob delivery for every API: ETag/304, Cache-Control, stream, X-Sendfile,
 * X-Accel-Redirect, and the JSON base64 form. */
#include <stdio.h>
#include <string.h>

#include "deliver.h"
#include "digest.h"
#include "manifest.h"

/* Whether an If-None-Match value (a list of entity tags, or "*") names the strong
 * tag "digest" (any tag); tags compare weakly (W/ ignored), as RFC 9110 says for this header. */
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

bool deliver_validated(struct request *req, struct response *resp, const char *tag,
		       const char *cache_control)
{
	resp_header_cat(resp, "ETag", "\"", tag, "\"");
	resp_header_cat(resp, "Cache-Control", cache_control, NULL, NULL);
	const char *inm = req->io->param(req->io->ctx, "HTTP_IF_NONE_MATCH");
	if (inm && etag_listed(inm, tag)) {
		resp_not_modified(resp);
		return true;
	}
	return false;
}

int deliver_blob(struct request *req, struct response *resp, const struct delivery *d)
{
	struct storage_blob_reader *r;
	long long stored;
	if (!d->json) {
		if (deliver_validated(req, resp, d->digest,
				      d->immutable ? "public, max-age=31536000, immutable" : "no-cache"))
			return 0;
		resp->content_type = d->content_type ? d->content_type : "application/x-gzip";
		resp_header_cat(resp, "Content-Disposition", "attachment; filename=\"", d->filename,
				"\"");
		int rc = delegate_blob(req, resp, d->digest);
		if (rc != 0)
			return rc < 0 ? -1 : 0;
		resp_header_cat(resp, "Accept-Ranges", "none", NULL, NULL);
	}
	if (storage_blob_open(req->app->store, d->digest, &r, &stored, &req->err) < 0)
		return -1;
	if (stored != d->size)
		fprintf(stderr, "appr: blob %s is %lld bytes, its manifest says %lld\n", d->digest,
			stored, d->size);
	resp_blob(resp, r, stored, d->json);
	if (d->json) {
		struct strbuf *b = &resp->body;
		resp->content_type = "application/json";
		sb_puts(b, "{\"package\":");
		manifest_write_string(b, d->package);
		sb_puts(b, ",\"release\":");
		manifest_write_string(b, d->release);
		if (d->media_type) {
			sb_puts(b, ",\"media_type\":");
			manifest_write_string(b, d->media_type);
		}
		sb_puts(b, ",\"filename\":");
		manifest_write_string(b, d->filename);
		sb_puts(b, ",\"blob\":\"");
		sb_puts(&resp->tail, "\"}");
	}
	return 0;
}
