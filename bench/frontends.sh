#!/bin/bash
# bench/frontends.sh - nginx + spawn-fcgi in front of appr-fcgi, beside the same nginx
# in front of a minimal libfcgi responder (bench/min-responder.c: a fixed 400-byte
# JSON answer, the floor cost of a FastCGI answer here), measured alternately with wrk
# in one run. Not part of make check; loopback only.
#
#   bench/frontends.sh [BUILDDIR]
#   env: DURATION=3s ROUNDS=3 CONNS=16 THREADS=2 PROCS=2 NPKG=100 WORKERS=2
#
# One nginx, four ports: appr-fcgi with blob_delivery=stream, appr-fcgi with
# x-accel-redirect (same data directory), the minimal responder, and nginx's own static
# file serving. Targets: show manifest, pull by release, blob by digest (4 KiB and
# 1 MiB; stream and X-Accel-Redirect), list of a namespace of NPKG packages, search,
# push of a 4 KiB chart (bench/push.lua: a new release per request), the 1 MiB blob
# served statically. Each target runs right after the minimal responder (1 MiB blobs:
# and the static file; 4 KiB answers: and the minimal responder answering as many
# bytes, the floor of an answer that size), ROUNDS times; prints req/s medians, the
# medians of the ratios within those pairs, and the FastCGI pool's CPU time per
# request.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here}" && pwd)
fcgi=$build/fcgi/appr-fcgi
DURATION=${DURATION:-3s} ROUNDS=${ROUNDS:-3} CONNS=${CONNS:-16} THREADS=${THREADS:-2}
PROCS=${PROCS:-2} NPKG=${NPKG:-100} WORKERS=${WORKERS:-2}

die() { echo "bench: $*" >&2; exit 1; }
for tool in wrk nginx spawn-fcgi curl jq cc pkg-config bc; do
	command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] ||
		die "$tool missing (apt-get install $tool)"
