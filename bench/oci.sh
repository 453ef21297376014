#!/bin/bash
# bench/oci.sh - the OCI Distribution API of the registry beside the reference registry
# Debian ships (docker-registry, the Distribution project's v2.8), in one run: the same
# artifact (a config, a 4 KiB and a 1 MiB layer, an image manifest tagged v1) pushed to
# both with curl, then wrk on GET /v2/ (each server's floor) and each pull request a
# client sends: GET of the manifest by tag, GET of the 4 KiB and of the 1 MiB blob. appr-fcgi runs under nginx + spawn-fcgi
# as in bench/frontends.sh (blob_delivery stream, and x-accel-redirect on the same data
# directory); docker-registry listens itself, with its filesystem storage driver in a
# private directory. Not part of make check; loopback only.
#
#   bench/oci.sh [BUILDDIR]
#   env: DURATION=3s ROUNDS=3 CONNS=16 THREADS=2 PROCS=2 WORKERS=2
#
# Each appr-fcgi target runs right after the same request to docker-registry, ROUNDS
# times; prints req/s medians, the medians of the ratios within those pairs, and the
# FastCGI pool's CPU time per request.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$here}" && pwd)
fcgi=$build/fcgi/appr-fcgi
DURATION=${DURATION:-3s} ROUNDS=${ROUNDS:-3} CONNS=${CONNS:-16} THREADS=${THREADS:-2}
PROCS=${PROCS:-2} WORKERS=${WORKERS:-2}
start=$SECONDS

die() { echo "bench: $*" >&2; exit 1; }
for tool in wrk nginx spawn-fcgi docker-registry curl jq cc pkg-config bc head sha256sum; do
	command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
		die "$tool missing (apt-get install $tool)"
