/* semver.c - placeholder until written. */
#include "semver.h"
