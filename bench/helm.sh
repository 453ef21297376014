#!/bin/bash
# bench/helm.sh - the Helm chart repository of the registry under nginx + spawn-fcgi, in
# one run: a namespace of NVERS chart versions uploaded through ChartMuseum's API, the
# render time of its index.yaml (cold: right after a change of the namespace; warm: the
# kept render) beside nginx serving a static copy of it, and with wrk: the 304 answer to
# If-None-Match, and chart downloads (blob_delivery stream and x-accel-redirect) beside
# nginx serving the same .tgz statically. Not part of make check; loopback only.
#
#   bench/helm.sh [BUILDDIR]
#   env: DURATION=3s ROUNDS=3 CONNS=16 THREADS=2 PROCS=2 WORKERS=2 NVERS=10000
#        NCHARTS=100 RENDERS=7 STORE=sqlite (sqlite | etcd | redis)
#
# One nginx, four ports as in bench/frontends.sh: appr-fcgi with blob_delivery=stream,
# appr-fcgi with x-accel-redirect (same data directory and store), the minimal responder
# (bench/min-responder.c) and nginx's static files. The 304 runs right after the minimal
# responder and right before a manifest read (show manifest, the appr route); each chart
# download runs right after the static file; ROUNDS times. Prints req/s medians, the
# medians of the ratios within those pairs, the FastCGI pool's CPU time per request, and
# the medians and maxima of RENDERS index renders of each kind.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here}" && pwd)
fcgi=$build/fcgi/appr-fcgi
yaml2json=$build/tests/yaml2json
DURATION=${DURATION:-3s} ROUNDS=${ROUNDS:-3} CONNS=${CONNS:-16} THREADS=${THREADS:-2}
PROCS=${PROCS:-2} WORKERS=${WORKERS:-2} NVERS=${NVERS:-10000} NCHARTS=${NCHARTS:-100}
RENDERS=${RENDERS:-7} STORE=${STORE:-sqlite}
start=$SECONDS

die() { echo "bench: $*" >&2; exit 1; }
tools=(wrk nginx spawn-fcgi curl jq cc pkg-config bc tar gzip xargs cmp)
case $STORE in
sqlite | filesystem) ;;
etcd) tools+=(etcd) ;;
redis) tools+=(redis-server redis-cli) ;;
*) die "STORE: sqlite, etcd or redis" ;;
esac
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
		die "$tool missing (apt-get install $tool)"
done
[ -x "$fcgi" ] || die "$fcgi not built (run make)"
[ -x "$yaml2json" ] || die "$yaml2json not built (make check builds it)"
[[ $DURATION =~ ^([1-9]|[1-5][0-9]|60)s$ ]] || die "DURATION: 1s to 60s"
[[ $ROUNDS =~ ^([1-9]|10)$ ]] || die "ROUNDS: 1 to 10"
[[ $CONNS =~ ^[1-9][0-9]{0,2}$ ]] || die "CONNS: 1 to 999"
[[ $THREADS =~ ^[1-9][0-9]?$ && $THREADS -le $CONNS ]] || die "THREADS: 1 to 99, at most CONNS"
[[ $PROCS =~ ^[1-9][0-9]?$ ]] || die "PROCS: 1 to 99"
[[ $WORKERS =~ ^[1-9][0-9]?$ ]] || die "WORKERS: 1 to 99"
[[ $NVERS =~ ^[1-9][0-9]{0,4}$ && $NVERS -le 20000 ]] || die "NVERS: 1 to 20000"
[[ $NCHARTS =~ ^[1-9][0-9]{0,2}$|^1000$ ]] || die "NCHARTS: 1 to 1000"
[[ $RENDERS =~ ^([1-9]|[1-4][0-9]|50)$ ]] || die "RENDERS: 1 to 50"
[ "$NCHARTS" -le "$NVERS" ] || NCHARTS=$NVERS          # every chart has a version
nginx=$(command -v nginx || echo /usr/sbin/nginx)
cores=$(nproc)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/appr-bench.XXXXXX")
chmod 755 "$tmp"
store_env=()                    # set below, for bench/nginx-pools.sh
. "$here/bench/nginx-pools.sh"
pids=()                 # etcd or redis-server
cleanup() {
	local p
	pools_cleanup
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # -> a port nothing listens on now (a server that loses the race retries)
	local p
	for _ in $(seq 20); do
		p=$((20000 + RANDOM % 30000))
		port_taken "$p" || { echo "$p"; return; }
	done
	die "no free port in 20 tries"
}
# SERVER-PID LOG CHECK...: wait up to 10 s for CHECK; 0 ready, 1 the server died
wait_ready() {
	local pid=$1 log=$2
	shift 2
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 1
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "timed out waiting for: $* ($(tail -3 "$log"))"
}

