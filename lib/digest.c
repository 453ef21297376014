/* digest.c - placeholder until written. */
#include "digest.h"
