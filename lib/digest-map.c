/* digest-map.c - open addressing on the digest's own leading bits, grown at half full. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest-map.h"
#include "util.h"

struct entry {
	char digest[DIGEST_HEX_LEN + 1];
	void *value;
};

struct digest_map {
	struct entry **slot;
	size_t cap, n;
};

struct digest_map *digest_map_new(void)
{
	struct digest_map *m = xcalloc(1, sizeof *m);
	m->cap = 256;
	m->slot = xcalloc(m->cap, sizeof *m->slot);
	return m;
}

void digest_map_free(struct digest_map *m, void (*free_value)(void *))
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slot[i] && free_value)
			free_value(m->slot[i]->value);
		free(m->slot[i]);
	}
	free(m->slot);
	free(m);
}

/* The slot index of digest: where it is, or the empty slot where it goes. */
static size_t index_of(struct entry **slot, size_t cap, const char *digest)
{
	size_t h = 0;
	for (int i = 0; i < 16; i++)          /* a digest's bits are uniform already */
		h = h * 16 + (size_t)util_hexval(digest[i]);
	size_t i = h & (cap - 1);
	while (slot[i] && strcmp(slot[i]->digest, digest) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

void **digest_map_slot(struct digest_map *m, const char *digest, bool *found)
{
	size_t i = index_of(m->slot, m->cap, digest);
	*found = m->slot[i] != NULL;
	if (*found)
		return &m->slot[i]->value;
	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap * 2;
		struct entry **slot = xcalloc(cap, sizeof *slot);
		for (size_t k = 0; k < m->cap; k++)
			if (m->slot[k])
				slot[index_of(slot, cap, m->slot[k]->digest)] = m->slot[k];
		free(m->slot);
		m->slot = slot;
		m->cap = cap;
		i = index_of(m->slot, m->cap, digest);
	}
	struct entry *e = xcalloc(1, sizeof *e);
	snprintf(e->digest, sizeof e->digest, "%s", digest);
	m->slot[i] = e;
	m->n++;
	return &e->value;
}

size_t digest_map_count(const struct digest_map *m)
{
	return m->n;
}
