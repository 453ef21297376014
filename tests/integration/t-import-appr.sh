#!/bin/bash
# t-import-appr.sh - appr-admin import-appr: a store of the original appr server, built
# here key by key as its kv models write it (packages.json, <ns>/<name>/releases.json,
# <ns>/<name>/digests/sha256/<digest> holding the blob in base64), is imported into
# the registry's store (this variant's driver) from a directory; packages, releases,
# media types, metadata, created_at, channels and pulled bytes are checked through
# the API; a blob that does not match its manifest and a missing blob are said and
# left out (exit 1); a second run imports nothing new. A clean original gives exit 0.
# With etcd, the same store written through etcd's v2 API (as the original wrote it)
# and in the v3 keyspace under another prefix; with redis, written to redis: each
# imported into a fresh SQLite store gives the same archive index as the first import.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

case $APPR_TEST_STORAGE in
etcd) plan 28 ;;
redis) plan 26 ;;
*) plan 23 ;;
esac

T=$APPR_TMP
# the original wrote through etcd's v2 API: the test's etcd serves it too
export ETCD_ENABLE_V2=true
appr_start

# admin ARGS...: appr-admin on the registry's store; OUT, ERR, RC
admin() {
	appr_admin "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out") ERR=$(cat "$T/err")
}
# admin_fs DIR ARGS...: appr-admin on the SQLite store in DIR; OUT, ERR, RC
admin_fs() {
	local d=$1
	shift
	env APPR_CONFIG="$T/appr.conf" APPR_DATA_DIR="$d" STORAGE=filesystem \
		"$APPR_BUILDDIR/tools/appr-admin" "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out") ERR=$(cat "$T/err")
}
index_of() { tar -xOf "$1" index.jsonl; }

# ---- the original's records, one directory of keys per store ($S) ----
# A store is described under $S/keys/<key> (the original's key, its default prefix
# appr/packages/ left out); write_layout copies it into a real layout.

# add_release S NS/NAME RELEASE MEDIA_TYPE FILE CREATED [METADATA-JSON [BLOBFILE]]:
# one manifest (and its blob: FILE, or BLOBFILE instead of it, "-" for none).
add_release() {
	local s=$1 pkg=$2 rel=$3 mt=$4 file=$5 created=$6 meta=${7:-null} blob=${8:-$5} d size rj
	d=$(digest_of "$file")
	size=$(stat -c %s "$file")
	rj=$s/keys/$pkg/releases.json
	mkdir -p "$s/keys/$pkg/digests/sha256"
	[ -f "$rj" ] || printf '{"page": 0, "channels": {}, "releases": {}}' >"$rj"
	jq -c --arg pkg "$pkg" --arg rel "$rel" --arg mt "$mt" --arg d "$d" --argjson size "$size" \
		--arg created "$created" --argjson meta "$meta" '
		.releases[$rel] //= {"manifests": {}, "channels": []}
		| .releases[$rel].manifests[$mt] = {
			"created_at": $created, "package": $pkg, "release": $rel, "metadata": $meta,
			"mediaType": "application/vnd.appr.package-manifest.\($mt).v0.json",
			"content": {"mediaType": "application/vnd.appr.package.\($mt).v0.tar+gzip",
				    "size": $size, "digest": $d, "urls": []}}' "$rj" >"$rj.new" &&
		mv "$rj.new" "$rj"
	[ "$blob" = - ] || base64 -w0 "$blob" >"$s/keys/$pkg/digests/sha256/$d"
	# packages.json
	[ -f "$s/keys/packages.json" ] || printf '{"page": 0, "packages": {}}' >"$s/keys/packages.json"
	jq -c --arg ns "${pkg%/*}" --arg name "${pkg#*/}" --arg created "$created" '
		.packages[$ns][$name] //= {"created_at": $created, "name": $name, "namespace": $ns}' \
		"$s/keys/packages.json" >"$s/keys/p.new" && mv "$s/keys/p.new" "$s/keys/packages.json"
}

# set_channel S NS/NAME CHANNEL CURRENT [MEMBER...]: a channel, as the original keeps
# it: {name, current, package} in "channels", its name in each member's "channels".
set_channel() {
	local s=$1 pkg=$2 ch=$3 cur=$4 rj
	shift 4
	rj=$s/keys/$pkg/releases.json
	jq -c --arg pkg "$pkg" --arg ch "$ch" --arg cur "$cur" --args '
		.channels[$ch] = {"name": $ch, "current": $cur, "package": $pkg}
		| reduce ($ARGS.positional[], $cur) as $r (.;
			.releases[$r].channels |= (. + [$ch] | unique))' "$@" <"$rj" >"$rj.new" &&
		mv "$rj.new" "$rj"
}

