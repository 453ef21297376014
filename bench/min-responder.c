/* min-responder.c - the floor cost of a FastCGI answer: a libfcgi responder that
 * answers every request with the same 400-byte JSON document, or with N bytes of
 * application/octet-stream when the query string is size=N (1 to 65536: the floor
 * of an answer the size of a blob). bench/frontends.sh compiles it and runs it beside
 * appr-fcgi behind the same nginx. */
#define _POSIX_C_SOURCE 200809L
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_LEN 400
#define BYTES_MAX 65536

static void on_term(int sig)
{
	(void)sig;
	FCGX_ShutdownPending();
}

int main(void)
{
	static char answer[512 + DOC_LEN], bytes[256 + BYTES_MAX];
	char doc[DOC_LEN + 1];
	FCGX_Request r;

	/* {"doc":"xxx...x"}: padded to exactly DOC_LEN bytes */
	int n = snprintf(doc, sizeof doc, "{\"doc\":\"");
	memset(doc + n, 'x', DOC_LEN - (size_t)n - 2);
	memcpy(doc + DOC_LEN - 2, "\"}", 2);
	doc[DOC_LEN] = '\0';
	int len = snprintf(answer, sizeof answer,
			   "Status: 200 OK\r\nContent-Type: application/json\r\n"
			   "Content-Length: %d\r\n\r\n%s", DOC_LEN, doc);

	struct sigaction sa = { .sa_handler = on_term };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0) {
		fprintf(stderr, "min-responder: cannot initialise libfcgi\n");
		return 1;
	}
	while (FCGX_Accept_r(&r) >= 0) {
		char buf[4096];
		while (FCGX_GetStr(buf, sizeof buf, r.in) > 0)
			;                         /* drain a body, if any */
		const char *q = FCGX_GetParam("QUERY_STRING", r.envp);
		long size = q && strncmp(q, "size=", 5) == 0 ? strtol(q + 5, NULL, 10) : 0;
		if (size > 0 && size <= BYTES_MAX) {
			int h = snprintf(bytes, 256, "Status: 200 OK\r\n"
					 "Content-Type: application/octet-stream\r\n"
					 "Content-Length: %ld\r\n\r\n", size);
			memset(bytes + h, 'x', (size_t)size);
			FCGX_PutStr(bytes, h + (int)size, r.out);
		} else {
			FCGX_PutStr(answer, len, r.out);
		}
		FCGX_Finish_r(&r);
	}
	FCGX_Free(&r, 1);
	return 0;
}
