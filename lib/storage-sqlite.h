/* storage-sqlite.h - inside the embedded "filesystem" store: its state, its SQL statement
 * ids and the functions its files share. Other modules use storage.h, never this.
 *   storage-sqlite.c           the connection: statements, transactions, open (WAL,
 *                              migrations, the sweep of crash debris), the ops table;
 *                              its opening comment describes the layout and durability
 *   storage-sqlite-sql.c       every SQL statement
 *   storage-sqlite-files.c     blob files: paths, publish and drop inside a write
 *                              transaction, the disk reserve, crash debris, reads, gc
 *   storage-sqlite-releases.c  pushes, releases, manifests, deletes
 *   storage-sqlite-list.c      package lists and search
 *   storage-sqlite-channels.c  channels
 *   storage-sqlite-auth.c      users, grants, tokens, package visibility
 *   storage-sqlite-charts.c    Helm chart fields, namespace stamps */
#ifndef APPR_STORAGE_SQLITE_H
#define APPR_STORAGE_SQLITE_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "storage.h"

#define PATHBUF 4096                   /* every path we build fits (checked at open) */
#define DATA_DIR_MAX (PATHBUF - 256)
#define RESERVE_BYTES (4LL << 20)     /* data_dir/reserve */
#define SWEEP_MIN_AGE 60               /* an unlocked temp file younger is left alone */
#define PUB_PREFIX "pub-"             /* blobs/tmp/pub-<digest>-...: see sq_blob_publish */
#define MAX_TRASH 2                    /* blobs one transaction may drop */
/* The WAL: a passive checkpoint after a commit leaves it above WAL_PASSIVE_PAGES (as
 * SQLite's automatic checkpoint does), but under steady reads the log never restarts
 * and grows without bound; above WAL_TRUNCATE_PAGES a commit waits (busy timeout)
 * for the readers of older snapshots, checkpoints everything and truncates the file.
 * WAL_SIZE_LIMIT (journal_size_limit) bounds what is left after any reset. */
#define WAL_PASSIVE_PAGES 1000
#define WAL_TRUNCATE_PAGES 8192               /* 32 MiB of 4 KiB pages */
#define WAL_RETRY_PAGES 256                   /* after a TRUNCATE that timed out: 1 MiB more */
#define WAL_SIZE_LIMIT "67108864"            /* 64 MiB */

/* Statement ids: sq_sql_defs[id] (storage-sqlite-sql.c) is the statement, prepared
 * once at open into sq_storage.stmt[id]. */
enum sid {
	S_BEGIN, S_BEGIN_WRITE, S_COMMIT, S_ROLLBACK,
	S_PKG_ID, S_PKG_INSERT, S_PKG_DELETE_IF_EMPTY,
	S_REL_ID, S_REL_INSERT, S_REL_DELETE, S_RELEASES_OF,
	S_MAN_DIGEST, S_MAN_UPSERT, S_MAN_DELETE, S_MAN_ANY_OF_RELEASE, S_MAN_ONE,
	S_MANIFESTS, S_DIGEST_USED, S_BLOB_LOOKUP, S_CURRENT_OF,
	S_CHANNELS, S_CHAN_ID, S_CHAN_INSERT, S_CHAN_SET_CURRENT, S_CHAN_MEMBER_ADD,
	S_CHAN_MEMBER_DEL, S_CHAN_RELEASE_LEAVE, S_CHAN_DROP_EMPTY, S_CHAN_FIX_CURRENT,
	S_CHAN_DELETE,
	S_LIST_ALL, S_LIST_NS, S_LIST_ALL_TRI, S_LIST_NS_TRI, S_SEARCH, S_SEARCH_TRI,
	S_USER_GET, S_USER_INSERT, S_USER_UPDATE, S_USER_DELETE, S_USER_LIST,
	S_GRANT_SET, S_GRANT_DELETE, S_GRANT_LIST_ALL, S_GRANT_LIST_USER,
	S_TOKEN_INSERT, S_TOKEN_TAKEN, S_TOKEN_FIND, S_TOKEN_LIST_ALL, S_TOKEN_LIST_USER,
	S_TOKEN_DELETE, S_PKG_VISIBILITY,
	S_BLOB_SHA256, S_MAN_SET_SHA256, S_CHART_PUT, S_CHART_DELETE, S_CHART_EXAMINED,
	S_HELM_OCI_PUT, S_HELM_OCI_DELETE,
	S_CHARTS, S_NS_BUMP, S_NS_STAMP,
	S_COUNT
};

