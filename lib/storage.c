/* storage.c - placeholder until written. */
#include "storage.h"
