/* access.c - the identity behind a request's Authorization header and its
 * permission levels (auth = tokens); with auth = none everyone may do everything. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "access.h"
#include "auth.h"
#include "names.h"

int access_unauthorized(struct request *req, const char *msg)
{
	return appr_err(&req->err, 401, APPR_E_UNAUTHORIZED, "%s", msg);
}

bool access_is_open(const struct appr_config *cfg)
{
	return !cfg->auth || strcmp(cfg->auth, "tokens") != 0;
}

/* Forget a secret (a volatile store, so the compiler keeps it). */
static void wipe(char *p, size_t n)
{
	volatile char *v = p;
	while (n--)
		*v++ = 0;
}

/* A token presented (Bearer, or Basic with user when non-NULL): found by its hash,
 * compared in constant time, checked for expiry and owner. */
static int identify_token(struct request *req, const char *secret, const char *user,
			  struct access_who *who)
{
	char hash[DIGEST_HEX_LEN + 1];
	struct storage_token *t = arena_alloc(req->arena, sizeof *t);
	struct appr_error e = { 0 };
	if (!auth_token_shaped(secret))
		return access_unauthorized(req, "invalid token");
	auth_token_hash(secret, hash);
	if (storage_token_find(req->app->store, hash, req->arena, t, &e) < 0) {
		if (e.http == 404)
			return access_unauthorized(req, "invalid or revoked token");
		req->err = e;
		return -1;
	}
	if (!auth_equal(t->hash, hash, DIGEST_HEX_LEN))
		return access_unauthorized(req, "invalid or revoked token");
	if (t->expires_at != 0 && (long long)time(NULL) >= t->expires_at)
		return access_unauthorized(req, "token expired");
	if (user && strcmp(user, t->user) != 0)
		return access_unauthorized(req, "token does not belong to this user");
	who->user = t->user;
	who->token = t;
	return 0;
}

/* Basic user:password; an unknown user costs a full password check too. */
static int identify_password(struct request *req, const char *user, const char *password,
			     struct access_who *who)
{
	struct storage_user u;
	struct appr_error e = { 0 };
	if (!names_valid_user(user)) {
		auth_password_check(password, NULL);
		return access_unauthorized(req, "invalid user name or password");
	}
	if (storage_user_get(req->app->store, user, req->arena, &u, &e) < 0) {
		if (e.http != 404) {
			req->err = e;
			return -1;
		}
		auth_password_check(password, NULL);
		return access_unauthorized(req, "invalid user name or password");
	}
	if (!auth_password_check(password, u.password_hash))
		return access_unauthorized(req, "invalid user name or password");
	who->user = u.name;
	return 0;
}

int access_identify(struct request *req, struct access_who *who)
{
	struct auth_credentials c;
	memset(who, 0, sizeof *who);
	if (access_is_open(&req->app->cfg)) {
		who->open = true;
		return 0;
	}
	const char *h = req->io->param(req->io->ctx, "HTTP_AUTHORIZATION");
	if (auth_parse_header(h, &c) < 0)
		return access_unauthorized(req, "malformed Authorization header");
	int rc = 0;
	switch (c.scheme) {
	case AUTH_NONE:
		return 0;
	case AUTH_BEARER:
		rc = identify_token(req, c.secret, NULL, who);
		break;
	case AUTH_BASIC:
		rc = auth_token_shaped(c.secret) ? identify_token(req, c.secret, c.user, who)
						 : identify_password(req, c.user, c.secret, who);
		break;
	}
	wipe(c.secret, sizeof c.secret);
	if (rc < 0)
		return -1;
	if (storage_grant_list(req->app->store, who->user, req->arena, &who->grants,
			       &who->n_grants, &req->err) < 0)
		return -1;
	return 0;
}

enum storage_level access_level(const struct access_who *who, const char *ns)
{
	enum storage_level best = STORAGE_LEVEL_NONE;
	if (who->open)
		return STORAGE_LEVEL_ADMIN;
	if (!who->user)
		return STORAGE_LEVEL_NONE;
	bool any = strcmp(ns, "*") == 0;
	if (who->token && who->token->namespace && (any || strcmp(who->token->namespace, ns) != 0))
		return STORAGE_LEVEL_NONE;
	for (size_t i = 0; i < who->n_grants; i++) {
		const struct storage_grant *g = &who->grants[i];
		if ((strcmp(g->namespace, "*") == 0 || (!any && strcmp(g->namespace, ns) == 0)) &&
		    g->level > best)
			best = g->level;
	}
	if (who->token && who->token->scope < best)
		best = who->token->scope;
	return best;
}

const struct storage_readers *access_readers(const struct access_who *who, struct arena *a)
{
	struct storage_readers *r = arena_alloc(a, sizeof *r);
	if (who->open)
		return NULL;
	if (!who->user)
		return r;                     /* anonymous: public packages only */
	if (access_level(who, "*") >= STORAGE_LEVEL_READ) {
		r->all = true;
		return r;
	}
	const char **ns = arena_alloc(a, (who->n_grants + 1) * sizeof *ns);
	size_t n = 0;
	if (who->token && who->token->namespace) {
		if (access_can_read(who, who->token->namespace))
			ns[n++] = who->token->namespace;
	} else {
		for (size_t i = 0; i < who->n_grants; i++)
			if (strcmp(who->grants[i].namespace, "*") != 0 &&
			    access_can_read(who, who->grants[i].namespace))
				ns[n++] = who->grants[i].namespace;
	}
	r->namespaces = ns;
	r->n = n;
	return r;
}

