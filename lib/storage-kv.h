/* storage-kv.h - the storage interface built on a kv client (kv.h): shared by the
 * etcd and redis drivers. (Being written: issue 3.) */
#ifndef APPR_STORAGE_KV_H
#define APPR_STORAGE_KV_H

#include "kv.h"
#include "storage.h"

#endif
