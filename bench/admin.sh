#!/bin/bash
# bench/admin.sh - appr-admin export, import and copy rates on a store of N small
# releases (each its own blob), and how long backup holds up pushes on a live SQLite
# registry. Not part of make check.
#
#   bench/admin.sh [BUILDDIR]   (env: N=10000 (1-50000) PUSHES=200 (1-2000))
#
# The store is filled by appr-admin import of a generated archive (N .tgz made with
# tar -czf, 2 at a time). Prints, for export (SQLite store to a file), import (file to
# an empty SQLite store) and copy (SQLite store to an empty one), seconds, releases/s
# and MB/s of blob bytes; then the median and maximum latency of PUSHES sequential
# pushes through the registry on that store, without and with backups running in a
# loop beside them, and how long each backup's snapshot took. Loopback only.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here}
admin=$build/tools/appr-admin
serve=$build/contrib/appr-serve
N=${N:-10000} PUSHES=${PUSHES:-200}
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 50000 ] || { echo "bench: N from 1 to 50000"; exit 2; }
[[ $PUSHES =~ ^[0-9]+$ ]] && [ "$PUSHES" -ge 1 ] && [ "$PUSHES" -le 2000 ] || { echo "bench: PUSHES from 1 to 2000"; exit 2; }
for tool in tar gzip sha256sum jq curl lighttpd; do
	command -v $tool >/dev/null || { echo "bench: $tool missing"; exit 1; }
done
[ -x "$admin" ] && [ -x "$serve" ] || { echo "bench: build first (make)"; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
: >"$tmp/appr.conf"
A() { local d=$1; shift; env APPR_CONFIG="$tmp/appr.conf" APPR_DATA_DIR="$d" STORAGE=filesystem APPR_FSYNC=false "$admin" "$@"; }
now() { date +%s.%N; }
rate() { # WHAT SECONDS BYTES
	awk -v w="$1" -v s="$2" -v n="$N" -v b="$3" 'BEGIN {
		printf "%-8s %7.2f s  %8.0f releases/s  %6.2f MB/s\n", w, s, n / s, b / s / 1e6 }'
}

# ---- N small releases as an archive ----
echo "making $N .tgz..."
mkdir -p "$tmp/src" "$tmp/x/blobs"
seq 1 "$N" | xargs -P 2 -n 200 bash -c '
	for i; do
		mkdir -p "'"$tmp"'/src/p$i"
		printf "name: p%s\nversion: 1.0.0\n" "$i" >"'"$tmp"'/src/p$i/Chart.yaml"
		head -c 512 /dev/urandom | base64 >"'"$tmp"'/src/p$i/values.yaml"
		tar -C "'"$tmp"'/src" -czf "'"$tmp"'/src/p$i.tgz" "p$i"
		d=$(gzip -dc "'"$tmp"'/src/p$i.tgz" | sha256sum | cut -c1-64)
		s=$(sha256sum <"'"$tmp"'/src/p$i.tgz" | cut -c1-64)
		z=$(stat -c %s "'"$tmp"'/src/p$i.tgz")
		mv "'"$tmp"'/src/p$i.tgz" "'"$tmp"'/x/blobs/$d.tgz"
		printf "%s %s %s %s\n" "$i" "$d" "$s" "$z"
	done' _ >"$tmp/list"
