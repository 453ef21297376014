/* min-responder.c - the floor cost of a FastCGI answer: a libfcgi responder that
 * answers every request with the same 400-byte JSON document (bench/frontends.sh
 * compiles it and runs it beside appr-fcgi behind the same nginx). */
#define _POSIX_C_SOURCE 200809L
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define DOC_LEN 400

static void on_term(int sig)
{
	(void)sig;
	FCGX_ShutdownPending();
}

int main(void)
{
	static char answer[512 + DOC_LEN];
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
		FCGX_PutStr(answer, len, r.out);
		FCGX_Finish_r(&r);
	}
	FCGX_Free(&r, 1);
	return 0;
}
