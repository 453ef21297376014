/* routes.c */
#include "routes.h"
