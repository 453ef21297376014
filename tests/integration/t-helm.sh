#!/bin/bash
# t-helm.sh - every namespace a Helm chart repository (index.yaml read as strictly as
# Helm reads it, chart downloads) and ChartMuseum's API, on the same store as appr:
# a chart pushed through any API is visible through all of them. Every variant.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 101

YAML2JSON=$APPR_BUILDDIR/tests/yaml2json
[ -x "$YAML2JSON" ] || bail "tests/yaml2json not built: make check builds it"
appr_start
T=$APPR_TMP

# mkhelm NAME VERSION [CHART.YAML-LINES]: a chart NAME-VERSION.tgz with a full
# Chart.yaml (apiVersion v2); prints its path.
mkhelm() {
	local name=$1 version=$2 extra=${3:-} w
	w=$(mktemp -d "$T/helm.XXXXXX")
	mkdir -p "$w/$name/templates"
	printf 'apiVersion: v2\nname: %s\nversion: %s\nappVersion: "1.10"\ndescription: %s chart\ntype: application\nkeywords: [web, "a: b"]\nmaintainers:\n  - name: Ann\n    email: ann@example.org\nannotations:\n  category: test\n%b' \
		"$name" "$version" "$name" "$extra" >"$w/$name/Chart.yaml"
	printf 'replicas: 1\n' >"$w/$name/values.yaml"
	printf 'kind: Service\n' >"$w/$name/templates/svc.yaml"
	tar -C "$w" -czf "$T/$name-$version.tgz" "$name"
	rm -rf -- "$w"
	printf '%s\n' "$T/$name-$version.tgz"
}

# index [CURL-ARGS]: GET /helm/hns/index.yaml; INDEX = it as JSON ("" when not strict YAML)
index() {
	req GET /helm/hns/index.yaml "$@"
	INDEX=$("$YAML2JSON" <"$BODYFILE" 2>"$T/yaml.err") || INDEX=
}
# versions NAME: the versions of chart NAME in INDEX, in order
versions() {
	jq -r --arg n "$1" '[.entries[$n][]?.version] | join(",")' <<<"$INDEX"
}
cm() { # METHOD PATH [curl args]: the ChartMuseum API of namespace hns
	local m=$1 p=$2
	shift 2
	req "$m" "/helm/api/hns$p" "$@"
}

# ---- charts through the appr API ----
for v in 1.0.0 1.1.0 2.0.0-rc.1; do
	push hns/web "$(mkhelm web "$v")" "$v" helm
done
push hns/db "$(mkhelm db 0.1.0 'deprecated: true\nunknownField: x\n')" 0.1.0 helm
is "$STATUS" 200 "appr pushes of web 1.0.0 1.1.0 2.0.0-rc.1 and db 0.1.0"
push hns/kpmonly "$(mkhelm kpmonly 1.0.0)" 1.0.0 kpm
push hns/misnamed "$(mkhelm web 3.0.0)" 3.0.0 helm
is "$STATUS" 200 "a helm blob whose chart is named otherwise: still an appr release"
push hns/helm2 "$(mkchart helm2 1.0.0 "$T/n")" 1.0.0 helm
w=$(mktemp -d "$T/nc.XXXXXX"); mkdir -p "$w/nochart"; echo 'a: 1' >"$w/nochart/values.yaml"
tar -C "$w" -czf "$T/nochart.tgz" nochart
push hns/nochart "$T/nochart.tgz" 1.0.0 helm
is "$STATUS" 200 "a helm blob without Chart.yaml: still an appr release (as the original)"

index
is "$STATUS $(header Content-Type)" "200 application/x-yaml" "GET index.yaml"
ok "$([ -n "$INDEX" ]; echo $?)" "index.yaml is strict YAML: no duplicate key, one document ($(cat "$T/yaml.err"))"
is "$(jq -r 'keys | join(",")' <<<"$INDEX")" "apiVersion,entries,generated,serverInfo" \
	"top level: apiVersion, entries, generated, serverInfo, nothing else"
is "$(jq -r '.apiVersion + " " + .serverInfo.contextPath + " " + (.serverInfo | keys | join(","))' <<<"$INDEX")" \
	"v1 /helm contextPath" "apiVersion v1, serverInfo {contextPath: /helm}"
like "$(jq -r .generated <<<"$INDEX")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$' \
	"generated is RFC 3339"
is "$(jq -r '.entries | keys | join(",")' <<<"$INDEX")" "db,helm2,web" \
	"entries: the valid charts named as their package (not kpm, not misnamed, not chartless)"
