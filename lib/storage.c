/* storage.c - the storage driver registry: find a driver table by name, open the configured one. */
#include <stddef.h>
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
