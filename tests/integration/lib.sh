# lib.sh - TAP helpers and a throw-away registry (contrib/appr-serve) for the integration tests.
#
# Sourced by tests/integration/t-*.sh:  . "$APPR_SRCDIR/tests/integration/lib.sh"
# Environment (exported by `make check`): APPR_FCGI (the responder), APPR_SRCDIR,
# APPR_BUILDDIR (where contrib/appr-serve was built). By hand, from a build dir:
#   APPR_BUILDDIR=$PWD ../main/tests/integration/t-basic.sh
# APPR_TEST_TIMEOUT (seconds, default 120) bounds a whole script.
# Variants (set by the generated wrappers tests/integration/<variant>/t-X.sh):
#   APPR_TEST_STORAGE=etcd|redis  the registry uses that driver; a real server is
#       started by backend_start of tests/integration/backend-<name>.sh (below)
#   APPR_TEST_SERVER=nginx|apache-fcgid|apache-cgi  appr-serve --server <name>
#       instead of lighttpd
#
# TAP:       plan N; ok RC MSG; is GOT WANT MSG; like GOT ERE MSG; diag TEXT
# HTTP:      req METHOD PATH [curl args]  -> STATUS, BODY, HEADERS, BODYFILE
#            header NAME (from the last req), jqb FILTER (jq -r on the last body),
#            jis FILTER WANT MSG, is_error STATUS CODE MSG
# Packages:  mkchart NAME VERSION DIR -> path of a small real .tar.gz
#            pushbody FILE RELEASE [MEDIA_TYPE [JQ-FILTER...]] -> the push JSON
#            push NS/NAME FILE RELEASE [MEDIA_TYPE [JQ-FILTER...]] -> req POST
#            digest_of FILE (sha256 of the gunzipped file), blob_files (in APPR_DATA)
# Registry:  appr_start [VAR=VALUE...] (SERVE_PROCS responders, default 2);
#            (APPR_TEST_STORAGE given: the backend server is started first, once)
#            appr_stop; appr_restart; appr_pids; count_running PID...; exports BASE,
#            appr_admin ARGS... (tools/appr-admin on the registry's store),
#            APPR_DATA (the data directory), APPR_TMP (this test's temp dir).
# Everything started is stopped and APPR_TMP removed when the script exits.

set -u

# ---- TAP ----
_tap_n=0
_tap_failed=0
_tap_plan=

plan() {
	_tap_plan=$1
	printf '1..%s\n' "$1"
}

diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# ok RC MSG: passes when RC (an exit status) is 0.
ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ] 2>/dev/null; then
		printf 'ok %d - %s\n' "$_tap_n" "$2"
		return 0
	fi
	printf 'not ok %d - %s\n' "$_tap_n" "$2"
	_tap_failed=$((_tap_failed + 1))
	return 1
}

# is GOT WANT MSG: string equality; prints both on failure.
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
		return 0
	fi
	ok 1 "$3"
	diag "got:  $(printf '%s' "$1" | head -c 2000)"
	diag "want: $(printf '%s' "$2" | head -c 2000)"
	return 1
}

# like GOT ERE MSG: GOT matches the extended regular expression ERE.
like() {
	if [[ $1 =~ $2 ]]; then
		ok 0 "$3"
		return 0
	fi
	ok 1 "$3"
	diag "got:  $(printf '%s' "$1" | head -c 2000)"
	diag "want: a match of /$2/"
	return 1
}

# Fail the whole script now (a precondition, not a test): one "not ok", then exit 1.
bail() {
	if [ -z "$_tap_plan" ]; then
		printf '1..1\n'
	fi
	_tap_plan=
	_tap_n=$((_tap_n + 1))
	printf 'not ok %d - %s\n' "$_tap_n" "$1"
	_tap_failed=$((_tap_failed + 1))
	exit 1
}

# ---- the tools the tests need (missing ones fail, never skip) ----
_need() { # command debian-package
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] ||
		bail "$1 is missing: apt-get install $2"
}
_need curl curl
_need jq jq
_need lighttpd lighttpd
_need base64 coreutils
_need sha256sum coreutils
_need gzip gzip
_need tar tar
_need awk gawk
_need sqlite3 sqlite3