# ---- the store: a private etcd or redis-server on loopback, or SQLite ----
case $STORE in
etcd)
	for try in $(seq 10); do
		ce=$(free_port) pe=$(free_port)
		[ "$ce" != "$pe" ] || continue
		etcd --name bench --data-dir "$tmp/etcd" \
			--listen-client-urls "http://127.0.0.1:$ce" --advertise-client-urls "http://127.0.0.1:$ce" \
			--listen-peer-urls "http://127.0.0.1:$pe" --initial-advertise-peer-urls "http://127.0.0.1:$pe" \
			--initial-cluster "bench=http://127.0.0.1:$pe" >"$tmp/etcd.log" 2>&1 &
		pids+=($!)
		wait_ready $! "$tmp/etcd.log" curl -sf --max-time 2 "http://127.0.0.1:$ce/health" && break
		grep -q 'in use' "$tmp/etcd.log" || die "etcd failed: $(tail -3 "$tmp/etcd.log")"
		rm -rf "$tmp/etcd"
		[ "$try" -lt 10 ] || die "no free ports for etcd in 10 tries"
	done
	store_env=(APPR_STORAGE=etcd APPR_ETCD_ENDPOINTS="http://127.0.0.1:$ce")
	;;
redis)
	mkdir -p "$tmp/redis"
	for try in $(seq 10); do
		rp=$(free_port)
		redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$tmp/redis" >"$tmp/redis.log" 2>&1 &
		pids+=($!)
		wait_ready $! "$tmp/redis.log" redis-cli -p "$rp" ping && break
		grep -q 'in use' "$tmp/redis.log" || die "redis-server failed: $(tail -3 "$tmp/redis.log")"
		[ "$try" -lt 10 ] || die "no free port for redis-server in 10 tries"
	done
	store_env=(APPR_STORAGE=redis APPR_REDIS_URL="redis://127.0.0.1:$rp/0")
	;;
*) store_env=(APPR_STORAGE=filesystem) ;;
esac

# ---- nginx in front of the pools (bench/nginx-pools.sh: A, B, M, S) ----
pools_start

