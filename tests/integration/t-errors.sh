#!/bin/bash
# t-errors.sh - every error status the core produces, each with a JSON body
# {code, message}; a refused push writes nothing; body and decompression limits.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 74

appr_start
T=$APPR_TMP
good=$(mkchart app 1.0.0 "$T/c")

# post_raw PKG FILE: POST FILE as the push body of PKG.
post_raw() {
	req POST "/api/v1/packages/$1" -H 'Content-Type: application/json' --data-binary "@$2"
}

# refused PKG WHAT: after a refused push, PKG is still absent and blobs/ holds
# no new file.
blobs0=$(blob_files)
refused() {
	local st=$STATUS body=$BODY
	req GET "/api/v1/packages/$1"
	is "$STATUS blobs=$(blob_files)" "404 blobs=$blobs0" "$2: $1 still absent, no blob written"
	STATUS=$st
	BODY=$body
}

# ---- malformed bodies: 400 invalid-usage ----
printf '{"blob": ' >"$T/b"
post_raw ns/app "$T/b"
is_error 400 invalid-usage "truncated JSON: 400 invalid-usage"
refused ns/app "truncated JSON"

printf 'not json at all' >"$T/b"
post_raw ns/app "$T/b"
is_error 400 invalid-usage "not JSON: 400 invalid-usage"

printf '[1, 2]' >"$T/b"
post_raw ns/app "$T/b"
is_error 400 invalid-usage "a JSON array body: 400 invalid-usage"

printf '"a string"' >"$T/b"
post_raw ns/app "$T/b"
is_error 400 invalid-usage "a JSON string body: 400 invalid-usage"

: >"$T/b"
post_raw ns/app "$T/b"
is_error 400 invalid-usage "an empty body: 400 invalid-usage"

printf '{"release": "1.0.0", "media_type": "helm"}' >"$T/b"
post_raw ns/app "$T/b"
is_error 400 invalid-usage "no blob: 400 invalid-usage"
refused ns/app "no blob"

base64 -w0 "$good" | jq -R -c '{blob: ., media_type: "helm"}' >"$T/b"
post_raw ns/app "$T/b"
is_error 400 invalid-usage "no release: 400 invalid-usage"
refused ns/app "no release"

printf '{"blob": 5, "release": "1.0.0"}' >"$T/b"
post_raw ns/app "$T/b"
is_error 400 invalid-usage "blob not a string: 400 invalid-usage"

printf '{"blob": "@@@@not base64!!", "release": "1.0.0", "media_type": "helm"}' >"$T/b"
post_raw ns/app "$T/b"
is_error 400 invalid-usage "bad base64: 400 invalid-usage"
refused ns/app "bad base64"

printf 'hello, this is not gzip\n' >"$T/plain"
push ns/app "$T/plain" 1.0.0 helm
is_error 400 invalid-usage "blob not gzip: 400 invalid-usage"
refused ns/app "not gzip"

head -c $(($(stat -c %s "$good") / 2)) "$good" >"$T/half.tgz"
push ns/app "$T/half.tgz" 1.0.0 helm
is_error 400 invalid-usage "truncated gzip: 400 invalid-usage"
refused ns/app "truncated gzip"

printf 'gzip, but not a tar archive: %0600d\n' 0 | gzip >"$T/notar.gz"
push ns/app "$T/notar.gz" 1.0.0 helm
is_error 400 invalid-usage "gzip of something that is not a tar: 400 invalid-usage"
refused ns/app "not a tar"

mkdir -p "$T/evil"
printf 'owned\n' >"$T/evil/passwd"
tar -C "$T/evil" -czf "$T/dotdot.tgz" -P --transform 's,^,../../,' passwd
push ns/app "$T/dotdot.tgz" 1.0.0 helm
is_error 400 invalid-usage "tar entry ../../passwd: 400 invalid-usage"
refused ns/app "tar with ../"

tar -C "$T/evil" -czf "$T/abs.tgz" -P --transform 's,^,/etc/,' passwd
push ns/app "$T/abs.tgz" 1.0.0 helm
is_error 400 invalid-usage "tar entry /etc/passwd: 400 invalid-usage"
refused ns/app "tar with an absolute path"

# ---- names: 400 invalid-usage ----
long=$(printf 'a%.0s' $(seq 65))
# (upper case, '.', '_', '-' anywhere are fine: t-compat)
for name in "ns/$long" "$long/app" 'ns/a%20b' 'ns/a%2Bb' 'ns/a%01b' 'ns/a:b' 'ns/a%C3%A9' 'ns/a@b' 'ns/a%7Fb'; do
	push "$name" "$good" 1.0.0 helm
	is_error 400 invalid-usage "push to package name $name: 400 invalid-usage"
done
[ "$(blob_files)" = "$blobs0" ]
ok $? "no blob written by the refused names"
pushbody "$good" 1.0.0 helm >"$T/b"
req POST /api/v1/packages/ns/.. --path-as-is -H 'Content-Type: application/json' --data-binary "@$T/b"
like "$STATUS $(jqb .code)" '^4[0-9][0-9] [a-z-]+$' "push to ns/..: a 4xx JSON error"
push "ns/${long:1}" "$good" 1.0.0 helm
is "$STATUS" 200 "a 64-character name is fine"
req DELETE "/api/v1/packages/ns/${long:1}/1.0.0/helm"
is "$STATUS" 200 "(delete it again)"
req GET /api/v1/packages/n%20s/app
is_error 400 invalid-usage "GET with a space in the namespace: 400 invalid-usage"
req GET /api/v1/packages/ns/app/channels/Sta%20ble
is_error 400 invalid-usage "a bad channel name: 400 invalid-usage"

