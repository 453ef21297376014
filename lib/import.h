/* import.h - a store as a sink: an archive index applied to it, each blob's bytes
 * taken from a blob source (an archive file, another store) and checked on the way
 * in; and the archive file read and verified whole before anything is written. */
#ifndef APPR_IMPORT_H
#define APPR_IMPORT_H

#include <stdio.h>

#include "archive.h"
#include "export.h"
#include "storage.h"

/* What import_apply did. */
struct import_report {
	unsigned long manifests_written;  /* new in the store */
	unsigned long manifests_present;  /* already there with the same digest: skipped */
	unsigned long conflicts;          /* there with another digest (or a user, grant,
					   * token that differs): left as they were */
	unsigned long problems;           /* not written: a blob whose bytes are not what
					   * its manifest says, a channel member missing */
	unsigned long channels_written, users_written, grants_written, tokens_written;
	long long bytes;                  /* blob bytes written */
};

/* Called with one line (no newline) per conflict and per problem. */
typedef void (*import_say_fn)(void *ctx, const char *line);
/* One line to say (at most 511 bytes), printf-style; nothing when say is NULL. */
void import_sayf(import_say_fn say, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Apply ix to store dst, reading blobs from src: first every manifest, user, grant
 * and token is compared with what dst holds (nothing written yet); then users,
 * grants, tokens, the manifests dst lacks (each blob streamed from src into dst
 * while its size, SHA-256 and tar digest are checked against the index: a mismatch
 * drops it, a problem), and the channels (members added, current set). What dst
 * already holds identically is skipped, so applying twice changes nothing; what
 * differs is a conflict, said and left alone. Created times are kept. Returns 0
 * (conflicts and problems in rep), or -1 with err when the store failed (what was
 * written so far stays: applying again completes it). */
int import_apply(struct storage *dst, const struct archive_index *ix, struct blob_source *src,
		 import_say_fn say, void *sctx, archive_progress_fn progress, void *pctx,
		 struct import_report *rep, struct appr_error *err);

/* The blobs (and OCI blobs) of an archive file read by archive_read. */
struct import_file_source {
	struct blob_source base;
	FILE *f;
	const struct archive_index *ix;
	long long left;                   /* bytes of the open blob not read yet */
};
void import_file_source_init(struct import_file_source *src, FILE *f,
			     const struct archive_index *ix);

/* Read archive f (archive_read) into ix and check every blob's bytes: its size,
 * SHA-256 and tar digest must be the index's; every OCI blob's size and SHA-256 too
 * (the OCI rows themselves were checked by archive_index_parse). Nothing is written
 * anywhere. Returns 0, or -1 with err naming the first thing wrong. */
int import_verify(FILE *f, struct archive_index *ix, archive_progress_fn progress, void *pctx,
		  struct appr_error *err);

#endif
