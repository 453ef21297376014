/* push.c - the upload pipeline: bytes (or base64) -> targz checks + digests -> blob -> release. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "chart.h"
#include "config.h"
#include "digest.h"
#include "error.h"
#include "names.h"
#include "push.h"
#include "semver.h"
#include "storage.h"
#include "targz.h"
#include "util.h"

#define TEXT_CHUNK 65536             /* base64 characters decoded per step */

enum push_state {
	PUSH_FEEDING,                /* push_feed accepted */
	PUSH_ENDED,                  /* input ended, digests known; push_finish next */
	PUSH_DONE,                   /* the release is recorded */
	PUSH_FAILED,                 /* fail holds the first error; the blob is dropped */
};

struct push {
	struct storage *s;
	enum push_input in;
	enum push_state state;
	struct storage_blob_writer *w;   /* until put_release consumes it, or dropped */
	struct targz *tz;
	struct digest_ctx *tgz;          /* SHA-256 of the .tgz bytes */
	struct b64_decoder dec;
	unsigned char *out;              /* PUSH_BASE64: decoded bytes, (TEXT_CHUNK / 4 + 1) * 3 */
	long long size;                  /* .tgz bytes */
	char digest[DIGEST_HEX_LEN + 1];
	char tgz_sha256[DIGEST_HEX_LEN + 1];
	struct chart_reader *reader;     /* reads the archive as Helm's loader would */
	struct chart *chart;             /* PUSH_ENDED: the valid chart, or NULL and: */
	struct appr_error chart_err;     /*   why it is not one */
	struct appr_error fail;          /* PUSH_FAILED: repeated by every later call */
};

/* Enter PUSH_FAILED with err's error (already filled) and drop the blob. */
static int fail(struct push *p, const struct appr_error *err)
{
	p->state = PUSH_FAILED;
	p->fail.http = err->http ? err->http : 500;
	p->fail.code = err->code ? err->code : APPR_E_INTERNAL;
	snprintf(p->fail.msg, sizeof p->fail.msg, "%s", err->http ? err->msg : "push failed");
	storage_blob_abort(p->w);
	p->w = NULL;
	return -1;
}

/* Repeat the first failure, or refuse a call the state does not allow. */
static int refuse(const struct push *p, struct appr_error *err)
{
	if (p->state == PUSH_FAILED)
		return appr_err(err, p->fail.http, p->fail.code, "%s", p->fail.msg);
	return appr_err(err, 500, APPR_E_INTERNAL, "push: call out of order");
}

int push_begin(struct storage *s, const struct appr_config *cfg, enum push_input in,
	       struct push **out, struct appr_error *err)
{
	struct push *p = xcalloc(1, sizeof *p);
	*out = NULL;
	p->s = s;
	p->in = in;
	if (storage_blob_begin(s, &p->w, err) < 0) {
		free(p);
		return -1;
	}
	struct targz_limits lim = {
		.max_uncompressed = cfg->max_uncompressed_size,
		.max_ratio = cfg->max_compression_ratio,
		.max_entries = cfg->max_tar_entries,
	};
	p->tz = targz_new(&lim);
	p->reader = chart_reader_new();
	chart_reader_attach(p->reader, p->tz);
	p->tgz = digest_new();
	if (in == PUSH_BASE64) {
		b64_decoder_init(&p->dec);
		p->out = xmalloc((TEXT_CHUNK / 4 + 1) * 3);
	}
	*out = p;
	return 0;
}

/* The next n .tgz bytes: checked, hashed, written. */
static int take_tgz(struct push *p, const unsigned char *gz, size_t n, struct appr_error *err)
{
	if (n == 0)
		return 0;
	if (targz_feed(p->tz, gz, n, err) < 0 || storage_blob_write(p->w, gz, n, err) < 0)
		return -1;
	digest_update(p->tgz, gz, n);
	p->size += (long long)n;
	return 0;
}

static int take_text(struct push *p, const char *text, size_t len, struct appr_error *err)
{
	while (len > 0) {
		size_t take = len > TEXT_CHUNK ? TEXT_CHUNK : len;
		ssize_t n = b64_decode_update(&p->dec, text, take, p->out);
		if (n < 0)
			return appr_err(err, 400, APPR_E_INVALID_USAGE, "blob is not valid base64");
		if (take_tgz(p, p->out, (size_t)n, err) < 0)
			return -1;
		text += take;
		len -= take;
	}
	return 0;
}

int push_feed(struct push *p, const void *data, size_t len, struct appr_error *err)
{
	struct appr_error local = { 0 };
	if (!err)
		err = &local;
	if (p->state != PUSH_FEEDING)
		return refuse(p, err);
	int rc = p->in == PUSH_BASE64 ? take_text(p, data, len, err) : take_tgz(p, data, len, err);
	return rc < 0 ? fail(p, err) : 0;
}

