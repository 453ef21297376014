# backend-redis.sh - a throw-away redis-server for the tests (the contract is in lib.sh).
#
#   redis_start      redis-server on a free loopback port, data in $APPR_TMP/redis (an
#                    append-only file, so redis_restart keeps the data); fills redis_env
#                    and redis_port; registers redis_stop with at_exit
#   redis_stop       stop it (no-op when not running)
#   redis_restart    stop it and start it again on the same port and data
#   redis_cli ARGS   redis-cli on that server
#   redis_blob_count how many uploads the store holds: the distinct <id> among the kv
#                    keys chunk/<id>/... (storage-kv.c's layout; kv-redis.c keeps
#                    every kv key in the sorted set <key_prefix>idx)
# REDIS_KEY_PREFIX (default /appr/, the registry's default key_prefix) is the prefix
# redis_blob_count looks under.

redis_port=
redis_pid=
redis_env=()
_redis_dir=

_redis_bin() {
	local b
	for b in redis-server /usr/bin/redis-server /usr/sbin/redis-server; do
		command -v "$b" >/dev/null 2>&1 && { command -v "$b"; return 0; }
	done
	return 1
}

redis_cli() {
	redis-cli -h 127.0.0.1 -p "$redis_port" "$@"
}

# _redis_launch PORT: start redis-server in the background; 0 once PING answers
# (within 10 s), 1 when it exited (e.g. the port is taken), 2 when it hangs.
_redis_launch() {
	local port=$1 i bin
	bin=$(_redis_bin)
	"$bin" --port "$port" --bind 127.0.0.1 --dir "$_redis_dir" \
		--save '' --appendonly yes --appendfsync no --protected-mode no \
		--daemonize no --logfile "$_redis_dir/redis.log" </dev/null >/dev/null 2>&1 &
	redis_pid=$!
	for ((i = 0; i < 100; i++)); do
		if ! _running "$redis_pid"; then
			wait "$redis_pid" 2>/dev/null
			redis_pid=
			return 1
		fi
		# ours, not another test's redis-server that had the port when ours failed
		# to bind it (and has not exited yet)
		[ "$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null |
			tr -d '\r' | awk -F: '$1 == "process_id" { print $2 }')" = "$redis_pid" ] &&
			return 0
		sleep 0.1
	done
	return 2
}

redis_start() {
	local try port rc
	_redis_bin >/dev/null || bail "redis-server is missing: apt-get install redis-server"
	command -v redis-cli >/dev/null 2>&1 || bail "redis-cli is missing: apt-get install redis-tools"
	[ -z "$redis_pid" ] || return 0
	_redis_dir=$APPR_TMP/redis
	mkdir -p "$_redis_dir" || bail "cannot create $_redis_dir"
	at_exit redis_stop
	for ((try = 0; try < 12; try++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		_redis_launch "$port"
		rc=$?
		if [ $rc -eq 0 ]; then
			redis_port=$port
			redis_env=(STORAGE=redis "APPR_REDIS_URL=redis://127.0.0.1:$port/0")
			return 0
		fi
		if [ $rc -eq 2 ]; then
			redis_stop
			diag "$(tail -n 20 "$_redis_dir/redis.log" 2>/dev/null)"
			bail "redis-server on port $port did not answer PING within 10 s"
		fi
		grep -q -i 'in use' "$_redis_dir/redis.log" 2>/dev/null && continue
		diag "$(tail -n 20 "$_redis_dir/redis.log" 2>/dev/null)"
		bail "redis-server failed to start (see above)"
	done
	bail "no free port found for redis-server in 12 tries"
}

redis_stop() {
	local i
	[ -n "$redis_pid" ] || return 0
	kill -TERM "$redis_pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		_running "$redis_pid" || break
		sleep 0.1
	done
	_running "$redis_pid" && kill -KILL "$redis_pid" 2>/dev/null
	wait "$redis_pid" 2>/dev/null
	redis_pid=
}

# redis_restart: stop (SIGTERM: the append-only file is flushed) and start again on the
# same port and directory; bails when it cannot.
redis_restart() {
	local rc i
	[ -n "$redis_port" ] || bail "redis_restart: redis is not started"
	redis_stop
	for ((i = 0; i < 20; i++)); do
		_redis_launch "$redis_port" && return 0
		rc=$?
		[ $rc -eq 2 ] && break
		sleep 0.2 # the port may linger for a moment
	done
	diag "$(tail -n 20 "$_redis_dir/redis.log" 2>/dev/null)"
	bail "redis-server did not restart on port $redis_port"
}

redis_blob_count() {
	local p=${REDIS_KEY_PREFIX:-/appr/}
	redis_cli --raw zrangebylex "${p}idx" '[chunk/' '(chunk0' 2>/dev/null |
		awk -F/ 'NF >= 2 && $2 != "" { print $2 }' | sort -u | wc -l | tr -d ' '
}
