/* manifest.c - placeholder until written. */
#include "manifest.h"
