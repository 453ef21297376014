#!/bin/bash
# t-push.sh - push and pull byte for byte, the JSON pull forms, blobs by digest and
# their headers, force pushes, metadata, media types, deleting manifests.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 74

appr_start
T=$APPR_TMP
P=/api/v1/packages/ns/app

v1=$(mkchart app 1.0.0 "$T/c1")
d1=$(digest_of "$v1")

# ---- push, pull ----
push ns/app "$v1" 1.0.0 helm
is "$STATUS $(jq -c . "$BODYFILE" 2>/dev/null)" '200 {"status":"ok"}' "push ns/app 1.0.0 helm"

req GET "$P/1.0.0/helm/pull"
is "$STATUS" 200 "pull answers 200"
cmp -s "$BODYFILE" "$v1"
ok $? "pull body is the pushed tar.gz, byte for byte"
like "$(header Content-Type)" '^application/x-gzip' "pull Content-Type application/x-gzip"
is "$(header Content-Disposition)" 'attachment; filename="ns_app_1.0.0.tar.gz"' "pull Content-Disposition"
is "$(header Content-Length)" "$(stat -c %s "$v1")" "pull Content-Length is the blob size"

req GET "$P/1.0.0/helm/pull/json"
is "$STATUS" 200 "pull/json answers 200"
like "$(header Content-Type)" '^application/json' "pull/json Content-Type application/json"
jis 'keys_unsorted | sort | join(",")' 'blob,filename,media_type,package,release' \
	"pull/json keys: package release media_type filename blob"
jis '[.package, .release, .media_type, .filename] | join(" ")' 'ns/app 1.0.0 helm ns_app_1.0.0.tar.gz' \
	"pull/json package, release, media_type, filename"
jqb .blob | base64 -d 2>/dev/null | cmp -s - "$v1"
ok $? "pull/json blob is the base64 of the tar.gz"
cp "$BODYFILE" "$T/pull.json"

req GET "$P/1.0.0/helm/pull?format=json"
is "$STATUS" 200 "pull?format=json answers 200"
jq -S . "$BODYFILE" >"$T/a.json" 2>/dev/null
jq -S . "$T/pull.json" >"$T/b.json"
cmp -s "$T/a.json" "$T/b.json"
ok $? "pull?format=json is the same JSON as pull/json"

# ---- blobs by digest ----
req GET "$P/blobs/sha256/$d1"
is "$STATUS" 200 "blob by digest answers 200"
cmp -s "$BODYFILE" "$v1"
ok $? "blob by digest is the tar.gz, byte for byte"
like "$(header Content-Type)" '^application/x-gzip' "blob Content-Type application/x-gzip"
is "$(header Content-Disposition)" "attachment; filename=\"ns_app_${d1:0:8}.tar.gz\"" "blob Content-Disposition"
like "$(header ETag)" "^\"?$d1\"?\$" "blob ETag is the digest"
like "$(header Cache-Control)" 'immutable' "blob Cache-Control immutable"

req GET "$P/blobs/sha256/$d1/json"
is "$STATUS" 200 "blob json answers 200"
jis '[.package, .release, .filename] | join(" ")' "ns/app $d1 ns_app_${d1:0:8}.tar.gz" \
	"blob json: package, release = digest, filename ns_name_DIGEST8.tar.gz"
jqb .blob | base64 -d 2>/dev/null | cmp -s - "$v1"
ok $? "blob json: blob is the base64 of the tar.gz"
cp "$BODYFILE" "$T/blob.json"
req GET "$P/blobs/sha256/$d1?format=json"
jq -S . "$BODYFILE" >"$T/a.json" 2>/dev/null
jq -S . "$T/blob.json" >"$T/b.json"
is "$STATUS $(cmp -s "$T/a.json" "$T/b.json" && echo same)" "200 same" "blob ?format=json is the same as /json"

req GET "$P/blobs/sha256/$(printf '%064d' 0)"
is_error 404 package-not-found "absent blob digest: 404 package-not-found"
req GET "/api/v1/packages/other/pkg/blobs/sha256/$d1"
is_error 404 package-not-found "a blob is only served under a package that references it"

# ---- force ----
v1b=$(mkchart app 1.0.0 "$T/c2")
# different content: another values.yaml
work=$(mktemp -d "$T/w.XXXXXX")
tar -C "$work" -xzf "$v1b"
printf 'extra: 1\n' >>"$work/app/values.yaml"
tar -C "$work" -czf "$v1b" app
d1b=$(digest_of "$v1b")
[ "$d1b" != "$d1" ]
ok $? "the second 1.0.0 tarball differs (digest $d1b)"
blobs=$(blob_files)

