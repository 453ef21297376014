/* archive.c - the registry archive: its index (JSON lines) and its tar. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "archive.h"
#include "auth.h"
#include "b64.h"
#include "digest-map.h"
#include "names.h"
#include "oci.h"
#include "push.h"
#include "semver.h"
#include "targz.h"

#define TAR_BLOCK 512
#define TAR_MAX_SIZE 077777777777LL      /* 11 octal digits: 8 GiB - 1 */
#define INDEX_MAX (1LL << 31)            /* an index larger than this is refused */

/* ---- the in-memory index ---- */

void archive_index_init(struct archive_index *ix)
{
	memset(ix, 0, sizeof *ix);
	ix->a = arena_new();
	ix->blob_map = digest_map_new();
	ix->oci_blob_map = digest_map_new();
}

void archive_index_free(struct archive_index *ix)
{
	arena_free(ix->a);
	digest_map_free(ix->blob_map, NULL);
	free(ix->packages);
	free(ix->manifests);
	free(ix->channels);
	free(ix->users);
	free(ix->grants);
	free(ix->tokens);
	free(ix->blobs);
	digest_map_free(ix->oci_blob_map, NULL);
	for (size_t t = 0; t < OCI_DUMP_N_TABLES; t++)
		free(ix->oci[t].rows);
	free(ix->oci_blobs);
	memset(ix, 0, sizeof *ix);
}

/* Room for one more element of size bytes in *v (n used, *cap allocated); the new
 * element, zeroed. */
static void *grow(void *v, size_t *n, size_t *cap, size_t size)
{
	void **vp = v;
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*vp = xrealloc(*vp, *cap * size);
	}
	void *e = (char *)*vp + (*n)++ * size;
	memset(e, 0, size);
	return e;
}

struct archive_package *archive_add_package(struct archive_index *ix)
{ return grow(&ix->packages, &ix->n_packages, &ix->cap_packages, sizeof *ix->packages); }
struct archive_manifest *archive_add_manifest(struct archive_index *ix)
{ return grow(&ix->manifests, &ix->n_manifests, &ix->cap_manifests, sizeof *ix->manifests); }
struct archive_channel *archive_add_channel(struct archive_index *ix)
{ return grow(&ix->channels, &ix->n_channels, &ix->cap_channels, sizeof *ix->channels); }
struct storage_user *archive_add_user(struct archive_index *ix)
{ return grow(&ix->users, &ix->n_users, &ix->cap_users, sizeof *ix->users); }
struct storage_grant *archive_add_grant(struct archive_index *ix)
{ return grow(&ix->grants, &ix->n_grants, &ix->cap_grants, sizeof *ix->grants); }
struct storage_token *archive_add_token(struct archive_index *ix)
{ return grow(&ix->tokens, &ix->n_tokens, &ix->cap_tokens, sizeof *ix->tokens); }

struct archive_blob *archive_find_blob(const struct archive_index *ix, const char *digest)
{
	bool found;
	if (!names_valid_digest(digest))
		return NULL;
	void **slot = digest_map_slot(ix->blob_map, digest, &found);
	if (!*slot)                       /* new, or left empty by an earlier look-up */
		return NULL;
	return &ix->blobs[(uintptr_t)*slot - 1];
}

struct archive_blob *archive_add_blob(struct archive_index *ix, const char *digest,
				      long long size, const char *sha256)
{
	bool found;
	void **slot = digest_map_slot(ix->blob_map, digest, &found);
	struct archive_blob *b;
	if (*slot) {
		b = &ix->blobs[(uintptr_t)*slot - 1];
	} else {
		b = grow(&ix->blobs, &ix->n_blobs, &ix->cap_blobs, sizeof *ix->blobs);
		*slot = (void *)(uintptr_t)ix->n_blobs;
		snprintf(b->digest, sizeof b->digest, "%s", digest);
		b->size = size;
	}
	if (!b->sha256[0] && sha256 && sha256[0])
		snprintf(b->sha256, sizeof b->sha256, "%s", sha256);
	return b;
}

struct oci_dump_row *archive_add_oci_row(struct archive_index *ix, unsigned t)
{
	struct archive_oci_rows *r = &ix->oci[t];
	return grow(&r->rows, &r->n, &r->cap, sizeof *r->rows);
}

struct archive_oci_blob *archive_find_oci_blob(const struct archive_index *ix,
					       const char *digest)
{
	bool found;
	if (!names_valid_digest(digest))
		return NULL;
	void **slot = digest_map_slot(ix->oci_blob_map, digest, &found);
	return *slot ? &ix->oci_blobs[(uintptr_t)*slot - 1] : NULL;
}

struct archive_oci_blob *archive_add_oci_blob(struct archive_index *ix, const char *digest,
					      long long size)
{
	bool found;
	void **slot = digest_map_slot(ix->oci_blob_map, digest, &found);
	if (*slot)
		return NULL;
	struct archive_oci_blob *b = grow(&ix->oci_blobs, &ix->n_oci_blobs, &ix->cap_oci_blobs,
					  sizeof *ix->oci_blobs);
	*slot = (void *)(uintptr_t)ix->n_oci_blobs;
	snprintf(b->digest, sizeof b->digest, "%s", digest);
	b->size = size;
	return b;
}

bool archive_has_oci(const struct archive_index *ix)
{
	for (size_t t = 0; t < OCI_DUMP_N_TABLES; t++)
		if (ix->oci[t].n)
			return true;
	return false;
}