# write_layout S LAYOUT [PREFIX]: every key of S, under PREFIX (default appr/packages/),
# into: fs DIR (files), etcd2 (etcd's v2 API), etcd3 (v3 keys "/" + key), redis.
write_layout() {
	local s=$1 layout=$2 prefix=${3:-appr/packages/} dir=${4:-} f key
	(cd "$s/keys" && find . -type f | sed 's|^\./||' | sort) >"$T/keys.list"
	while read -r f; do
		key=$prefix$f
		case $layout in
		fs)
			mkdir -p "$(dirname "$dir/$key")" && cp "$s/keys/$f" "$dir/$key" ;;
		etcd2)
			curl -s -f -X PUT "$etcd_endpoints/v2/keys/$key" \
				--data-urlencode "value@$s/keys/$f" >/dev/null || echo "etcd2 PUT $key failed" ;;
		etcd3)
			etcdctl_ put "/$key" <"$s/keys/$f" >/dev/null || echo "etcd3 put $key failed" ;;
		redis)
			redis_cli -x SET "$key" <"$s/keys/$f" >/dev/null || echo "redis SET $key failed" ;;
		esac
	done <"$T/keys.list"
}

C=$T/charts
app100=$(mkchart app 1.0.0 "$C") app110=$(mkchart app 1.1.0 "$C") app110k=$(mkchart appk 1.1.0 "$C")
app2=$(mkchart app 2.0.0-rc.1 "$C") tool=$(mkchart tool 0.1.0 "$C")
web300=$(mkchart web 3.0.0 "$C") web301=$(mkchart web 3.0.1 "$C") other=$(mkchart other 9.9.9 "$C")
gone=$(mkchart gone 1.0.0 "$C")

S=$T/orig
add_release "$S" ns1/app 1.0.0 helm "$app100" 2017-05-12T10:20:30.123456
add_release "$S" ns1/app 1.1.0 helm "$app110" 2017-05-13T08:00:00.000001
add_release "$S" ns1/app 1.1.0 kpm "$app110k" 2017-05-13T08:00:01 '{"k": [1, "two"]}'
add_release "$S" ns1/app 2.0.0-rc.1 helm "$app2" 2017-07-01T00:00:00.500000
add_release "$S" ns1/tool 0.1.0 kpm "$tool" 2016-01-02T03:04:05.060708
add_release "$S" ns2/web 3.0.0 helm "$web300" 2017-08-01T00:00:00.000000 null "$other"
add_release "$S" ns2/web 3.0.1 helm "$web301" 2017-08-02T00:00:00.000000
add_release "$S" ns2/gone 1.0.0 helm "$gone" 2017-08-03T00:00:00.000000 null -
set_channel "$S" ns1/app stable 1.0.0 1.1.0
set_channel "$S" ns1/app beta 2.0.0-rc.1
set_channel "$S" ns2/web stable 3.0.1

D300=$(digest_of "$web300") Dgone=$(digest_of "$gone")

# ---- from a directory (the original's filesystem driver) ----
write_layout "$S" fs appr/packages/ "$T/origfs"
admin import-appr "$T/origfs"
is "$RC" 1 "import-appr from a directory: exit 1 (a blob was skipped)"
like "$OUT" "ns2/web 3.0.0 helm: blob $D300 does not match its manifest" "the blob that does not match its manifest is named"
like "$OUT" "ns2/gone 1.0.0 helm: blob $Dgone is missing" "...and the missing one"
like "$ERR" 'import-appr: 6 manifests written \([0-9]+ bytes\), 0 already present, 3 channels' \
	"it says what it wrote: 6 manifests, 3 channels"

req GET '/api/v1/packages?namespace=ns1'
is "$(jqb '[.[] | .name + ":" + (.releases | join(","))] | sort | join(" ")')" \
	"ns1/app:2.0.0-rc.1,1.1.0,1.0.0 ns1/tool:0.1.0" "packages and their releases"
req GET /api/v1/packages/ns1/app/1.1.0
is "$(jqb '[.[] | .mediaType] | join(" ")')" \
	"application/vnd.appr.package-manifest.helm.v0.json application/vnd.appr.package-manifest.kpm.v0.json" \
	"a release with two media types"
is "$(jqb '[.[] | .created_at] | join(" ")')" "2017-05-13T08:00:00.000001 2017-05-13T08:00:01" \
	"created_at kept (with and without a fraction)"
req GET /api/v1/packages/ns1/app/1.1.0/kpm
is "$(jqb '.metadata' -c) $(jqb '.content.digest')" "{\"k\":[1,\"two\"]} $(digest_of "$app110k")" \
	"metadata and digest kept"
