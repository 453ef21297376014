/* storage-kv-channels.c - the kv store's channels (members of the package record). */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "names.h"
#include "semver.h"
#include "storage-kv.h"
#include "storage-kv-txn.h"
#include "storage-kv-internal.h"

/* ---- channels ---- */

int storage_kv_list_channels(struct storage *s, const char *ns, const char *name,
			     struct arena *a, struct storage_channel **out, size_t *n,
			     struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec;
	long long rev;
	size_t n_ch;
	int r = kvs_load_pkg(ks, ns, name, a, &rec, &rev, err);

	if (r < 0)
		return -1;
	if (r == 0)
		return kvs_package_absent(ns, name, err);
	json_object *chans = jget(rec, "channels");
	const char **cn = kvs_member_names(a, chans, &n_ch);
	struct storage_channel *v = arena_alloc(a, (n_ch + 1) * sizeof *v);
	for (size_t i = 0; i < n_ch; i++)
		kvs_fill_channel(a, jget(chans, cn[i]), cn[i], &v[i]);
	json_object_put(rec);
	*out = v;
	*n = n_ch;
	return 0;
}

int storage_kv_get_channel(struct storage *s, const char *ns, const char *name,
			   const char *channel, struct arena *a, struct storage_channel *out,
			   struct appr_error *err)
{
	struct kvs *ks = (struct kvs *)s;
	json_object *rec;
	long long rev;
	int r = kvs_load_pkg(ks, ns, name, a, &rec, &rev, err);

	if (r < 0)
		return -1;
	if (r == 0)
		return kvs_package_absent(ns, name, err);
	json_object *c = jget(jget(rec, "channels"), channel);
	if (!c) {
		json_object_put(rec);
		return storage_err_channel_absent(err, ns, name, channel);
	}
	kvs_fill_channel(a, c, channel, out);
	json_object_put(rec);
	return 0;
}

/* A channel operation: what it changes, and where channel_add puts the result. */
struct chan_change {
	const char *ns, *name, *channel, *release;
	struct arena *a;                 /* channel_add: out's arena */
	struct storage_channel *out;
};

static int channel_add_change(json_object *rec, struct arena *tmp, void *ctx,
			      struct appr_error *err)
{
	const struct chan_change *cc = ctx;

	(void)tmp;
	if (!jget(jget(rec, "releases"), cc->release))
		return kvs_not_found(rec, cc->ns, cc->name, cc->release, NULL, err);
	json_object *c = kvs_jobj(kvs_jobj(rec, "channels"), cc->channel);
	json_object *rels = jget(c, "releases");
	if (!rels || !json_object_is_type(rels, json_type_array)) {
		rels = json_object_new_array();
		json_object_object_add(c, "releases", rels);
	}
	if (!kvs_array_has(rels, cc->release))
		json_object_array_add(rels, json_object_new_string(cc->release));
	json_object_object_add(c, "current", json_object_new_string(cc->release));
	kvs_fill_channel(cc->a, c, cc->channel, cc->out);
	return 0;
}

int storage_kv_channel_add(struct storage *s, const char *ns, const char *name,
			   const char *channel, const char *release, struct arena *a,
			   struct storage_channel *out, struct appr_error *err)
{
	struct chan_change cc = { ns, name, channel, release, a, out };
	return kvs_record_update((struct kvs *)s, ns, name, channel_add_change, &cc, err);
}

static int channel_remove_change(json_object *rec, struct arena *tmp, void *ctx,
				 struct appr_error *err)
{
	const struct chan_change *cc = ctx;
	json_object *c = jget(jget(rec, "channels"), cc->channel);

	if (!c)
		return storage_err_channel_absent(err, cc->ns, cc->name, cc->channel);
	if (!kvs_array_remove(jget(c, "releases"), cc->release))
		return storage_err_not_in_channel(err, cc->ns, cc->name, cc->channel,
						  cc->release);
	kvs_channels_repair(tmp, rec);
	return 0;
}

int storage_kv_channel_remove(struct storage *s, const char *ns, const char *name,
			      const char *channel, const char *release, struct appr_error *err)
{
	struct chan_change cc = { ns, name, channel, release, NULL, NULL };
	return kvs_record_update((struct kvs *)s, ns, name, channel_remove_change, &cc, err);
}

static int channel_delete_change(json_object *rec, struct arena *tmp, void *ctx,
				 struct appr_error *err)
{
	const struct chan_change *cc = ctx;
	json_object *chans = jget(rec, "channels");

	(void)tmp;
	if (!jget(chans, cc->channel))
		return storage_err_channel_absent(err, cc->ns, cc->name, cc->channel);
	json_object_object_del(chans, cc->channel);
	return 0;
}

int storage_kv_channel_delete(struct storage *s, const char *ns, const char *name,
			      const char *channel, struct appr_error *err)
{
	struct chan_change cc = { ns, name, channel, NULL, NULL, NULL };
	return kvs_record_update((struct kvs *)s, ns, name, channel_delete_change, &cc, err);
}
