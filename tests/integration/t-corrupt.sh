#!/bin/bash
# t-corrupt.sh - a blob damaged in the store is never served as good: its bytes are
# checked against the SHA-256 recorded at push while they are sent (blob by digest,
# pull by release, Helm chart download, the ?format=json form). A small blob (one
# read) that is wrong, short or missing is a 500 JSON internal-error; a big one whose
# bytes turn out wrong while streaming is cut short of its Content-Length, so that the
# client sees a failed transfer, never a whole 200; a size that is not the manifest's
# or a missing blob is a 500 before anything is sent; the registry's log names the
# digest. Untouched blobs still download byte-exact, with their ETag and 304. Every
# variant: on etcd and redis the stored chunks are damaged in the backend itself.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 49

T=$APPR_TMP
case $APPR_TEST_STORAGE in
etcd | redis) kv=yes ;;
*) kv=no ;;
esac
# the blob_delivery mode in which the web server sends blob files itself
case $APPR_TEST_SERVER in
nginx) delegated=x-accel-redirect ;;
*) delegated=x-sendfile ;;
esac

# mkbig NAME: a chart NAME-1.0.0.tgz with 400 KiB of random (incompressible) bytes, so
# that its blob spans many reads; prints its path.
mkbig() {
	local w
	w=$(mktemp -d "$T/big.XXXXXX")
	mkdir -p "$w/$1"
	printf 'apiVersion: v2\nname: %s\nversion: 1.0.0\n' "$1" >"$w/$1/Chart.yaml"
	head -c 409600 /dev/urandom >"$w/$1/data.bin"
	tar -C "$w" -czf "$T/$1-1.0.0.tgz" "$1"
	rm -rf -- "$w"
	printf '%s\n' "$T/$1-1.0.0.tgz"
}

# fetch PATH [curl args]: GET $BASE$PATH. Sets RC (curl's exit status: 18 for a
# transfer closed short of its Content-Length), STATUS, GOT (body bytes received),
# HEADERS and BODYFILE as req does.
fetch() {
	local path=$1 out
	shift
	BODYFILE=$T/body
	: >"$T/headers"
	out=$(curl -s -g --max-time 30 -o "$BODYFILE" -D "$T/headers" \
		-w '%{http_code} %{size_download}' "$@" "$BASE$path")
	RC=$?
	read -r STATUS GOT <<<"$out"
	HEADERS=$(tr -d '\r' <"$T/headers")
}

# the four ways a stored blob is downloaded: blob by digest, pull by release, Helm
# chart download, and the JSON form (base64)
paths() { # NAME DIGEST
	printf '%s\n' "/api/v1/packages/cor/$1/blobs/sha256/$2" \
		"/api/v1/packages/cor/$1/1.0.0/helm/pull" \
		"/helm/cor/charts/$1-1.0.0.tgz" \
		"/api/v1/packages/cor/$1/1.0.0/helm/pull?format=json"
}
what=(blob pull helm json)

# refused LABEL NAME DIGEST: every download of the blob is a 500 JSON internal-error
# (one test per way).
refused() {
	local label=$1 i=0 p
	while read -r p; do
		fetch "$p"
		is_error 500 internal-error "$label: ${what[i]}: 500 JSON internal-error"
		i=$((i + 1))
	done < <(paths "$2" "$3")
}

# cut_short LABEL NAME DIGEST SIZE: every download of the blob starts as a 200 with a
# Content-Length (the pushed size for the raw ways) and ends short of it, as a failed
# transfer (one test per way).
cut_short() {
	local label=$1 size=$4 i=0 p cl want
	while read -r p; do
		fetch "$p"
		cl=$(header Content-Length)
		want=$size
		[ "${what[i]}" = json ] && want=$cl
		if [ "$STATUS" = 200 ] && [ "$RC" -ne 0 ] && [ "$cl" = "$want" ] &&
			[ "$GOT" -lt "$cl" ]; then
			ok 0 "$label: ${what[i]}: a failed transfer (curl exit $RC), $GOT of $cl bytes"
		else
			ok 1 "$label: ${what[i]}: a failed transfer short of Content-Length $want"
			diag "status $STATUS, curl exit $RC, $GOT bytes, Content-Length '$cl'"
		fi
		i=$((i + 1))
	done < <(paths "$2" "$3")
}

# logged DIGEST ERE MSG: the registry's log has a line naming DIGEST that matches ERE
# (responders write their lines as they go: wait a little for them).
logged() {
	local i
	for ((i = 0; i < 30; i++)); do
		grep -a "$1" "$T/serve.log" | grep -a -q -E "$2" && break
		sleep 0.1
	done
	grep -a "$1" "$T/serve.log" | grep -a -q -E "$2"
	ok $? "$3"
}

# ---- damaging a stored blob, as each store can be damaged ----

