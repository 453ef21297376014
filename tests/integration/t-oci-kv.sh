#!/bin/bash
# t-oci-kv.sh - the OCI store of the etcd and redis stores (lib/oci-kv.c) beyond what
# t-oci.sh checks on every store, looking at the kv keys themselves: a blob uploaded in
# PATCHes across chunk boundaries (no copy at the end: the upload's chunks are the
# blob's), Range reads inside and across chunks, a 2.5 MiB manifest in body chunks,
# links and manifest references keeping a blob, tags paged and deleted with their
# manifest, nothing left under oci/ once everything is deleted, a damaged or short
# chunk never answered as a whole 200, five repositories pushing and deleting one
# blob and manifest at once, crash debris swept by appr-admin gc (and what is in use
# or may be in use kept), and idle upload sessions swept. Only with APPR_TEST_STORAGE=etcd or redis (the etcd/
# and redis/ variants of make check).
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"
case $APPR_TEST_STORAGE in
etcd | redis) ;;
*) bail "t-oci-kv.sh checks the kv stores' OCI keys: run it with APPR_TEST_STORAGE=etcd or redis" ;;
esac
plan 47
appr_start
T=$APPR_TMP
sha() { sha256sum "$1" | cut -d' ' -f1; }
keys() { kv_keys "$1"; }
nkeys() { keys "$1" | wc -l | tr -d ' '; }
R=/v2/kns/big
# A: a 3.5 MiB blob in PATCHes of 700000 bytes
head -c 3670016 /dev/urandom >"$T/big"
B=$(sha "$T/big")
req POST "$R/blobs/uploads/"
loc=$(header Location)
off=0; ok=1
while [ $off -lt 3670016 ]; do
	tail -c +$((off + 1)) "$T/big" | head -c 700000 >"$T/piece"
	n=$(stat -c %s "$T/piece")
	req PATCH "$loc" -H "Content-Range: $off-$((off + n - 1))" -H 'Content-Type: application/octet-stream' --data-binary "@$T/piece"
	[ "$STATUS" = 202 ] || { ok=0; diag "PATCH at $off: $STATUS $BODY"; }
	off=$((off + n))