push ns/app "$v1b" 1.0.0 helm
is_error 409 package-exists "push of an existing release+media type without force: 409 package-exists"
is "$(blob_files)" "$blobs" "the refused push wrote no blob"
req GET "$P/1.0.0/helm/pull"
cmp -s "$BODYFILE" "$v1"
ok $? "after the 409 the old content is still served"

push ns/app "$v1b" 1.0.0 helm '.force = true'
is "$STATUS $(jqb .status)" "200 ok" 'push with "force": true answers 200'
is "$(blob_files)" "$blobs" "the forced push replaced the blob (the old one is collected)"
req GET "$P/blobs/sha256/$d1"
is_error 404 package-not-found "the replaced blob is no longer served by digest"
req GET "$P/1.0.0/helm/pull"
cmp -s "$BODYFILE" "$v1b"
ok $? "after the forced push the new content is served"
req GET "$P/1.0.0/helm"
jis .content.digest "$d1b" "the manifest digest changed with the forced push"

v1c=$(mkchart app 1.0.0 "$T/c3")
tar -C "$work" -xzf "$v1c"
printf 'extra: 2\n' >>"$work/app/values.yaml"
tar -C "$work" -czf "$v1c" app
pushbody "$v1c" 1.0.0 helm >"$T/force.json"
req POST "$P?force=true" -H 'Content-Type: application/json' --data-binary "@$T/force.json"
is "$STATUS $(jqb .status)" "200 ok" 'push with ?force=true answers 200'
req GET "$P/1.0.0/helm/pull"
cmp -s "$BODYFILE" "$v1c"
ok $? "after the ?force=true push the newest content is served"

push ns/app "$v1" 1.0.0 helm '.force = "true"'
is "$STATUS" 200 'push with "force": "true" (a string) answers 200'
req GET "$P/1.0.0/helm/pull"
cmp -s "$BODYFILE" "$v1"
ok $? 'the "force": "true" push replaced the content'
push ns/app "$v1b" 1.0.0 helm '.force = false'
is_error 409 package-exists '"force": false is no force'

# ---- metadata ----
meta='{"a":1,"nested":{"b":[1,"x",null,true,2.5]},"s":"\u00e9t\u00e9 \"quoted\"","empty":{}}'
v2=$(mkchart app 2.0.0 "$T/c4")
push ns/app "$v2" 2.0.0 helm ".metadata = $meta"
is "$STATUS" 200 "push 2.0.0 with metadata"
req GET "$P/2.0.0/helm"
is "$(jqb '.metadata' -S -c)" "$(jq -S -c . <<<"$meta")" "metadata comes back as the same JSON (single view)"
req GET "$P"
is "$(jqb '.[] | select(.release == "2.0.0") | .metadata' -S -c)" "$(jq -S -c . <<<"$meta")" \
	"metadata comes back as the same JSON (package view)"
push ns/app "$v2" 2.0.1 helm '.metadata = [1, "two"]'
req GET "$P/2.0.1/helm"
is "$(jqb '.metadata' -c)" '[1,"two"]' "metadata may be any JSON (an array)"

# ---- media types ----
push ns/app "$v2" 2.0.0 kpm
is "$STATUS" 200 "push 2.0.0 as a second media type (kpm)"
req GET "$P/2.0.0"
is "$STATUS $(jqb '[.[].mediaType] | sort | join(",")')" \
	"200 application/vnd.appr.package-manifest.helm.v0.json,application/vnd.appr.package-manifest.kpm.v0.json" \
	"release 2.0.0 has a helm and a kpm manifest"
req GET "$P/2.0.0/kpm/pull"
cmp -s "$BODYFILE" "$v2"
ok $? "pull of the kpm manifest"
req GET "$P?media_type=kpm"
is "$STATUS $(jqb '[.[] | .release + "/" + .mediaType] | join(" ")')" \
	"200 2.0.0/application/vnd.appr.package-manifest.kpm.v0.json" "package view ?media_type=kpm filters"

req GET "$P/2.0.0/-"
is_error 400 invalid-usage '"-" with two media types: 400 invalid-usage'
like "$(jqb .message)" 'helm.*kpm|kpm.*helm' '"-" error names the media types'
req GET "$P/1.0.0/-"
is "$STATUS $(jqb .mediaType)" "200 application/vnd.appr.package-manifest.helm.v0.json" \
	'"-" with one media type is that one'
