#!/bin/bash
# t-admin-oci.sh - appr-admin on the OCI content of the filesystem (SQLite) store:
# stats counts it; export carries it (version 2 archive, blobs once, manifests byte for
# byte) and import into a fresh store gives the same index back and a registry that
# serves the same bytes; a damaged OCI blob in an archive is refused with nothing
# written; backup and restore carry the OCI blob files; fsck finds a flipped byte, a
# missing blob file, an orphan file and a stale upload session, gc removes the debris,
# fsck --repair what cannot be served, and fsck is clean afterwards.
# etcd and redis: an archive's OCI content imported through the store's operations
# (served, counted by stats, exported again to the same index, twice is nothing
# written, a tag naming another manifest a conflict), copied out to SQLite and to
# another kv prefix with the same index, --skip-oci leaves it out; fsck finds a
# flipped byte in a chunk and the manifest that needs it, --repair removes them.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

T=$APPR_TMP
case $APPR_TEST_STORAGE in
etcd | redis) plan 19 ;;
*) plan 45 ;;
esac

# admin_fs DIR ARGS...: appr-admin on the SQLite store in DIR; OUT, ERR, RC
admin_fs() {
	local d=$1
	shift
	env APPR_CONFIG="$T/appr.conf" APPR_DATA_DIR="$d" APPR_STORAGE=filesystem STORAGE=filesystem \
		"$APPR_BUILDDIR/tools/appr-admin" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out") ERR=$(cat "$T/err")
}
# admin ARGS...: appr-admin on this variant's store; OUT, ERR, RC
admin() {
	appr_admin "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out") ERR=$(cat "$T/err")
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
index_of() { tar -xOf "$1" index.jsonl; }

# ---- a SQLite registry with OCI content (and one appr release) ----
FS=$T/fs
appr_start APPR_DATA_DIR="$FS" APPR_STORAGE=filesystem STORAGE=filesystem
R=/v2/ons/img
MT=application/vnd.oci.image.manifest.v1+json
IX=application/vnd.oci.image.index.v1+json
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$T/config"
head -c 70000 /dev/urandom >"$T/layer"
printf 'only uploaded' >"$T/loose"
C=$(sha "$T/config") L=$(sha "$T/layer") U=$(sha "$T/loose")
st=
for b in config layer loose; do
	req POST "$R/blobs/uploads/?digest=sha256:$(sha "$T/$b")" -H 'Content-Type: application/octet-stream' \
		--data-binary "@$T/$b"
	st+="$STATUS "
done
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":70000}]}' \
	"$MT" "$C" "$(wc -c <"$T/config")" "$L" >"$T/m1"
M1=$(sha "$T/m1")
req PUT "$R/manifests/v1" -H "Content-Type: $MT" --data-binary "@$T/m1"
st+="$STATUS "
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"sha256:%s","size":%s}]}' \
	"$IX" "$MT" "$M1" "$(wc -c <"$T/m1")" >"$T/idx"
MI=$(sha "$T/idx")
req PUT "$R/manifests/all" -H "Content-Type: $IX" --data-binary "@$T/idx"
st+="$STATUS "
ch=$(mkchart a 1.0.0 "$T/c")
push ns/a "$ch" 1.0.0 helm
st+="$STATUS"
[ "$st" = "201 201 201 201 201 200" ] || bail "pushing the OCI content and a release: $st"