is "$(versions web)" "2.0.0-rc.1,1.1.0,1.0.0" "web: newest first by semver"
allowed='["name","version","appVersion","apiVersion","description","type","keywords","home","sources","icon","maintainers","dependencies","deprecated","annotations","kubeVersion","condition","tags","created","digest","urls"]'
is "$(jq -c --argjson ok "$allowed" '[.entries[][] | keys[] | select(. as $k | $ok | index($k) | not)] | unique' <<<"$INDEX")" \
	"[]" "every version holds known keys only"
is "$(jq -r '.entries.web[2] | [.name, .version, .apiVersion, .appVersion, .description, .type, (.keywords | join("|")), .maintainers[0].name, .maintainers[0].email, .annotations.category] | join(" ")' <<<"$INDEX")" \
	"web 1.0.0 v2 1.10 web chart application web|a: b Ann ann@example.org test" \
	"web 1.0.0: its Chart.yaml fields, typed (appVersion stays \"1.10\")"
is "$(jq -c '.entries.db[0] | [.deprecated, has("unknownField")]' <<<"$INDEX")" "[true,false]" \
	"db: deprecated a boolean, an unknown Chart.yaml key left out"
is "$(jq -r '.entries.helm2[0].apiVersion' <<<"$INDEX")" "v1" \
	"a Chart.yaml without apiVersion is v1, as Helm loads it"
is "$(jq -r '[.entries[][] | .created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\\.[0-9]+)?Z$")] | all' <<<"$INDEX")" \
	"true" "every created is RFC 3339"
is "$(jq -r '[.entries[][] | (.urls | length == 1) and .urls[0] == "charts/\(.name)-\(.version).tgz"] | all' <<<"$INDEX")" \
	"true" "every version has urls [charts/<name>-<version>.tgz]"
# every url downloads, and its SHA-256 is the digest
bad=
while read -r url digest; do
	req GET "/helm/hns/$url"
	got=$(sha256sum <"$BODYFILE" | cut -d' ' -f1)
	[ "$STATUS $got" = "200 $digest" ] || bad+=" $url:$STATUS"
done < <(jq -r '.entries[][] | "\(.urls[0]) \(.digest)"' <<<"$INDEX")
is "[$bad]" "[]" "every url downloads, with the SHA-256 of the .tgz as its digest"
cmp -s "$BODYFILE" "$T/web-1.0.0.tgz"
ok $? "web-1.0.0.tgz: the very bytes pushed"
req GET /helm/hns/charts/web-1.0.0.tgz
etag=$(header ETag)
req GET /helm/hns/charts/web-1.0.0.tgz -H "If-None-Match: $etag"
is "$STATUS" 304 "a chart download revalidates by ETag: 304"
req GET /helm/hns/charts/web-9.9.9.tgz
is_error 404 package-not-found "an absent chart version: 404"
req GET /helm/hns/charts/kpmonly-1.0.0.tgz
is "$STATUS" 404 "a kpm release is no chart download"

# ---- ETag and 304 on index.yaml ----
index
etag=$(header ETag)
like "$etag" '^"helm-[0-9]+-[0-9]{20}-[a-z]"$' "index.yaml has an ETag: the namespace's change count and time, the view"
is "$(header Cache-Control)" "no-cache" "index.yaml: Cache-Control no-cache"
index -H "If-None-Match: $etag"
is "$STATUS [$(cat "$BODYFILE")]" "304 []" "the same ETag: 304, no body"
gen1=$(jq -r .generated <<<"$INDEX")

# ---- the rendered index is kept per namespace and view, for one change stamp ----
kept=$APPR_DATA/cache/helm/r-hns.yaml     # auth = none: everyone's view holds everything
index
cp "$BODYFILE" "$T/index.1"
ok "$([ "$(tail -c +"$(($(head -1 "$kept" | wc -c) + 1))" "$kept" | sha256sum)" = \
	"$(sha256sum <"$T/index.1")" ]; echo $?)" "the index is kept in cache/helm/r-hns.yaml after a header line"
# a damaged file (same size, one byte changed) is a miss, never served
size=$(stat -c %s "$kept")
printf 'X' | dd of="$kept" bs=1 seek=$((size - 3)) conv=notrunc status=none
index
cmp -s "$BODYFILE" "$T/index.1"
ok $? "a damaged kept index is rendered again: the same bytes"
is "$(tail -c 3 "$kept" | head -c 1)" "$(tail -c 3 "$T/index.1" | head -c 1)" "and kept again whole"
# a kept file of another stamp (the namespace changed since) is not served
sed -i '1s/^\(appr-helm-index [^ ]* helm-\)[0-9]*/\1999999/' "$kept"
index
cmp -s "$BODYFILE" "$T/index.1"
ok $? "a kept index of another stamp is rendered again"

