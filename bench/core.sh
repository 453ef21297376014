#!/bin/bash
# bench/core.sh - wrk through lighttpd against a running-from-scratch registry:
# show manifest and blob by digest, each beside a baseline measured in the same run
# (GET /version: the floor cost of an appr-fcgi answer; the blob served statically by
# lighttpd: the floor cost of sending those bytes). Not part of make check.
#
#   bench/core.sh [BUILDDIR]   (env: DURATION=10s CONNS=16 THREADS=2 ROUNDS=3 PROCS=2)
#
# Prints req/s medians over ROUNDS alternating runs and the ratio to each baseline.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here}
serve=$build/contrib/appr-serve
DURATION=${DURATION:-10s} CONNS=${CONNS:-16} THREADS=${THREADS:-2} ROUNDS=${ROUNDS:-3}
PROCS=${PROCS:-2}
for tool in wrk lighttpd curl jq; do
	command -v $tool >/dev/null || { echo "bench: $tool missing (apt-get install $tool)"; exit 1; }
done
[ -x "$serve" ] || { echo "bench: $serve not built (run make)"; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))
APPR_FSYNC=false "$serve" --port $port --data "$tmp/data" --procs "$PROCS" >"$tmp/serve.log" 2>&1 &
pids+=($!)
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$base/version" >/dev/null && break; sleep 0.1; done

# a small chart, pushed once
mkdir -p "$tmp/chart/bench/templates"
printf 'name: bench\nversion: 1.0.0\n' >"$tmp/chart/bench/Chart.yaml"
head -c 3000 /dev/urandom | base64 >"$tmp/chart/bench/templates/cm.yaml"
tar -C "$tmp/chart" -czf "$tmp/chart.tgz" bench
jq -n --arg b "$(base64 -w0 "$tmp/chart.tgz")" '{blob: $b, release: "1.0.0", media_type: "helm"}' >"$tmp/body.json"
curl -sf -XPOST "$base/api/v1/packages/bench/chart" --data-binary @"$tmp/body.json" >/dev/null
digest=$(gzip -dc "$tmp/chart.tgz" | sha256sum | cut -c1-64)

# static baseline: lighttpd serving the same bytes
sport=$((port + 1))
mkdir -p "$tmp/www"
cp "$tmp/chart.tgz" "$tmp/www/blob.tgz"
cat >"$tmp/static.conf" <<CONF
server.document-root = "$tmp/www"
server.port = $sport
server.bind = "127.0.0.1"
server.errorlog = "$tmp/static-error.log"
CONF
lighttpd -D -f "$tmp/static.conf" &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$sport/blob.tgz" >/dev/null && break; sleep 0.1; done

rps() { wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "$1" | awk '/Requests\/sec/ {print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A runs
names=(version show static blob)
urls=("$base/version" "$base/cnr/api/v1/packages/bench/chart/1.0.0/helm"
      "http://127.0.0.1:$sport/blob.tgz" "$base/api/v1/packages/bench/chart/blobs/sha256/$digest")
for r in $(seq "$ROUNDS"); do
	for i in "${!names[@]}"; do
		runs[${names[$i]}]+="$(rps "${urls[$i]}") "
	done
done
declare -A med
for n in "${names[@]}"; do med[$n]=$(echo ${runs[$n]} | tr ' ' '\n' | median); done
echo "wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS alternating rounds, medians; $PROCS appr-fcgi procs behind lighttpd; $(nproc) cores"
printf '%-40s %10s  %s\n' "target" "req/s" "ratio"
printf '%-40s %10s  %s\n' "GET /version (baseline)" "${med[version]}" "1.00"
printf '%-40s %10s  %.2f of /version\n' "GET show manifest .../1.0.0/helm" "${med[show]}" "$(echo "${med[show]} / ${med[version]}" | bc -l)"
printf '%-40s %10s  %s\n' "static blob via lighttpd (baseline)" "${med[static]}" "1.00"
printf '%-40s %10s  %.2f of static\n' "GET blob by digest ($(stat -c %s "$tmp/chart.tgz") B)" "${med[blob]}" "$(echo "${med[blob]} / ${med[static]}" | bc -l)"