# ---- releases and media types ----
for rel in 1.0 v1.0.0 1.0.0- 01.0.0 '1.0.0+' 'latest'; do
	push ns/app "$good" "$rel" helm
	is_error 422 invalid-release "push of release \"$rel\": 422 invalid-release"
done
refused ns/app "bad releases"
push ns/app "$good" 1.0.0 'Helm!'
like "$STATUS $(jqb .code)" '^(400 invalid-usage|422 invalid-parameters)$' "a bad media type: 400 or 422"
refused ns/app "bad media type"
push ns/app "$good" 1.0.0 -
like "$STATUS $(jqb .code)" '^(400 invalid-usage|422 invalid-parameters)$' 'push with media type "-": 400 or 422'

# ---- routes and methods ----
for path in /api/v2/packages /nothing /api/v1/packages/ns/app/1.0.0/helm/pull/extra/x /cnr/api; do
	req GET "$path"
	like "$STATUS $(jqb .code) $(jqb .message | head -c 1)" '^404 [a-z-]+ .$' "unknown route GET $path: 404 with a JSON error"
done

req DELETE /version
like "$STATUS $(jqb .code)" '^405 [a-z-]+$' "DELETE /version: 405 with a JSON error"
like "$(header Allow)" 'GET' "405 Allow header names GET"
req PUT /api/v1/packages/ns/app -H 'Content-Type: application/json' --data-binary '{}'
like "$STATUS $(jqb .code)" '^405 [a-z-]+$' "PUT on a package: 405 with a JSON error"
like "$(header Allow)" 'GET.*POST|POST.*GET' "Allow names GET and POST for a package"
req POST /api/v1/packages
like "$STATUS $(jqb .code)" '^405 [a-z-]+$' "POST /api/v1/packages: 405 with a JSON error"
req POST /api/v1/packages/ns/app/1.0.0/helm/pull
like "$STATUS $(jqb .code) $(header Allow)" '^405 [a-z-]+ .*GET' "POST on pull: 405, Allow GET"

req GET "/api/v1/packages/ns/app/blobs/sha256/NOTADIGEST"
is "$STATUS $(jqb .code)" "404 package-not-found" "a malformed digest: 404 package-not-found, as the original"
req GET "/api/v1/packages/ns/app/blobs/sha256/12345"
is "$STATUS $(jqb .code)" "404 package-not-found" "a short digest: 404 package-not-found"

# ---- 409 leaves nothing ----
push ns/app "$good" 1.0.0 helm
is "$STATUS" 200 "push ns/app 1.0.0 (to conflict with)"
blobs1=$(blob_files)
mkdir -p "$T/o"
printf 'x: 1\n' >"$T/o/extra"
other=$T/other.tgz
tar -C "$T/o" -czf "$other" extra
push ns/app "$other" 1.0.0 helm
is_error 409 package-exists "push again without force: 409 package-exists"
is "$(blob_files)" "$blobs1" "the 409 wrote no blob"
req DELETE /api/v1/packages/ns/app/1.0.0/helm
is "$STATUS" 200 "(delete ns/app 1.0.0)"

# ---- limits: a registry with a 1M body limit and a 1M uncompressed limit ----
appr_stop
appr_start APPR_MAX_BODY_SIZE=1M APPR_MAX_UNCOMPRESSED_SIZE=1M
blobs0=$(blob_files)

mkdir -p "$T/big"
head -c 900000 /dev/urandom >"$T/big/random"
tar -C "$T/big" -czf "$T/big.tgz" random
push ns/big "$T/big.tgz" 1.0.0 helm
is_error 413 payload-too-large "a 1.2 MB body over APPR_MAX_BODY_SIZE=1M: 413 payload-too-large"
refused ns/big "body over the limit"

head -c 600000 /dev/urandom >"$T/big/random"
tar -C "$T/big" -czf "$T/fits.tgz" random
push ns/fits "$T/fits.tgz" 1.0.0 helm
is "$STATUS" 200 "an 800 KB body under the 1M limit is accepted"
req DELETE /api/v1/packages/ns/fits/1.0.0/helm
blobs0=$(blob_files)

head -c 300000 /dev/urandom | base64 >"$T/big/text"
truncate -s 1500000 "$T/big/zeros"
tar -C "$T/big" -czf "$T/wide.tgz" text zeros
rm -f "$T/big/zeros"
push ns/wide "$T/wide.tgz" 1.0.0 helm
is_error 413 payload-too-large "a tar of 1.9 MB (compression ratio 6) over APPR_MAX_UNCOMPRESSED_SIZE=1M: 413 payload-too-large"
refused ns/wide "uncompressed size over the limit"

truncate -s 200M "$T/big/zeros" # sparse: no disk used
tar -C "$T/big" -czf "$T/bomb.tgz" zeros
rm -f "$T/big/zeros"
diag "gzip bomb: $(stat -c %s "$T/bomb.tgz") bytes for 200 MiB"
start=$(date +%s%N)
push ns/bomb "$T/bomb.tgz" 1.0.0 helm
ms=$((($(date +%s%N) - start) / 1000000))
is_error 413 payload-too-large "a gzip bomb (200 MiB of zeros): 413 payload-too-large"
[ "$ms" -lt 5000 ]
ok $? "the gzip bomb is refused quickly (${ms} ms)"
refused ns/bomb "gzip bomb"
appr_stop
appr_start APPR_MAX_BODY_SIZE=64M
push ns/bomb "$T/bomb.tgz" 1.0.0 helm
is_error 413 payload-too-large "the gzip bomb under the default limits (ratio 250): 413 payload-too-large"
refused ns/bomb "gzip bomb, default limits"
