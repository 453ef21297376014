#!/bin/bash
# t-basic.sh - /version, the original cnr-server README demo, manifest shapes, both
# route prefixes with and without a trailing slash, HEAD, Content-Type.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 98

appr_start
T=$APPR_TMP

# ---- /version ----
req GET /version
is "$STATUS" 200 "GET /version answers 200"
like "$(header Content-Type)" '^application/json' "GET /version is application/json"
jis '.["appr-api"] | type' string '/version: {"appr-api": "<version>"}'
like "$(jqb '.["appr-api"]')" '^[0-9]+\.[0-9]+' '/version: appr-api looks like a version'

# ---- the README demo, with curl as it shows it (curl -d: form content type) ----
tgz=$(mkchart elasticsearch 2.2.1 "$T/charts")
size=$(stat -c %s "$tgz")
digest=$(digest_of "$tgz")
STATUS=$(curl -s -o "$T/out" -w '%{http_code}' -XPOST "$BASE/api/v1/packages/myname/elasticsearch" \
	-d '{"blob": "'"$(base64 -w0 "$tgz")"'", "release": "2.2.1", "media_type": "helm"}')
is "$STATUS" 200 "README push with curl -d answers 200"
is "$(jq -c . "$T/out" 2>/dev/null)" '{"status":"ok"}' 'README push answers {"status": "ok"}'

req GET /api/v1/packages/myname/elasticsearch
is "$STATUS" 200 "show package answers 200"
jis 'type' array "show package: a JSON array"
jis 'length' 1 "show package: one manifest"
jis '.[0] | keys_unsorted | sort | join(",")' 'content,created_at,mediaType,metadata,package,release' \
	"list manifest keys: package release mediaType content metadata created_at"
jis '.[0].package' myname/elasticsearch "manifest package"
jis '.[0].release' 2.2.1 "manifest release"
jis '.[0].mediaType' application/vnd.appr.package-manifest.helm.v0.json "manifest mediaType, long form"
jis '.[0].content | keys_unsorted | sort | join(",")' 'digest,mediaType,size,urls' \
	"content keys: mediaType digest size urls"
jis '.[0].content.mediaType' application/vnd.appr.package.helm.v0.tar+gzip "content mediaType"
jis '.[0].content.digest' "$digest" "content digest = sha256 of the uncompressed tar"
jis '.[0].content.size | tostring' "$size" "content size = gzip byte size (a number)"
jis '.[0].content.size | type' number "content size is a JSON number"
jis '.[0].content.urls | tojson' '[]' "content urls []"
jis '.[0].metadata | tojson' null "metadata null when none was pushed"
like "$(jqb '.[0].created_at')" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}$' \
	"created_at: UTC ISO-8601 with microseconds, no zone"
created=$(jqb '.[0].created_at')
# close to now (UTC): the same day, give or take one
today=$(date -u +%Y-%m-%d)
yesterday=$(date -u -d '1 day ago' +%Y-%m-%d)
like "${created%%T*}" "^($today|$yesterday)$" "created_at is today in UTC"

req GET /api/v1/packages/myname/elasticsearch/2.2.1/helm
is "$STATUS" 200 "single manifest answers 200"
jis 'keys_unsorted | sort | join(",")' 'channels,content,created_at,mediaType,metadata,package,release' \
	"single manifest keys add channels"
jis '.channels | tojson' '[]' "single manifest: channels []"
jis '.content.digest + " " + .created_at' "$digest $created" "single manifest agrees with the list"

req GET /api/v1/packages/myname/elasticsearch/2.2.1
is "$STATUS $(jqb 'length') $(jqb '.[0].mediaType')" \
	"200 1 application/vnd.appr.package-manifest.helm.v0.json" "release view: one manifest"

req GET /api/v1/packages/myname/elasticsearch/2.2.1/helm/pull
is "$STATUS" 200 "README pull answers 200"
cmp -s "$BODYFILE" "$tgz"
ok $? "README pull gives back the pushed tar.gz byte for byte"

# ---- every GET route, under /cnr and without prefix, with and without a trailing slash ----
req POST /cnr/api/v1/packages/myname/elasticsearch/channels/stable/2.2.1
is "$STATUS $(jqb .current)" "200 2.2.1" "POST under /cnr: add 2.2.1 to channel stable"

