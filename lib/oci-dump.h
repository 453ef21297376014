/* oci-dump.h - the OCI content of a filesystem (SQLite) store as a whole, for
 * appr-admin: its tables walked into an archive index and loaded from one, its blob
 * files read, checked (fsck), swept (gc) and counted (stats). Its own sqlite3
 * connection to data_dir/appr.db (schema/005-oci.sql) and its own file walks; the
 * serving side is lib/oci-sqlite.c, which this never calls.
 *
 * What is dumped is described by one table, oci_dump_tables: each stored OCI table,
 * the index record type that carries its rows, its columns (name and kind) and how
 * many of them form its primary key. A new table (a later schema) is one more entry
 * (after the tables its rows reference), and a new kind when its values need another
 * check: the SQL that reads, compares and writes rows, the index records and their
 * parsing are made from the entries. What ties rows together (a tag names a
 * manifest...) is checked by name in archive.c (oci_cross_check) and here (fsck). */
#ifndef APPR_OCI_DUMP_H
#define APPR_OCI_DUMP_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "error.h"
#include "util.h"

struct archive_index;
struct blob_source;

/* What a column holds, which says how it is checked when an index is read. */
enum oci_dump_kind {
	OCI_DUMP_REPO,          /* "ns/name": OCI path components */
	OCI_DUMP_DIGEST,        /* 64 lowercase hex */
	OCI_DUMP_DIGEST_NULL,   /* the same, or null */
	OCI_DUMP_TAG,           /* an OCI tag */
	OCI_DUMP_TEXT,          /* a string of 1-1024 bytes without controls */
	OCI_DUMP_TEXT_NULL,     /* the same, or null */
	OCI_DUMP_SIZE,          /* an integer >= 0 */
	OCI_DUMP_TIME,          /* 2024-01-31T12:00:00.000000 */
	OCI_DUMP_BODY,          /* bytes (base64 in the index), at most 4 MiB */
};

#define OCI_DUMP_MAX_COLS 8
#define OCI_DUMP_BODY_MAX (4 << 20)

struct oci_dump_col {
	const char *name;      /* the column, and the record's key */
	enum oci_dump_kind kind;
	bool compared;         /* a row present with another value here is a conflict */
};

struct oci_dump_table {
	const char *table;     /* in appr.db */
	const char *record;    /* the index record's "type" */
	unsigned n_key;        /* the first n_key columns are its primary key */
	unsigned n_cols;
	struct oci_dump_col cols[OCI_DUMP_MAX_COLS];
};

/* The tables, in the order they are dumped and loaded (a row's references first). */
enum {
	OCI_DUMP_T_BLOBS,       /* digest, size: one per blob file */
	OCI_DUMP_T_LINKS,       /* repo, digest */
	OCI_DUMP_T_MANIFESTS,   /* repo, digest, media_type, artifact_type, subject,
				 * body, created_at */
	OCI_DUMP_T_REFS,        /* repo, manifest, digest */
	OCI_DUMP_T_TAGS,        /* repo, tag, digest */
	OCI_DUMP_N_TABLES
};
extern const struct oci_dump_table oci_dump_tables[OCI_DUMP_N_TABLES];

/* One row: v[i] the value of column i as text (sizes in decimal; NULL for null),
 * len[i] its length (a body's bytes). Strings live in the index's arena. */
struct oci_dump_row {
	const char *v[OCI_DUMP_MAX_COLS];
	size_t len[OCI_DUMP_MAX_COLS];
};

/* A connection to one data directory's OCI content. */
struct oci_dump;

/* Open data_dir's: its database (which must carry the OCI tables: storage_open
 * applied the migrations) and its directory oci/. Returns 0, or -1 with err. */
int oci_dump_open(const char *data_dir, struct oci_dump **out, struct appr_error *err);
void oci_dump_close(struct oci_dump *d);          /* NULL is a no-op */

/* Read every OCI row into ix (in one read transaction: a consistent view), each
 * table ordered by its key. Returns 0, or -1 with err. */
int oci_dump_collect(struct oci_dump *d, struct archive_index *ix, struct appr_error *err);

/* Open blob hex's file to read: 0 with *fd and its size, 404 when absent, else -1. */
int oci_dump_blob_open(struct oci_dump *d, const char *hex, int *fd, long long *size,
		       struct appr_error *err);

