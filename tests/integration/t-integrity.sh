#!/bin/bash
# t-integrity.sh - the SQLite store keeps nothing it does not need and loses nothing it
# acknowledged: debris of killed pushes is swept (at open, and by appr-admin gc), a
# torn leftover blob is never reused, responders start and serve reads while another
# process holds the write lock, the WAL stays bounded, a full disk refuses pushes and
# still deletes. The filesystem (SQLite) store only: it is the driver whose files these
# tests look at (t-crash kills responders under load on every store). About a minute
# (more under ASan).
APPR_TEST_TIMEOUT=${APPR_TEST_TIMEOUT:-400}
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 27

T=$APPR_TMP
[ "$APPR_TEST_STORAGE" = filesystem ] || bail "t-integrity looks at the SQLite store's files"
command -v flock >/dev/null || bail "flock is missing: apt-get install util-linux"
appr_start
TMPD=$APPR_DATA/blobs/tmp
blob_file() { # DIGEST: its path in the store
	printf '%s/blobs/sha256/%s/%s\n' "$APPR_DATA" "${1:0:2}" "$1"
}
# referenced: the digests the store's manifests name, sorted
referenced() {
	sqlite3 -cmd '.timeout 10000' "$APPR_DATA/appr.db" \
		"SELECT DISTINCT digest FROM manifests ORDER BY digest"
}
# on_disk: the blob files, by name, sorted
on_disk() {
	find "$APPR_DATA/blobs/sha256" -type f -printf '%f\n' | sort
}

keep=$(mkchart keep 1.0.0 "$T/c")
push ns/keep "$keep" 1.0.0 helm
is "$STATUS" 200 "a referenced blob: ns/keep 1.0.0"

# ---- debris a killed push leaves, swept when a responder opens the store ----
# a push killed between publishing its blob and COMMIT: the blob file and its
# blobs/tmp/pub-<digest>-<pid>-<n> name (no process holds it any more)
dead=$(mkchart dead 1.0.0 "$T/c")
dd=$(digest_of "$dead")
mkdir -p "$(dirname "$(blob_file "$dd")")"
cp "$dead" "$(blob_file "$dd")"
ln "$(blob_file "$dd")" "$TMPD/pub-$dd-999999-1"
# an upload killed mid-body, minutes ago; a fresh one; an old one a live process holds
head -c 1000 /dev/urandom >"$TMPD/blob-killed"
touch -d '-5 minutes' "$TMPD/blob-killed"
head -c 1000 /dev/urandom >"$TMPD/blob-fresh"
head -c 1000 /dev/urandom >"$TMPD/blob-held"
touch -d '-5 minutes' "$TMPD/blob-held"
flock -x "$TMPD/blob-held" sleep 60 &
holder=$!
at_exit "kill $holder 2>/dev/null"
for _ in $(seq 50); do    # until the holder has its lock
	flock -n -x "$TMPD/blob-held" true || break
	sleep 0.1
done
appr_restart
ok $? "restart: a responder opens the store and sweeps"
req GET /api/v1/packages/ns/keep/1.0.0/helm/pull
[ ! -e "$(blob_file "$dd")" ] && [ ! -e "$TMPD/pub-$dd-999999-1" ]
ok $? "the blob a killed push published without committing is gone, and its pub- name"
grep -q "removed blob .*$dd" "$APPR_TMP/serve.log"
ok $? "the registry log says so"
[ ! -e "$TMPD/blob-killed" ]
ok $? "an upload file no process holds, minutes old: removed"
[ -e "$TMPD/blob-fresh" ] && [ -e "$TMPD/blob-held" ]
ok $? "a fresh upload file and one a live process holds: kept"
kill "$holder" 2>/dev/null
rm -f "$TMPD/blob-fresh" "$TMPD/blob-held"
req GET /api/v1/packages/ns/keep/1.0.0/helm/pull
cmp -s "$BODYFILE" "$keep"
ok $? "the referenced blob is untouched"

# ---- a power cut after COMMIT, before the final name's directory was fsync'ed ----
# (lib/storage-sqlite-files.c, sq_blob_stage): the rows are there, the final name
# is not, the durable pub- name has the bytes
cut=$(mkchart cut 1.0.0 "$T/c")
push ns/cut "$cut" 1.0.0 helm
cd_=$(digest_of "$cut")
appr_stop
mv "$(blob_file "$cd_")" "$TMPD/pub-$cd_-999998-1"
appr_start
req GET /api/v1/packages/ns/cut/1.0.0/helm/pull
is "$STATUS $(cmp -s "$BODYFILE" "$cut" && echo same)" "200 same" \
	"a committed blob whose final name was lost: put back from its pub- name at open"
