/* helm-cache.h - rendered index.yaml files kept under <data_dir>/cache/helm/, one per
 * namespace and view (public only, or with private packages), each valid for one state
 * of its namespace, named by a tag (h-helm.c: the index's ETag, made of the namespace's
 * change stamp, the time of that change and the view). Rendering a namespace of 10,000
 * chart versions reads them all from the store (tens of ms on SQLite, hundreds on
 * etcd); reading the file back is one read. Shared by every responder on the machine;
 * a cache, so best effort: a file that is absent, stale, damaged or unreadable is a
 * miss, and a file that cannot be written is not kept. */
#ifndef APPR_HELM_CACHE_H
#define APPR_HELM_CACHE_H

#include <stddef.h>

#include "util.h"

#define HELM_CACHE_DIR "cache/helm"      /* under data_dir */

/* Append to sb the index of namespace ns in view ('p' public, 'r' with private
 * packages) kept for tag (no space in it). Returns 1 when it was there whole, 0
 * otherwise (sb as it was). */
int helm_cache_get(const char *data_dir, const char *ns, char view, const char *tag,
		   struct strbuf *sb);

/* Keep body (len bytes) as the index of ns in view for tag, replacing the one kept
 * before (a new file renamed over it: readers see the old or the new one whole).
 * Returns 0, or an errno value when it could not be kept (nothing is left behind). */
int helm_cache_put(const char *data_dir, const char *ns, char view, const char *tag,
		   const char *body, size_t len);

#endif