# ---- charts: NVERS versions of NCHARTS charts (chartNNN 1.J.K), made in parallel ----
# chart(K) for K = 0..NVERS-1 is chart number K % NCHARTS at version number K / NCHARTS
mkcharts() { # OUTDIR NCHARTS K... -> OUTDIR/tgz/<name>-<version>.tgz
	# shell builtins but for tar: forks are most of the cost
	local out=$1 nch=$2 k j name ver stage d
	shift 2
	stage=$(mktemp -d "$out/stage/XXXXXX")
	for k in "$@"; do
		j=$((k / nch))
		printf -v name 'chart%03d' $((k % nch))
		ver=1.$((j / 100)).$((j % 100))
		d=$stage/$name
		if [ ! -d "$d" ]; then
			mkdir -p "$d/templates"
			printf '%s\n' 'apiVersion: v1' 'kind: ConfigMap' 'metadata:' \
				'  name: {{ .Release.Name }}-{{ .Chart.Name }}' 'data:' \
				'  replicas: {{ .Values.replicaCount | quote }}' \
				'  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"' \
				>"$d/templates/x.yaml"
		fi
		printf '%s\n' 'apiVersion: v2' "name: $name" "version: $ver" "appVersion: \"2.$j\"" \
			"description: Bench chart $name, version $ver, one of many in a registry namespace" \
			'type: application' 'keywords:' '  - bench' "  - $name" 'maintainers:' \
			'  - name: Bench Maintainer' '    email: bench@example.org' \
			"home: https://example.org/charts/$name" 'sources:' \
			"  - https://example.org/src/$name" >"$d/Chart.yaml"
		printf 'replicaCount: 1\nimage:\n  repository: example/%s\n  tag: "%s"\nservice:\n  port: 80\n' \
			"$name" "$ver" >"$d/values.yaml"
		tar -C "$stage" -czf "$out/tgz/$name-$ver.tgz" "$name"
	done
	rm -rf -- "$stage"
}
export -f mkcharts
echo "bench: making $NVERS chart versions ($NCHARTS charts)..." >&2
mkdir -p "$tmp/charts/tgz" "$tmp/charts/stage"
t0=$(date +%s.%N)
seq 0 $((NVERS - 1)) | timeout 1200 xargs -n 200 -P "$cores" bash -c 'mkcharts "$@"' mkcharts \
	"$tmp/charts" "$NCHARTS" || die "making the charts failed"
t1=$(date +%s.%N)
made=$(find "$tmp/charts/tgz" -name '*.tgz' | wc -l)
[ "$made" -eq "$NVERS" ] || die "made $made charts, not $NVERS"
gen_s=$(echo "$t1 - $t0" | bc -l)

# ---- fill: ChartMuseum uploads, UPLOADERS curl processes each reusing its connection ----
uploaders=$((2 * PROCS))
echo "bench: uploading $NVERS chart versions ($uploaders curl processes)..." >&2
find "$tmp/charts/tgz" -name '*.tgz' | sort >"$tmp/upload.list"
for u in $(seq 0 $((uploaders - 1))); do
	awk -v n="$uploaders" -v u="$u" -v url="$A/helm/api/bench/charts" 'NR % n == u {
		if (k++) print "next"
		printf "url = \"%s\"\ndata-binary = \"@%s\"\n", url, $0
		printf "header = \"Content-Type: application/gzip\"\nmax-time = 60\n"
		printf "write-out = \"%%{http_code}\\n\"\n"
	}' "$tmp/upload.list" >"$tmp/upload-$u.curl"
done
t0=$(date +%s.%N)
upids=()
for u in $(seq 0 $((uploaders - 1))); do
	[ -s "$tmp/upload-$u.curl" ] || continue
	timeout 1800 curl -s -K "$tmp/upload-$u.curl" >"$tmp/upload-$u.out" 2>&1 &
	upids+=($!)
done
for p in "${upids[@]}"; do wait "$p" || true; done
t1=$(date +%s.%N)
fill_s=$(echo "$t1 - $t0" | bc -l)
# each answer is the body then the status: {"saved":true}201
saved=$(awk '$0 == "{\"saved\":true}201" {n++} END {print n + 0}' "$tmp"/upload-*.out)
if [ "$saved" -ne "$NVERS" ]; then
	grep -hv '^{"saved":true}201$' "$tmp"/upload-*.out | sort | uniq -c | sort -rn | head -5 >&2
	die "upload: $((NVERS - saved)) of $NVERS failed"
fi

