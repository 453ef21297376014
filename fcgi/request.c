/* request.c - CGI parameters, path segments, query string and body reading. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "request.h"

/* Percent-decode s[0..n) into a new arena string; plus_space turns '+' into ' '
 * (query strings only). Returns NULL on a bad escape or an encoded NUL. */
static char *decode(struct arena *a, const char *s, size_t n, bool plus_space)
{
	char *out = arena_alloc(a, n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return NULL;
			int h = util_hexval(s[i + 1]), l = util_hexval(s[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return NULL;
			c = (char)(h * 16 + l);
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		*o++ = c;
	}
	*o = '\0';
	return out;
}

/* Split path into segments; raw (REQUEST_URI) segments are percent-decoded, while
 * PATH_INFO and SCRIPT_NAME arrive decoded already and are taken as they are
 * (decoding twice would turn "%2541" into "A"). */
static int parse_path(struct request *req, const char *path, size_t len, bool raw)
{
	size_t i = 0;
	req->nseg = 0;
	while (i < len) {
		while (i < len && path[i] == '/')
			i++;
		size_t start = i;
		while (i < len && path[i] != '/')
			i++;
		if (i == start)
			break;
		if (req->nseg == REQUEST_MAX_SEGMENTS)
			return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND, "no such route");
		char *s = raw ? decode(req->arena, path + start, i - start, false)
			      : arena_strndup(req->arena, path + start, i - start);
		if (!s)
			return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
					"bad percent-encoding in the request path");
		req->seg[req->nseg++] = s;
	}
	/* "/cnr/api/..." and "/api/..." are the same route */
	if (req->nseg > 1 && strcmp(req->seg[0], "cnr") == 0 &&
	    (strcmp(req->seg[1], "api") == 0 || strcmp(req->seg[1], "version") == 0)) {
		memmove(req->seg, req->seg + 1, (req->nseg - 1) * sizeof req->seg[0]);
		req->nseg--;
	}
	return 0;
}

/* Whether the path as the client sent it (REQUEST_URI, before any web server decoded
 * or normalised it) is one the registry can take at its word: no empty segment ("//"),
 * no "." or ".." segment (raw or %-encoded), no %-encoded '/' or '\\' inside a segment.
 * A web server would otherwise hand over a path that differs from what was asked
 * ("a%2F..%2Fb/name" arrives as "b/name"). A trailing '/' is allowed. */
static bool raw_path_canonical(const char *uri, size_t len)
{
	size_t i = 0;
	if (len == 0 || uri[0] != '/')
		return len == 0;
	while (i < len) {
		i++;                                  /* the '/' */
		size_t start = i;
		while (i < len && uri[i] != '/')
			i++;
		size_t n = i - start;
		const char *seg = uri + start;
		if (n == 0 && i < len)
			return false;                 /* "//" */
		/* "." and ".." with any of their dots encoded */
		size_t dots = 0, k = 0;
		while (k < n) {
			if (seg[k] == '.')
				k++;
			else if (n - k >= 3 && seg[k] == '%' && seg[k + 1] == '2' &&
				 (seg[k + 2] == 'e' || seg[k + 2] == 'E'))
				k += 3;
			else
				break;
			dots++;
		}
		if (k == n && (dots == 1 || dots == 2))
			return false;
		for (k = 0; k + 2 < n; k++)
			if (seg[k] == '%' && ((seg[k + 1] == '2' && (seg[k + 2] == 'f' || seg[k + 2] == 'F')) ||
					      (seg[k + 1] == '5' && (seg[k + 2] == 'c' || seg[k + 2] == 'C'))))
				return false;
	}
	return true;
}

