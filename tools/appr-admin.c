/* appr-admin.c - administration of users, grants and API tokens, a look at what the
 * Helm repositories leave out, checks, and moving a registry (export, import, copy,
 * backup, restore, import-appr), working on the configured store directly (same
 * configuration file and environment as appr-fcgi). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "auth.h"
#include "backup.h"
#include "config.h"
#include "digest.h"
#include "error.h"
#include "export.h"
#include "fsck.h"
#include "import.h"
#include "import-appr.h"
#include "helm.h"
#include "names.h"
#include "oci-dump.h"
#include "oci-store.h"
#include "oci-transfer.h"
#include "stats.h"
#include "storage.h"
#include "util.h"

#define MAX_PASSWORD 1024
#define MAX_EXPIRES_DAYS 36500

static const char usage[] =
	"usage: appr-admin COMMAND ...\n"
	"Manage the users, grants and API tokens of an appr-fcgi registry, on its store\n"
	"directly. The configuration is appr-fcgi's: APPR_CONFIG (file) and APPR_*\n"
	"variables (APPR_DATA_DIR, APPR_STORAGE, ...); see etc/appr.conf. Credentials are\n"
	"checked by the registry only with auth = tokens.\n"
	"\n"
	"  user add NAME --password-stdin     create a user; the password is the first line\n"
	"                                     of standard input\n"
	"  user passwd NAME --password-stdin  set a user's password\n"
	"  user del NAME                      delete a user, its grants and tokens\n"
	"  user list                          users and their grants\n"
	"  grant NAME NAMESPACE read|write|admin\n"
	"                                     set NAME's level on NAMESPACE (\"*\": every\n"
	"                                     namespace); write includes read, admin both\n"
	"  revoke NAME NAMESPACE              remove NAME's grant on NAMESPACE\n"
	"  token create --user NAME [--namespace NS] [--scope read|write|admin]\n"
	"               [--expires-days N]    a new API token (printed once, on standard\n"
	"                                     output; its id on standard error); default: all\n"
	"                                     of NAME's namespaces, scope admin, no expiry\n"
	"  token list                         tokens (id, user, namespace, scope, expiry)\n"
	"  token revoke ID                    delete a token\n"
	"  helm left-out NAMESPACE            the helm releases of NAMESPACE its chart\n"
	"                                     repository leaves out, and why (not a chart\n"
	"                                     Helm would load, or named otherwise)\n"
	"  gc                                 remove what no acknowledged write needs: temp\n"
	"                                     files of dead uploads, blobs no manifest\n"
	"                                     references (a push killed before it committed);\n"
	"                                     OCI: blob files no row names (older than an\n"
	"                                     hour), blobs no repository uses, upload\n"
	"                                     sessions idle for upload_ttl; safe while the\n"
	"                                     registry runs\n"
	"  stats [--json]                     namespaces, packages, releases, manifests,\n"
	"                                     blobs and bytes, in all and per namespace;\n"
	"                                     OCI repositories, manifests, tags, blobs, bytes\n"
	"  fsck [--repair]                    check every manifest's blob (present, size,\n"
	"                                     both digests), channels, OCI blobs, manifests\n"
	"                                     and tags, and debris; one line per problem,\n"
	"                                     exit 1 when there is any; --repair deletes\n"
	"                                     what cannot be served correctly and sweeps\n"
	"                                     debris\n"
	"  export FILE [--skip-oci]           write the whole store (packages, releases,\n"
	"                                     channels, users, grants, tokens, blobs, OCI\n"
	"                                     repositories) to the archive FILE (\"-\":\n"
	"                                     standard output); --skip-oci leaves an etcd\n"
	"                                     or redis store's OCI content out\n"
	"  import FILE [--skip-oci]           load an archive into the store: verified\n"
	"                                     whole first; what the store holds already is\n"
	"                                     skipped, what differs is a conflict (exit 1);\n"
	"                                     --skip-oci leaves the OCI content out\n"
	"  copy --to-config FILE | --to-storage filesystem|etcd|redis\n"
	"       [--to-data-dir DIR] [--to-etcd-endpoints URLS] [--to-redis-url URL]\n"
	"       [--to-key-prefix P] [--skip-oci]\n"
	"                                     import the store into another, without an\n"
	"                                     archive in between\n"
	"  backup FILE                        a consistent backup of the filesystem (SQLite)\n"
	"                                     store while it serves: its database, every\n"
	"                                     blob it references and every OCI blob (on etcd\n"
	"                                     and redis, export is the backup)\n"
	"  restore FILE DIR                   make the data directory DIR (absent or empty)\n"
	"                                     from a backup, and check it\n"
	"  import-appr DIR | --etcd ENDPOINTS | --redis URL [--prefix P]\n"
	"                                     import the store of the original appr server\n"
	"                                     (its filesystem directory, etcd or redis; P:\n"
	"                                     its APPR_KV_PREFIX, default appr/packages/):\n"
	"                                     each blob checked, what does not match its\n"
	"                                     manifest said and skipped (exit 1)\n"
	"  --help, --version; COMMAND --help  this text, or one command's\n"
	"\n"
	"Exit status 0 on success, 1 on any error or problem found (said on standard\n"
	"error); export, import, copy, backup, restore, import-appr: 2 on a usage\n"
	"error. Long commands show their progress when standard error is a terminal.\n";

/* A level a grant or token may have: read, write or admin. */
static int parse_level(const char *s, enum storage_level *out)
{
	if (auth_level_parse(s, out) < 0 || *out == STORAGE_LEVEL_NONE)
		return -1;
	return 0;
}

