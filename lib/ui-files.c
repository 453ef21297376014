/* ui-files.c - Chart.yaml, README.md and values.yaml out of a stored chart archive. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "targz.h"
#include "ui-files.h"

#define READ_CHUNK 65536

struct reader {
	struct ui_chart_files *out;
	struct arena *a;
	size_t max;
	struct ui_file *cur;         /* the file whose data comes now, or NULL */
	size_t got;                  /* bytes of cur kept so far */
	char *buf;                   /* cur's bytes (max + 1) */
	int whole;                   /* files read to their end */
	bool done;                   /* all three read whole: stop */
};

/* End the file being read: keep what came of it. */
static void close_cur(struct reader *r)
{
	if (!r->cur)
		return;
	r->buf[r->got] = '\0';
	r->cur->data = r->buf;
	r->cur->len = r->got;
	if (!r->cur->cut)
		r->whole++;
	r->cur = NULL;
}

/* Which of the three files name is ("<top>/<file>", one folder deep), or NULL. */
static struct ui_file *wanted(struct reader *r, const char *name, size_t len)
{
	const char *slash = memchr(name, '/', len);
	if (!slash || slash == name)
		return NULL;
	const char *base = slash + 1;
	size_t blen = len - (size_t)(base - name);
	if (memchr(base, '/', blen))
		return NULL;
	struct ui_file *f = NULL;
	if (blen == 10 && memcmp(base, "Chart.yaml", 10) == 0)
		f = &r->out->chart_yaml;
	else if (blen == 9 && strncasecmp(base, "README.md", 9) == 0)
		f = &r->out->readme;
	else if (blen == 11 && memcmp(base, "values.yaml", 11) == 0)
		f = &r->out->values;
	return f && !f->data ? f : NULL;     /* the first of a name counts */
}

static int on_entry(void *ctx, const char *name, size_t len, char type, uint64_t size,
		    struct appr_error *err)
{
	struct reader *r = ctx;
	(void)err;
	close_cur(r);
	if (r->whole == 3) {
		r->done = true;
		return -1;               /* nothing more to read: stop here */
	}
	if (type != '0' && type != '\0')
		return 0;
	r->cur = wanted(r, name, len);
	if (r->cur) {
		r->got = 0;
		r->buf = arena_alloc(r->a, (size < r->max ? (size_t)size : r->max) + 1);
		r->cur->cut = size > r->max;
	}
	return 0;
}

static int on_data(void *ctx, const void *data, size_t len, struct appr_error *err)
{
	struct reader *r = ctx;
	(void)err;
	if (!r->cur)
		return 0;
	size_t room = r->max - r->got;
	if (len > room)
		len = room;
	/* the header's size bounds the buffer: no more than that is ever given */
	memcpy(r->buf + r->got, data, len);
	r->got += len;
	return 0;
}

int ui_chart_files_read(struct storage *s, const struct appr_config *cfg, const char *digest,
			size_t max_file, struct arena *a, struct ui_chart_files *out,
			struct appr_error *err)
{
	struct targz_limits lim = {
		.max_uncompressed = cfg->max_uncompressed_size,
		.max_ratio = cfg->max_compression_ratio,
		.max_entries = cfg->max_tar_entries,
	};
	struct reader r = { .out = out, .a = a, .max = max_file };
	struct targz_watch w = { .entry = on_entry, .data = on_data, .ctx = &r };
	struct storage_blob_reader *br = NULL;
	struct targz *tz = targz_new(&lim);
	char tar_digest[DIGEST_HEX_LEN + 1];
	unsigned char *buf = NULL;
	long long size;
	int rc = -1;

	memset(out, 0, sizeof *out);
	targz_set_watch(tz, &w);
	if (storage_blob_open(s, digest, &br, &size, err) < 0)
		goto out;
	buf = xmalloc(READ_CHUNK);
	for (;;) {
		long n = storage_blob_read(br, buf, READ_CHUNK);
		if (n < 0) {
			appr_err(err, 500, APPR_E_INTERNAL, "cannot read blob %.64s", digest);
			goto out;
		}
		if (n == 0)
			break;
		if (targz_feed(tz, buf, (size_t)n, err) < 0) {
			if (r.done)
				break;
			goto out;
		}
	}
	if (!r.done && targz_finish(tz, tar_digest, err) < 0)
		goto out;
	rc = 0;
out:
	close_cur(&r);
	if (rc == 0)
		memset(err, 0, sizeof *err);
	free(buf);
	storage_blob_close(br);
	targz_free(tz);
	return rc;
}
