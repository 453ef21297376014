/* access.h - who is asking and what they may do: the identity behind a request's
 * Authorization header (auth = tokens) and its permission level on a namespace. */
#ifndef APPR_FCGI_ACCESS_H
#define APPR_FCGI_ACCESS_H

#include <stdbool.h>

#include "request.h"
#include "auth.h"
#include "response.h"
#include "storage.h"

/* The challenge of every 401 (both schemes the registry accepts). */
#define ACCESS_CHALLENGE "Basic realm=\"appr\", Bearer realm=\"appr\""

/* Who is asking. Everything lives in the request's arena. */
struct access_who {
	bool open;                       /* auth = none: every level everywhere, no user */
	const char *user;                /* NULL: anonymous */
	const struct storage_token *token;  /* the token presented, or NULL (password) */
	struct storage_grant *grants;    /* the user's grants */
	size_t n_grants;
};

/* Whether cfg leaves the registry open (auth = none): no credentials are checked. */
bool access_is_open(const struct appr_config *cfg);

/* Find out who req comes from (its Authorization header; nothing is read with
 * auth = none). No header: anonymous (who->user NULL). A malformed header, an unknown
 * or revoked or expired token, a token presented as Basic under another user, an
 * unknown user or a wrong password: -1 with 401 unauthorized-access in req->err.
 * Storage failures: -1 with their error. A wrong password costs the same whether or
 * not the user exists; token hashes are compared in constant time. */
int access_identify(struct request *req, struct access_who *who);

/* The effective level of who on namespace ns ("*" asks for every namespace at once):
 * the highest grant on ns or "*", capped by the token's scope; a token bound to
 * another namespace gives NONE. auth = none: ADMIN. */
enum storage_level access_level(const struct access_who *who, const char *ns);

/* The readers view of who for list and search (NULL with auth = none: everything).
 * Allocated in a. */
const struct storage_readers *access_readers(const struct access_who *who, struct arena *a);

/* Whether who may read private packages of ns (read level or more). */
static inline bool access_can_read(const struct access_who *who, const char *ns)
{ return access_level(who, ns) >= STORAGE_LEVEL_READ; }

/* Fill req->err with 401 unauthorized-access (message msg) and return -1; the router
 * adds the WWW-Authenticate challenge to every 401. */
int access_unauthorized(struct request *req, const char *msg);

#endif