# ---- paths and a private temp dir ----
[ -n "${APPR_SRCDIR:-}" ] || APPR_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ -n "${APPR_BUILDDIR:-}" ] || bail "APPR_BUILDDIR is not set: run the tests with make check"
[ -n "${APPR_FCGI:-}" ] || APPR_FCGI=$APPR_BUILDDIR/fcgi/appr-fcgi
export APPR_FCGI APPR_SRCDIR APPR_BUILDDIR
APPR_SERVE=${APPR_SERVE:-$APPR_BUILDDIR/contrib/appr-serve}
[ -x "$APPR_FCGI" ] || bail "responder $APPR_FCGI not built: make"
[ -x "$APPR_SERVE" ] || bail "$APPR_SERVE not built: make"

# Only the variables a test sets reach the registry: no APPR_* of the caller's
# shell, and an empty configuration file instead of an installed one.
for _v in $(compgen -e); do
	case $_v in
	APPR_FCGI|APPR_SRCDIR|APPR_BUILDDIR|APPR_SERVE|APPR_TEST_TIMEOUT) ;;
	APPR_TEST_STORAGE|APPR_TEST_SERVER) ;;
	APPR_*|STORAGE) unset "$_v" ;;
	esac
done
unset _v

# ---- the variant ----
APPR_TEST_STORAGE=${APPR_TEST_STORAGE:-filesystem}
APPR_TEST_SERVER=${APPR_TEST_SERVER:-lighttpd}
# tests/integration/backend-<name>.sh (etcd, redis) defines, for <name>:
#   <name>_start [ARGS]   start a server on a free loopback port (data under $APPR_TMP)
#                         and fill the array <name>_env with what the registry needs
#                         to use it (STORAGE=<name> APPR_...=...); bails on failure
#   <name>_stop           stop everything <name>_start started (no-op when nothing)
#   <name>_blob_count     print how many blobs the store holds, unfinished uploads
#                         included (what blob_files counts in blobs/ for filesystem)
# A script may source backend files itself (`backend etcd`) to use a server
# directly; stopping is registered with at_exit by <name>_start.
backend() {
	case $1 in
	etcd | redis) ;;
	*) bail "no backend \"$1\" (etcd, redis)" ;;
	esac
	declare -F "$1_start" >/dev/null && return 0
	. "$APPR_SRCDIR/tests/integration/backend-$1.sh" ||
		bail "cannot read tests/integration/backend-$1.sh"
}
_backend_started=
case $APPR_TEST_STORAGE in
filesystem | sqlite) ;;
etcd | redis) backend "$APPR_TEST_STORAGE" ;;
*) bail "APPR_TEST_STORAGE=$APPR_TEST_STORAGE: no such variant (etcd, redis)" ;;
esac
case $APPR_TEST_SERVER in
lighttpd) ;;
nginx) _need nginx nginx; _need spawn-fcgi spawn-fcgi ;;
apache-fcgid | apache-cgi) _need apache2 apache2 ;;
*) bail "APPR_TEST_SERVER=$APPR_TEST_SERVER: no such variant (nginx, apache-fcgid, apache-cgi)" ;;
esac

APPR_TMP=$(mktemp -d "${TMPDIR:-/tmp}/appr-test.XXXXXX") || bail "mktemp -d failed"
# Readable by the web server's user too (Apache and nginx switch to www-data as root).
chmod 755 "$APPR_TMP"
: >"$APPR_TMP/appr.conf"
APPR_DATA=$APPR_TMP/data
BASE=
_serve_pid=
_serve_env=()
_serve_port=
_serve_procs=()

# ---- the registry ----

# Whether process $1 runs (zombies do not count).
_running() {
	local line fields
	if [ ! -d /proc/self ]; then
		kill -0 "$1" 2>/dev/null
		return
	fi
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	read -r -a fields <<<"${line##*) }"
	[ "${fields[0]}" != Z ]
}