# ---- etcd, redis: the OCI content carried both ways ----
case $APPR_TEST_STORAGE in
etcd | redis)
	admin_fs "$FS" export "$T/a.tar"
	is "$RC $(index_of "$T/a.tar" | head -1 | jq -c .version)" "0 2" "the SQLite store's export carries OCI content"
	admin import "$T/a.tar"
	is "$RC" 0 "import of OCI content into $APPR_TEST_STORAGE: exit 0" || diag "$ERR"
	like "$ERR" "import: OCI: 2 manifests written \(0 present\), 2 tags, 3 blob links, 3 blobs written \($((70000 + 13 + $(wc -c <"$T/config"))) bytes, 0 present\); 0 conflicts" \
		"... through the store's operations, saying what it wrote"
	admin stats --json
	is "$(jq -c .oci <<<"$OUT")" "{\"repositories\":1,\"manifests\":2,\"tags\":2,\"blobs\":3,\"bytes\":$(($(wc -c <"$T/config") + 70000 + 13))}" \
		"stats --json counts the $APPR_TEST_STORAGE store's OCI content as the SQLite store's"
	appr_stop
	appr_start
	req GET "$R/manifests/v1"
	cmp -s "$BODYFILE" "$T/m1" && m1=same
	req GET "$R/manifests/all"
	cmp -s "$BODYFILE" "$T/idx" && mi=same
	req GET "$R/blobs/sha256:$L"
	cmp -s "$BODYFILE" "$T/layer" && l=same
	req GET "$R/blobs/sha256:$U"
	is "$m1 $mi $l $STATUS" "same same same 200" \
		"the $APPR_TEST_STORAGE registry serves the imported tags, index, layer and loose blob"
	admin export "$T/kv.tar"
	is "$RC $(index_of "$T/kv.tar" | head -1 | jq -c '[.version, .oci_blobs, .oci_manifests]')" "0 [2,3,2]" \
		"the $APPR_TEST_STORAGE export carries its OCI content" || diag "$ERR"
	cmp -s <(index_of "$T/a.tar") <(index_of "$T/kv.tar")
	ok $? "... the same index as the SQLite store's (rows, bodies, created times)"
	is "$(tar -xOf "$T/kv.tar" "oci/blobs/$L" | sha256sum | cut -d' ' -f1)" "$L" "... and the blobs' bytes"
	admin import "$T/a.tar"
	like "$RC $ERR" "^0 .*import: OCI: 0 manifests written \(2 present\), 0 tags, 0 blob links, 0 blobs written \(0 bytes, 3 present\); 0 conflicts" \
		"importing twice writes nothing"
	admin_fs "$T/d3" import "$T/kv.tar"
	admin_fs "$T/d3" export "$T/c.tar"
	cmp -s <(index_of "$T/a.tar") <(index_of "$T/c.tar")
	ok $? "the $APPR_TEST_STORAGE archive into a fresh SQLite store, exported again: the same index"
	case $APPR_TEST_STORAGE in
	etcd) to=(--to-storage etcd --to-etcd-endpoints "$(env "${etcd_env[@]}" sh -c 'echo $APPR_ETCD_ENDPOINTS')") ;;
	redis) to=(--to-storage redis --to-redis-url "$(env "${redis_env[@]}" sh -c 'echo $APPR_REDIS_URL')") ;;
	esac
	admin copy "${to[@]}" --to-key-prefix copy/
	like "$RC $ERR" "^0 .*copy: OCI: 2 manifests written \(0 present\), 2 tags, 3 blob links, 3 blobs written" \
		"copy from $APPR_TEST_STORAGE into $APPR_TEST_STORAGE (another key prefix): the OCI content too"
	APPR_KEY_PREFIX=copy/ admin export "$T/copy.tar"
	cmp -s <(index_of "$T/a.tar") <(index_of "$T/copy.tar")
	ok $? "... exported from there: the same index"
	admin export "$T/skip.tar" --skip-oci
	like "$RC $ERR $(tar -tf "$T/skip.tar" | grep -c '^oci/')" "^0 export: skipped the OCI content of the $APPR_TEST_STORAGE store.* 0$" \
		"export --skip-oci leaves it out, saying so"
	# a tag there that names another manifest: a conflict, left as it is
	req PUT "$R/manifests/v1" -H "Content-Type: $IX" --data-binary "@$T/idx"
	admin import "$T/a.tar"
	like "$RC $OUT" "^1 .*OCI tag ons/img:v1 names sha256:$MI here, sha256:$M1 in the source: left as it is" \
		"a tag naming another manifest: a conflict, exit 1"
	req GET "$R/manifests/v1"
	is "$(header Docker-Content-Digest)" "sha256:$MI" "... left as it was"
	# fsck: clean, then a flipped byte in the layer's chunk found and repaired
	admin fsck
	like "$RC $ERR" "^0 .*fsck: OCI: 3 blobs, 2 manifests, 2 tags checked" \
		"fsck checks the $APPR_TEST_STORAGE store's OCI content: clean"
	k=oci/data/$(kv_get "oci/blob/$L" | jq -r .data)/00000000
	kv_get "$k" >"$T/chunk"
	python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[100] ^= 0xff; open(sys.argv[1], "wb").write(d)' "$T/chunk"
	kv_put "$k" <"$T/chunk"
	admin fsck
	like "$RC $OUT" "^1 OCI blob sha256:$L: its bytes have SHA-256" "a flipped byte in a chunk: fsck says so, exit 1"
	like "$OUT" "OCI manifest sha256:$M1 of ons/img: its blob sha256:$L is damaged" "... and names the manifest that needs it"
	admin fsck --repair
	admin fsck
	req GET "$R/manifests/sha256:$M1"
	a=$STATUS
	req GET "$R/blobs/sha256:$L"
	is "$RC $OUT $a $STATUS" "0  404 404" \
		"after fsck --repair: clean, the manifest that could not be served gone with its blob"
	exit 0
	;;
