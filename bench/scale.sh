#!/bin/bash
# bench/scale.sh - how reads behave as the store grows: a registry (lighttpd +
# appr-fcgi, appr-serve) filled with NPKG distinct packages in NNS namespaces, then
# per request kind the median and 99th percentile of REQS sequential requests (curl:
# time to first byte and total), each kind beside GET /version measured in the same
# run (the floor cost of an appr-fcgi answer), and the largest responder RSS after
# the listings. Repeat with a smaller NPKG to see what grows. Not part of make check;
# loopback only.
#
#   bench/scale.sh [BUILDDIR]   (env: NPKG=100000 NNS=10 REQS=200 PROCS=2 FSYNC=false
#                                STORE=sqlite, or redis: a private redis-server)
#
# Kinds: search of a substring one package holds (the trigram index), the same as
# list query=, list of one namespace (NPKG/NNS packages: streamed), the next page of
# it by the after= cursor deep in the namespace beside the same page by offset=, and
# show manifest; the browse pages (ui_*: home, search, a namespace's first page and
# one deep in it, a package, a release); then, with wrk, pushes of new charts at
# that size.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here}" && pwd)
serve=$build/contrib/appr-serve
NPKG=${NPKG:-100000} NNS=${NNS:-10} REQS=${REQS:-200} PROCS=${PROCS:-2}
STORE=${STORE:-sqlite} FSYNC=${FSYNC:-false}
die() { echo "bench: $*" >&2; exit 1; }
for tool in lighttpd curl jq tar gzip; do
	command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || die "$tool missing (apt-get install $tool)"
done
[ -x "$serve" ] || die "$serve not built (run make)"
[[ $NPKG =~ ^[1-9][0-9]{0,6}$ && $NPKG -le 1000000 ]] || die "NPKG: 1 to 1000000"
[[ $NNS =~ ^[1-9][0-9]{0,2}$ && $NNS -le $NPKG ]] || die "NNS: 1 to 999, at most NPKG"
[[ $REQS =~ ^[1-9][0-9]{0,3}$ ]] || die "REQS: 1 to 9999"
[[ $PROCS =~ ^[1-9][0-9]?$ ]] || die "PROCS: 1 to 99"
case $STORE in
sqlite) ;;
redis) command -v redis-server >/dev/null || die "redis-server missing (apt-get install redis-server)" ;;
*) die "STORE: sqlite or redis" ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/appr-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$((20000 + RANDOM % 20000))
store_env=()
if [ "$STORE" = redis ]; then          # a private redis-server on loopback
	rport=$((port + 1))
	redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
		>"$tmp/redis.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
	store_env=(APPR_STORAGE=redis APPR_REDIS_URL="redis://127.0.0.1:$rport/0")
fi
env "${store_env[@]}" APPR_FSYNC=$FSYNC "$serve" --port $port --data "$tmp/data" --procs "$PROCS" >"$tmp/serve.log" 2>&1 &
pids+=($!)
base=http://127.0.0.1:$port
for _ in $(seq 100); do curl -sf "$base/version" >/dev/null && break; sleep 0.1; done
curl -sf "$base/version" >/dev/null || die "the registry did not start: $(tail -5 "$tmp/serve.log")"