/* ---- driver state ---- */

/* Blob files the open write transaction changed, to undo if it does not commit. */
struct sq_fileops {
	char created[PATHBUF];               /* final blob file it made, or "" */
	bool left;                           /* created had to be left (sq_tx_abort) */
	char sync_dir[PATHBUF];              /* directory of created to fsync after
					      * COMMIT, or "" (sq_blob_publish) */
	int sync_parent;                     /* and blob_dir too, for directory XX of it
					      * (0-255; -1: not) */
	size_t n_trash;
	struct {
		char final[PATHBUF];         /* where the blob was */
		char trash[PATHBUF];         /* where it is until COMMIT */
	} trash[MAX_TRASH];
};

struct sq_storage {
	struct storage base;                 /* first: callers hold &base */
	sqlite3 *db;
	sqlite3_stmt *stmt[S_COUNT];
	int bind_rc;                         /* first bind failure since sq_stmt_get() */
	char blob_dir[PATHBUF];              /* <data_dir>/blobs/sha256 */
	char reserve[PATHBUF];               /* <data_dir>/reserve: see sq_reserve_make */
	char tmp_dir[PATHBUF];               /* <data_dir>/blobs/tmp */
	char wal[PATHBUF];                   /* <data_dir>/appr.db-wal */
	unsigned long trash_seq;
	unsigned char dir_durable[32];       /* bit XX: blob_dir/XX is known to have a
					      * durable name (blob_dir fsync'ed since this
					      * process saw it: sq_blob_publish) */
	struct sq_fileops fo;
	int wal_next_truncate;               /* WAL pages at which to try TRUNCATE next */
	long long ckpt_deadline_ms;          /* ckpt_busy gives up then (now_ms) */
};

struct sq_writer {
	struct storage_blob_writer base;     /* first */
	int fd;                              /* -1 once closed */
	char path[PATHBUF];                  /* temp file, "" once moved or removed */
};

struct sq_reader {
	struct storage_blob_reader base;     /* first */
	int fd;
};

/* Statement i of the table in storage-sqlite-sql.c: its SQL and, for the log line when
 * it fails, what it does. */
struct sq_sql_def {
	const char *op;
	const char *sql;
};
extern const struct sq_sql_def sq_sql_defs[S_COUNT];

struct vec {
	void *items;
	size_t n, cap;
};

/* ---- storage-sqlite.c ---- */

int sq_sys_fail(const char *op, const char *path, int e, struct appr_error *err);
sqlite3_stmt *sq_stmt_get(struct sq_storage *ss, enum sid id);
void sq_bind_rc(struct sq_storage *ss, int rc);
void sq_bind_text(struct sq_storage *ss, sqlite3_stmt *st, int i, const char *v);
void sq_bind_int(struct sq_storage *ss, sqlite3_stmt *st, int i, sqlite3_int64 v);
void sq_bind_limit(struct sq_storage *ss, sqlite3_stmt *st, int i, size_t v);
int sq_step(struct sq_storage *ss, sqlite3_stmt *st, struct appr_error *err);
int sq_run(struct sq_storage *ss, sqlite3_stmt *st, struct appr_error *err);
const char *sq_col_str(struct arena *a, sqlite3_stmt *st, int i);
void sq_col_copy(char *dst, size_t cap, sqlite3_stmt *st, int i);
int sq_find_package(struct sq_storage *ss, const char *ns, const char *name,
		    sqlite3_int64 *id, struct appr_error *err);
int sq_find_release(struct sq_storage *ss, sqlite3_int64 pkg, const char *release,
		    sqlite3_int64 *id, struct appr_error *err);