# ---- appr-admin helm left-out; releases stored before charts were read ----
appr_admin helm left-out hns >"$T/left" 2>"$T/left.err"
is "$? $(cut -d: -f1 "$T/left" | tr '\n' ,)" "0 hns/misnamed 3.0.0,hns/nochart 1.0.0," \
	"appr-admin helm left-out: the helm releases the index leaves out"
like "$(tr '\n' ' ' <"$T/left")" 'misnamed 3.0.0: .*"web".* hns/nochart 1.0.0: .*no Chart.yaml' \
	"appr-admin helm left-out: and why"
index
if [ "$APPR_TEST_STORAGE" = filesystem ]; then
	# a store of before charts were read at push (schema 2 migrated to 3): no charts
	# rows, no blob SHA-256; the first index request examines each blob once
	before=$(jq -c '[.entries[][] | [.name, .version, .digest, .appVersion]]' <<<"$INDEX")
	sqlite3 -cmd '.timeout 10000' "$APPR_DATA/appr.db" \
		"DELETE FROM charts; UPDATE manifests SET blob_sha256 = NULL" 2>&1
	rm -rf -- "$APPR_DATA/cache"             # nor were rendered indexes kept then
	index
	is "$STATUS $(jq -c '[.entries[][] | [.name, .version, .digest, .appVersion]]' <<<"$INDEX")" \
		"200 $before" "releases stored before charts were read: examined, the same index"
	is "$(sqlite3 -cmd '.timeout 10000' "$APPR_DATA/appr.db" \
		"SELECT count(*), count(chart), count(chart_problem) FROM charts;
		 SELECT count(*) FROM manifests WHERE media_type = 'helm' AND blob_sha256 IS NULL")" \
		"$(printf '7|5|2\n0')" "and recorded once: 5 charts, 2 problems, every SHA-256"
else
	for _ in 1 2; do
		ok 0 "a store of before charts were read # SKIP made with sqlite3 on the SQLite store only; test-storage checks set_chart on $APPR_TEST_STORAGE"
	done
fi

# ---- ChartMuseum's API ----
req GET /helm/health
is "$STATUS $(jqb -c .)" '200 {"healthy":true}' "GET /helm/health"
req GET /helm/info
like "$STATUS $(jqb .version)" '^200 appr-fcgi ' "GET /helm/info"
api=$(mkhelm api 1.0.0)
cm POST /charts --data-binary "@$api"
is "$STATUS $(jqb -c .)" '201 {"saved":true}' "upload a raw .tgz: 201 saved"
cm POST /charts -F "chart=@$(mkhelm api 1.1.0)" -F "prov=@$api"
is "$STATUS $(jqb -c .)" '201 {"saved":true}' "upload as form field chart (a prov field too): 201"
cm POST /charts --data-binary "@$api"
is "$STATUS $(jqb 'keys | join(",")')" "409 error" "the same version again: 409 {\"error\"}"
like "$(jqb .error)" 'already exists' "409 says it exists"
cm POST '/charts?force' --data-binary "@$api"
is "$STATUS" 201 "?force replaces it: 201"
req GET /api/v1/packages/hns/api/1.1.0/helm
is "$STATUS $(jqb .package) $(jqb .release)" "200 hns/api 1.1.0" \
	"a ChartMuseum upload is the appr release hns/api 1.1.0, media type helm"
index -H "If-None-Match: $etag"
is "$STATUS $(versions api)" "200 1.1.0,1.0.0" "after uploads: the ETag changed, the index lists them"
ok "$([ "$(header ETag)" != "$etag" ]; echo $?)" "a new ETag after a change"
cm GET /charts
is "$STATUS $(jqb 'keys | join(",")') $(jqb '[.api[].version] | join(",")')" "200 api,db,helm2,web 1.1.0,1.0.0" \
	"GET charts: every chart and its versions"
is "$(jqb '.web[0] | keys | join(",")')" "$(jq -r '.entries.web[0] | keys | join(",")' <<<"$INDEX")" \
	"a version has the fields of the index"
