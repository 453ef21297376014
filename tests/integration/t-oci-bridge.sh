#!/bin/bash
# t-oci-bridge.sh - the Helm bridge (README "OCI"): an appr or ChartMuseum helm release
# is pullable through /v2/ (the Helm view: tags/list, the manifest by tag and digest with
# a digest stable across responders and restarts, the config, the .tgz layer with Range);
# a chart pushed through /v2/ (the curl steps of Helm's OCI client) is the appr release
# too (appr API, index.yaml, ChartMuseum API), with the chart checks (name, version, a
# valid chart: 400, nothing stored), 409 DENIED on other bytes, idempotent on the same
# bytes, the .tgz on disk once; deletes linked both ways; private packages hidden; a
# chart's .tgz sent by the web server with X-Sendfile / X-Accel-Redirect.
# With etcd and redis the same, but what is about files: the OCI blobs are kv keys
# (read through lib.sh's kv_keys), the .tgz is stored twice (no hard link between kv
# values), and blobs are streamed by the responder whatever blob_delivery says.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

kv=
case $APPR_TEST_STORAGE in etcd | redis) kv=1 ;; esac
plan 76
case $APPR_TEST_SERVER in
nginx) mode=x-accel-redirect ;;
*) mode=x-sendfile ;;
esac
appr_start
T=$APPR_TMP
sha() { sha256sum "$1" | cut -d' ' -f1; }
is_oci() {
	local got="$STATUS $(jqb '.errors[0].code') $(jqb '.errors[0].message | length > 0')"
	is "$got" "$1 $2 true" "$3" || diag "body: $(head -c 400 "$BODYFILE")"
}
MT_M=application/vnd.oci.image.manifest.v1+json
MT_C=application/vnd.cncf.helm.config.v1+json
MT_L=application/vnd.cncf.helm.chart.content.v1.tar+gzip

# oci_files: the OCI blobs stored: regular files under data_dir/oci/sha256 (kv: blob
# records); oci_blob_gone HEX: whether OCI blob HEX is no longer stored
oci_files() {
	if [ -n "$kv" ]; then
		kv_keys oci/blob/ | wc -l | tr -d ' '
	else
		find "$APPR_DATA/oci/sha256" -type f 2>/dev/null | wc -l | tr -d ' '
	fi
}
oci_blob_gone() {
	if [ -n "$kv" ]; then
		[ -z "$(kv_keys "oci/blob/$1")" ]
	else
		[ ! -e "$APPR_DATA/oci/sha256/${1:0:2}/$1" ]
	fi
}

# oci_push REPO TAG CHART [CONFIG-JSON]: Helm's push as curl steps (HEAD each blob,
# upload it when absent: POST, then PUT ?digest=), then PUT the manifest by tag.
# Sets STATUS (of the manifest PUT) and MD (the manifest's digest, hex).
AUTH=()
oci_push() {
	local r=/v2/$1 tag=$2 f=$3 cfg=${4:-} b d loc
	[ -n "$cfg" ] || cfg=$(printf '{"name":"%s","version":"%s","apiVersion":"v2"}' "${1#*/}" "$tag")
	printf '%s' "$cfg" >"$T/cfg"
	for b in "$f" "$T/cfg"; do
		d=$(sha "$b")
		req HEAD "$r/blobs/sha256:$d"
		[ "$STATUS" = 200 ] && continue
		req POST "$r/blobs/uploads/" "${AUTH[@]}"
		loc=$(header Location)
		req PUT "$loc?digest=sha256:$d" "${AUTH[@]}" -H 'Content-Type: application/octet-stream' \
			--data-binary "@$b"
	done
	printf '{"schemaVersion":2,"config":{"mediaType":"%s","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"%s","digest":"sha256:%s","size":%s}],"annotations":{"org.opencontainers.image.title":"%s"}}' \
		"$MT_C" "$(sha "$T/cfg")" "$(wc -c <"$T/cfg")" "$MT_L" "$(sha "$f")" "$(wc -c <"$f")" "${1#*/}" >"$T/manifest"
	MD=$(sha "$T/manifest")
	req PUT "$r/manifests/$tag" "${AUTH[@]}" -H "Content-Type: $MT_M" --data-binary "@$T/manifest"
}

