/* h-packages.c */
#include "handlers.h"
