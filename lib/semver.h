/* semver.h - semantic versions (semver 2.0.0): parsing, precedence, sort keys, queries. */
#ifndef APPR_SEMVER_H
#define APPR_SEMVER_H

#include <stddef.h>
#include <stdint.h>

/* A parsed version. pre and build point into the string given to semver_parse
 * (which must outlive the struct); pre_len/build_len are 0 when absent. */
struct semver {
	uint64_t major, minor, patch;
	const char *pre;
	size_t pre_len;
	const char *build;
	size_t build_len;
};

/* Parse a full MAJOR.MINOR.PATCH[-pre][+build] (no leading 'v', no leading zeros in
 * numeric parts, no empty identifiers, at most 128 characters). Returns 0 or -1. */
int semver_parse(const char *s, struct semver *v);

/* Precedence per semver 2.0.0 section 11 (build metadata ignored): <0, 0, >0. */
int semver_cmp(const struct semver *a, const struct semver *b);

/* Write into buf a byte string whose memcmp order equals semver precedence
 * (ties only when semver_cmp is 0; build metadata is appended last so distinct
 * strings give distinct keys). Returns the key length (no NUL is counted or
 * needed; one is written when room allows) or -1 if s is not a version or the key
 * does not fit in cap. SEMVER_SORTKEY_MAX is always enough. */
#define SEMVER_SORTKEY_MAX 512
int semver_sortkey(const char *s, unsigned char *buf, size_t cap);

/* A release query: comma-separated comparisons with operators ==, !=, <, <=, >,
 * >=, ^, ~, ~= (none means ==) and operands that may be partial (1, 1.5, 1.5.0-rc.1).
 * Partial operands follow node-semver X-ranges: ==1.5 is 1.5.x, >1.5 is >=1.6.0,
 * <=1.5 is <1.6.0, ^1.5 is >=1.5.0 <2.0.0, ~1.5 is >=1.5.0 <1.6.0, ^0.2.3 is
 * >=0.2.3 <0.3.0; ~= is the compatible release of PEP 440 (as Python's
 * semantic_version, which the original server used, reads it): ~=1.2 is >=1.2.0
 * <2.0.0, ~=1.2.3 is >=1.2.3 <1.3.0. Spaces around items are ignored. Pre-release versions match only
 * when some comparison of the query names a pre-release. */
struct semver_query;

/* Returns 0 and a new query in *out (free with semver_query_free), or -1. */
int semver_query_parse(const char *s, struct semver_query **out);
void semver_query_free(struct semver_query *q);   /* NULL is a no-op */
/* 1 if v satisfies every comparison of q, else 0. */
int semver_query_match(const struct semver_query *q, const struct semver *v);

/* Release selection as the protocol defines it, over the candidate release
 * strings (any order; strings that are not versions are ignored):
 *   - spec NULL, "" or "default": the highest by precedence (pre-releases count);
 *   - spec a full version: the candidate equal to it as a string; when there is
 *     none, the only candidate equal to it ignoring build metadata (0.9.1 finds
 *     0.9.1+build), as the original server matched;
 *   - otherwise spec is a query: the highest matching candidate.
 * Returns the index into releases, or SEMVER_SELECT_NONE (nothing matched / the
 * exact version is absent / no candidates), or SEMVER_SELECT_INVALID (spec is
 * neither a version nor a valid query). *exact is set to 1 when spec was an
 * exact version (so the caller can say "release not found" vs "query matched
 * nothing"), else 0; exact may be NULL. */
#define SEMVER_SELECT_NONE    (-1)
#define SEMVER_SELECT_INVALID (-2)
long semver_select(const char *spec, const char *const *releases, size_t n, int *exact);

#endif
