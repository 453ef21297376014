#!/bin/bash
# t-compat.sh - what the original appr server and its client do that a client can
# tell apart: media_type narrowing of the package list, names and channels with
# upper case, dots and '+', an exact release found across build metadata, ~=
# queries, malformed digests, paths a web server would rewrite, CORS.
# Runs in every variant (store x web server).
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 54

appr_start
T=$APPR_TMP

# ---- GET /api/v1/packages?media_type=X narrows each package to X ----
push cmp/app "$(mkchart app 1.0.0 "$T/c")" 1.0.0 helm
push cmp/app "$(mkchart app 1.0.0 "$T/k")" 1.0.0 kpm
push cmp/app "$(mkchart app 2.0.0-rc1 "$T/k")" 2.0.0-rc1 kpm
is "$STATUS" 200 "push cmp/app 1.0.0 helm+kpm, 2.0.0-rc1 kpm"
# one package as "default releases manifests"
pkg() {
	jqb ".[] | select(.name == \"$1\") | \"\(.default) \(.releases | join(\",\")) \(.manifests | join(\",\"))\""
}
req GET "/api/v1/packages?media_type=helm"
is "$STATUS $(pkg cmp/app)" "200 1.0.0 1.0.0 helm,kpm" \
	"media_type=helm: default and releases over the helm releases only"
req GET "/api/v1/packages?media_type=kpm"
is "$(pkg cmp/app)" "2.0.0-rc1 2.0.0-rc1,1.0.0 kpm" "media_type=kpm: the kpm pre-release is the default"
req GET "/api/v1/packages?media_type=application/vnd.appr.package-manifest.helm.v0.json"
is "$(pkg cmp/app)" "1.0.0 1.0.0 helm,kpm" "a long media type narrows the same way"
req GET "/api/v1/packages"
is "$(pkg cmp/app)" "2.0.0-rc1 2.0.0-rc1,1.0.0 kpm" "no media_type: every release"
req GET "/api/v1/packages?media_type=docker-compose"
is "$STATUS $(pkg cmp/app)" "200 " "media_type=docker-compose: not listed"

# ---- names as the original accepts them, case-sensitive ----
chart=$(mkchart web 1.0.0 "$T/w")
push Coreos/Web.App "$chart" 1.0.0 helm
is "$STATUS" 200 "push Coreos/Web.App (upper case and a dot)"
push _x/-y "$chart" 1.0.0 helm
is "$STATUS" 200 "push _x/-y (leading _ and -)"
push a.b/c_d-E.f "$chart" 1.0.0 helm
is "$STATUS" 200 "push a.b/c_d-E.f"
req GET /api/v1/packages/Coreos/Web.App/1.0.0/helm
is "$STATUS $(jqb .package)" "200 Coreos/Web.App" "Coreos/Web.App as sent"
req GET /api/v1/packages/coreos/web.app
is_error 404 package-not-found "coreos/web.app is another package (case-sensitive)"
req GET /api/v1/packages/_x/-y/1.0.0/helm/pull
is "$STATUS $(gzip -dc "$BODYFILE" | sha256sum | cut -d' ' -f1)" "200 $(digest_of "$chart")" \
	"pull _x/-y gives the bytes pushed"
req GET "/api/v1/packages?namespace=Coreos"
is "$STATUS $(jqb '[.[].name] | join(",")')" "200 Coreos/Web.App" "namespace=Coreos lists it"
req GET "/api/v1/packages?namespace=coreos"
is "$STATUS $(jqb 'length')" "200 0" "namespace=coreos does not"
blobs0=$(blob_files)
push "x/$(printf 'n%.0s' {1..65})" "$chart" 1.0.0 helm
is_error 400 invalid-usage "a 65-character name: 400"
push "x/a%01b" "$chart" 1.0.0 helm
is_error 400 invalid-usage "a control character in a name: 400"
push "x/a%20b" "$chart" 1.0.0 helm
is_error 400 invalid-usage "a space in a name: 400"
push "x/a:b" "$chart" 1.0.0 helm
is_error 400 invalid-usage "a colon in a name: 400"
is "$(blob_files)" "$blobs0" "refused names wrote no blob"

# ---- channel names ----
P=/api/v1/packages/Coreos/Web.App
for c in Beta 1.0+x _rc; do
	req POST "$P/channels/$c/1.0.0"
	is "$STATUS $(jqb .name) $(jqb .current)" "200 $c 1.0.0" "channel $c: created"
done
req GET "$P/channels/Beta"
is "$STATUS $(jqb .current)" "200 1.0.0" "GET channel Beta"
req GET "$P/channels/beta"
is_error 404 channel-not-found "channel beta is another channel"
req GET "$P/channels"
is "$(jqb '[.[].name] | sort | join(",")')" "1.0+x,Beta,_rc" "the channel list"
req POST "$P/channels/a%20b/1.0.0"
is_error 400 invalid-usage "a space in a channel name: 400"