static int cmp_pkg(const void *x, const void *y)
{
	const struct archive_package *a = x, *b = y;
	int c = strcmp(a->ns, b->ns);
	return c ? c : strcmp(a->name, b->name);
}

void archive_link(struct archive_index *ix)
{
	if (ix->n_packages)
		qsort(ix->packages, ix->n_packages, sizeof *ix->packages, cmp_pkg);
	for (size_t i = 0; i < ix->n_manifests; i++) {
		struct archive_manifest *m = &ix->manifests[i];
		struct archive_package key = { .ns = m->ns, .name = m->name }, *p;
		p = ix->n_packages ? bsearch(&key, ix->packages, ix->n_packages,
						 sizeof *ix->packages, cmp_pkg) : NULL;
		m->visibility = p ? p->visibility : "public";
	}
}

/* ---- the index as JSON lines ---- */

static json_object *jstr_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void put_line(struct strbuf *out, json_object *o)
{
	sb_puts(out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	sb_putc(out, '\n');
	json_object_put(o);
}

static json_object *record(const char *type)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string(type));
	return o;
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, jstr_or_null(v));
}

/* One OCI row as a record of its table's type: each column under its name. */
static json_object *oci_record(const struct oci_dump_table *t,
			       const struct oci_dump_row *r)
{
	json_object *o = record(t->record);
	for (unsigned c = 0; c < t->n_cols; c++) {
		const struct oci_dump_col *col = &t->cols[c];
		json_object *v = NULL;
		if (!r->v[c]) {
			v = NULL;
		} else if (col->kind == OCI_DUMP_SIZE) {
			v = json_object_new_int64(strtoll(r->v[c], NULL, 10));
		} else if (col->kind == OCI_DUMP_BODY) {
			char *b = xmalloc(B64_ENCODED_LEN(r->len[c]) + 1);
			b64_encode(r->v[c], r->len[c], b);
			v = json_object_new_string(b);
			free(b);
		} else {
			v = json_object_new_string_len(r->v[c], (int)r->len[c]);
		}
		json_object_object_add(o, col->name, v);
	}
	return o;
}

void archive_index_format(const struct archive_index *ix, struct strbuf *out)
{
	bool oci = archive_has_oci(ix);
	json_object *o = record("appr-archive");
	json_object_object_add(o, "version", json_object_new_int(oci ? ARCHIVE_VERSION
								       : ARCHIVE_VERSION_APPR));
	json_object_object_add(o, "packages", json_object_new_int64((int64_t)ix->n_packages));
	json_object_object_add(o, "manifests", json_object_new_int64((int64_t)ix->n_manifests));
	json_object_object_add(o, "blobs", json_object_new_int64((int64_t)ix->n_blobs));
	if (oci) {
		json_object_object_add(o, "oci_blobs", json_object_new_int64(
					       (int64_t)ix->oci[OCI_DUMP_T_BLOBS].n));
		json_object_object_add(o, "oci_manifests", json_object_new_int64(
					       (int64_t)ix->oci[OCI_DUMP_T_MANIFESTS].n));
	}
	put_line(out, o);
	for (size_t i = 0; i < ix->n_packages; i++) {
		const struct archive_package *p = &ix->packages[i];
		o = record("package");
		add_str(o, "namespace", p->ns);
		add_str(o, "name", p->name);
		add_str(o, "visibility", p->visibility);
		put_line(out, o);
	}
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const struct archive_manifest *m = &ix->manifests[i];
		o = record("manifest");
		add_str(o, "namespace", m->ns);
		add_str(o, "name", m->name);
		add_str(o, "release", m->release);
		add_str(o, "media_type", m->media_type);
		add_str(o, "digest", m->digest);
		add_str(o, "blob_sha256", m->blob_sha256);
		json_object_object_add(o, "size", json_object_new_int64(m->size));
		add_str(o, "metadata", m->metadata);
		add_str(o, "created_at", m->created_at);
		put_line(out, o);
	}
	for (size_t i = 0; i < ix->n_channels; i++) {
		const struct archive_channel *c = &ix->channels[i];
		o = record("channel");
		add_str(o, "namespace", c->ns);
		add_str(o, "name", c->name);
		add_str(o, "channel", c->channel);
		add_str(o, "current", c->current);
		json_object *r = json_object_new_array();
		for (size_t k = 0; k < c->n_releases; k++)
			json_object_array_add(r, json_object_new_string(c->releases[k]));
		json_object_object_add(o, "releases", r);
		put_line(out, o);
	}
	for (size_t i = 0; i < ix->n_users; i++) {
		const struct storage_user *u = &ix->users[i];
		o = record("user");
		add_str(o, "name", u->name);
		add_str(o, "password_hash", u->password_hash);
		add_str(o, "created_at", u->created_at);
		put_line(out, o);
	}
	for (size_t i = 0; i < ix->n_grants; i++) {
		const struct storage_grant *g = &ix->grants[i];
		o = record("grant");
		add_str(o, "user", g->user);
		add_str(o, "namespace", g->namespace);
		add_str(o, "level", auth_level_name(g->level));
		put_line(out, o);
	}
	for (size_t i = 0; i < ix->n_tokens; i++) {
		const struct storage_token *t = &ix->tokens[i];
		o = record("token");
		add_str(o, "id", t->id);
		add_str(o, "user", t->user);
		add_str(o, "hash", t->hash);
		add_str(o, "namespace", t->namespace);
		add_str(o, "scope", auth_level_name(t->scope));
		json_object_object_add(o, "expires_at", json_object_new_int64(t->expires_at));
		add_str(o, "created_at", t->created_at);
		put_line(out, o);
	}
	for (size_t i = 0; i < ix->n_blobs; i++) {
		const struct archive_blob *b = &ix->blobs[i];
		o = record("blob");
		add_str(o, "digest", b->digest);
		add_str(o, "sha256", b->sha256);
		json_object_object_add(o, "size", json_object_new_int64(b->size));
		put_line(out, o);
	}
	for (size_t t = 0; t < OCI_DUMP_N_TABLES; t++)
		for (size_t i = 0; i < ix->oci[t].n; i++)
			put_line(out, oci_record(&oci_dump_tables[t], &ix->oci[t].rows[i]));
}

