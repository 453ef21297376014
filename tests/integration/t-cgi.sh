#!/bin/bash
# t-cgi.sh - appr-fcgi as a plain CGI program (shared hosting): without a FastCGI
# socket on fd 0 it serves the one request in its environment and exits, as cgit's
# tests drive cgit: set the CGI variables, feed the body on stdin, read stdout.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 18

T=$APPR_TMP
export APPR_CONFIG=$T/appr.conf APPR_DATA_DIR=$T/cgi-data

# cgi METHOD URI [BODYFILE]: run one request; sets OUT (headers + body), RC,
# CGI_STATUS (the Status header's code) and CGI_BODY.
cgi() {
	local method=$1 uri=$2 body=${3:-/dev/null} len=
	[ "$body" = /dev/null ] || len=$(stat -c %s "$body")
	OUT=$(env GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 REQUEST_METHOD="$method" \
		SCRIPT_NAME=/cgi-bin/appr PATH_INFO="${uri%%\?*}" \
		QUERY_STRING="$( [[ $uri == *\?* ]] && printf '%s' "${uri#*\?}")" \
		REQUEST_URI="/cgi-bin/appr$uri" CONTENT_LENGTH="$len" \
		timeout 30 "$APPR_FCGI" <"$body" 2>"$T/stderr")
	RC=$?
	CGI_STATUS=$(printf '%s\n' "$OUT" | sed -n 's/^Status: \([0-9]*\).*/\1/p' | head -n 1)
	CGI_BODY=$(printf '%s\n' "$OUT" | sed '1,/^\r\{0,1\}$/d')
}

cgi GET /version
is "$RC $CGI_STATUS" "0 200" "GET /version: exit 0, Status 200"
like "$(printf '%s' "$CGI_BODY" | jq -r '."appr-api"')" '^[0-9]+\.[0-9]+\.[0-9]+' "version body is {\"appr-api\": VERSION}"
like "$OUT" $'Content-Type: application/json\r' "Content-Type header line"

tgz=$(mkchart cgichart 1.2.3 "$T/c")
pushbody "$tgz" 1.2.3 helm >"$T/body.json"
cgi POST /api/v1/packages/web/cgichart "$T/body.json"
is "$RC $CGI_STATUS" "0 200" "push through CGI (body on stdin)"
is "$CGI_BODY" '{"status":"ok"}' "push answers status ok"

cgi GET /cnr/api/v1/packages/web/cgichart/1.2.3/helm
is "$CGI_STATUS" 200 "show the manifest under /cnr"
is "$(printf '%s' "$CGI_BODY" | jq -r .content.digest)" "$(digest_of "$tgz")" "its digest is the tar's SHA-256"

# REQUEST_URI is raw and gets decoded; PATH_INFO arrives decoded and is not decoded again
OUT=$(env REQUEST_METHOD=GET REQUEST_URI='/api/v1/packages/web/cgichart/%3E%3D1.0/helm' \
	timeout 30 "$APPR_FCGI" </dev/null 2>/dev/null)
like "$OUT" '"release":"1\.2\.3"' "REQUEST_URI only: %3E%3D1.0 is decoded to the query >=1.0"
OUT=$(env REQUEST_METHOD=GET PATH_INFO='/api/v1/packages/web/cgichart/%3E%3D1.0/helm' \
	timeout 30 "$APPR_FCGI" </dev/null 2>/dev/null)
like "$OUT" '^Status: 422' "PATH_INFO is not decoded twice: a literal %3E%3D1.0 is no release"

cgi GET "/api/v1/packages?namespace=web"
is "$(printf '%s' "$CGI_BODY" | jq -c '[.[].name]')" '["web/cgichart"]' "list with a query string"

# the pull body is binary: keep the raw output in a file, compare its tail
env REQUEST_METHOD=GET PATH_INFO=/api/v1/packages/web/cgichart/1.2.3/helm/pull \
	timeout 30 "$APPR_FCGI" </dev/null >"$T/pull.out" 2>/dev/null
size=$(stat -c %s "$tgz")
tail -c "$size" "$T/pull.out" | cmp -s - "$tgz" &&
	grep -aq "^Content-Length: $size" "$T/pull.out"
ok $? "pull through CGI: Content-Length and the blob byte-exact"

head -c 40 "$T/body.json" >"$T/short.json"
OUT=$(env REQUEST_METHOD=POST PATH_INFO=/api/v1/packages/web/short CONTENT_LENGTH=1000 \
	APPR_DATA_DIR="$APPR_DATA_DIR" timeout 30 "$APPR_FCGI" <"$T/short.json" 2>/dev/null)
like "$OUT" '^Status: 400' "a body shorter than CONTENT_LENGTH is a 400, not a hang"
like "$OUT" '"code":"invalid-usage"' "with the JSON error body"
cgi GET /api/v1/packages/web/short
is "$CGI_STATUS" 404 "and nothing was stored"

cgi GET /no/such/route
is "$CGI_STATUS" 404 "unknown route: 404"

OUT=$(env REQUEST_METHOD=GET PATH_INFO=/version APPR_MAX_BODY_SIZE=lots \
	timeout 30 "$APPR_FCGI" </dev/null 2>"$T/stderr")
RC=$?
is "$RC" 1 "a bad configuration value: exit 1"
like "$OUT" '^Status: 500' "the CGI request still gets a 500"
like "$(cat "$T/stderr")" 'APPR_MAX_BODY_SIZE' "stderr names the bad key"
