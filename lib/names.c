/* names.c - placeholder until written. */
#include "names.h"
