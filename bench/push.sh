#!/bin/bash
# bench/push.sh - push throughput of new charts (bench/push-new.lua: every push its own
# blob) through lighttpd + appr-fcgi (appr-serve), with fsync on and off, each run
# beside GET /version in the same registry (the floor cost of an answer). Not part of
# make check; loopback only.
#
#   bench/push.sh [BUILDDIR]   (env: DURATION=5s CONNS=8 THREADS=2 ROUNDS=3 PROCS=2)
#
# Prints per fsync setting the median pushes/s over ROUNDS runs, the median /version
# req/s, and the releases the store holds against the pushes wrk counted (every
# answer must have been 200).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here}" && pwd)
serve=$build/contrib/appr-serve
DURATION=${DURATION:-5s} CONNS=${CONNS:-8} THREADS=${THREADS:-2} ROUNDS=${ROUNDS:-3}
PROCS=${PROCS:-2}
die() { echo "bench: $*" >&2; exit 1; }
for tool in wrk lighttpd curl jq; do
	command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || die "$tool missing (apt-get install $tool)"
done
[ -x "$serve" ] || die "$serve not built (run make)"
[[ $DURATION =~ ^([1-9]|[1-5][0-9]|60)s$ ]] || die "DURATION: 1s to 60s"
[[ $ROUNDS =~ ^([1-9]|10)$ ]] || die "ROUNDS: 1 to 10"
[[ $CONNS =~ ^[1-9][0-9]{0,2}$ ]] || die "CONNS: 1 to 999"
[[ $THREADS =~ ^[1-9][0-9]?$ && $THREADS -le $CONNS ]] || die "THREADS: 1 to 99, at most CONNS"
[[ $PROCS =~ ^[1-9][0-9]?$ ]] || die "PROCS: 1 to 99"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/appr-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

rps() { awk '/Requests\/sec/ { print $2 }'; }
# cpu: the busy and total jiffies of every CPU so far ("busy total", /proc/stat)
cpu() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for fsync in true false; do
	port=$((20000 + RANDOM % 20000))
	APPR_FSYNC=$fsync "$serve" --port $port --data "$tmp/data-$fsync" --procs "$PROCS" \
		>"$tmp/serve-$fsync.log" 2>&1 &
	pid=$!
	pids+=($pid)
	base=http://127.0.0.1:$port
	for _ in $(seq 100); do curl -sf "$base/version" >/dev/null && break; sleep 0.1; done
	curl -sf "$base/version" >/dev/null || die "the registry did not start"
	: >"$tmp/push" ; : >"$tmp/version"; : >"$tmp/errors"; : >"$tmp/busy"
	total=0
	for r in $(seq "$ROUNDS"); do
		wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "$base/version" | rps >>"$tmp/version"
		read -r b0 t0 < <(cpu)
		PUSH_PATH=/api/v1/packages/pushns/chart PUSH_RUN=$r \
			wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$here/bench/push-new.lua" \
			"$base" >"$tmp/wrk.out" 2>>"$tmp/errors"
		read -r b1 t1 < <(cpu)
		rps <"$tmp/wrk.out" >>"$tmp/push"
		echo $(((b1 - b0) * 100 / (t1 - t0))) >>"$tmp/busy"
		n=$(awk '/requests in/ { print $1 }' "$tmp/wrk.out")
		total=$((total + n))
	done
	held=$(curl -s "$base/api/v1/packages/pushns/chart" | jq length)
	printf 'fsync %-5s  push %8.1f/s  /version %8.1f/s  (median of %d runs of %s, %d connections, %d responders)\n' \
		"$fsync" "$(median <"$tmp/push")" "$(median <"$tmp/version")" "$ROUNDS" "$DURATION" "$CONNS" "$PROCS"
	printf '             %d pushes answered, %d releases stored, %d answers not 200\n' \
		"$total" "$held" "$(grep -c '^push-new:' "$tmp/errors" || true)"
	# all CPUs busy during the pushes: the machine's CPU is the limit, not the disk
	printf '             CPUs busy during the pushes: %s%% of %d (median; wrk, lighttpd and\n' \
		"$(median <"$tmp/busy")" "$(nproc)"
	printf '             the responders share them: the registry runs on the same machine)\n'
	kill "$pid"
	wait "$pid" 2>/dev/null || true
done