esac

# ---- stats ----
admin stats --json
is "$(jq -c .oci <<<"$OUT")" "{\"repositories\":1,\"manifests\":2,\"tags\":2,\"blobs\":3,\"bytes\":$(($(wc -c <"$T/config") + 70000 + 13))}" \
	"stats --json: OCI repositories, manifests, tags, blobs, bytes"
admin stats
like "$OUT" "OCI: 1 repositories, 2 manifests, 2 tags, 3 blobs" "stats: an OCI line"

# ---- export, import into a fresh store, export again ----
admin export "$T/a.tar"
is "$RC" 0 "export exits 0"
like "$ERR" "export: OCI: 2 manifests, 2 tags, 3 blob links, 3 blobs" "... counting the OCI content"
is "$(index_of "$T/a.tar" | head -1 | jq -c '[.version, .oci_blobs, .oci_manifests]')" "[2,3,2]" \
	"a version 2 archive, its header counting the OCI blobs and manifests"
is "$(tar -tf "$T/a.tar" | grep -c '^oci/blobs/[0-9a-f]\{64\}$') $(tar -xOf "$T/a.tar" "oci/blobs/$L" | sha256sum | cut -d' ' -f1)" \
	"3 $L" "each OCI blob once, its bytes as stored"
index_of "$T/a.tar" | jq -r "select(.type == \"oci_manifest\" and .digest == \"$M1\") | .body" | base64 -d >"$T/m1.out"
cmp -s "$T/m1" "$T/m1.out"
ok $? "a manifest's body is carried byte for byte"
admin_fs "$T/d2" import "$T/a.tar"
is "$RC" 0 "import into a fresh SQLite store exits 0"
like "$ERR" "import: OCI: 2 manifests written \(0 present\), 2 tags, 3 blob links, 3 blobs written" "... and says what it wrote"
admin_fs "$T/d2" export "$T/b.tar"
cmp -s <(index_of "$T/a.tar") <(index_of "$T/b.tar")
ok $? "exported again: the same index (created times kept)"
admin_fs "$T/d2" import "$T/a.tar"
like "$RC $ERR" "^0 .*import: OCI: 0 manifests written \(2 present\).*0 blobs written \(0 bytes, 3 present\); 0 conflicts" \
	"importing twice writes nothing"
sqlite3 "$T/d2/appr.db" "UPDATE oci_tags SET digest = '$MI' WHERE repo = 'ons/img' AND tag = 'v1'"
admin_fs "$T/d2" import "$T/a.tar"
like "$RC $OUT" "^1 conflict: oci_tag ons/img v1: the store holds another digest$" "a tag held naming another manifest: a conflict, exit 1"
is "$(sqlite3 "$T/d2/appr.db" "SELECT digest FROM oci_tags WHERE repo = 'ons/img' AND tag = 'v1'")" "$MI" "... left as it was"
sqlite3 "$T/d2/appr.db" "UPDATE oci_tags SET digest = '$M1' WHERE repo = 'ons/img' AND tag = 'v1'"

# an archive whose OCI blob was altered: refused, nothing written
python3 - "$T/a.tar" "$T/bad.tar" "$L" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], 'rb').read())
name = ("oci/blobs/" + sys.argv[3]).encode()
i = data.index(name)
data[i + 512 + 100] ^= 1
open(sys.argv[2], 'wb').write(data)
EOF
admin_fs "$T/d3" import "$T/bad.tar"
like "$RC $ERR" "^1 .*OCI blob $L: its bytes' SHA-256 is .*nothing was imported" "an altered OCI blob in an archive: refused"
# retar INDEX-FILTER OUT: a.tar with its index passed through the jq filter
retar() {
	rm -rf "$T/x" && mkdir -p "$T/x" && tar -xf "$T/a.tar" -C "$T/x" &&
		index_of "$T/a.tar" | jq -c "$1" >"$T/x/index.jsonl" &&
		(cd "$T/x" && tar --format=ustar -cf "$2" index.jsonl $(tar -tf "$T/a.tar" | grep -v '^index.jsonl$'))
}
retar "if .type == \"oci_manifest\" and .digest == \"$M1\" then .body = (\"{}\" | @base64) else . end" "$T/bad2.tar"
admin_fs "$T/d3" import "$T/bad2.tar"
like "$RC $ERR" "^1 .*OCI manifest $M1 of ons/img: its body's SHA-256 is .*nothing was imported" \
	"a manifest body that is not its digest's: refused"