/* Print "appr-admin: message" and return 1 (the exit status). */
__attribute__((format(printf, 1, 2)))
static int fail(const char *fmt, ...)
{
	va_list ap;
	fputs("appr-admin: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int fail_err(const struct appr_error *err)
{
	return fail("%s", err->msg[0] ? err->msg : "failed");
}

static int check_user_name(const char *name)
{
	if (!names_valid_user(name))
		return fail("invalid user name \"%.64s\": [a-z0-9] then [a-z0-9._-], 1-64 characters",
			    name);
	return 0;
}

static int check_namespace(const char *ns)
{
	if (strcmp(ns, "*") != 0 && !names_valid_part(ns))
		return fail("invalid namespace \"%.64s\": [A-Za-z0-9._-], 1-64 "
			    "characters, or \"*\"", ns);
	return 0;
}

/* The password: the first line of standard input, without its line end. */
static int read_password(char *out, size_t cap)
{
	if (!fgets(out, (int)cap, stdin))
		return fail("no password on standard input");
	size_t n = strcspn(out, "\r\n");
	if (out[n] == '\0' && n == cap - 1 && !feof(stdin))
		return fail("password longer than %d bytes", MAX_PASSWORD - 1);
	out[n] = '\0';
	if (n == 0)
		return fail("empty password");
	return 0;
}

static int cmd_user_put(struct storage *s, int argc, char **argv, bool create)
{
	char password[MAX_PASSWORD], hash[AUTH_HASH_MAX];
	struct appr_error err = { 0 };
	int rc = 1;
	if (argc != 2 || strcmp(argv[1], "--password-stdin") != 0)
		return fail("usage: appr-admin user %s NAME --password-stdin",
			    create ? "add" : "passwd");
	if (check_user_name(argv[0]))
		return 1;
	if (read_password(password, sizeof password))
		goto out;
	if (auth_password_hash(password, 0, hash) < 0) {
		fail("cannot hash the password (libgcrypt)");
		goto out;
	}
	if (storage_user_put(s, argv[0], hash, create, &err) < 0) {
		fail_err(&err);
		goto out;
	}
	rc = 0;
out:
	memset(password, 0, sizeof password);
	return rc;
}

static int cmd_user_del(struct storage *s, int argc, char **argv)
{
	struct appr_error err = { 0 };
	if (argc != 1)
		return fail("usage: appr-admin user del NAME");
	if (check_user_name(argv[0]))
		return 1;
	if (storage_user_delete(s, argv[0], &err) < 0)
		return fail_err(&err);
	return 0;
}

static int cmd_user_list(struct storage *s, int argc, struct arena *a)
{
	struct appr_error err = { 0 };
	struct storage_user *u;
	struct storage_grant *g;
	size_t nu, ng;
	if (argc != 0)
		return fail("usage: appr-admin user list");
	if (storage_user_list(s, a, &u, &nu, &err) < 0 ||
	    storage_grant_list(s, NULL, a, &g, &ng, &err) < 0)
		return fail_err(&err);
	for (size_t i = 0; i < nu; i++) {
		printf("%s\t%s\t", u[i].name, u[i].created_at);
		bool any = false;
		for (size_t k = 0; k < ng; k++)
			if (strcmp(g[k].user, u[i].name) == 0) {
				printf("%s%s:%s", any ? "," : "", g[k].namespace, auth_level_name(g[k].level));
				any = true;
			}
		printf("%s\n", any ? "" : "-");
	}
	return 0;
}

static int cmd_grant(struct storage *s, int argc, char **argv, bool revoke)
{
	struct appr_error err = { 0 };
	enum storage_level level = STORAGE_LEVEL_NONE;
	if (revoke ? argc != 2 : argc != 3)
		return revoke ? fail("usage: appr-admin revoke NAME NAMESPACE")
			      : fail("usage: appr-admin grant NAME NAMESPACE read|write|admin");
	if (check_user_name(argv[0]) || check_namespace(argv[1]))
		return 1;
	if (!revoke && parse_level(argv[2], &level) < 0)
		return fail("invalid level \"%.32s\": read, write or admin", argv[2]);
	if (storage_grant_set(s, argv[0], argv[1], level, &err) < 0)
		return fail_err(&err);
	return 0;
}

/* A non-negative decimal (or, with allow_negative, signed) number of at most max. */
static int parse_number(const char *opt, const char *v, long long max, bool allow_negative,
			long long *out)
{
	char *end;
	errno = 0;
	long long n = v ? strtoll(v, &end, 10) : 0;
	if (!v || !*v || *end || errno || n > max || (!allow_negative && n < 0) || n < -max)
		return fail("%s needs a number%s up to %lld", opt,
			    allow_negative ? "" : " from 0", max);
	*out = n;
	return 0;
}

static int cmd_token_create(struct storage *s, int argc, char **argv)
{
	struct appr_error err = { 0 };
	struct storage_token t = { .scope = STORAGE_LEVEL_ADMIN };
	char token[AUTH_TOKEN_LEN + 1], id[AUTH_TOKEN_ID_LEN + 1];
	long long n;
	for (int i = 0; i < argc; i++) {
		const char *opt = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return fail("%s needs a value", opt);
		i++;
		if (strcmp(opt, "--user") == 0) {
			if (check_user_name(v))
				return 1;
			t.user = v;
		} else if (strcmp(opt, "--namespace") == 0) {
			if (check_namespace(v))
				return 1;
			t.namespace = strcmp(v, "*") == 0 ? NULL : v;
		} else if (strcmp(opt, "--scope") == 0) {
			if (parse_level(v, &t.scope) < 0)
				return fail("invalid scope \"%.32s\": read, write or admin", v);
		} else if (strcmp(opt, "--expires-days") == 0) {
			if (parse_number(opt, v, MAX_EXPIRES_DAYS, false, &n))
				return 1;
			t.expires_at = n ? (long long)time(NULL) + n * 86400 : 0;
		} else if (strcmp(opt, "--expires-seconds") == 0) {
			/* not in --help: for tests (a negative value gives an expired token) */
			if (parse_number(opt, v, MAX_EXPIRES_DAYS * 86400LL, true, &n))
				return 1;
			t.expires_at = (long long)time(NULL) + n;
		} else {
			return fail("token create: unknown option %s (see --help)", opt);
		}
	}
	if (!t.user)
		return fail("usage: appr-admin token create --user NAME [--namespace NS] "
			    "[--scope read|write|admin] [--expires-days N]");
	if (auth_token_mint(s, &t, id, token, &err) < 0)
		return fail_err(&err);
	printf("%s\n", token);
	fprintf(stderr, "token %s for user %s (namespace %s, scope %s, %s)\n", id, t.user,
		t.namespace ? t.namespace : "*", auth_level_name(t.scope),
		t.expires_at ? "with an expiry" : "no expiry");
	memset(token, 0, sizeof token);
	return 0;
}

static void format_time(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!t || !gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "never");
}

static int cmd_token_list(struct storage *s, int argc, struct arena *a)
{
	struct appr_error err = { 0 };
	struct storage_token *t;
	size_t n;
	long long now = (long long)time(NULL);
	if (argc != 0)
		return fail("usage: appr-admin token list");
	if (storage_token_list(s, NULL, a, &t, &n, &err) < 0)
		return fail_err(&err);
	for (size_t i = 0; i < n; i++) {
		char exp[32];
		format_time(t[i].expires_at, exp);
		printf("%s\t%s\t%s\t%s\t%s%s\t%s\n", t[i].id, t[i].user,
		       t[i].namespace ? t[i].namespace : "*", auth_level_name(t[i].scope), exp,
		       t[i].expires_at && t[i].expires_at <= now ? " (expired)" : "",
		       t[i].created_at);
	}
	return 0;
}

static int cmd_token_revoke(struct storage *s, int argc, char **argv)
{
	struct appr_error err = { 0 };
	if (argc != 1)
		return fail("usage: appr-admin token revoke ID");
	if (strlen(argv[0]) != 16 || strspn(argv[0], "0123456789abcdef") != 16)
		return fail("invalid token id \"%.32s\": 16 hex characters (see token list)",
			    argv[0]);
	if (storage_token_revoke(s, argv[0], &err) < 0)
		return fail_err(&err);
	return 0;
}

/* helm left-out NAMESPACE: "name release: reason" lines. */
static int cmd_helm_left_out(struct storage *s, const struct appr_config *cfg, int argc,
			     char **argv, struct arena *a)
{
	struct appr_error err = { 0 };
	struct storage_chart *rows;
	size_t n;
	if (argc != 1)
		return fail("usage: appr-admin helm left-out NAMESPACE");
	if (!names_valid_part(argv[0]))
		return fail("invalid namespace \"%.64s\"", argv[0]);
	if (helm_left_out(s, cfg, argv[0], a, &rows, &n, &err) < 0)
		return fail_err(&err);
	for (size_t i = 0; i < n; i++)
		printf("%s/%s %s: %s\n", argv[0], rows[i].name, rows[i].release, rows[i].problem);
	return 0;
}

/* gc: one line on stderr per OCI thing removed. */
static void gc_oci_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "appr-admin: gc removed: %s\n", line);
}