int push_end_input(struct push *p, struct appr_error *err)
{
	struct appr_error local = { 0 };
	if (!err)
		err = &local;
	if (p->state == PUSH_ENDED)
		return 0;
	if (p->state != PUSH_FEEDING)
		return refuse(p, err);
	if (p->in == PUSH_BASE64) {
		ssize_t tail = b64_decode_final(&p->dec, p->out);
		if (tail < 0) {
			appr_err(err, 400, APPR_E_INVALID_USAGE, "blob is not valid base64");
			return fail(p, err);
		}
		if (take_tgz(p, p->out, (size_t)tail, err) < 0)
			return fail(p, err);
	}
	if (targz_finish(p->tz, p->digest, err) < 0)
		return fail(p, err);
	digest_final_hex(p->tgz, p->tgz_sha256);
	chart_reader_finish(p->reader, &p->chart, &p->chart_err);
	p->state = PUSH_ENDED;
	return 0;
}

int push_check_version(const char *release, struct appr_error *err)
{
	struct semver v;
	if (semver_parse(release, &v) < 0)
		return appr_err(err, 422, APPR_E_INVALID_RELEASE,
				"invalid release \"%.64s\": expected a semantic version like 1.2.3",
				release);
	appr_err_details(err, NULL, release, NULL);
	return 0;
}

int push_check_release(const struct push_release *meta, char mt[NAMES_MEDIA_TYPE_MAX + 1],
		       struct appr_error *err)
{
	char buf[NAMES_MEDIA_TYPE_MAX + 1];
	if (!mt)
		mt = buf;
	if (!meta->release)
		return appr_err(err, 400, APPR_E_INVALID_USAGE, "missing field \"release\"");
	if (push_check_version(meta->release, err) < 0)
		return -1;
	if (names_media_type(meta->media_type ? meta->media_type : "kpm", mt,
			     NAMES_MEDIA_TYPE_MAX + 1) < 0)
		return appr_err(err, 400, APPR_E_INVALID_USAGE, "invalid media type \"%.64s\"",
				meta->media_type);
	appr_err_details(err, NULL, NULL, mt);
	if (meta->visibility && strcmp(meta->visibility, "public") != 0 &&
	    strcmp(meta->visibility, "private") != 0)
		return appr_err(err, 400, APPR_E_INVALID_USAGE,
				"visibility must be \"public\" or \"private\"");
	return 0;
}

int push_finish(struct push *p, const struct push_release *meta, struct appr_error *err)
{
	struct appr_error local = { 0 };
	char mt[NAMES_MEDIA_TYPE_MAX + 1];
	if (!err)
		err = &local;
	if (p->state == PUSH_FEEDING && push_end_input(p, err) < 0)
		return -1;
	if (p->state != PUSH_ENDED)
		return refuse(p, err);
	if (push_check_release(meta, mt, err) < 0)
		return fail(p, err);

	struct storage_push sp = {
		.ns = meta->ns, .name = meta->name, .release = meta->release, .media_type = mt,
		.metadata = meta->metadata, .visibility = meta->visibility, .force = meta->force,
	};
	memcpy(sp.digest, p->digest, sizeof sp.digest);
	memcpy(sp.blob_sha256, p->tgz_sha256, sizeof sp.blob_sha256);
	char problem[CHART_PROBLEM_MAX];
	if (strcmp(mt, "helm") == 0) {
		/* a chart of the namespace's index when Helm would load it as this release;
		 * any helm blob is still an appr release, as it was */
		if (chart_is_release(p->chart, &p->chart_err, meta->name, meta->release, problem))
			sp.chart = p->chart->json;
		else
			sp.chart_problem = problem;
	}
	struct storage_blob_writer *w = p->w;
	p->w = NULL;                     /* put_release consumes it, committed or not */
	if (storage_put_release(p->s, &sp, w, err) < 0)
		return fail(p, err);
	p->state = PUSH_DONE;
	return 0;
}

const char *push_digest(const struct push *p)
{
	return p->state == PUSH_ENDED || p->state == PUSH_DONE ? p->digest : NULL;
}

const char *push_tgz_sha256(const struct push *p)
{
	return p->state == PUSH_ENDED || p->state == PUSH_DONE ? p->tgz_sha256 : NULL;
}

long long push_tgz_size(const struct push *p)
{
	return p->size;
}

const struct chart *push_chart(const struct push *p, struct appr_error *why)
{
	if (p->state != PUSH_ENDED && p->state != PUSH_DONE) {
		appr_err(why, 500, APPR_E_INTERNAL, "push: the archive has not ended");
		return NULL;
	}
	if (!p->chart && why)
		*why = p->chart_err;
	return p->chart;
}

void push_free(struct push *p)
{
	if (!p)
		return;
	storage_blob_abort(p->w);
	targz_free(p->tz);
	chart_reader_free(p->reader);
	chart_free(p->chart);
	digest_free(p->tgz);
	free(p->out);
	free(p);
}
