#!/bin/bash
# t-oci-helm.sh - the request sequences Helm's OCI client (oras-go) sends for
# `helm push` and `helm pull`, as curl steps: a chart stored and read back as an OCI
# artifact (config application/vnd.cncf.helm.config.v1+json, one chart layer). Through
# the Helm bridge (README "OCI") the chart is the appr helm release hns/web 1.2.3 too;
# t-oci-bridge.sh tests the bridge itself.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 13
appr_start
T=$APPR_TMP
R=/v2/hns/web
sha() { sha256sum "$1" | cut -d' ' -f1; }

chart=$(mkchart web 1.2.3 "$T/c")
CH=$(sha "$chart")
printf '{"name":"web","version":"1.2.3","description":"test chart web 1.2.3","apiVersion":"v1"}' >"$T/config"
CF=$(sha "$T/config")

# ---- helm push: for each blob HEAD (404), POST an upload, PUT ?digest= ----
for b in "$chart:$CH" "$T/config:$CF"; do
	f=${b%:*} d=${b##*:}
	req HEAD "$R/blobs/sha256:$d"
	is "$STATUS" 404 "push: HEAD blob ${d:0:12} is 404 before its upload"
	req POST "$R/blobs/uploads/"
	loc=$(header Location)
	req PUT "$loc?digest=sha256:$d" -H 'Content-Type: application/octet-stream' --data-binary "@$f"
	is "$STATUS $(header Docker-Content-Digest)" "201 sha256:$d" "push: PUT ?digest= stores blob ${d:0:12}"
done
printf '{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":"sha256:%s","size":%s}],"annotations":{"org.opencontainers.image.title":"web","org.opencontainers.image.version":"1.2.3"}}' \
	"$CF" "$(wc -c <"$T/config")" "$CH" "$(wc -c <"$chart")" >"$T/manifest"
M=$(sha "$T/manifest")
req PUT "$R/manifests/1.2.3" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
	--data-binary "@$T/manifest"
is "$STATUS $(header Docker-Content-Digest)" "201 sha256:$M" "push: PUT the manifest by tag (the version)"

# ---- helm pull: HEAD the tag (its digest), GET the manifest by digest, the blobs ----
req HEAD "$R/manifests/1.2.3"
is "$STATUS $(header Docker-Content-Digest) $(header Content-Type)" \
	"200 sha256:$M application/vnd.oci.image.manifest.v1+json" \
	"pull: HEAD the tag resolves it through Docker-Content-Digest"
req GET "$R/manifests/sha256:$M" -H 'Accept: application/vnd.oci.image.manifest.v1+json'
is "$STATUS $(sha "$BODYFILE")" "200 $M" "pull: GET the manifest by digest"
is "$(jqb .config.mediaType)" application/vnd.cncf.helm.config.v1+json "... the Helm config media type"
req GET "$R/blobs/sha256:$CF"
is "$STATUS $(sha "$BODYFILE")" "200 $CF" "pull: GET the config blob"
req GET "$R/blobs/sha256:$CH"
is "$STATUS $(sha "$BODYFILE")" "200 $CH" "pull: GET the chart layer, the .tgz as pushed"
is "$(tar -xzOf "$BODYFILE" web/Chart.yaml | sed -n 2p)" "version: 1.2.3" "... a chart tar Helm can read"

# ---- the Helm bridge: the same chart is the appr release ----
req GET /api/v1/packages/hns/web/1.2.3/helm/pull
is "$STATUS $(sha "$BODYFILE")" "200 $CH" "bridge: appr pulls hns/web 1.2.3, the .tgz pushed through /v2/"
req GET /helm/hns/index.yaml
like "$BODY" 'web-1\.2\.3\.tgz' "bridge: index.yaml lists it"
