#!/bin/bash
# bench/drivers.sh - show-manifest and blob-by-digest req/s of each storage driver, side
# by side in one run: three registries (lighttpd + appr-fcgi, as bench/core.sh runs
# one) on the filesystem (SQLite) store, on a one-member etcd and on a redis server,
# all on loopback, measured in alternating rounds. Not part of make check.
#
#   bench/drivers.sh [BUILDDIR]   (env: DURATION=10s CONNS=16 THREADS=2 ROUNDS=3 PROCS=2)
#
# Prints req/s medians over ROUNDS and each driver's ratio to the filesystem store.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here}
serve=$build/contrib/appr-serve
DURATION=${DURATION:-10s} CONNS=${CONNS:-16} THREADS=${THREADS:-2} ROUNDS=${ROUNDS:-3}
PROCS=${PROCS:-2}
for tool in wrk lighttpd curl jq etcd redis-server redis-cli; do
	command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] ||
		{ echo "bench: $tool missing (apt-get install wrk lighttpd curl jq etcd-server redis-server)"; exit 1; }
done
[ -x "$serve" ] || { echo "bench: $serve not built (run make)"; exit 1; }
[ "$ROUNDS" -ge 1 ] && [ "$ROUNDS" -le 20 ] || { echo "bench: ROUNDS must be 1..20"; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { echo $((20000 + (RANDOM * 32768 + RANDOM) % 40000)); }
wait_for() { # CMD...: retry for up to 10 s
	for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "bench: timed out waiting for: $*"; exit 1
}

etcd_port=$(free_port) peer_port=$(free_port) redis_port=$(free_port)
etcd --name bench --data-dir "$tmp/etcd" \
	--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
	--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
	--initial-cluster "bench=http://127.0.0.1:$peer_port" >"$tmp/etcd.log" 2>&1 &
pids+=($!)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
	>"$tmp/redis.log" 2>&1 &
pids+=($!)
wait_for curl -sf "http://127.0.0.1:$etcd_port/health"
wait_for redis-cli -p "$redis_port" ping

# a small chart, as bench/core.sh pushes
mkdir -p "$tmp/chart/bench/templates"
printf 'name: bench\nversion: 1.0.0\n' >"$tmp/chart/bench/Chart.yaml"
head -c 3000 /dev/urandom | base64 >"$tmp/chart/bench/templates/cm.yaml"
tar -C "$tmp/chart" -czf "$tmp/chart.tgz" bench
jq -n --arg b "$(base64 -w0 "$tmp/chart.tgz")" '{blob: $b, release: "1.0.0", media_type: "helm"}' >"$tmp/body.json"
digest=$(gzip -dc "$tmp/chart.tgz" | sha256sum | cut -c1-64)

drivers=(filesystem etcd redis)
declare -A base
for d in "${drivers[@]}"; do
	port=$(free_port)
	env=(APPR_FSYNC=false STORAGE="$d")
	case $d in
	etcd) env+=(APPR_ETCD_ENDPOINTS="http://127.0.0.1:$etcd_port") ;;
	redis) env+=(APPR_REDIS_URL="redis://127.0.0.1:$redis_port/0") ;;
	esac
	env "${env[@]}" "$serve" --port "$port" --data "$tmp/data-$d" --procs "$PROCS" \
		>"$tmp/serve-$d.log" 2>&1 &
	pids+=($!)
	base[$d]=http://127.0.0.1:$port
	wait_for curl -sf "${base[$d]}/version"
	curl -sf -XPOST "${base[$d]}/api/v1/packages/bench/chart" --data-binary @"$tmp/body.json" >/dev/null ||
		{ echo "bench: push to the $d registry failed"; cat "$tmp/serve-$d.log"; exit 1; }
done

# wrk URL -> req/s (integer)
rps() {
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 5s "$1" |
		awk '/^Requests\/sec:/ { printf "%d\n", $2 } /Non-2xx/ { print "bench: non-2xx answers: " $0 > "/dev/stderr" }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

targets=(show blob)
declare -A label=([show]="show manifest" [blob]="blob by digest (3.3 KB)")
path_show=/cnr/api/v1/packages/bench/chart/1.0.0/helm
path_blob=/cnr/api/v1/packages/bench/chart/blobs/sha256/$digest
declare -A runs
for ((r = 1; r <= ROUNDS; r++)); do
	for t in "${targets[@]}"; do
		p=path_$t
		for d in "${drivers[@]}"; do
			runs[$t,$d]+="$(rps "${base[$d]}${!p}") "
		done
	done
done

echo "wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, $PROCS appr-fcgi per registry, medians (req/s)"
echo "show: $path_show"
printf '%-34s %12s %12s %12s\n' target filesystem etcd redis
for t in "${targets[@]}"; do
	p=path_$t
	declare -A med=()
	for d in "${drivers[@]}"; do
		med[$d]=$(printf '%s\n' ${runs[$t,$d]} | median)
	done
	printf '%-34s %12s %12s %12s\n' "${label[$t]}" "${med[filesystem]}" "${med[etcd]}" "${med[redis]}"
	printf '%-34s %12s %12s %12s\n' "  ratio to filesystem" 1.00 \
		"$(awk -v a="${med[etcd]}" -v b="${med[filesystem]}" 'BEGIN { printf "%.2f", a / b }')" \
		"$(awk -v a="${med[redis]}" -v b="${med[filesystem]}" 'BEGIN { printf "%.2f", a / b }')"
done
