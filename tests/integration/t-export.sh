#!/bin/bash
# t-export.sh - appr-admin export, import and copy across stores: the archive of the
# registry's store (this variant's driver) imported into a fresh SQLite store and
# exported again gives the same index (created times kept), importing twice changes
# nothing, copy gives the same as export+import (into SQLite and into this variant's
# driver under another key prefix), a corrupted or cut archive is refused with nothing
# written, a release held with another digest is a conflict left alone (exit 1).
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 29

T=$APPR_TMP
appr_start
# admin_fs DIR ARGS...: appr-admin on the SQLite store in DIR; OUT, ERR, RC
admin_fs() {
	local d=$1
	shift
	env APPR_CONFIG="$T/appr.conf" APPR_DATA_DIR="$d" STORAGE=filesystem \
		"$APPR_BUILDDIR/tools/appr-admin" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out") ERR=$(cat "$T/err")
}
# admin ARGS...: appr-admin on the registry's store; OUT, ERR, RC
admin() {
	appr_admin "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out") ERR=$(cat "$T/err")
}
index_of() { tar -xOf "$1" index.jsonl; }

# ---- a store with a bit of everything ----
printf 'pw-a\n' | appr_admin user add alice --password-stdin || bail "user add"
appr_admin grant alice ns write || bail "grant"
appr_admin token create --user alice --namespace ns --scope write >/dev/null 2>&1 || bail "token create"
A=()
ca1=$(mkchart a 1.0.0 "$T/c") ca2=$(mkchart a 1.1.0 "$T/c") cb=$(mkchart b 2.0.0 "$T/c")
push ns/a "$ca1" 1.0.0 helm; s1=$STATUS
pushbody "$ca2" 1.1.0 helm >"$T/p.json"
req POST /api/v1/packages/ns/a "${A[@]}" -H 'Content-Type: application/json' --data-binary "@$T/p.json"
s1+=" $STATUS"
pushbody "$cb" 2.0.0 kpm '.metadata = {"k": [1, "two"]}' >"$T/p.json"
req POST /api/v1/packages/ns/b "${A[@]}" -H 'Content-Type: application/json' --data-binary "@$T/p.json"
s1+=" $STATUS"
# the same blob under a private package of another namespace
pushbody "$ca1" 1.0.0 kpm '.visibility = "private"' >"$T/p.json"
req POST /api/v1/packages/other/p "${A[@]}" -H 'Content-Type: application/json' --data-binary "@$T/p.json"
s1+=" $STATUS"
req POST /api/v1/packages/ns/a/channels/stable/1.1.0 "${A[@]}"; s1+=" $STATUS"
req POST /api/v1/packages/ns/a/channels/stable/1.0.0 "${A[@]}"; s1+=" $STATUS"
[ "$s1" = "200 200 200 200 200 200" ] || diag "statuses: $s1"

# ---- export ----
admin export "$T/a.tar"
is "$RC $(wc -l <<<"$ERR")" "0 1" "export exits 0, one summary line (no progress off a terminal)"
like "$ERR" 'export: 3 packages, 4 manifests, 1 channels, 1 users, 1 grants, 1 tokens, 3 blobs' "the summary counts what it wrote"
is "$(tar -tf "$T/a.tar" | head -1) $(tar -tf "$T/a.tar" | grep -c '^blobs/[0-9a-f]\{64\}\.tgz$')" "index.jsonl 3" \
	"a tar: the index first, then each blob once"
is "$(index_of "$T/a.tar" | head -1 | jq -c '[.type, .version]')" '["appr-archive",1]' "the index starts with its format and version"
is "$(index_of "$T/a.tar" | jq -r 'select(.type == "package" and .name == "p") | .visibility')" private \
	"visibility is kept"
is "$(index_of "$T/a.tar" | jq -r 'select(.type == "manifest" and .name == "b") | .metadata')" '{"k":[1,"two"]}' \
	"metadata is kept as it was pushed"
da=$(digest_of "$ca1")
tar -xOf "$T/a.tar" "blobs/$da.tgz" | cmp -s - "$ca1"
ok $? "a blob in the archive is the pushed .tgz, byte for byte"

# ---- import into a fresh SQLite store, export again ----
admin_fs "$T/d2" import "$T/a.tar"
is "$RC" 0 "import into an empty SQLite store exits 0"
like "$ERR" 'import: 4 manifests written \([0-9]+ bytes\), 0 already present, 1 channels, 1 users, 1 grants, 1 tokens' \
	"import says what it wrote"
admin_fs "$T/d2" export "$T/b.tar"
index_of "$T/a.tar" >"$T/a.idx"
index_of "$T/b.tar" >"$T/b.idx"
cmp -s "$T/a.idx" "$T/b.idx"
ok $? "export, import elsewhere, export again: the same index (created times kept)" || diag "$(diff "$T/a.idx" "$T/b.idx" | head -10)"
admin_fs "$T/d2" import "$T/a.tar"
is "$RC $(grep -o '0 manifests written.*' <<<"$ERR" | cut -d'(' -f1)" "0 0 manifests written " \
	"importing again exits 0 and writes nothing"
like "$ERR" '4 already present, 0 channels, 0 users, 0 grants, 0 tokens written; 0 conflicts' "...everything is already present"
admin_fs "$T/d2" export "$T/b2.tar"
index_of "$T/b2.tar" | cmp -s - "$T/a.idx"
ok $? "after the second import: still the same index"

