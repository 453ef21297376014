/* chart.h - Helm charts: a pushed archive read as Helm's loader reads it (one top
 * folder, <folder>/Chart.yaml parsed with libyaml, Helm's size limits, the metadata
 * rules), and the Chart.yaml fields a Helm repository index carries, kept as JSON. */
#ifndef APPR_CHART_H
#define APPR_CHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct appr_error;
struct targz;

/* Helm's own limits on a chart archive (its loader refuses more). */
#define CHART_MAX_FILE (5ULL << 20)       /* one file, uncompressed */
#define CHART_MAX_TOTAL (100ULL << 20)    /* the whole chart, uncompressed */
#define CHART_YAML_MAX (1U << 20)         /* Chart.yaml itself: kept in memory */

/* A valid chart's identity and index fields. Owned by the caller: chart_free. */
struct chart {
	char *name;          /* Chart.yaml name */
	char *version;       /* Chart.yaml version: a full semver */
	char *json;          /* the Chart.yaml fields Helm's index has (name, version,
			      * appVersion, apiVersion, description, type, keywords, home,
			      * sources, icon, maintainers, dependencies, deprecated,
			      * annotations, kubeVersion, condition, tags), typed as Helm
			      * types them, as one compact JSON object; nothing else */
};
void chart_free(struct chart *c);                /* NULL is a no-op */

/* Parse Chart.yaml text (len bytes) and check it as Helm's loader does: a mapping
 * with name (its own basename: no '/', not "." or ".."), version (a full semver, as a
 * registry release must be), apiVersion v1 or v2 (absent: v1, as Helm's loader reads
 * Helm 2 charts), type application or library when
 * given, maintainers with names, fields of the types Helm expects. Unknown keys are
 * ignored (Helm ignores them too), and left out of the JSON. Returns 0 and a new
 * chart in *out, or -1 with 422 invalid-chart saying what is wrong. */
int chart_parse(const char *yaml, size_t len, struct chart **out, struct appr_error *err);

/* Whether chart c (NULL: not a chart, why says why) is release `release` of package
 * `name` as a Helm repository serves it: a valid chart named name at version
 * release. True, or false with the reason in problem (one line, for people). */
#define CHART_PROBLEM_MAX 240
bool chart_is_release(const struct chart *c, const struct appr_error *why, const char *name,
		      const char *release, char problem[CHART_PROBLEM_MAX]);

/* A chart read from an archive as it streams through targz (see targz_set_watch).
 * It never fails the stream: an archive that is not a valid chart is still a valid
 * appr blob; chart_reader_finish says why it is not a chart. */
struct chart_reader;
struct chart_reader *chart_reader_new(void);
/* Watch t's entries (sets t's watch). */
void chart_reader_attach(struct chart_reader *r, struct targz *t);
/* After the archive ended: 0 and the chart in *out (caller frees), or -1 with 422
 * invalid-chart: entries outside one top folder, Chart.yaml missing or at the archive
 * root, a file above CHART_MAX_FILE or a chart above CHART_MAX_TOTAL, or what
 * chart_parse finds wrong. */
int chart_reader_finish(struct chart_reader *r, struct chart **out, struct appr_error *err);
void chart_reader_free(struct chart_reader *r);  /* NULL is a no-op */

#endif
