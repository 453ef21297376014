/* storage-redis.c - the redis client (kv.h) and storage_redis_ops. STUB until issue 3's
 * implementation replaces this file: open answers 501. */
#include "storage-kv.h"

static int redis_kv_open(const struct appr_config *cfg, struct kv **out, struct appr_error *err)
{
	(void)cfg;
	*out = NULL;
	return appr_err(err, 501, APPR_E_UNSUPPORTED, "the redis driver is being written");
}

const struct kv_ops kv_redis_ops = {
	.name = "redis",
	.open = redis_kv_open,
};

static int redis_open(const struct appr_config *cfg, struct storage **out, struct appr_error *err)
{
	return storage_kv_open(cfg, &kv_redis_ops, out, err);
}

const struct storage_ops storage_redis_ops = STORAGE_KV_TABLE("redis", redis_open);