# The key of a blob's first chunk on etcd and redis (lib/storage-kv.c: the blob
# record blob/<digest> names its upload, whose bytes are chunk/<upload>/<NNNNNNNN>,
# 1 MiB each: every blob here has one).
kv_chunk0() {
	local up
	case $APPR_TEST_STORAGE in
	etcd) up=$(etcdctl_ get --print-value-only "/appr/blob/$1" | jq -r .upload) ;;
	redis) up=$(redis_cli --raw HGET "/appr/k:blob/$1" v | jq -r .upload) ;;
	esac
	printf 'chunk/%s/00000000\n' "$up"
}
# damage DIGEST HOW: flip (one byte in the middle), truncate (10 bytes less), remove.
# On etcd and redis, flip and truncate rewrite the blob's chunk, remove deletes the
# blob record (the manifest still names it).
damage() {
	local d=$1 how=$2 f k n
	if [ "$kv" = no ]; then
		f=$APPR_DATA/blobs/sha256/${d:0:2}/$d
		[ -f "$f" ] || bail "no blob file $f"
		case $how in
		flip) printf '\x01' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") / 2)) \
			conv=notrunc status=none ;;
		truncate) truncate -s -10 "$f" ;;
		remove) rm -f -- "$f" ;;
		esac
		return
	fi
	if [ "$how" = remove ]; then
		case $APPR_TEST_STORAGE in
		etcd) etcdctl_ del "/appr/blob/$d" >/dev/null ;;
		redis)
			redis_cli DEL "/appr/k:blob/$d" >/dev/null
			redis_cli ZREM /appr/idx "blob/$d" >/dev/null
			;;
		esac
		return
	fi
	k=$(kv_chunk0 "$d")
	kv_get "$k" >"$T/chunk"
	n=$(wc -c <"$T/chunk" | tr -d ' ')
	[ "$n" -gt 100 ] || bail "chunk $k of blob $d: $n bytes read from $APPR_TEST_STORAGE"
	case $how in
	flip) printf '\x01' | dd of="$T/chunk" bs=1 seek=$((n / 2)) conv=notrunc status=none ;;
	truncate) truncate -s -10 "$T/chunk" ;;
	esac
	kv_put "$k" <"$T/chunk"
	kv_get "$k" >"$T/chunk.back"
	cmp -s "$T/chunk" "$T/chunk.back" || bail "chunk $k of blob $d: not rewritten in $APPR_TEST_STORAGE"
}

# ---- the charts: one per damage, and two left sound ----
declare -A file digest size
for n in sflip strunc smiss sgood; do
	file[$n]=$(mkchart "$n" 1.0.0 "$T/c")
done
for n in bflip btrunc bmiss bgood; do
	file[$n]=$(mkbig "$n")
done
appr_start
diag "storage $APPR_TEST_STORAGE, server $APPR_TEST_SERVER"
pushed=
for n in sflip strunc smiss sgood bflip btrunc bmiss bgood; do
	push "cor/$n" "${file[$n]}" 1.0.0 helm
	pushed+="$STATUS "
	digest[$n]=$(digest_of "${file[$n]}")
	size[$n]=$(wc -c <"${file[$n]}" | tr -d ' ')
done
is "$pushed" "200 200 200 200 200 200 200 200 " "push 4 small charts and 4 of about 400 KiB (helm)"
[ "${size[sflip]}" -lt 65536 ] && [ "${size[bflip]}" -gt 300000 ]
ok $? "the small blobs fit in one read (${size[sflip]} bytes), the big ones span many (${size[bflip]})"

for n in sflip bflip; do damage "${digest[$n]}" flip; done
for n in strunc btrunc; do damage "${digest[$n]}" truncate; done
for n in smiss bmiss; do damage "${digest[$n]}" remove; done

# ---- small blobs: checked before anything is answered ----
refused "small, a flipped byte" sflip "${digest[sflip]}"
refused "small, truncated" strunc "${digest[strunc]}"
refused "small, missing" smiss "${digest[smiss]}"
req GET "/api/v1/packages/cor/smiss/blobs/sha256/${digest[smiss]}/json"
is_error 500 internal-error "small, missing: blob /json: 500, not 404 (its manifest lists it)"

# ---- big blobs ----
cut_short "big, a flipped byte" bflip "${digest[bflip]}" "${size[bflip]}"
if [ "$kv" = no ]; then
	# the file's size is not the manifest's: known before anything is sent
	refused "big, truncated" btrunc "${digest[btrunc]}"
else
	# the chunk's size is known only when it is read: cut short like wrong bytes
	cut_short "big, truncated chunk" btrunc "${digest[btrunc]}" "${size[btrunc]}"
fi
refused "big, missing" bmiss "${digest[bmiss]}"

