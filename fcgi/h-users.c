/* h-users.c - users, tokens and grants over HTTP: login, minting tokens, setting grants. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "access.h"
#include "auth.h"
#include "handlers.h"
#include "names.h"

#define MAX_JSON_BODY 65536
#define LOGIN_TOKEN_DAYS 30          /* lifetime of a token answered by login */
#define MAX_EXPIRES_DAYS 36500

/* The request body as a JSON object; *out NULL when there is no body. 400 for
 * anything but an object, 413 above MAX_JSON_BODY. The caller puts *out. */
static int json_body(struct request *req, struct json_object **out)
{
	char buf[4096];
	struct strbuf sb = { 0 };
	int rc = -1;
	*out = NULL;
	if (req->content_length > MAX_JSON_BODY)
		return appr_err(&req->err, 413, APPR_E_PAYLOAD_TOO_LARGE,
				"request body above %d bytes", MAX_JSON_BODY);
	for (;;) {
		long n = request_read_body(req, buf, sizeof buf);
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (sb.len + (size_t)n > MAX_JSON_BODY) {
			appr_err(&req->err, 413, APPR_E_PAYLOAD_TOO_LARGE,
				 "request body above %d bytes", MAX_JSON_BODY);
			goto out;
		}
		sb_append(&sb, buf, (size_t)n);
	}
	if (sb.len == 0) {
		rc = 0;
		goto out;
	}
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, sb.buf, (int)sb.len);
	bool complete = json_tokener_get_error(tok) == json_tokener_success &&
			json_tokener_get_parse_end(tok) == sb.len;
	json_tokener_free(tok);
	if (!o || !complete || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		appr_err(&req->err, 400, APPR_E_INVALID_USAGE, "the body must be a JSON object");
		goto out;
	}
	*out = o;
	rc = 0;
out:
	sb_free(&sb);
	return rc;
}

/* The string member key of o (NULL when absent or null); 400 when another type. */
static int member_string(struct request *req, struct json_object *o, const char *key,
			 const char **out)
{
	struct json_object *v = NULL;
	*out = NULL;
	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE, "\"%s\" must be a string", key);
	*out = json_object_get_string(v);
	return 0;
}

/* Mint a token for user and store it; the token itself goes to token (shown once). */
static int mint(struct request *req, const char *user, const char *ns,
		enum storage_level scope, long long expires_at, char token[AUTH_TOKEN_LEN + 1],
		struct storage_token *t)
{
	char *id = arena_alloc(req->arena, AUTH_TOKEN_ID_LEN + 1);
	memset(t, 0, sizeof *t);
	t->user = user;
	t->namespace = ns;
	t->scope = scope;
	t->expires_at = expires_at;
	return auth_token_mint(req->app->store, t, id, token, &req->err);
}

/* POST /api/v1/users/login {"user": {"username", "password"}} -> {"token": "Bearer ..."}:
 * a new token of the user, every namespace, scope admin (capped by the user's grants),
 * valid LOGIN_TOKEN_DAYS days. */
int h_login(struct request *req, struct response *resp)
{
	struct json_object *body = NULL, *u = NULL;
	const char *name = NULL, *password = NULL;
	struct storage_user user;
	struct storage_token t;
	struct appr_error e = { 0 };
	char token[AUTH_TOKEN_LEN + 1];
	int rc = -1;

	if (json_body(req, &body) < 0)
		return -1;
	if (!body || !json_object_object_get_ex(body, "user", &u) ||
	    !json_object_is_type(u, json_type_object)) {
		appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
			 "expected {\"user\": {\"username\": ..., \"password\": ...}}");
		goto out;
	}
	if (member_string(req, u, "username", &name) < 0 ||
	    member_string(req, u, "password", &password) < 0)
		goto out;
	if (!name || !password) {
		appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
			 "expected {\"user\": {\"username\": ..., \"password\": ...}}");
		goto out;
	}
	/* a missing user costs a full password check too */
	if (!names_valid_user(name) ||
	    storage_user_get(req->app->store, name, req->arena, &user, &e) < 0) {
		if (e.http && e.http != 404) {
			req->err = e;
			goto out;
		}
		auth_password_check(password, NULL);
		access_unauthorized(req, "invalid user name or password");
		goto out;
	}
	if (!auth_password_check(password, user.password_hash)) {
		access_unauthorized(req, "invalid user name or password");
		goto out;
	}
	if (mint(req, user.name, NULL, STORAGE_LEVEL_ADMIN,
		 (long long)time(NULL) + LOGIN_TOKEN_DAYS * 86400LL, token, &t) < 0)
		goto out;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(
				       arena_printf(req->arena, "Bearer %s", token)));
	h_ok(resp, o);
	rc = 0;
out:
	json_object_put(body);
	return rc;
}

/* POST /api/v1/tokens {"namespace"?, "scope"?, "expires_days"?}: a new token of the
 * caller, never broader than the credential used: a token bound to a namespace mints
 * only for it, a scope at most the caller's, an expiry no later than the caller's.
 * Defaults: the caller's namespace binding, scope and expiry (password: all, admin,
 * never). Answers {"token", "id", "user", "namespace", "scope", "expires_at"}. */
