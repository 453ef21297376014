#!/bin/bash
# t-storage-kv.sh - tests/test-storage (the storage operations, driver-independent) against a real etcd and a real redis-server.
#
# For each kv driver this build has (configure --with-etcd / --with-redis):
# starts one etcd and one redis-server (backend-etcd.sh, backend-redis.sh), runs the
# Criterion binary once per server with APPR_TEST_STORAGE and the server's address in
# its environment, and turns its TAP into one line per (driver, test): "ok N - etcd:
# storage::name". A failed test is "not ok" followed by Criterion's lines about it
# and the binary's stderr; a binary that dies or runs no test is a failure too.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

ts=$APPR_BUILDDIR/tests/test-storage
[ -x "$ts" ] || bail "$ts is not built: run this through make check"

drivers=()
for d in etcd redis; do
	grep -q "^#define HAVE_${d^^} 1" "$APPR_BUILDDIR/config.h" && drivers+=("$d")
done
[ ${#drivers[@]} -gt 0 ] || bail "no kv driver in this build (configure --with-etcd, --with-redis)"
for d in "${drivers[@]}"; do
	backend "$d"
	"${d}_start"
done

# run_driver NAME VAR=VALUE...: test-storage against that server, TAP lines out.
run_driver() {
	local name=$1
	local tap=$APPR_TMP/test-storage.$name.tap log=$APPR_TMP/test-storage.$name.log
	local rc line n=0 failed=0 skip desc
	shift
	env -u CRITERION_OUTPUTS "$@" APPR_TEST_STORAGE="$name" TMPDIR="$APPR_TMP" \
		timeout 300 "$ts" --jobs=2 --tap="$tap" >"$log" 2>&1
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok - "*)
			n=$((n + 1))
			desc=${line#ok - }
			skip=
			case $desc in
			*" # SKIP"*) skip=" # SKIP ${desc#* # SKIP }"; desc=${desc%% # SKIP*} ;;
			esac
			desc=${desc%%  (*}
			ok 0 "$name: $desc$skip"
			;;
		"not ok - "*)
			n=$((n + 1))
			failed=$((failed + 1))
			desc=${line#not ok - }
			ok 1 "$name: ${desc%%  (*}"
			;;
		"  "* | "#   "*)
			# Criterion's details of the last failure
			[ "$failed" -gt 0 ] && diag "$line"
			;;
		esac
	done <"$tap"
	if [ "$n" -eq 0 ] || { [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
		ok 1 "$name: test-storage ran $n tests and exited $rc"
		failed=1
	fi
	if [ "$failed" -gt 0 ]; then
		diag "stderr of test-storage with $name:"
		diag "$(tail -n 40 "$log")"
	fi
}

for d in "${drivers[@]}"; do
	declare -n env_=${d}_env
	run_driver "$d" "${env_[@]}"
	unset -n env_
done
plan "$_tap_n"
