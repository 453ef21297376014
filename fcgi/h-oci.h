/* h-oci.h - what the OCI Distribution API's handlers (fcgi/h-oci*.c) share. */
#ifndef APPR_FCGI_H_OCI_H
#define APPR_FCGI_H_OCI_H

#include <stdbool.h>

#include "oci-store.h"
#include "request.h"
#include "response.h"

/* The OCI store (opened once per process on first use): 0, or -1 with req->err: 501
 * UNSUPPORTED with the etcd and redis stores, or the open's error. */
int h_oci_store(struct request *req, struct oci_store **out);

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

#endif
