/* helm.c - a namespace as a Helm chart repository: its valid chart versions, examined
 * at push (push.c) or, for releases pushed before charts were read, once here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "config.h"
#include "digest.h"
#include "helm.h"
#include "semver.h"
#include "targz.h"

#define READ_CHUNK 65536

/* Read the stored blob of row through the archive checks and a chart reader, and
 * record what was found (storage set_chart): row's blob_sha256, and its chart or
 * problem unless one was recorded before, are filled from it. */
static int examine(struct storage *s, const struct appr_config *cfg, const char *ns,
		   struct storage_chart *row, struct arena *a, struct appr_error *err)
{
	struct storage_blob_reader *r = NULL;
	struct targz_limits lim = {
		.max_uncompressed = cfg->max_uncompressed_size,
		.max_ratio = cfg->max_compression_ratio,
		.max_entries = cfg->max_tar_entries,
	};
	struct targz *tz = targz_new(&lim);
	struct chart_reader *cr = chart_reader_new();
	struct digest_ctx *d = digest_new();
	struct chart *c = NULL;
	struct appr_error why = { 0 };
	char tar_digest[DIGEST_HEX_LEN + 1], problem[CHART_PROBLEM_MAX];
	unsigned char *buf = NULL;
	long long size;
	int rc = -1;

	chart_reader_attach(cr, tz);
	if (storage_blob_open(s, row->digest, &r, &size, err) < 0)
		goto out;
	buf = xmalloc(READ_CHUNK);
	bool bad = false;
	for (;;) {
		long n = storage_blob_read(r, buf, READ_CHUNK);
		if (n < 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "cannot read blob %s", row->digest);
			goto out;
		}
		if (n == 0)
			break;
		digest_update(d, buf, (size_t)n);
		if (!bad && targz_feed(tz, buf, (size_t)n, &why) < 0)
			bad = true;
	}
	if (!bad && targz_finish(tz, tar_digest, &why) < 0)
		bad = true;
	if (!bad)
		chart_reader_finish(cr, &c, &why);
	digest_final_hex(d, row->blob_sha256);
	if (bad)
		snprintf(problem, sizeof problem, "not a valid Helm chart: %s", why.msg);
	else
		chart_is_release(c, &why, row->name, row->release, problem);
	if (row->chart || row->problem)
		;                       /* recorded before: only the SHA-256 was missing */
	else if (problem[0])
		row->problem = arena_strdup(a, problem);
	else
		row->chart = arena_strdup(a, c->json);
	if (storage_set_chart(s, ns, row->name, row->release, row->digest, row->chart,
			      row->problem, row->blob_sha256, err) < 0)
		goto out;
	rc = 0;
out:
	storage_blob_close(r);
	free(buf);
	chart_free(c);
	digest_free(d);
	chart_reader_free(cr);
	targz_free(tz);
	return rc;
}

/* list_charts with every row examined. */
static int examined_rows(struct storage *s, const struct appr_config *cfg, const char *ns,
			 bool include_private, struct arena *a, struct storage_chart **rows,
			 size_t *n, struct appr_error *err)
{
	if (storage_list_charts(s, ns, include_private, a, rows, n, err) < 0)
		return -1;
	for (size_t i = 0; i < *n; i++) {
		struct storage_chart *row = &(*rows)[i];
		bool unread = !row->chart && !row->problem;
		bool no_sha = row->chart && !row->blob_sha256[0];
		if ((unread || no_sha) && examine(s, cfg, ns, row, a, err) < 0)
			return -1;
	}
	return 0;
}

int helm_versions(struct storage *s, const struct appr_config *cfg, const char *ns,
		  bool include_private, struct arena *a, struct helm_version **out, size_t *n,
		  struct appr_error *err)
{
	struct storage_chart *rows;
	size_t nrows, k = 0;
	*out = NULL;
	*n = 0;
	if (examined_rows(s, cfg, ns, include_private, a, &rows, &nrows, err) < 0)
		return -1;
	struct helm_version *v = arena_alloc(a, (nrows ? nrows : 1) * sizeof *v);
	for (size_t i = 0; i < nrows; i++) {
		const struct storage_chart *row = &rows[i];
		if (!row->chart || !row->blob_sha256[0])
			continue;
		v[k].index.name = row->name;
		v[k].index.version = row->release;
		v[k].index.chart_json = row->chart;
		v[k].index.created_at = arena_strdup(a, row->created_at);
		v[k].index.digest = arena_strdup(a, row->blob_sha256);
		v[k].blob = arena_strdup(a, row->digest);
		v[k].size = row->size;
		k++;
	}
	*out = v;
	*n = k;
	return 0;
}

int helm_left_out(struct storage *s, const struct appr_config *cfg, const char *ns,
		  struct arena *a, struct storage_chart **out, size_t *n, struct appr_error *err)
{
	struct storage_chart *rows;
	size_t nrows, k = 0;
	if (examined_rows(s, cfg, ns, true, a, &rows, &nrows, err) < 0)
		return -1;
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].problem)
			rows[k++] = rows[i];
	*out = rows;
	*n = k;
	return 0;
}

const char *helm_file_name(struct arena *a, const char *name, const char *version)
{
	size_t nl = strlen(name), vl = strlen(version);
	char *f = arena_alloc(a, nl + vl + 6);
	memcpy(f, name, nl);
	f[nl] = '-';
	memcpy(f + nl + 1, version, vl);
	memcpy(f + nl + 1 + vl, ".tgz", 5);
	return f;
}

size_t helm_file_split(struct arena *a, const char *file, const char **names,
		       const char **versions, size_t max)
{
	size_t len = strlen(file), k = 0;
	struct semver v;
	if (len < 5 || strcmp(file + len - 4, ".tgz") != 0)
		return 0;
	len -= 4;
	for (size_t i = 1; i + 1 < len && k < max; i++) {
		if (file[i] != '-')
			continue;
		char *ver = arena_strndup(a, file + i + 1, len - i - 1);
		if (semver_parse(ver, &v) < 0)
			continue;
		names[k] = arena_strndup(a, file, i);
		versions[k] = ver;
		k++;
	}
	return k;
}