req GET "$P/1.0.0/-/pull"
cmp -s "$BODYFILE" "$v1"
ok $? 'pull through "-"'

v3=$(mkchart app 3.0.0 "$T/c5")
push ns/app "$v3" 3.0.0 application/vnd.appr.package-manifest.jsonnet.v0.json
is "$STATUS" 200 "push with a long media type"
req GET "$P/3.0.0/jsonnet"
is "$STATUS $(jqb .mediaType) $(jqb .content.mediaType)" \
	"200 application/vnd.appr.package-manifest.jsonnet.v0.json application/vnd.appr.package.jsonnet.v0.tar+gzip" \
	"the long media type was reduced to jsonnet"
push ns/app "$v3" 3.0.0 application/vnd.cnr.package-manifest.docker-compose.v0.json
req GET "$P/3.0.0/docker-compose"
is "$STATUS $(jqb .mediaType)" "200 application/vnd.appr.package-manifest.docker-compose.v0.json" \
	"a vnd.cnr. long media type is accepted too"
v4=$(mkchart app 4.0.0 "$T/c6")
push ns/app "$v4" 4.0.0 ""
is "$STATUS" 200 "push without media_type"
req GET "$P/4.0.0"
is "$STATUS $(jqb '[.[].mediaType] | join(",")')" "200 application/vnd.appr.package-manifest.kpm.v0.json" \
	"media_type defaults to kpm"

# extra fields are ignored
v5=$(mkchart app 5.0.0 "$T/c7")
push ns/app "$v5" 5.0.0 helm '.package = "other/thing"' '.name = "x"' '.organization = "y"'
is "$STATUS" 200 "push with extra fields package, name, organization"
req GET "$P/5.0.0/helm"
is "$STATUS $(jqb .package)" "200 ns/app" "the URL names the package, not the body"
req GET /api/v1/packages/other/thing
is_error 404 package-not-found "the body's package field created nothing"

# ---- delete ----
req DELETE "$P/2.0.0/kpm"
is "$STATUS $(jqb -c '[.status, .package, .release]')" '200 ["deleted","ns/app","2.0.0"]' \
	"DELETE manifest answers {status: deleted, package, release}"
req GET "$P/2.0.0/kpm"
is_error 404 package-not-found "the deleted manifest is gone"
req GET "$P/2.0.0/kpm/pull"
is_error 404 package-not-found "its pull is gone"
req GET "$P/2.0.0/helm"
is "$STATUS" 200 "the other media type of the release stays"
req DELETE "$P/2.0.0/helm"
is "$STATUS" 200 "DELETE the last manifest of 2.0.0"
req GET "$P/2.0.0"
is "$STATUS" 404 "the release went with its last manifest"
req DELETE "$P/2.0.0/helm"
is_error 404 package-not-found "DELETE of an absent manifest: 404"

for r in 1.0.0/helm 2.0.1/helm 3.0.0/jsonnet 3.0.0/docker-compose 4.0.0/kpm 5.0.0/helm; do
	req DELETE "$P/$r"
	[ "$STATUS" = 200 ] || diag "DELETE $P/$r: $STATUS $BODY"
done
req GET "$P"
is_error 404 package-not-found "the package went with its last release"
req GET /api/v1/packages
is "$STATUS $(jqb '[.[].name | select(. == "ns/app")] | length')" "200 0" "the deleted package is not listed"
push ns/app "$v1" 1.0.0 helm
is "$STATUS" 200 "a deleted release can be pushed again without force"

# ---- blobs shared by two packages; collection ----
req DELETE "$P/1.0.0/helm"
blobs=$(blob_files)
push ns/s1 "$v2" 1.0.0 helm
push ns/s2 "$v2" 1.0.0 helm
d2=$(digest_of "$v2")
req DELETE /api/v1/packages/ns/s1/1.0.0/helm
is "$STATUS" 200 "delete ns/s1, whose blob ns/s2 shares"
req GET /api/v1/packages/ns/s2/1.0.0/helm/pull
cmp -s "$BODYFILE" "$v2"
ok $? "ns/s2 still serves the shared blob"
req GET "/api/v1/packages/ns/s2/blobs/sha256/$d2"
is "$STATUS" 200 "and serves it by digest"
req GET "/api/v1/packages/ns/s1/blobs/sha256/$d2"
is_error 404 package-not-found "the deleted ns/s1 does not"
req DELETE /api/v1/packages/ns/s2/1.0.0/helm
is "$(blob_files)" "$blobs" "deleting the last reference collects the blob"
