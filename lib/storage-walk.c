/* storage-walk.c - storage_each_package: every package of a store, in listing order, a page at a time (fsck, stats, export). */
#include <stdlib.h>
#include <string.h>

#include "storage.h"
/* Packages per call of storage_each_package where pages are cheap. */
#define EACH_PAGE 500

int storage_each_package(struct storage *s, storage_each_fn fn, void *ctx,
			 struct appr_error *err)
{
	struct arena *a = arena_new();
	char *after = NULL;                  /* the last package visited: "ns\0name" */
	int rc = 0;

	for (;;) {
		struct storage_list_query q = {
			.limit = s->ops->list_pages_cheap ? EACH_PAGE : 0,
			.after_ns = after,
			.after_name = after ? after + strlen(after) + 1 : NULL,
		};
		struct storage_package *p;
		size_t n;
		arena_reset(a);
		if (storage_list_packages(s, &q, a, &p, &n, err) < 0) {
			rc = -1;
			break;
		}
		for (size_t i = 0; i < n && rc == 0; i++) {
			char *ns = arena_strdup(a, p[i].package), *name = strchr(ns, '/');
			if (!name)
				continue;
			*name++ = '\0';
			rc = fn(ctx, &p[i], ns, name, a, err);
		}
		if (rc != 0 || !q.limit || n < q.limit)
			break;
		free(after);
		after = xstrdup(p[n - 1].package);
		*strchr(after, '/') = '\0';
	}
	free(after);
	arena_free(a);
	return rc;
}
