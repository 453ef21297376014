#!/bin/bash
# t-oci.sh - the OCI Distribution API (/v2/) on every store: every endpoint of the
# specification's table (end-1 .. end-13 but referrers and mount) with its success and
# error answers, uploads in one piece, in one POST and in chunks, digests checked,
# manifests kept byte for byte, tags paged, repositories kept apart, credentials asked
# for, damaged stored bytes never answered as good. With etcd and redis, what is left
# of uploads is read from the kv store, and appr-admin export carries the OCI content
# (or leaves it out with --skip-oci).
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 95
appr_start
T=$APPR_TMP

# is_oci STATUS CODE MSG: the last answer is STATUS with an OCI error body whose
# first error has code CODE and a message.
is_oci() {
	local got="$STATUS $(jqb '.errors[0].code') $(jqb '.errors[0].message | length > 0')"
	is "$got" "$1 $2 true" "$3" || diag "body: $(head -c 400 "$BODYFILE")"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

kv=
case $APPR_TEST_STORAGE in etcd | redis) kv=1 ;; esac
# uploads_left: the upload sessions the store holds
uploads_left() {
	if [ -n "$kv" ]; then
		kv_keys oci/up/ | wc -l
	else
		find "$APPR_DATA/oci/uploads" -type f | wc -l
	fi
}

R=/v2/ons/img
# ---- end-1: the base ----
req GET /v2/
is "$STATUS $BODY" "200 {}" "GET /v2/ is 200 {} with anonymous access"

# ---- errors before anything is stored ----
Z=sha256:$(printf '' | sha256sum | cut -d' ' -f1)
req HEAD "$R/blobs/$Z"
is "$STATUS" 404 "HEAD of an unknown blob: 404"
req GET "$R/blobs/$Z"
is_oci 404 BLOB_UNKNOWN "GET of an unknown blob: 404 BLOB_UNKNOWN"
req GET "$R/blobs/sha256:abc"
is_oci 400 DIGEST_INVALID "a malformed digest: 400 DIGEST_INVALID"
req GET /v2/Ons/img/blobs/$Z
is_oci 400 NAME_INVALID "an upper-case repository name: 400 NAME_INVALID"
req GET /v2/ons/img/tags/list
is_oci 404 NAME_UNKNOWN "tags of an unknown repository: 404 NAME_UNKNOWN"
req GET /v2/ons/img/nothing/here
is_oci 404 NAME_UNKNOWN "a path no route has under /v2/: an OCI error too"

# ---- end-4a/4b/5/6: an upload in chunks ----
head -c 100000 /dev/urandom >"$T/layer"
L=$(sha "$T/layer")
head -c 60000 "$T/layer" >"$T/c1"
tail -c +60001 "$T/layer" >"$T/c2"
req POST "$R/blobs/uploads/"
is "$STATUS $(header Range)" "202 0-0" "POST an upload: 202, Range 0-0"
loc=$(header Location)
uuid=$(header Docker-Upload-UUID)
like "$loc" "^/v2/ons/img/blobs/uploads/$uuid\$" "Location names the session Docker-Upload-UUID gives"
req GET "$loc"
is "$STATUS $(header Range)" "204 0-0" "GET the upload: 204, Range 0-0"
req PATCH "$loc" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-59999' \
	--data-binary "@$T/c1"
