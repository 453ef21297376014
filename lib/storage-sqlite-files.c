/* storage-sqlite-files.c - the embedded store's blob files: paths, publishing and dropping
 * them inside a write transaction, the disk reserve, crash debris, reading, gc. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "semver.h"
#include "storage.h"
#include "storage-sqlite.h"

/* ---- files ---- */

/* The only gate between a digest and a path: exactly 64 lowercase hex digits. */
bool sq_digest_ok(const char *d)
{
	size_t i;

	if (!d)
		return false;
	for (i = 0; i < DIGEST_HEX_LEN; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return false;
	return d[i] == '\0';
}

/* The blob file of digest (or its directory when dir_only). -1 for a bad digest. */
int sq_blob_file_path(struct sq_storage *ss, const char *digest, char out[PATHBUF],
		      bool dir_only)
{
	int n;

	if (!sq_digest_ok(digest))
		return -1;
	if (dir_only)
		n = snprintf(out, PATHBUF, "%s/%.2s", ss->blob_dir, digest);
	else
		n = snprintf(out, PATHBUF, "%s/%.2s/%s", ss->blob_dir, digest, digest);
	return n < 0 || n >= PATHBUF ? -1 : 0;
}

int sq_mkdir_p(const char *path, struct appr_error *err)
{
	int e = util_mkdir_p(path);
	return e ? sq_sys_fail("mkdir", path, e, err) : 0;
}

static int fsync_dir(const char *dir, struct appr_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return sq_sys_fail("open", dir, errno, err);
	if (fsync(fd) < 0)
		rc = sq_sys_fail("fsync", dir, errno, err);
	close(fd);
	return rc;
}

int sq_drop_if_unreferenced(struct sq_storage *ss, const char *digest,
			    struct appr_error *err)
{
	struct sq_fileops *fo = &ss->fo;
	int r = sq_digest_used(ss, digest, err);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (fo->n_trash == MAX_TRASH)
		return storage_err_internal(err);
	char *final = fo->trash[fo->n_trash].final;
	char *trash = fo->trash[fo->n_trash].trash;
	if (sq_blob_file_path(ss, digest, final, false) < 0) {
		fprintf(stderr, "appr: storage: bad digest in the database\n");
		return storage_err_internal(err);
	}
	int n = snprintf(trash, PATHBUF, "%s/%s.%ld.%lu.del", ss->tmp_dir, digest,
			 (long)getpid(), ++ss->trash_seq);
	if (n < 0 || n >= PATHBUF)
		return sq_sys_fail("rename", final, ENAMETOOLONG, err);
	if (rename(final, trash) < 0) {
		if (errno == ENOENT)
			return 0;             /* already gone: nothing to drop */
		return sq_sys_fail("rename", final, errno, err);
	}
	fo->n_trash++;
	return 0;
}

/* Rename the temp file tmp (a PATHBUF buffer, updated) "pub-<digest>-..." in
 * blobs/tmp: the name that says which blob may be published without a reference, so
 * that a process killed before its COMMIT leaves debris the sweep can find
 * (sq_sweep_debris), and, when it is referenced, a name the sweep can put the blob
 * back from. */
static int pub_name(struct sq_storage *ss, char *tmp, const char *digest,
		    struct appr_error *err)
{
	char pub[PATHBUF];
	int n = snprintf(pub, sizeof pub, "%s/" PUB_PREFIX "%s-%ld-%lu", ss->tmp_dir, digest,
			 (long)getpid(), ++ss->trash_seq);

	if (n < 0 || n >= PATHBUF)
		return sq_sys_fail("rename", tmp, ENAMETOOLONG, err);
	if (rename(tmp, pub) < 0)
		return sq_sys_fail("rename", tmp, errno, err);
	memcpy(tmp, pub, (size_t)n + 1);
	return 0;
}

/* Before the write transaction (no lock held): give the temp file tmp its "pub-" name
 * and, with fsync, make that name durable (blobs/tmp fsync'ed), so that the blob's
 * final name need not be durable before COMMIT: a crash that keeps the transaction
 * but loses the final name leaves the blob under its pub- name, and the sweep at the
 * next open puts it back (settle_debris). Pushes do this side by side; only their
 * transactions queue on the write lock. */
int sq_blob_stage(struct sq_storage *ss, char *tmp, const char *digest,
		  struct appr_error *err)
{
	if (pub_name(ss, tmp, digest, err) < 0)
		return -1;
	return ss->base.cfg->fsync ? fsync_dir(ss->tmp_dir, err) : 0;
}

/* fsync blob_dir, then know blob_dir/XX durable. 0 or -1. */
static int parent_sync(struct sq_storage *ss, int xx, struct appr_error *err)
{
	if (fsync_dir(ss->blob_dir, err) < 0)
		return -1;
	ss->dir_durable[xx / 8] |= (unsigned char)(1u << (xx % 8));
	return 0;
}

/* Inside a write transaction: make tmp (a PATHBUF buffer) the blob file final of
 * digest: named "pub-..." first unless staged (sq_blob_stage), then linked as final.
 * A final file there already is unreferenced debris (the caller checked): replaced.
 * With fsync, the directory of final is fsync'ed here when the pub- name is not
 * durable (not staged), else after COMMIT, outside the lock (sq_blob_published_sync);
 * blob_dir too the first time this process uses a directory (made now, or made by
 * another process that may not have fsync'ed blob_dir yet when this push is
 * acknowledged). */
int sq_blob_publish(struct sq_storage *ss, char *tmp, const char *digest, const char *dir,
		    const char *final, bool staged, struct appr_error *err)
{
	int xx = (int)strtol((char[3]){ digest[0], digest[1], '\0' }, NULL, 16) & 0xff;
	bool sync_parent = !(ss->dir_durable[xx / 8] & (1u << (xx % 8)));

	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return sq_sys_fail("mkdir", dir, errno, err);
	if (!staged && pub_name(ss, tmp, digest, err) < 0)
		return -1;
	if (unlink(final) < 0 && errno != ENOENT)
		return sq_sys_fail("unlink", final, errno, err);
	if (link(tmp, final) < 0)
		return sq_sys_fail("link", final, errno, err);
	snprintf(ss->fo.created, PATHBUF, "%s", final);
	if (!ss->base.cfg->fsync)
		return 0;
	if (staged) {
		snprintf(ss->fo.sync_dir, PATHBUF, "%s", dir);
		ss->fo.sync_parent = sync_parent ? xx : -1;
		return 0;
	}
	if (fsync_dir(dir, err) < 0)
		return -1;
	return sync_parent ? parent_sync(ss, xx, err) : 0;
}

/* After the COMMIT of a transaction whose sq_blob_publish deferred it: fsync the
 * directory of the blob's final name (and blob_dir when that directory is new).
 * Before this returns the push is not acknowledged; the pub- name, durable, still
 * covers it. 0 or -1. */
int sq_blob_published_sync(struct sq_storage *ss, struct appr_error *err)
{
	struct sq_fileops *fo = &ss->fo;
	int rc = 0;

	if (fo->sync_dir[0] && (fsync_dir(fo->sync_dir, err) < 0 ||
				(fo->sync_parent >= 0 && parent_sync(ss, fo->sync_parent, err) < 0)))
		rc = -1;
	fo->sync_dir[0] = '\0';
	fo->sync_parent = -1;
	return rc;
}

/* ---- room on a full disk ---- */

/* data_dir/reserve holds RESERVE_BYTES of allocated blocks, so that when the disk
 * fills up a delete can still commit (the WAL must grow first): a delete that finds
 * the disk full releases it and tries again. A push needs it in place (made again
 * when there is room), so pushes alone can never eat the space deletes need. */
bool sq_reserve_present(struct sq_storage *ss)
{
	struct stat sb;
	return stat(ss->reserve, &sb) == 0 && sb.st_size >= RESERVE_BYTES;
}

void sq_reserve_make(struct sq_storage *ss)
{
	char tmp[PATHBUF];
	int n = snprintf(tmp, sizeof tmp, "%s.%ld", ss->reserve, (long)getpid());
	if (n < 0 || n >= PATHBUF)
		return;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	int e = posix_fallocate(fd, 0, RESERVE_BYTES);
	close(fd);
	if (e != 0 || rename(tmp, ss->reserve) < 0)
		unlink(tmp);
}

bool sq_reserve_release(struct sq_storage *ss)
{
	if (unlink(ss->reserve) < 0)
		return false;
	fprintf(stderr, "appr: storage: the disk is full: released %s for a delete\n",
		ss->reserve);
	return true;
}

/* Before a push: 0, or 507 when the reserve is gone and cannot be made again. */
int sq_reserve_check(struct sq_storage *ss, struct appr_error *err)
{
	if (sq_reserve_present(ss))
		return 0;
	sq_reserve_make(ss);
	return sq_reserve_present(ss) ? 0 : storage_err_full(err);
}

/* ---- open / close ---- */

static int is_trash_name(const char *name)
{
	size_t len = strlen(name);
	char digest[DIGEST_HEX_LEN + 1];

	if (len < DIGEST_HEX_LEN + 4 || strcmp(name + len - 4, ".del") != 0)
		return 0;
	memcpy(digest, name, DIGEST_HEX_LEN);
	digest[DIGEST_HEX_LEN] = '\0';
	return sq_digest_ok(digest) && name[DIGEST_HEX_LEN] == '.';
}

/* Whether no live process holds name (in directory fd dir) open for writing: its
 * writer keeps a flock on it from creation to removal (sq_blob_begin). */
static bool unlocked(int dir, const char *name)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	bool free_ = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;

	if (fd >= 0)
		close(fd);                    /* and with it the probe's lock */
	return free_;
}