/* What oci_dump_load did. */
struct oci_dump_load_report {
	unsigned long rows_written[OCI_DUMP_N_TABLES];
	unsigned long rows_present[OCI_DUMP_N_TABLES];
	unsigned long conflicts;          /* rows there with other values: left alone */
	long long bytes;                  /* blob bytes written */
};

typedef void (*oci_dump_say_fn)(void *ctx, const char *line);

/* say(ctx, the line fmt makes: a path and some words fit); nothing when say is
 * NULL. */
void oci_dump_sayf(oci_dump_say_fn say, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Load the OCI rows of ix into d, the bytes of each blob the data directory lacks
 * read through src->oci_open and checked (size, SHA-256) as they are written: each
 * file put in place (temp file, fsync, rename) first, then every row in one
 * transaction, so a row never names a missing file. A blob whose bytes are wrong
 * stops the load before any row is written (-1, err naming it). Rows present are
 * skipped; a row present with other values is a conflict (said, counted, left).
 * Returns 0, or -1 with err. */
int oci_dump_load(struct oci_dump *d, const struct archive_index *ix, struct blob_source *src,
		  oci_dump_say_fn say, void *sctx, struct oci_dump_load_report *rep,
		  struct appr_error *err);

/* Debris older than this many seconds is what gc and fsck take for debris (a push
 * puts its blob file in place before the row that names it commits). */
#define OCI_DUMP_SAFE_AGE 3600

/* What oci_dump_check found. */
struct oci_dump_check_report {
	unsigned long blobs, manifests, tags;   /* checked */
	unsigned long unused;             /* blob rows nothing uses: no problem (deleting
					   * a manifest leaves its blobs), gc's to remove */
	unsigned long problems, repaired;
};

/* fsck: every blob row's file (present, size, SHA-256), every manifest (the SHA-256
 * of its body, each reference a blob or manifest present), every tag and link, then
 * debris: blob files no row names and temp files (older than OCI_DUMP_SAFE_AGE) and
 * upload sessions idle for upload_ttl seconds; blob rows nothing uses are counted
 * (rep->unused), not problems: the API leaves them when a manifest goes. One line per
 * problem through say. With repair: debris is swept (oci_dump_sweep), and what cannot
 * be served (a manifest whose body or reference is wrong, with its tags; a damaged
 * blob, with its links) deleted. Returns 0, or -1 with err. */
int oci_dump_check(struct oci_dump *d, unsigned long long upload_ttl, bool repair,
		   oci_dump_say_fn say, void *sctx, struct oci_dump_check_report *rep,
		   struct appr_error *err);

/* What oci_dump_sweep removed (or, dry, would remove). */
struct oci_dump_sweep_report {
	unsigned long files;              /* blob files no row names, temp files */
	unsigned long rows;               /* blob rows no link or reference uses */
	unsigned long uploads;            /* upload sessions idle for upload_ttl */
	long long bytes;
	oci_dump_say_fn found;            /* when set: one line per thing found */
	void *found_ctx;
	bool quiet_unused;                /* no line for the unused blob rows (counted) */
};

/* gc: remove blob rows no link or reference uses (rows deleted, COMMIT, then their
 * files), blob files no row names older than OCI_DUMP_SAFE_AGE (under the write
 * lock, renamed aside, COMMIT, then unlinked), and upload sessions idle for upload_ttl
 * seconds (rows, then files). Returns 0, or -1 with err. */
int oci_dump_sweep(struct oci_dump *d, unsigned long long upload_ttl, bool dry,
		   struct oci_dump_sweep_report *rep, struct appr_error *err);

/* What the OCI store holds. */
struct oci_dump_counts {
	unsigned long repositories, manifests, tags, blobs;
	long long bytes;
};
int oci_dump_stats(struct oci_dump *d, struct oci_dump_counts *st, struct appr_error *err);

/* One blob row. */
struct oci_dump_blob {
	char digest[65];
	long long size;
};

/* The blob rows of database db (a backup's snapshot), by digest, into *out (the
 * caller frees it): none when db predates the OCI tables. Returns 0, or -1 with err. */
int oci_dump_blob_list(sqlite3 *db, struct oci_dump_blob **out, size_t *n,
		       struct appr_error *err);

#endif
