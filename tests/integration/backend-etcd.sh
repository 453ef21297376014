# backend-etcd.sh - a throw-away etcd (one member, or an N-member cluster) on loopback
# ports for the integration tests. The contract is in lib.sh ("backend-<name>.sh").
#
#   etcd_start [N]        N members (default 1), data under $APPR_TMP, waits until every
#                         member is healthy; fills etcd_env (STORAGE=etcd
#                         APPR_ETCD_ENDPOINTS=...) and etcd_endpoints; at_exit etcd_stop
#   etcd_stop             stop every member (TERM, then KILL)
#   etcd_blob_count       distinct upload ids under <key_prefix>chunk/
#   etcd_kill_member I    SIGKILL member I (1..N); etcd_member_endpoint I: its client URL
#   etcdctl_ ARGS...      etcdctl against the running members

etcd_env=()
etcd_endpoints=
_etcd_pids=()
_etcd_client_urls=()
_etcd_registered=

# The Go architecture name when etcd 3.4 needs ETCD_UNSUPPORTED_ARCH (everything but
# amd64 and ppc64le), else nothing.
_etcd_arch() {
	local m
	m=$(uname -m)
	case $m in
	x86_64 | ppc64le) ;;
	aarch64 | arm64) echo arm64 ;;
	armv*) echo arm ;;
	i?86) echo 386 ;;
	*) echo "$m" ;;
	esac
}

# A random loopback port nobody listens on right now (a race stays possible: etcd_start
# retries when a member reports the address in use).
_etcd_port() {
	local p
	while :; do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || break
	done
	echo "$p"
}

etcdctl_() {
	ETCDCTL_API=3 etcdctl --endpoints "$etcd_endpoints" --dial-timeout 2s \
		--command-timeout 5s "$@"
}

# _etcd_healthy URL: whether that member answers /health with "health": "true".
_etcd_healthy() {
	local h
	h=$(curl -s --max-time 1 "$1/health" 2>/dev/null) || return 1
	[[ $h == *'"health":"true"'* ]]
}

