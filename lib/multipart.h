/* multipart.h - a streaming, bounded reader of multipart/form-data bodies (RFC 7578)
 * that hands the bytes of one named field to a callback as they arrive: ChartMuseum's
 * upload form (field "chart") without keeping the chart in memory. */
#ifndef APPR_MULTIPART_H
#define APPR_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

struct appr_error;

#define MULTIPART_BOUNDARY_MAX 70         /* RFC 2046 */
#define MULTIPART_HEADERS_MAX 8192        /* one part's header block */

/* The boundary parameter of a Content-Type value "multipart/form-data; boundary=X"
 * (quoted or not) into out. Returns 0, or -1 when the type is not multipart/form-data
 * or the boundary is missing, empty, longer than MULTIPART_BOUNDARY_MAX or holds
 * characters RFC 2046 does not allow. */
int multipart_boundary(const char *content_type, char out[MULTIPART_BOUNDARY_MAX + 1]);

/* Called with the data of the part named field, in pieces; returns 0, or -1 with err
 * filled to stop the reading. */
typedef int (*multipart_data_fn)(void *ctx, const void *data, size_t len,
				 struct appr_error *err);

struct multipart;
/* A reader for a body with this boundary, passing the part named field to on_data.
 * Other parts are read and dropped. */
struct multipart *multipart_new(const char *boundary, const char *field,
				multipart_data_fn on_data, void *ctx);
/* The next len bytes of the body (any split). Returns 0, or -1 with err: 400
 * invalid-usage for a malformed body (a part's headers over MULTIPART_HEADERS_MAX or
 * without a form-data name, the field given twice), or on_data's error. */
int multipart_feed(struct multipart *m, const void *data, size_t len, struct appr_error *err);
/* End of the body: 0 when the closing delimiter was seen, else -1 with 400. */
int multipart_finish(struct multipart *m, struct appr_error *err);
/* Whether the field was present (possibly empty). */
bool multipart_found(const struct multipart *m);
void multipart_free(struct multipart *m);          /* NULL is a no-op */

#endif