# ---- an appr helm push, pulled through /v2/ ----
chart=$(mkchart web 1.2.3+build.1 "$T/c")
CH=$(sha "$chart")
size=$(wc -c <"$chart" | tr -d ' ')
push bns/web "$chart" 1.2.3+build.1 helm
is "$STATUS" 200 "appr push of helm release bns/web 1.2.3+build.1"
req GET /v2/bns/web/tags/list
is "$STATUS $(jqb -c .tags)" '200 ["1.2.3_build.1"]' "tags/list: its tag is the version with + as _"
req HEAD /v2/bns/web/manifests/1.2.3_build.1
M=$(header Docker-Content-Digest)
is "$STATUS $(header Content-Type)" "200 $MT_M" "HEAD the manifest by tag: an OCI image manifest"
req GET /v2/bns/web/manifests/1.2.3_build.1
cp "$BODYFILE" "$T/m1"
is "$STATUS sha256:$(sha "$T/m1")" "200 $M" "GET by tag: its bytes hash to Docker-Content-Digest"
is "$(jqb -c '[.schemaVersion, .mediaType, .config.mediaType, (.layers | length), .layers[0].mediaType, .layers[0].digest, .layers[0].size]')" \
	"[2,\"$MT_M\",\"$MT_C\",1,\"$MT_L\",\"sha256:$CH\",$size]" \
	"the manifest: Helm config, one chart layer whose digest and size are the .tgz's"
CF=$(jqb .config.digest)
CFS=$(jqb .config.size)
req GET "/v2/bns/web/manifests/$M"
cmp -s "$BODYFILE" "$T/m1"
ok $? "GET by digest: the same bytes"
req GET "/v2/bns/web/blobs/$CF"
is "$STATUS sha256:$(sha "$BODYFILE") $(wc -c <"$BODYFILE" | tr -d ' ')" "200 $CF $CFS" "the config blob: its digest and size"
is "$(jqb -c '[.name, .version, .description, .apiVersion]')" \
	'["web","1.2.3+build.1","test chart web 1.2.3+build.1","v1"]' "the config: the Chart.yaml fields"
is "$(head -c 8 "$BODYFILE")" '{"name":' "... in Helm's order, name first"
req GET "/v2/bns/web/blobs/sha256:$CH"
is "$STATUS $(sha "$BODYFILE")" "200 $CH" "the layer blob: the .tgz bytes as stored"
is "$(header Last-Modified)" "" "... streamed by the responder (blob_delivery stream)"
req GET "/v2/bns/web/blobs/sha256:$CH" -H 'Range: bytes=10-99'
is "$STATUS $(header Content-Range) $(wc -c <"$BODYFILE" | tr -d ' ')" "206 bytes 10-99/$size 90" "Range on the layer: 206"
tail -c +11 "$chart" | head -c 90 | cmp -s - "$BODYFILE"
ok $? "... the bytes of that range"
req HEAD "/v2/bns/web/blobs/sha256:$CH"
is "$STATUS $(header Content-Length)" "200 $size" "HEAD the layer"
for i in 1 2 3 4; do
	req HEAD /v2/bns/web/manifests/1.2.3_build.1
	header Docker-Content-Digest
