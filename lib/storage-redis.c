/* storage-redis.c - the redis client (kv.h over hiredis) and storage_redis_ops. (Being written: issue 3.) */
#include "storage-kv.h"