/* The digest a "pub-" or ".del" debris name in blobs/tmp is about, or false. */
static bool debris_digest(const char *name, char digest[DIGEST_HEX_LEN + 1])
{
	if (strncmp(name, PUB_PREFIX, strlen(PUB_PREFIX)) == 0)
		name += strlen(PUB_PREFIX);
	else if (!is_trash_name(name))
		return false;
	if (strlen(name) <= DIGEST_HEX_LEN)
		return false;
	memcpy(digest, name, DIGEST_HEX_LEN);
	digest[DIGEST_HEX_LEN] = '\0';
	return sq_digest_ok(digest);
}

/* Under the write lock (no push can be between publishing a blob and its COMMIT),
 * settle the debris names listed in blobs/tmp: a ".del" blob (a delete that died
 * after moving it aside) goes back when still referenced, else away; a "pub-" name
 * (a push that died after publishing its blob, before or at COMMIT) takes its blob
 * with it unless the blob is referenced, and puts it back under its final name when
 * it is referenced and that name was lost (a power cut after COMMIT: sq_blob_stage). */
static void found(struct storage_gc_report *rep, const char *what, const char *path)
{
	if (rep->found)
		rep->found(rep->found_ctx, what, path);
}

static int settle_debris(struct sq_storage *ss, char **names, size_t n, bool dry,
			 struct storage_gc_report *rep, struct appr_error *err)
{
	if (sq_tx_write(ss, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char digest[DIGEST_HEX_LEN + 1], final[PATHBUF], dir[PATHBUF], path[PATHBUF];
		int k = snprintf(path, sizeof path, "%s/%s", ss->tmp_dir, names[i]);
		if (k < 0 || k >= PATHBUF || !debris_digest(names[i], digest) ||
		    sq_blob_file_path(ss, digest, final, false) < 0 ||
		    sq_blob_file_path(ss, digest, dir, true) < 0)
			continue;
		int used = sq_digest_used(ss, digest, err);
		if (used < 0) {
			sq_tx_read_end(ss);
			return -1;
		}
		struct stat sb;
		if (is_trash_name(names[i])) {
			if (used) {
				found(rep, "blob a killed delete moved aside, still referenced:",
				      path);
				if (dry || ((mkdir(dir, 0750) == 0 || errno == EEXIST) &&
					    rename(path, final) == 0)) {
					if (!dry)
						fprintf(stderr, "appr: storage: restored blob %s\n",
							final);
					rep->blobs_restored++;
				}
			} else if (stat(path, &sb) == 0) {
				found(rep, "unreferenced blob", path);
				if (dry || unlink(path) == 0) {
					rep->unreferenced_blobs++;
					rep->bytes_freed += sb.st_size;
				}
			}
			continue;
		}
		if (used && stat(final, &sb) < 0 && errno == ENOENT) {
			/* committed, but its final name was lost with the power
			 * (sq_blob_stage): the pub- name has the bytes */
			found(rep, "blob a push committed, its name lost, put back:", path);
			if (dry || ((mkdir(dir, 0750) == 0 || errno == EEXIST) &&
				    link(path, final) == 0 &&
				    (!ss->base.cfg->fsync || fsync_dir(dir, NULL) == 0))) {
				if (!dry)
					fprintf(stderr, "appr: storage: restored blob %s\n", final);
				rep->blobs_restored++;
			}
		}
		if (!used && stat(final, &sb) == 0) {
			found(rep, "unreferenced blob", final);
			if (dry || unlink(final) == 0) {
				if (!dry)
					fprintf(stderr, "appr: storage: removed blob %s, published by "
						"a push that did not commit\n", final);
				rep->unreferenced_blobs++;
				rep->bytes_freed += sb.st_size;
			}
		}
		if (!dry && unlink(path) < 0 && errno != ENOENT)
			sq_sys_fail("unlink", path, errno, NULL);
	}
	sq_tx_read_end(ss);                      /* no database change: just end it */
	return 0;
}

/* Sweep what dead processes left in blobs/tmp: temp files no process writes any
 * more (older than SWEEP_MIN_AGE: the moment between mkstemp and its lock), and the
 * debris names settle_debris handles. Runs at every open (the directory holds only
 * what is in flight) and in gc. */
int sq_sweep_debris(struct sq_storage *ss, bool dry, struct storage_gc_report *rep,
		    struct appr_error *err)
{
	DIR *d = opendir(ss->tmp_dir);
	struct dirent *de;
	struct stat sb;
	time_t now = time(NULL);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d)
		return sq_sys_fail("opendir", ss->tmp_dir, errno, err);
	while ((de = readdir(d))) {
		char digest[DIGEST_HEX_LEN + 1];
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (debris_digest(de->d_name, digest)) {
			if (!is_trash_name(de->d_name) && !unlocked(dirfd(d), de->d_name))
				continue;             /* its push is alive */
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				names = xrealloc(names, cap * sizeof *names);
			}
			names[n++] = xstrdup(de->d_name);
		} else if (strncmp(de->d_name, "blob-", 5) == 0 &&
			   now - sb.st_mtime > SWEEP_MIN_AGE && unlocked(dirfd(d), de->d_name)) {
			char path[PATHBUF];
			int k = snprintf(path, sizeof path, "%s/%s", ss->tmp_dir, de->d_name);
			if (k < 0 || k >= PATHBUF)
				continue;
			found(rep, "temp file of a dead upload", path);
			if (dry || unlinkat(dirfd(d), de->d_name, 0) == 0) {
				rep->temp_files++;
				rep->bytes_freed += sb.st_size;
			}
		}
	}
	closedir(d);
	if (n > 0)
		rc = settle_debris(ss, names, n, dry, rep, err);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Run one statement (a PRAGMA, BEGIN, COMMIT) once; copy the first column of its
 * first row into out when given. Returns the SQLite result code. */