int sq_find_channel(struct sq_storage *ss, sqlite3_int64 pkg, const char *channel,
		    sqlite3_int64 *id, struct appr_error *err);
int sq_digest_used(struct sq_storage *ss, const char *digest, struct appr_error *err);
const char *sq_nonempty(const char *s);
int sq_recorded_sha256(struct sq_storage *ss, const char *digest,
		       char out[DIGEST_HEX_LEN + 1], struct appr_error *err);
int sq_chart_put(struct sq_storage *ss, sqlite3_int64 rel_id, const char *chart,
		 const char *problem, const char *name, const char *version,
		 const char *layer_hex, long long layer_size, struct appr_error *err);
int sq_ns_bump(struct sq_storage *ss, const char *ns, const char *now,
	       struct appr_error *err);
int sq_not_found(struct sq_storage *ss, const char *ns, const char *name,
		 const char *release, const char *media_type, struct appr_error *err);
int sq_find_manifest(struct sq_storage *ss, const char *ns, const char *name,
		     const char *release, const char *media_type, sqlite3_stmt **out,
		     struct appr_error *err);
void *sq_vec_push(struct arena *a, struct vec *v, size_t size);
void sq_vec_push_str(struct arena *a, struct vec *v, const char *s);
int sq_tx_read(struct sq_storage *ss, struct appr_error *err);
void sq_tx_read_end(struct sq_storage *ss);
int sq_tx_write(struct sq_storage *ss, struct appr_error *err);
void sq_tx_abort(struct sq_storage *ss);
int sq_tx_commit(struct sq_storage *ss, struct appr_error *err);

/* ---- storage-sqlite-files.c ---- */

bool sq_digest_ok(const char *d);
int sq_blob_file_path(struct sq_storage *ss, const char *digest, char out[PATHBUF],
		      bool dir_only);
int sq_mkdir_p(const char *path, struct appr_error *err);
int sq_drop_if_unreferenced(struct sq_storage *ss, const char *digest,
			    struct appr_error *err);
int sq_blob_stage(struct sq_storage *ss, char *tmp, const char *digest,
		  struct appr_error *err);
int sq_blob_publish(struct sq_storage *ss, char *tmp, const char *digest, const char *dir,
		    const char *final, bool staged, struct appr_error *err);
int sq_blob_published_sync(struct sq_storage *ss, struct appr_error *err);
bool sq_reserve_present(struct sq_storage *ss);
void sq_reserve_make(struct sq_storage *ss);
bool sq_reserve_release(struct sq_storage *ss);
int sq_reserve_check(struct sq_storage *ss, struct appr_error *err);
int sq_sweep_debris(struct sq_storage *ss, bool dry, struct storage_gc_report *rep,
		    struct appr_error *err);
void sq_writer_free(struct sq_writer *w);
int sq_blob_begin(struct storage *s, struct storage_blob_writer **out,
		  struct appr_error *err);
int sq_blob_write(struct storage_blob_writer *bw, const void *data, size_t len,
		  struct appr_error *err);
void sq_blob_abort(struct storage_blob_writer *bw);
int sq_blob_lookup(struct storage *s, const char *ns, const char *name,
		   const char *digest, long long *size, char sha256[DIGEST_HEX_LEN + 1],
		   struct appr_error *err);
int sq_blob_open(struct storage *s, const char *digest,
		 struct storage_blob_reader **out, long long *size,
		 struct appr_error *err);
int sq_blob_path(struct storage *s, const char *digest, char *out, size_t cap,
		 struct appr_error *err);
long sq_blob_read(struct storage_blob_reader *br, void *buf, size_t len);
void sq_blob_close(struct storage_blob_reader *br);
int sq_writer_finish(struct sq_storage *ss, struct sq_writer *w, long long *size,
		     struct appr_error *err);
int sq_gc(struct storage *s, bool dry, struct storage_gc_report *rep,
	  struct appr_error *err);

/* ---- storage-sqlite-releases.c ---- */

