/* fuzz-semver.c - libFuzzer target: version parsing, precedence, sort keys, queries and
 * release selection. Checks the invariants that tie them together: a sort key orders
 * two versions as semver_cmp does, and a selected release satisfies what selected it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sign(int x) { return (x > 0) - (x < 0); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The input is up to four NUL-separated strings: a query and three versions. */
	char *buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	const char *part[4] = { buf, "", "", "" };
	size_t np = 1;
	for (size_t i = 0; i < size && np < 4; i++)
		if (buf[i] == '\0')
			part[np++] = buf + i + 1;

	struct semver v[3];
	int okv[3];
	unsigned char key[3][SEMVER_SORTKEY_MAX];
	int klen[3];
	for (int i = 0; i < 3; i++) {
		okv[i] = semver_parse(part[i + 1], &v[i]) == 0;
		klen[i] = semver_sortkey(part[i + 1], key[i], sizeof key[i]);
		if (okv[i] != (klen[i] >= 0))
			abort();   /* a version has a key, a non-version none */
	}
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			if (!okv[i] || !okv[j])
				continue;
			int c = sign(semver_cmp(&v[i], &v[j]));
			if (c != -sign(semver_cmp(&v[j], &v[i])))
				abort();   /* precedence is antisymmetric */
			size_t n = (size_t)(klen[i] < klen[j] ? klen[i] : klen[j]);
			int k = sign(memcmp(key[i], key[j], n));
			if (k == 0)
				k = sign(klen[i] - klen[j]);
			if (c != 0 && k != c)
				abort();   /* keys order as precedence does */
		}

	struct semver_query *q = NULL;
	if (semver_query_parse(part[0], &q) == 0) {
		for (int i = 0; i < 3; i++)
			if (okv[i])
				(void)semver_query_match(q, &v[i]);
		semver_query_free(q);
	}
	const char *rels[3] = { part[1], part[2], part[3] };
	int exact = 0;
	long sel = semver_select(part[0], rels, 3, &exact);
	if (sel >= 0) {
		if (sel > 2 || !okv[sel])
			abort();   /* only a candidate that is a version is selected */
		struct semver want;
		/* an exact spec selects the equal string, else one equal but for build
		 * metadata, and only when no candidate is the equal string */
		if (exact && strcmp(rels[sel], part[0]) != 0) {
			if (semver_parse(part[0], &want) < 0 || semver_cmp(&v[sel], &want) != 0)
				abort();
			for (int i = 0; i < 3; i++)
				if (rels[i] && strcmp(rels[i], part[0]) == 0)
					abort();
		}
	}
	free(buf);
	return 0;
}
