/* stats.h - what a store holds, on any driver, through the storage interface:
 * namespaces, packages, releases, manifests, blobs (each digest once) and their bytes,
 * in all and per namespace. */
#ifndef APPR_STATS_H
#define APPR_STATS_H

#include <stddef.h>

#include "oci-dump.h"
#include "storage.h"

struct stats_count {
	unsigned long packages, releases, manifests, blobs;
	long long bytes;                 /* of the blobs, each once */
};

struct stats_namespace {
	char *name;
	struct stats_count c;
};

struct stats {
	struct stats_count all;          /* blobs shared between namespaces counted once */
	struct stats_namespace *ns;      /* by name */
	size_t n_ns;
	struct oci_dump_counts oci;            /* stats_collect_oci; zeros without */
};

/* Walk the store. 0, or -1 with err. Free with stats_free (also after a failure). */
int stats_collect(struct storage *s, struct stats *out, struct appr_error *err);
void stats_free(struct stats *st);
/* The OCI content of the filesystem store in data_dir into st->oci. 0, or -1 with
 * err. */
int stats_collect_oci(const char *data_dir, struct stats *st, struct appr_error *err);

#endif
