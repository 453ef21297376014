/* h-oci.h - what the OCI Distribution API's handlers (fcgi/h-oci*.c) share. */
#ifndef APPR_FCGI_H_OCI_H
#define APPR_FCGI_H_OCI_H

#include <stdbool.h>

#include "oci-helm.h"
#include "oci-store.h"
#include "request.h"
#include "storage.h"
#include "response.h"

/* The OCI store of the registry's storage (opened once per process on first use):
 * 0, or -1 with req->err (the open's error). */
int h_oci_store(struct request *req, struct oci_store **out);

/* A blob's bytes being read: an OCI store blob, or the appr blob of a chart's .tgz in
 * the Helm view. */
struct h_oci_src {
	struct oci_blob_reader *oci;
	struct storage_blob_reader *appr;
	long long skip;                  /* appr: bytes still to skip to the start */
};

/* Open blob hex of the OCI store (appr_digest NULL) or appr blob appr_digest, to read
 * from byte from on: 0, or -1 with req->err. */
int h_oci_src_open(struct request *req, struct oci_store *s, const char *hex,
		   const char *appr_digest, long long from, struct h_oci_src *src);
/* As oci_blob_read: a count, 0 at the end, -1 on an error (logged). */
long h_oci_src_read(struct h_oci_src *src, void *buf, size_t len);
void h_oci_src_close(struct h_oci_src *src);      /* a closed one: a no-op */

/* args[0]/args[1] as a repository name into *repo ("ns/name", in the arena): 0, or
 * -1 with 400 NAME_INVALID. */
int h_oci_repo(struct request *req, const char **repo);

/* Whether the caller may read repository ns/name: read on ns, or (anonymous reads
 * allowed, or a user) the appr package ns/name is not private. */
bool h_oci_may_read(struct request *req, const char *ns, const char *name);

/* A request header (CGI name, e.g. "HTTP_RANGE") or NULL. */
const char *h_oci_header(struct request *req, const char *cgi_name);

/* Add Docker-Content-Digest: sha256:<hex>. */
void h_oci_digest_header(struct response *resp, const char *hex);

/* ---- the Helm bridge (README "OCI"): appr helm releases as OCI artifacts ---- */

/* A chart release of the Helm view with the bytes of its config and manifest. */
struct h_oci_chart {
	struct oci_chart_release r;
	char tag[OCI_HELM_TAG_MAX + 1];
	const char *config;              /* oci_helm_config */
	size_t config_len;
	char config_hex[DIGEST_HEX_LEN + 1];
	const char *manifest;            /* oci_helm_manifest */
	size_t manifest_len;
	char manifest_hex[DIGEST_HEX_LEN + 1];
};

/* The Helm view of repo "ns/name": every chart release (version NULL) or that one,
 * lowest first, in the arena. 0 (*n may be 0), or -1 with req->err. */
int h_oci_charts(struct request *req, struct oci_store *s, const char *repo,
		 const char *version, struct h_oci_chart **out, size_t *n);

/* Delete stored manifest hex of repo, a Helm chart manifest (info: what it says),
 * and take its config and chart layer away from repo (their files go when nothing
 * else holds them). 0, or -1 with req->err. */
int h_oci_drop_chart(struct request *req, struct oci_store *s, const char *repo,
		     const char *hex, const struct oci_manifest_info *info);

/* Called before appr release ns/name release of media type mt is deleted: with mt
 * "helm", the stored OCI chart manifest tagged with the
 * release's tag in repository ns/name goes first (with its tag, config and layer).
 * Nothing to do is 0; -1 with req->err (then the release must stay). */
int h_oci_release_deleting(struct request *req, const char *ns, const char *name,
			   const char *release, const char *mt);

#endif