sort -n "$tmp/list" | awk -v n="$N" 'BEGIN {
	printf "{\"type\":\"appr-archive\",\"version\":1,\"packages\":%d,\"manifests\":%d,\"blobs\":%d}\n", n, n, n }
	{ d[NR] = $2; s[NR] = $3; z[NR] = $4; i[NR] = $1 }
	END {
	for (k = 1; k <= NR; k++) printf "{\"type\":\"package\",\"namespace\":\"bench\",\"name\":\"p%d\",\"visibility\":\"public\"}\n", i[k]
	for (k = 1; k <= NR; k++) printf "{\"type\":\"manifest\",\"namespace\":\"bench\",\"name\":\"p%d\",\"release\":\"1.0.0\",\"media_type\":\"helm\",\"digest\":\"%s\",\"blob_sha256\":\"%s\",\"size\":%d,\"metadata\":null,\"created_at\":\"2024-01-01T00:00:00.000000\"}\n", i[k], d[k], s[k], z[k]
	for (k = 1; k <= NR; k++) printf "{\"type\":\"blob\",\"digest\":\"%s\",\"sha256\":\"%s\",\"size\":%d}\n", d[k], s[k], z[k]
	}' >"$tmp/x/index.jsonl"
(cd "$tmp/x" && find blobs -name '*.tgz' | sort >../members && tar --format=ustar -cf ../gen.tar index.jsonl -T ../members)
bytes=$(awk '{ b += $4 } END { print b }' "$tmp/list")
A "$tmp/d1" import "$tmp/gen.tar" >/dev/null 2>"$tmp/fill.log" || { cat "$tmp/fill.log"; echo "bench: filling the store failed"; exit 1; }
echo "store: $N releases, $bytes blob bytes"

# ---- export, import, copy ----
t0=$(now); A "$tmp/d1" export "$tmp/e.tar" 2>/dev/null; t1=$(now)
rate export "$(echo "$t1 - $t0" | bc)" "$bytes"
t0=$(now); A "$tmp/d2" import "$tmp/e.tar" 2>/dev/null; t1=$(now)
rate import "$(echo "$t1 - $t0" | bc)" "$bytes"
printf 'fsync = false\n' >"$tmp/nofsync.conf"
t0=$(now); A "$tmp/d1" copy --to-config "$tmp/nofsync.conf" --to-data-dir "$tmp/d3" 2>/dev/null; t1=$(now)
rate copy "$(echo "$t1 - $t0" | bc)" "$bytes"

# ---- backup beside pushes ----
port=$((20000 + RANDOM % 20000))
env APPR_CONFIG="$tmp/appr.conf" APPR_FSYNC=false "$serve" --port $port --data "$tmp/d1" --procs 2 \
	>"$tmp/serve.log" 2>&1 &
pids+=($!)
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$base/version" >/dev/null && break; sleep 0.1; done
# PUSHES bodies of one small chart, pushed as releases 1.0.K of package TAG
mkdir -p "$tmp/c/b"
printf 'name: b\nversion: 1.0.0\n' >"$tmp/c/b/Chart.yaml"
tar -C "$tmp/c" -czf "$tmp/b.tgz" b
b64=$(base64 -w0 "$tmp/b.tgz")
pushes() { # TAG: one latency (s) a line
	for k in $(seq 1 "$PUSHES"); do
		printf '{"blob":"%s","release":"1.0.%d","media_type":"kpm"}' "$b64" "$k" >"$tmp/body.json"
		curl -s -o /dev/null -w '%{time_total}\n' --max-time 60 -X POST \
			--data-binary @"$tmp/body.json" "$base/api/v1/packages/lat/$1"
	done
}
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %.1f ms, max %.1f ms\n", v[int((NR + 1) / 2)] * 1000, v[NR] * 1000 }'; }
echo "push latency, no backup:     $(pushes quiet | stats)"
( while :; do A "$tmp/d1" backup "$tmp/b.tar" 2>>"$tmp/backup.log" || exit 1; done ) &
bk=$!
pids+=($bk)
echo "push latency, during backup: $(pushes busy | stats)"
kill "$bk" 2>/dev/null || true
wait "$bk" 2>/dev/null || true
echo "backups during the pushes: $(grep -c '^backup:' "$tmp/backup.log"), snapshot $(grep -o 'snapshot [0-9.]* s' "$tmp/backup.log" | awk '{ s += $2; if ($2 > m) m = $2 } END { printf "mean %.3f s, max %.3f s", s / NR, m }')"