done
[ -x "$fcgi" ] || die "$fcgi not built (run make)"
[[ $DURATION =~ ^([1-9]|[1-5][0-9]|60)s$ ]] || die "DURATION: 1s to 60s"
[[ $ROUNDS =~ ^([1-9]|10)$ ]] || die "ROUNDS: 1 to 10"
[[ $NPKG =~ ^[1-9][0-9]{0,3}$ ]] || die "NPKG: 1 to 9999"
[[ $PROCS =~ ^[1-9][0-9]?$ ]] || die "PROCS: 1 to 99"
nginx=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/appr-bench.XXXXXX")
chmod 755 "$tmp"
store_env=()                    # SQLite in $tmp/data
. "$here/bench/nginx-pools.sh"
cleanup() {
	pools_cleanup
	wait 2>/dev/null || true
	rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- nginx in front of the pools (bench/nginx-pools.sh: A, B, M, S) ----
pools_start

# ---- data: NPKG packages of a 4 KiB chart in namespace bench, a 1 MiB chart ----
mkchart() { # DIR NAME RANDOM-BYTES -> DIR/NAME.tgz
	mkdir -p "$1/$2/$2"
	printf 'name: %s\nversion: 1.0.0\n' "$2" >"$1/$2/$2/Chart.yaml"
	head -c "$3" /dev/urandom >"$1/$2/$2/data.bin"
	tar -C "$1/$2" -czf "$1/$2.tgz" "$2"
}
push() { # NS/NAME FILE RELEASE
	jq -n -R --arg r "$3" '{blob: input, release: $r, media_type: "helm"}' \
		< <(base64 -w0 "$2") >"$tmp/body.json"
	curl -sf -XPOST "$A/api/v1/packages/$1" --data-binary @"$tmp/body.json" >/dev/null ||
		die "push $1 $3 failed"
}
echo "bench: loading $NPKG packages..." >&2
for i in $(seq -f %03g 0 $((NPKG - 1))); do
	mkchart "$tmp/charts" "pkg$i" 3900
	push "bench/pkg$i" "$tmp/charts/pkg$i.tgz" 1.0.0
done
mkchart "$tmp/charts" big 1048000
push bench/big "$tmp/charts/big.tgz" 1.0.0
small=$tmp/charts/pkg000.tgz big=$tmp/charts/big.tgz
ds=$(gzip -dc "$small" | sha256sum | cut -c1-64)
db=$(gzip -dc "$big" | sha256sum | cut -c1-64)
cp "$big" "$tmp/www/big.tgz"
mkchart "$tmp/charts" pushed 3900
base64 -w0 "$tmp/charts/pushed.tgz" >"$tmp/push.b64"

# ---- targets: name, URL, baseline ("min" or "static"), label ----
names=(min min4k static version show pull pull_accel blob4k blob4k_accel blob1m blob1m_accel list search push)
declare -A url label
url[min]=$M/ label[min]="minimal responder, 400 B JSON (baseline)"
url[min4k]="$M/?size=$(stat -c %s "$small")"
label[min4k]="minimal responder, 4 KiB (baseline)"
url[static]=$S/big.tgz label[static]="nginx static 1 MiB file (baseline)"
url[version]=$A/version label[version]="GET /version (appr-fcgi's floor)"
url[show]=$A/api/v1/packages/bench/pkg000/1.0.0/helm label[show]="show manifest"
url[pull]=$A/api/v1/packages/bench/pkg000/1.0.0/helm/pull label[pull]="pull by release, 4 KiB, stream"
url[pull_accel]=$B/api/v1/packages/bench/pkg000/1.0.0/helm/pull
label[pull_accel]="pull by release, 4 KiB, x-accel"
url[blob4k]=$A/api/v1/packages/bench/pkg000/blobs/sha256/$ds label[blob4k]="blob by digest 4 KiB, stream"
url[blob4k_accel]=$B/api/v1/packages/bench/pkg000/blobs/sha256/$ds
label[blob4k_accel]="blob by digest 4 KiB, x-accel"
url[blob1m]=$A/api/v1/packages/bench/big/blobs/sha256/$db label[blob1m]="blob by digest 1 MiB, stream"
url[blob1m_accel]=$B/api/v1/packages/bench/big/blobs/sha256/$db
label[blob1m_accel]="blob by digest 1 MiB, x-accel"
url[list]="$A/api/v1/packages?namespace=bench" label[list]="list namespace ($NPKG packages)"
url[search]="$A/api/v1/packages/search?q=pkg05" label[search]="search"
url[push]=$A/api/v1/packages/pushns/chart label[push]="push 4 KiB chart (new release)"

# sanity: every GET answers 200, blobs byte-exact through both deliveries
for n in "${names[@]}"; do
	[ "$n" = push ] && continue
	code=$(curl -s -o "$tmp/got" -w '%{http_code}' "${url[$n]}")
	[ "$code" = 200 ] || die "GET ${url[$n]}: $code, not 200"
	case $n in
	pull* | blob4k*) cmp -s "$tmp/got" "$small" || die "$n: not the pushed bytes" ;;
	blob1m* | static) cmp -s "$tmp/got" "$big" || die "$n: not the pushed bytes" ;;
	esac
done
etag=$(curl -s -D - -o /dev/null "${url[blob1m_accel]}" | tr -d '\r' | awk -F': ' 'tolower($1) == "etag" {print $2}')
[ "$etag" = "\"$db\"" ] || die "x-accel blob: ETag $etag, not the digest"

