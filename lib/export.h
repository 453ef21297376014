/* export.h - a store as a source: what it holds collected into an archive index,
 * its blobs read by digest, and the archive file written from both (appr-admin
 * export; copy applies the same index to another store, import.h). */
#ifndef APPR_EXPORT_H
#define APPR_EXPORT_H

#include <stdio.h>

#include "archive.h"
#include "storage.h"

struct oci_store;
struct oci_blob_reader;

/* Where the bytes of a blob come from, by digest: an archive file, a store. A
 * concrete source embeds it first. */
struct blob_source {
	/* Start reading blob digest: 0 with its size, or -1 with err (404 when absent). */
	int (*open)(struct blob_source *src, const char *digest, long long *size,
		    struct appr_error *err);
	/* Start reading OCI blob hex (the SHA-256 of its bytes) instead: as open;
	 * NULL when the source has no OCI content. */
	int (*oci_open)(struct blob_source *src, const char *hex, long long *size,
			struct appr_error *err);
	/* >0 bytes read, 0 at its end, -1 on an error (said on stderr). */
	long (*read)(struct blob_source *src, void *buf, size_t len);
	void (*close)(struct blob_source *src);
};

/* The blobs of store s, and its OCI content: the filesystem store's through oci
 * (oci-dump.h), an etcd or redis store's through its OCI store os (oci-transfer.h);
 * both NULL when it has none to carry. */
struct export_store_source {
	struct blob_source base;
	struct storage *s;
	struct storage_blob_reader *r;
	struct oci_dump *oci;
	struct oci_store *os;
	int fd;                           /* the open OCI blob of oci, or -1 */
	struct oci_blob_reader *or;       /* the open OCI blob of os, or NULL */
};
void export_store_source_init(struct export_store_source *src, struct storage *s,
			      struct oci_dump *oci, struct oci_store *os);

/* Collect everything store s holds into ix (archive_index_init'ed): packages page by
 * page with their manifests and channels, users, grants, tokens, and each blob once
 * (a SHA-256 no manifest recorded stays "" until export_write reads the blob). A
 * store written meanwhile is read as it goes: a package deleted meanwhile is left
 * out. Its OCI content too, when src has it: the filesystem store's rows read in one
 * transaction, a kv store's keys range by range (oci-transfer.h). Returns 0, or -1
 * with err (the store failed). */
int export_collect(struct export_store_source *src, struct archive_index *ix,
		   struct appr_error *err);

/* Write the archive of ix, whose blobs src's store holds (its OCI blobs too), to out:
 * first the blobs whose SHA-256 is unknown are read for it (every manifest then
 * names its blob's), then the index, then each blob, checked as it is copied (its
 * size, SHA-256 and digest must be the index's: a store fsck would find wrong fails
 * the export, naming the blob), then each OCI blob (its size and SHA-256 checked).
 * mtime: the members' time. Returns 0, or -1 with err. */
int export_write(struct export_store_source *src, struct archive_index *ix, FILE *out,
		 long long mtime, archive_progress_fn progress, void *pctx,
		 struct appr_error *err);

#endif
