/* handlers.h - every route handler, one file per resource family, plus the argument
 * helpers they share (fcgi/handlers.c).
 *
 * A handler fills resp and returns 0, or fills req->err and returns -1 (the router
 * renders it). Handlers never call libfcgi. */
#ifndef APPR_HANDLERS_H
#define APPR_HANDLERS_H

#include "request.h"
#include "response.h"

typedef int (*handler_fn)(struct request *req, struct response *resp);

/* h-version.c */
int h_version(struct request *req, struct response *resp);

/* h-packages.c */
int h_list(struct request *req, struct response *resp);
int h_search(struct request *req, struct response *resp);
int h_push(struct request *req, struct response *resp);
int h_show_package(struct request *req, struct response *resp);
int h_show_release(struct request *req, struct response *resp);
int h_show_manifest(struct request *req, struct response *resp);
int h_delete_manifest(struct request *req, struct response *resp);
int h_pull(struct request *req, struct response *resp);
int h_pull_json(struct request *req, struct response *resp);

/* h-blobs.c */
int h_blob(struct request *req, struct response *resp);
int h_blob_json(struct request *req, struct response *resp);

/* h-channels.c */
int h_channels_list(struct request *req, struct response *resp);
int h_channel_show(struct request *req, struct response *resp);
int h_channel_add(struct request *req, struct response *resp);
int h_channel_remove(struct request *req, struct response *resp);
int h_channel_delete(struct request *req, struct response *resp);

/* h-users.c: login, tokens and grants (auth = tokens) */
int h_login(struct request *req, struct response *resp);
int h_token_create(struct request *req, struct response *resp);
int h_grant_set(struct request *req, struct response *resp);
int h_grant_delete(struct request *req, struct response *resp);

/* h-helm.c: every namespace a Helm chart repository */
int h_helm_index(struct request *req, struct response *resp);
int h_helm_chart(struct request *req, struct response *resp);
/* args[0] as a namespace a repository may have (404 otherwise). */
int h_helm_namespace(struct request *req, const char **ns);
/* The helm manifest of ns that chart file "<name>-<version>.tgz" names, if this
 * reader may see it: 0, or -1 with 404 (or a storage error). */
int h_helm_find(struct request *req, const char *ns, const char *file,
		struct storage_manifest *m);

/* h-chartmuseum.c: ChartMuseum's API ({"error": ...} errors) */
int h_cm_health(struct request *req, struct response *resp);
int h_cm_info(struct request *req, struct response *resp);
int h_cm_upload(struct request *req, struct response *resp);
int h_cm_list(struct request *req, struct response *resp);
int h_cm_chart(struct request *req, struct response *resp);
int h_cm_version(struct request *req, struct response *resp);
int h_cm_delete(struct request *req, struct response *resp);

/* h-oci.c, h-oci-blobs.c, h-oci-manifests.c: the OCI Distribution API (/v2/) */
int h_oci_base(struct request *req, struct response *resp);
int h_oci_tags(struct request *req, struct response *resp);
int h_oci_catalog(struct request *req, struct response *resp);
int h_oci_blob_get(struct request *req, struct response *resp);
int h_oci_blob_delete(struct request *req, struct response *resp);
int h_oci_upload_start(struct request *req, struct response *resp);
int h_oci_upload_status(struct request *req, struct response *resp);
int h_oci_upload_patch(struct request *req, struct response *resp);
int h_oci_upload_finish(struct request *req, struct response *resp);
int h_oci_upload_cancel(struct request *req, struct response *resp);
int h_oci_manifest_get(struct request *req, struct response *resp);
int h_oci_manifest_put(struct request *req, struct response *resp);
int h_oci_manifest_delete(struct request *req, struct response *resp);
int h_oci_referrers(struct request *req, struct response *resp);
/* The error body of the OCI API from err: {"errors": [{"code", "message", "detail"}]}
 * (an error without an OCI code gets the one its HTTP status means). */
void h_oci_error(struct response *resp, const struct appr_error *err);

/* h-ui*.c: the browse pages (read-only HTML; their errors are HTML pages, h-ui.h) */
int h_ui_home(struct request *req, struct response *resp);
int h_ui_search(struct request *req, struct response *resp);
int h_ui_all(struct request *req, struct response *resp);
int h_ui_namespace(struct request *req, struct response *resp);
int h_ui_package(struct request *req, struct response *resp);
int h_ui_release(struct request *req, struct response *resp);
int h_ui_css(struct request *req, struct response *resp);

/* handlers.c: shared argument checks. Each returns 0 or -1 with req->err filled. */

/* s1 s2 s3 s4 concatenated in a (s2..s4 may be NULL: the list ends there), without
 * printf: for names and file names on the hot paths. */
char *h_concat(struct arena *a, const char *s1, const char *s2, const char *s3,
	       const char *s4);
/* args[0], args[1] as a valid namespace and name (400 invalid-usage otherwise);
 * sets req->package and the err details to "ns/name". */
int h_package_args(struct request *req, const char **ns, const char **name);

/* The after= cursor of a listing, "ns/name", split into *after_ns and *after_name
 * (both NULL when there is none): 0, or -1 with req->err 400 when it names no
 * package. */
int h_after_cursor(struct request *req, const char **after_ns, const char **after_name);
/* A channel name (400 otherwise). */
int h_channel_arg(struct request *req, const char *channel);
/* An exact release (a full semver, 422 invalid-release otherwise). */
int h_exact_release(struct request *req, const char *release);
/* Release selection (doc/protocol.md): exact version, "default", or a query. *out is the
 * release to look up (an exact version is passed through: storage says if absent). */
int h_select_release(struct request *req, const char *ns, const char *name,
		     const char *spec, const char **out);
/* After storage answered 404 for the exact release `release` of ns/name: the only
 * release equal to it but for build metadata (0.9.1 finds 0.9.1+build), as the
 * original server matched. Returns 1 with *out set and req->err cleared; 0 when there
 * is none (req->err untouched); -1 when storage fails (req->err filled). */
int h_release_retry(struct request *req, const char *ns, const char *name,
		    const char *release, const char **out);
/* Media type selection: "-" means the only media type of release; otherwise the
 * short form of spec. */
int h_select_media_type(struct request *req, const char *ns, const char *name,
			const char *release, const char *spec, const char **out);
/* Answer {"status": "ok"}-like objects: build with json-c, send 200. */
void h_ok(struct response *resp, struct json_object *o);

#endif
