/* targz.h - streaming, bounded verification of a gzipped tar: gunzip, check the tar
 * headers, and compute the SHA-256 of the uncompressed stream (the blob digest). */
#ifndef APPR_TARGZ_H
#define APPR_TARGZ_H

#include <stddef.h>
#include <stdint.h>
#include "digest.h"

struct appr_error;

struct targz_limits {
	uint64_t max_uncompressed;   /* refuse when the tar grows beyond this (bytes) */
	uint64_t max_ratio;          /* refuse when uncompressed > max_ratio * compressed,
	                                checked once uncompressed exceeds ratio_floor */
	uint64_t ratio_floor;        /* bytes; 0 means 1 MiB */
	uint64_t max_entries;        /* refuse archives with more tar entries */
};
/* max_uncompressed, max_ratio, max_entries: 0 means no limit. */

/* Checks performed: a valid gzip stream (concatenated members allowed) that ends
 * properly; a tar stream of 512-byte blocks whose headers carry a correct checksum
 * (ustar or old v7/GNU headers), entry names (including GNU long names and pax
 * path records) that are neither absolute nor contain a ".." component, entry data
 * fully present; end: either the two zero blocks or a clean end at a header
 * boundary; zero padding of the tar after its end is allowed, but nothing may
 * follow the last gzip member. Anything else fails with a 400
 * invalid-usage error saying what is wrong; limits fail with 413 payload-too-large. */
struct targz;
struct targz *targz_new(const struct targz_limits *lim);
/* Feed the next len compressed bytes. Returns 0, or -1 with err filled; after a
 * failure every further call fails. Never reads more than it is given. */
int targz_feed(struct targz *t, const void *gz, size_t len, struct appr_error *err);
/* End of input: checks the stream ended properly and writes the digest.
 * Returns 0, or -1 with err filled. */
int targz_finish(struct targz *t, char digest[DIGEST_HEX_LEN + 1], struct appr_error *err);
/* An observer of the archive's entries as they stream by (a chart's Chart.yaml is read
 * this way). entry is called for every real entry (files, directories, links; not the
 * long-name and pax headers) once its header passed the checks, with its effective
 * name (not NUL-terminated), type flag ('0' or '\0' for a regular file, '5' a
 * directory...) and data size; data then gets that entry's data bytes in pieces (no
 * padding). A callback returning -1 with err filled fails the archive with that
 * error (its status and code; 400 invalid-usage if none). */
struct targz_watch {
	int (*entry)(void *ctx, const char *name, size_t len, char type, uint64_t size,
		     struct appr_error *err);
	int (*data)(void *ctx, const void *data, size_t len, struct appr_error *err);
	void *ctx;
};
/* Set (or with NULL clear) the observer; before the first targz_feed. */
void targz_set_watch(struct targz *t, const struct targz_watch *w);
uint64_t targz_uncompressed_size(const struct targz *t);
uint64_t targz_entry_count(const struct targz *t);
void targz_free(struct targz *t);    /* NULL is a no-op */

#endif
