/* archive.h - the portable registry archive (doc/appr-archive.5): what a store holds
 * as an in-memory index (packages, manifests, channels, users, grants, tokens, blobs,
 * and the rows of the OCI tables, oci-dump.h), its JSON-lines form, and the tar that
 * carries the index and every blob and OCI blob once. The
 * index is what export collects, import and copy apply, import-appr builds. */
#ifndef APPR_ARCHIVE_H
#define APPR_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "digest.h"
#include "oci-dump.h"
#include "storage.h"
#include "util.h"

#define ARCHIVE_VERSION 2                /* the index's "version" when it carries OCI
					  * records; 1 (ARCHIVE_VERSION_APPR) otherwise, so
					  * that older readers take it; readers take both */
#define ARCHIVE_VERSION_APPR 1
#define ARCHIVE_INDEX_NAME "index.jsonl" /* the tar's first member */
#define ARCHIVE_BLOB_DIR "blobs/"        /* then blobs/<digest>.tgz, each blob once */
#define ARCHIVE_OCI_BLOB_DIR "oci/blobs/" /* then oci/blobs/<sha256>, each OCI blob once */

struct archive_package {
	const char *ns, *name;
	const char *visibility;              /* "public" or "private" */
};

struct archive_manifest {
	const char *ns, *name, *release, *media_type;   /* media type: short form */
	char digest[DIGEST_HEX_LEN + 1];     /* SHA-256 of the uncompressed tar */
	char blob_sha256[DIGEST_HEX_LEN + 1]; /* SHA-256 of the stored .tgz bytes */
	long long size;                      /* .tgz bytes */
	const char *metadata;                /* JSON text exactly as stored, or NULL */
	char created_at[32];
	const char *visibility;              /* the package's (filled by archive_link) */
};

struct archive_channel {
	const char *ns, *name, *channel;
	const char *current;
	const char **releases;               /* highest first */
	size_t n_releases;
};

struct archive_blob {
	char digest[DIGEST_HEX_LEN + 1];
	char sha256[DIGEST_HEX_LEN + 1];     /* "" while unknown (export fills it) */
	long long size;
	off_t offset;                        /* archive_read: where its bytes start */
	bool present;                        /* archive_read: a member carries it */
};

/* An OCI blob's bytes in the archive (one per row of OCI_DUMP_T_BLOBS). */
struct archive_oci_blob {
	char digest[DIGEST_HEX_LEN + 1];     /* the SHA-256 of its bytes */
	long long size;
	off_t offset;                        /* archive_read: where its bytes start */
	bool present;                        /* archive_read: a member carries it */
};

/* The rows of one OCI table (oci-dump.h). */
struct archive_oci_rows {
	struct oci_dump_row *rows;
	size_t n, cap;
};

/* Everything an archive holds. Strings live in the arena a; the arrays are the
 * index's own (archive_index_free). */
struct archive_index {
	struct arena *a;
	struct archive_package *packages;   size_t n_packages, cap_packages;
	struct archive_manifest *manifests; size_t n_manifests, cap_manifests;
	struct archive_channel *channels;   size_t n_channels, cap_channels;
	struct storage_user *users;         size_t n_users, cap_users;
	struct storage_grant *grants;       size_t n_grants, cap_grants;
	struct storage_token *tokens;       size_t n_tokens, cap_tokens;
	struct archive_blob *blobs;         size_t n_blobs, cap_blobs;
	struct digest_map *blob_map;        /* digest -> struct archive_blob index + 1 */
	struct archive_oci_rows oci[OCI_DUMP_N_TABLES];   /* by oci_dump_tables */
	struct archive_oci_blob *oci_blobs; size_t n_oci_blobs, cap_oci_blobs;
	struct digest_map *oci_blob_map;    /* digest -> struct archive_oci_blob index + 1 */
};

void archive_index_init(struct archive_index *ix);
void archive_index_free(struct archive_index *ix);   /* keeps nothing; twice is fine */

/* Append an empty record (zeroed) and return it; the caller fills it with strings of
 * ix->a (or strings that outlive ix). */
struct archive_package *archive_add_package(struct archive_index *ix);
struct archive_manifest *archive_add_manifest(struct archive_index *ix);
struct archive_channel *archive_add_channel(struct archive_index *ix);
struct storage_user *archive_add_user(struct archive_index *ix);
struct storage_grant *archive_add_grant(struct archive_index *ix);
struct storage_token *archive_add_token(struct archive_index *ix);
/* The blob of digest, added (size, sha256 as given, sha256 may be "") when new;
 * a known blob keeps its record and only learns a sha256 it lacked. */
