/* pushbody.c - placeholder until written. */
#include "pushbody.h"
