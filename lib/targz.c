/* targz.c - placeholder until written. */
#include "targz.h"
