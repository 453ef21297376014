/* ui-files.h - the files of a stored chart archive the browse pages show: its
 * Chart.yaml, README.md and values.yaml (those right under the archive's top folder),
 * read through the archive checks (targz.h) with bounds on every size. */
#ifndef APPR_UI_FILES_H
#define APPR_UI_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "storage.h"

/* One file found, or not. */
struct ui_file {
	const char *data;    /* its first bytes (NUL-terminated, in the arena), or NULL */
	size_t len;
	bool cut;            /* the file is longer than what data holds */
};

struct ui_chart_files {
	struct ui_file chart_yaml, readme, values;
};

/* Read the stored blob digest (a gzipped tar) and keep the first max_file bytes of
 * <top>/Chart.yaml, <top>/README.md (any case) and <top>/values.yaml. Reading stops
 * once all three were read whole, or at cfg's archive limits (max_uncompressed_size,
 * max_compression_ratio, max_tar_entries). Returns 0 (files not found are left NULL),
 * or -1 with err: 404 when the blob is absent, 400/413 when the archive is not a
 * valid one or passes a limit (what was read by then is kept in out), 500 when it
 * cannot be read. Everything in a. */
int ui_chart_files_read(struct storage *s, const struct appr_config *cfg, const char *digest,
			size_t max_file, struct arena *a, struct ui_chart_files *out,
			struct appr_error *err);

#endif