[ -f "$(blob_file "$cd_")" ] && [ ! -e "$TMPD/pub-$cd_-999998-1" ]
ok $? "under its final name again, the pub- name gone"
grep -q "restored blob .*$cd_" "$APPR_TMP/serve.log"
ok $? "the registry log says so"

# ---- appr-admin gc: unreferenced blobs with no name left (stores of before) ----
old=$(mkchart old 1.0.0 "$T/c")
od=$(digest_of "$old")
mkdir -p "$(dirname "$(blob_file "$od")")"
cp "$old" "$(blob_file "$od")"
appr_admin gc >"$T/gc.out" 2>"$T/gc.err"
is "$? $(head -1 "$T/gc.out")" "0 gc: removed 0 temp files and 1 unreferenced blobs ($(stat -c %s "$old") bytes), restored 0 blobs" \
	"appr-admin gc removes an unreferenced blob and says what it did"
grep -q "gc removed unreferenced blob .*$od" "$T/gc.err"
ok $? "and names it"
is "$(on_disk)" "$(referenced)" "after gc the blob files are exactly the referenced digests"
appr_admin gc >"$T/gc.out" 2>&1
is "$? $(cat "$T/gc.out")" "0 gc: removed 0 temp files and 0 unreferenced blobs (0 bytes), restored 0 blobs
gc: OCI: removed 0 unreferenced blob files, 0 unused blobs, 0 stale upload sessions (0 bytes)" \
	"gc again: nothing to do (the OCI content neither)"

# ---- a torn leftover blob is never reused ----
torn=$(mkchart torn 1.0.0 "$T/c")
td=$(digest_of "$torn")
mkdir -p "$(dirname "$(blob_file "$td")")"
head -c 100 /dev/zero >"$(blob_file "$td")"          # what power loss can leave
push ns/torn "$torn" 1.0.0 helm
is "$STATUS" 200 "push of a digest whose unreferenced file is torn"
req GET /api/v1/packages/ns/torn/1.0.0/helm/pull
cmp -s "$BODYFILE" "$torn"
ok $? "the pull is the pushed bytes, not the leftover"

# ---- the write lock held from outside: responders start and serve reads ----
fifo=$T/lock.fifo
mkfifo "$fifo"
sqlite3 -cmd '.timeout 10000' "$APPR_DATA/appr.db" <"$fifo" >"$T/lock.out" 2>&1 &
locker=$!
exec 7>"$fifo"
echo 'BEGIN IMMEDIATE; SELECT count(*) FROM packages;' >&7
for _ in $(seq 50); do [ -s "$T/lock.out" ] && break; sleep 0.1; done
ok "$([ -s "$T/lock.out" ]; echo $?)" "another process holds the write lock"
appr_restart
ok $? "responders start while it is held"
codes=
for _ in 1 2 3 4 5 6; do
	req GET /api/v1/packages/ns/keep/1.0.0/helm
	codes+="$STATUS "
	req GET /helm/ns/index.yaml
	codes+="$STATUS "
done
is "$codes" "$(printf '200 %.0s' $(seq 12))" "reads go on while the lock is held: no 500"
printf 'COMMIT;\n.exit\n' >&7      # not EOF: the responders started meanwhile hold fd 7 too
exec 7>&-
wait "$locker"
push ns/keep "$(mkchart keep 1.1.0 "$T/c")" 1.1.0 helm
is "$STATUS" 200 "a push once the lock is released"

# charts of 1 MiB of random bytes, for the full disk below
for i in $(seq 40); do
	mkdir -p "$T/lw/load$i" "$T/load"
	printf 'name: load%s\nversion: 1.0.0\n' "$i" >"$T/lw/load$i/Chart.yaml"
	head -c 1048576 /dev/urandom >"$T/lw/load$i/data.bin"
	tar -C "$T/lw" -czf "$T/load/load$i-1.0.0.tgz" "load$i"
done

