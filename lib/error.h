/* error.h - the error detail every layer fills and one place in fcgi/ turns into JSON. */
#ifndef APPR_ERROR_H
#define APPR_ERROR_H

#include <stdarg.h>

/* Error codes of the protocol (doc/protocol.md, "Errors"). */
#define APPR_E_INVALID_USAGE      "invalid-usage"             /* 400 */
#define APPR_E_UNAUTHORIZED       "unauthorized-access"       /* 401 */
#define APPR_E_FORBIDDEN          "forbidden"                 /* 403 */
#define APPR_E_PACKAGE_NOT_FOUND  "package-not-found"         /* 404 */
#define APPR_E_CHANNEL_NOT_FOUND  "channel-not-found"         /* 404 */
#define APPR_E_RELEASE_NOT_FOUND  "package-release-not-found" /* 404 */
#define APPR_E_PACKAGE_EXISTS     "package-exists"            /* 409 */
#define APPR_E_RESOURCE_IN_USE    "resource-in-use"           /* 409 */
#define APPR_E_PAYLOAD_TOO_LARGE  "payload-too-large"         /* 413 */
#define APPR_E_INVALID_RELEASE    "invalid-release"           /* 422 */
#define APPR_E_INVALID_PARAMETERS "invalid-parameters"        /* 422 */
#define APPR_E_INVALID_CHART      "invalid-chart"             /* 422: not a chart Helm loads */
#define APPR_E_UNSUPPORTED        "unsupported"               /* 501 */
#define APPR_E_INSUFFICIENT_STORAGE "insufficient-storage"    /* 507: the disk is full */
#define APPR_E_INTERNAL           "internal-error"            /* 500 */
#define APPR_E_UNAVAILABLE        "storage-unavailable"       /* 503: etcd/redis unreachable */
/* Users and tokens (auth = tokens; not in the reference server) */
#define APPR_E_USER_NOT_FOUND     "user-not-found"            /* 404 */
#define APPR_E_USER_EXISTS        "user-exists"               /* 409 */
#define APPR_E_TOKEN_NOT_FOUND    "token-not-found"           /* 404 */

/* Filled by the failing function; handlers pass one down and render it once.
 * The details fields are optional ("" = absent) and become the "details" object. */
struct appr_error {
	int http;              /* HTTP status, 0 = no error recorded */
	const char *code;      /* one of the APPR_E_* strings */
	char msg[160];         /* human readable, one line */
	char package[136];     /* details.package  ("ns/name") */
	char release[136];     /* details.release */
	char media_type[72];   /* details.media_type */
};

/* Record an error in err (NULL allowed: then only the return value tells).
 * Always returns -1, so `return appr_err(err, 404, APPR_E_..., "...")` reads well. */
int appr_err(struct appr_error *err, int http, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The same with a va_list. */
int appr_verr(struct appr_error *err, int http, const char *code, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/* Set the details fields (each may be NULL). */
void appr_err_details(struct appr_error *err, const char *package, const char *release,
		      const char *media_type);

/* Clear err back to "no error". */
void appr_err_clear(struct appr_error *err);

#endif