/* gc: what was removed, one line; the store's own lines name each blob. */
static int cmd_gc(struct storage *s, int extra, const struct appr_config *cfg)
{
	struct appr_error err = { 0 };
	struct storage_gc_report r = { 0 };
	if (extra != 0)
		return fail("usage: appr-admin gc");
	if (!storage_has_gc(s))
		return fail("gc: the %s driver has no gc yet (what a killed push leaves there "
			    "is not swept)", cfg->storage);
	if (storage_gc(s, false, &r, &err) < 0)
		return fail_err(&err);
	printf("gc: removed %lu temp files and %lu unreferenced blobs (%lld bytes), "
	       "restored %lu blobs\n", r.temp_files, r.unreferenced_blobs, r.bytes_freed,
	       r.blobs_restored);
	if (storage_has_blob_files(s)) {
		struct oci_dump *d;
		struct oci_dump_sweep_report o = { .found = gc_oci_line };
		if (oci_dump_open(cfg->data_dir, &d, &err) < 0)
			return fail("gc: OCI: %s", err.msg);
		int rc = oci_dump_sweep(d, cfg->upload_ttl, false, &o, &err);
		oci_dump_close(d);
		if (rc < 0)
			return fail("gc: OCI: %s", err.msg);
		printf("gc: OCI: removed %lu unreferenced blob files, %lu unused blobs, %lu "
		       "stale upload sessions (%lld bytes)\n", o.files, o.rows, o.uploads, o.bytes);
	} else {
		struct oci_kv_gc_report o = { .found = gc_oci_line };
		struct oci_store *os;
		if (oci_kv_open_content(cfg, s, &os, &err) < 0 ||
		    (os && oci_kv_gc(os, &o, &err) < 0)) {
			oci_store_close(os);
			return fail("gc: OCI: %s", err.msg);
		}
		if (os)
			printf("gc: OCI: removed %lu unused blobs, %lu chunk sets and %lu manifest "
			       "bodies nothing names, %lu keys of dead manifest instances, %lu "
			       "empty repositories\n", o.blobs, o.chunk_sets, o.body_sets,
			       o.instance_keys, o.repos);
		oci_store_close(os);
	}
	return 0;
}

static void stats_json_count(const struct stats_count *c)
{
	printf("\"packages\":%lu,\"releases\":%lu,\"manifests\":%lu,\"blobs\":%lu,"
	       "\"bytes\":%lld", c->packages, c->releases, c->manifests, c->blobs, c->bytes);
}

/* An etcd or redis store's OCI content counted into st->oci (zeros when it has
 * none). 0 or -1. */
