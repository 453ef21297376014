/* storage.c - the storage driver registry: find a driver table by name, open the configured one. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "storage.h"

/* Every driver built into this program, by the names the configuration accepts. */
static const struct {
	const char *name;
	const struct storage_ops *ops;
} drivers[] = {
	{ "filesystem", &storage_sqlite_ops },   /* the embedded store: SQLite + blob files */
	{ "sqlite",     &storage_sqlite_ops },   /* alias */
	{ "etcd",       &storage_etcd_ops },     /* etcd v3 cluster (storage-etcd.c) */
	{ "redis",      &storage_redis_ops },    /* one redis server (storage-redis.c) */
};

int storage_err_absent(struct appr_error *err, enum storage_absent what, const char *ns,
		       const char *name, const char *release, const char *media_type)
{
	char pkg[136];

	snprintf(pkg, sizeof pkg, "%.64s/%.64s", ns, name);
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

	snprintf(pkg, sizeof pkg, "%.64s/%.64s", ns, name);
	appr_err(err, 404, APPR_E_CHANNEL_NOT_FOUND, "channel %.64s of package %s not found",
		 channel, pkg);
	appr_err_details(err, pkg, NULL, NULL);
	return -1;
}

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
	if (!ops)
		return appr_err(err, 422, APPR_E_INVALID_PARAMETERS,
				"unknown storage driver \"%.64s\" (filesystem, etcd or redis)", name);
	if (ops->version != STORAGE_OPS_VERSION)
		return appr_err(err, 500, APPR_E_INTERNAL,
				"storage driver \"%s\" has interface version %d, expected %d",
				name, ops->version, STORAGE_OPS_VERSION);
	return ops->open(cfg, out, err);
}