is "$STATUS $(header Range)" "202 0-59999" "PATCH the first chunk: 202, Range 0-59999"
req PATCH "$loc" -H 'Content-Range: 0-39999' --data-binary "@$T/c2"
is_oci 416 BLOB_UPLOAD_INVALID "a chunk not after the last one: 416"
is "$(header Range)" "0-59999" "... with the Range held so far"
req GET "$loc"
is "$STATUS $(header Range)" "204 0-59999" "GET the upload: 204, Range 0-59999"
req PATCH "$loc" -H 'Content-Range: 60000-99999' --data-binary "@$T/c2"
is "$STATUS $(header Range)" "202 0-99999" "PATCH the second chunk: 202, Range 0-99999"
req PUT "$loc?digest=sha256:$L"
is "$STATUS $(header Docker-Content-Digest)" "201 sha256:$L" "PUT ?digest= ends it: 201, Docker-Content-Digest"
is "$(header Location)" "/v2/ons/img/blobs/sha256:$L" "Location names the blob"
req GET "$loc"
is_oci 404 BLOB_UPLOAD_UNKNOWN "the finished session is gone: 404 BLOB_UPLOAD_UNKNOWN"

# ---- end-2: pulling the blob ----
req GET "$R/blobs/sha256:$L"
is "$STATUS $(header Content-Type) $(header Content-Length)" "200 application/octet-stream 100000" \
	"GET the blob: 200, application/octet-stream, Content-Length"
is "$(sha "$BODYFILE") $(header Docker-Content-Digest)" "$L sha256:$L" "its bytes, and Docker-Content-Digest"
req HEAD "$R/blobs/sha256:$L"
is "$STATUS $(header Content-Length) $(header Docker-Content-Digest) $(wc -c <"$BODYFILE")" \
	"200 100000 sha256:$L 0" "HEAD the blob: headers, no body"
req GET "$R/blobs/sha256:$L" -H 'Range: bytes=10-19'
is "$STATUS $(header Content-Range) $(wc -c <"$BODYFILE")" "206 bytes 10-19/100000 10" "Range: 206 with Content-Range"
is "$(cmp -s "$BODYFILE" <(tail -c +11 "$T/layer" | head -c 10) && echo same)" same "... and those bytes"
req GET "$R/blobs/sha256:$L" -H 'Range: bytes=-5'
is "$STATUS $(header Content-Range)" "206 bytes 99995-99999/100000" "a suffix Range"
req GET "$R/blobs/sha256:$L" -H 'Range: bytes=100000-'
is "$STATUS $(header Content-Range)" "416 bytes */100000" "a Range past the end: 416"
req GET "/v2/ons/other/blobs/sha256:$L"
is_oci 404 BLOB_UNKNOWN "another repository that never received it: 404"

# a chunk sent with Transfer-Encoding: chunked (no Content-Length) gets through too
req POST "$R/blobs/uploads/"
loc=$(header Location)
req PATCH "$loc" -H 'Transfer-Encoding: chunked' --data-binary "@$T/layer"
is "$STATUS $(header Range)" "202 0-99999" "a PATCH with a chunked body: 202, Range 0-99999"
req PUT "$loc?digest=sha256:$L"
is "$STATUS" 201 "... and its digest checks"

# ---- a digest that does not match: nothing stored ----
printf 'not the bytes' >"$T/bad"
req POST "$R/blobs/uploads/?digest=$Z" --data-binary "@$T/bad"
is_oci 400 DIGEST_INVALID "single POST with the wrong digest: 400 DIGEST_INVALID"
req HEAD "$R/blobs/sha256:$(sha "$T/bad")"
is "$STATUS" 404 "... and the bytes were not kept"
req POST "$R/blobs/uploads/"
loc=$(header Location)
req PUT "$loc?digest=$Z" --data-binary "@$T/bad"
is_oci 400 DIGEST_INVALID "monolithic PUT with the wrong digest: 400 DIGEST_INVALID"
req PUT "$loc?digest=sha256:xyz" --data-binary "@$T/bad"
is "$STATUS" 400 "a malformed ?digest=: 400"
is "$(uploads_left)" 0 "no upload session is left behind"

# ---- end-4b: one POST; monolithic PUT; end-12: cancel ----
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$T/config"
C=$(sha "$T/config")
req POST "$R/blobs/uploads/?digest=sha256:$C" -H 'Content-Type: application/octet-stream' \
	--data-binary "@$T/config"
