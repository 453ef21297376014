/* backup.h - a consistent backup of a live SQLite (filesystem) store, and a data
 * directory made from one. The backup is a tar (doc/appr-archive.5, "Backups"):
 * appr-backup.json, then appr.db (a snapshot taken with SQLite's online backup, in
 * one read transaction: pushes go on meanwhile), then every blob the snapshot
 * references, as blobs/sha256/<2 hex>/<digest>, then every OCI blob it has a row of,
 * as oci/sha256/<2 hex>/<sha256>, as the data directory holds them. */
#ifndef APPR_BACKUP_H
#define APPR_BACKUP_H

#include "archive.h"
#include "config.h"
#include "storage.h"

#define BACKUP_VERSION 2                 /* with OCI blobs; 1 without (older readers
					  * take it); restore reads both */
#define BACKUP_VERSION_APPR 1
#define BACKUP_DB_NAME "appr.db"         /* the SQLite store's database in data_dir */

struct backup_report {
	unsigned long manifests;          /* in the snapshot */
	unsigned long blobs;              /* copied */
	long long bytes;                  /* blob bytes copied */
	unsigned long oci_blobs;          /* OCI blobs copied */
	long long oci_bytes;
	unsigned tries;                   /* snapshots taken (a blob deleted between the
					   * snapshot and its copy takes another) */
	double snapshot_s;                /* seconds the last snapshot took */
};

/* Write the backup of store s (the filesystem driver, cfg its configuration) to
 * path: built in path.tmp-PID, renamed when whole. Each blob (and OCI blob) is copied
 * with its size and SHA-256 checked against the snapshot; one that vanished (deleted after the
 * snapshot) makes a new snapshot, up to 3 times. Another driver: 501 saying that
 * export is its backup. Returns 0, or -1 with err. */
int backup_write(struct storage *s, const struct appr_config *cfg, const char *path,
		 archive_progress_fn progress, void *pctx, struct backup_report *rep,
		 struct appr_error *err);

/* Make data directory dir (absent or empty: else 409) from backup file path, then
 * check it: the database's quick_check, every manifest's blob and every OCI blob
 * present with its size. Returns 0, or -1 with err (dir is then incomplete). */
int backup_restore(const char *path, const char *dir, archive_progress_fn progress,
		   void *pctx, struct backup_report *rep, struct appr_error *err);

#endif