done >"$T/digests"
is "$(sort -u "$T/digests")" "$M" "the digest is the same from every responder (4 requests)"
appr_restart
req GET /v2/bns/web/manifests/1.2.3_build.1
is "$STATUS sha256:$(sha "$BODYFILE")" "200 $M" "... and after a restart"
if [ -z "$kv" ]; then
	# made once at push and stored: chart fields changed behind the registry's back
	# do not change it; a release stored without it (before schema 006) gets it made
	# from its chart fields when asked for
	sqlite3 "$APPR_DATA/appr.db" "UPDATE charts SET chart = json_set(chart, '\$.description', 'changed')" ||
		bail "sqlite3 UPDATE charts"
	req GET /v2/bns/web/manifests/1.2.3_build.1
	is "$STATUS sha256:$(sha "$BODYFILE")" "200 $M" "the manifest is as stored at push, whatever the chart fields say now"
	sqlite3 "$APPR_DATA/appr.db" "DELETE FROM helm_oci" || bail "sqlite3 DELETE FROM helm_oci"
	req GET /v2/bns/web/manifests/1.2.3_build.1
	ok "$([ "$STATUS" = 200 ] && [ "sha256:$(sha "$BODYFILE")" != "$M" ] &&
		[ "$(jqb -r .config.digest)" != "$CF" ]; echo $?)" \
		"a release stored without it: made from its chart fields when asked for"
	sqlite3 "$APPR_DATA/appr.db" "UPDATE charts SET chart = json_set(chart, '\$.description', 'test chart web 1.2.3+build.1')" ||
		bail "sqlite3 UPDATE charts"
	req GET /v2/bns/web/manifests/1.2.3_build.1
	is "$STATUS sha256:$(sha "$BODYFILE")" "200 $M" "... the same bytes as made at push, from the same fields"
else
	# the same with the helm/ value: "<upload>\nchart\n<chart>\n<config>\n<manifest>"
	hk=helm/bns/web/1.2.3+build.1
	kv_get "$hk" >"$T/hval"
	[ "$(wc -l <"$T/hval")" = 4 ] || bail "$hk holds no OCI artifact: $(head -c 300 "$T/hval")"
	sed '3s/"description":"[^"]*"/"description":"changed"/' "$T/hval" | kv_put "$hk"
	req GET /v2/bns/web/manifests/1.2.3_build.1
	is "$STATUS sha256:$(sha "$BODYFILE")" "200 $M" "the manifest is as stored at push, whatever the chart fields say now"
	sed '3s/"description":"[^"]*"/"description":"changed"/' "$T/hval" | head -n 3 | head -c -1 | kv_put "$hk"
	req GET /v2/bns/web/manifests/1.2.3_build.1
	ok "$([ "$STATUS" = 200 ] && [ "sha256:$(sha "$BODYFILE")" != "$M" ] &&
		[ "$(jqb -r .config.digest)" != "$CF" ]; echo $?)" \
		"a release stored without it: made from its chart fields when asked for"
	head -n 3 "$T/hval" | head -c -1 | kv_put "$hk"
	req GET /v2/bns/web/manifests/1.2.3_build.1
	is "$STATUS sha256:$(sha "$BODYFILE")" "200 $M" "... the same bytes as made at push, from the same fields"
	kv_put "$hk" <"$T/hval"
fi
is "$(oci_files)" 0 "the view stores nothing under oci/"
req GET /v2/_catalog
like "$(jqb -c .repositories)" '"bns/web"' "_catalog lists the view's repository"
push bns/Upper "$(mkchart Upper 1.0.0 "$T/c")" 1.0.0 helm
req GET /v2/_catalog
is "$STATUS $(jqb -c '[.repositories[] | select(startswith("bns/U"))]')" "200 []" \
	"a package whose name is not OCI-spellable is not there"
push bns/plain "$(mkchart plain 1.0.0 "$T/c")" 1.0.0 kpm
req GET /v2/bns/plain/tags/list
is_oci 404 NAME_UNKNOWN "a kpm release is not in the view"
push bns/mis "$(mkchart other 1.0.0 "$T/c")" 1.0.0 helm
req GET /v2/bns/mis/tags/list
is_oci 404 NAME_UNKNOWN "a helm release whose chart is not the release is not in the view"