is "$STATUS $(header Docker-Content-Digest)" "201 sha256:$C" "single POST ?digest=: 201"
printf 'second layer' >"$T/l2"
L2=$(sha "$T/l2")
req POST "$R/blobs/uploads/"
loc=$(header Location)
req PUT "$loc?digest=sha256:$L2" -H 'Content-Type: application/octet-stream' --data-binary "@$T/l2"
is "$STATUS $(header Location)" "201 /v2/ons/img/blobs/sha256:$L2" "POST then PUT with the body: 201"
req POST "$R/blobs/uploads/"
loc=$(header Location)
req DELETE "$loc"
is "$STATUS" 204 "DELETE an upload: 204"
req GET "$loc"
is_oci 404 BLOB_UPLOAD_UNKNOWN "... then it is unknown"
req DELETE "$R/blobs/uploads/0123456789abcdef0123456789abcdef"
is_oci 404 BLOB_UPLOAD_UNKNOWN "DELETE an unknown upload: 404 BLOB_UPLOAD_UNKNOWN"
req PATCH "$loc" --data-binary "@$T/l2"
is_oci 404 BLOB_UPLOAD_UNKNOWN "PATCH an unknown upload: 404"
# two PATCHes of one session at once: each appends all its bytes or none (the other
# is refused with 416 while one writes), never a part of one before the other
head -c 3000000 /dev/urandom >"$T/pa"; head -c 2500000 /dev/urandom >"$T/pb"
req POST "$R/blobs/uploads/"
loc=$(header Location)
for p in pa pb; do
	curl -s -o "$T/r$p" -D "$T/h$p" -w '%{http_code}' -X PATCH \
		-H 'Content-Type: application/octet-stream' --data-binary "@$T/$p" "$BASE$loc" \
		>"$T/s$p" & pids+=($!)
