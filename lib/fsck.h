/* fsck.h - checking a store, on any driver, through the storage interface: every
 * manifest's blob (present, its size, the SHA-256 of its bytes, the digest of its tar),
 * every channel (its current and its members existing releases), and, where the driver
 * can find them (storage gc), temp files of dead uploads and blobs no manifest
 * references. With repair, what cannot be served correctly goes: a manifest whose blob
 * is missing or wrong is deleted, channel members that are no release removed, debris
 * swept. On the filesystem (SQLite) store, the OCI content too (oci-dump.h). */
#ifndef APPR_FSCK_H
#define APPR_FSCK_H

#include <stdbool.h>

#include "config.h"
#include "storage.h"

struct fsck_report {
	unsigned long packages, releases, manifests, channels;
	bool oci_checked;                /* the store has OCI content (SQLite) */
	unsigned long oci_blobs, oci_manifests, oci_tags;
	unsigned long oci_unused;        /* OCI blobs nothing uses (gc's, no problem) */
	unsigned long problems;          /* lines said as problems */
	unsigned long repaired;          /* of those, repaired */
	bool debris_checked;             /* the driver could look for debris */
};

/* Called with one line per problem (without a newline), and with the repair made
 * when repairing. */
typedef void (*fsck_say_fn)(void *ctx, const char *line);

/* Check (and with repair, repair) the store; on the filesystem (SQLite) store its OCI
 * content too (oci_dump_check, with cfg's data_dir and upload_ttl). Returns 0 when it could look at
 * everything (problems or not: see rep), -1 with err when it could not (the store
 * failed). */
int fsck_run(struct storage *s, const struct appr_config *cfg, bool repair, fsck_say_fn say,
	     void *ctx, struct fsck_report *rep, struct appr_error *err);

#endif