# ---- index.yaml: renders after a change (cold), kept renders (warm), a static copy ----
idx=/helm/bench/index.yaml
mkdir -p "$tmp/charts/bump/templates"
printf 'apiVersion: v2\nname: bump\nversion: 0.0.1\n' >"$tmp/charts/bump/Chart.yaml"
printf 'a: 1\n' >"$tmp/charts/bump/values.yaml"
tar -C "$tmp/charts" -czf "$tmp/bump.tgz" bump
bump() { # two changes of the namespace: the bump chart uploaded, then deleted
	local got
	got=$(curl -s --max-time 60 -H 'Content-Type: application/gzip' \
		--data-binary @"$tmp/bump.tgz" -w '%{http_code}' "$A/helm/api/bench/charts")
	[ "$got" = '{"saved":true}201' ] || die "upload of bump: $got"
	got=$(curl -s --max-time 60 -X DELETE -w '%{http_code}' "$A/helm/api/bench/charts/bump/0.0.1")
	[ "$got" = '{"deleted":true}200' ] || die "delete of bump: $got"
}
etag_of() { tr -d '\r' <"$1" | awk -F': ' 'tolower($1) == "etag" {print $2}'; }
timed_get() { # URL HEADERS-FILE -> tf, tt: ms to the first byte and to the last; 200 only
	local out
	out=$(curl -s --max-time 300 -D "$2" -o "$tmp/index.got" \
		-w '%{http_code} %{time_starttransfer} %{time_total}' "$1")
	[ "${out%% *}" = 200 ] || die "GET $1: ${out%% *}, not 200"
	read -r tf tt <<<"$(awk '{printf "%.1f %.1f\n", $2 * 1000, $3 * 1000}' <<<"$out")"
}
echo "bench: index.yaml renders ($RENDERS of each)..." >&2
# the first GET also checks the index: valid YAML (as strictly as Helm reads it) with
# the NVERS versions, digests the SHA-256 of the uploaded bytes
timed_get "$A$idx" "$tmp/h0"
cp "$tmp/index.got" "$tmp/www/index.yaml"
"$yaml2json" <"$tmp/www/index.yaml" >"$tmp/index.json" || die "index.yaml is not valid YAML"
nentries=$(jq '[.entries[] | length] | add // 0' "$tmp/index.json")
[ "$nentries" -eq "$NVERS" ] || die "index.yaml has $nentries versions, not $NVERS"
ncharts=$(jq '.entries | length' "$tmp/index.json")
[ "$ncharts" -eq "$NCHARTS" ] || die "index.yaml has $ncharts charts, not $NCHARTS"
dl_name=chart000 dl_ver=1.0.0 dl_file=$tmp/charts/tgz/chart000-1.0.0.tgz
want=$(sha256sum "$dl_file" | cut -c1-64)
got=$(jq -r --arg n "$dl_name" --arg v "$dl_ver" \
	'.entries[$n][] | select(.version == $v) | "\(.digest) \(.urls[0])"' "$tmp/index.json")
[ "$got" = "$want charts/$dl_name-$dl_ver.tgz" ] ||
	die "index.yaml: $dl_name $dl_ver is \"$got\", not \"$want charts/$dl_name-$dl_ver.tgz\""
index_size=$(wc -c <"$tmp/www/index.yaml")
cmp -s "$tmp/www/index.yaml" <(curl -s --max-time 60 "$S/index.yaml") ||
	die "nginx static index.yaml: not the same bytes"
declare -A ttfb ttot
prev=$(etag_of "$tmp/h0")
for i in $(seq "$RENDERS"); do
	bump
	timed_get "$A$idx" "$tmp/h"
	ttfb[cold]+="$tf " ttot[cold]+="$tt "
	cur=$(etag_of "$tmp/h")
	[[ -n $cur && $cur != "$prev" ]] || die "render $i: ETag $cur after a change (was $prev)"
	prev=$cur
	# the same index but for "generated" (when the namespace last changed)
	cmp -s <(grep -v '^generated: ' "$tmp/index.got") <(grep -v '^generated: ' "$tmp/www/index.yaml") ||
		die "render $i: another index.yaml after the upload and delete of bump"
	mv "$tmp/index.got" "$tmp/www/index.yaml"    # the static copy: these very bytes
	timed_get "$A$idx" "$tmp/h"
	ttfb[warm]+="$tf " ttot[warm]+="$tt "
	[ "$(etag_of "$tmp/h")" = "$cur" ] || die "warm render $i: another ETag"
	cmp -s "$tmp/index.got" "$tmp/www/index.yaml" || die "warm render $i: other bytes than the cold one"
	timed_get "$S/index.yaml" "$tmp/h"
	ttfb[static]+="$tf " ttot[static]+="$tt "