struct archive_blob *archive_add_blob(struct archive_index *ix, const char *digest,
				      long long size, const char *sha256);
/* The blob of digest, or NULL. */
struct archive_blob *archive_find_blob(const struct archive_index *ix, const char *digest);

/* Append an empty row to OCI table t (oci_dump_tables); the caller fills it. */
struct oci_dump_row *archive_add_oci_row(struct archive_index *ix, unsigned t);
/* Record OCI blob digest of size bytes (a row of OCI_DUMP_T_BLOBS): NULL when it is
 * there already. */
struct archive_oci_blob *archive_add_oci_blob(struct archive_index *ix, const char *digest,
					      long long size);
struct archive_oci_blob *archive_find_oci_blob(const struct archive_index *ix,
					       const char *digest);
/* Whether ix holds any OCI row. */
bool archive_has_oci(const struct archive_index *ix);

/* Fill each manifest's visibility from its package's record ("public" when none). */
void archive_link(struct archive_index *ix);

/* The index as JSON lines (doc/appr-archive.5) appended to out. */
void archive_index_format(const struct archive_index *ix, struct strbuf *out);
/* Parse the JSON lines of len bytes into ix (initialised, normally empty), checking
 * every field (names, semver releases, digests, times, levels). Returns 0, or -1
 * with err saying which line is wrong and why. */
int archive_index_parse(struct archive_index *ix, const char *text, size_t len,
			struct appr_error *err);

/* -- the tar (POSIX ustar, uncompressed: the blobs are gzip already) -- */

/* Write one member's header (regular file name of size bytes, mtime). Returns 0 or
 * -1 with err (a write error, a name over 99 bytes, a size over 8 GiB - 1). */
int archive_tar_header(FILE *f, const char *name, long long size, long long mtime,
		       struct appr_error *err);
/* The zero padding after a member of size bytes. */
int archive_tar_pad(FILE *f, long long size, struct appr_error *err);
/* The end of the archive: two zero blocks. */
int archive_tar_end(FILE *f, struct appr_error *err);

/* Read the next member's header: 1 with its name and size (the data follows, then
 * padding to 512 bytes: archive_tar_skip_pad), 0 at the end blocks, -1 with err (a
 * cut or damaged tar, a member that is no regular file). */
int archive_tar_next(FILE *f, char name[101], long long *size, struct appr_error *err);
/* Skip the padding after a member of size bytes whose data was read. */
int archive_tar_skip_pad(FILE *f, long long size, struct appr_error *err);

/* Read an archive's index and where each blob is: the first member must be the
 * index (parsed into ix), every other member blobs/<digest>.tgz of a blob the index
 * lists, or oci/blobs/<sha256> of an OCI blob it lists, once, with the size it gives
 * (its offset and present then set). A tar
 * error, an unknown, repeated or missing member, or a blob the index lists that the
 * archive lacks: -1 with err. Blob bytes are not read (import verifies them). */
int archive_read(FILE *f, struct archive_index *ix, struct appr_error *err);

/* -- checking a blob's bytes as they stream by -- */

/* The SHA-256 of the bytes, the digest of their tar (targz, no limits: the blob was
 * accepted once) and their count. */
struct archive_check;
struct archive_check *archive_check_new(void);
/* The targz under the check, to attach a chart reader before the first feed. */
struct targz *archive_check_targz(struct archive_check *c);
/* 0, or -1 with err (not gzip, not a tar) */
int archive_check_feed(struct archive_check *c, const void *data, size_t len,
		       struct appr_error *err);
/* End of the bytes: 0 with the digest of the tar, the SHA-256 of the bytes and their
 * size, or -1 with err (the archive does not end properly). */
int archive_check_finish(struct archive_check *c, char digest[DIGEST_HEX_LEN + 1],
			 char sha256[DIGEST_HEX_LEN + 1], long long *size, struct appr_error *err);
void archive_check_free(struct archive_check *c);   /* NULL is a no-op */

/* Progress of a long command: phase ("export", "verify", "import"...), done of total
 * items, bytes so far. Called often: the callee decides when to show it. */
typedef void (*archive_progress_fn)(void *ctx, const char *phase, unsigned long done,
				    unsigned long total, long long bytes);

#endif