req GET /api/v1/packages/ns1/tool/0.1.0/kpm
is "$(jqb '.created_at')" 2016-01-02T03:04:05.060708 "created_at of another package"
ok_pull=0
for x in "ns1/app 1.0.0 helm $app100" "ns1/app 1.1.0 kpm $app110k" "ns1/app 2.0.0-rc.1 helm $app2" \
	"ns1/tool 0.1.0 kpm $tool" "ns2/web 3.0.1 helm $web301"; do
	set -- $x
	req GET "/api/v1/packages/$1/$2/$3/pull"
	[ "$STATUS" = 200 ] && cmp -s "$BODYFILE" "$4" || { ok_pull=1; diag "pull $1 $2 $3: $STATUS"; }
done
ok $ok_pull "every imported release pulls byte for byte what the original held"
req GET /api/v1/packages/ns1/app/channels/stable
is "$(jqb '.current + " " + (.releases | join(","))')" "1.0.0 1.1.0,1.0.0" \
	"a channel: its releases, and its current release as it was (not the highest)"
req GET /api/v1/packages/ns1/app/channels
is "$(jqb '[.[] | .name + ":" + .current] | join(" ")')" "beta:2.0.0-rc.1 stable:1.0.0" "every channel of the package"
req GET /api/v1/packages/ns2/web/3.0.0/helm
is "$STATUS" 404 "the release whose blob did not match is absent"
req GET "/api/v1/packages/ns2/web/blobs/sha256/$D300"
is "$STATUS" 404 "...and so is its blob"
req GET /api/v1/packages/ns2/web/channels/stable
is "$(jqb '.current')" 3.0.1 "the channel of that package, with its good release"
req GET /api/v1/packages/ns2/gone
is "$STATUS" 404 "a package whose only blob is missing is absent"

admin import-appr "$T/origfs"
is "$RC" 1 "a second run: exit 1 again (the same blobs skipped)"
like "$ERR" 'import-appr: nothing new to import' "...it says nothing new was imported"
like "$ERR" 'import-appr: 0 manifests written \(0 bytes\), 6 already present, 0 channels' "...and wrote nothing"
admin export "$T/first.tar"
index_of "$T/first.tar" | jq -c 'select(.type == "manifest" or .type == "channel")' >"$T/first.idx"

# ---- a clean original: exit 0, then nothing new, still 0 ----
S2=$T/clean
add_release "$S2" solo/one 1.0.0 helm "$app100" 2018-01-01T00:00:00.000000
admin_fs "$T/dclean" import-appr "$T/cleanfs"
is "$RC" 1 "a directory with no original store in it: exit 1" # (not written yet)
write_layout "$S2" fs appr/packages/ "$T/cleanfs"
admin_fs "$T/dclean" import-appr "$T/cleanfs"
is "$RC $(grep -c . <<<"$OUT")" "0 0" "a clean original: exit 0, nothing to report"
admin_fs "$T/dclean" import-appr "$T/cleanfs"
like "$RC $ERR" '^0 .*nothing new to import' "...imported again: exit 0, nothing new"

# ---- usage ----
admin import-appr
is "$RC" 2 "import-appr without a store: exit 2"

# ---- the same store in this variant's server ----
# same_as_first DIR: the manifests and channels DIR's store holds are the first import's
same_as_first() {
	admin_fs "$1" export "$T/x.tar"
	index_of "$T/x.tar" | jq -c 'select(.type == "manifest" or .type == "channel")' | cmp -s - "$T/first.idx"
}
case $APPR_TEST_STORAGE in
etcd)
	write_layout "$S" etcd2
	admin_fs "$T/de2" import-appr --etcd "$etcd_endpoints"
	like "$RC $OUT" "^1 .*ns2/web 3.0.0 helm: blob $D300 does not match" \
		"from etcd's v2 keys: exit 1, the bad blob named"
	same_as_first "$T/de2"
	ok $? "...and the same manifests, times and channels as from the directory"
	write_layout "$S" etcd3 old/packages/
	admin_fs "$T/de3" import-appr --etcd "$etcd_endpoints" --prefix old/packages/
	like "$RC $ERR" "^1 .*6 manifests written" "from etcd's v3 keys under another prefix: exit 1, 6 manifests"
	same_as_first "$T/de3"
	ok $? "...the same again"
	admin import-appr --etcd "$etcd_endpoints"
	like "$RC $ERR" "^1 .*nothing new to import" "etcd into the store that has it all: nothing new"
	;;
redis)
	write_layout "$S" redis
	admin_fs "$T/dr" import-appr --redis "redis://127.0.0.1:$redis_port/0"
	like "$RC $OUT" "^1 .*ns2/web 3.0.0 helm: blob $D300 does not match" \
		"from redis: exit 1, the bad blob named"
	same_as_first "$T/dr"
	ok $? "...and the same manifests, times and channels as from the directory"
	admin import-appr --redis "redis://127.0.0.1:$redis_port/0"
	like "$RC $ERR" "^1 .*nothing new to import" "redis into the store that has it all: nothing new"
	;;
esac
