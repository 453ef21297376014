/* pushbody.h - streaming reader of the push request body, a JSON object whose "blob"
 * member (base64, up to the body limit) is passed on in pieces as it arrives while
 * the other, small members are kept and parsed with json-c. */
#ifndef APPR_PUSHBODY_H
#define APPR_PUSHBODY_H

#include <stddef.h>
#include <json-c/json.h>

struct appr_error;

/* Called with consecutive pieces of the blob string's characters, JSON escapes
 * already resolved (clients may send "\/"; an escape that yields a non-ASCII or
 * control character is passed through and left for the base64 decoder to refuse).
 * Return 0 to go on, -1 (with err filled) to stop the whole read with that error. */
typedef int (*pushbody_blob_fn)(void *ctx, const char *data, size_t len,
				struct appr_error *err);

struct pushbody;

/* max_member: largest raw text of a non-blob member value (bytes); larger is a 413.
 * Whitespace, any member order, and a UTF-8 BOM are accepted. */
struct pushbody *pushbody_new(pushbody_blob_fn blob_fn, void *ctx, size_t max_member);

/* Feed the next len bytes of the body. Returns 0, or -1 with err filled (400
 * invalid-usage naming what is wrong: not JSON, not an object, "blob" not a
 * string, a member given twice, trailing data; 413 for an oversized member).
 * After a failure every further call fails. */
int pushbody_feed(struct pushbody *p, const char *data, size_t len, struct appr_error *err);

/* End of body: the object must be complete. Returns 0 or -1 with err filled. */
int pushbody_finish(struct pushbody *p, struct appr_error *err);

/* After a successful finish: the parsed value of top-level member key (not "blob"),
 * or NULL if absent. A JSON null gives NULL too; use pushbody_has() to tell.
 * Owned by p. */
struct json_object *pushbody_get(struct pushbody *p, const char *key);
int pushbody_has(const struct pushbody *p, const char *key);   /* 1 or 0; works for "blob" */

void pushbody_free(struct pushbody *p);   /* NULL is a no-op */

#endif
