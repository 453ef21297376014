/* config.c - the registry configuration: defaults, then the file, then APPR_* environment. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "error.h"
#include "util.h"

#ifndef APPR_SYSCONFDIR
#define APPR_SYSCONFDIR "/usr/local/etc"
#endif
#ifndef APPR_LOCALSTATEDIR
#define APPR_LOCALSTATEDIR "/usr/local/var"
#endif

enum key_type { K_STRING, K_SIZE, K_COUNT, K_BOOL, K_STORAGE, K_DELIVERY, K_AUTH, K_HEADER };

/* The table of keys: name, type, where it lives in struct appr_config. */
static const struct key {
	const char *name;
	enum key_type type;
	size_t offset;
} keys[] = {
	{ "data_dir", K_STRING, offsetof(struct appr_config, data_dir) },
	{ "storage", K_STORAGE, offsetof(struct appr_config, storage) },
	{ "max_body_size", K_SIZE, offsetof(struct appr_config, max_body_size) },
	{ "max_uncompressed_size", K_SIZE, offsetof(struct appr_config, max_uncompressed_size) },
	{ "max_compression_ratio", K_COUNT, offsetof(struct appr_config, max_compression_ratio) },
	{ "max_tar_entries", K_COUNT, offsetof(struct appr_config, max_tar_entries) },
	{ "busy_timeout_ms", K_COUNT, offsetof(struct appr_config, busy_timeout_ms) },
	{ "fsync", K_BOOL, offsetof(struct appr_config, fsync) },
	{ "etcd_endpoints", K_STRING, offsetof(struct appr_config, etcd_endpoints) },
	{ "redis_url", K_STRING, offsetof(struct appr_config, redis_url) },
	{ "key_prefix", K_STRING, offsetof(struct appr_config, key_prefix) },
	{ "kv_timeout_ms", K_COUNT, offsetof(struct appr_config, kv_timeout_ms) },
	{ "upload_ttl", K_COUNT, offsetof(struct appr_config, upload_ttl) },
	{ "blob_delivery", K_DELIVERY, offsetof(struct appr_config, blob_delivery) },
	{ "x_accel_location", K_STRING, offsetof(struct appr_config, x_accel_location) },
	{ "max_name_length", K_COUNT, offsetof(struct appr_config, max_name_length) },
	{ "max_header_size", K_SIZE, offsetof(struct appr_config, max_header_size) },
	{ "auth", K_AUTH, offsetof(struct appr_config, auth) },
	{ "anonymous_read", K_BOOL, offsetof(struct appr_config, anonymous_read) },
	{ "cors_allow_origin", K_HEADER, offsetof(struct appr_config, cors_allow_origin) },
};

/* Variables of the original server, read when the APPR_ form is not set. */
static const struct { const char *var, *key; } legacy_env[] = {
	{ "STORAGE", "storage" },
	{ "ETCD_ENDPOINTS", "etcd_endpoints" },
	{ "REDIS_URL", "redis_url" },
};

static const char *const storage_names[] = { "filesystem", "sqlite", "etcd", "redis" };
static const char *const delivery_names[] = { "stream", "x-sendfile", "x-accel-redirect" };