cm GET /charts/web
is "$STATUS $(jqb '[.[].version] | join(",")')" "200 2.0.0-rc.1,1.1.0,1.0.0" "GET charts/web"
cm GET /charts/web/1.1.0
is "$STATUS $(jqb .version) $(jqb .digest)" "200 1.1.0 $(jq -r '.entries.web[1].digest' <<<"$INDEX")" \
	"GET charts/web/1.1.0"
cm GET /charts/web/latest
is "$STATUS $(jqb .version)" "200 1.1.0" "latest: the newest stable version"
cm HEAD /charts/web/1.0.0
is "$STATUS [$(cat "$BODYFILE")]" "200 []" "HEAD of a version: 200, no body"
cm HEAD /charts/nope
is "$STATUS" 404 "HEAD of an absent chart: 404"
cm GET /charts/nope
is "$STATUS $(jqb 'keys | join(",")')" "404 error" "an absent chart: 404 {\"error\"}"
cm GET /charts/web/9.0.0
is "$STATUS" 404 "an absent version: 404"

# ---- refused charts: 422 {"error"}, nothing written ----
blobs0=$(blob_files)
refuse() { # WHAT FILE MESSAGE-ERE
	local n0
	n0=$(blob_files)
	cm POST /charts --data-binary "@$2"
	is "$STATUS $(jqb 'keys | join(",")')" "422 error" "$1: 422 {\"error\"}"
	like "$(jqb .error)" "$3" "$1: says why"
	is "$(blob_files)" "$n0" "$1: no blob written"
}
mkbad() { # NAME: a work dir; then tar it to $T/NAME.tgz with tarbad NAME MEMBERS...
	rm -rf "$T/bad"; mkdir -p "$T/bad"
}
tarbad() {
	local n=$1; shift
	tar -C "$T/bad" -czf "$T/$n.tgz" "$@"
	printf '%s\n' "$T/$n.tgz"
}
mkbad; mkdir "$T/bad/x"; echo 'a: 1' >"$T/bad/x/values.yaml"
refuse "no Chart.yaml" "$(tarbad nochart x)" 'no Chart.yaml'
mkbad; printf 'apiVersion: v2\nname: r\nversion: 1.0.0\n' >"$T/bad/Chart.yaml"
refuse "Chart.yaml at the archive root" "$(tarbad root Chart.yaml)" 'archive root'
mkbad; mkdir "$T/bad/x"; printf 'apiVersion: v2\nname: x\nversion: 1.0\n' >"$T/bad/x/Chart.yaml"
refuse "version 1.0" "$(tarbad badver x)" 'semantic version'
mkbad; mkdir "$T/bad/x"; printf 'apiVersion: v2\nname: ../x\nversion: 1.0.0\n' >"$T/bad/x/Chart.yaml"
refuse "name ../x (CVE-2019-1000009)" "$(tarbad dotdot x)" 'basename'
mkbad; mkdir "$T/bad/x"; printf 'apiVersion: v3\nname: x\nversion: 1.0.0\n' >"$T/bad/x/Chart.yaml"
refuse "apiVersion v3" "$(tarbad v3 x)" 'v1 nor v2'
mkbad; mkdir "$T/bad/x"; printf 'apiVersion: v2\nname: x\nversion: 1.0.0\ntype: plugin\n' >"$T/bad/x/Chart.yaml"
refuse "type plugin" "$(tarbad plugin x)" 'application nor library'
mkbad; mkdir "$T/bad/x" "$T/bad/y"; printf 'apiVersion: v2\nname: x\nversion: 1.0.0\n' >"$T/bad/x/Chart.yaml"
echo 1 >"$T/bad/y/z"
refuse "two top folders" "$(tarbad two x y)" 'one top folder'
mkbad; mkdir "$T/bad/x"; printf 'apiVersion: v2\nname: x\nversion: 1.0.0\n' >"$T/bad/x/Chart.yaml"
# random text: a file above the limit that gzip cannot shrink past the expansion bound
head -c 3932200 /dev/urandom | base64 -w 0 | head -c $((5 * 1024 * 1024 + 1)) >"$T/bad/x/big"
refuse "a file above 5 MiB" "$(tarbad big x)" '5 MiB'
printf 'not a tarball' >"$T/junk.tgz"
cm POST /charts --data-binary "@$T/junk.tgz"
like "$STATUS $(jqb 'keys | join(",")')" '^4[0-9][0-9] error$' "not gzip: a 4xx {\"error\"}"
cm POST /charts -F "other=@$api"
is "$STATUS $(jqb .error)" '400 no form field "chart" in the upload' "a form without chart: 400"
is "$(blob_files)" "$blobs0" "nothing refused left a blob"
index
is "$(jq -r '.entries | keys | join(",")' <<<"$INDEX")" "api,db,helm2,web" "the refused charts are not in the index"