# ---- exact releases across build metadata; ~= ----
P=/api/v1/packages/cmp/bm
push cmp/bm "$(mkchart bm 0.9.1+build "$T/b")" 0.9.1+build helm
push cmp/bm "$(mkchart bm 0.9.0 "$T/b")" 0.9.0 helm
is "$STATUS" 200 "push cmp/bm 0.9.0 and 0.9.1+build"
req GET "$P/0.9.1/helm"
is "$STATUS $(jqb .release)" "200 0.9.1+build" "@0.9.1 finds 0.9.1+build"
req GET "$P/0.9.1"
is "$STATUS $(jqb '.[0].release')" "200 0.9.1+build" "the release 0.9.1 shows 0.9.1+build"
req GET "$P/0.9.1/helm/pull"
is "$STATUS $(header Content-Disposition)" '200 attachment; filename="cmp_bm_0.9.1+build.tar.gz"' \
	"pull 0.9.1 gets 0.9.1+build"
req GET "$P/0.9.2/helm"
is_error 404 package-not-found "0.9.2 is still absent"
req GET "$P/~=0.9.0/helm"
is "$STATUS $(jqb .release)" "200 0.9.1+build" "~=0.9.0 picks the highest 0.9.x"
req GET "$P/~=0.8/helm"
is "$STATUS $(jqb .release)" "200 0.9.1+build" "~=0.8 means <1.0.0"
push cmp/bm "$(mkchart bm 0.9.1+other "$T/b")" 0.9.1+other helm
req GET "$P/0.9.1/helm"
is_error 404 package-not-found "two builds of 0.9.1: 0.9.1 names neither"

# ---- malformed digests are absent blobs ----
req GET /api/v1/packages/cmp/app/blobs/sha256/12345
is_error 404 package-not-found "blobs/sha256/12345: 404 package-not-found"
req GET "/api/v1/packages/cmp/app/blobs/sha256/$(printf 'A%.0s' {1..64})/json"
is_error 404 package-not-found "an upper-case digest: 404 package-not-found"

# ---- a path a web server would rewrite: 400, nothing written ----
blobs0=$(blob_files)
body=$(pushbody "$chart" 1.0.0 helm)
printf '%s' "$body" >"$T/push.json"
for path in '/api/v1/packages/a%2F..%2Fb/name' '/api/v1/packages/a%2fb/name' \
	'/api/v1/packages/a/../b/name' '/api/v1/packages/a/%2e%2E/b/name' \
	'/api/v1//packages/b/name' '/api/v1/packages/./b/name'; do
	req POST "$path" --path-as-is -H 'Content-Type: application/json' --data-binary "@$T/push.json"
	is_error 400 invalid-usage "POST $path: 400"
done
req GET /api/v1/packages/b/name
is_error 404 package-not-found "b/name was not written"
is "$(blob_files)" "$blobs0" "no blob written either"

# ---- CORS ----
req GET /version
is "$(header Access-Control-Allow-Origin)" "*" "Access-Control-Allow-Origin: * by default"
req GET /api/v1/packages/no/such
is "$STATUS $(header Access-Control-Allow-Origin)" "404 *" "errors carry it too"
req OPTIONS /api/v1/packages/cmp/app -H 'Origin: http://127.0.0.1:9' \
	-H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: authorization'
is "$STATUS $(header Access-Control-Allow-Methods)" "204 POST, GET, HEAD, OPTIONS" \
	"OPTIONS: 204 preflight with the route's methods"
like "$(header Access-Control-Allow-Headers)" 'Authorization' "Allow-Headers names Authorization"
like "$(header Access-Control-Allow-Headers)" 'Content-Type' "Allow-Headers names Content-Type"
is "$(header Access-Control-Max-Age) $(header Access-Control-Allow-Origin) $(header Allow)" \
	"86400 * POST, GET, HEAD, OPTIONS" "Max-Age, Allow-Origin and Allow on the preflight"
req PUT /api/v1/packages/cmp/app
like "$STATUS $(header Allow)" '^405 .*OPTIONS' "405 lists OPTIONS in Allow"
req OPTIONS /no/such/route
is_error 404 package-not-found "OPTIONS on no route: 404"

appr_stop
appr_start APPR_CORS_ALLOW_ORIGIN=
req GET /version
is "$STATUS [$(header Access-Control-Allow-Origin)]" "200 []" "cors_allow_origin empty: no CORS header"
req OPTIONS /api/v1/packages
is "$STATUS [$(header Access-Control-Allow-Methods)] $(header Allow)" "204 [] GET, HEAD, OPTIONS" \
	"cors_allow_origin empty: OPTIONS answers Allow only"
