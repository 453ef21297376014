/* test-oci-helm.c - Helm charts as OCI artifacts: tags, the config and manifest bytes
 * of the Helm view (stable, in Helm's field order), and what oci_manifest_parse says
 * about a Helm chart manifest. */
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "oci.h"
#include "oci-helm.h"
#include "util.h"

static struct arena *a;

static void setup(void)
{
	a = arena_new();
}

static void teardown(void)
{
	arena_free(a);
}

TestSuite(oci_helm, .init = setup, .fini = teardown);

Test(oci_helm, tag_and_version)
{
	char tag[OCI_HELM_TAG_MAX + 1];
	cr_assert(eq(int, oci_helm_tag("1.2.3+build.1", tag), 0), "oci_helm_tag 1.2.3+build.1");
	cr_assert(eq(str, tag, (char *)"1.2.3_build.1"), "'+' becomes '_'");
	cr_assert(oci_valid_tag(tag), "the tag is a valid OCI tag");
	cr_assert(eq(str, oci_helm_version(tag, a), (char *)"1.2.3+build.1"), "and back");
	cr_assert(eq(int, oci_helm_tag("1.0.0-rc.1", tag), 0), "oci_helm_tag 1.0.0-rc.1");
	cr_assert(eq(str, tag, (char *)"1.0.0-rc.1"), "no '+': unchanged");
	char big[OCI_HELM_TAG_MAX + 2];
	memset(big, '1', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cr_assert(eq(int, oci_helm_tag(big, tag), -1), "a version above 128 bytes has no tag");
}

Test(oci_helm, config_in_helm_order)
{
	const char *out;
	size_t len;
	cr_assert(eq(int, oci_helm_config("{\"apiVersion\":\"v2\",\"version\":\"1.0.0\","
					  "\"description\":\"a/b\",\"name\":\"web\","
					  "\"type\":\"application\",\"home\":\"h\"}",
					  a, &out, &len), 0), "oci_helm_config");
	cr_assert(eq(str, (char *)out, (char *)"{\"name\":\"web\",\"home\":\"h\",\"version\":\"1.0.0\","
		     "\"description\":\"a/b\",\"apiVersion\":\"v2\",\"type\":\"application\"}"),
		  "Helm's field order, '/' not escaped");
	cr_assert(eq(sz, len, strlen(out)), "its length");
	cr_assert(eq(int, oci_helm_config("[1]", a, &out, &len), -1), "not an object: -1");
	cr_assert(eq(int, oci_helm_config("{", a, &out, &len), -1), "not JSON: -1");
}

Test(oci_helm, manifest_is_stable_and_parses)
{
	const char *m1, *m2;
	size_t l1, l2;
	char c[DIGEST_HEX_LEN + 1], l[DIGEST_HEX_LEN + 1];
	memset(c, 'c', DIGEST_HEX_LEN);
	c[DIGEST_HEX_LEN] = '\0';
	memset(l, 'a', DIGEST_HEX_LEN);
	l[DIGEST_HEX_LEN] = '\0';
	oci_helm_manifest(c, 42, l, 1234, "web", "1.0.0+b", a, &m1, &l1);
	oci_helm_manifest(c, 42, l, 1234, "web", "1.0.0+b", a, &m2, &l2);
	cr_assert(eq(sz, l1, l2), "the same length twice");
	cr_assert(eq(int, memcmp(m1, m2, l1), 0), "the same bytes twice");
	/* pinned: a view's digest must not change with a later version of this code */
	cr_assert(eq(str, (char *)m1, (char *)
		     "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		     "\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\","
		     "\"digest\":\"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
		     "\"size\":42},\"layers\":[{\"mediaType\":"
		     "\"application/vnd.cncf.helm.chart.content.v1.tar+gzip\","
		     "\"digest\":\"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		     "\"size\":1234}],\"annotations\":{\"org.opencontainers.image.title\":\"web\","
		     "\"org.opencontainers.image.version\":\"1.0.0+b\"}}"),
		  "the exact bytes (changing them changes every served chart's digest)");
	struct oci_manifest_info info;
	struct appr_error e = { 0 };
	cr_assert(eq(int, oci_manifest_parse(m1, l1, NULL, a, &info, &e), 0),
		  "oci_manifest_parse takes it");
	cr_assert(eq(str, (char *)info.media_type, (char *)OCI_MT_MANIFEST), "an image manifest");
	cr_assert(eq(str, (char *)info.config_media_type, (char *)OCI_MT_HELM_CONFIG), "the Helm config");
	cr_assert(eq(sz, info.n_chart_layers, 1), "one chart layer");
	cr_assert(eq(str, info.chart_layer, l), "the chart layer's digest");
	cr_assert(eq(str, (char *)info.blobs[0], c), "the config first");
	cr_assert(not(eq(ptr, strstr(m1, "\"org.opencontainers.image.version\":\"1.0.0+b\""),
			 NULL)), "the version annotation");
}

Test(oci_helm, parse_counts_chart_layers)
{
	const char *two = "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\","
		"\"config\":{\"mediaType\":\"" OCI_MT_HELM_CONFIG "\",\"digest\":\"sha256:"
		"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\",\"size\":2},"
		"\"layers\":[{\"mediaType\":\"" OCI_MT_HELM_CHART "\",\"digest\":\"sha256:"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":1},"
		"{\"mediaType\":\"" OCI_MT_HELM_CHART "\",\"digest\":\"sha256:"
		"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"size\":1}]}";
	struct oci_manifest_info info;
	struct appr_error e = { 0 };
	cr_assert(eq(int, oci_manifest_parse(two, strlen(two), NULL, a, &info, &e), 0),
		  "a manifest with two chart layers parses");
	cr_assert(eq(sz, info.n_chart_layers, 2), "two chart layers counted");
	cr_assert(eq(str, info.chart_layer, (char *)""), "no single chart layer");
}
