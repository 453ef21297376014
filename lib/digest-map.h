/* digest-map.h - a map from blob digests (64 lowercase hex) to a caller's value, for
 * the commands that walk a whole store and must meet each blob once (fsck, stats). */
#ifndef APPR_DIGEST_MAP_H
#define APPR_DIGEST_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "digest.h"

struct digest_map;
struct digest_map *digest_map_new(void);
/* Free the map, and each value with free_value when given. NULL is a no-op. */
void digest_map_free(struct digest_map *m, void (*free_value)(void *));
/* The value slot of digest: *found says whether it was there; a new slot holds NULL
 * for the caller to fill. digest must be DIGEST_HEX_LEN hex characters. */
void **digest_map_slot(struct digest_map *m, const char *digest, bool *found);
size_t digest_map_count(const struct digest_map *m);

#endif