static int stats_kv_oci(struct storage *s, const struct appr_config *cfg, struct stats *st,
			struct appr_error *err)
{
	struct oci_store *os;
	if (oci_kv_open_content(cfg, s, &os, err) < 0)
		return -1;
	int rc = os ? oci_kv_stats(os, &st->oci, err) : 0;
	oci_store_close(os);
	return rc;
}

/* stats [--json]: a table (or one JSON object) on standard output. Namespace names
 * are names.h names: nothing in them needs escaping in JSON. */
static int cmd_stats(struct storage *s, const struct appr_config *cfg, int argc, char **argv)
{
	struct appr_error err = { 0 };
	struct stats st;
	bool json = argc == 1 && strcmp(argv[0], "--json") == 0;
	if (argc > 1 || (argc == 1 && !json))
		return fail("usage: appr-admin stats [--json]");
	if (stats_collect(s, &st, &err) < 0 ||
	    (storage_has_blob_files(s) && stats_collect_oci(cfg->data_dir, &st, &err) < 0) ||
	    (!storage_has_blob_files(s) && stats_kv_oci(s, cfg, &st, &err) < 0)) {
		stats_free(&st);
		return fail_err(&err);
	}
	if (json) {
		printf("{\"namespaces\":%zu,", st.n_ns);
		stats_json_count(&st.all);
		printf(",\"by_namespace\":{");
		for (size_t i = 0; i < st.n_ns; i++) {
			printf("%s\"%s\":{", i ? "," : "", st.ns[i].name);
			stats_json_count(&st.ns[i].c);
			putchar('}');
		}
		printf("},\"oci\":{\"repositories\":%lu,\"manifests\":%lu,\"tags\":%lu,"
		       "\"blobs\":%lu,\"bytes\":%lld}}\n", st.oci.repositories, st.oci.manifests,
		       st.oci.tags, st.oci.blobs, st.oci.bytes);
	} else {
		printf("%-32s %9s %9s %9s %9s %14s\n", "NAMESPACE", "PACKAGES", "RELEASES",
		       "MANIFESTS", "BLOBS", "BYTES");
		for (size_t i = 0; i < st.n_ns; i++) {
			const struct stats_count *c = &st.ns[i].c;
			printf("%-32s %9lu %9lu %9lu %9lu %14lld\n", st.ns[i].name, c->packages,
			       c->releases, c->manifests, c->blobs, c->bytes);
		}
		printf("%-32s %9lu %9lu %9lu %9lu %14lld\n", "(all: blobs once)", st.all.packages,
		       st.all.releases, st.all.manifests, st.all.blobs, st.all.bytes);
		printf("%zu namespaces\n", st.n_ns);
		if (st.oci.repositories || st.oci.blobs)
			printf("OCI: %lu repositories, %lu manifests, %lu tags, %lu blobs (%lld bytes)\n",
		       st.oci.repositories, st.oci.manifests, st.oci.tags, st.oci.blobs,
		       st.oci.bytes);
	}
	stats_free(&st);
	return 0;
}

static void fsck_line(void *ctx, const char *line)
{
	(void)ctx;
	printf("%s\n", line);
}

/* fsck [--repair]: one line per problem (and per repair) on standard output, a
 * summary on standard error; exit 1 when a problem was found. */
static int cmd_fsck(struct storage *s, const struct appr_config *cfg, int argc, char **argv)
{
	struct appr_error err = { 0 };
	struct fsck_report r;
	bool repair = argc == 1 && strcmp(argv[0], "--repair") == 0;
	if (argc > 1 || (argc == 1 && !repair))
		return fail("usage: appr-admin fsck [--repair]");
	if (fsck_run(s, cfg, repair, fsck_line, NULL, &r, &err) < 0)
		return fail_err(&err);
	fflush(stdout);
	fprintf(stderr, "fsck: %lu packages, %lu releases, %lu manifests, %lu channels: "
		"%lu problems%s", r.packages, r.releases, r.manifests, r.channels, r.problems,
		repair ? "" : "\n");
	if (repair)
		fprintf(stderr, ", %lu repaired\n", r.repaired);
	if (r.oci_checked)
		fprintf(stderr, "fsck: OCI: %lu blobs, %lu manifests, %lu tags checked\n",
			r.oci_blobs, r.oci_manifests, r.oci_tags);
	if (r.oci_unused)
		fprintf(stderr, "fsck: OCI: %lu blobs no repository uses any more (%s)\n",
			r.oci_unused, repair ? "removed" : "appr-admin gc removes them");
	if (!r.debris_checked)
		fprintf(stderr, "fsck: the %s driver cannot look for debris (unreferenced "
			"blobs, dead uploads) yet\n", cfg->storage);
	return (repair ? r.problems > r.repaired : r.problems > 0) ? 1 : 0;
}

/* ---- moving a registry: export, import, copy ---- */

