/* storage-etcd.c - the etcd client (kv.h) and storage_etcd_ops. STUB until issue 3's
 * implementation replaces this file: open answers 501. */
#include "storage-kv.h"

static int etcd_kv_open(const struct appr_config *cfg, struct kv **out, struct appr_error *err)
{
	(void)cfg;
	*out = NULL;
	return appr_err(err, 501, APPR_E_UNSUPPORTED, "the etcd driver is being written");
}

const struct kv_ops kv_etcd_ops = {
	.name = "etcd",
	.open = etcd_kv_open,
};

static int etcd_open(const struct appr_config *cfg, struct storage **out, struct appr_error *err)
{
	return storage_kv_open(cfg, &kv_etcd_ops, out, err);
}

const struct storage_ops storage_etcd_ops = STORAGE_KV_TABLE("etcd", etcd_open);