int h_token_create(struct request *req, struct response *resp)
{
	const struct access_who *who = req->who;
	const struct storage_token *caller;
	struct json_object *body = NULL, *v = NULL;
	const char *ns = NULL, *scope_s = NULL;
	enum storage_level max_scope, scope;
	long long max_expiry, expires_at;
	struct storage_token t;
	char token[AUTH_TOKEN_LEN + 1];
	int rc = -1;

	if (!who || !who->user)
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"tokens need auth = tokens and a user: use appr-admin token create");
	caller = who->token;
	max_scope = caller ? caller->scope : STORAGE_LEVEL_ADMIN;
	max_expiry = caller ? caller->expires_at : 0;
	if (json_body(req, &body) < 0)
		return -1;
	if (member_string(req, body, "namespace", &ns) < 0 ||
	    member_string(req, body, "scope", &scope_s) < 0)
		goto out;
	if (ns && strcmp(ns, "*") != 0 && !names_valid_part(ns)) {
		appr_err(&req->err, 400, APPR_E_INVALID_USAGE, "invalid namespace \"%.64s\"", ns);
		goto out;
	}
	if (caller && caller->namespace) {
		if (ns && strcmp(ns, caller->namespace) != 0) {
			appr_err(&req->err, 403, APPR_E_FORBIDDEN,
				 "this token is bound to namespace %s", caller->namespace);
			goto out;
		}
		ns = caller->namespace;
	} else if (ns && strcmp(ns, "*") == 0) {
		ns = NULL;
	}
	scope = max_scope;
	if (scope_s && (auth_level_parse(scope_s, &scope) < 0 || scope == STORAGE_LEVEL_NONE)) {
		appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
			 "scope must be read, write or admin");
		goto out;
	}
	if (scope > max_scope) {
		appr_err(&req->err, 403, APPR_E_FORBIDDEN,
			 "this token's scope is %s: it cannot mint a %s token",
			 auth_level_name(max_scope), auth_level_name(scope));
		goto out;
	}
	expires_at = max_expiry;
	if (body && json_object_object_get_ex(body, "expires_days", &v) && v) {
		long long days = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || days < 0 || days > MAX_EXPIRES_DAYS) {
			appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				 "expires_days must be an integer from 0 (never) to %d",
				 MAX_EXPIRES_DAYS);
			goto out;
		}
		expires_at = days ? (long long)time(NULL) + days * 86400LL : 0;
		if (max_expiry && (expires_at == 0 || expires_at > max_expiry)) {
			appr_err(&req->err, 403, APPR_E_FORBIDDEN,
				 "this token expires sooner: it cannot mint a longer-lived one");
			goto out;
		}
	}
	if (mint(req, who->user, ns, scope, expires_at, token, &t) < 0)
		goto out;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(token));
	json_object_object_add(o, "id", json_object_new_string(t.id));
	json_object_object_add(o, "user", json_object_new_string(t.user));
	json_object_object_add(o, "namespace", ns ? json_object_new_string(ns) : NULL);
	json_object_object_add(o, "scope", json_object_new_string(auth_level_name(scope)));
	json_object_object_add(o, "expires_at", json_object_new_int64(expires_at));
	h_ok(resp, o);
	rc = 0;
out:
	json_object_put(body);
	return rc;
}

/* Set (or with level none, remove) the grant of user args[1] on namespace args[0]
 * ("*": every namespace). The router checked admin on args[0]. */
static int grant(struct request *req, struct response *resp, enum storage_level level)
{
	const struct access_who *who = req->who;
	const char *ns = req->args[0], *user = req->args[1];
	if (!names_valid_part(ns) && strcmp(ns, "*") != 0)
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"invalid namespace \"%.64s\"", ns);
	if (!names_valid_user(user))
		return appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
				"invalid user name \"%.64s\"", user);
	if (!who || access_level(who, ns) < level)
		return appr_err(&req->err, 403, APPR_E_FORBIDDEN,
				"cannot grant more than one's own level on %.64s", ns);
	if (storage_grant_set(req->app->store, user, ns, level, &req->err) < 0)
		return -1;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "user", json_object_new_string(user));
	json_object_object_add(o, "namespace", json_object_new_string(ns));
	json_object_object_add(o, "level", json_object_new_string(auth_level_name(level)));
	h_ok(resp, o);
	return 0;
}

/* PUT /api/v1/namespaces/{ns}/grants/{user} {"level": "read|write|admin|none"} */
int h_grant_set(struct request *req, struct response *resp)
{
	struct json_object *body = NULL;
	const char *s = NULL;
	enum storage_level level;
	int rc = -1;
	if (json_body(req, &body) < 0)
		return -1;
	if (member_string(req, body, "level", &s) < 0)
		goto out;
	if (!s || auth_level_parse(s, &level) < 0) {
		appr_err(&req->err, 400, APPR_E_INVALID_USAGE,
			 "expected {\"level\": \"read\" | \"write\" | \"admin\" | \"none\"}");
		goto out;
	}
	rc = grant(req, resp, level);
out:
	json_object_put(body);
	return rc;
}

/* DELETE /api/v1/namespaces/{ns}/grants/{user} */
int h_grant_delete(struct request *req, struct response *resp)
{
	return grant(req, resp, STORAGE_LEVEL_NONE);
}