/* -- parsing -- */

struct parse {
	struct archive_index *ix;
	json_object *o;
	size_t line;
	struct appr_error *err;
};

__attribute__((format(printf, 2, 3)))
static int bad(struct parse *p, const char *fmt, ...)
{
	char msg[120];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return appr_err(p->err, 400, APPR_E_INVALID_USAGE, "index line %zu: %s", p->line, msg);
}

/* Field k as a string (NULL when null and nullable), copied into the arena. */
static int get_str(struct parse *p, const char *k, bool nullable, const char **out)
{
	json_object *v;
	if (!json_object_object_get_ex(p->o, k, &v))
		return bad(p, "no \"%s\"", k);
	if (!v && nullable) {
		*out = NULL;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return bad(p, "\"%s\" is not a string", k);
	*out = arena_strndup(p->ix->a, json_object_get_string(v),
			     (size_t)json_object_get_string_len(v));
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return bad(p, "\"%s\" holds a NUL", k);
	return 0;
}

static int get_int(struct parse *p, const char *k, long long min, long long *out)
{
	json_object *v;
	if (!json_object_object_get_ex(p->o, k, &v) || !json_object_is_type(v, json_type_int))
		return bad(p, "\"%s\" is not an integer", k);
	errno = 0;
	*out = json_object_get_int64(v);
	if (errno || *out < min)
		return bad(p, "\"%s\" out of range", k);
	return 0;
}

static int get_part(struct parse *p, const char *k, const char **out)
{
	if (get_str(p, k, false, out) < 0)
		return -1;
	if (!names_valid_part(*out))
		return bad(p, "invalid %s \"%.64s\"", k, *out);
	return 0;
}

static int get_release(struct parse *p, const char *k, const char **out)
{
	struct semver v;
	if (get_str(p, k, false, out) < 0)
		return -1;
	if (semver_parse(*out, &v) < 0)
		return bad(p, "\"%s\" \"%.64s\" is not a semantic version", k, *out);
	return 0;
}

static int get_digest(struct parse *p, const char *k, bool may_be_empty, char out[DIGEST_HEX_LEN + 1])
{
	const char *s;
	if (get_str(p, k, false, &s) < 0)
		return -1;
	if (!(may_be_empty && !*s) && !names_valid_digest(s))
		return bad(p, "\"%s\" is not 64 lowercase hex digits", k);
	snprintf(out, DIGEST_HEX_LEN + 1, "%s", s);
	return 0;
}

/* A time as util_utc_now writes it: YYYY-MM-DDTHH:MM:SS.ffffff (or without the
 * fraction, as some older stores kept it). */
static int get_time(struct parse *p, const char *k, char out[32])
{
	const char *s, *shape = "dddd-dd-ddTdd:dd:dd.dddddd";
	if (get_str(p, k, false, &s) < 0)
		return -1;
	size_t n = strlen(s);
	bool ok = n == 19 || n == 26;
	for (size_t i = 0; ok && i < n; i++)
		ok = shape[i] == 'd' ? s[i] >= '0' && s[i] <= '9' : s[i] == shape[i];
	if (!ok)
		return bad(p, "\"%s\" is not a time like 2024-01-31T12:00:00.000000", k);
	snprintf(out, 32, "%s", s);
	return 0;
}

static int get_level(struct parse *p, const char *k, enum storage_level *out)
{
	const char *s;
	if (get_str(p, k, false, &s) < 0)
		return -1;
	if (auth_level_parse(s, out) < 0 || *out == STORAGE_LEVEL_NONE)
		return bad(p, "\"%s\" is not read, write or admin", k);
	return 0;
}

static int parse_package(struct parse *p)
{
	struct archive_package *pk = archive_add_package(p->ix);
	if (get_part(p, "namespace", &pk->ns) < 0 || get_part(p, "name", &pk->name) < 0 ||
	    get_str(p, "visibility", false, &pk->visibility) < 0)
		return -1;
	if (strcmp(pk->visibility, "public") != 0 && strcmp(pk->visibility, "private") != 0)
		return bad(p, "visibility is neither public nor private");
	return 0;
}

static int parse_manifest(struct parse *p)
{
	struct archive_manifest *m = archive_add_manifest(p->ix);
	char mt[NAMES_MEDIA_TYPE_MAX + 1];
	long long size;
	if (get_part(p, "namespace", &m->ns) < 0 || get_part(p, "name", &m->name) < 0 ||
	    get_release(p, "release", &m->release) < 0 ||
	    get_str(p, "media_type", false, &m->media_type) < 0 ||
	    get_digest(p, "digest", false, m->digest) < 0 ||
	    get_digest(p, "blob_sha256", false, m->blob_sha256) < 0 ||
	    get_int(p, "size", 0, &size) < 0 ||
	    get_str(p, "metadata", true, &m->metadata) < 0 ||
	    get_time(p, "created_at", m->created_at) < 0)
		return -1;
	m->size = size;
	if (names_media_type(m->media_type, mt, sizeof mt) < 0 || strcmp(mt, m->media_type) != 0)
		return bad(p, "invalid media type \"%.64s\"", m->media_type);
	if (m->metadata) {
		json_object *j = json_tokener_parse(m->metadata);
		bool ok = j != NULL || strcmp(m->metadata, "null") == 0;
		json_object_put(j);
		if (!ok)
			return bad(p, "metadata is not JSON text");
	}
	return 0;
}

static int parse_channel(struct parse *p)
{
	struct archive_channel *c = archive_add_channel(p->ix);
	json_object *r;
	if (get_part(p, "namespace", &c->ns) < 0 || get_part(p, "name", &c->name) < 0 ||
	    get_str(p, "channel", false, &c->channel) < 0 ||
	    get_release(p, "current", &c->current) < 0)
		return -1;
	if (!names_valid_channel(c->channel))
		return bad(p, "invalid channel \"%.64s\"", c->channel);
	if (!json_object_object_get_ex(p->o, "releases", &r) ||
	    !json_object_is_type(r, json_type_array) || json_object_array_length(r) == 0)
		return bad(p, "\"releases\" is not a non-empty array");
	c->n_releases = json_object_array_length(r);
	c->releases = arena_alloc(p->ix->a, c->n_releases * sizeof *c->releases);
	bool has_current = false;
	for (size_t i = 0; i < c->n_releases; i++) {
		json_object *e = json_object_array_get_idx(r, i);
		struct semver v;
		if (!json_object_is_type(e, json_type_string) ||
		    semver_parse(json_object_get_string(e), &v) < 0)
			return bad(p, "a channel member is not a semantic version");
		c->releases[i] = arena_strdup(p->ix->a, json_object_get_string(e));
		has_current |= strcmp(c->releases[i], c->current) == 0;
	}
	if (!has_current)
		return bad(p, "current is not a member of the channel");
	return 0;
}

static int parse_user(struct parse *p)
{
	struct storage_user *u = archive_add_user(p->ix);
	if (get_str(p, "name", false, &u->name) < 0 ||
	    get_str(p, "password_hash", true, &u->password_hash) < 0 ||
	    get_time(p, "created_at", u->created_at) < 0)
		return -1;
	if (!names_valid_user(u->name))
		return bad(p, "invalid user name \"%.64s\"", u->name);
	return 0;
}

static int parse_grant(struct parse *p)
{
	struct storage_grant *g = archive_add_grant(p->ix);
	if (get_str(p, "user", false, &g->user) < 0 ||
	    get_str(p, "namespace", false, &g->namespace) < 0 || get_level(p, "level", &g->level) < 0)
		return -1;
	if (!names_valid_user(g->user))
		return bad(p, "invalid user name \"%.64s\"", g->user);
	if (strcmp(g->namespace, "*") != 0 && !names_valid_part(g->namespace))
		return bad(p, "invalid namespace \"%.64s\"", g->namespace);
	return 0;
}

static int parse_token(struct parse *p)
{
	struct storage_token *t = archive_add_token(p->ix);
	long long exp;
	if (get_str(p, "id", false, &t->id) < 0 || get_str(p, "user", false, &t->user) < 0 ||
	    get_digest(p, "hash", false, t->hash) < 0 ||
	    get_str(p, "namespace", true, &t->namespace) < 0 ||
	    get_level(p, "scope", &t->scope) < 0 || get_int(p, "expires_at", 0, &exp) < 0 ||
	    get_time(p, "created_at", t->created_at) < 0)
		return -1;
	t->expires_at = exp;
	if (strlen(t->id) != 16 || strspn(t->id, "0123456789abcdef") != 16)
		return bad(p, "a token id is 16 lowercase hex digits");
	if (!names_valid_user(t->user))
		return bad(p, "invalid user name \"%.64s\"", t->user);
	if (t->namespace && !names_valid_part(t->namespace))
		return bad(p, "invalid namespace \"%.64s\"", t->namespace);
	return 0;
}

static int parse_blob(struct parse *p)
{
	char digest[DIGEST_HEX_LEN + 1], sha[DIGEST_HEX_LEN + 1];
	long long size;
	if (get_digest(p, "digest", false, digest) < 0 || get_digest(p, "sha256", false, sha) < 0 ||
	    get_int(p, "size", 0, &size) < 0)
		return -1;
	if (archive_find_blob(p->ix, digest))
		return bad(p, "blob %s listed twice", digest);
	archive_add_blob(p->ix, digest, size, sha);
	return 0;
}

/* "ns/name", each an OCI path component. */
static bool valid_repo(const char *s)
{
	const char *slash = strchr(s, '/');
	char ns[128];
	if (!slash || (size_t)(slash - s) >= sizeof ns)
		return false;
	memcpy(ns, s, (size_t)(slash - s));
	ns[slash - s] = '\0';
	return oci_valid_component(ns) && oci_valid_component(slash + 1);
}

/* 1-1024 bytes, no control characters. */
static bool valid_text(const char *s, size_t n)
{
	if (n == 0 || n > 1024)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* A body: base64 in the index, bytes in the row. */
static int get_body(struct parse *p, const char *k, const char *s, size_t n,
		    struct oci_dump_row *r, unsigned c)
{
	struct b64_decoder dec;
	unsigned char *out = arena_alloc(p->ix->a, n / 4 * 3 + 6);
	b64_decoder_init(&dec);
	ssize_t a = b64_decode_update(&dec, s, n, out);
	ssize_t b = a < 0 ? -1 : b64_decode_final(&dec, out + a);
	if (a < 0 || b < 0)
		return bad(p, "\"%s\" is not base64", k);
	if (a + b == 0 || a + b > OCI_DUMP_BODY_MAX)
		return bad(p, "\"%s\" is empty or larger than 4 MiB", k);
	r->v[c] = (const char *)out;
	r->len[c] = (size_t)(a + b);
	return 0;
}

/* One row of OCI table t: every column of oci_dump_tables[t], checked by its kind. */
static int parse_oci(struct parse *p, unsigned t)
{
	const struct oci_dump_table *tb = &oci_dump_tables[t];
	struct oci_dump_row *r = archive_add_oci_row(p->ix, t);
	for (unsigned c = 0; c < tb->n_cols; c++) {
		const struct oci_dump_col *col = &tb->cols[c];
		json_object *v;
		char tbuf[32];
		if (!json_object_object_get_ex(p->o, col->name, &v))
			return bad(p, "no \"%s\"", col->name);
		if (!v) {
			if (col->kind != OCI_DUMP_DIGEST_NULL && col->kind != OCI_DUMP_TEXT_NULL)
				return bad(p, "\"%s\" is null", col->name);
			continue;
		}
		if (col->kind == OCI_DUMP_SIZE) {
			long long n;
			if (get_int(p, col->name, 0, &n) < 0)
				return -1;
			snprintf(tbuf, sizeof tbuf, "%lld", n);
			r->v[c] = arena_strdup(p->ix->a, tbuf);
			r->len[c] = strlen(tbuf);
			continue;
		}
		if (!json_object_is_type(v, json_type_string))
			return bad(p, "\"%s\" is not a string", col->name);
		const char *s = json_object_get_string(v);
		size_t n = (size_t)json_object_get_string_len(v);
		if (col->kind == OCI_DUMP_BODY) {
			if (get_body(p, col->name, s, n, r, c) < 0)
				return -1;
			continue;
		}
		if (strlen(s) != n)
			return bad(p, "\"%s\" holds a NUL", col->name);
		bool ok = false;
		switch (col->kind) {
		case OCI_DUMP_REPO:
			ok = valid_repo(s);
			break;
		case OCI_DUMP_DIGEST:
		case OCI_DUMP_DIGEST_NULL:
			ok = names_valid_digest(s);
			break;
		case OCI_DUMP_TAG:
			ok = oci_valid_tag(s);
			break;
		case OCI_DUMP_TEXT:
		case OCI_DUMP_TEXT_NULL:
			ok = valid_text(s, n);
			break;
		case OCI_DUMP_TIME:
			if (get_time(p, col->name, tbuf) < 0)
				return -1;
			ok = true;
			break;
		case OCI_DUMP_SIZE:
		case OCI_DUMP_BODY:
			break;
		}
		if (!ok)
			return bad(p, "invalid %s \"%.64s\"", col->name, s);
		r->v[c] = arena_strndup(p->ix->a, s, n);
		r->len[c] = n;
	}
	if (t == OCI_DUMP_T_BLOBS &&
	    !archive_add_oci_blob(p->ix, r->v[0], strtoll(r->v[1], NULL, 10)))
		return bad(p, "OCI blob %s listed twice", r->v[0]);
	return 0;
}

/* (repo, digest) of a manifest row, for sorting and looking up. */
static int cmp_oci_manifest(const void *x, const void *y)
{
	const struct oci_dump_row *a = *(const struct oci_dump_row *const *)x;
	const struct oci_dump_row *b = *(const struct oci_dump_row *const *)y;
	int c = strcmp(a->v[0], b->v[0]);
	return c ? c : strcmp(a->v[1], b->v[1]);
}

static bool oci_manifest_listed(const struct oci_dump_row **sorted, size_t n, const char *repo,
				const char *digest)
{
	struct oci_dump_row key = { .v = { repo, digest } };
	const struct oci_dump_row *kp = &key;
	return n && bsearch(&kp, sorted, n, sizeof *sorted, cmp_oci_manifest) != NULL;
}

/* The OCI rows hold together: each manifest's body has its digest and is listed once,
 * each link names a listed blob, each reference a manifest of the archive and a blob
 * or manifest it lists, each tag a manifest of its repository. */
static int oci_cross_check(struct archive_index *ix, struct appr_error *err)
{
	const struct archive_oci_rows *m = &ix->oci[OCI_DUMP_T_MANIFESTS];
	const struct oci_dump_row **sorted = xcalloc(m->n + 1, sizeof *sorted);
	char hex[DIGEST_HEX_LEN + 1];
	int rc = -1;

	for (size_t i = 0; i < m->n; i++) {
		const struct oci_dump_row *r = &m->rows[i];
		struct digest_ctx *d = digest_new();
		digest_update(d, r->v[5], r->len[5]);
		digest_final_hex(d, hex);
		digest_free(d);
		if (strcmp(hex, r->v[1]) != 0) {
			appr_err(err, 400, APPR_E_INVALID_USAGE, "index: OCI manifest %s of %s: "
				 "its body's SHA-256 is %s", r->v[1], r->v[0], hex);
			goto out;
		}
		sorted[i] = r;
	}
	if (m->n)
		qsort(sorted, m->n, sizeof *sorted, cmp_oci_manifest);
	for (size_t i = 1; i < m->n; i++)
		if (cmp_oci_manifest(&sorted[i - 1], &sorted[i]) == 0) {
			appr_err(err, 400, APPR_E_INVALID_USAGE, "index: OCI manifest %s of %s "
				 "listed twice", sorted[i]->v[1], sorted[i]->v[0]);
			goto out;
		}
	for (size_t i = 0; i < ix->oci[OCI_DUMP_T_LINKS].n; i++) {
		const struct oci_dump_row *r = &ix->oci[OCI_DUMP_T_LINKS].rows[i];
		if (!archive_find_oci_blob(ix, r->v[1])) {
			appr_err(err, 400, APPR_E_INVALID_USAGE, "index: %s links OCI blob %s, "
				 "which is not listed", r->v[0], r->v[1]);
			goto out;
		}
	}
	for (size_t i = 0; i < ix->oci[OCI_DUMP_T_REFS].n; i++) {
		const struct oci_dump_row *r = &ix->oci[OCI_DUMP_T_REFS].rows[i];
		if (!oci_manifest_listed(sorted, m->n, r->v[0], r->v[1]) ||
		    (!archive_find_oci_blob(ix, r->v[2]) &&
		     !oci_manifest_listed(sorted, m->n, r->v[0], r->v[2]))) {
			appr_err(err, 400, APPR_E_INVALID_USAGE, "index: a reference of %s from "
				 "%.16s... to %.16s...: not a manifest and a blob or manifest "
				 "listed", r->v[0], r->v[1], r->v[2]);
			goto out;
		}
	}
	for (size_t i = 0; i < ix->oci[OCI_DUMP_T_TAGS].n; i++) {
		const struct oci_dump_row *r = &ix->oci[OCI_DUMP_T_TAGS].rows[i];
		if (!oci_manifest_listed(sorted, m->n, r->v[0], r->v[2])) {
			appr_err(err, 400, APPR_E_INVALID_USAGE, "index: tag %s of %s names "
				 "manifest %.16s..., which is not listed", r->v[1], r->v[0], r->v[2]);
			goto out;
		}
	}
	rc = 0;
out:
	free(sorted);
	return rc;
}

/* After every line: each manifest's blob is listed with the manifest's size and
 * SHA-256, each channel names existing manifests' releases only when the package
 * has manifests here (a channel of a package the archive lacks is refused). */
static int cross_check(struct archive_index *ix, struct appr_error *err)
{
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const struct archive_manifest *m = &ix->manifests[i];
		const struct archive_blob *b = archive_find_blob(ix, m->digest);
		if (!b)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "index: %s/%s %s %s: "
					"its blob %s is not listed", m->ns, m->name, m->release,
					m->media_type, m->digest);
		if (b->size != m->size || strcmp(b->sha256, m->blob_sha256) != 0)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "index: %s/%s %s %s: "
					"size or blob_sha256 differ from blob %.16s...'s", m->ns,
					m->name, m->release, m->media_type, m->digest);
	}
	return 0;
}

