#!/bin/bash
# t-crash.sh - kill -9 of responders under a load of pushes and deletes, on every
# store: every acknowledged push pulls byte-exact, no acknowledged delete comes back,
# and after appr-admin gc, fsck finds the store clean (no debris left by the killed
# requests, every blob whole).
APPR_TEST_TIMEOUT=${APPR_TEST_TIMEOUT:-300}
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 7

T=$APPR_TMP
appr_start
# 512 KiB of random bytes each: a push takes long enough to be killed in the middle
for i in $(seq 30); do
	mkdir -p "$T/lw/load$i" "$T/load"
	printf 'name: load%s\nversion: 1.0.0\n' "$i" >"$T/lw/load$i/Chart.yaml"
	head -c 524288 /dev/urandom >"$T/lw/load$i/data.bin"
	tar -C "$T/lw" -czf "$T/load/load$i-1.0.0.tgz" "load$i"
done
for i in $(seq 10); do
	push "ns/del$i" "$(mkchart "del$i" 1.0.0 "$T/d")" 1.0.0 helm
	[ "$STATUS" = 200 ] || bail "push ns/del$i: $STATUS"
done

pusher() { # N: push load charts N, N+2, ...; "name status" lines to $T/acked.N
	local i
	for i in $(seq "$1" 2 30); do
		curl -s --max-time 20 -o /dev/null -w "load$i %{http_code}\n" \
			-H 'Content-Type: application/json' \
			--data-binary @<(pushbody "$T/load/load$i-1.0.0.tgz" 1.0.0 helm) \
			"$BASE/api/v1/packages/ns/load$i" >>"$T/acked.$1"
	done
}
deleter() { # "name status" lines to $T/deleted
	local i
	for i in $(seq 10); do
		curl -s --max-time 20 -o /dev/null -w "del$i %{http_code}\n" -X DELETE \
			"$BASE/api/v1/packages/ns/del$i/1.0.0/helm" >>"$T/deleted"
		sleep 0.2
	done
}
: >"$T/acked.1"; : >"$T/acked.2"; : >"$T/deleted"
pusher 1 & p1=$!
pusher 2 & p2=$!
deleter & p3=$!
# our_responder: the newest appr-fcgi of this test's registry (never another test's)
our_responder() {
	local p last=
	for p in $(appr_pids); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = appr-fcgi ] && last=$p
	done
	echo "$last"
}
kills=0
for _ in $(seq 8); do
	sleep 0.3
	victim=$(our_responder)
	[ -z "$victim" ] || { kill -9 "$victim" 2>/dev/null && kills=$((kills + 1)); }
done
wait "$p1" "$p2" "$p3"
# the web server may hold back a killed backend for a moment (503): wait for it
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$BASE/version")" = 200 ] && break
	sleep 0.2
done
acked=$(cat "$T/acked.1" "$T/acked.2" | awk '$2 == 200 {print $1}')
deleted=$(awk '$2 == 200 {print $1}' "$T/deleted")
diag "kill -9 of $kills responders: $(grep -c . <<<"$acked") of 30 pushes and $(grep -c . <<<"$deleted") of 10 deletes acknowledged"
ok "$([ "$kills" -ge 4 ]; echo $?)" "responders were killed under load ($kills)"
bad=
for n in $acked; do
	req GET "/api/v1/packages/ns/$n/1.0.0/helm/pull"
	cmp -s "$BODYFILE" "$T/load/$n-1.0.0.tgz" || bad+=" $n:$STATUS"
done
is "[$bad]" "[]" "every acknowledged push pulls byte-exact"
bad=
for n in $deleted; do
	req GET "/api/v1/packages/ns/$n/1.0.0/helm"
	[ "$STATUS" = 404 ] || bad+=" $n:$STATUS"
done
is "[$bad]" "[]" "no acknowledged delete came back"
# the killed requests are over: any upload left is dead once idle 1 s (upload_ttl 1)
sleep 2
APPR_UPLOAD_TTL=1 appr_admin gc >"$T/gc.out" 2>&1
is "$?" 0 "appr-admin gc"
diag "$(cat "$T/gc.out")"
APPR_UPLOAD_TTL=1 appr_admin fsck >"$T/fsck.out" 2>"$T/fsck.err"
is "$? [$(cat "$T/fsck.out")]" "0 []" "after gc, fsck finds the store clean"
diag "$(cat "$T/fsck.err")"
if [ "$APPR_TEST_STORAGE" = filesystem ]; then
	is "$(find "$APPR_DATA/blobs/sha256" -type f -printf '%f\n' | sort)" \
		"$(sqlite3 -cmd '.timeout 10000' "$APPR_DATA/appr.db" 'SELECT DISTINCT digest FROM manifests ORDER BY digest')" \
		"the blob files are exactly the referenced digests"
	is "$(find "$APPR_DATA/blobs/tmp" -type f -name 'pub-*' | wc -l)" 0 "no pub- name is left in blobs/tmp"
else
	is "$(blob_files)" "$(APPR_UPLOAD_TTL=1 appr_admin fsck 2>&1 | sed -n 's/.* \([0-9]*\) manifests.*/\1/p')" \
		"as many uploads stored as manifests (each chart is its own blob)"
	is "$(APPR_UPLOAD_TTL=1 appr_admin gc 2>&1)" \
		"gc: removed 0 temp files and 0 unreferenced blobs (0 bytes), restored 0 blobs" \
		"a second gc finds nothing"
fi