done
etag=$prev
code=$(curl -s --max-time 60 -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$A$idx")
[ "$code" = 304 ] || die "GET $idx with If-None-Match: $etag: $code, not 304"

# ---- chart downloads: byte-exact through both deliveries and statically ----
cp "$dl_file" "$tmp/www/$dl_name-$dl_ver.tgz"
chart=/helm/bench/charts/$dl_name-$dl_ver.tgz
show=/api/v1/packages/bench/$dl_name/$dl_ver/helm
names=(min idx304 show static dl dl_accel)
declare -A url label hdr
url[min]=$M/ label[min]="minimal responder, 400 B JSON (baseline)"
url[idx304]=$A$idx label[idx304]="index.yaml, If-None-Match: 304" hdr[idx304]="If-None-Match: $etag"
url[show]=$A$show label[show]="show manifest (baseline)"
url[static]=$S/$dl_name-$dl_ver.tgz label[static]="nginx static chart .tgz (baseline)"
url[dl]=$A$chart label[dl]="chart .tgz, stream"
url[dl_accel]=$B$chart label[dl_accel]="chart .tgz, x-accel-redirect"
case $STORE in etcd | redis) label[dl_accel]="chart .tgz, x-accel (streams: no blob files)" ;; esac
for n in dl dl_accel static; do
	code=$(curl -s --max-time 60 -o "$tmp/got" -w '%{http_code}' "${url[$n]}")
	[ "$code" = 200 ] || die "GET ${url[$n]}: $code, not 200"
	cmp -s "$tmp/got" "$dl_file" || die "$n: not the uploaded bytes"
done
code=$(curl -s --max-time 60 -o "$tmp/got" -w '%{http_code}' "${url[show]}")
[ "$code" = 200 ] || die "GET ${url[show]}: $code, not 200"
jq -e --arg p "bench/$dl_name" '.package == $p' "$tmp/got" >/dev/null ||
	die "show manifest: not bench/$dl_name: $(head -c 200 "$tmp/got")"