P=/api/v1/packages/myname/elasticsearch
routes=(
	"/version|json"
	"/api/v1/packages|json"
	"/api/v1/packages/search?q=elastic|json"
	"$P|json"
	"$P/2.2.1|json"
	"$P/2.2.1/helm|json"
	"$P/2.2.1/helm/pull|gzip"
	"$P/2.2.1/helm/pull/json|json"
	"$P/blobs/sha256/$digest|gzip"
	"$P/blobs/sha256/$digest/json|json"
	"$P/channels|json"
	"$P/channels/stable|json"
)
for r in "${routes[@]}"; do
	path=${r%|*}
	kind=${r#*|}
	req GET "$path"
	ref_status=$STATUS
	ref_sum=$(sha256sum <"$BODYFILE" | cut -c1-16)
	ref_len=$(stat -c %s "$BODYFILE")
	ctype=$(header Content-Type)
	if [ "$kind" = json ]; then
		jq -e . "$BODYFILE" >/dev/null 2>&1 && case $ctype in application/json*) true ;; *) false ;; esac
		ok $? "GET $path: 200, a JSON body, Content-Type application/json (got $STATUS, $ctype)"
	else
		[ "$ref_status" = 200 ] && case $ctype in application/x-gzip*) true ;; *) false ;; esac &&
			cmp -s "$BODYFILE" "$tgz"
		ok $? "GET $path: 200, the blob, Content-Type application/x-gzip (got $STATUS, $ctype)"
	fi
	# the same answer with a trailing slash, under /cnr, and both
	q=
	base=$path
	if [[ $path == *\?* ]]; then
		q="?${path#*\?}"
		base=${path%%\?*}
	fi
	for variant in "$base/$q" "/cnr$base$q" "/cnr$base/$q"; do
		req GET "$variant"
		is "$STATUS $(sha256sum <"$BODYFILE" | cut -c1-16)" "200 $ref_sum" "GET $variant answers as GET $path"
	done
	# HEAD: same status and Content-Length as the GET, no body
	req HEAD "$path"
	is "$STATUS $(header Content-Length) $(stat -c %s "$BODYFILE")" "200 $ref_len 0" \
		"HEAD $path: 200, Content-Length of the GET body ($ref_len), no body"
done

# ---- the other methods under /cnr and with trailing slashes ----
tgz2=$(mkchart kibana 1.0.0 "$T/charts")
pushbody "$tgz2" 1.0.0 helm >"$T/kibana.json"
req POST /cnr/api/v1/packages/myname/kibana/ -H 'Content-Type: application/json' --data-binary "@$T/kibana.json"
is "$STATUS $(jqb .status)" "200 ok" "POST /cnr/.../myname/kibana/ (prefix and trailing slash) pushes"
req GET /api/v1/packages/myname/kibana/1.0.0/helm/pull
cmp -s "$BODYFILE" "$tgz2"
ok $? "the package pushed under /cnr is served without prefix"
req POST /cnr/api/v1/packages/myname/kibana/channels/beta/1.0.0/
is "$STATUS $(jqb .name) $(jqb .current)" "200 beta 1.0.0" "POST channel release under /cnr with a trailing slash"
req DELETE /cnr/api/v1/packages/myname/kibana/channels/beta/1.0.0/
is "$STATUS $(jqb .status)" "200 deleted" "DELETE channel release under /cnr with a trailing slash"
req POST /api/v1/packages/myname/kibana/channels/beta/1.0.0
req DELETE /cnr/api/v1/packages/myname/kibana/channels/beta/
is "$STATUS $(jqb .action)" "200 delete" "DELETE channel under /cnr with a trailing slash"
req DELETE /cnr/api/v1/packages/myname/kibana/1.0.0/helm/
is "$STATUS $(jqb .status)" "200 deleted" "DELETE manifest under /cnr with a trailing slash"
req GET /cnr/api/v1/packages/myname/kibana/
is_error 404 package-not-found "the package is gone after its last manifest (GET under /cnr/.../)"

# ---- HEAD on an error: same status, no body ----
req GET /api/v1/packages/myname/nothing
ref_len=$(stat -c %s "$BODYFILE")
req HEAD /api/v1/packages/myname/nothing
is "$STATUS $(header Content-Length) $(stat -c %s "$BODYFILE")" "404 $ref_len 0" \
	"HEAD of an absent package: 404, Content-Length of the GET error body, no body"
