/* test-config.c - defaults, the config file, the environment winning, bad values. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"

static char path[64];

static void clear_env(void)
{
	const char *vars[] = { "APPR_CONFIG", "APPR_DATA_DIR", "APPR_STORAGE", "STORAGE",
			       "APPR_MAX_BODY_SIZE", "APPR_FSYNC", "APPR_BUSY_TIMEOUT_MS",
			       "APPR_MAX_UNCOMPRESSED_SIZE", "APPR_MAX_COMPRESSION_RATIO",
			       "APPR_MAX_TAR_ENTRIES", "ETCD_ENDPOINTS", "APPR_ETCD_ENDPOINTS",
			       "REDIS_URL", "APPR_REDIS_URL", "APPR_BLOB_DELIVERY", "APPR_AUTH",
			       "APPR_ANONYMOUS_READ", "APPR_CORS_ALLOW_ORIGIN" };
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

static void write_conf(const char *text)
{
	strcpy(path, "/tmp/appr-config-XXXXXX");
	int fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp");
	cr_assert(eq(sz, (size_t)write(fd, text, strlen(text)), strlen(text)), "write config");
	close(fd);
}

static void cleanup(void)
{
	if (path[0])
		unlink(path);
	path[0] = '\0';
	clear_env();
}

TestSuite(config, .init = clear_env, .fini = cleanup);

Test(config, defaults)
{
	struct appr_config c;
	struct appr_error e = { 0 };
	setenv("APPR_CONFIG", "", 1);   /* empty: no file */
	cr_assert(eq(int, config_load(NULL, &c, &e), 0), "defaults load: %s", e.msg);
	cr_assert(eq(str, c.storage, (char *)"filesystem"), "default storage");
	cr_assert(eq(u64, (uint64_t)c.max_body_size, (uint64_t)64 << 20), "default body limit 64 MiB");
	cr_assert(eq(u64, (uint64_t)c.max_uncompressed_size, (uint64_t)512 << 20), "default 512 MiB");
	cr_assert(c.fsync, "fsync on by default");
	config_free(&c);
}

Test(config, file_then_env)
{
	struct appr_config c;
	struct appr_error e = { 0 };
	write_conf("# comment\n\ndata_dir = /srv/appr\nmax_body_size = 2M\nstorage = \"filesystem\"\nfsync = no\n");
	cr_assert(eq(int, config_load(path, &c, &e), 0), "file loads: %s", e.msg);
	cr_assert(eq(str, c.data_dir, (char *)"/srv/appr"), "data_dir from file");
	cr_assert(eq(u64, (uint64_t)c.max_body_size, (uint64_t)2 << 20), "2M from file");
	cr_assert(not(c.fsync), "fsync = no");
	config_free(&c);

	setenv("APPR_DATA_DIR", "/env/dir", 1);
	setenv("APPR_MAX_BODY_SIZE", "512K", 1);
	cr_assert(eq(int, config_load(path, &c, &e), 0), "file + env load: %s", e.msg);
	cr_assert(eq(str, c.data_dir, (char *)"/env/dir"), "environment wins over the file");
	cr_assert(eq(u64, (uint64_t)c.max_body_size, (uint64_t)512 << 10), "512K from env");
	config_free(&c);
}

Test(config, storage_alias)
{
	struct appr_config c;
	struct appr_error e = { 0 };
	setenv("APPR_CONFIG", "", 1);
	setenv("STORAGE", "redis", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), 0), "STORAGE=redis loads: %s", e.msg);
	cr_assert(eq(str, c.storage, (char *)"redis"), "STORAGE is read");
	config_free(&c);
	setenv("APPR_STORAGE", "filesystem", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), 0), "both set: %s", e.msg);
	cr_assert(eq(str, c.storage, (char *)"filesystem"), "APPR_STORAGE wins over STORAGE");
	config_free(&c);
}