# ---- ChartMuseum ----
req POST /helm/api/bns/charts --data-binary "@$(mkchart api 0.1.0 "$T/c")"
is "$STATUS" 201 "ChartMuseum upload of api 0.1.0"
req GET /v2/bns/api/tags/list
is "$STATUS $(jqb -c .tags)" '200 ["0.1.0"]' "... its tag in /v2/"
req GET /v2/bns/api/manifests/0.1.0
is "$STATUS $(jqb '.layers[0].digest')" "200 sha256:$(sha "$T/c/api-0.1.0.tgz")" "... its manifest's layer is the uploaded .tgz"

# ---- a chart pushed through /v2/ is the appr release ----
svc=$(mkchart svc 2.0.0 "$T/c")
SV=$(sha "$svc")
oci_push bns/svc 2.0.0 "$svc"
is "$STATUS $(header Docker-Content-Digest)" "201 sha256:$MD" "OCI push of svc 2.0.0: 201"
M2=$MD
req GET /api/v1/packages/bns/svc/2.0.0/helm
is "$STATUS $(jqb .release) $(jqb .content.digest)" "200 2.0.0 $(digest_of "$svc")" "appr shows release bns/svc 2.0.0 (helm)"
req GET /api/v1/packages/bns/svc/2.0.0/helm/pull
is "$STATUS $(sha "$BODYFILE")" "200 $SV" "appr pull: the .tgz pushed through /v2/"
req GET /helm/bns/index.yaml
like "$BODY" 'svc-2\.0\.0\.tgz' "index.yaml lists svc 2.0.0"
req GET /helm/api/bns/charts/svc/2.0.0
is "$STATUS $(jqb .version)" "200 2.0.0" "the ChartMuseum API shows it"
req GET /v2/bns/svc/manifests/2.0.0
is "$STATUS $(sha "$BODYFILE")" "200 $M2" "GET by tag: the manifest bytes as pushed (stored wins over the view)"
req GET /v2/bns/svc/tags/list
is "$(jqb -c .tags)" '["2.0.0"]' "tags/list: the tag once"
if [ -z "$kv" ]; then
	ofile=$APPR_DATA/oci/sha256/${SV:0:2}/$SV
	d=$(digest_of "$svc")
	afile=$APPR_DATA/blobs/sha256/${d:0:2}/$d
	is "$(stat -c %i "$ofile" 2>&1) $(stat -c %h "$ofile" 2>&1)" "$(stat -c %i "$afile" 2>&1) 2" \
		"the .tgz is on disk once: the appr blob file and the OCI blob are one file (2 links)"
else
	req GET "/v2/bns/svc/blobs/sha256:$SV"
	is "$STATUS $(sha "$BODYFILE") $(oci_blob_gone "$SV" || echo stored)" "200 $SV stored" \
		"the .tgz is an OCI blob of the repository too, byte for byte"
fi
oci_push bns/svc 2.0.0 "$svc"
is "$STATUS $MD" "201 $M2" "the same push again: 201 (idempotent)"

# ---- refused: nothing stored ----
oci_push bns/svc2 1.0.0 "$(mkchart other 1.0.0 "$T/c")"
is_oci 400 MANIFEST_INVALID "a chart whose name is not the repository's: 400"
req GET /api/v1/packages/bns/svc2
ok $([ "$STATUS" = 404 ]; echo $?) "... no appr package svc2 ($STATUS)"
oci_push bns/svc 2.2.0 "$(mkchart svc 2.1.0 "$T/c")"
is_oci 400 MANIFEST_INVALID "a chart whose version is not the tag: 400"
req GET /v2/bns/svc/manifests/2.2.0
is_oci 404 MANIFEST_UNKNOWN "... no manifest stored"
req GET /api/v1/packages/bns/svc/2.1.0/helm
ok $([ "$STATUS" = 404 ]; echo $?) "... no appr release 2.1.0 ($STATUS)"
mkdir -p "$T/bad/svc" && printf 'just a file\n' >"$T/bad/svc/README"
tar -C "$T/bad" -czf "$T/bad.tgz" svc
oci_push bns/svc 4.0.0 "$T/bad.tgz"
is_oci 400 MANIFEST_INVALID "a layer that is not a valid chart (no Chart.yaml): 400"
msg=$(jqb '.errors[0].message')
is "$(grep -c '^the chart layer: .*Chart\.yaml' <<<"$msg") $(grep -c 'layer: the chart layer' <<<"$msg")" "1 0" \
	"... saying why ($msg)"