/* Usage errors of the commands below: exit status 2. */
__attribute__((format(printf, 1, 2)))
static int usage_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("appr-admin: usage: appr-admin ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

/* Progress on standard error when it is a terminal: done/total, rate, time left. */
struct progress {
	bool on;
	double start, last;
};

static double now_s(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void progress_init(struct progress *p)
{
	p->on = isatty(STDERR_FILENO) == 1;
	p->start = now_s();
	p->last = 0;
}

static void progress_show(void *ctx, const char *phase, unsigned long done,
			  unsigned long total, long long bytes)
{
	struct progress *p = ctx;
	double t = now_s();
	if (!p->on || (done < total && t - p->last < 0.25))
		return;
	if (done <= 1)
		p->start = t;
	p->last = t;
	double el = t - p->start > 1e-3 ? t - p->start : 1e-3;
	double rate = (double)done / el, left = rate > 0 ? (double)(total - done) / rate : 0;
	fprintf(stderr, "\r%s: %lu/%lu, %.0f/s, %.1f MB/s, %lds left   ", phase, done, total,
		rate, (double)bytes / el / 1e6, (long)left);
	if (done >= total)
		fputc('\n', stderr);
}

static void say_line(void *ctx, const char *line)
{
	(void)ctx;
	printf("%s\n", line);
}

/* The OCI content of store s (configured by cfg), to read: the filesystem store's
 * into *d (skip then applies where it is written: oci_skipped), an etcd or redis
 * store's (when it holds some) into *os unless skip leaves it out (said). 0, or 1
 * after saying why it failed. */
static int open_oci(struct storage *s, const struct appr_config *cfg, const char *cmd,
		    bool skip, struct oci_dump **d, struct oci_store **os)
{
	struct appr_error err = { 0 };
	*d = NULL;
	*os = NULL;
	if (storage_has_blob_files(s)) {
		if (oci_dump_open(cfg->data_dir, d, &err) < 0)
			return fail("%s: the OCI store: %s", cmd, err.msg);
		return 0;
	}
	if (skip) {
		bool has;
		if (oci_kv_has_content(s, &has, &err) < 0)
			return fail("%s: the OCI content: %s", cmd, err.msg);
		if (has)
			fprintf(stderr, "%s: skipped the OCI content of the %s store\n", cmd,
				s->ops->name);
		return 0;
	}
	if (oci_kv_open_content(cfg, s, os, &err) < 0)
		return fail("%s: the OCI store: %s", cmd, err.msg);
	return 0;
}

/* Before anything is written: the OCI content of ix left out when skip says so
 * (said). */
static void oci_skipped(const char *cmd, const struct archive_index *ix, bool skip)
{
	if (!archive_has_oci(ix) || !skip)
		return;
	fprintf(stderr, "%s: skipped the OCI content: %zu OCI manifests, %zu OCI blobs, %zu "
		"OCI tags\n", cmd, ix->oci[OCI_DUMP_T_MANIFESTS].n, ix->oci[OCI_DUMP_T_BLOBS].n,
		ix->oci[OCI_DUMP_T_TAGS].n);
}

/* After the appr content: the OCI content of ix loaded into store dst (configured by
 * cfg), blobs read from src: the filesystem store's rows and files written
 * directly (oci-dump.h), an etcd or redis store's through its OCI operations
 * (oci-transfer.h); its summary said. 0, 1 with conflicts, -1 (said) when it
 * failed. */
static int oci_import(const char *cmd, struct storage *dst, const struct appr_config *cfg,
		      const struct archive_index *ix, struct blob_source *src)
{
	struct appr_error err = { 0 };
	struct oci_dump_load_report r;
	struct oci_dump *d = NULL;
	struct oci_store *os = NULL;
	int rc;
	if (!archive_has_oci(ix))
		return 0;
	if (storage_has_blob_files(dst) ? oci_dump_open(cfg->data_dir, &d, &err) < 0
					: oci_store_open(cfg, dst, &os, &err) < 0) {
		fail("%s: the OCI store: %s", cmd, err.msg);
		return -1;
	}
	if (d)
		rc = oci_dump_load(d, ix, src, say_line, NULL, &r, &err);
	else
		rc = oci_store_load(os, ix, src, say_line, NULL, &r, &err);
	oci_dump_close(d);
	oci_store_close(os);
	fflush(stdout);
	if (rc < 0) {
		fail("%s: OCI: %s (run it again to complete it)", cmd, err.msg);
		return -1;
	}
	fprintf(stderr, "%s: OCI: %lu manifests written (%lu present), %lu tags, %lu blob "
		"links, %lu blobs written (%lld bytes, %lu present); %lu conflicts\n", cmd,
		r.rows_written[OCI_DUMP_T_MANIFESTS], r.rows_present[OCI_DUMP_T_MANIFESTS],
		r.rows_written[OCI_DUMP_T_TAGS], r.rows_written[OCI_DUMP_T_LINKS],
		r.rows_written[OCI_DUMP_T_BLOBS], r.bytes, r.rows_present[OCI_DUMP_T_BLOBS], r.conflicts);
	return r.conflicts ? 1 : 0;
}

/* export FILE: the archive written to FILE.tmp-PID, renamed over FILE when whole. */
static int cmd_export(struct storage *s, const struct appr_config *cfg, int argc, char **argv)
{
	struct appr_error err = { 0 };
	struct archive_index ix;
	struct progress pr;
	struct oci_dump *oci = NULL;
	struct oci_store *os = NULL;
	struct export_store_source src;
	char tmp[4096];
	FILE *f;
	int rc = 1;
	bool skip = argc == 2 && strcmp(argv[1], "--skip-oci") == 0;
	if (argc == 2 && strcmp(argv[0], "--skip-oci") == 0) {
		skip = true;
		argv[0] = argv[1];
	}
	if ((argc != 1 && !skip) || !argv[0][0] || strcmp(argv[0], "--skip-oci") == 0)
		return usage_fail("export FILE [--skip-oci]");
	if (open_oci(s, cfg, "export", skip, &oci, &os))
		return 1;
	bool to_stdout = strcmp(argv[0], "-") == 0;
	if (!to_stdout && snprintf(tmp, sizeof tmp, "%s.tmp-%ld", argv[0], (long)getpid()) >=
	    (int)sizeof tmp)
		return fail("export: file name too long");
	f = to_stdout ? stdout : fopen(tmp, "wbx");
	if (!f) {
		oci_dump_close(oci);
		oci_store_close(os);
		return fail("export: cannot create %s: %s", tmp, strerror(errno));
	}
	progress_init(&pr);
	archive_index_init(&ix);
	export_store_source_init(&src, s, oci, os);
	if (export_collect(&src, &ix, &err) < 0 ||
	    export_write(&src, &ix, f, (long long)time(NULL), progress_show, &pr, &err) < 0) {
		fail_err(&err);
		goto out;
	}
	if (!to_stdout) {
		if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
			fail("export: writing %s: %s", tmp, strerror(errno));
			goto out;
		}
		if (fclose(f) != 0) {
			f = NULL;
			fail("export: writing %s: %s", tmp, strerror(errno));
			goto out;
		}
		f = NULL;
		if (rename(tmp, argv[0]) < 0) {
			fail("export: cannot rename %s to %s: %s", tmp, argv[0], strerror(errno));
			goto out;
		}
	}
	long long bytes = 0;
	for (size_t i = 0; i < ix.n_blobs; i++)
		bytes += ix.blobs[i].size;
	fprintf(stderr, "export: %zu packages, %zu manifests, %zu channels, %zu users, "
		"%zu grants, %zu tokens, %zu blobs (%lld bytes)\n", ix.n_packages,
		ix.n_manifests, ix.n_channels, ix.n_users, ix.n_grants, ix.n_tokens, ix.n_blobs,
		bytes);
	if (archive_has_oci(&ix)) {
		bytes = 0;
		for (size_t i = 0; i < ix.n_oci_blobs; i++)
			bytes += ix.oci_blobs[i].size;
		fprintf(stderr, "export: OCI: %zu manifests, %zu tags, %zu blob links, %zu "
			"blobs (%lld bytes)\n", ix.oci[OCI_DUMP_T_MANIFESTS].n, ix.oci[OCI_DUMP_T_TAGS].n,
			ix.oci[OCI_DUMP_T_LINKS].n, ix.n_oci_blobs, bytes);
	}
	rc = 0;
out:
	if (f && !to_stdout) {
		fclose(f);
		unlink(tmp);
	}
	archive_index_free(&ix);
	oci_dump_close(oci);
	oci_store_close(os);
	return rc;
}

/* The summary of an import or copy on standard error; its exit status. */
static int import_summary(const char *cmd, const struct import_report *r)
{
	fflush(stdout);
	fprintf(stderr, "%s: %lu manifests written (%lld bytes), %lu already present, "
		"%lu channels, %lu users, %lu grants, %lu tokens written; %lu conflicts, "
		"%lu problems\n", cmd, r->manifests_written, r->bytes, r->manifests_present,
		r->channels_written, r->users_written, r->grants_written, r->tokens_written,
		r->conflicts, r->problems);
	return r->conflicts || r->problems ? 1 : 0;
}

/* import FILE [--skip-oci]: verified whole (nothing written when it is not sound),
 * then applied. */
static int cmd_import(struct storage *s, const struct appr_config *cfg, int argc, char **argv)
{
	struct appr_error err = { 0 };
	struct archive_index ix;
	struct import_file_source src;
	struct import_report rep;
	struct progress pr;
	int rc = 1;
	bool skip = argc == 2 && strcmp(argv[1], "--skip-oci") == 0;
	if (argc == 2 && strcmp(argv[0], "--skip-oci") == 0) {
		skip = true;
		argv++;
	}
	if ((argc != 1 && !skip) || argc > 2 || !argv[0][0] ||
	    (argc == 1 && strcmp(argv[0], "--skip-oci") == 0))
		return usage_fail("import FILE [--skip-oci]");
	FILE *f = fopen(argv[0], "rb");
	if (!f)
		return fail("import: cannot open %s: %s", argv[0], strerror(errno));
	progress_init(&pr);
	archive_index_init(&ix);
	if (import_verify(f, &ix, progress_show, &pr, &err) < 0) {
		fail("import: %s: %s; nothing was imported", argv[0], err.msg);
		goto out;
	}
	oci_skipped("import", &ix, skip);
	import_file_source_init(&src, f, &ix);
	if (import_apply(s, &ix, &src.base, say_line, NULL, progress_show, &pr, &rep, &err) < 0) {
		fail("import: %s (run the import again to complete it)", err.msg);
		goto out;
	}
	rc = import_summary("import", &rep);
	if (!skip) {
		int o = oci_import("import", s, cfg, &ix, &src.base);
		if (o)
			rc = 1;
	}
out:
	fclose(f);
	archive_index_free(&ix);
	return rc;
}

/* Forget the environment's configuration (APPR_*, STORAGE, ETCD_ENDPOINTS,
 * REDIS_URL), so that a second configuration is its file and options alone. */
static void clear_config_env(void)
{
	extern char **environ;
	char *names[256];
	size_t n = 0;
	for (char **e = environ; *e && n < 256; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		size_t len = (size_t)(eq - *e);
		if (strncmp(*e, "APPR_", 5) == 0 || (len == 7 && strncmp(*e, "STORAGE", 7) == 0) ||
		    (len == 14 && strncmp(*e, "ETCD_ENDPOINTS", 14) == 0) ||
		    (len == 9 && strncmp(*e, "REDIS_URL", 9) == 0))
			names[n++] = xstrndup(*e, len);
	}
	for (size_t i = 0; i < n; i++) {
		unsetenv(names[i]);
		free(names[i]);
	}
}

/* copy --to-... [--skip-oci]: the configured store (scfg) applied to another. */
static int cmd_copy(struct storage *s, const struct appr_config *scfg, int argc, char **argv)
{
	static const struct { const char *opt, *key; } opts[] = {
		{ "--to-storage", "storage" }, { "--to-data-dir", "data_dir" },
		{ "--to-etcd-endpoints", "etcd_endpoints" }, { "--to-redis-url", "redis_url" },
		{ "--to-key-prefix", "key_prefix" },
	};
	const char *file = NULL;
	struct appr_error err = { 0 };
	struct appr_config cfg;
	struct storage *dst = NULL;
	struct archive_index ix;
	struct export_store_source src;
	struct import_report rep;
	struct progress pr;
	struct oci_dump *oci = NULL;
	struct oci_store *os = NULL;
	bool any = false, skip = false;
	int rc = 1;

	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--skip-oci") == 0) {
			skip = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof *argv);
			argc--;
			break;
		}
	for (int i = 0; i < argc; i += 2) {
		bool known = strcmp(argv[i], "--to-config") == 0;
		for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
			known |= strcmp(argv[i], opts[k].opt) == 0;
		if (!known || i + 1 >= argc)
			return usage_fail("copy --to-config FILE | --to-storage filesystem|etcd|redis "
					  "[--to-data-dir DIR] [--to-etcd-endpoints URLS] "
					  "[--to-redis-url URL] [--to-key-prefix P] [--skip-oci]");
		if (strcmp(argv[i], "--to-config") == 0)
			file = argv[i + 1];
		any = true;
	}
	if (!any)
		return usage_fail("copy --to-config FILE | --to-storage NAME ... (see --help)");
	clear_config_env();
	if (config_load(file ? file : "/dev/null", &cfg, &err) < 0)
		return fail("copy: the destination's configuration: %s", err.msg);
	for (int i = 0; i < argc; i += 2)
		for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
			if (strcmp(argv[i], opts[k].opt) == 0 &&
			    config_set(&cfg, opts[k].key, argv[i + 1], &err) < 0) {
				config_free(&cfg);
				return fail("copy: %s: %s", argv[i], err.msg);
			}
	if (storage_open(&cfg, &dst, &err) < 0) {
		config_free(&cfg);
		return fail("copy: the destination store: %s", err.msg);
	}
	progress_init(&pr);
	archive_index_init(&ix);
	if (open_oci(s, scfg, "copy", skip, &oci, &os))
		goto out;
	export_store_source_init(&src, s, oci, os);
	if (export_collect(&src, &ix, &err) < 0) {
		fail("copy: reading the store: %s", err.msg);
		goto out;
	}
	if (import_apply(dst, &ix, &src.base, say_line, NULL, progress_show, &pr, &rep, &err) < 0) {
		fail("copy: %s (run the copy again to complete it)", err.msg);
		goto out;
	}
	rc = import_summary("copy", &rep);
	if (!skip && oci_import("copy", dst, &cfg, &ix, &src.base))
		rc = 1;
