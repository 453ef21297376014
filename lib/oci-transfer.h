/* oci-transfer.h - appr-admin on OCI content that is not the filesystem store's
 * (that store has oci-dump.h, which reads and writes its tables and files directly):
 * carried between an archive index (archive.h: the rows of oci-dump.h's tables) and
 * a store for export, import and copy, counted for stats, checked for fsck:
 *   oci-kv-dump.c   an etcd or redis store's oci/ keys read as a whole: its rows, its
 *                   counts
 *   oci-kv-check.c  an etcd or redis store's OCI content checked (and repaired)
 *   oci-load.c      rows loaded into any OCI store through its operations */
#ifndef APPR_OCI_TRANSFER_H
#define APPR_OCI_TRANSFER_H

#include "archive.h"
#include "export.h"
#include "oci-dump.h"
#include "oci-store.h"

/* Every OCI row of os, the OCI store of an etcd or redis store, into ix, each
 * table ordered by its key (as oci_dump_collect orders the filesystem store's), with
 * its blobs. The keys are read a range at a time, not from one snapshot: a change
 * made meanwhile may show in part (export a live kv store when nothing is pushed, or
 * export again). 0, or -1 with err. */
int oci_kv_collect(struct oci_store *os, struct archive_index *ix, struct appr_error *err);

/* What os, the OCI store of an etcd or redis store, holds, counted as
 * oci_dump_stats counts the filesystem store's: repositories holding a link or a
 * manifest, manifests, tags, blobs and their bytes. 0, or -1 with err. */
int oci_kv_stats(struct oci_store *os, struct oci_dump_counts *out, struct appr_error *err);

/* fsck of os, the OCI store of an etcd or redis store, as oci_dump_check checks
 * the filesystem store's (oci-kv-check.c says what); one line through say per
 * problem and per repair. 0 when it could look at everything (problems or not: see
 * rep), -1 with err when the store failed. */
int oci_kv_check(struct oci_store *os, bool repair, oci_dump_say_fn say, void *sctx,
		 struct oci_dump_check_report *rep, struct appr_error *err);

/* Load the OCI rows of ix into os through its operations, blobs read through
 * src->oci_open (their digest checked as they are stored): each blob a repository
 * needs (its links, its manifests' references) uploaded once and mounted into the
 * other repositories; manifests (an index after the manifests it lists) put with
 * their created time; tags set; links made only for a manifest's sake taken away
 * again. A manifest, link or tag present is counted present; a tag that names
 * another manifest there is a conflict (said, counted, left); a blob row nothing
 * links or references (which no store operation can hold) is said and skipped.
 * Runs again after a failure complete what it began. 0, or -1 with err. */
int oci_store_load(struct oci_store *os, const struct archive_index *ix,
		   struct blob_source *src, oci_dump_say_fn say, void *sctx,
		   struct oci_dump_load_report *rep, struct appr_error *err);

#endif
