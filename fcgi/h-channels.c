/* h-channels.c */
#include "handlers.h"
