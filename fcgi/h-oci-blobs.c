/* h-oci-blobs.c - OCI blobs and blob uploads: HEAD/GET/DELETE
 * /v2/<ns>/<name>/blobs/<digest>, POST /v2/<ns>/<name>/blobs/uploads/ and
 * GET/PATCH/PUT/DELETE /v2/<ns>/<name>/blobs/uploads/<uuid>. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"
#include "handlers.h"
#include "h-oci.h"

/* ---- blob answers ---- */

/* A blob sent a piece at a time by response_send's more hook. A whole blob is hashed
 * as it goes, and its last piece is given only when the SHA-256 of every byte is its
 * digest: damaged bytes are never answered as good (the answer is cut short, so the
 * client sees a failed transfer, and a line on stderr says CORRUPT BLOB). */
struct blob_send {
	struct h_oci_src src;
	long long left;
	struct digest_ctx *d;            /* whole blobs: the bytes so far; NULL for ranges */
	char hex[DIGEST_HEX_LEN + 1];    /* the digest they must hash to */
};

static int blob_more(void *ctx, struct strbuf *out)
{
	struct blob_send *b = ctx;
	if (!out) {                      /* the request ended */
		h_oci_src_close(&b->src);
		digest_free(b->d);
		b->d = NULL;
		return 0;
	}
	if (b->left == 0)
		return 0;
	size_t want = b->left > 65536 ? 65536 : (size_t)b->left;
	if (out->cap < want + 1) {
		sb_append(out, "", 0);
		out->buf = xrealloc(out->buf, want + 1);
		out->cap = want + 1;
	}
	long n = h_oci_src_read(&b->src, out->buf, want);
	if (n <= 0) {
		fprintf(stderr, "appr: oci: blob sha256:%s ended %lld bytes early%s\n", b->hex,
			b->left, n < 0 ? ": unreadable" : "");
		return -1;
	}
	out->len = (size_t)n;
	out->buf[n] = '\0';
	b->left -= n;
	if (b->d) {
		char got[DIGEST_HEX_LEN + 1];
		digest_update(b->d, out->buf, (size_t)n);
		if (b->left == 0) {
			digest_final_hex(b->d, got);
			if (strcmp(got, b->hex) != 0) {
				fprintf(stderr, "appr: CORRUPT BLOB sha256:%s (OCI): its stored bytes "
					"have SHA-256 %s: its last bytes are held back, the answer "
					"is cut short\n", b->hex, got);
				return -1;
			}
		}
	}
	return b->left > 0 ? 1 : 0;
}

/* Parse Range "bytes=a-b", "bytes=a-" or "bytes=-n" against size into [*from, *to]:
 * 1 a satisfiable range, 0 none (or not one range: the whole blob), -1 unsatisfiable. */
static int parse_range(const char *h, long long size, long long *from, long long *to)
{
	char *end;
	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		long long n = strtoll(h + 1, &end, 10);
		if (*end || n <= 0)
			return n == 0 && !*end ? -1 : 0;
		*from = n >= size ? 0 : size - n;
		*to = size - 1;
		return size > 0 ? 1 : -1;
	}
	long long a = strtoll(h, &end, 10);
	if (end == h || *end != '-' || a < 0)
		return 0;
	h = end + 1;
	long long b = size - 1;
	if (*h) {
		b = strtoll(h, &end, 10);
		if (*end || b < a)
			return 0;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = b >= size ? size - 1 : b;
	return 1;
}

/* Blob hex of repo's Helm view: a chart's .tgz (*digest: its appr blob) or a chart's
 * config (*mem, in the arena). 1 found, 0 not, -1 error. */
static int view_blob(struct request *req, struct oci_store *s, const char *repo,
		     const char *hex, long long *size, const char **digest, const char **mem)
{
	struct h_oci_chart *c;
	size_t n;
	if (h_oci_charts(req, s, repo, NULL, &c, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(c[i].r.sha256, hex) == 0) {
			*size = c[i].r.size;
			*digest = c[i].r.digest;
			return 1;
		}
		if (strcmp(c[i].config_hex, hex) == 0) {
			*size = (long long)c[i].config_len;
			*mem = c[i].config;
			return 1;
		}
	}
	return 0;
}

/* HEAD/GET /v2/<ns>/<name>/blobs/<digest>: a stored blob, else one of the Helm view
 * (a chart's .tgz is its appr blob). With blob_delivery x-sendfile or
 * x-accel-redirect, a chart's .tgz is sent by the web server from its appr blob file
 * (which the web server may read); other blobs are streamed, their bytes checked. */