out:
	archive_index_free(&ix);
	oci_dump_close(oci);
	oci_store_close(os);
	storage_close(dst);
	config_free(&cfg);
	return rc;
}

/* backup FILE */
static int cmd_backup(struct storage *s, const struct appr_config *cfg, int argc, char **argv)
{
	struct appr_error err = { 0 };
	struct backup_report rep;
	struct progress pr;
	if (argc != 1 || !argv[0][0])
		return usage_fail("backup FILE");
	progress_init(&pr);
	if (backup_write(s, cfg, argv[0], progress_show, &pr, &rep, &err) < 0)
		return fail("backup: %s", err.msg);
	char oci[96] = "";
	if (rep.oci_blobs)
		snprintf(oci, sizeof oci, ", %lu OCI blobs (%lld bytes)", rep.oci_blobs,
			 rep.oci_bytes);
	fprintf(stderr, "backup: %lu manifests, %lu blobs (%lld bytes)%s to %s; snapshot "
		"%.3f s%s\n", rep.manifests, rep.blobs, rep.bytes, oci, argv[0], rep.snapshot_s,
		rep.tries > 1 ? " (taken again: blobs were deleted meanwhile)" : "");
	return 0;
}

/* restore FILE DIR (no store opened) */
static int cmd_restore(int argc, char **argv)
{
	struct appr_error err = { 0 };
	struct backup_report rep;
	struct progress pr;
	if (argc != 2 || !argv[0][0] || !argv[1][0])
		return usage_fail("restore FILE DIR");
	progress_init(&pr);
	if (backup_restore(argv[0], argv[1], progress_show, &pr, &rep, &err) < 0)
		return fail("restore: %s", err.msg);
	char oci[96] = "";
	if (rep.oci_blobs)
		snprintf(oci, sizeof oci, ", %lu OCI blobs (%lld bytes)", rep.oci_blobs,
			 rep.oci_bytes);
	fprintf(stderr, "restore: %lu manifests, %lu blobs (%lld bytes)%s in %s, checked\n",
		rep.manifests, rep.blobs, rep.bytes, oci, argv[1]);
	return 0;
}