/* ---- blobs ---- */

/* The temp file goes first, then its lock (the sweep takes an unlocked one for
 * debris). */
void sq_writer_free(struct sq_writer *w)
{
	if (w->path[0] && unlink(w->path) < 0 && errno != ENOENT)
		sq_sys_fail("unlink", w->path, errno, NULL);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

int sq_blob_begin(struct storage *s, struct storage_blob_writer **out,
		  struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	struct sq_writer *w = xcalloc(1, sizeof *w);

	*out = NULL;
	w->base.s = s;
	int n = snprintf(w->path, PATHBUF, "%s/blob-XXXXXX", ss->tmp_dir);
	w->fd = n < 0 || n >= PATHBUF ? (errno = ENAMETOOLONG, -1) : mkstemp(w->path);
	if (w->fd < 0) {
		sq_sys_fail("mkstemp", w->path, errno, err);
		w->path[0] = '\0';
		sq_writer_free(w);
		return -1;
	}
	if (fcntl(w->fd, F_SETFD, FD_CLOEXEC) < 0 || fchmod(w->fd, 0640) < 0 ||
	    flock(w->fd, LOCK_EX | LOCK_NB) < 0) {   /* held while this process lives */
		sq_sys_fail("chmod", w->path, errno, err);
		sq_writer_free(w);
		return -1;
	}
	*out = &w->base;
	return 0;
}

int sq_blob_write(struct storage_blob_writer *bw, const void *data, size_t len,
		  struct appr_error *err)
{
	struct sq_writer *w = (struct sq_writer *)bw;
	const unsigned char *p = data;

	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sq_sys_fail("write", w->path, errno, err);
		}
		if (n == 0)
			return sq_sys_fail("write", w->path, EIO, err);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void sq_blob_abort(struct storage_blob_writer *bw)
{
	sq_writer_free((struct sq_writer *)bw);
}

int sq_blob_lookup(struct storage *s, const char *ns, const char *name,
		   const char *digest, long long *size, char sha256[DIGEST_HEX_LEN + 1],
		   struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;

	if (sq_digest_ok(digest)) {
		sqlite3_stmt *st = sq_stmt_get(ss, S_BLOB_LOOKUP);
		sq_bind_text(ss, st, 1, ns);
		sq_bind_text(ss, st, 2, name);
		sq_bind_text(ss, st, 3, digest);
		int r = sq_step(ss, st, err);
		if (r == 1) {
			*size = sqlite3_column_int64(st, 0);
			sq_col_copy(sha256, DIGEST_HEX_LEN + 1, st, 1);
			sqlite3_reset(st);
			return 0;
		}
		if (r < 0)
			return -1;
	}
	return storage_err_blob_absent(err, ns, name, digest);
}

int sq_blob_open(struct storage *s, const char *digest,
		 struct storage_blob_reader **out, long long *size,
		 struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	char path[PATHBUF];
	struct stat sb;
	int fd;

	*out = NULL;
	if (sq_blob_file_path(ss, digest, path, false) < 0)
		return storage_err_blob_absent(err, NULL, NULL, NULL);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return storage_err_blob_absent(err, NULL, NULL, digest);
		return sq_sys_fail("open", path, errno, err);
	}
	if (fstat(fd, &sb) < 0) {
		sq_sys_fail("fstat", path, errno, err);
		close(fd);
		return -1;
	}
	struct sq_reader *r = xcalloc(1, sizeof *r);
	r->base.s = s;
	r->fd = fd;
	*size = sb.st_size;
	*out = &r->base;
	return 0;
}