Test(config, kv_and_delivery_keys)
{
	struct appr_config c;
	struct appr_error e = { 0 };
	setenv("APPR_CONFIG", "", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), 0), "defaults load: %s", e.msg);
	cr_assert(eq(str, c.etcd_endpoints, (char *)"http://127.0.0.1:2379"), "etcd default");
	cr_assert(eq(str, c.redis_url, (char *)"redis://127.0.0.1:6379/0"), "redis default");
	cr_assert(eq(str, c.key_prefix, (char *)"/appr/"), "key prefix default");
	cr_assert(eq(str, c.blob_delivery, (char *)"stream"), "delivery default");
	config_free(&c);

	setenv("ETCD_ENDPOINTS", "http://127.0.0.1:1,http://127.0.0.1:2", 1);
	setenv("REDIS_URL", "redis://127.0.0.1:7/1", 1);
	setenv("APPR_BLOB_DELIVERY", "x-accel-redirect", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), 0), "aliases load: %s", e.msg);
	cr_assert(eq(str, c.etcd_endpoints, (char *)"http://127.0.0.1:1,http://127.0.0.1:2"),
		  "ETCD_ENDPOINTS is read");
	cr_assert(eq(str, c.redis_url, (char *)"redis://127.0.0.1:7/1"), "REDIS_URL is read");
	cr_assert(eq(str, c.blob_delivery, (char *)"x-accel-redirect"), "delivery set");
	config_free(&c);

	setenv("APPR_ETCD_ENDPOINTS", "http://127.0.0.1:3", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), 0), "both forms: %s", e.msg);
	cr_assert(eq(str, c.etcd_endpoints, (char *)"http://127.0.0.1:3"), "the APPR_ form wins");
	config_free(&c);

	setenv("APPR_BLOB_DELIVERY", "carrier-pigeon", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), -1), "unknown delivery refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "APPR_BLOB_DELIVERY"), NULL)), "names the variable: %s", e.msg);
	clear_env();
}

Test(config, auth_keys)
{
	struct appr_config c;
	struct appr_error e = { 0 };
	setenv("APPR_CONFIG", "", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), 0), "defaults: %s", e.msg);
	cr_assert(eq(str, c.auth, (char *)"none"), "auth is off by default");
	cr_assert(c.anonymous_read, "anonymous reads by default");
	config_free(&c);
	setenv("APPR_AUTH", "tokens", 1);
	setenv("APPR_ANONYMOUS_READ", "false", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), 0), "set: %s", e.msg);
	cr_assert(eq(str, c.auth, (char *)"tokens"));
	cr_assert(not(c.anonymous_read));
	config_free(&c);
	setenv("APPR_MAX_NAME_LENGTH", "65", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), -1), "a name limit above 64 refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "64"), NULL)), "says the hard limit: %s", e.msg);
	unsetenv("APPR_MAX_NAME_LENGTH");
	setenv("APPR_AUTH", "ldap", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), -1), "unknown mode refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "APPR_AUTH"), NULL)), "names the variable: %s", e.msg);
	clear_env();
}

Test(config, cors_allow_origin)
{
	struct appr_config c;
	struct appr_error e = { 0 };
	setenv("APPR_CONFIG", "", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), 0), "defaults: %s", e.msg);
	cr_assert(eq(str, c.cors_allow_origin, (char *)"*"), "CORS open to every origin by default");
	config_free(&c);
	write_conf("cors_allow_origin =\n");
	cr_assert(eq(int, config_load(path, &c, &e), 0), "an empty value is allowed: %s", e.msg);
	cr_assert(eq(str, c.cors_allow_origin, (char *)""), "empty turns CORS off");
	config_free(&c);
	write_conf("cors_allow_origin = https://example.org\n");
	cr_assert(eq(int, config_load(path, &c, &e), 0), "one origin: %s", e.msg);
	cr_assert(eq(str, c.cors_allow_origin, (char *)"https://example.org"), "the origin as given");
	config_free(&c);
	unlink(path);
	setenv("APPR_CORS_ALLOW_ORIGIN", "a\r\nSet-Cookie: x", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), -1), "a header injection is refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "APPR_CORS_ALLOW_ORIGIN"), NULL)), "names the variable: %s", e.msg);
	clear_env();
}

Test(config, bad_values_name_the_key)
{
	struct appr_config c;
	struct appr_error e = { 0 };
	setenv("APPR_CONFIG", "", 1);
	setenv("APPR_MAX_BODY_SIZE", "lots", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), -1), "bad size refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "APPR_MAX_BODY_SIZE"), NULL)), "message names the variable: %s", e.msg);
	unsetenv("APPR_MAX_BODY_SIZE");

	setenv("STORAGE", "postgres", 1);
	cr_assert(eq(int, config_load(NULL, &c, &e), -1), "unknown storage refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "STORAGE"), NULL)), "message names STORAGE: %s", e.msg);
	unsetenv("STORAGE");

	write_conf("fsync = maybe\n");
	cr_assert(eq(int, config_load(path, &c, &e), -1), "bad bool refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "fsync"), NULL)), "message names fsync: %s", e.msg);
	cr_assert(not(eq(ptr, strstr(e.msg, ":1:"), NULL)), "message gives the line: %s", e.msg);
	unlink(path);

	write_conf("no_such_key = 1\n");
	cr_assert(eq(int, config_load(path, &c, &e), -1), "unknown key refused");
	cr_assert(not(eq(ptr, strstr(e.msg, "no_such_key"), NULL)), "message names the key: %s", e.msg);

	cr_assert(eq(int, config_load("/nonexistent/appr.conf", &c, &e), -1), "missing named file refused");
}