done
wait "${pids[@]}"; pids=()
codes="$(cat "$T/spa") $(cat "$T/spb")"
refused=$(cat "$T/rpa" "$T/rpb" | grep -c BLOB_UPLOAD_INVALID)
# not_busy UUID: no request holds the session (SQLite: its file's lock; etcd,
# redis: a "busy" mark on its record)
not_busy() {
	if [ -n "$kv" ]; then
		kv_get "oci/up/ons/img/$1" | jq -e 'has("busy") | not' >/dev/null
	else
		flock -n "$APPR_DATA/oci/uploads/$1" true
	fi
}
req GET "$loc"
size=$(header Range); size=$((${size#0-} + 1))
not_busy "${loc##*/}"; ok $? "... and once they are answered, nothing holds the session"
# what the session must hold: the bytes of each PATCH answered 202, in the order of
# the Range each answer gave (a wrong guess would end the session: one PUT only)
: >"$T/want"
for p in $(for p in pa pb; do
	[ "$(cat "$T/s$p")" = 202 ] &&
		printf '%s %s\n' "$(tr -d '\r' <"$T/h$p" | sed -n 's/^[Rr]ange: 0-//p')" "$p"
done | sort -n | cut -d' ' -f2); do
	cat "$T/$p" >>"$T/want"
done
req PUT "$loc?digest=sha256:$(sha "$T/want")"
found=
[ "$STATUS" = 201 ] && [ "$(stat -c %s "$T/want")" = "$size" ] && found=$(stat -c %s "$T/want")
like "$codes $refused" "^(202 202 0|202 416 1|416 202 1)\$" "two PATCHes at once: both 202, or one refused 416 BLOB_UPLOAD_INVALID ($codes)"
ok "$([ -n "$found" ] && echo 0)" "... and the session holds the bytes of those answered 202, whole, in order ($size bytes)"

# ---- end-7: manifests ----
mkmanifest() { # CONFIG-HEX LAYER-HEX... -> an image manifest (compact JSON) on stdout
	local c=$1 l
	shift
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[' \
		"$c" "$(wc -c <"$T/config")"
	local sep=
	for l in "$@"; do
		printf '%s{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":1}' "$sep" "$l"
		sep=,
	done
	printf ']}'
}
MT=application/vnd.oci.image.manifest.v1+json
mkmanifest "$C" "$L" "$L2" >"$T/m1"
M1=$(sha "$T/m1")
mkmanifest "$C" "${Z#sha256:}" >"$T/m-missing"
req PUT "$R/manifests/v1" -H "Content-Type: $MT" --data-binary "@$T/m-missing"
is_oci 400 MANIFEST_BLOB_UNKNOWN "a manifest naming a blob the repository lacks: MANIFEST_BLOB_UNKNOWN"
printf '{"schemaVersion":2,' >"$T/m-bad"
req PUT "$R/manifests/v1" -H "Content-Type: $MT" --data-binary "@$T/m-bad"
is_oci 400 MANIFEST_INVALID "a manifest that is not JSON: MANIFEST_INVALID"
printf '{"schemaVersion":2,"mediaType":"%s","layers":[]}' "$MT" >"$T/m-noconfig"
req PUT "$R/manifests/v1" -H "Content-Type: $MT" --data-binary "@$T/m-noconfig"
is_oci 400 MANIFEST_INVALID "an image manifest without config: MANIFEST_INVALID"
req PUT "$R/manifests/$Z" -H "Content-Type: $MT" --data-binary "@$T/m1"
is_oci 400 DIGEST_INVALID "PUT by a digest that is not the bytes': DIGEST_INVALID"
req PUT "$R/manifests/bad:tag" -H "Content-Type: $MT" --data-binary "@$T/m1"
is "$STATUS" 400 "PUT by a malformed reference: 400"
head -c $((4 * 1024 * 1024 + 1)) /dev/zero >"$T/huge"
req PUT "$R/manifests/huge" -H "Content-Type: $MT" --data-binary "@$T/huge"
is_oci 413 SIZE_INVALID "a manifest above 4 MiB: 413 SIZE_INVALID"
req PUT "$R/manifests/v1" -H "Content-Type: $MT" --data-binary "@$T/m1"
is "$STATUS $(header Docker-Content-Digest)" "201 sha256:$M1" "PUT a manifest by tag: 201, its digest"
is "$(header Location)" "/v2/ons/img/manifests/sha256:$M1" "Location names it by digest"
req GET "$R/manifests/v1"
is "$STATUS $(header Content-Type) $(header Docker-Content-Digest)" "200 $MT sha256:$M1" "GET by tag: its media type and digest"
is "$(sha "$BODYFILE")" "$M1" "... the bytes as pushed"
req HEAD "$R/manifests/v1"
is "$STATUS $(header Content-Length) $(header Docker-Content-Digest)" "200 $(wc -c <"$T/m1") sha256:$M1" \
	"HEAD by tag: Content-Length, Docker-Content-Digest"
req GET "$R/manifests/sha256:$M1"
is "$STATUS $(sha "$BODYFILE")" "200 $M1" "GET by digest"
req GET "$R/manifests/nope"
is_oci 404 MANIFEST_UNKNOWN "GET an unknown tag: MANIFEST_UNKNOWN"
req GET "/v2/ons/other/manifests/sha256:$M1"
is_oci 404 MANIFEST_UNKNOWN "another repository does not have it"
# the same bytes by digest, then an index of it (no mediaType: Content-Type kept)
req PUT "$R/manifests/sha256:$M1" -H "Content-Type: $MT" --data-binary "@$T/m1"
is "$STATUS" 201 "PUT the same manifest by digest: 201"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"sha256:%s","size":%s}]}' \
	"$MT" "$M1" "$(wc -c <"$T/m1")" >"$T/idx"
IX=application/vnd.oci.image.index.v1+json
req PUT "$R/manifests/all" -H "Content-Type: $IX" --data-binary "@$T/idx"
is "$STATUS $(header Docker-Content-Digest)" "201 sha256:$(sha "$T/idx")" "PUT an image index: 201"
req GET "$R/manifests/all"
is "$(header Content-Type)" "$IX" "an index without mediaType is served with the Content-Type it came with"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"%s","digest":"%s","size":1}]}' "$MT" "$Z" >"$T/idx2"
req PUT "$R/manifests/all2" -H "Content-Type: $IX" --data-binary "@$T/idx2"
is_oci 400 MANIFEST_BLOB_UNKNOWN "an index naming an unknown manifest: MANIFEST_BLOB_UNKNOWN"