etcd_start() {
	local n=${1:-1} try i state cluster arch log p u hb
	local -a cports pports
	[ -x /usr/bin/etcd ] || bail "etcd is missing: apt-get install etcd-server"
	command -v etcdctl >/dev/null 2>&1 || bail "etcdctl is missing: apt-get install etcd-client"
	[ ${#_etcd_pids[@]} -eq 0 ] || bail "etcd_start: etcd already started"
	if [ -z "$_etcd_registered" ]; then
		at_exit etcd_stop
		_etcd_registered=1
	fi
	arch=$(_etcd_arch)
	hb=25
	[ "$n" -eq 1 ] || hb=50
	for ((try = 0; try < 5; try++)); do
		cports=() pports=() cluster= _etcd_client_urls=() _etcd_pids=()
		for ((i = 1; i <= n; i++)); do
			cports+=("$(_etcd_port)")
			pports+=("$(_etcd_port)")
			cluster+=${cluster:+,}m$i-$$-$try=http://127.0.0.1:${pports[i - 1]}
		done
		for ((i = 1; i <= n; i++)); do
			rm -rf -- "$APPR_TMP/etcd.$i"
			log=$APPR_TMP/etcd.$i.log
			_etcd_client_urls+=("http://127.0.0.1:${cports[i - 1]}")
			# Loopback: a short heartbeat and election timeout make start-up and
			# the election after a member died fast (not too short for a cluster on a
			# loaded machine: a missed heartbeat must not start an election).
			env ${arch:+ETCD_UNSUPPORTED_ARCH=$arch} /usr/bin/etcd --name "m$i-$$-$try" \
				--data-dir "$APPR_TMP/etcd.$i" \
				--listen-client-urls "${_etcd_client_urls[i - 1]}" \
				--advertise-client-urls "${_etcd_client_urls[i - 1]}" \
				--listen-peer-urls "http://127.0.0.1:${pports[i - 1]}" \
				--initial-advertise-peer-urls "http://127.0.0.1:${pports[i - 1]}" \
				--initial-cluster "$cluster" --initial-cluster-state new \
				--initial-cluster-token "appr-test-$$-$try" \
				--heartbeat-interval "$hb" --election-timeout $((hb * 10)) \
				--snapshot-count 20000 --logger zap --log-level warn \
				>"$log" 2>&1 </dev/null &
			_etcd_pids+=($!)
		done
		etcd_endpoints=$(IFS=,; echo "${_etcd_client_urls[*]}")
		# Healthy (a leader elected, every member answers) within 15 s.
		for ((i = 0; i < 150; i++)); do
			state=1
			for p in "${_etcd_pids[@]}"; do
				_running "$p" || { state=dead; break; }
			done
			[ "$state" = dead ] && break
			for u in "${_etcd_client_urls[@]}"; do
				_etcd_healthy "$u" || { state=; break; }
			done
			# ours, not another test's etcd that had the port when ours failed to
			# bind it (and has not exited yet): its members have our names
			if [ -n "$state" ] && ! ETCDCTL_API=3 etcdctl --endpoints "$etcd_endpoints" \
				--dial-timeout 2s --command-timeout 5s member list 2>/dev/null |
				grep -q ", m1-$$-$try, "; then
				state=
			fi
			[ -n "$state" ] && break
			sleep 0.05
		done
		if [ "$state" = 1 ]; then
			etcd_env=(STORAGE=etcd "APPR_ETCD_ENDPOINTS=$etcd_endpoints")
			return 0
		fi
		etcd_stop
		if [ "$state" = dead ] && grep -q -i 'address already in use' "$APPR_TMP"/etcd.*.log; then
			continue # a port was taken meanwhile: other ports
		fi
		for ((i = 1; i <= n; i++)); do
			diag "etcd member m$i log:"
			diag "$(tail -n 15 "$APPR_TMP/etcd.$i.log")"
		done
		bail "etcd ($n member(s) on $etcd_endpoints) did not become healthy within 15 s"
	done
	bail "etcd: no free ports found in 5 tries"
}

etcd_stop() {
	local p i left
	[ ${#_etcd_pids[@]} -gt 0 ] || return 0
	kill -TERM "${_etcd_pids[@]}" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		left=0
		for p in "${_etcd_pids[@]}"; do
			_running "$p" && left=1
		done
		[ $left = 0 ] && break
		sleep 0.1
	done
	kill -KILL "${_etcd_pids[@]}" 2>/dev/null
	wait "${_etcd_pids[@]}" 2>/dev/null
	_etcd_pids=()
	return 0
}

# etcd_kill_member I: SIGKILL member I (1-based); it stays dead.
etcd_kill_member() {
	local p=${_etcd_pids[$1 - 1]:-}
	[ -n "$p" ] || return 1
	kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

# etcd_member_endpoint I: the client URL of member I.
etcd_member_endpoint() {
	echo "${_etcd_client_urls[$1 - 1]}"
}

# The key prefix the registry uses: APPR_KEY_PREFIX among appr_start's variables, or
# the default.
_etcd_key_prefix() {
	local a p=/appr/
	for a in "${_serve_env[@]}"; do
		case $a in APPR_KEY_PREFIX=*) p=${a#APPR_KEY_PREFIX=} ;; esac
	done
	echo "$p"
}

etcd_blob_count() {
	local prefix keys
	prefix=$(_etcd_key_prefix)
	keys=$(etcdctl_ get --prefix --keys-only "${prefix}chunk/") || {
		echo "etcd_blob_count: etcdctl get failed" >&2
		echo -1
		return 1
	}
	printf '%s\n' "$keys" | awk -v p="${prefix}chunk/" '
		index($0, p) == 1 { id = substr($0, length(p) + 1); sub(/\/.*/, "", id); if (id != "") seen[id] = 1 }
		END { n = 0; for (k in seen) n++; print n }'
}
