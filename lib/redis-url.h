/* redis-url.h - a redis URL, redis://[[user]:password@]host[:port][/db], taken apart:
 * for the redis storage driver (kv-redis.c) and for import-appr reading the original
 * server's redis. */
#ifndef APPR_REDIS_URL_H
#define APPR_REDIS_URL_H

struct redis_url {
	char *host;                      /* an IPv6 address without its brackets */
	int port;                        /* 6379 when not given */
	char *user;                      /* NULL: no AUTH user (AUTH password only) */
	char *password;                  /* NULL: no AUTH; user and password %-decoded */
	long db;                         /* 0 when not given */
};

/* Parse url into *u (its strings malloc'ed). Returns 0, or -1 (nothing to free) when
 * url is not of that form. */
int redis_url_parse(const char *url, struct redis_url *u);
void redis_url_free(struct redis_url *u);

#endif