retar 'if .type == "appr-archive" then .version = 1 else . end' "$T/bad3.tar"
admin_fs "$T/d3" import "$T/bad3.tar"
like "$RC $ERR" "^1 .*an OCI record in a version 1 archive.*nothing was imported" "OCI records in a version 1 archive: refused"
retar "select(.type != \"oci_manifest\" or .digest != \"$M1\") |
	if .type == \"appr-archive\" then .oci_manifests = 1 else . end" "$T/bad4.tar"
admin_fs "$T/d3" import "$T/bad4.tar"
like "$RC $ERR" "^1 .*index: a reference of ons/img from .* not a manifest and a blob or manifest listed.*nothing was imported" \
	"a reference to a manifest the archive lacks: refused"
admin_fs "$T/d3" stats --json
is "$(jq -c '[.manifests, .oci.manifests, .oci.blobs]' <<<"$OUT") $(find "$T/d3/oci" -type f 2>/dev/null | wc -l)" "[0,0,0] 0" \
	"... and nothing was written"

# copy into another SQLite store: the same as export + import
admin copy --to-storage filesystem --to-data-dir "$T/d4"
like "$RC $ERR" "^0 .*copy: OCI: 2 manifests written \(0 present\), 2 tags, 3 blob links, 3 blobs written" "copy into a SQLite store carries the OCI content"
admin_fs "$T/d4" export "$T/d.tar"
cmp -s <(index_of "$T/a.tar") <(index_of "$T/d.tar")
ok $? "... the same index as export + import"

# ---- backup, restore ----
# OCI blobs pushed and deleted while backups are taken (bounded: 25 of each, in
# another repository): each backup exits 0 and restores into a checked directory
(
	for i in $(seq 1 25); do
		printf 'churn %s' "$i" >"$T/churn"
		d=$(sha "$T/churn")
		curl -s -o /dev/null --max-time 10 -X POST -H 'Content-Type: application/octet-stream' \
			--data-binary "@$T/churn" "$BASE/v2/ons/churn/blobs/uploads/?digest=sha256:$d"
		curl -s -o /dev/null --max-time 10 -X DELETE "$BASE/v2/ons/churn/blobs/sha256:$d"
	done
) &
load=$!
rcs=
for k in 1 2 3; do
	admin backup "$T/load$k.tar"
	rcs+="$RC "
	admin restore "$T/load$k.tar" "$T/rl$k"
	rcs+="$RC "
done
wait "$load"
is "$rcs" "0 0 0 0 0 0 " "backups while OCI blobs are pushed and deleted: each exits 0 and restores checked"
admin backup "$T/k.tar"
like "$RC $ERR" "^0 backup: 1 manifests, 1 blobs .*, 3 OCI blobs" "backup carries the OCI blobs"
is "$(tar -tf "$T/k.tar" | grep -c "^oci/sha256/[0-9a-f][0-9a-f]/[0-9a-f]\{64\}$")" 3 "... as oci/sha256/<2>/<digest> members"
admin restore "$T/k.tar" "$T/r"
like "$RC $ERR" "^0 restore: .*3 OCI blobs .* checked" "restore makes a data directory with them"

# the imported and the restored store serve the same bytes
appr_stop
bad=
for d in "$T/d2" "$T/r"; do
	appr_start APPR_DATA_DIR="$d" APPR_STORAGE=filesystem STORAGE=filesystem
	req GET "$R/manifests/v1"
	cmp -s "$BODYFILE" "$T/m1" || bad+=" $d:v1"
	req GET "$R/manifests/all"
	cmp -s "$BODYFILE" "$T/idx" || bad+=" $d:all"
	req GET "$R/blobs/sha256:$L"
	cmp -s "$BODYFILE" "$T/layer" || bad+=" $d:layer"
	req GET "$R/blobs/sha256:$U"
	cmp -s "$BODYFILE" "$T/loose" || bad+=" $d:loose"
	appr_stop
done
is "$bad" "" "the imported and the restored stores serve every OCI manifest and blob byte for byte"
appr_start APPR_DATA_DIR="$FS" APPR_STORAGE=filesystem STORAGE=filesystem