# Process $1 and all its descendants, one pid a line.
_tree() {
	local c
	printf '%s\n' "$1"
	for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		_tree "$c"
	done
}

# appr_start [VAR=VALUE...]: start a registry (appr-serve: lighttpd + 2 appr-fcgi)
# on a free loopback port with the data directory $APPR_DATA (or the
# APPR_DATA_DIR given), the variables given in its environment; wait until
# GET /version answers; export BASE. Fails the script when it cannot.
appr_start() {
	local try port i code off log=$APPR_TMP/serve.log data_arg=(--data "$APPR_DATA") a
	local server_arg=()
	_serve_env=("$@")
	local backend_env=()
	case $APPR_TEST_STORAGE in
	etcd | redis)
		if [ -z "$_backend_started" ]; then
			"${APPR_TEST_STORAGE}_start"
			_backend_started=1
		fi
		local -n _benv=${APPR_TEST_STORAGE}_env
		backend_env=("${_benv[@]}")
		;;
	esac
	[ "$APPR_TEST_SERVER" = lighttpd ] || server_arg=(--server "$APPR_TEST_SERVER")
	for a in "$@"; do
		case $a in
		APPR_DATA_DIR=*)
			APPR_DATA=${a#APPR_DATA_DIR=}
			data_arg=()
			;;
		esac
	done
	for ((try = 0; try < 12; try++)); do
		if [ -n "$_serve_port" ] && [ "$try" -eq 0 ]; then
			port=$_serve_port
		else
			port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		fi
		printf '=== appr-serve --port %s %s\n' "$port" "$*" >>"$log"
		# only what this start writes counts: the log holds earlier starts
		# on the same port
		off=$(($(stat -c %s "$log") + 1))
		env APPR_CONFIG="$APPR_TMP/appr.conf" TMPDIR="$APPR_TMP" "${backend_env[@]}" "$@" \
			"$APPR_SERVE" "${server_arg[@]}" --port "$port" --procs "${SERVE_PROCS:-2}" --host 127.0.0.1 "${data_arg[@]}" \
			>>"$log" 2>&1 &
		_serve_pid=$!
		# appr-serve says "registry on" once the web server itself listens;
		# opening a store can take a while first (a kv store's search index
		# built on its first open, under a sanitizer on a busy machine)
		for ((i = 0; i < 1200; i++)); do
			_running "$_serve_pid" || break
			tail -c "+$off" "$log" | grep -q "registry on http://127.0.0.1:$port " && break
			sleep 0.1
		done
		if ! _running "$_serve_pid"; then
			wait "$_serve_pid" 2>/dev/null
			_serve_pid=
			if tail -c "+$off" "$log" | grep -q -i 'in use'; then
				continue # port taken: try another
			fi
			diag "$(tail -n 20 "$log")"
			bail "appr-serve failed to start (see above)"
		fi
		BASE=http://127.0.0.1:$port
		for ((i = 0; i < 100; i++)); do
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/version")
			[ "$code" = 200 ] && break
			sleep 0.1
		done
		if [ "$code" != 200 ]; then
			diag "$(tail -n 20 "$log")"
			bail "registry on $BASE: GET /version answered $code, not 200, within 10 s"
		fi
		_serve_port=$port
		mapfile -t _serve_procs < <(_tree "$_serve_pid")
		export BASE APPR_DATA
		return 0
	done
	bail "no free port found for the registry in 12 tries"
}