req GET /api/v1/packages/bns/svc/4.0.0/helm
ok $([ "$STATUS" = 404 ]; echo $?) "... no appr release 4.0.0 ($STATUS)"
req GET /v2/bns/svc/tags/list
is "$(jqb -c .tags)" '["2.0.0"]' "... tags/list unchanged"

# ---- an appr release with other bytes: 409; the same bytes: fine ----
mkdir -p "$T/extra" && printf 'other bytes\n' >"$T/extra/NOTES.txt"
a3=$(mkchart svc 3.0.0 "$T/a")
b3=$(mkchart svc 3.0.0 "$T/b" "$T/extra")
push bns/svc "$a3" 3.0.0 helm
is "$STATUS" 200 "appr push of svc 3.0.0"
oci_push bns/svc 3.0.0 "$b3"
is_oci 409 DENIED "an OCI push of svc 3.0.0 with other .tgz bytes: 409 DENIED"
req GET /v2/bns/svc/manifests/3.0.0
is "$STATUS $(jqb '.layers[0].digest')" "200 sha256:$(sha "$a3")" "... the release is still the appr one"
req GET /api/v1/packages/bns/svc/3.0.0/helm/pull
is "$(sha "$BODYFILE")" "$(sha "$a3")" "... and appr pulls its bytes"
oci_push bns/svc 3.0.0 "$a3"
is "$STATUS" 201 "an OCI push of the same bytes (its blob found by HEAD, not uploaded): 201"
M3=$MD
req GET /v2/bns/svc/manifests/3.0.0
is "$(sha "$BODYFILE")" "$M3" "... GET by tag answers the pushed manifest now"
if [ -z "$kv" ]; then
	d=$(digest_of "$a3")
	is "$(stat -c %h "$APPR_DATA/blobs/sha256/${d:0:2}/$d")" 2 "... its .tgz one file for both (2 links)"
else
	req GET "/v2/bns/svc/blobs/sha256:$(sha "$a3")"
	is "$STATUS $(sha "$BODYFILE") $(oci_blob_gone "$(sha "$a3")" || echo stored)" \
		"200 $(sha "$a3") stored" "... its .tgz adopted as an OCI blob of the repository (a copy)"
fi

# ---- linked deletes ----
req DELETE /api/v1/packages/bns/svc/2.0.0/helm
is "$STATUS" 200 "appr delete of svc 2.0.0"
req GET /v2/bns/svc/manifests/2.0.0
is_oci 404 MANIFEST_UNKNOWN "... its OCI tag is gone"
req GET "/v2/bns/svc/manifests/sha256:$M2"
is_oci 404 MANIFEST_UNKNOWN "... its OCI manifest is gone"
oci_blob_gone "$SV"
ok $? "... and its .tgz under oci/ too"
req DELETE "/v2/bns/svc/manifests/3.0.0"
is "$STATUS" 202 "OCI delete by tag of the bridged svc 3.0.0: 202"
req GET /api/v1/packages/bns/svc/3.0.0/helm
ok $([ "$STATUS" = 404 ]; echo $?) "... the appr release is gone ($STATUS)"
req GET "/v2/bns/svc/manifests/sha256:$M3"
is_oci 404 MANIFEST_UNKNOWN "... the manifest is gone, not only the tag"
req DELETE "/v2/bns/web/manifests/$M"
is "$STATUS" 202 "OCI delete by digest of the view's manifest of web: 202"
req GET /api/v1/packages/bns/web/1.2.3+build.1/helm
ok $([ "$STATUS" = 404 ]; echo $?) "... the appr release is gone ($STATUS)"
req DELETE /helm/api/bns/charts/api/0.1.0
is "$STATUS" 200 "ChartMuseum delete of api 0.1.0"
req GET /v2/bns/api/tags/list
is_oci 404 NAME_UNKNOWN "... the repository is gone from /v2/"
oci_push bns/gone 1.0.0 "$(mkchart gone 1.0.0 "$T/c")"
req DELETE /helm/api/bns/charts/gone/1.0.0
req GET /v2/bns/gone/manifests/1.0.0
is_oci 404 MANIFEST_UNKNOWN "ChartMuseum delete of an OCI-pushed chart: its OCI manifest is gone"
appr_admin gc >/dev/null 2>&1
oci_blob_gone "$(sha "$T/c/gone-1.0.0.tgz")" && oci_blob_gone "$SV"
ok $? "... no .tgz of a deleted chart left under oci/"