done
[ -x "$fcgi" ] || die "$fcgi not built (run make)"
[[ $DURATION =~ ^([1-9]|[1-5][0-9]|60)s$ ]] || die "DURATION: 1s to 60s"
[[ $ROUNDS =~ ^([1-9]|10)$ ]] || die "ROUNDS: 1 to 10"
[[ $CONNS =~ ^[1-9][0-9]{0,2}$ ]] || die "CONNS: 1 to 999"
[[ $THREADS =~ ^[1-9][0-9]?$ && $THREADS -le $CONNS ]] || die "THREADS: 1 to 99, at most CONNS"
[[ $PROCS =~ ^[1-9][0-9]?$ ]] || die "PROCS: 1 to 99"
[[ $WORKERS =~ ^[1-9][0-9]?$ ]] || die "WORKERS: 1 to 99"
cores=$(nproc)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/appr-bench.XXXXXX")
chmod 755 "$tmp"
store_env=(APPR_STORAGE=filesystem)
. "$here/bench/nginx-pools.sh"
reg_pid=
cleanup() {
	pools_cleanup
	[ -z "$reg_pid" ] || kill "$reg_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- appr-fcgi under nginx (bench/nginx-pools.sh: A stream, B x-accel-redirect) ----
pools_start

# ---- docker-registry on a free loopback port ----
for _ in $(seq 10); do
	rport=$((20000 + RANDOM % 30000))
	cat >"$tmp/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $tmp/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$rport
EOF
	docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
	reg_pid=$!
	R=http://127.0.0.1:$rport
	for _ in $(seq 100); do
		kill -0 "$reg_pid" 2>/dev/null || break
		curl -sf "$R/v2/" >/dev/null && break
		sleep 0.1
	done
	curl -sf "$R/v2/" >/dev/null && break
	kill "$reg_pid" 2>/dev/null || true
	wait "$reg_pid" 2>/dev/null || true
	reg_pid=
	grep -q 'in use' "$tmp/registry.log" || die "docker-registry failed: $(tail -3 "$tmp/registry.log")"
done
[ -n "$reg_pid" ] || die "no free port for docker-registry in 10 tries"

# ---- the artifact, pushed to both: POST an upload, PUT ?digest=, PUT the manifest ----
head -c 4096 /dev/urandom >"$tmp/l4k"
head -c 1048576 /dev/urandom >"$tmp/l1m"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$tmp/config"
sha() { sha256sum "$1" | cut -c1-64; }
C=$(sha "$tmp/config") L4=$(sha "$tmp/l4k") L1=$(sha "$tmp/l1m")
size() { wc -c <"$1" | tr -d ' '; }
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
	"$C" "$(size "$tmp/config")" "$L4" "$(size "$tmp/l4k")" "$L1" "$(size "$tmp/l1m")" >"$tmp/manifest"
MT=application/vnd.oci.image.manifest.v1+json
MD=$(sha "$tmp/manifest")
repo=bench/app
push_blob() { # BASE FILE DIGEST
	local loc code
	loc=$(curl -s --max-time 60 -o /dev/null -D - -X POST "$1/v2/$repo/blobs/uploads/" |
		tr -d '\r' | awk -F': ' 'tolower($1) == "location" {print $2}')
	[ -n "$loc" ] || die "$1: POST of an upload gave no Location"
	case $loc in http*) ;; *) loc=$1$loc ;; esac
	case $loc in *\?*) loc="$loc&digest=sha256:$3" ;; *) loc="$loc?digest=sha256:$3" ;; esac
	code=$(curl -s --max-time 60 -o /dev/null -w '%{http_code}' -X PUT \
		-H 'Content-Type: application/octet-stream' --data-binary "@$2" "$loc")
	[ "$code" = 201 ] || die "$1: PUT of blob ${3:0:12}: $code, not 201"
}
for base in "$A" "$R"; do
	push_blob "$base" "$tmp/config" "$C"
	push_blob "$base" "$tmp/l4k" "$L4"
	push_blob "$base" "$tmp/l1m" "$L1"
	code=$(curl -s --max-time 60 -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: $MT" \
		--data-binary "@$tmp/manifest" "$base/v2/$repo/manifests/v1")
	[ "$code" = 201 ] || die "$base: PUT of the manifest: $code, not 201"
done

# ---- every target answers the right bytes, on both ----
names=(base manifest blob4k blob1m)
declare -A path hdr label want
path[base]=/v2/ label[base]="GET /v2/ (the API check)" want[base]=$(printf '{}' | sha256sum | cut -c1-64)
path[manifest]=/v2/$repo/manifests/v1 hdr[manifest]="Accept: $MT"
label[manifest]="manifest GET by tag" want[manifest]=$MD
path[blob4k]=/v2/$repo/blobs/sha256:$L4 label[blob4k]="4 KiB blob GET" want[blob4k]=$L4
path[blob1m]=/v2/$repo/blobs/sha256:$L1 label[blob1m]="1 MiB blob GET" want[blob1m]=$L1
for n in "${names[@]}"; do
	for base in "$A" "$B" "$R"; do
		args=()
		[ -z "${hdr[$n]:-}" ] || args=(-H "${hdr[$n]}")
		code=$(curl -s --max-time 60 -o "$tmp/got" -w '%{http_code}' "${args[@]}" "$base${path[$n]}")
		[ "$code" = 200 ] || die "GET $base${path[$n]}: $code, not 200"
		[ "$(sha "$tmp/got")" = "${want[$n]}" ] || die "GET $base${path[$n]}: other bytes"
	done
done

hz=$(getconf CLK_TCK)
rps() { # BASE NAME POOL -> rv, rc: req/s, the pool's CPU us per request (none: -)
	local out args=() t0 t1 count
	[ -z "${hdr[$2]:-}" ] || args=(-H "${hdr[$2]}")
	t0=$(ticks "$3")
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 10s "${args[@]}" "$1${path[$2]}")
	t1=$(ticks "$3")
	if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
		echo "bench: $1${path[$2]}: $(grep 'Non-2xx\|Socket errors' <<<"$out" | tr '\n' ' ')" >&2
	fi
	count=$(awk '/requests in/ {print $1}' <<<"$out")
	[ -n "$count" ] || die "wrk $1${path[$2]}: $out"
	rv=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	if [ "$3" = none ]; then rc=-; else rc=$(((t1 - t0) * 1000000 / hz / (count > 0 ? count : 1))); fi
}
median() { tr ' ' '\n' | { grep . || true; } | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { echo "scale=3; $1 / $2" | bc -l; }

declare -A runs cpus rat
for r in $(seq "$ROUNDS"); do
	echo "bench: round $r of $ROUNDS" >&2
	for n in "${names[@]}"; do
		for k in stream accel; do
			rps "$R" "$n" none
			b=$rv runs[$n.reg]+="$rv "
			if [ $k = stream ]; then rps "$A" "$n" stream; else rps "$B" "$n" accel; fi
			runs[$n.$k]+="$rv " cpus[$n.$k]+="$rc "
			rat[$n.$k]+="$(ratio "$rv" "$b") "
		done
	done
done

echo "oci: $cores cores; docker-registry $(docker-registry --version 2>/dev/null | awk '{print $NF}')" \
	"(filesystem driver, listening itself) beside appr-fcgi under nginx" \
	"$("$(command -v nginx || echo /usr/sbin/nginx)" -v 2>&1 | sed 's|.*/||') ($WORKERS workers)" \
	"+ spawn-fcgi, $PROCS processes per pool, SQLite store; loopback"
echo "wrk -t$THREADS -c$CONNS -d$DURATION; $ROUNDS rounds, each appr-fcgi target right after"
echo "docker-registry; medians of req/s and of the per-pair ratios"
echo "cpu: user+system time of the FastCGI pool per request (us, from /proc, 1/$hz s ticks)"
printf '%-56s %10s %5s  %s\n' target req/s cpu ratio
for n in "${names[@]}"; do
	printf '%-56s %10s %5s  %s\n' "docker-registry, ${label[$n]} (baseline)" \
		"$(echo "${runs[$n.reg]}" | median)" - 1.00
	printf '%-56s %10s %5s  %.2f of docker-registry\n' "appr-fcgi, ${label[$n]}, stream" \
		"$(echo "${runs[$n.stream]}" | median)" "$(echo "${cpus[$n.stream]}" | median)" \
		"$(echo "${rat[$n.stream]}" | median)"
	printf '%-56s %10s %5s  %.2f of docker-registry\n' "appr-fcgi, ${label[$n]}, x-accel pool" \
		"$(echo "${runs[$n.accel]}" | median)" "$(echo "${cpus[$n.accel]}" | median)" \
		"$(echo "${rat[$n.accel]}" | median)"
done
echo "total: $((SECONDS - start)) s"
grep -hv 'child spawned successfully' "$tmp/spawn.log" "$tmp/nginx/error.log" 2>/dev/null |
	sort | uniq -c | sort -rn | head -10 | sed 's/^/bench: logged: /' >&2 || true