int h_oci_blob_get(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo, *digest = NULL, *mem = NULL;
	char hex[DIGEST_HEX_LEN + 1], num[24];
	long long size, from = 0, to;
	struct appr_error e = { 0 };
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0)
		return -1;
	if (oci_parse_digest(req->args[2], hex) < 0)
		return appr_err(&req->err, 400, OCI_E_DIGEST_INVALID,
				"%.80s is not a digest sha256:<64 lowercase hex>", req->args[2]);
	bool delegating = strcmp(req->app->cfg.blob_delivery, "stream") != 0;
	bool stored = oci_blob_stat(s, repo, hex, &size, &e) == 0;
	if (!stored) {
		if (e.http != 404) {
			req->err = e;
			return -1;
		}
		int found = view_blob(req, s, repo, hex, &size, &digest, &mem);
		if (found <= 0) {
			if (found == 0)
				req->err = e;
			return -1;
		}
	} else if (delegating) {
		/* a chart's .tgz stored both ways is one file: the appr one can be sent */
		long long vsize;
		const char *vmem = NULL;
		if (view_blob(req, s, repo, hex, &vsize, &digest, &vmem) < 0)
			return -1;
	}
	h_oci_digest_header(resp, hex);
	if (digest && delegating) {
		int rc = deliver_delegate(req, resp, digest);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			resp->status = 200;
			resp->content_type = "application/octet-stream";
			resp_header(resp, "Cache-Control", "max-age=31536000, immutable");
			return 0;
		}
	}
	to = size - 1;
	int r = parse_range(h_oci_header(req, "HTTP_RANGE"), size, &from, &to);
	resp_header_cat(resp, "Accept-Ranges", "bytes", NULL, NULL);
	if (r < 0) {
		snprintf(num, sizeof num, "%lld", size);
		resp_header_cat(resp, "Content-Range", "bytes */", num, NULL);
		return appr_err(&req->err, 416, OCI_E_BLOB_UNKNOWN,
				"range %.60s is outside the blob's %lld bytes",
				h_oci_header(req, "HTTP_RANGE"), size);
	}
	if (mem) {                       /* a view's config: made, not read */
		sb_append(&resp->body, mem + from, (size_t)(to - from + 1));
		resp->status = r > 0 ? 206 : 200;
		resp->content_type = "application/octet-stream";
		resp_header(resp, "Cache-Control", "max-age=31536000, immutable");
		if (r > 0)
			resp_header(resp, "Content-Range", "bytes %lld-%lld/%lld", from, to, size);
		return 0;
	}
	struct h_oci_src src;
	if (h_oci_src_open(req, s, hex, stored ? NULL : digest, from, &src) < 0)
		return -1;
	if (r == 0 && size <= RESP_BLOB_CHUNK) {
		/* a small whole blob is read and checked before anything is answered, so that
		 * a damaged one is a plain 500 (even where no transfer can be cut short) */
		char *buf = arena_alloc(req->arena, (size_t)size + 1), got[DIGEST_HEX_LEN + 1];
		long long have = 0;
		long n = 1;
		while (have < size &&
		       (n = h_oci_src_read(&src, buf + have, (size_t)(size - have))) > 0)
			have += n;
		h_oci_src_close(&src);
		if (have == size)
			digest_sha256_hex(buf, (size_t)size, got);
		if (have != size || strcmp(got, hex) != 0) {
			fprintf(stderr, "appr: CORRUPT BLOB sha256:%s (OCI) of %s: %s: not served\n",
				hex, repo, have != size ? "its bytes are fewer than recorded"
							: "its stored bytes have another SHA-256");
			return appr_err(&req->err, 500, APPR_E_INTERNAL,
					"blob sha256:%s is damaged in storage", hex);
		}
		sb_append(&resp->body, buf, (size_t)size);
		resp->status = 200;
		resp->content_type = "application/octet-stream";
		resp_header(resp, "Cache-Control", "max-age=31536000, immutable");
		return 0;
	}
	struct blob_send *b = arena_alloc(req->arena, sizeof *b);
	b->src = src;
	b->left = to - from + 1;
	b->d = r > 0 ? NULL : digest_new();
	memcpy(b->hex, hex, sizeof b->hex);
	resp->status = r > 0 ? 206 : 200;
	resp->content_type = "application/octet-stream";
	resp->more = blob_more;
	resp->more_ctx = b;
	resp_header(resp, "Content-Length", "%lld", b->left);
	resp_header(resp, "Cache-Control", "max-age=31536000, immutable");
	if (r > 0)
		resp_header(resp, "Content-Range", "bytes %lld-%lld/%lld", from, to, size);
	return 0;
}

/* DELETE /v2/<ns>/<name>/blobs/<digest> */
int h_oci_blob_delete(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo;
	char hex[DIGEST_HEX_LEN + 1];
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0)
		return -1;
	if (oci_parse_digest(req->args[2], hex) < 0)
		return appr_err(&req->err, 400, OCI_E_DIGEST_INVALID,
				"%.80s is not a digest sha256:<64 lowercase hex>", req->args[2]);
	if (oci_blob_delete(s, repo, hex, &req->err) < 0)
		return -1;
	h_oci_digest_header(resp, hex);
	resp->status = 202;
	resp->content_type = "text/plain";
	return 0;
}

