/* redis-url.c - redis://[[user]:password@]host[:port][/db] taken apart. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "redis-url.h"
#include "util.h"

/* %XX escapes decoded in place. */
static void url_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		int h, l;
		if (*s == '%' && (h = util_hexval((unsigned char)s[1])) >= 0 &&
		    (l = util_hexval((unsigned char)s[2])) >= 0) {
			*o++ = (char)(h * 16 + l);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

int redis_url_parse(const char *url, struct redis_url *u)
{
	const char *s, *at, *slash, *hend, *colon;
	char *end;
	long port = 6379;

	memset(u, 0, sizeof *u);
	if (strncmp(url, "redis://", 8) != 0)
		return -1;
	s = url + 8;
	slash = strchr(s, '/');
	if (!slash)
		slash = s + strlen(s);
	at = memchr(s, '@', (size_t)(slash - s));
	if (at) {
		const char *c = memchr(s, ':', (size_t)(at - s));
		if (c) {
			if (c > s)
				u->user = xstrndup(s, (size_t)(c - s));
			u->password = xstrndup(c + 1, (size_t)(at - c - 1));
		} else {
			u->password = xstrndup(s, (size_t)(at - s));
		}
		if (u->user)
			url_decode(u->user);
		url_decode(u->password);
		s = at + 1;
	}
	if (*s == '[') {        /* [v6 address] */
		hend = memchr(s, ']', (size_t)(slash - s));
		if (!hend)
			goto bad;
		u->host = xstrndup(s + 1, (size_t)(hend - s - 1));
		colon = hend + 1 < slash && hend[1] == ':' ? hend + 1 : NULL;
		if (hend + 1 < slash && !colon)
			goto bad;
	} else {
		colon = memchr(s, ':', (size_t)(slash - s));
		hend = colon ? colon : slash;
		u->host = xstrndup(s, (size_t)(hend - s));
	}
	if (!*u->host)
		goto bad;
	if (colon) {
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (errno || end != slash || port < 1 || port > 65535)
			goto bad;
	}
	u->port = (int)port;
	if (*slash == '/' && slash[1]) {
		errno = 0;
		u->db = strtol(slash + 1, &end, 10);
		if (errno || *end || u->db < 0)
			goto bad;
	}
	return 0;
bad:
	redis_url_free(u);
	return -1;
}

void redis_url_free(struct redis_url *u)
{
	free(u->host);
	free(u->user);
	free(u->password);
	memset(u, 0, sizeof *u);
}
