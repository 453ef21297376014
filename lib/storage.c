/* storage.c - the storage driver registry (find a driver table by name, open the configured one) and the errors every driver words alike. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "storage.h"

/* The kv drivers are optional (configure --with-etcd / --with-redis): a table of a
 * driver left out is NULL below. */
#ifdef HAVE_ETCD
#define ETCD_OPS (&storage_etcd_ops)
#else
#define ETCD_OPS NULL
#endif
#ifdef HAVE_REDIS
#define REDIS_OPS (&storage_redis_ops)
#else
#define REDIS_OPS NULL
#endif

/* Every driver this program knows, by the names the configuration accepts. */
static const struct {
	const char *name;
	const struct storage_ops *ops;   /* NULL: not built into this program */
	const char *build;               /* how to build it in */
} drivers[] = {
	/* the embedded store: SQLite + blob files (storage-sqlite.c), and its alias */
	{ "filesystem", &storage_sqlite_ops, NULL },
	{ "sqlite",     &storage_sqlite_ops, NULL },
	/* an etcd v3 cluster (storage-kv*.c on kv-etcd.c) */
	{ "etcd",       ETCD_OPS,  "--with-etcd (needs libcurl4-openssl-dev)" },
	/* one redis server (storage-kv*.c on kv-redis.c) */
	{ "redis",      REDIS_OPS, "--with-redis (needs libhiredis-dev)" },
};

const struct storage_ops *storage_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
		if (strcmp(drivers[i].name, name) == 0)
			return drivers[i].ops;
	return NULL;
}

int storage_open(const struct appr_config *cfg, struct storage **out,
		 struct appr_error *err)
{
	const char *name = cfg->storage ? cfg->storage : "";
	const struct storage_ops *ops = storage_find(name);

	*out = NULL;
	if (!ops) {
		for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++)
			if (strcmp(drivers[i].name, name) == 0)
				return appr_err(err, 501, APPR_E_UNSUPPORTED,
						"storage driver \"%s\" is not built into this program:"
						" rebuild with ./configure %s", name, drivers[i].build);
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
				"unknown storage driver \"%.64s\" (filesystem, etcd or redis)", name);
	}
	if (ops->version != STORAGE_OPS_VERSION)
		return appr_err(err, 500, APPR_E_INTERNAL,
				"storage driver \"%s\" has interface version %d, expected %d",
				name, ops->version, STORAGE_OPS_VERSION);
	return ops->open(cfg, out, err);
}

/* ---- the errors every driver gives ---- */

/* "ns/name" as errors print it. */
static void pkg_name(char out[136], const char *ns, const char *name)
{
	snprintf(out, 136, "%.64s/%.64s", ns, name);
}

int storage_err_absent(struct appr_error *err, enum storage_absent what, const char *ns,
		       const char *name, const char *release, const char *media_type)
{
	char pkg[136];

	pkg_name(pkg, ns, name);
	switch (what) {
	case STORAGE_NO_PACKAGE:
		appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND, "package %s not found", pkg);
		break;
	case STORAGE_NO_RELEASE:
		appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND,
			 "release %.64s of package %s not found", release, pkg);
		break;
	case STORAGE_NO_MANIFEST:
		appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND,
			 "package %s release %.40s has no %.40s manifest", pkg, release, media_type);
		break;
	}
	appr_err_details(err, pkg, release, media_type);
	return -1;
}

int storage_err_channel_absent(struct appr_error *err, const char *ns, const char *name,
			       const char *channel)
{
	char pkg[136];

	pkg_name(pkg, ns, name);
	appr_err(err, 404, APPR_E_CHANNEL_NOT_FOUND, "channel %.64s of package %s not found",
		 channel, pkg);
	appr_err_details(err, pkg, NULL, NULL);
	return -1;
}

int storage_err_not_in_channel(struct appr_error *err, const char *ns, const char *name,
			       const char *channel, const char *release)
{
	char pkg[136];

	pkg_name(pkg, ns, name);
	appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND,
		 "release %.64s of package %s is not in channel %.64s", release, pkg, channel);
	appr_err_details(err, pkg, release, NULL);
	return -1;
}

int storage_err_blob_absent(struct appr_error *err, const char *ns, const char *name,
			    const char *digest)
{
	char pkg[136];

	if (!ns) {
		if (!digest)
			return appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND, "blob not found");
		return appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND, "blob sha256:%.64s not found",
				digest);
	}
	pkg_name(pkg, ns, name);
	appr_err(err, 404, APPR_E_PACKAGE_NOT_FOUND, "blob sha256:%.64s not found in %s",
		 digest ? digest : "", pkg);
	appr_err_details(err, pkg, NULL, NULL);
	return -1;
}

int storage_err_exists(struct appr_error *err, const struct storage_push *p)
{
	char pkg[136];

	pkg_name(pkg, p->ns, p->name);
	appr_err(err, 409, APPR_E_PACKAGE_EXISTS,
		 "%s release %.40s (%.40s) already exists; push with force to replace it", pkg,
		 p->release, p->media_type);
	appr_err_details(err, pkg, p->release, p->media_type);
	return -1;
}

int storage_err_not_semver(struct appr_error *err, const struct storage_push *p)
{
	char pkg[136];

	pkg_name(pkg, p->ns, p->name);
	appr_err(err, 422, APPR_E_INVALID_RELEASE,
		 "release \"%.64s\" is not a semantic version", p->release);
	appr_err_details(err, pkg, p->release, p->media_type);
	return -1;
}

int storage_err_busy(struct appr_error *err)
{
	return appr_err(err, 409, APPR_E_RESOURCE_IN_USE, "registry is busy, retry");
}

int storage_err_internal(struct appr_error *err)
{
	return appr_err(err, 500, APPR_E_INTERNAL, "storage error");
}

int storage_err_full(struct appr_error *err)
{
	return appr_err(err, 507, APPR_E_INSUFFICIENT_STORAGE,
			"the registry's storage is full: nothing was stored (deleting releases "
			"frees space; deletes work when it is full)");
}

int storage_err_user_absent(struct appr_error *err, const char *name)
{
	return appr_err(err, 404, APPR_E_USER_NOT_FOUND, "user %.64s not found",
			name ? name : "");
}

int storage_err_user_exists(struct appr_error *err, const char *name)
{
	return appr_err(err, 409, APPR_E_USER_EXISTS, "user %.64s already exists", name);
}

int storage_err_token_absent(struct appr_error *err, const char *id)
{
	if (!id)
		return appr_err(err, 404, APPR_E_TOKEN_NOT_FOUND, "token not found");
	return appr_err(err, 404, APPR_E_TOKEN_NOT_FOUND, "token %.32s not found", id);
}

int storage_err_token_taken(struct appr_error *err)
{
	return appr_err(err, 409, APPR_E_RESOURCE_IN_USE, "token id or hash already in use");
}

int storage_check_level(struct appr_error *err, enum storage_level level)
{
	if ((int)level >= STORAGE_LEVEL_NONE && (int)level <= STORAGE_LEVEL_ADMIN)
		return 0;
	return appr_err(err, 422, APPR_E_INVALID_PARAMETERS, "invalid permission level %d",
			(int)level);
}