int archive_index_parse(struct archive_index *ix, const char *text, size_t len,
			struct appr_error *err)
{
	struct parse p = { .ix = ix, .err = err };
	const char *end = text + len;
	bool header = false;
	long long want_blobs = -1, want_oci_blobs = 0, want_oci_manifests = 0, version = 0;
	int rc = -1;

	while (text < end) {
		const char *nl = memchr(text, '\n', (size_t)(end - text));
		size_t n = nl ? (size_t)(nl - text) : (size_t)(end - text);
		const char *type;
		p.line++;
		if (!nl)
			return bad(&p, "no line end (the index is cut short)");
		if (n == 0) {
			text = nl + 1;
			continue;
		}
		struct json_tokener *tok = json_tokener_new();
		p.o = json_tokener_parse_ex(tok, text, (int)n);
		bool whole = p.o && json_tokener_get_error(tok) == json_tokener_success &&
			     (size_t)json_tokener_get_parse_end(tok) == n;
		json_tokener_free(tok);
		if (!whole || !json_object_is_type(p.o, json_type_object)) {
			bad(&p, "not one JSON object");
			goto out;
		}
		if (get_str(&p, "type", false, &type) < 0)
			goto out;
		if (!header) {
			if (strcmp(type, "appr-archive") != 0) {
				bad(&p, "not an appr-fcgi archive (no appr-archive header)");
				goto out;
			}
			if (get_int(&p, "version", 0, &version) < 0)
				goto out;
			if (version != ARCHIVE_VERSION && version != ARCHIVE_VERSION_APPR) {
				bad(&p, "archive version %lld, this program reads versions %d "
				    "and %d", version, ARCHIVE_VERSION_APPR, ARCHIVE_VERSION);
				goto out;
			}
			if (get_int(&p, "blobs", 0, &want_blobs) < 0)
				goto out;
			if (version >= 2 && (get_int(&p, "oci_blobs", 0, &want_oci_blobs) < 0 ||
					     get_int(&p, "oci_manifests", 0, &want_oci_manifests) < 0))
				goto out;
			header = true;
		} else if (strcmp(type, "package") == 0) {
			if (parse_package(&p) < 0)
				goto out;
		} else if (strcmp(type, "manifest") == 0) {
			if (parse_manifest(&p) < 0)
				goto out;
		} else if (strcmp(type, "channel") == 0) {
			if (parse_channel(&p) < 0)
				goto out;
		} else if (strcmp(type, "user") == 0) {
			if (parse_user(&p) < 0)
				goto out;
		} else if (strcmp(type, "grant") == 0) {
			if (parse_grant(&p) < 0)
				goto out;
		} else if (strcmp(type, "token") == 0) {
			if (parse_token(&p) < 0)
				goto out;
		} else if (strcmp(type, "blob") == 0) {
			if (parse_blob(&p) < 0)
				goto out;
		} else {
			unsigned t = 0;
			while (t < OCI_DUMP_N_TABLES && strcmp(type, oci_dump_tables[t].record) != 0)
				t++;
			if (t == OCI_DUMP_N_TABLES) {
				bad(&p, "unknown record type \"%.32s\"", type);
				goto out;
			}
			if (version < 2) {
				bad(&p, "an OCI record in a version %lld archive", version);
				goto out;
			}
			if (parse_oci(&p, t) < 0)
				goto out;
		}
		json_object_put(p.o);
		p.o = NULL;
		text = nl + 1;
	}
	if (!header)
		return appr_err(err, 400, APPR_E_INVALID_USAGE, "the index is empty");
	if ((size_t)want_blobs != ix->n_blobs)
		return appr_err(err, 400, APPR_E_INVALID_USAGE, "the index lists %zu blobs, "
				"its header says %lld", ix->n_blobs, want_blobs);
	if ((size_t)want_oci_blobs != ix->oci[OCI_DUMP_T_BLOBS].n ||
	    (size_t)want_oci_manifests != ix->oci[OCI_DUMP_T_MANIFESTS].n)
		return appr_err(err, 400, APPR_E_INVALID_USAGE, "the index lists %zu OCI blobs "
				"and %zu OCI manifests, its header says %lld and %lld",
				ix->oci[OCI_DUMP_T_BLOBS].n, ix->oci[OCI_DUMP_T_MANIFESTS].n,
				want_oci_blobs, want_oci_manifests);
	archive_link(ix);
	rc = cross_check(ix, err);
	if (rc == 0)
		rc = oci_cross_check(ix, err);
out:
	json_object_put(p.o);
	return rc;
}

