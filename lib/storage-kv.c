/* storage-kv.c - every storage operation on a kv client (kv.h). (Being written: issue 3.) */
#include "storage-kv.h"