/* ---- uploads ---- */

struct appender {
	struct oci_upload_writer *w;
	long long written;
};

static int append(void *ctx, const void *data, size_t len, struct appr_error *err)
{
	struct appender *a = ctx;
	if (oci_upload_write(a->w, data, len, err) < 0)
		return -1;
	a->written += (long long)len;
	return 0;
}

/* A body without Content-Length (Transfer-Encoding: chunked, which Apache's mod_cgi
 * passes on as it comes): read to its end, up to max_body_size (413 above). */
static int body_to_eof(struct request *req, struct appender *a)
{
	char *buf = xmalloc(65536);
	int rc = -1;
	for (;;) {
		long n = req->io->read(req->io->ctx, buf, 65536);
		if (n < 0) {
			appr_err(&req->err, 400, OCI_E_BLOB_UPLOAD_INVALID,
				 "error reading the request body");
			break;
		}
		if (n == 0) {
			rc = 0;
			break;
		}
		if ((unsigned long long)(a->written + n) > req->app->cfg.max_body_size) {
			appr_err(&req->err, 413, OCI_E_SIZE_INVALID,
				 "a chunk above max_body_size (%llu)", req->app->cfg.max_body_size);
			break;
		}
		if (append(a, buf, (size_t)n, &req->err) < 0)
			break;
	}
	free(buf);
	return rc;
}

/* Append the request body to upload uuid of repo. When content_range, the
 * Content-Range header must start at the bytes held so far (else 416) and span the
 * body. *size: the bytes the upload holds after it. */
static int upload_body(struct request *req, struct oci_store *s, const char *repo,
		       const char *uuid, bool content_range, long long *size)
{
	struct appender a = { 0 };
	const char *cr = h_oci_header(req, "HTTP_CONTENT_RANGE");
	int rc = -1;
	if (req->content_length > 0 &&
	    (unsigned long long)req->content_length > req->app->cfg.max_body_size)
		return appr_err(&req->err, 413, OCI_E_SIZE_INVALID,
				"a chunk of %lld bytes is above max_body_size (%llu)",
				req->content_length, req->app->cfg.max_body_size);
	if (oci_upload_append(s, repo, uuid, &a.w, &req->err) < 0)
		return -1;
	*size = a.w->size;
	if (content_range && cr) {
		long long from, to;
		char *end;
		const char *p = strncmp(cr, "bytes ", 6) == 0 ? cr + 6 : cr;
		from = strtoll(p, &end, 10);
		bool ok = end != p && *end == '-';
		if (ok) {
			p = end + 1;
			to = strtoll(p, &end, 10);
			ok = end != p && (!*end || *end == '/') && to >= from;
		}
		if (!ok || from != *size) {
			appr_err(&req->err, 416, OCI_E_BLOB_UPLOAD_INVALID,
				 "Content-Range %.60s does not start at the %lld bytes uploaded so far",
				 cr, *size);
			goto out;
		}
		if (req->content_length >= 0 && to - from + 1 != req->content_length) {
			appr_err(&req->err, 400, OCI_E_BLOB_UPLOAD_INVALID,
				 "Content-Range %.60s does not span the %lld bytes sent", cr,
				 req->content_length);
			goto out;
		}
	}
	if (req->content_length >= 0) {
		if (request_stream_body(req, append, &a) < 0)
			goto out;
	} else if (body_to_eof(req, &a) < 0) {
		goto out;
	}
	rc = 0;
out:
	if (oci_upload_end(a.w, rc == 0, rc == 0 ? &req->err : &(struct appr_error){ 0 }) < 0)
		rc = -1;
	else if (rc == 0)
		*size += a.written;
	return rc;
}

static void upload_headers(struct response *resp, const char *repo, const char *uuid,
			   long long size)
{
	resp_header(resp, "Location", "/v2/%s/blobs/uploads/%s", repo, uuid);
	resp_header(resp, "Range", "0-%lld", size > 0 ? size - 1 : 0);
	resp_header_cat(resp, "Docker-Upload-UUID", uuid, NULL, NULL);
}

/* The 201 of a finished upload. */
static void created(struct response *resp, const char *repo, const char *hex)
{
	resp_header(resp, "Location", "/v2/%s/blobs/sha256:%s", repo, hex);
	h_oci_digest_header(resp, hex);
	resp->status = 201;
	resp->content_type = "text/plain";
}