# ---- the log names every damaged blob ----
logged "${digest[sflip]}" "CORRUPT BLOB ${digest[sflip]}: its stored bytes have SHA-256 [0-9a-f]{64}, [0-9a-f]{64} was recorded" \
	"log: small flipped blob named, with both SHA-256"
logged "${digest[bflip]}" "CORRUPT BLOB ${digest[bflip]}: .*held back, the answer is cut short" \
	"log: big flipped blob named, its answer cut short"
logged "${digest[bflip]}" "appr: GET /api/v1/packages/cor/bflip/blobs/sha256/${digest[bflip]}: 200 answer cut short" \
	"log: ... and the request whose answer was cut"
if [ "$kv" = no ]; then
	logged "${digest[strunc]}" "CORRUPT BLOB ${digest[strunc]} of cor/strunc 1.0.0: /.*/${digest[strunc]} is $((size[strunc] - 10)) bytes, its manifest says ${size[strunc]}" \
		"log: small truncated blob named, with its file and both sizes"
	logged "${digest[btrunc]}" "CORRUPT BLOB ${digest[btrunc]} of cor/btrunc 1.0.0: /.*/${digest[btrunc]} is $((size[btrunc] - 10)) bytes, its manifest says ${size[btrunc]}" \
		"log: big truncated blob named, with its file and both sizes"
	logged "${digest[smiss]}" "MISSING BLOB ${digest[smiss]} of cor/smiss 1.0.0: the filesystem store in .* has no such blob" \
		"log: small missing blob named, with the store"
else
	logged "${digest[strunc]}" "blob ${digest[strunc]}: it ends after $((size[strunc] - 10)) of its ${size[strunc]} bytes" \
		"log: small truncated chunk: the blob named, with both sizes"
	logged "${digest[btrunc]}" "blob ${digest[btrunc]}: it ended 10 bytes before its end while sending" \
		"log: big truncated chunk: the blob named, its answer cut short"
	logged "${digest[smiss]}" "MISSING BLOB ${digest[smiss]} of cor/smiss 1.0.0: the $APPR_TEST_STORAGE store has no such blob" \
		"log: small missing blob named, with the store"
fi
logged "${digest[bmiss]}" "MISSING BLOB ${digest[bmiss]}" "log: big missing blob named"
like "$(grep -a -c "500 internal-error: blob sha256:${digest[smiss]} is missing from storage" "$T/serve.log")" \
	'^[1-9]' "log: the 500 answers are error lines of their own"

# ---- untouched blobs: byte-exact, ETag and 304 as before ----
for n in sgood bgood; do
	d=${digest[$n]}
	fetch "/api/v1/packages/cor/$n/blobs/sha256/$d"
	cmp -s "$BODYFILE" "${file[$n]}"
	is "$STATUS $RC $?" "200 0 0" "$n: blob by digest: 200, the pushed bytes"
	is "$(header Content-Length) $(header ETag)" "${size[$n]} \"$d\"" "$n: Content-Length, ETag"
	fetch "/api/v1/packages/cor/$n/blobs/sha256/$d" -H "If-None-Match: \"$d\""
	is "$STATUS $GOT" "304 0" "$n: If-None-Match: 304 without a body"
	fetch "/helm/cor/charts/$n-1.0.0.tgz"
	cmp -s "$BODYFILE" "${file[$n]}"
	is "$STATUS $RC $?" "200 0 0" "$n: Helm chart download: the pushed bytes"
	fetch "/api/v1/packages/cor/$n/1.0.0/helm/pull?format=json"
	cmp -s <(jq -r .blob "$BODYFILE" | base64 -d) "${file[$n]}"
	is "$STATUS $RC $?" "200 0 0" "$n: pull ?format=json: the pushed bytes in base64"
done
# the responders that cut answers short serve on
req GET /version
is "$STATUS" 200 "the registry still answers"

# ---- the web server sends the file: its size is checked, its bytes cannot be ----
if [ "$kv" = yes ]; then
	for i in 1 2 3; do
		ok 0 "blob_delivery $delegated # SKIP $APPR_TEST_STORAGE keeps no blob files: blobs are always streamed (checked above)"
	done
else
	appr_stop
	appr_start APPR_BLOB_DELIVERY=$delegated
	fetch "/api/v1/packages/cor/bmiss/blobs/sha256/${digest[bmiss]}"
	is_error 500 internal-error "$delegated: a missing blob: 500 JSON, not the web server's 404"
	fetch "/api/v1/packages/cor/btrunc/1.0.0/helm/pull"
	is_error 500 internal-error "$delegated: a truncated blob: 500 JSON"
	fetch "/api/v1/packages/cor/bgood/1.0.0/helm/pull"
	cmp -s "$BODYFILE" "${file[bgood]}"
	is "$STATUS $RC $?" "200 0 0" "$delegated: a sound blob: the pushed bytes, sent by the web server"
fi