# appr_stop: stop the registry; returns 1 (after killing them) when processes
# of it survived, 0 otherwise.
appr_stop() {
	local i p left=()
	[ -n "$_serve_pid" ] || return 0
	kill -TERM "$_serve_pid" 2>/dev/null
	for ((i = 0; i < 150; i++)); do
		_running "$_serve_pid" || break
		sleep 0.1
	done
	wait "$_serve_pid" 2>/dev/null
	_serve_pid=
	for ((i = 0; i < 20; i++)); do
		left=()
		for p in "${_serve_procs[@]}"; do
			_running "$p" && left+=("$p")
		done
		[ ${#left[@]} -eq 0 ] && break
		sleep 0.1
	done
	_serve_procs=()
	if [ ${#left[@]} -gt 0 ]; then
		diag "processes left after stopping appr-serve: $(ps -o pid=,args= -p "${left[*]// /,}" 2>/dev/null)"
		kill -KILL "${left[@]}" 2>/dev/null
		return 1
	fi
	return 0
}

# appr_admin ARGS...: tools/appr-admin on the registry's store (the same config file,
# data directory and etcd/redis backend as appr_start gives the responders), with
# auth = tokens.
appr_admin() {
	local benv=()
	case $APPR_TEST_STORAGE in
	etcd | redis)
		local -n _abenv=${APPR_TEST_STORAGE}_env
		benv=("${_abenv[@]}")
		;;
	esac
	env APPR_CONFIG="$APPR_TMP/appr.conf" APPR_DATA_DIR="$APPR_DATA" APPR_AUTH=tokens \
		"${benv[@]}" "$APPR_BUILDDIR/tools/appr-admin" "$@"
}

# appr_pids: the processes of the running registry (appr-serve, lighttpd, the
# appr-fcgi responders), one pid a line.
appr_pids() {
	[ -z "$_serve_pid" ] || _tree "$_serve_pid"
}

# count_running PID...: how many of these processes still run.
count_running() {
	local p n=0
	for p in "$@"; do
		_running "$p" && n=$((n + 1))
	done
	echo "$n"
}

# appr_restart: stop, then start again on the same data directory (and the same
# port when it is still free); returns appr_stop's status.
appr_restart() {
	local rc=0
	appr_stop || rc=1
	appr_start "${_serve_env[@]}"
	return $rc
}

# at_exit COMMAND: run COMMAND (eval) when the script exits, after the registry
# stopped; the last registered runs first.
_at_exit=()
at_exit() {
	_at_exit+=("$*")
}

_appr_exit() {
	local rc=0 i
	kill "$_watchdog" 2>/dev/null
	appr_stop >/dev/null
	for ((i = ${#_at_exit[@]} - 1; i >= 0; i--)); do
		eval "${_at_exit[i]}" >/dev/null 2>&1
	done
	if [ "$_tap_failed" -gt 0 ] && [ -s "$APPR_TMP/serve.log" ]; then
		diag "last lines of the registry's log:"
		diag "$(tail -n 30 "$APPR_TMP/serve.log")"
	fi
	rm -rf -- "$APPR_TMP"
	# Failures are "not ok" lines; the exit status only says whether the plan
	# was carried out (automake's tap-driver turns a non-zero status into an
	# ERROR on top of the FAILs).
	if [ "$_tap_n" != "${_tap_plan:-$_tap_n}" ]; then
		diag "planned $_tap_plan tests but ran $_tap_n"
		rc=1
	fi
	exit $rc
}
trap _appr_exit EXIT
trap 'exit 1' INT TERM HUP

# A watchdog: a hung registry must not hang `make check` (each request is also
# bounded by curl --max-time).
(
	trap 'kill "$_sp" 2>/dev/null; exit 0' TERM
	sleep "${APPR_TEST_TIMEOUT:-120}" &
	_sp=$!
	wait "$_sp" && printf '# watchdog: the test ran over %s s\n' "${APPR_TEST_TIMEOUT:-120}" &&
		kill -TERM $$
) </dev/null &
_watchdog=$!

# ---- HTTP ----

# req METHOD PATH [curl args]: one request to $BASE$PATH. Sets STATUS (000 when
# the connection failed), BODY (text), BODYFILE (the exact bytes), HEADERS
# (CR-free, last response only). HEAD goes over a raw HTTP/1.0 connection, so
# that BODYFILE holds whatever the server sent after the headers (curl -I would
# hide a body that should not be there); curl args are ignored for HEAD.
req() {
	local method=$1 path=$2 m a body=
	shift 2
	BODYFILE=$APPR_TMP/body
	: >"$BODYFILE"
	: >"$APPR_TMP/headers"
	if [ "$method" = HEAD ]; then
		_raw_head "$path"
	else
		m=(-X "$method")
		# lighttpd answers 411 to a POST without Content-Length; clients send 0.
		if [ "$method" = POST ] || [ "$method" = PUT ]; then
			for a in "$@"; do
				case $a in -d|--data*|-F|--form*|-T|--upload-file) body=1 ;; esac
			done
			[ -n "$body" ] || m+=(-H 'Content-Length: 0')
		fi
		STATUS=$(curl -s -g --max-time 20 -o "$BODYFILE" -D "$APPR_TMP/headers" \
			-w '%{http_code}' "${m[@]}" "$@" "$BASE$path") || true
	fi
	[ -n "$STATUS" ] || STATUS=000
	BODY=$(tr -d '\000' <"$BODYFILE")
	HEADERS=$(tr -d '\r' <"$APPR_TMP/headers")
}

# HEAD PATH over HTTP/1.0 (the server closes after the answer): headers to
# $APPR_TMP/headers, any bytes after them to $BODYFILE, STATUS.
_raw_head() {
	local raw=$APPR_TMP/raw hostport=${BASE#http://} hlen
	: >"$raw"
	if exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}"; then
		printf 'HEAD %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" "$hostport" >&3
		timeout 10 cat <&3 >"$raw"
		exec 3<&-
	fi 2>/dev/null
	LC_ALL=C sed -n '1,/^\r\{0,1\}$/p' "$raw" >"$APPR_TMP/headers"
	hlen=$(wc -c <"$APPR_TMP/headers")
	tail -c +$((hlen + 1)) "$raw" >"$BODYFILE"
	STATUS=$(head -n 1 "$raw" | awk '{ print $2 }')
}

# header NAME: the value of response header NAME of the last req (case-insensitive).
header() {
	printf '%s\n' "$HEADERS" | awk -v n="$1" 'BEGIN { n = tolower(n) }
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) { v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); print v } }' | tail -n 1
}

# jqb FILTER [jq args]: jq -r FILTER on the last response body (nothing if not JSON).
jqb() {
	local f=$1
	shift
	jq -r "$@" "$f" <"$BODYFILE" 2>/dev/null
}

# jis FILTER WANT MSG: is "$(jqb FILTER)" WANT MSG.
jis() {
	is "$(jqb "$1")" "$2" "$3"
}

# is_error STATUS CODE MSG: the last response is HTTP STATUS with a JSON error
# body {"code": CODE, "message": "<non-empty>"} and Content-Type application/json.
is_error() {
	local got want="$1 $2 message=yes json"
	got="$STATUS $(jqb '.code') message=$(jqb 'if (.message | type) == "string" and (.message | length) > 0 then "yes" else "no" end')"
	case $(header Content-Type) in
	application/json*) got+=" json" ;;
	*) got+=" content-type=$(header Content-Type)" ;;
	esac
	if ! is "$got" "$want" "$3"; then
		diag "body: $(head -c 500 "$BODYFILE")"
		return 1
	fi
}

# ---- packages ----

# mkchart NAME VERSION DIR [EXTRA-DIR]: a small helm-like chart tarball
# DIR/NAME-VERSION.tgz (NAME/Chart.yaml, NAME/values.yaml, NAME/templates/*; with
# EXTRA-DIR, its files are copied into NAME/ over those, e.g. a README.md); prints
# its path.
mkchart() {
	local name=$1 version=$2 dir=$3 extra=${4:-} work
	work=$(mktemp -d "$APPR_TMP/chart.XXXXXX")
	mkdir -p "$work/$name/templates" "$dir"
	printf 'name: %s\nversion: %s\ndescription: test chart %s %s\n' \
		"$name" "$version" "$name" "$version" >"$work/$name/Chart.yaml"
	printf 'replicas: 1\nimage: example/%s:%s\n' "$name" "$version" >"$work/$name/values.yaml"
	printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n' "$name" \
		>"$work/$name/templates/service.yaml"
	[ -z "$extra" ] || cp -R -- "$extra/." "$work/$name/"
	tar -C "$work" -czf "$dir/$name-$version.tgz" "$name"
	rm -rf -- "$work"
	printf '%s\n' "$dir/$name-$version.tgz"
}

# pushbody FILE RELEASE [MEDIA_TYPE [JQ-FILTER...]]: the JSON body of a push of
# FILE (base64 -w0) as RELEASE; MEDIA_TYPE "" leaves media_type out; each
# JQ-FILTER then edits the object, e.g. '.force = true', '.metadata = {"a": 1}'.
pushbody() {
	local file=$1 release=$2 mt=${3:-} filter='{blob: ., release: $release}
		+ (if $mt == "" then {} else {media_type: $mt} end)' f
	shift 2
	[ $# -eq 0 ] || shift
	for f in "$@"; do
		filter+=" | $f"
	done
	base64 -w0 "$file" | jq -R -c --arg release "$release" --arg mt "$mt" "$filter"
}

# push NS/NAME FILE RELEASE [MEDIA_TYPE [JQ-FILTER...]]: POST the pushbody.
push() {
	local pkg=$1
	shift
	pushbody "$@" >"$APPR_TMP/push.json"
	req POST "/api/v1/packages/$pkg" -H 'Content-Type: application/json' \
		--data-binary "@$APPR_TMP/push.json"
}

# digest_of FILE: the lowercase hex SHA-256 of the gunzipped FILE (the blob digest).
digest_of() {
	gzip -dc "$1" | sha256sum | cut -d' ' -f1
}

# blob_files: how many files the data directory's blobs/ holds (with etcd or redis:
# how many blobs the store holds, unfinished uploads included).
blob_files() {
	case $APPR_TEST_STORAGE in
	etcd | redis)
		"${APPR_TEST_STORAGE}_blob_count"
		return
		;;
	esac
	find "$APPR_DATA/blobs" -type f 2>/dev/null | wc -l | tr -d ' '
}

# With etcd or redis, the registry's own keys (without the key prefix), read and
# written behind its back (to damage a value, or to see what is left):
#   kv_keys PREFIX   the keys starting with PREFIX, one per line, in byte order
#   kv_get KEY       the exact bytes of KEY's value on standard output (etcdctl's JSON
#                    carries them base64; redis keeps them in field v of a hash)
#   kv_put KEY       KEY's value replaced by standard input (its revision kept on
#                    redis), or KEY made with it
kv_keys() {
	case $APPR_TEST_STORAGE in
	etcd)
		local p
		p=$(_etcd_key_prefix)
		etcdctl_ get --prefix --keys-only "$p$1" | awk -v p="$p" 'index($0, p) == 1 { print substr($0, length(p) + 1) }'
		;;
	redis) redis_cli --raw zrangebylex "${REDIS_KEY_PREFIX:-/appr/}idx" "[$1" "($1"$'\xff' | sed '/^$/d' ;;
	*) bail "kv_keys: not a kv store ($APPR_TEST_STORAGE)" ;;
	esac
}
kv_get() {
	case $APPR_TEST_STORAGE in
	etcd) etcdctl_ get -w json "$(_etcd_key_prefix)$1" | jq -r '.kvs[0].value' | base64 -d ;;
	redis) redis_cli --raw hget "${REDIS_KEY_PREFIX:-/appr/}k:$1" v | head -c -1 ;;
	*) bail "kv_get: not a kv store ($APPR_TEST_STORAGE)" ;;
	esac
}
kv_put() {
	case $APPR_TEST_STORAGE in
	etcd) etcdctl_ put "$(_etcd_key_prefix)$1" >/dev/null ;;
	redis)
		redis_cli -x hset "${REDIS_KEY_PREFIX:-/appr/}k:$1" v >/dev/null &&
			redis_cli hsetnx "${REDIS_KEY_PREFIX:-/appr/}k:$1" r 1 >/dev/null &&
			redis_cli zadd "${REDIS_KEY_PREFIX:-/appr/}idx" 0 "$1" >/dev/null
		;;
	*) bail "kv_put: not a kv store ($APPR_TEST_STORAGE)" ;;
	esac
}