static void set_defaults(struct appr_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->data_dir = xstrdup(APPR_LOCALSTATEDIR "/lib/appr");
	cfg->storage = xstrdup("filesystem");
	cfg->max_body_size = 64ULL << 20;
	cfg->max_uncompressed_size = 512ULL << 20;
	cfg->max_compression_ratio = 250;
	cfg->max_tar_entries = 10000;
	cfg->busy_timeout_ms = 10000;
	cfg->fsync = true;
	cfg->etcd_endpoints = xstrdup("http://127.0.0.1:2379");
	cfg->redis_url = xstrdup("redis://127.0.0.1:6379/0");
	cfg->key_prefix = xstrdup("/appr/");
	cfg->kv_timeout_ms = 5000;
	cfg->upload_ttl = 86400;
	cfg->blob_delivery = xstrdup("stream");
	cfg->x_accel_location = xstrdup("/_appr_blobs/");
	cfg->max_name_length = 64;
	cfg->max_header_size = 8192;
	cfg->auth = xstrdup("none");
	cfg->anonymous_read = true;
	cfg->cors_allow_origin = xstrdup("*");
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int config_set(struct appr_config *cfg, const char *key, const char *value,
	       struct appr_error *err)
{
	const struct key *k = NULL;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(keys[i].name, key) == 0)
			k = &keys[i];
	if (!k)
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "unknown configuration key \"%s\"", key);

	char *field = (char *)cfg + k->offset;
	unsigned long long n;
	switch (k->type) {
	case K_STORAGE: {
		bool known = false;
		for (size_t i = 0; i < sizeof storage_names / sizeof storage_names[0]; i++)
			known |= strcmp(value, storage_names[i]) == 0;
		if (!known)
			return appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
					"%s: unknown storage \"%.40s\" (filesystem, etcd or redis)", key, value);
	}
		/* fall through */
	case K_AUTH:
		if (k->type == K_AUTH && strcmp(value, "none") != 0 && strcmp(value, "tokens") != 0)
			return appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
					"%s: unknown mode \"%.40s\" (none or tokens)", key, value);
		/* fall through */
	case K_DELIVERY:
		if (k->type == K_DELIVERY) {
			bool known = false;
			for (size_t i = 0; i < sizeof delivery_names / sizeof delivery_names[0]; i++)
				known |= strcmp(value, delivery_names[i]) == 0;
			if (!known)
				return appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
						"%s: unknown delivery \"%.40s\" (stream, x-sendfile or x-accel-redirect)",
						key, value);
		}
		/* fall through */
	case K_HEADER:
		/* a header value: may be empty (off), printable ASCII only */
		if (k->type == K_HEADER) {
			for (const char *c = value; *c; c++)
				if (*c < 0x20 || *c > 0x7e)
					return appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
							"%s: only printable ASCII may go in a header", key);
			free(*(char **)field);
			*(char **)field = xstrdup(value);
			return 0;
		}
		/* fall through */
	case K_STRING:
		if (!*value)
			return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "%s: empty value", key);
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	case K_SIZE:
		if (util_parse_size(value, &n) < 0 || n == 0)
			return appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
					"%s: \"%.40s\" is not a size (e.g. 64M, 512K, 1G)", key, value);
		*(unsigned long long *)field = n;
		return 0;
	case K_COUNT: {
		char *end;
		errno = 0;
		n = strtoull(value, &end, 10);
		if (!isdigit((unsigned char)*value) || *end || errno || n == 0)
			return appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
					"%s: \"%.40s\" is not a positive integer", key, value);
		if (k->offset == offsetof(struct appr_config, max_name_length) && n > 64)
			return appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
					"%s: %llu is above the hard limit of 64", key, n);
		*(unsigned long long *)field = n;
		return 0;
	}
	case K_BOOL:
		if (parse_bool(value, (bool *)field) < 0)
			return appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
					"%s: \"%.40s\" is not true or false", key, value);
		return 0;
	}
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* "key = value" lines; '#' starts a comment line; values may be "quoted". */
static int read_file(struct appr_config *cfg, const char *path, struct appr_error *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return appr_err(err, 500, APPR_E_INTERNAL, "cannot read config file %s: %s",
				path, strerror(errno));
	char line[4096];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
				      "%s:%d: expected key = value", path, lineno);
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		size_t vl = strlen(value);
		if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
			value[vl - 1] = '\0';
			value++;
		}
		if (config_set(cfg, key, value, err) < 0) {
			char msg[sizeof err->msg];
			snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
			rc = appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "%s:%d: %s", path, lineno, msg);
			break;
		}
	}
	fclose(f);
	return rc;
}

static int read_env(struct appr_config *cfg, struct appr_error *err)
{
	for (size_t i = 0; i < sizeof legacy_env / sizeof legacy_env[0]; i++) {
		const char *v = getenv(legacy_env[i].var);
		char var[64] = "APPR_";
		for (size_t j = 0; legacy_env[i].key[j] && j + 6 < sizeof var; j++)
			var[5 + j] = (char)toupper((unsigned char)legacy_env[i].key[j]);
		if (v && !getenv(var) && config_set(cfg, legacy_env[i].key, v, err) < 0) {
			if (err) {
				char msg[sizeof err->msg];
				snprintf(msg, sizeof msg, "%s", err->msg);
				appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "environment %s: %s",
					 legacy_env[i].var, msg);
			}
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char var[64] = "APPR_";
		for (size_t j = 0; keys[i].name[j] && j + 6 < sizeof var; j++)
			var[5 + j] = (char)toupper((unsigned char)keys[i].name[j]);
		const char *v = getenv(var);
		if (v && config_set(cfg, keys[i].name, v, err) < 0) {
			if (err) {
				char msg[sizeof err->msg];
				snprintf(msg, sizeof msg, "%s", err->msg);
				appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "environment %s: %s", var, msg);
			}
			return -1;
		}
	}
	return 0;
}

int config_load(const char *path, struct appr_config *cfg, struct appr_error *err)
{
	set_defaults(cfg);
	const char *file = path ? path : getenv("APPR_CONFIG");
	bool required = file != NULL && *file;
	if (!required)
		file = APPR_SYSCONFDIR "/appr.conf";
	FILE *probe = required ? NULL : fopen(file, "r");
	if (required || probe) {
		if (probe)
			fclose(probe);
		if (read_file(cfg, file, err) < 0)
			goto fail;
		cfg->source = xstrdup(file);
	}
	if (read_env(cfg, err) < 0)
		goto fail;
	return 0;
fail:
	config_free(cfg);
	return -1;
}

void config_free(struct appr_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->data_dir);
	free(cfg->storage);
	free(cfg->etcd_endpoints);
	free(cfg->redis_url);
	free(cfg->key_prefix);
	free(cfg->blob_delivery);
	free(cfg->x_accel_location);
	free(cfg->auth);
	free(cfg->cors_allow_origin);
	free(cfg->source);
	memset(cfg, 0, sizeof *cfg);
}