/* ---- tar ---- */

static int wfail(struct appr_error *err)
{
	return appr_err(err, 500, APPR_E_INTERNAL, "writing the archive: %s", strerror(errno));
}

static void octal(char *field, size_t width, unsigned long long v)
{
	/* width - 1 digits and a NUL (the value fits: checked by the callers) */
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%0*llo", (int)width - 1, v);
	if (n > 0 && (size_t)n == width - 1)
		memcpy(field, tmp, width);

}

int archive_tar_header(FILE *f, const char *name, long long size, long long mtime,
		       struct appr_error *err)
{
	unsigned char h[TAR_BLOCK] = { 0 };
	unsigned sum = 0;
	if (strlen(name) > 99)
		return appr_err(err, 500, APPR_E_INTERNAL, "tar member name too long: %s", name);
	if (size < 0 || size > TAR_MAX_SIZE)
		return appr_err(err, 500, APPR_E_INTERNAL, "%s: %lld bytes, a tar member holds "
				"at most 8 GiB - 1", name, size);
	memcpy(h, name, strlen(name));
	octal((char *)h + 100, 8, 0644);
	octal((char *)h + 108, 8, 0);
	octal((char *)h + 116, 8, 0);
	octal((char *)h + 124, 12, (unsigned long long)size);
	octal((char *)h + 136, 12, (unsigned long long)(mtime > 0 ? mtime : 0));
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	h[155] = ' ';
	return fwrite(h, 1, TAR_BLOCK, f) == TAR_BLOCK ? 0 : wfail(err);
}