int sq_put_release(struct storage *s, const struct storage_push *p,
		   struct storage_blob_writer *bw, struct appr_error *err);
int sq_list_releases(struct storage *s, const char *ns, const char *name,
		     struct arena *a, const char ***out, size_t *n,
		     struct appr_error *err);
int sq_get_manifests(struct storage *s, const char *ns, const char *name,
		     const char *release, const char *media_type, struct arena *a,
		     struct storage_manifest **out, size_t *n, struct appr_error *err);
int sq_get_manifest(struct storage *s, const char *ns, const char *name,
		    const char *release, const char *media_type, struct arena *a,
		    struct storage_manifest *out, struct appr_error *err);
int sq_channels_repair(struct sq_storage *ss, sqlite3_int64 pkg_id,
		       struct appr_error *err);
int sq_delete_manifest(struct storage *s, const char *ns, const char *name,
		       const char *release, const char *media_type,
		       struct appr_error *err);

/* ---- storage-sqlite-list.c ---- */

int sq_list_packages(struct storage *s, const struct storage_list_query *q,
		     struct arena *a, struct storage_package **out, size_t *n,
		     struct appr_error *err);
int sq_search(struct storage *s, const char *text,
	      const struct storage_readers *readers, size_t limit, struct arena *a,
	      const char ***out, size_t *n, struct appr_error *err);

/* ---- storage-sqlite-channels.c ---- */

int sq_list_channels(struct storage *s, const char *ns, const char *name,
		     struct arena *a, struct storage_channel **out, size_t *n,
		     struct appr_error *err);
int sq_get_channel(struct storage *s, const char *ns, const char *name,
		   const char *channel, struct arena *a, struct storage_channel *out,
		   struct appr_error *err);
int sq_channel_add(struct storage *s, const char *ns, const char *name,
		   const char *channel, const char *release, struct arena *a,
		   struct storage_channel *out, struct appr_error *err);
int sq_channel_remove(struct storage *s, const char *ns, const char *name,
		      const char *channel, const char *release, struct appr_error *err);
int sq_channel_delete(struct storage *s, const char *ns, const char *name,
		      const char *channel, struct appr_error *err);

/* ---- storage-sqlite-auth.c ---- */

int sq_user_put(struct storage *s, const char *name, const char *password_hash,
		bool create, const char *created_at, struct appr_error *err);
int sq_user_get(struct storage *s, const char *name, struct arena *a,
		struct storage_user *out, struct appr_error *err);
int sq_user_delete(struct storage *s, const char *name, struct appr_error *err);
int sq_user_list(struct storage *s, struct arena *a, struct storage_user **out,
		 size_t *n, struct appr_error *err);
int sq_grant_set(struct storage *s, const char *user, const char *ns,
		 enum storage_level level, struct appr_error *err);
int sq_grant_list(struct storage *s, const char *user, struct arena *a,
		  struct storage_grant **out, size_t *n, struct appr_error *err);
int sq_token_add(struct storage *s, const struct storage_token *t,
		 struct appr_error *err);
int sq_token_find(struct storage *s, const char *hash, struct arena *a,
		  struct storage_token *out, struct appr_error *err);
int sq_token_list(struct storage *s, const char *user, struct arena *a,
		  struct storage_token **out, size_t *n, struct appr_error *err);
int sq_token_revoke(struct storage *s, const char *id, struct appr_error *err);
int sq_package_visibility(struct storage *s, const char *ns, const char *name,
			  struct arena *a, const char **out, struct appr_error *err);

/* ---- storage-sqlite-charts.c ---- */

int sq_list_charts(struct storage *s, const char *ns, bool include_private,
		   struct arena *a, struct storage_chart **out, size_t *n,
		   struct appr_error *err);
int sq_set_chart(struct storage *s, const char *ns, const char *name,
		 const char *release, const char *digest, const char *chart,
		 const char *problem, const char *blob_sha256, struct appr_error *err);
int sq_namespace_stamp(struct storage *s, const char *ns, unsigned long long *stamp,
		       char changed_at[32], struct appr_error *err);

#endif