# ---- private packages and blob_delivery ----
appr_stop
appr_start APPR_AUTH=tokens APPR_BLOB_DELIVERY=$mode
printf 'pw-w\n' | appr_admin user add writer --password-stdin >/dev/null || bail "user add writer"
appr_admin grant writer pns write >/dev/null && appr_admin grant writer bns write >/dev/null || bail "grant"
pushbody "$(mkchart secret 1.0.0 "$T/c")" 1.0.0 helm '.visibility = "private"' >"$T/p.json"
req POST /api/v1/packages/pns/secret -u writer:pw-w -H 'Content-Type: application/json' --data-binary "@$T/p.json"
is "$STATUS" 200 "a private helm release"
req GET /v2/pns/secret/tags/list
like "$STATUS $(jqb -c .tags)" '^(401|403|404) null$' "anonymous: its tags are not readable through /v2/"
req GET /v2/pns/secret/manifests/1.0.0
like "$STATUS" '^(401|403|404)$' "anonymous: nor its manifest"
req GET /v2/pns/secret/tags/list -u writer:pw-w
is "$STATUS $(jqb -c .tags)" '200 ["1.0.0"]' "with read on the namespace: readable"
AUTH=(-u writer:pw-w)
up=$(mkchart up 1.0.0 "$T/c")
pushbody "$up" 1.0.0 helm >"$T/p.json"
req POST /api/v1/packages/bns/up "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary "@$T/p.json"
UP=$(sha "$up")
req GET "/v2/bns/up/blobs/sha256:$UP"
is "$STATUS $(sha "$BODYFILE") $(header X-Sendfile)$(header X-Accel-Redirect)" "200 $UP " \
	"$mode: the view's layer, byte for byte, no delivery header reaching the client"
if [ -z "$kv" ]; then
	like "$(header Last-Modified)" '[0-9]' "... sent by the web server (Last-Modified: a file's)"
else
	is "$(header Last-Modified)" "" "... streamed by the responder ($APPR_TEST_STORAGE has no files to send)"
fi
req GET "/v2/bns/up/blobs/sha256:$UP" -H 'Range: bytes=0-9'
is "$STATUS $(header Content-Range)" "206 bytes 0-9/$(wc -c <"$up" | tr -d ' ')" "... Range served by the web server"
op=$(mkchart op 1.0.0 "$T/c")
oci_push bns/op 1.0.0 "$op"
is "$STATUS" 201 "an OCI push with credentials"
req GET "/v2/bns/op/blobs/sha256:$(sha "$op")"
is "$STATUS $(sha "$BODYFILE")" "200 $(sha "$op")" "$mode: the OCI-pushed chart layer, byte for byte"
if [ -z "$kv" ]; then
	like "$(header Last-Modified)" '[0-9]' "... sent by the web server from the appr blob file (one file)"
else
	is "$(header Last-Modified)" "" "... streamed by the responder ($APPR_TEST_STORAGE)"
fi
req GET "/v2/bns/op/blobs/sha256:$(sha "$T/cfg")"
is "$STATUS $(sha "$BODYFILE") $(header Last-Modified)" "200 $(sha "$T/cfg") " \
	"its config blob: streamed by the responder, checked"