# ---- end-12: referrers ----
printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.example.sig","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[],"subject":{"mediaType":"%s","digest":"sha256:%s","size":%s},"annotations":{"who":"t-oci"}}' \
	"$MT" "$C" "$(wc -c <"$T/config")" "$MT" "$M1" "$(wc -c <"$T/m1")" >"$T/sig"
req PUT "$R/manifests/sha256:$(sha "$T/sig")" -H "Content-Type: $MT" --data-binary "@$T/sig"
is "$STATUS $(header OCI-Subject)" "201 sha256:$M1" "PUT a manifest with a subject: 201, OCI-Subject"
req GET "$R/referrers/sha256:$M1"
is "$STATUS $(header Content-Type) $(jqb -c '[.manifests[] | [.digest, .artifactType, .annotations.who, .size]]')" \
	"200 application/vnd.oci.image.index.v1+json [[\"sha256:$(sha "$T/sig")\",\"application/vnd.example.sig\",\"t-oci\",$(wc -c <"$T/sig")]]" \
	"referrers: an image index of the manifests whose subject it is"
req GET "$R/referrers/sha256:$M1?artifactType=application/vnd.other"
is "$(jqb -c .manifests) $(header OCI-Filters-Applied)" "[] artifactType" "?artifactType= filters, OCI-Filters-Applied says so"
req GET "$R/referrers/sha256:$L"
is "$STATUS $(jqb -c .manifests)" "200 []" "referrers of a digest nothing refers to: an empty index"

# ---- end-8: tags ----
for t in b a c; do
	req PUT "$R/manifests/t-$t" -H "Content-Type: $MT" --data-binary "@$T/m1"
done
req GET "$R/tags/list"
is "$STATUS $(jqb -c .)" '200 {"name":"ons/img","tags":["all","t-a","t-b","t-c","v1"]}' "tags/list: every tag in lexical order"
req GET "$R/tags/list?n=2"
is "$(jqb -c .tags) $(header Link)" '["all","t-a"] </v2/ons/img/tags/list?n=2&last=t-a>; rel="next"' "n=2: two tags and a Link to the next page"
req GET "$R/tags/list?n=2&last=t-b"
is "$(jqb -c .tags) $(header Link)" '["t-c","v1"] ' "last=t-b: the tags after it, no Link on the last page"
req GET "$R/tags/list?n=x"
is "$STATUS" 400 "n=x: 400"

# ---- end-9/10: deletes ----
req DELETE "$R/manifests/t-a"
is "$STATUS" 202 "DELETE a tag: 202"
req GET "$R/manifests/t-a"
is_oci 404 MANIFEST_UNKNOWN "... it is gone"
req GET "$R/manifests/v1"
is "$STATUS" 200 "... its manifest is still there under another tag"
req DELETE "$R/manifests/t-a"
is_oci 404 MANIFEST_UNKNOWN "DELETE an unknown tag: 404"
req DELETE "$R/manifests/sha256:$(sha "$T/idx")"
is "$STATUS" 202 "DELETE the index by digest: 202"
req GET "$R/manifests/all"
is_oci 404 MANIFEST_UNKNOWN "... its tag went with it"
req DELETE "$R/blobs/sha256:$L2"
is "$STATUS" 202 "DELETE a blob: 202"
req DELETE "$R/blobs/sha256:$L2"
is_oci 404 BLOB_UNKNOWN "DELETE it again: 404 BLOB_UNKNOWN"
req GET "$R/blobs/sha256:$L2"
is "$STATUS" 200 "a blob a manifest of the repository references stays readable"
req DELETE "$R/manifests/sha256:$M1"
req GET "$R/blobs/sha256:$L2"
is_oci 404 BLOB_UNKNOWN "... until that manifest is deleted"