# ---- the WAL stays bounded under writes with steady readers ----
# 160 pushes of ~900 KiB of metadata (~36,000 WAL pages, 140 MiB written) while
# four readers list and search without a pause; the WAL's size sampled all along.
# It is truncated once past 32 MiB, the truncation waiting up to the busy timeout for
# readers of older snapshots and tried again 1 MiB later if they held on that long (a
# loaded machine under ASan): the bound asserted is the promised 64 MiB, not the 32
# aimed at (SQLite's own automatic checkpoint let it grow with the load, past 50 MiB)
meta=$T/meta.json
head -c 675000 /dev/urandom | base64 -w0 | jq -R -c '{blob: "", release: "1.0.0", media_type: "helm", metadata: {pad: .}}' >"$meta.tmpl"
small=$(mkchart walc 1.0.0 "$T/c")
jq -c --arg b "$(base64 -w0 "$small")" '.blob = $b' "$meta.tmpl" >"$meta"
reader() { # until $T/wal.stop exists (at most 120 s)
	local end=$((SECONDS + 120))
	while [ ! -e "$T/wal.stop" ] && [ $SECONDS -lt $end ]; do
		curl -s -o /dev/null "$BASE/api/v1/packages?namespace=wal"
		curl -s -o /dev/null "$BASE/api/v1/packages/search?q=w"
	done
}
sampler() {
	local max=0 s end=$((SECONDS + 120))
	while [ ! -e "$T/wal.stop" ] && [ $SECONDS -lt $end ]; do
		s=$(stat -c %s "$APPR_DATA/appr.db-wal" 2>/dev/null || echo 0)
		[ "$s" -le "$max" ] || max=$s
		sleep 0.05
	done
	echo "$max" >"$T/wal.max"
}
rm -f "$T/wal.stop"
sampler & sp=$!
rpids=()
for _ in 1 2 3 4; do reader & rpids+=($!); done
codes=
for i in $(seq 160); do
	curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
		--data-binary @"$meta" "$BASE/api/v1/packages/wal/p$i" >>"$T/wal.codes"
done
touch "$T/wal.stop"
wait "$sp" "${rpids[@]}"
is "$(sort "$T/wal.codes" | uniq -c | awk '{print $1 "x" $2}')" "160x200" "160 pushes of 900 KiB metadata under steady reads"
walmax=$(cat "$T/wal.max")
diag "the WAL's largest size seen: $((walmax / 1048576)) MiB"
ok "$([ "$walmax" -lt $((64 * 1048576)) ]; echo $?)" "the WAL stayed under 64 MiB ($((walmax / 1048576)) MiB at most)"

# ---- a full disk: pushes get 507, deletes still work, pushes work again after ----
mnt=$T/small
mkdir -p "$mnt"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=24m tmpfs "$mnt" 2>"$T/mount.err"; then
	at_exit "umount '$mnt'"
	appr_stop
	appr_start APPR_DATA_DIR="$mnt/data"
	n=0 full=
	for i in $(seq 40); do        # 1 MiB each: the disk is full long before 40
		[ -e "$T/load/load$i-1.0.0.tgz" ] || break
		push "full/c$i" "$T/load/load$i-1.0.0.tgz" 1.0.0 helm
		if [ "$STATUS" != 200 ]; then
			full=$STATUS
			break
		fi
		n=$((n + 1))
	done
	diag "the 24 MiB disk took $n pushes of 1 MiB"
	is "$full $(jqb .code)" "507 insufficient-storage" "a push on a full disk: 507 insufficient-storage"
	req GET "/api/v1/packages/full/c$((n + 1))/1.0.0/helm"
	is "$STATUS" 404 "the refused push stored nothing"
	# not a byte left: a delete needs the room the registry kept for it
	dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null || true
	codes=
	for i in 1 2 3 4 5 6 7 8; do
		req DELETE "/api/v1/packages/full/c$i/1.0.0/helm"
		codes+="$STATUS "
	done
	is "$codes $(grep -c 'released .*reserve for a delete' "$APPR_TMP/serve.log")" \
		"200 200 200 200 200 200 200 200  1" "deletes on the full disk succeed (the reserve released once)"
	push "full/again" "$T/load/load1-1.0.0.tgz" 1.0.0 helm
	is "$STATUS" 200 "once deletes made room, a push succeeds again"
	req GET /api/v1/packages/full/again/1.0.0/helm/pull
	cmp -s "$BODYFILE" "$T/load/load1-1.0.0.tgz"
	ok $? "and pulls byte-exact"
else
	for d in "507 on a full disk" "nothing stored" "deletes on a full disk" "push again" "pull again"; do
		ok 0 "$d # SKIP no small tmpfs to fill: $( [ "$(id -u)" -eq 0 ] && cat "$T/mount.err" || echo 'needs root (mount -t tmpfs)')"
	done
fi
