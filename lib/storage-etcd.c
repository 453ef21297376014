/* storage-etcd.c - the etcd client (kv.h over the v3 JSON gateway) and storage_etcd_ops. (Being written: issue 3.) */
#include "storage-kv.h"