/* import-appr DIR | --etcd ENDPOINTS | --redis URL [--prefix P]: the original appr
 * server's store read whole into an index (its blobs checked), then applied. */
static int cmd_import_appr(struct storage *s, const struct appr_config *cfg, int argc,
			   char **argv)
{
	struct import_appr_where w = { 0 };
	struct appr_error err = { 0 };
	struct import_appr *o = NULL;
	struct import_appr_report ar;
	struct import_report rep;
	struct archive_index ix;
	struct progress pr;
	int given = 0, rc = 1;

	for (int i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--etcd") == 0 && v && *v) {
			w.etcd = v, given++, i++;
		} else if (strcmp(argv[i], "--redis") == 0 && v && *v) {
			w.redis = v, given++, i++;
		} else if (strcmp(argv[i], "--prefix") == 0 && v) {
			w.prefix = v, i++;
		} else if (argv[i][0] != '-' && argv[i][0]) {
			w.dir = argv[i], given++;
		} else {
			given = -1;
			break;
		}
	}
	if (given != 1)
		return usage_fail("import-appr DIR | --etcd ENDPOINTS | --redis URL [--prefix P]");
	progress_init(&pr);
	archive_index_init(&ix);
	if (import_appr_open(&w, cfg, &o, &err) < 0) {
		fail("import-appr: %s", err.msg);
		goto out;
	}
	if (import_appr_collect(o, &ix, say_line, NULL, progress_show, &pr, &ar, &err) < 0) {
		fail("import-appr: %s; nothing was imported", err.msg);
		goto out;
	}
	fflush(stdout);
	fprintf(stderr, "import-appr: read %lu packages, %lu manifests, %lu channels, %lld "
		"blob bytes checked; %lu skipped\n", ar.packages, ar.manifests, ar.channels,
		ar.bytes, ar.skipped);
	if (import_apply(s, &ix, import_appr_blobs(o), say_line, NULL, progress_show, &pr, &rep,
			 &err) < 0) {
		fail("import-appr: %s (run it again to complete it)", err.msg);
		goto out;
	}
	rep.problems += ar.skipped;
	if (rep.manifests_written == 0 && rep.channels_written == 0)
		fprintf(stderr, "import-appr: nothing new to import\n");
	rc = import_summary("import-appr", &rep);
