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

/* Where blob digest lives, for log lines: its file, or the store. */
static const char *blob_where(struct request *req, const char *digest, char *buf, size_t cap)
{
	struct appr_error e = { 0 };
	struct storage *s = req->app->store;
	if (storage_has_blob_files(s) && storage_blob_path(s, digest, buf, cap, &e) == 0)
		return buf;
	if (storage_has_blob_files(s))
		snprintf(buf, cap, "the %s store in %s", s->ops->name, req->app->cfg.data_dir);
	else
		snprintf(buf, cap, "the %s store", s->ops->name);
	return buf;
}

/* " of <package> [<release>]" when d names them, for log lines. */
static const char *blob_owner(const struct delivery *d, char *buf, size_t cap)
{
	bool rel = d->release && strcmp(d->release, d->digest) != 0;
	if (!d->package)
		return "";
	snprintf(buf, cap, " of %s%s%s", d->package, rel ? " " : "", rel ? d->release : "");
	return buf;
}

/* Whether a manifest of d->package still names the blob: a delete or a force push
 * may have taken it since the handler found the manifest, and then its absence is no
 * damage (the answer stays 404). A store that cannot tell counts as still naming it. */
static bool still_listed(struct request *req, const struct delivery *d)
{
	struct appr_error e = { 0 };
	char sha256[DIGEST_HEX_LEN + 1];
	long long size;
	const char *slash = d->package ? strchr(d->package, '/') : NULL;
	if (!slash)
		return true;
	const char *ns = arena_strndup(req->arena, d->package, (size_t)(slash - d->package));
	return storage_blob_lookup(req->app->store, ns, slash + 1, d->digest, &size, sha256,
				   &e) == 0 || e.http != 404;
}

/* Open the stored blob d names and check it is there with its manifest's size.
 * Returns 0 with *r open, or -1 with req->err: 500 internal-error, said on stderr,
 * when it is missing while a manifest still lists it, or of another size; 404 when
 * it went with its last manifest meanwhile; the store's error otherwise. */
static int open_checked(struct request *req, const struct delivery *d,
			struct storage_blob_reader **r)
{
	char where[4096], owner[300];
	long long stored;
	if (storage_blob_open(req->app->store, d->digest, r, &stored, &req->err) < 0) {
		if (req->err.http != 404 || !still_listed(req, d))
			return -1;
		fprintf(stderr, "appr: MISSING BLOB %s%s: %s has no such blob, its manifest "
			"lists it: not served\n", d->digest, blob_owner(d, owner, sizeof owner),
			blob_where(req, d->digest, where, sizeof where));
		appr_err_clear(&req->err);
		return appr_err(&req->err, 500, APPR_E_INTERNAL,
				"blob sha256:%s is missing from storage", d->digest);
	}
	if (stored != d->size) {
		storage_blob_close(*r);
		*r = NULL;
		fprintf(stderr, "appr: CORRUPT BLOB %s%s: %s is %lld bytes, its manifest says "
			"%lld: not served\n", d->digest, blob_owner(d, owner, sizeof owner),
			blob_where(req, d->digest, where, sizeof where), stored, d->size);
		return appr_err(&req->err, 500, APPR_E_INTERNAL,
				"blob sha256:%s is damaged in storage: %lld bytes, %lld were pushed",
				d->digest, stored, d->size);
	}
	return 0;
}

int deliver_blob(struct request *req, struct response *resp, const struct delivery *d)
{
	struct storage_blob_reader *r;
	if (!d->json) {
		if (deliver_validated(req, resp, d->digest,
				      d->immutable ? "public, max-age=31536000, immutable" : "no-cache"))
			return 0;
		resp->content_type = d->content_type ? d->content_type : "application/x-gzip";
		resp_header_cat(resp, "Content-Disposition", "attachment; filename=\"", d->filename,
				"\"");
	}
	if (open_checked(req, d, &r) < 0)
		return -1;
	if (!d->json) {
		int rc = delegate_blob(req, resp, d->digest);
		if (rc != 0) {
			storage_blob_close(r);
			return rc < 0 ? -1 : 0;
		}
		resp_header_cat(resp, "Accept-Ranges", "none", NULL, NULL);
	} else {
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
	return resp_blob(resp, r, d->size, d->json, d->digest, d->sha256, &req->err);
}

int deliver_delegate(struct request *req, struct response *resp, const char *digest)
{
	return delegate_blob(req, resp, digest);
}
