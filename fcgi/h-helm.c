/* h-helm.c - every namespace a Helm chart repository: GET /helm/{ns}/index.yaml and
 * GET /helm/{ns}/charts/{name}-{version}.tgz. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "deliver.h"
#include "handlers.h"
#include "helm.h"
#include "helm-cache.h"
#include "names.h"

#define HELM_CONTEXT_PATH "/helm"     /* where the chart API lives (serverInfo) */
#define EPOCH "1970-01-01T00:00:00.000000"

int h_helm_namespace(struct request *req, const char **ns)
{
	*ns = req->args[0];
	if (!names_valid_part(*ns) || strlen(*ns) > req->app->cfg.max_name_length)
		return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND,
				"no chart repository \"%.64s\": not a namespace name", *ns);
	return 0;
}

/* GET /helm/{ns}/index.yaml */
int h_helm_index(struct request *req, struct response *resp)
{
	static bool cache_warned;        /* said once per process */
	const struct appr_config *cfg = &req->app->cfg;
	const char *ns;
	unsigned long long stamp;
	char changed_at[32], tag[96];
	struct helm_version *v;
	size_t n;
	if (h_helm_namespace(req, &ns) < 0)
		return -1;
	/* the stamp is read before the charts: an answer is never older than its tag */
	bool priv = access_can_read(req->who, ns);
	char view = priv ? 'r' : 'p';
	if (storage_namespace_stamp(req->app->store, ns, &stamp, changed_at, &req->err) < 0)
		return -1;
	/* the stamp counts the namespace's changes; with the time of the last one, a tag
	 * another store (a new one, a restored one) gives other content is unlikely */
	char when[32];
	size_t k = 0;
	for (const char *c = changed_at; *c && k < sizeof when - 1; c++)
		if (*c >= '0' && *c <= '9')
			when[k++] = *c;
	when[k] = '\0';
	snprintf(tag, sizeof tag, "helm-%llu-%s-%c", stamp, k ? when : "0", view);
	if (deliver_validated(req, resp, tag, "no-cache"))
		return 0;
	resp->status = 200;
	resp->content_type = "application/x-yaml";
	/* kept only for namespaces something was stored in: any name can be asked for */
	bool keep = stamp > 0;
	if (keep && helm_cache_get(cfg->data_dir, ns, view, tag, &resp->body))
		return 0;
	if (helm_versions(req->app->store, cfg, ns, priv, req->arena, &v, &n, &req->err) < 0)
		return -1;
	struct helm_index_entry *e = arena_alloc(req->arena, (n ? n : 1) * sizeof *e);
	for (size_t i = 0; i < n; i++)
		e[i] = v[i].index;
	/* generated is when the namespace last changed: the same stamp, the same bytes */
	helm_index_write(&resp->body, e, n, changed_at[0] ? changed_at : EPOCH,
			 HELM_CONTEXT_PATH);
	int fail = keep ? helm_cache_put(cfg->data_dir, ns, view, tag, resp->body.buf,
					 resp->body.len) : 0;
	if (fail && !cache_warned) {
		cache_warned = true;
		fprintf(stderr, "appr-fcgi: cannot keep rendered Helm indexes in %s/"
			HELM_CACHE_DIR ": %s (each index.yaml is rendered again)\n",
			cfg->data_dir, strerror(fail));
	}
	return 0;
}

int h_helm_find(struct request *req, const char *ns, const char *file,
		struct storage_manifest *m)
{
	const char *names[8], *versions[8];
	size_t k = helm_file_split(req->arena, file, names, versions, 8);
	for (size_t i = 0; i < k; i++) {
		struct appr_error e = { 0 };
		const char *vis;
		if (!names_valid_part(names[i]))
			continue;
		if (storage_get_manifest(req->app->store, ns, names[i], versions[i], "helm",
					 req->arena, m, &e) < 0) {
			if (e.http == 404)
				continue;
			req->err = e;
			return -1;
		}
		if (!access_can_read(req->who, ns) &&
		    (storage_package_visibility(req->app->store, ns, names[i], req->arena, &vis,
						&e) < 0 || strcmp(vis, "public") != 0))
			break;                         /* private: absent to this reader */
		return 0;
	}
	return appr_err(&req->err, 404, APPR_E_PACKAGE_NOT_FOUND,
			"no chart %.80s in repository %.64s", file, ns);
}

/* GET /helm/{ns}/charts/{name}-{version}.tgz */
int h_helm_chart(struct request *req, struct response *resp)
{
	const char *ns, *file = req->args[1];
	struct storage_manifest m;
	if (h_helm_namespace(req, &ns) < 0 || h_helm_find(req, ns, file, &m) < 0)
		return -1;
	/* a force push may replace a version: revalidate by ETag every time */
	struct delivery d = {
		.digest = m.digest, .size = m.size, .sha256 = m.blob_sha256, .filename = file,
		.content_type = "application/gzip", .immutable = false,
		.package = m.package, .release = m.release,   /* named in log lines only */
	};
	return deliver_blob(req, resp, &d);
}