out:
	import_appr_close(o);
	archive_index_free(&ix);
	return rc;
}

/* COMMAND --help: the lines of the usage text about COMMAND. */
static int command_help(const char *group)
{
	const char *line = usage;
	bool in = false, any = false;
	size_t gl = strlen(group);
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > 2 && line[0] == ' ' && line[1] == ' ' && line[2] != ' ')
			in = strncmp(line + 2, group, gl) == 0 && (line[2 + gl] == ' ' ||
								   line[2 + gl] == '\n');
		else if (len == 0 || line[0] != ' ')
			in = false;
		if (in) {
			printf("%.*s\n", (int)len, line);
			any = true;
		}
		line += len + (nl ? 1 : 0);
	}
	if (!any)
		return fail("unknown command \"%.32s\" (see --help)", group);
	printf("\nSee appr-admin(8).\n");
	return 0;
}

/* Run the command argv[0] argv[1] ... on the open store. */
static int run(struct storage *s, const struct appr_config *cfg, int argc, char **argv,
	       struct arena *a)
{
	const char *group = argv[0], *sub = argc > 1 ? argv[1] : "";
	if (strcmp(group, "user") == 0) {
		if (strcmp(sub, "add") == 0)
			return cmd_user_put(s, argc - 2, argv + 2, true);
		if (strcmp(sub, "passwd") == 0)
			return cmd_user_put(s, argc - 2, argv + 2, false);
		if (strcmp(sub, "del") == 0)
			return cmd_user_del(s, argc - 2, argv + 2);
		if (strcmp(sub, "list") == 0)
			return cmd_user_list(s, argc - 2, a);
		return fail("user: unknown command \"%.32s\" (add, passwd, del, list)", sub);
	}
	if (strcmp(group, "grant") == 0)
		return cmd_grant(s, argc - 1, argv + 1, false);
	if (strcmp(group, "revoke") == 0)
		return cmd_grant(s, argc - 1, argv + 1, true);
	if (strcmp(group, "token") == 0) {
		if (strcmp(sub, "create") == 0)
			return cmd_token_create(s, argc - 2, argv + 2);
		if (strcmp(sub, "list") == 0)
			return cmd_token_list(s, argc - 2, a);
		if (strcmp(sub, "revoke") == 0)
			return cmd_token_revoke(s, argc - 2, argv + 2);
		return fail("token: unknown command \"%.32s\" (create, list, revoke)", sub);
	}
	if (strcmp(group, "gc") == 0)
		return cmd_gc(s, argc - 1, cfg);
	if (strcmp(group, "fsck") == 0)
		return cmd_fsck(s, cfg, argc - 1, argv + 1);
	if (strcmp(group, "stats") == 0)
		return cmd_stats(s, cfg, argc - 1, argv + 1);
	if (strcmp(group, "export") == 0)
		return cmd_export(s, cfg, argc - 1, argv + 1);
	if (strcmp(group, "import") == 0)
		return cmd_import(s, cfg, argc - 1, argv + 1);
	if (strcmp(group, "copy") == 0)
		return cmd_copy(s, cfg, argc - 1, argv + 1);
	if (strcmp(group, "backup") == 0)
		return cmd_backup(s, cfg, argc - 1, argv + 1);
	if (strcmp(group, "import-appr") == 0)
		return cmd_import_appr(s, cfg, argc - 1, argv + 1);
	if (strcmp(group, "helm") == 0) {
		if (strcmp(sub, "left-out") == 0)
			return cmd_helm_left_out(s, cfg, argc - 2, argv + 2, a);
		return fail("helm: unknown command \"%.32s\" (left-out)", sub);
	}
	return fail("unknown command \"%.32s\" (see --help)", group);
}

int main(int argc, char **argv)
{
	struct appr_config cfg;
	struct appr_error err = { 0 };
	struct storage *s = NULL;
	struct arena *a;
	int rc;

	if (argc < 2) {
		fputs(usage, stderr);
		return 1;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("appr-admin %s\n", PACKAGE_VERSION);
		return 0;
	}
	const char *g = argv[1];
	static const char *const commands[] = {
		"user", "grant", "revoke", "token", "helm", "gc", "fsck", "stats", "export",
		"import", "copy", "backup", "restore", "import-appr",
	};
	bool known = false;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		known |= strcmp(g, commands[i]) == 0;
	if (!known)
		return fail("unknown command \"%.32s\" (see --help)", g);
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0)
			return command_help(g);
	if (strcmp(g, "restore") == 0)
		return cmd_restore(argc - 2, argv + 2);

	digest_global_init();
	if (config_load(NULL, &cfg, &err) < 0)
		return fail_err(&err);
	if (storage_open(&cfg, &s, &err) < 0) {
		config_free(&cfg);
		return fail_err(&err);
	}
	a = arena_new();
	rc = run(s, &cfg, argc - 1, argv + 1, a);
	if (rc == 0 && strcmp(cfg.auth, "tokens") != 0 &&
	    (strcmp(g, "grant") == 0 || strcmp(g, "token") == 0 ||
	     (argc > 2 && strcmp(argv[2], "add") == 0)))
		fprintf(stderr, "appr-admin: note: auth = %s: the registry checks no credentials "
			"until auth = tokens (APPR_AUTH=tokens)\n", cfg.auth);
	arena_free(a);
	storage_close(s);
	config_free(&cfg);
	return rc;
}
