/* fuzz-request.c - libFuzzer target: a whole request through the responder, in
 * process, on a real SQLite store in a temp dir: request parsing (percent-decoding,
 * query string, Content-Length), the route table and every handler.
 * Input: "METHOD\nREQUEST_URI\nCONTENT_LENGTH\nAUTHORIZATION\nbody" (an empty
 * CONTENT_LENGTH line means the body's real length; any other text is passed as is,
 * so short and bogus lengths are tried; an empty AUTHORIZATION line sends none).
 * The registry runs with auth = tokens and one user "fuzz", admin of every
 * namespace, whose token is FUZZ_TOKEN (the seeds use it, as Bearer and as Basic
 * fuzz:token; Basic with a password costs a full PBKDF2 run, so seeds avoid it).
 * Checked: the answer starts with a Status line, every error answer is a JSON error
 * object (under /v2/ the OCI form, {"errors": [{"code", "message", ...}]}), and no
 * input causes a 5xx (but 501, the OCI API on a store without it). */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "digest.h"
#include "request.h"
#include "response.h"
#include "routes.h"

#define FUZZ_TOKEN "appr_0000000000000000000000000000000000000000000000000000000000000000"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct app app;
static struct arena *arena;

struct mem_io {
	const char *method, *uri, *query, *length, *authorization;
	const char *body;
	size_t body_len, body_off;
	struct strbuf out;
};

static const char *mem_param(void *ctx, const char *name)
{
	struct mem_io *m = ctx;
	if (strcmp(name, "REQUEST_METHOD") == 0)
		return m->method;
	if (strcmp(name, "REQUEST_URI") == 0)
		return m->uri;
	if (strcmp(name, "QUERY_STRING") == 0)
		return m->query;
	if (strcmp(name, "CONTENT_LENGTH") == 0)
		return m->length;
	if (strcmp(name, "HTTP_AUTHORIZATION") == 0)
		return *m->authorization ? m->authorization : NULL;
	return NULL;
}

static long mem_read(void *ctx, void *buf, size_t len)
{
	struct mem_io *m = ctx;
	size_t n = m->body_len - m->body_off;
	if (n > len)
		n = len;
	memcpy(buf, m->body + m->body_off, n);
	m->body_off += n;
	return (long)n;
}

static int mem_write(void *ctx, const void *buf, size_t len)
{
	sb_append(&((struct mem_io *)ctx)->out, buf, len);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	static char dir[4096];
	struct appr_error err = { 0 };
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/appr-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	setenv("APPR_CONFIG", "", 1);
	setenv("APPR_DATA_DIR", dir, 1);
	setenv("APPR_STORAGE", "filesystem", 1);
	setenv("APPR_FSYNC", "false", 1);
	setenv("APPR_MAX_BODY_SIZE", "1M", 1);
	setenv("APPR_AUTH", "tokens", 1);
	digest_global_init();
	struct storage_token t = { .id = "0000000000000000", .user = "fuzz",
				   .scope = STORAGE_LEVEL_ADMIN };
	auth_token_hash(FUZZ_TOKEN, t.hash);
	if (config_load(NULL, &app.cfg, &err) < 0 ||
	    storage_open(&app.cfg, &app.store, &err) < 0 ||
	    storage_user_put(app.store, "fuzz", NULL, true, &err) < 0 ||
	    storage_grant_set(app.store, "fuzz", "*", STORAGE_LEVEL_ADMIN, &err) < 0 ||
	    storage_token_add(app.store, &t, &err) < 0) {
		fprintf(stderr, "fuzz-request: %s\n", err.msg);
		exit(1);
	}
	routes_init();
	arena = arena_new();
	fprintf(stderr, "fuzz-request: store in %s\n", dir);
	return 0;
}

/* The next '\n'-terminated line of *p (NUL-terminated copy in the arena), or "". */
static const char *line(const char **p, const char *end)
{
	const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	const char *e = nl ? nl : end;
	*p = nl ? nl + 1 : end;
	return arena_strndup(arena, s, (size_t)(e - s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct mem_io m = { 0 };
	m.method = line(&p, end);
	m.uri = line(&p, end);
	m.length = line(&p, end);
	m.authorization = line(&p, end);
	m.body = p;
	m.body_len = (size_t)(end - p);
	const char *q = strchr(m.uri, '?');
	m.query = q ? q + 1 : "";
	if (!*m.length)
		m.length = arena_printf(arena, "%zu", m.body_len);

	struct request_io io = { mem_param, mem_read, mem_write, &m };
	struct request req = { .app = &app, .arena = arena, .io = &io };
	struct response resp;
	response_init(&resp);
	if (request_parse(&req) < 0)
		resp_error(&resp, &req.err);
	else
		routes_dispatch(&req, &resp);
	int status = resp.status;
	response_send(&resp, &io, req.head);
	response_free(&resp);

	if (m.out.len < 8 || memcmp(m.out.buf, "Status: ", 8) != 0) {
		fprintf(stderr, "answer without a status line (%zu bytes): %.200s\n", m.out.len,
			m.out.buf ? m.out.buf : "");
		abort();   /* every answer starts with its status */
	}
	if (status >= 500 && status != 501) {
		fprintf(stderr, "a %d answer: %.300s\n", status, m.out.buf);
		abort();   /* no input is the server's fault */
	}
	/* the browse pages (fcgi/h-ui*.c) answer errors with an HTML page */
	sb_putc(&m.out, '\0');
	bool html = strstr(m.out.buf, "\r\nContent-Type: text/html; charset=utf-8\r\n") != NULL;
	if (status >= 400 && !req.head && html && !strstr(m.out.buf, "</h1>")) {
		fprintf(stderr, "HTML error answer without its page: %.300s\n", m.out.buf);
		abort();
	}
	if (status >= 400 && !req.head && !html) {
		sb_putc(&m.out, '\0');
		const char *body = strstr(m.out.buf, "\r\n\r\n");
		struct json_object *o = body ? json_tokener_parse(body + 4) : NULL, *e = NULL;
		/* {"code", "message", ...}, or under /v2/ the OCI form
		 * {"errors": [{"code", "message", "detail"}]} */
		if (o && json_object_object_get_ex(o, "errors", &e) &&
		    json_object_is_type(e, json_type_array) && json_object_array_length(e) > 0)
			e = json_object_array_get_idx(e, 0);
		else
			e = o;
		if (!o || !json_object_is_type(o, json_type_object) ||
		    !json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "code", NULL) ||
		    !json_object_object_get_ex(e, "message", NULL)) {
			fprintf(stderr, "error answer without a JSON error body: %.300s\n", m.out.buf);
			abort();   /* an error answer is a JSON error object */
		}
		json_object_put(o);
	}
	free(m.out.buf);
	arena_reset(arena);
	return 0;
}
