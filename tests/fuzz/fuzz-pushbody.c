/* fuzz-pushbody.c - libFuzzer target: the streaming push-body JSON reader on arbitrary
 * bytes, fed whole and in pieces whose size comes from the input: same verdict, same
 * blob characters, same members, errors only 400/413. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pushbody.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int collect(void *ctx, const char *d, size_t len, struct appr_error *err)
{
	(void)err;
	sb_append(ctx, d, len);
	return 0;
}

static int run(const char *in, size_t len, size_t piece, struct strbuf *blob, char **members,
	       struct appr_error *err)
{
	struct pushbody *p = pushbody_new(collect, blob, 4096);
	int rc = 0;
	for (size_t off = 0; off < len && rc == 0; off += piece)
		rc = pushbody_feed(p, in + off, len - off < piece ? len - off : piece, err);
	if (rc == 0)
		rc = pushbody_finish(p, err);
	*members = NULL;
	if (rc == 0) {
		static const char *const keys[] = { "release", "media_type", "metadata", "force" };
		struct strbuf sb = { 0 };
		for (size_t i = 0; i < 4; i++) {
			struct json_object *o = pushbody_get(p, keys[i]);
			sb_printf(&sb, "%s=%d:%s;", keys[i], pushbody_has(p, keys[i]),
				  o ? json_object_to_json_string(o) : "-");
		}
		sb_printf(&sb, "blob=%d", pushbody_has(p, "blob"));
		*members = sb.buf ? sb.buf : xstrdup("");
	}
	pushbody_free(p);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t piece = (size_t)data[0] % 13 + 1;
	const char *in = (const char *)data + 1;
	struct strbuf b1 = { 0 }, b2 = { 0 };
	char *m1, *m2;
	struct appr_error e1 = { 0 }, e2 = { 0 };
	int r1 = run(in, size - 1, size, &b1, &m1, &e1);
	int r2 = run(in, size - 1, piece, &b2, &m2, &e2);
	if (r1 != r2)
		abort();   /* splitting changed the verdict */
	if (r1 == 0 && (b1.len != b2.len || (b1.len && memcmp(b1.buf, b2.buf, b1.len) != 0) ||
			strcmp(m1, m2) != 0))
		abort();   /* ... or what was read */
	if (r1 < 0 && e1.http != 400 && e1.http != 413)
		abort();
	free(b1.buf);
	free(b2.buf);
	free(m1);
	free(m2);
	return 0;
}
