/* main.c - start-up and the accept loop: the only file that knows libfcgi (FCGX_*).
 * With a FastCGI listening socket on fd 0 (web server bin-path, spawn-fcgi, mod_fcgid)
 * it serves requests until SIGTERM; otherwise it serves the one CGI request in its
 * environment and exits. */
#include <fcgiapp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "request.h"
#include "response.h"
#include "routes.h"

/* ---- FastCGI io ---- */

static const char *fcgi_param(void *ctx, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)ctx)->envp);
}

static long fcgi_read(void *ctx, void *buf, size_t len)
{
	FCGX_Request *r = ctx;
	int n = FCGX_GetStr(buf, len > INT_MAX ? INT_MAX : (int)len, r->in);
	if (n == 0 && FCGX_GetError(r->in) != 0)
		return -1;
	return n;
}

static int fcgi_write(void *ctx, const void *buf, size_t len)
{
	FCGX_Request *r = ctx;
	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;
		if (FCGX_PutStr(buf, chunk, r->out) != chunk)
			return -1;
		buf = (const char *)buf + chunk;
		len -= (size_t)chunk;
	}
	return 0;
}

/* ---- CGI io ---- */

static const char *cgi_param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static long cgi_read(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	size_t n = fread(buf, 1, len, stdin);
	if (n == 0 && ferror(stdin))
		return -1;
	return (long)n;
}

static int cgi_write(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	return fwrite(buf, 1, len, stdout) == len ? 0 : -1;
}

/* ---- serving ---- */

/* Serve one request on io. Returns what response_send did (enum resp_sent): with
 * RESP_CUT_SHORT the caller must not end the request properly. */
static int serve(struct app *app, const struct request_io *io, struct arena *a,
		 struct response *resp)
{
	struct request req = { .app = app, .arena = a, .io = io };
	if (request_parse(&req) < 0)
		resp_error(resp, &req.err);
	else
		routes_dispatch(&req, resp);
	if (app->cfg.cors_allow_origin[0])   /* CORS, on every answer, errors included */
		resp_header_cat(resp, "Access-Control-Allow-Origin", app->cfg.cors_allow_origin,
				NULL, NULL);
	if (resp->status >= 400)      /* one line per error, to the web server's error log */
		fprintf(stderr, "appr: %s %s: %d %s: %s\n", req.method ? req.method : "-",
			req.path ? req.path : "-", resp->status,
			req.err.code ? req.err.code : "", req.err.msg);
	int sent = response_send(resp, io, req.head);
	if (sent == RESP_CLIENT_GONE)
		fprintf(stderr, "appr: %s %s: client went away during the response\n",
			req.method ? req.method : "-", req.path ? req.path : "-");
	else if (sent == RESP_CUT_SHORT)
		fprintf(stderr, "appr: %s %s: %d answer cut short before its Content-Length "
			"(see above): the connection is dropped, the transfer fails\n",
			req.method ? req.method : "-", req.path ? req.path : "-", resp->status);
	response_reset(resp);
	arena_reset(a);
	return sent;
}

/* End a FastCGI request whose answer was cut short so that the web server fails the
 * transfer (it drops the client's connection short of the Content-Length) instead of
 * finishing it. FastCGI has no way for a responder to abort an answer, and closing the
 * connection without FCGI_END_REQUEST is not enough: nginx without fastcgi_keep_conn
 * takes the connection's end for the answer's, and keeps the client waiting for the
 * missing bytes. So what was written goes out, then a record header of no FastCGI
 * version, which every web server takes as a broken responder, then the connection is
 * closed. */
static void fcgi_abort(FCGX_Request *r)
{
	static const unsigned char broken[8];      /* version 0: no FastCGI record */
	FCGX_FFlush(r->out);
	if (write(r->ipcFd, broken, sizeof broken) != (ssize_t)sizeof broken) {
		/* the web server is gone already: nothing more to tell it */
	}
	FCGX_Free(r, 1);
}

static void on_term(int sig)
{
	(void)sig;
	FCGX_ShutdownPending();
}

/* Start-up failed: say why on stderr; a CGI request still gets a JSON 500. */
static int startup_failed(bool cgi, const struct appr_error *err)
{
	fprintf(stderr, "appr-fcgi: %s\n", err->msg);
	if (cgi) {
		struct response resp;
		struct request_io io = { cgi_param, cgi_read, cgi_write, NULL };
		struct appr_error e = *err;
		e.http = 500;
		e.code = APPR_E_INTERNAL;
		response_init(&resp);
		resp_error(&resp, &e);
		response_send(&resp, &io, false);
		response_free(&resp);
		fflush(stdout);
	}
	return 1;
}

int main(int argc, char **argv)
{
	static struct app app;
	struct appr_error err = { 0 };
	bool cgi = FCGX_IsCGI();

	if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		printf("appr-fcgi %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: appr-fcgi\n"
		       "A FastCGI responder for the App Registry protocol: give it a listening\n"
		       "socket on fd 0 (web server bin-path, spawn-fcgi, mod_fcgid) or run it as a\n"
		       "CGI program. Configuration: APPR_CONFIG (file), APPR_* variables; see\n"
		       "etc/appr.conf.\n");
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_term };   /* no SA_RESTART: accept returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);

	digest_global_init();
	if (config_load(NULL, &app.cfg, &err) < 0)
		return startup_failed(cgi, &err);
	if (storage_open(&app.cfg, &app.store, &err) < 0) {
		config_free(&app.cfg);
		return startup_failed(cgi, &err);
	}
	routes_init();
	if (strcmp(app.cfg.auth, "tokens") != 0)
		fprintf(stderr, "appr-fcgi: auth = none: no credentials are checked, anyone may read and write (set auth = tokens to require them)\n");

	struct arena *arena = arena_new();
	struct response resp;
	response_init(&resp);

	if (cgi) {
		struct request_io io = { cgi_param, cgi_read, cgi_write, NULL };
		serve(&app, &io, arena, &resp);
		fflush(stdout);
	} else {
		FCGX_Request r;
		if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0) {
			fprintf(stderr, "appr-fcgi: cannot initialise libfcgi\n");
			return 1;
		}
		struct request_io io = { fcgi_param, fcgi_read, fcgi_write, &r };
		while (FCGX_Accept_r(&r) >= 0) {
			if (serve(&app, &io, arena, &resp) == RESP_CUT_SHORT)
				fcgi_abort(&r);
			else
				FCGX_Finish_r(&r);
		}
		FCGX_Free(&r, 1);
	}

	response_free(&resp);
	arena_free(arena);
	storage_close(app.store);
	config_free(&app.cfg);
	return 0;
}