# ---- end-11: cross-repository mount; the catalog ----
req POST "/v2/ons/copy/blobs/uploads/?mount=sha256:$L&from=ons/img"
is "$STATUS $(header Location) $(header Docker-Content-Digest)" \
	"201 /v2/ons/copy/blobs/sha256:$L sha256:$L" "mount from a repository holding it: 201"
req GET "/v2/ons/copy/blobs/sha256:$L"
is "$STATUS $(sha "$BODYFILE")" "200 $L" "... and the blob is readable through the new one"
req POST "/v2/ons/copy/blobs/uploads/?mount=sha256:$L2&from=ons/nothing"
is "$STATUS $(header Docker-Upload-UUID | wc -c)" "202 33" "mount from a repository without it: 202, an upload session"
req GET "/v2/_catalog"
is "$STATUS $(jqb -c .repositories)" '200 ["ons/copy","ons/img"]' "_catalog: every repository in order"
req GET "/v2/_catalog?n=1"
is "$(jqb -c .repositories) $(header Link)" '["ons/copy"] </v2/_catalog?n=1&last=ons/copy>; rel="next"' "_catalog?n=1: one and a Link"

# ---- credentials (auth = tokens, no anonymous reads) ----
appr_stop
appr_start APPR_AUTH=tokens APPR_ANONYMOUS_READ=false
printf 'pw-w\n' | appr_admin user add writer --password-stdin >/dev/null || bail "user add writer"
printf 'pw-r\n' | appr_admin user add reader --password-stdin >/dev/null || bail "user add reader"
appr_admin grant writer ons write >/dev/null && appr_admin grant reader ons read >/dev/null || bail "grant"
req GET /v2/
is_oci 401 UNAUTHORIZED "GET /v2/ without credentials when anonymous reads are off: 401"
like "$(header WWW-Authenticate)" '^Basic realm="appr"' "... with a Basic challenge"
req GET /v2/ -u reader:pw-r
is "$STATUS" 200 "GET /v2/ with Basic credentials: 200"
req POST "$R/blobs/uploads/" -u reader:pw-r
is_oci 403 DENIED "an upload by a reader: 403 DENIED"
req POST "$R/blobs/uploads/?digest=sha256:$C" -u writer:pw-w --data-binary "@$T/config"
is "$STATUS" 201 "an upload by a writer: 201"
req GET "$R/blobs/sha256:$C" -u reader:pw-r
is "$STATUS $(sha "$BODYFILE")" "200 $C" "a reader pulls it"

# ---- one blob uploaded and deleted in two repositories at once: a delete takes the
# file's name under the write lock, where an upload finds the name taken or free, so
# no row is ever left without its file ----
head -c 3000 /dev/urandom >"$T/churn"
X=$(sha "$T/churn")
churn() { # REPO: 25 uploads and deletes of the blob
	local i
	for i in $(seq 25); do
		curl -s -g -o /dev/null --max-time 20 -u writer:pw-w -X POST \
			--data-binary "@$T/churn" "$BASE/v2/ons/$1/blobs/uploads/?digest=sha256:$X"
		curl -s -g -o /dev/null --max-time 20 -u writer:pw-w -X DELETE \
			"$BASE/v2/ons/$1/blobs/sha256:$X"
	done
}
churn c1 &
p1=$!
churn c2 &
p2=$!
wait "$p1" "$p2"
req POST "/v2/ons/c3/blobs/uploads/?digest=sha256:$X" -u writer:pw-w --data-binary "@$T/churn"
req GET "/v2/ons/c3/blobs/sha256:$X" -u reader:pw-r
is "$STATUS $(sha "$BODYFILE")" "200 $X" \
	"after uploads and deletes of one blob in two repositories at once, a third gets it whole"
