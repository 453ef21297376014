#!/bin/bash
# t-kv.sh - the kv.h contract (tests/test-kv) against a real etcd and a real redis-server,
# one TAP line per driver x test; then the registry on redis survives a redis restart
# without restarting appr-fcgi (the client reconnects). Only the kv drivers this build
# has (configure --with-etcd / --with-redis) are tested.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

TEST_KV=$APPR_BUILDDIR/tests/test-kv
[ -x "$TEST_KV" ] || bail "$TEST_KV not built: make check builds it (or make tests/test-kv)"
mapfile -t names < <("$TEST_KV" --list 2>/dev/null | sed -n 's/^[^a-zA-Z0-9_]*\([a-zA-Z0-9_]\{1,\}\)$/\1/p')
[ ${#names[@]} -gt 0 ] || bail "$TEST_KV --list listed no test"

drivers=()
for d in etcd redis; do
	grep -q "^#define HAVE_${d^^} 1" "$APPR_BUILDDIR/config.h" && drivers+=("$d")
done
[ ${#drivers[@]} -gt 0 ] || bail "no kv driver in this build (configure --with-etcd, --with-redis)"

# driver_tests DRIVER: the tests of --list for DRIVER (redis_* and etcd_* are
# one client's own tests; the others are the contract, for both).
driver_tests() {
	local n
	for n in "${names[@]}"; do
		case $n in
		redis_* | etcd_*) [ "${n%%_*}" = "$1" ] || continue ;;
		esac
		printf '%s\n' "$n"
	done
}
total=0
for d in "${drivers[@]}"; do
	total=$((total + $(driver_tests "$d" | wc -l)))
done
RESTART_TESTS=0
[[ " ${drivers[*]} " == *" redis "* ]] && RESTART_TESTS=9
plan $((total + ${#drivers[@]} + RESTART_TESTS))

for d in "${drivers[@]}"; do
	backend "$d"
	"${d}_start"
done

# run_kv DRIVER: test-kv against DRIVER's server, one ok/not ok per test of --list.
run_kv() {
	local d=$1 tap=$APPR_TMP/kv-$1.tap log=$APPR_TMP/kv-$1.log n line msg
	local -n env_=${d}_env
	: >"$tap"
	env -u CRITERION_OUTPUTS APPR_CONFIG="$APPR_TMP/appr.conf" KV_TEST_DRIVER="$d" "${env_[@]}" \
		timeout 100 "$TEST_KV" -j1 --verbose --tap="$tap" >"$log" 2>&1
	for n in $(driver_tests "$d"); do
		line=$(grep -E "^(not )?ok - kv::$n( |\$)" "$tap" | head -n 1)
		case $line in
		"ok - "*)
			ok 0 "$d: $n"
			;;
		"not ok - "*)
			ok 1 "$d: $n"
			msg=${line#not ok - kv::$n}
			diag "${msg# }"
			# criterion's report of this test (-j1 --verbose: from its [RUN ] line on)
			diag "$(awk -v t="[RUN ] kv::$n" '$0 == t { on = 1; print; next }
				on && /^\[(RUN |SKIP|====)\]/ { exit } on { print }' "$log" | head -n 30)"
			;;
		*)
			ok 1 "$d: $n"
			diag "no result for kv::$n (crash or timeout); last lines of the output:"
			diag "$(tail -n 15 "$log")"
			;;
		esac
	done
	# (a sanitizer build: a report in any test process fails)
	if grep -q -E 'Sanitizer|runtime error:' "$log"; then
		ok 1 "$d: no sanitizer report from test-kv"
		diag "$(grep -E -A 12 'Sanitizer|runtime error:' "$log" | head -n 40)"
	else
		ok 0 "$d: no sanitizer report from test-kv"
	fi
}

for d in "${drivers[@]}"; do
	run_kv "$d"
done

# ---- the registry on redis, across a redis restart ----
[ "$RESTART_TESTS" -gt 0 ] || exit 0
T=$APPR_TMP
appr_start "${redis_env[@]}"
tgz=$(mkchart survivor 1.0.0 "$T/c")
push ns/survivor "$tgz" 1.0.0 helm
is "$STATUS" 200 "push ns/survivor 1.0.0 to the registry on redis"
mapfile -t procs < <(appr_pids)

redis_stop
req GET /api/v1/packages/ns/survivor/1.0.0/helm
is_error 503 storage-unavailable "redis down: 503 storage-unavailable"

redis_restart
is "$(count_running "${procs[@]}")" "${#procs[@]}" \
	"the registry's ${#procs[@]} processes still run (no appr-fcgi restart)"
# Every responder (SERVE_PROCS, default 2) must have reconnected: ask several times.
good=0
for ((i = 0; i < 6; i++)); do
	req GET /api/v1/packages/ns/survivor/1.0.0/helm
	[ "$STATUS" = 200 ] && good=$((good + 1))
done
is "$good" 6 "after the restart, 6 of 6 reads of the manifest answer 200"
req GET /api/v1/packages/ns/survivor/1.0.0/helm/pull
cmp -s "$BODYFILE" "$tgz"
ok $? "pull after the redis restart is byte-exact"

redis_restart # again, with no request in between
tgz2=$(mkchart survivor 1.1.0 "$T/c")
push ns/survivor "$tgz2" 1.1.0 helm
is "$STATUS" 200 "a push right after a second redis restart"
req GET /api/v1/packages/ns/survivor
is "$STATUS $(jqb '[.[].release] | sort | join(",")')" "200 1.0.0,1.1.0" "both releases listed"
push ns/survivor "$tgz" 1.0.0 helm
is_error 409 package-exists "the release pushed before the restarts still conflicts"
is "$(count_running "${procs[@]}")" "${#procs[@]}" "still the same registry processes"