# ---- deletions through either API ----
cm DELETE /charts/api/1.0.0
is "$STATUS $(jqb -c .)" '200 {"deleted":true}' "DELETE charts/api/1.0.0: deleted"
req DELETE /api/v1/packages/hns/web/1.1.0/helm
is "$STATUS" 200 "appr DELETE of web 1.1.0"
index
is "$(versions api) $(versions web)" "1.1.0 2.0.0-rc.1,1.0.0" "both deletions left the index"
req GET /api/v1/packages/hns/api/1.0.0/helm
is "$STATUS" 404 "the ChartMuseum deletion removed the appr release"
cm DELETE /charts/api/1.0.0
is "$STATUS $(jqb 'keys | join(",")') $(jqb .error)" "404 error chart api has no version 1.0.0" \
	"deleting it again: 404 {\"error\"} in the words of a chart repository"
ok "$([ "$(jq -r .generated <<<"$INDEX")" \> "$gen1" ]; echo $?)" "generated moved with the changes"

# ---- an empty namespace ----
req GET /helm/empty/index.yaml
is "$STATUS $("$YAML2JSON" <"$BODYFILE" | jq -c .entries)" "200 {}" "an empty namespace: entries {}"
ok "$(! ls "$APPR_DATA/cache/helm/" 2>/dev/null | grep -q -- '-empty\.yaml$'; echo $?)" \
	"a namespace nothing was stored in leaves no kept index (any name can be asked for)"
req GET /helm/bad%20ns/index.yaml
is "$STATUS" 404 "a namespace name that cannot be: 404"

# ---- permissions: private packages, Basic with a password or a token ----
appr_stop
appr_start APPR_AUTH=tokens
printf 'pw-1\n' | appr_admin user add ann --password-stdin || bail "appr-admin user add"
printf 'pw-2\n' | appr_admin user add bob --password-stdin || bail "appr-admin user add"
appr_admin grant ann hns write && appr_admin grant bob hns read || bail "appr-admin grant"
tok=$(appr_admin token create --user bob 2>/dev/null) || bail "appr-admin token create"
ann=(-u ann:pw-1)
push hns/secret "$(mkhelm secret 1.0.0)" 1.0.0 helm '.visibility = "private"' 
is "$STATUS" 401 "a push without credentials is refused"
pushbody "$T/secret-1.0.0.tgz" 1.0.0 helm '.visibility = "private"' >"$T/p.json"
req POST /api/v1/packages/hns/secret "${ann[@]}" -H 'Content-Type: application/json' --data-binary "@$T/p.json"
is "$STATUS" 200 "ann pushes a private chart"
cm POST /charts --data-binary "@$(mkhelm pub 1.0.0)"
is "$STATUS" 401 "ChartMuseum upload without credentials: 401"
cm POST /charts "${ann[@]}" --data-binary "@$T/pub-1.0.0.tgz"
is "$STATUS" 201 "ChartMuseum upload with Basic ann:password: 201"
index
is "$STATUS $(jq -r '.entries | has("secret")' <<<"$INDEX") $(jq -r '.entries | has("pub")' <<<"$INDEX")" \
	"200 false true" "anonymous: the private chart is not in the index"
anon_etag=$(header ETag)
req GET /helm/hns/charts/secret-1.0.0.tgz
is "$STATUS" 404 "anonymous: the private chart does not download"
index -u "bob:pw-2"
is "$(jq -r '.entries | has("secret")' <<<"$INDEX")" "true" "bob (read on hns), Basic password: the private chart is listed"
ok "$([ "$(header ETag)" != "$anon_etag" ]; echo $?)" "the ETag differs between the two views"
index -u "bob:$tok"
is "$STATUS $(jq -r '.entries | has("secret")' <<<"$INDEX")" "200 true" "bob, Basic with an API token as the password"
req GET /helm/hns/charts/secret-1.0.0.tgz -u "bob:$tok"
is "$STATUS" 200 "bob downloads the private chart"
index -u "bob:wrong"
is "$STATUS" 401 "a wrong password: 401"
cm GET /charts -u "bob:pw-2"
is "$STATUS $(jqb 'has("secret")')" "200 true" "ChartMuseum GET charts shows bob the private chart"
cm DELETE /charts/pub/1.0.0 -u "bob:pw-2"
is "$STATUS $(jqb 'keys | join(",")')" "403 error" "bob (read) cannot delete: 403 {\"error\"}"
