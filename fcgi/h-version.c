/* h-version.c */
#include "handlers.h"