# one small chart, pushed under NPKG names (the blob is stored once): ns<k>/pkg<i>
mkdir -p "$tmp/chart/c"
printf 'name: c\nversion: 1.0.0\n' >"$tmp/chart/c/Chart.yaml"
tar -C "$tmp/chart" -czf "$tmp/c.tgz" c
jq -n --arg b "$(base64 -w0 "$tmp/c.tgz")" '{blob: $b, release: "1.0.0", media_type: "helm"}' >"$tmp/body.json"
per_ns=$(( (NPKG + NNS - 1) / NNS ))
fill_start=$(date +%s.%N)
batch=()
flush() {
	[ ${#batch[@]} -gt 0 ] || return 0
	curl -s --parallel --parallel-max 16 --max-time 600 -w '%{http_code}\n' -X POST \
		-H 'Content-Type: application/json' --data-binary "@$tmp/body.json" "${batch[@]}" \
		>>"$tmp/codes" 2>/dev/null
	batch=()
}
for ((i = 0; i < NPKG; i++)); do
	batch+=(-o /dev/null "$base/api/v1/packages/ns$((i / per_ns))/pkg$(printf '%07d' "$i")")
	[ ${#batch[@]} -lt 2000 ] || flush
done
flush
fill=$(echo "$(date +%s.%N) - $fill_start" | bc -l)
good=$(grep -c '^200$' "$tmp/codes" || true)
[ "$good" -eq "$NPKG" ] || die "only $good of $NPKG pushes answered 200"
printf 'filled %d packages in %d namespaces: %.0f pushes/s (fsync %s, curl --parallel 16)\n' \
	"$NPKG" "$NNS" "$(echo "$NPKG / $fill" | bc -l)" "$FSYNC"

# timed URL: REQS sequential requests; prints "ttfb_ms total_ms bytes" per request
timed() {
	local i
	for ((i = 0; i < REQS; i++)); do
		curl -s -o /dev/null -w '%{time_starttransfer} %{time_total} %{size_download}\n' "$1"
	done | awk '{ printf "%.3f %.3f %d\n", $1 * 1000, $2 * 1000, $3 }'
}
# col N FILE: median and p99 of column N
stat_of() {
	sort -n -k"$1" "$2" | awk -v c="$1" '{ v[NR] = $c } END {
		m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.99 + 0.999)]; if (p == "") p = v[NR]
		printf "%s %s\n", m, p }'
}
mid=$((NPKG / 2))
one=$(printf 'pkg%07d' "$mid")
ns_mid=ns$((mid / per_ns))
deep=$(( per_ns - per_ns / 10 ))               # a page 90 % of the way into the namespace
deep_name=$(printf 'pkg%07d' $(( (mid / per_ns) * per_ns + deep - 1 )))   # after= it: the page offset= gives
declare -A url=(
	[search]="$base/api/v1/packages/search?q=$one"
	[query]="$base/api/v1/packages?query=$one"
	[list_ns]="$base/api/v1/packages?namespace=$ns_mid"
	[page_after]="$base/api/v1/packages?namespace=$ns_mid&limit=50&after=$ns_mid/$deep_name"
	[page_offset]="$base/api/v1/packages?namespace=$ns_mid&limit=50&offset=$deep"
	[show]="$base/api/v1/packages/$ns_mid/$one/1.0.0/helm"
	[ui_home]="$base/"
	[ui_search]="$base/search?q=$one"
	[ui_ns]="$base/packages/$ns_mid"
	[ui_ns_deep]="$base/packages/$ns_mid?after=$ns_mid/$deep_name"
	[ui_package]="$base/packages/$ns_mid/$one"
	[ui_release]="$base/packages/$ns_mid/$one/1.0.0"
)
[ "$(curl -s "${url[search]}" | jq length)" = 1 ] || die "search $one: not exactly one hit"
for kind in ui_home ui_search ui_ns ui_ns_deep ui_package ui_release; do
	code=$(curl -s -o "$tmp/page" -w '%{http_code}' "${url[$kind]}")
	[ "$code" = 200 ] || die "browse page ${url[$kind]}: $code, not 200"
done
grep -q "$one" "$tmp/page" || die "the release page does not name $one"
printf '\n%-12s %10s %10s %10s %10s %10s %9s  (ms; %d requests each, sequential)\n' \
	kind ttfb_med ttfb_p99 total_med total_p99 bytes "x/version" "$REQS"
for kind in search query list_ns page_after page_offset show \
	ui_home ui_search ui_ns ui_ns_deep ui_package ui_release; do
	n=$REQS
	[ "$kind" != list_ns ] || REQS=$(( REQS < 20 ? REQS : 20 ))   # big answers: fewer
	timed "$base/version" >"$tmp/v"
	timed "${url[$kind]}" >"$tmp/k"
	REQS=$n
	read -r vm _ < <(stat_of 2 "$tmp/v")
	read -r fm fp < <(stat_of 1 "$tmp/k")
	read -r tm tp < <(stat_of 2 "$tmp/k")
	printf '%-12s %10s %10s %10s %10s %10s %9.1f\n' "$kind" "$fm" "$fp" "$tm" "$tp" \
		"$(head -n 1 "$tmp/k" | cut -d' ' -f3)" "$(echo "$tm / $vm" | bc -l)"
done
rss=$(for p in $(pgrep -f "$build/fcgi/appr-fcgi" || true); do
	awk '/^VmHWM/ { print $2 }' "/proc/$p/status" 2>/dev/null; done | sort -n | tail -n 1)
printf '\nlargest responder peak RSS (VmHWM) after all of the above: %s KiB\n' "${rss:-?}"

# pushes of new charts at this size (bench/push-new.lua: each its own blob), beside
# GET /version, when wrk is there: the median of three runs of 5 s
if command -v wrk >/dev/null; then
	v=$(wrk -t2 -c8 -d5s "$base/version" | awk '/Requests\/sec/ { print $2 }')
	: >"$tmp/push.err"
	p=$(for r in 1 2 3; do
		PUSH_PATH=/api/v1/packages/pushns/chart PUSH_RUN=$r \
			wrk -t2 -c8 -d5s -s "$here/bench/push-new.lua" "$base" 2>>"$tmp/push.err" |
			awk '/Requests\/sec/ { print $2 }'
	done | sort -n | sed -n 2p)
	printf 'push of new charts at %d packages: %s/s (median of 3 runs of 5 s, 8 connections; fsync %s; /version %s/s; %d answers not 200)\n' \
		"$NPKG" "$p" "$FSYNC" "$v" "$(grep -c '^push-new:' "$tmp/push.err" || true)"
else
	echo "push rate at this size: skipped (wrk missing: apt-get install wrk)"
fi