hz=$(getconf CLK_TCK)
rps() { # NAME -> rv, rc: req/s, the pool's CPU us per request; non-2xx answers are
	# reported on stderr
	local out n=$1 args=() t0 t1 count
	[ -z "${hdr[$n]:-}" ] || args=(-H "${hdr[$n]}")
	t0=$(ticks "$(pool "$n")")
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 10s "${args[@]}" "${url[$n]}")
	t1=$(ticks "$(pool "$n")")
	if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
		echo "bench: $n: $(grep 'Non-2xx\|Socket errors' <<<"$out" | tr '\n' ' ')" >&2
	fi
	count=$(awk '/requests in/ {print $1}' <<<"$out")
	[ -n "$count" ] || die "wrk ${url[$n]}: $out"
	rv=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	rc=$(((t1 - t0) * 1000000 / hz / (count > 0 ? count : 1)))
}
median() { tr ' ' '\n' | { grep . || true; } | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maximum() { tr ' ' '\n' | { grep . || true; } | sort -n | tail -1; }
ratio() { echo "scale=3; $1 / $2" | bc -l; }

# The 304 runs between the minimal responder and a manifest read, each download right
# after the static file; the ratios are taken within those pairs: the load of other
# processes on the machine changes between pairs, much less within one.
declare -A runs cpus rmin rshow rstatic med cpu
for r in $(seq "$ROUNDS"); do
	echo "bench: round $r of $ROUNDS" >&2
	rps min
	b=$rv runs[min]+="$rv " cpus[min]+="$rc "
	rps idx304
	v=$rv runs[idx304]+="$rv " cpus[idx304]+="$rc "
	rmin[idx304]+="$(ratio "$v" "$b") "
	rps show
	runs[show]+="$rv " cpus[show]+="$rc "
	rshow[idx304]+="$(ratio "$v" "$rv") "
	for n in dl dl_accel; do
		rps static
		b=$rv runs[static]+="$rv "
		rps "$n"
		runs[$n]+="$rv " cpus[$n]+="$rc "
		rstatic[$n]+="$(ratio "$rv" "$b") "
	done
done
for n in "${names[@]}"; do
	med[$n]=$(echo "${runs[$n]}" | median)
	cpu[$n]=$(echo "${cpus[$n]:-}" | median)
done

fmt() { printf '%.2f' "$1"; }
rate=$(echo "$NVERS / $fill_s" | bc -l)
echo "helm: $cores cores; nginx $("$nginx" -v 2>&1 | sed 's|.*/||') ($WORKERS workers) + spawn-fcgi," \
	"$PROCS processes per pool; store $STORE; NVERS=$NVERS ($NCHARTS charts);" \
	"index.yaml $index_size bytes; loopback"
printf 'fill: %d chart versions made in %.1f s (tar -czf, %d in parallel), uploaded in %.1f s: %.0f uploads/s (%d curl processes)\n' \
	"$NVERS" "$gen_s" "$cores" "$fill_s" "$rate" "$uploaders"
echo "index.yaml render times, ms ($RENDERS of each; median and max; first byte / total):"
for k in cold warm static; do
	case $k in
	cold) l="cold (after a change of the namespace)" ;;
	warm) l="warm (again, no change)" ;;
	static) l="nginx static copy (baseline)" ;;
	esac
	printf '  %-40s first byte %8s (max %8s)   total %8s (max %8s)\n' "$l" \
		"$(echo "${ttfb[$k]}" | median)" "$(echo "${ttfb[$k]}" | maximum)" \
		"$(echo "${ttot[$k]}" | median)" "$(echo "${ttot[$k]}" | maximum)"
done
echo "wrk -t$THREADS -c$CONNS -d$DURATION; $ROUNDS rounds, each target right after its baseline;"
echo "medians of req/s and of the per-pair ratios"
echo "cpu: user+system time of the FastCGI pool per request (us, from /proc, 1/$hz s ticks)"
printf '%-44s %10s %5s  %s\n' target req/s cpu ratio
for n in "${names[@]}"; do
	c=${cpu[$n]:-}
	[ "$n" != static ] || c=-
	case $n in
	min | show | static) printf '%-44s %10s %5s  %s\n' "${label[$n]}" "${med[$n]}" "$c" 1.00 ;;
	idx304) printf '%-44s %10s %5s  %s of minimal, %s of manifest read\n' "${label[$n]}" \
		"${med[$n]}" "$c" "$(fmt "$(echo "${rmin[$n]}" | median)")" \
		"$(fmt "$(echo "${rshow[$n]}" | median)")" ;;
	*) printf '%-44s %10s %5s  %s of static\n' "${label[$n]}" "${med[$n]}" "$c" \
		"$(fmt "$(echo "${rstatic[$n]}" | median)")" ;;
	esac
done
echo "total: $((SECONDS - start)) s"
# what the responders and nginx said (spawn-fcgi's own lines left out), on stderr
grep -hv 'child spawned successfully' "$tmp/spawn.log" "$tmp/nginx/error.log" 2>/dev/null |
	sort | uniq -c | sort -rn | head -10 | sed 's/^/bench: logged: /' >&2 || true
