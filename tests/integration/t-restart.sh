#!/bin/bash
# t-restart.sh - data survives a restart; APPR_DATA_DIR is honoured; appr-serve
# stops everything it started and refuses a bad configuration.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 20

T=$APPR_TMP
appr_start APPR_DATA_DIR="$T/custom-data"
is "$APPR_DATA" "$T/custom-data" "the registry runs on APPR_DATA_DIR"

tgz=$(mkchart keep 1.0.0 "$T/c")
push ns/keep "$tgz" 1.0.0 helm '.metadata = {"k": "v"}'
is "$STATUS" 200 "push ns/keep 1.0.0"
req POST /api/v1/packages/ns/keep/channels/stable/1.0.0
is "$STATUS" 200 "add 1.0.0 to stable"
req GET /api/v1/packages/ns/keep/1.0.0/helm
is "$STATUS" 200 "show the manifest"
jq -S . "$BODYFILE" >"$T/before.json"

if [ "$APPR_TEST_STORAGE" = filesystem ]; then
	[ -n "$(find "$T/custom-data" -type f 2>/dev/null | head -n 1)" ] && [ "$(blob_files)" -ge 1 ]
	ok $? "APPR_DATA_DIR holds the database and the blob"
else
	[ "$(blob_files)" -ge 1 ]
	ok $? "the $APPR_TEST_STORAGE server holds the blob"
fi

mapfile -t procs < <(appr_pids)
appr_restart
ok $? "appr-serve stopped lighttpd and every appr-fcgi it started"
is "$(count_running "${procs[@]}")" 0 "none of the ${#procs[@]} processes of the first registry runs"
is "$(find "$T" -maxdepth 1 -name 'appr-serve.*' | wc -l)" 1 \
	"the first appr-serve removed its temporary directory (one left: the running one's)"

req GET /version
is "$STATUS" 200 "the restarted registry answers"
req GET /api/v1/packages/ns/keep/1.0.0/helm
jq -S . "$BODYFILE" >"$T/after.json" 2>/dev/null
cmp -s "$T/before.json" "$T/after.json"
ok $? "the manifest is the same after the restart (created_at, metadata, channels)"
req GET /api/v1/packages/ns/keep/1.0.0/helm/pull
cmp -s "$BODYFILE" "$tgz"
ok $? "pull after the restart is byte-exact"
req GET /api/v1/packages/ns/keep/channels/stable
is "$STATUS $(jqb .current)" "200 1.0.0" "the channel survived"

tgz2=$(mkchart keep 1.1.0 "$T/c")
push ns/keep "$tgz2" 1.1.0 helm
is "$STATUS" 200 "push after the restart"
req GET /api/v1/packages
is "$STATUS $(jqb '.[] | select(.name == "ns/keep") | .releases | join(",")')" "200 1.1.0,1.0.0" \
	"both releases listed"
push ns/keep "$tgz" 1.0.0 helm
is_error 409 package-exists "the release pushed before the restart still conflicts"

# ---- stopping leaves nothing ----
mapfile -t procs < <(appr_pids)
appr_stop
ok $? "appr_stop: no process left"
is "$(count_running "${procs[@]}")" 0 "none of the ${#procs[@]} processes runs"
is "$(find "$T" -maxdepth 1 -name 'appr-serve.*' | wc -l)" 0 "no appr-serve temporary directory left"

# ---- a bad configuration stops appr-serve with a message ----
port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
start=$(date +%s)
srv=()
[ "$APPR_TEST_SERVER" = lighttpd ] || srv=(--server "$APPR_TEST_SERVER")
TMPDIR=$T APPR_CONFIG="$T/appr.conf" APPR_MAX_BODY_SIZE=lots \
	timeout 20 "$APPR_SERVE" "${srv[@]}" --port "$port" --data "$T/custom-data" >"$T/bad.log" 2>&1
rc=$?
is "$rc" 1 "appr-serve with APPR_MAX_BODY_SIZE=lots exits with status 1 ($(($(date +%s) - start)) s)"
grep -q 'APPR_MAX_BODY_SIZE' "$T/bad.log"
ok $? "the message names APPR_MAX_BODY_SIZE"
diag "$(cat "$T/bad.log")"
