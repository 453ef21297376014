#!/bin/bash
# t-fsck.sh - appr-admin fsck on every store: clean, then each blob broken as the
# store can break (a flipped byte, a truncated or missing file on SQLite; a lost chunk
# on etcd and redis) named on its own line with exit 1, --repair deletes what cannot
# be served and leaves a clean store; what still serves is untouched.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 15

T=$APPR_TMP
appr_start
# fsck [--repair]: OUT (stdout), ERR (stderr), RC
fsck() {
	appr_admin fsck "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}
# break_blob DIGEST HOW: make the stored blob wrong (HOW: flip, truncate, remove; on
# etcd and redis every HOW loses the blob's first chunk)
break_blob() {
	local d=$1 how=$2 f up
	case $APPR_TEST_STORAGE in
	filesystem)
		f=$APPR_DATA/blobs/sha256/${d:0:2}/$d
		case $how in
		flip) printf '\x00' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") / 2)) conv=notrunc status=none ;;
		truncate) truncate -s -10 "$f" ;;
		remove) rm -f "$f" ;;
		esac
		;;
	etcd)
		up=$(etcdctl_ get --print-value-only "/appr/blob/$d" | jq -r .upload)
		etcdctl_ del "/appr/chunk/$up/00000000" >/dev/null
		;;
	redis)
		up=$(redis_cli HGET "/appr/k:blob/$d" v | jq -r .upload)
		redis_cli DEL "/appr/k:chunk/$up/00000000" >/dev/null
		;;
	esac
}

for n in a b c d; do
	tgz=$(mkchart "$n" 1.0.0 "$T/c")
	push "ns/$n" "$tgz" 1.0.0 helm
	[ "$STATUS" = 200 ] || bail "push ns/$n: $STATUS"
done
req POST /api/v1/packages/ns/a/channels/stable/1.0.0
# stats: a blob shared by two namespaces counts in each, and once in all
push ns2/a "$T/c/a-1.0.0.tgz" 1.0.0 helm
push ns2/a "$T/c/a-1.0.0.tgz" 1.0.0 kpm
appr_admin stats --json >"$T/stats.json"
is "$? $(jq -c '[.namespaces, .packages, .releases, .manifests, .blobs, .bytes == ([.by_namespace.ns.bytes] | add)]' "$T/stats.json")" \
	"0 [2,5,5,6,4,true]" "stats --json: 2 namespaces, 5 packages and releases, 6 manifests, 4 blobs"
is "$(jq -c '.by_namespace.ns2 | [.packages, .releases, .manifests, .blobs]' "$T/stats.json")" "[1,1,2,1]" \
	"per namespace: ns2 has 1 package, 1 release, 2 manifests of 1 blob"
appr_admin stats >"$T/stats.txt"
like "$(tail -2 "$T/stats.txt" | tr -s ' ')" '^\(all: blobs once\) 5 5 6 4 [0-9]+.2 namespaces$' "stats: the table ends with the whole store"
req DELETE /api/v1/packages/ns2/a/1.0.0/helm
req DELETE /api/v1/packages/ns2/a/1.0.0/kpm
fsck
is "$RC $OUT" "0 " "a sound store: exit 0, no problem line"
like "$ERR" 'fsck: 4 packages, 4 releases, 4 manifests, 1 channels: 0 problems' "the summary counts what it checked"

db=$(digest_of "$T/c/b-1.0.0.tgz") dc=$(digest_of "$T/c/c-1.0.0.tgz") dd=$(digest_of "$T/c/d-1.0.0.tgz")
break_blob "$db" flip
break_blob "$dc" truncate
break_blob "$dd" remove
fsck
is "$RC $(wc -l <<<"$OUT")" "1 3" "three broken blobs: exit 1, three lines"
case $APPR_TEST_STORAGE in
filesystem)
	like "$OUT" "ns/b 1.0.0 helm: blob $db: its bytes' SHA-256 is [0-9a-f]{64}, [0-9a-f]{64} was recorded" "a flipped byte: named, both SHA-256"
	like "$OUT" "ns/c 1.0.0 helm: blob $dc is [0-9]+ bytes, the manifest says [0-9]+" "a truncated blob: named, both sizes"
	like "$OUT" "ns/d 1.0.0 helm: blob $dd is missing" "a missing blob: named"
	;;
*)
	like "$OUT" "ns/b 1.0.0 helm: blob $db cannot be read" "a lost chunk (b): named"
	like "$OUT" "ns/c 1.0.0 helm: blob $dc cannot be read" "a lost chunk (c): named"
	like "$OUT" "ns/d 1.0.0 helm: blob $dd cannot be read" "a lost chunk (d): named"
	;;
esac
fsck --repair
is "$RC $(grep -c 'repaired: deleted the manifest' <<<"$OUT")" "0 3" "--repair deletes the three manifests and exits 0"
for n in b c d; do
	req GET "/api/v1/packages/ns/$n/1.0.0/helm"
	codes+="$STATUS "
done
is "$codes" "404 404 404 " "they are no longer served"
req GET /api/v1/packages/ns/a/1.0.0/helm/pull
cmp -s "$BODYFILE" "$T/c/a-1.0.0.tgz"
ok $? "the sound release still pulls byte-exact"
fsck
is "$RC $OUT" "0 " "after --repair: clean"

# kvput KEY VALUE: write one kv key as the etcd or redis driver lays it out
kvput() {
	case $APPR_TEST_STORAGE in
	etcd) etcdctl_ put "/appr/$1" "$2" >/dev/null ;;
	redis)
		redis_cli HSET "/appr/k:$1" v "$2" r 1 >/dev/null
		redis_cli ZADD /appr/idx 0 "$1" >/dev/null
		;;
	esac
}
if [ "$APPR_TEST_STORAGE" = filesystem ]; then
	# debris: an unreferenced blob
	e=$(mkchart e 1.0.0 "$T/c")
	de=$(digest_of "$e")
	mkdir -p "$APPR_DATA/blobs/sha256/${de:0:2}"
	cp "$e" "$APPR_DATA/blobs/sha256/${de:0:2}/$de"
	fsck
	is "$RC $OUT" "1 unreferenced blob $APPR_DATA/blobs/sha256/${de:0:2}/$de" "an unreferenced blob: exit 1, named"
	fsck --repair
	fsck
	is "$RC $OUT" "0 " "--repair removed it"
else
	# debris: the chunks of a push killed before its transaction (its marker a day
	# old), of one from before markers (none), and those of an upload in flight
	dead=0123456789abcdef0123456789abcdef old=fedcba9876543210fedcba9876543210
	live=00112233445566778899aabbccddeeff
	kvput "chunk/$dead/00000000" x; kvput "chunk/$dead/00000001" y; kvput "upload/$dead" 1
	kvput "chunk/$old/00000000" x
	kvput "chunk/$live/00000000" x; kvput "upload/$live" "$(date +%s)"
	fsck
	is "$RC $(sort <<<"$OUT" | tr '\n' '|')" "1 1 chunks of a dead upload: chunk/$old/|2 chunks of a dead upload: chunk/$dead/|" \
		"the chunks of dead uploads: exit 1, each named; an upload in flight is not"
	fsck --repair
	fsck
	is "$RC $OUT" "0 " "--repair removed them"
fi
