/* h-blobs.c */
#include "handlers.h"