# ---- fsck, gc ----
admin fsck
is "$RC $OUT" "0 " "fsck: the store is clean"
like "$ERR" "fsck: OCI: 3 blobs, 2 manifests, 2 tags checked" "... having checked the OCI content"
B=$FS/oci/sha256
cp "$B/${L:0:2}/$L" "$T/layer.keep"
cp "$B/${C:0:2}/$C" "$T/config.keep"
printf '\x55' | dd of="$B/${L:0:2}/$L" bs=1 seek=1000 conv=notrunc status=none
cmp -s "$B/${L:0:2}/$L" "$T/layer" && printf '\xaa' | dd of="$B/${L:0:2}/$L" bs=1 seek=1000 conv=notrunc status=none
rm "$B/${C:0:2}/$C"
O=$(printf 'orphan' | sha256sum | cut -d' ' -f1)
mkdir -p "$B/${O:0:2}"
printf 'orphan' >"$B/${O:0:2}/$O"
touch -d '2 hours ago' "$B/${O:0:2}/$O"
req POST "$R/blobs/uploads/"
uuid=$(header Docker-Upload-UUID)
[ -f "$FS/oci/uploads/$uuid" ] || bail "no upload file for session $uuid"
touch -d '3 days ago' "$FS/oci/uploads/$uuid"
admin fsck
is "$RC" 1 "fsck with damage: exit 1"
like "$OUT" "OCI blob $L: its bytes' SHA-256 is" "... a flipped byte in an OCI blob"
like "$OUT" "OCI blob $C is missing" "... a missing OCI blob file"
like "$OUT" "unreferenced OCI blob file $B/${O:0:2}/$O" "... an orphan blob file"
like "$OUT" "stale OCI upload session $uuid of ons/img" "... a stale upload session"
like "$OUT" "OCI manifest $M1 of ons/img references blob $L, which is damaged" "... the manifest that needs it"

admin gc
like "$RC $OUT" "^0 .*gc: OCI: removed 1 unreferenced blob files, 0 unused blobs, 1 stale upload sessions" "gc removes the orphan and the stale session"
[ ! -e "$B/${O:0:2}/$O" ] && [ ! -e "$FS/oci/uploads/$uuid" ] && [ -e "$B/${L:0:2}/$L" ]
ok $? "... their files gone, the referenced (damaged) blob left"
admin fsck
is "$RC $(grep -c 'unreferenced\|stale' <<<"$OUT")" "1 0" "fsck after gc: no debris, the damage still said"

# put the bytes back: clean
cp "$T/layer.keep" "$B/${L:0:2}/$L"
cp "$T/config.keep" "$B/${C:0:2}/$C"
admin fsck
is "$RC $OUT" "0 " "the bytes put back: fsck is clean"

# --repair deletes what cannot be served, then fsck is clean
printf '\x00' | dd of="$B/${C:0:2}/$C" bs=1 seek=3 conv=notrunc status=none
admin fsck --repair
like "$OUT" "repaired: deleted the OCI manifest" "fsck --repair deletes the manifest whose blob is damaged"
admin fsck
is "$RC $OUT" "0 " "... and fsck is clean afterwards"
req GET "$R/manifests/v1"
is "$STATUS" 404 "... the manifest is gone from the registry"
req GET "$R/blobs/sha256:$U"
is "$STATUS $(sha "$BODYFILE")" "200 $U" "... what was sound is still served"

# a manifest deleted after its blob's link: the blob row is left unused (no problem
# for fsck, which counts it), and gc removes it with its file
printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":13},"layers":[]}' \
	"$MT" "$U" >"$T/m2"
req PUT "$R/manifests/v2" -H "Content-Type: $MT" --data-binary "@$T/m2"
st="$STATUS"
req DELETE "$R/blobs/sha256:$U"
st+=" $STATUS"
req DELETE "$R/manifests/sha256:$(sha "$T/m2")"
st+=" $STATUS"
[ "$st" = "201 202 202" ] || diag "statuses: $st"
admin fsck
is "$RC $OUT" "0 " "a blob row nothing uses any more: no problem for fsck"
like "$ERR" "fsck: OCI: 1 blobs no repository uses any more \(appr-admin gc removes them\)" "... which says gc removes it"
admin gc
like "$OUT" "gc: OCI: removed 0 unreferenced blob files, 1 unused blobs, 0 stale upload sessions \(13 bytes\)" "gc removes the unused blob"
is "$(sqlite3 "$FS/appr.db" "SELECT count(*) FROM oci_blobs WHERE digest = '$U'") $([ -e "$B/${U:0:2}/$U" ] && echo file || echo nofile)" "0 nofile" \
	"... its row and its file"
