/* config.h - the registry configuration: defaults, then the file, then APPR_* environment. */
#ifndef APPR_CONFIG_H
#define APPR_CONFIG_H

#include <stdbool.h>

struct appr_error;

/* Every key is documented in etc/appr.conf. Key `some_key` is also read from the
 * environment as APPR_SOME_KEY (the environment wins); STORAGE, ETCD_ENDPOINTS and
 * REDIS_URL are aliases of APPR_STORAGE, APPR_ETCD_ENDPOINTS and APPR_REDIS_URL, as in
 * the original server (the APPR_ form wins). */
struct appr_config {
	char *data_dir;                       /* data_dir: SQLite file + blobs/ */
	char *storage;                        /* storage: "filesystem" (aliases: sqlite) */
	unsigned long long max_body_size;     /* max_body_size: push body limit (413 above) */
	unsigned long long max_uncompressed_size; /* max_uncompressed_size: tar bytes after gunzip */
	unsigned long long max_compression_ratio; /* max_compression_ratio: tar bytes per gzip byte */
	unsigned long long max_tar_entries;   /* max_tar_entries */
	unsigned long long busy_timeout_ms;   /* busy_timeout_ms: SQLite lock wait before 409 */
	bool fsync;                           /* fsync: fsync blobs and directories */
	char *etcd_endpoints;                 /* etcd_endpoints: "http://h:p,http://h:p" (ETCD_ENDPOINTS) */
	char *redis_url;                      /* redis_url: redis://[:pw@]host:port/db (REDIS_URL) */
	char *key_prefix;                     /* key_prefix: prefix of every etcd/redis key */
	unsigned long long kv_timeout_ms;     /* kv_timeout_ms: one etcd/redis request's time limit */
	unsigned long long upload_ttl;        /* upload_ttl: seconds an idle etcd/redis upload lives */
	char *blob_delivery;                  /* blob_delivery: stream | x-sendfile | x-accel-redirect */
	char *x_accel_location;               /* x_accel_location: nginx internal location of blobs/ */
	unsigned long long max_name_length;   /* max_name_length: namespace/name/channel, <= 64 */
	unsigned long long max_header_size;   /* max_header_size: one request header's value */
	char *auth;                           /* auth: none | tokens */
	bool anonymous_read;                  /* anonymous_read: GETs without credentials (auth = tokens) */
	char *cors_allow_origin;              /* cors_allow_origin: Access-Control-Allow-Origin, "" = no CORS */
	char *source;                         /* the file read, or NULL: for messages only */
};

/* Load the configuration: built-in defaults, then the file named by APPR_CONFIG
 * (or path when non-NULL; or the installed default if it exists), then the
 * environment. On any bad value returns -1 with a message naming the key in
 * err->msg and leaves *cfg freed. The caller owns *cfg: free with config_free(). */
int config_load(const char *path, struct appr_config *cfg, struct appr_error *err);
void config_free(struct appr_config *cfg);

/* Set one key from text (as the file and the environment do). Returns 0 or -1
 * with a message naming the key. Unknown keys are an error. */
int config_set(struct appr_config *cfg, const char *key, const char *value,
	       struct appr_error *err);

#endif