hz=$(getconf CLK_TCK)
rps() { # NAME ROUND -> "req/s responder-CPU-us-per-request"; non-2xx answers are
	# reported on stderr
	local out n=$1 args=() t0 t1 count
	if [ "$n" = push ]; then          # releases ROUND.thread.counter: new in every run
		args=(-s "$here/bench/push.lua")
		export PUSH_BODY_FILE=$tmp/push.b64 PUSH_PATH=/api/v1/packages/pushns/chart PUSH_RUN=$2
	fi
	t0=$(ticks "$(pool "$n")")
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 10s "${args[@]}" "${url[$n]}")
	t1=$(ticks "$(pool "$n")")
	if grep -q 'Non-2xx' <<<"$out"; then
		echo "bench: $n: $(grep 'Non-2xx' <<<"$out")" >&2
	fi
	count=$(awk '/requests in/ {print $1}' <<<"$out")
	echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(((t1 - t0) * 1000000 / hz / (count > 0 ? count : 1)))"
}
median() { tr ' ' '\n' | { grep . || true; } | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Each target runs right after its baseline (the minimal responder; for 1 MiB blobs
# the static file as well), and the ratio is taken within that pair: the load of
# other processes on the machine changes between pairs, much less within one.
ratio() { echo "scale=3; $1 / $2" | bc -l; }
declare -A runs cpus rmin rmin4k rstatic med cpu mmin mmin4k mstatic
for r in $(seq "$ROUNDS"); do
	echo "bench: round $r of $ROUNDS" >&2
	for n in "${names[@]}"; do
		case $n in min | min4k | static) continue ;; esac
		read -r b _ <<<"$(rps min "$r")"
		runs[min]+="$b "
		read -r v c <<<"$(rps "$n" "$r")"
		runs[$n]+="$v " cpus[$n]+="$c "
		rmin[$n]+="$(ratio "$v" "$b") "
		case $n in
		blob1m*)
			read -r b _ <<<"$(rps static "$r")"
			runs[static]+="$b "
			rstatic[$n]+="$(ratio "$v" "$b") "
			;;
		pull* | blob4k*)
			read -r b _ <<<"$(rps min4k "$r")"
			runs[min4k]+="$b "
			rmin4k[$n]+="$(ratio "$v" "$b") "
			;;
		esac
	done
done
read -r _ cpus[min] <<<"$(rps min 0)"          # the minimal responder's CPU per request
read -r _ cpus[min4k] <<<"$(rps min4k 0)"
for n in "${names[@]}"; do
	med[$n]=$(echo "${runs[$n]}" | median)
	cpu[$n]=$(echo "${cpus[$n]:-}" | median)
	mmin[$n]=$(echo "${rmin[$n]:-}" | median)
	mstatic[$n]=$(echo "${rstatic[$n]:-}" | median)
	mmin4k[$n]=$(echo "${rmin4k[$n]:-}" | median)
done

fmt() { printf '%.2f' "$1"; }
echo "wrk -t$THREADS -c$CONNS -d$DURATION; $ROUNDS rounds, each target right after its baseline;"
echo "medians of req/s and of the per-pair ratios"
echo "nginx $("$nginx" -v 2>&1 | sed 's|.*/||') ($WORKERS workers) + spawn-fcgi, $PROCS processes per pool; $(nproc) cores; loopback"
echo "cpu: user+system time of the FastCGI pool per request (us, from /proc, 1/$hz s ticks)"
printf '%-44s %10s %5s  %s\n' target req/s cpu ratio
for n in "${names[@]}"; do
	c=${cpu[$n]:-}
	[ "$n" != static ] || c=-
	case $n in
	min | min4k | static) printf '%-44s %10s %5s  %s\n' "${label[$n]}" "${med[$n]}" "$c" 1.00 ;;
	pull* | blob4k*) printf '%-44s %10s %5s  %s of minimal, %s of minimal 4 KiB\n' \
		"${label[$n]}" "${med[$n]}" "$c" "$(fmt "${mmin[$n]}")" "$(fmt "${mmin4k[$n]}")" ;;
	blob1m*) printf '%-44s %10s %5s  %s of minimal, %s of static\n' "${label[$n]}" \
		"${med[$n]}" "$c" "$(fmt "${mmin[$n]}")" "$(fmt "${mstatic[$n]}")" ;;
	*) printf '%-44s %10s %5s  %s of minimal\n' "${label[$n]}" "${med[$n]}" "$c" \
		"$(fmt "${mmin[$n]}")" ;;
	esac
done
