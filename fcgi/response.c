/* response.c */
#include "response.h"