# ---- copy ----
admin copy --to-storage filesystem --to-data-dir "$T/d3"
is "$RC" 0 "copy into a new SQLite store exits 0"
admin_fs "$T/d3" export "$T/c.tar"
index_of "$T/c.tar" | cmp -s - "$T/a.idx"
ok $? "copy gives what export + import give"
# and from SQLite into this variant's driver, beside the registry's own keys
case $APPR_TEST_STORAGE in
etcd) to=(--to-storage etcd --to-etcd-endpoints "$etcd_endpoints" --to-key-prefix /copy/) back=(STORAGE=etcd "APPR_ETCD_ENDPOINTS=$etcd_endpoints" APPR_KEY_PREFIX=/copy/) ;;
redis) to=(--to-storage redis --to-redis-url "redis://127.0.0.1:$redis_port/0" --to-key-prefix /copy/) back=(STORAGE=redis "APPR_REDIS_URL=redis://127.0.0.1:$redis_port/0" APPR_KEY_PREFIX=/copy/) ;;
*) to=(--to-storage filesystem --to-data-dir "$T/d4") back=(STORAGE=filesystem "APPR_DATA_DIR=$T/d4") ;;
esac
admin_fs "$T/d2" copy "${to[@]}"
is "$RC" 0 "copy from SQLite into $APPR_TEST_STORAGE exits 0"
env APPR_CONFIG="$T/appr.conf" "${back[@]}" "$APPR_BUILDDIR/tools/appr-admin" export "$T/e.tar" 2>"$T/err"
index_of "$T/e.tar" | cmp -s - "$T/a.idx"
ok $? "...and its export is the same index"

# ---- a damaged archive is refused, nothing written ----
off=$(grep -abo "$(printf '\037\213')" "$T/a.tar" | head -1 | cut -d: -f1)
cp "$T/a.tar" "$T/bad.tar"
printf '\000' | dd of="$T/bad.tar" bs=1 seek=$((off + 40)) conv=notrunc status=none
admin_fs "$T/d5" import "$T/bad.tar"
like "$RC $ERR" "^1 .*blob [0-9a-f]{64}: .*nothing was imported" "a flipped byte in a blob: exit 1, the blob named, nothing imported"
admin_fs "$T/d5" stats --json
is "$(jq -c '[.packages, .manifests]' <<<"$OUT")" "[0,0]" "...the store holds nothing"
head -c $(($(stat -c %s "$T/a.tar") - 3000)) "$T/a.tar" >"$T/cut.tar"
admin_fs "$T/d5" import "$T/cut.tar"
like "$RC $ERR" "^1 .*nothing was imported" "a cut archive: exit 1, nothing imported"
# an archive made with tar(1) from a good one, one created_at made wrong
mkdir -p "$T/x" && tar -xf "$T/a.tar" -C "$T/x"
sed -i '0,/"created_at":"[^"]*"/s//"created_at":"yesterday"/' "$T/x/index.jsonl"
(cd "$T/x" && tar --format=ustar -cf ../badidx.tar index.jsonl blobs/*.tgz)
admin_fs "$T/d5" import "$T/badidx.tar"
like "$RC $ERR" '^1 .*index line [0-9]+: "created_at" is not a time.*nothing was imported' "a wrong index line: exit 1, the line named"
admin_fs "$T/d5" stats --json
is "$(jq -c '[.packages, .manifests]' <<<"$OUT")" "[0,0]" "...still nothing"

# ---- conflicts ----
push ns/b "$ca2" 2.0.0 kpm '.force = true'
[ "$STATUS" = 200 ] || diag "forced push: $STATUS"
admin_fs "$T/d2" import "$T/a.tar" # d2 holds the old ns/b 2.0.0
is "$RC" 0 "(a store holding the same: exit 0)"
admin import "$T/a.tar"
is "$RC $OUT" "1 conflict: ns/b 2.0.0 kpm: the store holds another digest" "a release held with another digest: exit 1, the conflict named"
req GET /api/v1/packages/ns/b/2.0.0/kpm/pull
cmp -s "$BODYFILE" "$ca2"
ok $? "...and left as it was"

# ---- usage ----
admin export --help
is "$RC $(head -1 <<<"$OUT")" "0   export FILE [--skip-oci]           write the whole store (packages, releases," "export --help: exit 0, its usage"
admin import
is "$RC" 2 "import without a file: exit 2"
admin copy --to-nowhere x
is "$RC" 2 "copy with an unknown option: exit 2"

# ---- namespaces whose "ns/name" sorts otherwise than (ns, name) ----
# "q-r/z" < "q/z" < "q.s/z" as strings ('-' and '.' come before '/'), but the store
# lists q, q-r, q.s: a walk that compared joined names skipped some of them.
for p in q/z q-r/z q.s/z q/zz; do
	push "$p" "$cb" 2.0.0 kpm
	[ "$STATUS" = 200 ] || diag "push $p: $STATUS"
done
admin export "$T/q.tar"
is "$RC $(index_of "$T/q.tar" | jq -r 'select(.type == "package" and (.namespace | startswith("q"))) | .namespace + "/" + .name' | sort | tr '\n' ' ')" \
	"0 q-r/z q.s/z q/z q/zz " "export walks every namespace, q, q-r and q.s alike"