if [ -z "$kv" ]; then
	appr_admin fsck >"$T/fsck.out" 2>&1
	is "$? $(grep -ci 'missing' "$T/fsck.out")" "0 0" "... and fsck finds no OCI blob row without its file"

	# ---- the upkeep commands cover the OCI content (t-admin-oci.sh tests them) ----
	appr_admin fsck >"$T/fsck.out" 2>&1
	like "$(cat "$T/fsck.out")" 'fsck: OCI: [0-9]+ blobs, [0-9]+ manifests, [0-9]+ tags checked' \
		"appr-admin fsck checks the OCI content"
else
	# ---- appr-admin export carries a kv store's OCI content (t-admin-oci.sh) ----
	appr_admin export "$T/x.tar" >"$T/export.out" 2>&1
	like "$? $(cat "$T/export.out") $(tar -tf "$T/x.tar" | grep -c '^oci/blobs/')" "^0 .*export: OCI: [0-9]+ manifests.* [1-9][0-9]*$" \
		"appr-admin export of a $APPR_TEST_STORAGE store carries its OCI content"
	appr_admin export "$T/x.tar" --skip-oci >"$T/export.out" 2>&1
	like "$? $(cat "$T/export.out")" "^0 export: skipped the OCI content" \
		"... and with --skip-oci it exports the rest, saying what it left out"
fi

# ---- damaged stored bytes are never answered as good ----
# flip FILE OFFSET: the byte at OFFSET of FILE with every bit inverted (never the same
# byte, as writing a fixed one would be 1 time in 256 over random bytes)
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# damage HEX OFFSET: one byte of blob HEX's stored bytes flipped at OFFSET (its file,
# or on etcd and redis the kv value of the chunk that holds it)
damage() {
	if [ -z "$kv" ]; then
		flip "$APPR_DATA/oci/sha256/${1:0:2}/$1" "$2"
		return
	fi
	local id k
	id=$(kv_get "oci/blob/$1" | jq -r .data)
	k=oci/data/$id/$(printf '%08d' $(($2 / 1048576)))
	kv_get "$k" >"$T/chunk"
	flip "$T/chunk" $(($2 % 1048576))
	kv_put "$k" <"$T/chunk"
}
damage "$C" $(($(stat -c %s "$T/config") - 1))
code=$(curl -s -g --max-time 20 -u reader:pw-r -o "$T/damaged" -w '%{http_code}' \
	"$BASE$R/blobs/sha256:$C")
rc=$?
# the web server either fails the transfer (cut short) or answers an error of its own
is "$([ "$rc" -eq 0 ] && [ "$code" = 200 ] && echo "a whole 200")" "" \
	"a blob whose file was altered: never a whole 200 (curl $rc, HTTP $code)"
like "$(tail -n 50 "$APPR_TMP/serve.log")" "CORRUPT BLOB sha256:$C" "... and the log says CORRUPT BLOB"
# a bigger one (100,000 bytes) is checked as it is sent: its last bytes are held back
req POST "$R/blobs/uploads/?digest=sha256:$L" -u writer:pw-w --data-binary "@$T/layer"
damage "$L" 50000
code=$(curl -s -g --max-time 20 -u reader:pw-r -o "$T/damaged" -w '%{http_code}' \
	"$BASE$R/blobs/sha256:$L")
rc=$?
is "$STATUS $([ "$rc" -eq 0 ] && [ "$code" = 200 ] && echo "a whole 200")" "201 " \
	"a bigger altered blob: never a whole 200 (curl $rc, HTTP $code)"
