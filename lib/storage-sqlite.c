/* storage-sqlite.c - placeholder until written. */
#include "storage.h"
