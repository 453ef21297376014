/* fuzz-archive.c - libFuzzer target: an archive index (JSON lines) through
 * archive_index_parse. Whatever it is, the answer is an index, or an error with a
 * message; an index parsed is written again by archive_index_format, and that text
 * parses into an index written back identically: what import reads is what export
 * writes. Never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct archive_index ix, again;
	struct appr_error e = { 0 };
	struct strbuf one = { 0 }, two = { 0 };

	archive_index_init(&ix);
	if (archive_index_parse(&ix, (const char *)data, size, &e) < 0) {
		if (!e.http || !e.msg[0])
			abort();
		archive_index_free(&ix);
		return 0;
	}
	archive_index_format(&ix, &one);
	archive_index_init(&again);
	if (archive_index_parse(&again, one.buf ? one.buf : "", one.len, &e) < 0)
		abort();                  /* what format writes, parse must read */
	archive_index_format(&again, &two);
	if (one.len != two.len || (one.len && memcmp(one.buf, two.buf, one.len) != 0))
		abort();
	sb_free(&one);
	sb_free(&two);
	archive_index_free(&again);
	archive_index_free(&ix);
	return 0;
}