int archive_tar_pad(FILE *f, long long size, struct appr_error *err)
{
	static const unsigned char zero[TAR_BLOCK];
	size_t pad = (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
	return fwrite(zero, 1, pad, f) == pad ? 0 : wfail(err);
}

int archive_tar_end(FILE *f, struct appr_error *err)
{
	static const unsigned char zero[2 * TAR_BLOCK];
	return fwrite(zero, 1, sizeof zero, f) == sizeof zero ? 0 : wfail(err);
}

static int rfail(struct appr_error *err, const char *what)
{
	return appr_err(err, 400, APPR_E_INVALID_USAGE, "not a valid archive: %s", what);
}

/* Parse an octal field; -1 when it is not one. */
static long long parse_octal(const unsigned char *field, size_t width)
{
	long long v = 0;
	size_t i = 0;
	while (i < width && field[i] == ' ')
		i++;
	if (i == width || field[i] < '0' || field[i] > '7')
		return -1;
	for (; i < width && field[i] >= '0' && field[i] <= '7'; i++) {
		if (v > (LLONG_MAX >> 3))
			return -1;
		v = v * 8 + (field[i] - '0');
	}
	for (; i < width; i++)
		if (field[i] != ' ' && field[i] != '\0')
			return -1;
	return v;
}

/* Read the next header: 1 with its name and size, 0 at the end, -1 on an error. */
static int read_header(FILE *f, char name[101], long long *size, struct appr_error *err)
{
	unsigned char h[TAR_BLOCK];
	unsigned sum = 0;
	size_t n = fread(h, 1, TAR_BLOCK, f);
	if (n != TAR_BLOCK)
		return rfail(err, ferror(f) ? strerror(errno) : "it is cut short (no end blocks)");
	bool zero = true;
	for (size_t i = 0; i < TAR_BLOCK && zero; i++)
		zero = h[i] == 0;
	if (zero)
		return 0;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	if (parse_octal(h + 148, 8) != (long long)sum)
		return rfail(err, "a tar header's checksum is wrong");
	if (h[156] != '0' && h[156] != '\0')
		return rfail(err, "a member that is not a regular file");
	memcpy(name, h, 100);
	name[100] = '\0';
	if (h[345] != '\0')
		return rfail(err, "a member name with a prefix");
	*size = parse_octal(h + 124, 12);
	if (*size < 0)
		return rfail(err, "a member size is not octal");
	return 1;
}

int archive_tar_next(FILE *f, char name[101], long long *size, struct appr_error *err)
{
	return read_header(f, name, size, err);
}

int archive_tar_skip_pad(FILE *f, long long size, struct appr_error *err)
{
	if (fseeko(f, (off_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK), SEEK_CUR) < 0)
		return rfail(err, strerror(errno));
	return 0;
}

static int skip(FILE *f, long long size, struct appr_error *err)
{
	long long padded = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
	if (fseeko(f, (off_t)padded, SEEK_CUR) < 0)
		return rfail(err, strerror(errno));
	return 0;
}

int archive_read(FILE *f, struct archive_index *ix, struct appr_error *err)
{
	char name[101];
	long long size;
	int r = read_header(f, name, &size, err);
	if (r <= 0)
		return r < 0 ? -1 : rfail(err, "it is empty");
	if (strcmp(name, ARCHIVE_INDEX_NAME) != 0)
		return rfail(err, "its first member is not " ARCHIVE_INDEX_NAME);
	if (size > INDEX_MAX)
		return rfail(err, "the index is larger than 2 GiB");
	char *text = xmalloc((size_t)size + 1);
	if (fread(text, 1, (size_t)size, f) != (size_t)size) {
		free(text);
		return rfail(err, "the index is cut short");
	}
	r = archive_index_parse(ix, text, (size_t)size, err);
	free(text);
	if (r < 0)
		return -1;
	if (fseeko(f, (off_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK), SEEK_CUR) < 0)
		return rfail(err, strerror(errno));
	for (;;) {
		r = read_header(f, name, &size, err);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		size_t ol = strlen(ARCHIVE_OCI_BLOB_DIR);
		if (strncmp(name, ARCHIVE_OCI_BLOB_DIR, ol) == 0) {
			struct archive_oci_blob *ob = archive_find_oci_blob(ix, name + ol);
			if (!ob)
				return appr_err(err, 400, APPR_E_INVALID_USAGE, "not a valid "
						"archive: member %.100s is no OCI blob the index "
						"lists", name);
			if (ob->present || ob->size != size)
				return appr_err(err, 400, APPR_E_INVALID_USAGE, "not a valid "
						"archive: OCI blob %s twice or of another size",
						ob->digest);
			ob->present = true;
			ob->offset = ftello(f);
			if (skip(f, size, err) < 0)
				return -1;
			continue;
		}
		size_t dl = strlen(ARCHIVE_BLOB_DIR);
		struct archive_blob *b = NULL;
		if (strncmp(name, ARCHIVE_BLOB_DIR, dl) == 0 && strlen(name) == dl + DIGEST_HEX_LEN + 4 &&
		    strcmp(name + dl + DIGEST_HEX_LEN, ".tgz") == 0) {
			char d[DIGEST_HEX_LEN + 1];
			memcpy(d, name + dl, DIGEST_HEX_LEN);
			d[DIGEST_HEX_LEN] = '\0';
			b = archive_find_blob(ix, d);
		}
		if (!b)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "not a valid archive: "
					"member %.100s is no blob the index lists", name);
		if (b->present)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "not a valid archive: "
					"blob %s twice", b->digest);
		if (b->size != size)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "not a valid archive: "
					"blob %s is %lld bytes, the index says %lld", b->digest,
					size, b->size);
		b->present = true;
		b->offset = ftello(f);
		if (skip(f, size, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < ix->n_blobs; i++)
		if (!ix->blobs[i].present)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "not a valid archive: "
					"blob %s is missing", ix->blobs[i].digest);
	for (size_t i = 0; i < ix->n_oci_blobs; i++)
		if (!ix->oci_blobs[i].present)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "not a valid archive: "
					"OCI blob %s is missing", ix->oci_blobs[i].digest);
	return 0;
}

/* ---- checking a blob ---- */

struct archive_check {
	struct targz *tz;
	struct digest_ctx *d;
	long long size;
};

struct archive_check *archive_check_new(void)
{
	struct targz_limits lim = { 0 };
	struct archive_check *c = xcalloc(1, sizeof *c);
	c->tz = targz_new(&lim);
	c->d = digest_new();
	return c;
}

struct targz *archive_check_targz(struct archive_check *c)
{
	return c->tz;
}

int archive_check_feed(struct archive_check *c, const void *data, size_t len,
		       struct appr_error *err)
{
	if (targz_feed(c->tz, data, len, err) < 0)
		return -1;
	digest_update(c->d, data, len);
	c->size += (long long)len;
	return 0;
}

int archive_check_finish(struct archive_check *c, char digest[DIGEST_HEX_LEN + 1],
			 char sha256[DIGEST_HEX_LEN + 1], long long *size, struct appr_error *err)
{
	if (targz_finish(c->tz, digest, err) < 0)
		return -1;
	digest_final_hex(c->d, sha256);
	*size = c->size;
	return 0;
}

void archive_check_free(struct archive_check *c)
{
	if (!c)
		return;
	targz_free(c->tz);
	digest_free(c->d);
	free(c);
}