static int parse_query(struct request *req, const char *q)
{
	size_t n = 1;
	for (const char *p = q; *p; p++)
		n += *p == '&';
	req->query = arena_alloc(req->arena, n * sizeof *req->query);
	req->nquery = 0;
	while (*q) {
		size_t len = strcspn(q, "&");
		size_t klen = strcspn(q, "=");
		if (klen > len)
			klen = len;
		if (len > 0) {
			struct query_param *p = &req->query[req->nquery];
			p->key = decode(req->arena, q, klen, true);
			p->value = klen < len ? decode(req->arena, q + klen + 1, len - klen - 1, true)
					      : arena_strdup(req->arena, "");
			if (!p->key || !p->value)
				return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
						"bad percent-encoding in the query string");
			req->nquery++;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	return 0;
}

int request_parse(struct request *req)
{
	const struct request_io *io = req->io;
	const char *m = io->param(io->ctx, "REQUEST_METHOD");
	req->method = m && *m ? m : "GET";
	req->head = strcmp(req->method, "HEAD") == 0;
	req->content_length = -1;
	req->body_read = 0;

	const char *cl = io->param(io->ctx, "CONTENT_LENGTH");
	if (cl && *cl) {
		char *end;
		errno = 0;
		long long v = strtoll(cl, &end, 10);
		if (*end || errno || v < 0 || cl[0] < '0' || cl[0] > '9')
			return appr_err(&req->err, 400, APPR_E_INVALID_USAGE, "bad Content-Length");
		req->content_length = v;
	}

	/* The request headers the registry reads, bounded (431 above max_header_size). */
	static const char *const headers[] = { "HTTP_AUTHORIZATION", "HTTP_IF_NONE_MATCH" };
	for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
		const char *h = io->param(io->ctx, headers[i]);
		if (h && strlen(h) > req->app->cfg.max_header_size)
			return appr_err(&req->err, 431, APPR_E_INVALID_USAGE,
					"header %s is longer than %llu bytes (max_header_size)",
					headers[i] + 5, req->app->cfg.max_header_size);
	}

	/* PATH_INFO when the server splits a script name off (CGI, some FastCGI setups),
	 * else the path part of REQUEST_URI, else SCRIPT_NAME. */
	const char *pi = io->param(io->ctx, "PATH_INFO");
	const char *uri = io->param(io->ctx, "REQUEST_URI");
	const char *query = io->param(io->ctx, "QUERY_STRING");
	const char *path;
	size_t plen;
	if (pi && *pi) {
		path = pi;
		plen = strlen(pi);
	} else if (uri && *uri) {
		path = uri;
		plen = strcspn(uri, "?#");
		if (!query && uri[plen] == '?')
			query = uri + plen + 1;
	} else {
		path = io->param(io->ctx, "SCRIPT_NAME");
		path = path ? path : "/";
		plen = strlen(path);
	}
	if (plen > REQUEST_MAX_URI || (query && strlen(query) > REQUEST_MAX_URI))
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE, "request URI too long");
	if (uri && *uri && !raw_path_canonical(uri, strcspn(uri, "?#"))) {
		req->path = arena_strndup(req->arena, uri, strcspn(uri, "?#"));
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"the request path holds an empty, \".\" or \"..\" segment or an encoded "
				"slash: a web server would pass on another path than the one asked");
	}
	req->path = arena_strndup(req->arena, path, plen);
	if (parse_path(req, path, plen, path == uri) < 0)
		return -1;
	return parse_query(req, query ? query : "");
}

const char *request_query(const struct request *req, const char *key)
{
	for (size_t i = 0; i < req->nquery; i++)
		if (strcmp(req->query[i].key, key) == 0)
			return req->query[i].value;
	return NULL;
}

bool request_query_true(const struct request *req, const char *key)
{
	const char *v = request_query(req, key);
	return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
		     strcasecmp(v, "yes") == 0);
}

long request_read_body(struct request *req, void *buf, size_t len)
{
	long long want = req->content_length < 0 ? 0 : req->content_length - req->body_read;
	if (want <= 0)
		return 0;
	if ((long long)len > want)
		len = (size_t)want;
	size_t got = 0;
	while (got < len) {
		long n = req->io->read(req->io->ctx, (char *)buf + got, len - got);
		if (n < 0)
			return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
					"error reading the request body");
		if (n == 0)
			return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
					"request body shorter than its Content-Length (%lld of %lld bytes)",
					req->body_read + (long long)got, req->content_length);
		got += (size_t)n;
	}
	req->body_read += (long long)got;
	return (long)got;
}

int request_body_wanted(struct request *req, unsigned long long max, const char *expected)
{
	if (req->content_length > 0 && (unsigned long long)req->content_length > max)
		return appr_err(&req->err, 413, APPR_E_PAYLOAD_TOO_LARGE,
				"request body of %lld bytes is above the limit of %llu bytes",
				req->content_length, max);
	if (req->content_length <= 0)
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE, "empty body: expected %s",
				expected);
	return 0;
}

#define BODY_CHUNK 65536

int request_stream_body(struct request *req, request_body_fn feed, void *ctx)
{
	char *buf = xmalloc(BODY_CHUNK);
	int rc = -1;
	for (;;) {
		long n = request_read_body(req, buf, BODY_CHUNK);
		if (n < 0)
			break;
		if (n == 0) {
			rc = 0;
			break;
		}
		if (feed(ctx, buf, (size_t)n, &req->err) < 0)
			break;
	}
	free(buf);
	return rc;
}
