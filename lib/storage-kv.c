/* storage-kv.c - every storage operation on a kv client (kv.h). STUB: every operation
 * answers 501 until issue 3's implementation replaces this file. */
#include "storage-kv.h"

static int not_yet(struct appr_error *err)
{
	return appr_err(err, 501, APPR_E_UNSUPPORTED, "the etcd/redis drivers are being written");
}

int storage_kv_open(const struct appr_config *cfg, const struct kv_ops *ops,
		    struct storage **out, struct appr_error *err)
{
	(void)cfg;
	(void)ops;
	(void)out;
	return not_yet(err);
}

void storage_kv_close(struct storage *s)
{
	(void)s;
}

int storage_kv_blob_begin(struct storage *s, struct storage_blob_writer **out,
			  struct appr_error *err)
{
	(void)s;
	(void)out;
	return not_yet(err);
}

int storage_kv_blob_write(struct storage_blob_writer *w, const void *data, size_t len,
			  struct appr_error *err)
{
	(void)w;
	(void)data;
	(void)len;
	return not_yet(err);
}

void storage_kv_blob_abort(struct storage_blob_writer *w)
{
	(void)w;
}

int storage_kv_blob_lookup(struct storage *s, const char *ns, const char *name,
			   const char *digest, long long *size, struct appr_error *err)
{
	(void)s;
	(void)ns;
	(void)name;
	(void)digest;
	(void)size;
	return not_yet(err);
}

int storage_kv_blob_open(struct storage *s, const char *digest,
			 struct storage_blob_reader **out, long long *size,
			 struct appr_error *err)
{
	(void)s;
	(void)digest;
	(void)out;
	(void)size;
	return not_yet(err);
}

long storage_kv_blob_read(struct storage_blob_reader *r, void *buf, size_t len)
{
	(void)r;
	(void)buf;
	(void)len;
	return -1;
}

void storage_kv_blob_close(struct storage_blob_reader *r)
{
	(void)r;
}

int storage_kv_put_release(struct storage *s, const struct storage_push *p,
			   struct storage_blob_writer *w, struct appr_error *err)
{
	(void)s;
	(void)p;
	(void)w;
	return not_yet(err);
}

int storage_kv_list_releases(struct storage *s, const char *ns, const char *name,
			     struct arena *a, const char ***out, size_t *n,
			     struct appr_error *err)
{
	(void)s;
	(void)ns;
	(void)name;
	(void)a;
	(void)out;
	(void)n;
	return not_yet(err);
}

int storage_kv_get_manifests(struct storage *s, const char *ns, const char *name,
			     const char *release, const char *media_type, struct arena *a,
			     struct storage_manifest **out, size_t *n, struct appr_error *err)
{
	(void)s;
	(void)ns;
	(void)name;
	(void)release;
	(void)media_type;
	(void)a;
	(void)out;
	(void)n;
	return not_yet(err);
}

int storage_kv_get_manifest(struct storage *s, const char *ns, const char *name,
			    const char *release, const char *media_type, struct arena *a,
			    struct storage_manifest *out, struct appr_error *err)
{
	(void)s;
	(void)ns;
	(void)name;
	(void)release;
	(void)media_type;
	(void)a;
	(void)out;
	return not_yet(err);
}

int storage_kv_delete_manifest(struct storage *s, const char *ns, const char *name,
			       const char *release, const char *media_type,
			       struct appr_error *err)
{
	(void)s;
	(void)ns;
	(void)name;
	(void)release;
	(void)media_type;
	return not_yet(err);
}

int storage_kv_list_packages(struct storage *s, const struct storage_list_query *q,
			     struct arena *a, struct storage_package **out, size_t *n,
			     struct appr_error *err)
{
	(void)s;
	(void)q;
	(void)a;
	(void)out;
	(void)n;
	return not_yet(err);
}

int storage_kv_search(struct storage *s, const char *text, size_t limit, struct arena *a,
		      const char ***out, size_t *n, struct appr_error *err)
{
	(void)s;
	(void)text;
	(void)limit;
	(void)a;
	(void)out;
	(void)n;
	return not_yet(err);
}

int storage_kv_list_channels(struct storage *s, const char *ns, const char *name,
			     struct arena *a, struct storage_channel **out, size_t *n,
			     struct appr_error *err)
{
	(void)s;
	(void)ns;
	(void)name;
	(void)a;
	(void)out;
	(void)n;
	return not_yet(err);
}

int storage_kv_get_channel(struct storage *s, const char *ns, const char *name,
			   const char *channel, struct arena *a, struct storage_channel *out,
			   struct appr_error *err)
{
	(void)s;
	(void)ns;
	(void)name;
	(void)channel;
	(void)a;
	(void)out;
	return not_yet(err);
}

int storage_kv_channel_add(struct storage *s, const char *ns, const char *name,
			   const char *channel, const char *release, struct arena *a,
			   struct storage_channel *out, struct appr_error *err)
{
	(void)s;
	(void)ns;
	(void)name;
	(void)channel;
	(void)release;
	(void)a;
	(void)out;
	return not_yet(err);
}

int storage_kv_channel_remove(struct storage *s, const char *ns, const char *name,
			      const char *channel, const char *release, struct appr_error *err)
{
	(void)s;
	(void)ns;
	(void)name;
	(void)channel;
	(void)release;
	return not_yet(err);
}

int storage_kv_channel_delete(struct storage *s, const char *ns, const char *name,
			      const char *channel, struct appr_error *err)
{
	(void)s;
	(void)ns;
	(void)name;
	(void)channel;
	return not_yet(err);
}