int sq_blob_path(struct storage *s, const char *digest, char *out, size_t cap,
		 struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	char path[PATHBUF], cwd[PATHBUF];
	struct stat sb;
	int n;

	if (sq_blob_file_path(ss, digest, path, false) < 0)
		return storage_err_blob_absent(err, NULL, NULL, NULL);
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return storage_err_blob_absent(err, NULL, NULL, digest);
		return sq_sys_fail("stat", path, errno, err);
	}
	if (path[0] == '/')
		n = snprintf(out, cap, "%s", path);
	else if (getcwd(cwd, sizeof cwd))
		n = snprintf(out, cap, "%s/%s", cwd, path);
	else
		return sq_sys_fail("getcwd", path, errno, err);
	if (n < 0 || (size_t)n >= cap)
		return sq_sys_fail("blob path", path, ENAMETOOLONG, err);
	return 0;
}

long sq_blob_read(struct storage_blob_reader *br, void *buf, size_t len)
{
	struct sq_reader *r = (struct sq_reader *)br;
	ssize_t n;

	if (len > LONG_MAX)
		len = LONG_MAX;
	do
		n = read(r->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		sq_sys_fail("read", "blob", errno, NULL);
	return (long)n;
}

void sq_blob_close(struct storage_blob_reader *br)
{
	struct sq_reader *r = (struct sq_reader *)br;

	if (!r)
		return;
	close(r->fd);
	free(r);
}

int sq_writer_finish(struct sq_storage *ss, struct sq_writer *w, long long *size,
		     struct appr_error *err)
{
	struct stat sb;

	if (ss->base.cfg->fsync && fsync(w->fd) < 0)
		return sq_sys_fail("fsync", w->path, errno, err);
	if (fstat(w->fd, &sb) < 0)
		return sq_sys_fail("fstat", w->path, errno, err);
	*size = sb.st_size;
	return 0;
}

/* ---- upkeep ---- */

#define GC_BATCH 256                   /* blob files checked per write lock */

/* Under the write lock, remove those of the n blob files (digests) no manifest
 * references: a live push publishes and references its blob under that same lock,
 * so an unreferenced file seen there is debris. */
static int gc_batch(struct sq_storage *ss, char (*digests)[DIGEST_HEX_LEN + 1], size_t n,
		    bool dry, struct storage_gc_report *rep, struct appr_error *err)
{
	if (sq_tx_write(ss, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char final[PATHBUF];
		struct stat sb;
		int used = sq_digest_used(ss, digests[i], err);
		if (used < 0) {
			sq_tx_read_end(ss);
			return -1;
		}
		if (used || sq_blob_file_path(ss, digests[i], final, false) < 0 || stat(final, &sb) < 0)
			continue;
		found(rep, "unreferenced blob", final);
		if (dry || unlink(final) == 0) {
			if (!dry)
				fprintf(stderr, "appr: storage: gc removed unreferenced blob %s\n",
					final);
			rep->unreferenced_blobs++;
			rep->bytes_freed += sb.st_size;
		}
	}
	sq_tx_read_end(ss);
	return 0;
}

int sq_gc(struct storage *s, bool dry, struct storage_gc_report *rep,
	  struct appr_error *err)
{
	struct sq_storage *ss = (struct sq_storage *)s;
	char (*batch)[DIGEST_HEX_LEN + 1] = xmalloc(GC_BATCH * sizeof *batch);
	DIR *top = NULL;
	struct dirent *de;
	size_t n = 0;
	int rc = -1;

	rep->temp_files = rep->unreferenced_blobs = rep->blobs_restored = 0;
	rep->bytes_freed = 0;
	if (sq_sweep_debris(ss, dry, rep, err) < 0)
		goto out;
	top = opendir(ss->blob_dir);
	if (!top) {
		sq_sys_fail("opendir", ss->blob_dir, errno, err);
		goto out;
	}
	while ((de = readdir(top))) {
		char sub[PATHBUF];
		if (strlen(de->d_name) != 2 || !isxdigit((unsigned char)de->d_name[0]) ||
		    !isxdigit((unsigned char)de->d_name[1]))
			continue;
		int k = snprintf(sub, sizeof sub, "%s/%s", ss->blob_dir, de->d_name);
		DIR *d = k < 0 || k >= PATHBUF ? NULL : opendir(sub);
		struct dirent *fe;
		while (d && (fe = readdir(d))) {
			if (!sq_digest_ok(fe->d_name) || strncmp(fe->d_name, de->d_name, 2) != 0)
				continue;
			memcpy(batch[n++], fe->d_name, DIGEST_HEX_LEN + 1);
			if (n == GC_BATCH) {
				if (gc_batch(ss, batch, n, dry, rep, err) < 0) {
					closedir(d);
					goto out;
				}
				n = 0;
			}
		}
		if (d)
			closedir(d);
	}
	if (n > 0 && gc_batch(ss, batch, n, dry, rep, err) < 0)
		goto out;
	rc = 0;
out:
	if (top)
		closedir(top);
	free(batch);
	return rc;
}
