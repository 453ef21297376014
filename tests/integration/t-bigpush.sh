#!/bin/bash
# t-bigpush.sh - a 20 MiB chart (incompressible) goes through the web server and
# the storage driver of the variant: push, show, pull and blob byte-exact, delete.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 12

T=$APPR_TMP
MIB=20
# The push body is the base64 of the tar.gz in JSON: 4/3 of 20 MiB, under 64M.
appr_start APPR_MAX_BODY_SIZE=64M

# A chart with 20 MiB of random bytes: gzip cannot shrink it, so the tar.gz (the
# blob) is 20 MiB too.
mkdir -p "$T/big/bigchart"
printf 'name: bigchart\nversion: 1.0.0\ndescription: %s MiB of noise\n' "$MIB" \
	>"$T/big/bigchart/Chart.yaml"
head -c $((MIB << 20)) /dev/urandom >"$T/big/bigchart/noise.bin"
tar -C "$T/big" -czf "$T/bigchart-1.0.0.tgz" bigchart
tgz=$T/bigchart-1.0.0.tgz
size=$(wc -c <"$tgz" | tr -d ' ')
digest=$(digest_of "$tgz")
[ "$size" -ge $((MIB << 20)) ]
ok $? "the chart is a ${size}-byte tar.gz (at least $MIB MiB)"

blobs0=$(blob_files)
start=$(date +%s%N)
push ns/bigchart "$tgz" 1.0.0 helm
ms=$((($(date +%s%N) - start) / 1000000))
is "$STATUS $(jqb .status)" "200 ok" "push of the $MIB MiB chart ($(wc -c <"$T/push.json" | tr -d ' ')-byte body): 200 ok ($ms ms)"
is "$(blob_files)" "$((blobs0 + 1))" "one new blob stored"

req GET /api/v1/packages/ns/bigchart/1.0.0/helm
is "$STATUS $(jqb .content.digest) $(jqb .content.size)" "200 $digest $size" \
	"the manifest names the digest and the size of the big blob"

start=$(date +%s%N)
req GET /api/v1/packages/ns/bigchart/1.0.0/helm/pull
ms=$((($(date +%s%N) - start) / 1000000))
is "$STATUS" 200 "pull answers 200 ($ms ms)"
cmp -s "$BODYFILE" "$tgz"
ok $? "pull gives back the $MIB MiB tar.gz byte for byte"
is "$(header Content-Length)" "$size" "pull Content-Length is the blob size"

req GET "/api/v1/packages/ns/bigchart/blobs/sha256/$digest"
cmp -s "$BODYFILE" "$tgz"
ok $? "GET blobs/sha256/DIGEST gives back the tar.gz byte for byte ($STATUS)"

req GET /api/v1/packages/ns/bigchart/1.0.0/helm/pull/json
jqb .blob | base64 -d 2>/dev/null | cmp -s - "$tgz"
ok $? "pull/json: the base64 blob decodes to the tar.gz ($STATUS)"

push ns/bigchart "$tgz" 1.0.0 helm
is_error 409 package-exists "the same big push again: 409 package-exists"

req DELETE /api/v1/packages/ns/bigchart/1.0.0/helm
is "$STATUS" 200 "delete the big release"
is "$(blob_files)" "$blobs0" "the big blob is gone with its last manifest"