done
is "$ok $(header Range)" "1 0-3670015" "PATCHes across chunk boundaries: 202 each, Range right"
uuid=${loc##*/}
is "$(nkeys oci/data/$uuid/)" 4 "4 chunks of 1 MiB under oci/data/<uuid>/"
req PUT "$loc?digest=sha256:$B"
is "$STATUS" 201 "finish: 201"
is "$(nkeys oci/up/)" 0 "no session left"
req GET "$R/blobs/sha256:$B"
is "$STATUS $(sha "$BODYFILE")" "200 $B" "GET the whole blob"
req GET "$R/blobs/sha256:$B" -H 'Range: bytes=1500000-'
tail -c +1500001 "$T/big" >"$T/want"
is "$STATUS $(sha "$BODYFILE")" "206 $(sha "$T/want")" "Range from the middle of chunk 1"
req GET "$R/blobs/sha256:$B" -H 'Range: bytes=1048570-1048590'
tail -c +1048571 "$T/big" | head -c 21 >"$T/want"
is "$STATUS $(sha "$BODYFILE")" "206 $(sha "$T/want")" "Range across a chunk boundary"
# B: a 2.5 MiB manifest (annotations), the body in chunks
printf '{"a":1}' >"$T/cfg"
C=$(sha "$T/cfg")
req POST "$R/blobs/uploads/?digest=sha256:$C" --data-binary "@$T/cfg"
is "$STATUS" 201 "config blob"
python3 -c "
import json,sys
m={'schemaVersion':2,'mediaType':'application/vnd.oci.image.manifest.v1+json',
 'config':{'mediaType':'application/vnd.oci.image.config.v1+json','digest':'sha256:$C','size':7},
 'layers':[{'mediaType':'application/vnd.oci.image.layer.v1.tar','digest':'sha256:$B','size':3670016}],
 'annotations':{'x':'A'*2600000}}
sys.stdout.write(json.dumps(m))" >"$T/bigman"
M=$(sha "$T/bigman")
req PUT "$R/manifests/v-big" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$T/bigman"
is "$STATUS" 201 "PUT a 2.5 MiB manifest"
req GET "$R/manifests/v-big" -H 'Accept: application/vnd.oci.image.manifest.v1+json'
is "$STATUS $(sha "$BODYFILE")" "200 $M" "GET it by tag: byte for byte"
is "$(nkeys oci/mfb/)" 3 "its body in 3 chunks"
req GET "$R/blobs/sha256:$C"
is "$STATUS" 200 "config readable"
# the link goes, the manifest's reference keeps the blob readable
req DELETE "$R/blobs/sha256:$B"
is "$STATUS" 202 "DELETE the big blob's link: 202"
req GET "$R/blobs/sha256:$B"
is "$STATUS $(sha "$BODYFILE")" "200 $B" "still readable: the manifest references it"
req DELETE "$R/blobs/sha256:$B"
is "$STATUS" 404 "a second DELETE of the link: 404"
# tags: five on one manifest, paged; deleting the manifest takes them all
for t in t1 t2 t3 t4 t5; do
	req PUT "$R/manifests/$t" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$T/bigman"
done
req GET "$R/tags/list?n=2"
is "$STATUS $(jqb -c .tags)" '200 ["t1","t2"]' "tags page 1"
req GET "$R/tags/list?n=2&last=t2"
is "$STATUS $(jqb -c .tags)" '200 ["t3","t4"]' "tags page 2"
req GET "$R/tags/list?n=10&last=t4"
is "$STATUS $(jqb -c .tags)" '200 ["t5","v-big"]' "tags page 3"
req DELETE "$R/manifests/t3"
is "$STATUS" 202 "DELETE a tag"
req GET "$R/tags/list"
is "$(jqb -c .tags)" '["t1","t2","t4","t5","v-big"]' "... gone from the list"
req DELETE "$R/manifests/sha256:$M"
is "$STATUS" 202 "DELETE the manifest (5 tags)"
req GET "$R/tags/list"
is "$STATUS $(jqb -c .tags)" '200 []' "no tag left"
is "$(nkeys oci/mfb/) $(nkeys oci/ref/) $(nkeys oci/subj/) $(nkeys oci/mf/)" "0 0 0 0" "no manifest key left"
req GET "$R/blobs/sha256:$B"
is "$STATUS" 404 "the big blob (no link, no manifest): 404"
is "$(nkeys oci/blob/$B) $(nkeys oci/data/$uuid/)" "0 0" "... its record and chunks deleted"
is "$(nkeys oci/use/$C/)" 1 "the config keeps its link's use"
req DELETE "$R/blobs/sha256:$C"
is "$STATUS $(nkeys oci/)" "202 0" "the last link deleted: nothing under oci/ at all"
req GET /v2/_catalog
is "$(jqb -c .repositories)" '[]' "catalog empty"
# D: a damaged chunk
req POST "$R/blobs/uploads/?digest=sha256:$B" --data-binary "@$T/big"
is "$STATUS" 201 "the big blob again"
k=$(keys oci/data/ | sed -n 2p)
head -c 1048576 /dev/zero | kv_put "$k"
code=$(curl -s -g --max-time 20 -o "$T/damaged" -w '%{http_code}' "$BASE$R/blobs/sha256:$B")
rc=$?
is "$([ "$rc" -eq 0 ] && [ "$code" = 200 ] && echo whole)" "" "a damaged chunk: never a whole 200 ($rc $code)"
like "$(tail -n 20 "$APPR_TMP/serve.log")" "CORRUPT BLOB sha256:$B" "... CORRUPT BLOB in the log"
head -c 1000 /dev/zero | kv_put "$k"
code=$(curl -s -g --max-time 20 -o "$T/damaged" -w '%{http_code}' "$BASE$R/blobs/sha256:$B")
rc=$?
is "$([ "$rc" -eq 0 ] && [ "$code" = 200 ] && echo whole)" "" "a short chunk: never a whole 200 ($rc $code)"
like "$(tail -n 20 "$APPR_TMP/serve.log")" "chunk too short" "... the reader says so"
req DELETE "$R/blobs/sha256:$B"
is "$STATUS $(nkeys oci/)" "202 0" "deleted: nothing left"

grep -q ': 500 ' "$APPR_TMP/serve.log"; ok "$((1 - $?))" "no 500 in the log"
# H: one blob and manifest pushed into five repositories at once
printf '{"b":2}' >"$T/cfg2"; C2=$(sha "$T/cfg2")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":7},"layers":[]}' "$C2" >"$T/m2"
M2=$(sha "$T/m2")
for i in 1 2 3 4 5; do
	( curl -s -o /dev/null -w '%{http_code} ' -X POST -H 'Content-Type: application/octet-stream' --data-binary "@$T/cfg2" "$BASE/v2/kns/r$i/blobs/uploads/?digest=sha256:$C2"
	  curl -s -o /dev/null -w '%{http_code} ' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$T/m2" "$BASE/v2/kns/r$i/manifests/latest"
	  curl -s -o /dev/null -w '%{http_code} ' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$T/m2" "$BASE/v2/kns/r$i/manifests/other" ) >"$T/h$i" & pids+=($!)
done
wait "${pids[@]}"; pids=()
is "$(cat "$T"/h1 "$T"/h2 "$T"/h3 "$T"/h4 "$T"/h5)" "201 201 201 201 201 201 201 201 201 201 201 201 201 201 201 " "5 repositories at once: every request 201"
c2data=$(kv_get "oci/blob/$C2" | jq -r .data)
is "$(nkeys "oci/data/$c2data/") $(nkeys oci/use/$C2/) $(nkeys oci/repo/kns/r)" "1 10 5" \
	"one blob (7 bytes: one chunk), 5 links + 5 refs, 5 repositories"
req GET "/v2/_catalog?n=3&last=kns/big"
is "$(jqb -c .repositories)" '["kns/r1","kns/r2","kns/r3"]' "catalog page"
for i in 1 2 3 4 5; do
	( curl -s -o /dev/null -w '%{http_code} ' -X DELETE "$BASE/v2/kns/r$i/manifests/sha256:$M2"
	  curl -s -o /dev/null -w '%{http_code} ' -X DELETE "$BASE/v2/kns/r$i/blobs/sha256:$C2" ) >"$T/h$i" & pids+=($!)
done
wait "${pids[@]}"; pids=()
is "$(cat "$T"/h1 "$T"/h2 "$T"/h3 "$T"/h4 "$T"/h5) $(keys oci/ | grep -c -e kns/r -e "$C2" -e "$c2data")" \
	"202 202 202 202 202 202 202 202 202 202  0" "deleted everywhere at once: no key of theirs left" ||
	diag "left: $(keys oci/ | grep -e kns/r -e "$C2" -e "$c2data")"
is "$(nkeys oci/)" 0 "nothing left under oci/"
# G: crash debris swept by appr-admin gc, what is in use or may be kept
cfgput() { # REPO FILE: a blob uploaded in one POST
	curl -s -o /dev/null -w '%{http_code} ' -X POST -H 'Content-Type: application/octet-stream' \
		--data-binary "@$2" "$BASE/v2/$1/blobs/uploads/?digest=sha256:$(sha "$2")"
}
printf '{"g":1}' >"$T/cfg3"; C3=$(sha "$T/cfg3")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":7},"layers":[]}' "$C3" >"$T/m3"
M3=$(sha "$T/m3")
codes=$(cfgput kns/live "$T/cfg3")
req PUT /v2/kns/live/manifests/v1 -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$T/m3"
live_id=$(kv_get "oci/mf/kns/live/$M3" | jq -r .id)
rnd() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
old=00000001$(rnd); fresh=$(printf '%08x' "$(date +%s)")$(rnd)
orphan=$(rnd)00000000; named=$(rnd)00000000; X=$(printf 'abc' | sha256sum | cut -d' ' -f1)
for id in $old $fresh; do   # a dead manifest instance and one a put may be writing
	printf 1 | kv_put "oci/use/$C3/kns/live/$M3/$id"
	printf 1 | kv_put "oci/ref/kns/live/$C3/$M3/$id"
	printf body | kv_put "oci/mfb/$id/00000000"
done
printf junk | kv_put "oci/data/$orphan/00000000"       # chunks nothing names
printf '{"size":3,"chunks":1,"data":"%s","txn":"%s"}' "$named" "$(rnd)$(rnd | head -c 8)" |
	kv_put "oci/blob/$X"                                # a blob nothing uses
printf abc | kv_put "oci/data/$named/00000000"
printf 1 | kv_put oci/repo/kns/empty                    # a repository holding nothing
appr_admin gc >"$T/gc.out" 2>"$T/gc.err"
is "$? $codes$STATUS" "0 201 201" "appr-admin gc on a store with OCI debris" || diag "$(cat "$T/gc.out" "$T/gc.err")"
like "$(cat "$T/gc.out")" "removed 1 unused blobs, 1 chunk sets and 1 manifest bodies nothing names, 2 keys of dead manifest instances, 1 empty repositories" \
	"... reports what it removed"
left=$(kv_keys oci/ | grep -c -e "$old" -e "$orphan" -e "$named" -e "$X" -e kns/empty)
kept=$(kv_keys oci/ | grep -c "$fresh")
is "$left $kept" "0 3" "the dead keys went; a fresh instance's (a put may be writing them) stay"
req GET "/v2/kns/live/manifests/v1"
m_ok=$STATUS
req GET "/v2/kns/live/blobs/sha256:$C3"
is "$m_ok $STATUS $BODY $(kv_get "oci/mf/kns/live/$M3" | jq -r .id)" "200 200 {\"g\":1} $live_id" \
	"what is in use is untouched: the manifest (its own instance), its config"
like "$(cat "$T/gc.err")" "gc removed: blob sha256:$X" "... and each removal named on stderr"
for k in $(kv_keys oci/ | grep "$fresh"); do
	case $APPR_TEST_STORAGE in
	etcd) etcdctl_ del "$(_etcd_key_prefix)$k" >/dev/null ;;
	redis) redis_cli del "${REDIS_KEY_PREFIX:-/appr/}k:$k" >/dev/null; redis_cli zrem "${REDIS_KEY_PREFIX:-/appr/}idx" "$k" >/dev/null ;;
	esac
done
req DELETE "/v2/kns/live/manifests/sha256:$M3"
req DELETE "/v2/kns/live/blobs/sha256:$C3"
is "$(nkeys oci/)" 0 "(cleaned up: nothing under oci/)"

# F: idle sessions swept at start
req POST "$R/blobs/uploads/"
loc=$(header Location)
req PATCH "$loc" -H 'Content-Type: application/octet-stream' --data-binary "@$T/cfg"
appr_stop
sleep 2
appr_start APPR_UPLOAD_TTL=1
req GET /v2/; req GET /v2/; req GET /v2/
is "$(nkeys oci/)" 0 "a session idle over upload_ttl: swept at start, with its chunks"