/* ?digest= into hex: 1 given, 0 absent, -1 malformed (400 DIGEST_INVALID). */
static int digest_query(struct request *req, char *hex)
{
	const char *d = request_query(req, "digest");
	if (!d)
		return 0;
	if (oci_parse_digest(d, hex) < 0)
		return appr_err(&req->err, 400, OCI_E_DIGEST_INVALID,
				"digest=%.80s is not sha256:<64 lowercase hex>", d);
	return 1;
}

/* ?mount=DIGEST&from=NS/NAME: link the blob from that repository when the caller may
 * read it there and it holds it (1: done, 201 made), else 0 (an upload session is
 * opened instead); -1 on a store error. */
static int mount(struct request *req, struct response *resp, struct oci_store *s,
		 const char *repo)
{
	const char *m = request_query(req, "mount"), *from = request_query(req, "from");
	char hex[DIGEST_HEX_LEN + 1], ns[72];
	struct appr_error e = { 0 };
	const char *slash = from ? strchr(from, '/') : NULL;
	if (!m || !slash || oci_parse_digest(m, hex) < 0 || (size_t)(slash - from) >= sizeof ns)
		return 0;
	snprintf(ns, sizeof ns, "%.*s", (int)(slash - from), from);
	if (!oci_valid_component(ns) || !oci_valid_component(slash + 1) ||
	    !h_oci_may_read(req, ns, slash + 1))
		return 0;
	if (oci_blob_mount(s, repo, from, hex, &e) < 0) {
		if (e.http == 404)
			return 0;
		req->err = e;
		return -1;
	}
	created(resp, repo, hex);
	return 1;
}

/* POST /v2/<ns>/<name>/blobs/uploads/[?digest=|?mount=&from=] */
int h_oci_upload_start(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo;
	char uuid[OCI_UUID_LEN + 1], hex[DIGEST_HEX_LEN + 1];
	long long size;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0)
		return -1;
	int given = digest_query(req, hex), mounted = given ? 0 : mount(req, resp, s, repo);
	if (mounted)
		return mounted < 0 ? -1 : 0;
	if (given < 0 || oci_upload_new(s, repo, uuid, &req->err) < 0)
		return -1;
	if (given) {                     /* the whole blob in this request */
		if (upload_body(req, s, repo, uuid, false, &size) < 0 ||
		    oci_upload_finish(s, repo, uuid, hex, &req->err) < 0) {
			struct appr_error e = { 0 };
			oci_upload_cancel(s, repo, uuid, &e);   /* gone already: no matter */
			return -1;
		}
		created(resp, repo, hex);
		return 0;
	}
	upload_headers(resp, repo, uuid, 0);
	resp->status = 202;
	resp->content_type = "text/plain";
	return 0;
}

/* GET /v2/<ns>/<name>/blobs/uploads/<uuid>: 204 with the Range held so far. */
int h_oci_upload_status(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo;
	struct oci_upload_writer *w;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0 ||
	    oci_upload_append(s, repo, req->args[2], &w, &req->err) < 0)
		return -1;
	long long size = w->size;
	if (oci_upload_end(w, true, &req->err) < 0)
		return -1;
	upload_headers(resp, repo, req->args[2], size);
	resp_no_content(resp);
	return 0;
}

/* PATCH /v2/<ns>/<name>/blobs/uploads/<uuid>: a chunk, 202. */
int h_oci_upload_patch(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo;
	long long size;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0)
		return -1;
	if (upload_body(req, s, repo, req->args[2], true, &size) < 0) {
		if (req->err.http == 416)   /* where the client is to go on from */
			upload_headers(resp, repo, req->args[2], size);
		return -1;
	}
	upload_headers(resp, repo, req->args[2], size);
	resp->status = 202;
	resp->content_type = "text/plain";
	return 0;
}

/* PUT /v2/<ns>/<name>/blobs/uploads/<uuid>?digest=: the last chunk (maybe empty), 201. */
int h_oci_upload_finish(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo, *uuid = req->args[2];
	char hex[DIGEST_HEX_LEN + 1];
	long long size;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0)
		return -1;
	int given = digest_query(req, hex);
	if (given < 0)
		return -1;
	if (!given)
		return appr_err(&req->err, 400, OCI_E_DIGEST_INVALID,
				"the PUT that ends an upload names its digest: ?digest=sha256:...");
	if (upload_body(req, s, repo, uuid, true, &size) < 0 ||
	    oci_upload_finish(s, repo, uuid, hex, &req->err) < 0)
		return -1;
	created(resp, repo, hex);
	return 0;
}

/* DELETE /v2/<ns>/<name>/blobs/uploads/<uuid>: 204. */
int h_oci_upload_cancel(struct request *req, struct response *resp)
{
	struct oci_store *s;
	const char *repo;
	if (h_oci_store(req, &s) < 0 || h_oci_repo(req, &repo) < 0 ||
	    oci_upload_cancel(s, repo, req->args[2], &req->err) < 0)
		return -1;
	resp_no_content(resp);
	return 0;
}
