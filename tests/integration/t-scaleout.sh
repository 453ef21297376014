#!/bin/bash
# t-scaleout.sh - scale-out on etcd: a 3-member etcd cluster on loopback and two
# registries (two appr-serve instances on two ports, each with its own web server and
# responders) pointed at it. A push through one is visible through the other at once;
# one etcd member (the leader, and the endpoint every responder talks to first) is
# killed during a bounded loop of concurrent pushes through both: every push succeeds,
# or fails with a clean 5xx JSON error and succeeds when retried; at the end every
# acknowledged push is listed and pulls byte-exact through both registries.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 17

LOOP_ROUNDS=12        # rounds of two concurrent pushes (one per registry)
LOOP_SECONDS=60       # and at most this long
KILL_ROUND=4          # the member dies while this round's pushes are in flight
RETRIES=10            # a push that failed with a 5xx is retried up to this often
T=$APPR_TMP

backend etcd
etcd_start 3
_backend_started=1 # appr_start must not start another etcd in the etcd variant
ok 0 "etcd: 3 members healthy on $etcd_endpoints"

# The leader should be member 1, whose endpoint comes first in the list: killing it
# then costs an election and a fail-over of every responder at once.
leader_id() { # the hex member id of the leader, per etcdctl endpoint status
	etcdctl_ endpoint status -w simple 2>/dev/null | awk -F', *' '$5 == "true" { print $2 }'
}
m1=$(etcd_member_endpoint 1)
m1_id=$(ETCDCTL_API=3 etcdctl --endpoints "$m1" endpoint status -w simple 2>/dev/null |
	awk -F', *' '{ print $2 }')
leader=$(leader_id)
if [ -n "$m1_id" ] && [ -n "$leader" ] && [ "$leader" != "$m1_id" ]; then
	etcdctl_ move-leader "$m1_id" >"$T/move-leader.out" 2>&1 ||
		diag "move-leader: $(cat "$T/move-leader.out")"
	leader=$(leader_id)
fi
[ "$leader" = "$m1_id" ] || diag "member 1 ($m1_id) is not the leader ($leader): killing it anyway"

# ---- two registries on the cluster ----
appr_start "${etcd_env[@]}"
BASE_A=$BASE

# Registry B: a second appr-serve on another port, started as appr_start does.
serve_b_pid=
stop_b() {
	local i
	[ -n "$serve_b_pid" ] || return 0
	kill -TERM "$serve_b_pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		_running "$serve_b_pid" || break
		sleep 0.1
	done
	kill -KILL "$serve_b_pid" 2>/dev/null
	wait "$serve_b_pid" 2>/dev/null
	serve_b_pid=
}
at_exit stop_b
start_b() {
	local try port i code log=$T/serve-b.log
	for ((try = 0; try < 12; try++)); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
		printf '=== appr-serve --port %s\n' "$port" >>"$log"
		env APPR_CONFIG="$T/appr.conf" TMPDIR="$T" "${etcd_env[@]}" \
			"$APPR_SERVE" --port "$port" --procs 2 --host 127.0.0.1 --data "$T/data-b" \
			>>"$log" 2>&1 &
		serve_b_pid=$!
		for ((i = 0; i < 100; i++)); do
			_running "$serve_b_pid" || break
			grep -q "registry on http://127.0.0.1:$port " "$log" && break
			sleep 0.1
		done
		if ! _running "$serve_b_pid"; then
			wait "$serve_b_pid" 2>/dev/null
			serve_b_pid=
			tail -n 5 "$log" | grep -q -i 'in use' && continue
			diag "$(tail -n 20 "$log")"
			bail "the second appr-serve failed to start (see above)"
		fi
		BASE_B=http://127.0.0.1:$port
		for ((i = 0; i < 100; i++)); do
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_B/version")
			[ "$code" = 200 ] && return 0
			sleep 0.1
		done
		diag "$(tail -n 20 "$log")"
		bail "registry B on $BASE_B: GET /version answered $code, not 200, within 10 s"
	done
	bail "no free port found for registry B in 12 tries"
}
start_b
[ "$BASE_A" != "$BASE_B" ]
ok $? "two registries on two ports: $BASE_A and $BASE_B"

# on REG CMD...: run a lib.sh request helper against registry REG (A or B).
on() {
	local reg=$1
	shift
	if [ "$reg" = A ]; then BASE=$BASE_A; else BASE=$BASE_B; fi
	"$@"
	BASE=$BASE_A
}

# ---- visible through the other at once ----
f1=$(mkchart web 1.0.0 "$T/charts")
on A push ns/web "$f1" 1.0.0 helm
is "$STATUS" 200 "push ns/web 1.0.0 through A"
on B req GET /api/v1/packages/ns/web/1.0.0/helm
is "$STATUS $(jqb '.content.digest')" "200 $(digest_of "$f1")" \
	"B shows the release pushed through A at once, same digest"
on B req GET /api/v1/packages/ns/web/1.0.0/helm/pull
cmp -s "$BODYFILE" "$f1"
ok $? "B pulls A's blob byte-exact"
f2=$(mkchart web 1.1.0 "$T/charts")
on B push ns/web "$f2" 1.1.0 helm
is "$STATUS" 200 "push ns/web 1.1.0 through B"
on A req GET /api/v1/packages/ns/web
is "$(jqb '[.[].release] | sort | join(",")')" "1.0.0,1.1.0" "A lists both releases at once"
on A req POST /api/v1/packages/ns/web/channels/stable/1.1.0
on B req GET /api/v1/packages/ns/web/channels/stable
is "$STATUS $(jqb '.releases | join(",")')" "200 1.1.0" "a channel set through A is seen through B"

# ---- a bounded push loop; a member dies during it ----
# push_bg REG RELEASE: push $T/loop/RELEASE.tgz through REG in the background; the
# status goes to $T/st.RELEASE, the body to $T/out.RELEASE; bg_pid is curl's pid.
bg_pid=
push_bg() {
	local b
	if [ "$1" = A ]; then b=$BASE_A; else b=$BASE_B; fi
	pushbody "$T/loop/$2.tgz" "$2" helm >"$T/body.$2"
	curl -s --max-time 30 -o "$T/out.$2" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary "@$T/body.$2" \
		"$b/api/v1/packages/ns/loop" >"$T/st.$2" 2>/dev/null &
	bg_pid=$!
}
# clean_5xx RELEASE: whether the failed answer is a 5xx with a JSON error body.
clean_5xx() {
	local st
	st=$(cat "$T/st.$1")
	[[ $st =~ ^5[0-9][0-9]$ ]] &&
		jq -e '(.code | type) == "string" and (.message | type) == "string"' \
			"$T/out.$1" >/dev/null 2>&1
}

mkdir -p "$T/loop"
acked=() unclean=() lost=() retried=0 killed=
start=$SECONDS
for ((r = 1; r <= LOOP_ROUNDS && SECONDS - start < LOOP_SECONDS; r++)); do
	for reg in A B; do
		mkchart "loop$reg" "2.$r.0" "$T/loop" >/dev/null
		mv "$T/loop/loop$reg-2.$r.0.tgz" "$T/loop/2.$r.0-$reg.tgz"
	done
	push_bg A "2.$r.0-A"
	pids=("$bg_pid")
	push_bg B "2.$r.0-B"
	pids+=("$bg_pid")
	if [ "$r" = "$KILL_ROUND" ]; then
		sleep 0.0$((RANDOM % 10))
		etcd_kill_member 1
		killed=$r
	fi
	wait "${pids[@]}"
	for rel in "2.$r.0-A" "2.$r.0-B"; do
		reg=${rel##*-}
		st=$(cat "$T/st.$rel")
		n=0
		while [ "$st" != 200 ] && [ $n -lt $RETRIES ]; do
			if ! clean_5xx "$rel"; then
				unclean+=("$rel:$st:$(head -c 200 "$T/out.$rel")")
				break
			fi
			diag "push $rel through $reg: $st $(jq -c . "$T/out.$rel" 2>/dev/null | head -c 200); retrying"
			n=$((n + 1))
			retried=$((retried + 1))
			sleep 0.3
			push_bg "$reg" "$rel"
			wait "$bg_pid"
			st=$(cat "$T/st.$rel")
			if [ "$st" = 409 ]; then
				# an earlier attempt was applied after all: it must be exactly ours
				on "$reg" req GET "/api/v1/packages/ns/loop/$rel/helm"
				if [ "$(jqb '.content.digest')" = "$(digest_of "$T/loop/$rel.tgz")" ]; then
					diag "push $rel: the failed attempt had been applied (409 on retry, same digest)"
					st=200
				fi
			fi
		done
		if [ "$st" = 200 ]; then
			acked+=("$rel")
		elif [ $n -ge $RETRIES ]; then
			lost+=("$rel:$st")
		fi
	done
done
elapsed=$((SECONDS - start))
diag "push loop: $((r - 1)) rounds in ${elapsed} s, member 1 killed in round ${killed:-none}, $retried retries"
is "$killed" "$KILL_ROUND" "an etcd member was killed during the push loop"
is "${unclean[*]:-}" "" "every failed push answered a 5xx with a JSON error body"
is "${lost[*]:-}" "" "every failed push succeeded when retried (at most $RETRIES times)"
is "${#acked[@]}" "$((2 * (r - 1)))" "every push of the loop was acknowledged"

# ---- nothing acknowledged is lost ----
want=$(printf '%s\n' "${acked[@]}" | sort | paste -sd, -)
for reg in A B; do
	on "$reg" req GET /api/v1/packages/ns/loop
	is "$(jqb '[.[].release] | sort | join(",")')" "$want" \
		"registry $reg lists every acknowledged release after the kill"
done
bad=()
i=0
for rel in "${acked[@]}"; do
	if [ $((i % 2)) = 0 ]; then reg=A; else reg=B; fi
	i=$((i + 1))
	on "$reg" req GET "/api/v1/packages/ns/loop/$rel/helm/pull"
	[ "$STATUS" = 200 ] && cmp -s "$BODYFILE" "$T/loop/$rel.tgz" || bad+=("$rel via $reg: $STATUS")
done
is "${bad[*]:-}" "" "every acknowledged release pulls byte-exact (through A and B in turn)"

n_blobs=$(etcd_blob_count)
said=$(grep -h '^appr: ' "$T/serve.log" "$T/serve-b.log" 2>/dev/null)
[ -z "$said" ] || diag "what the responders said:" "$(printf '%s\n' "$said" | head -n 12)"
# A push that failed may leave its upload's chunks behind when etcd could not be told
# to delete them either; every other blob is one per release.
want_blobs=$((${#acked[@]} + 2))
[ "$n_blobs" -ge "$want_blobs" ] && [ "$n_blobs" -le $((want_blobs + retried)) ]
ok $? "etcd holds one blob per release ($want_blobs) and at most one leftover upload per failed push ($retried): $n_blobs"

on B req GET /api/v1/packages/ns/web/1.0.0/helm/pull
cmp -s "$BODYFILE" "$f1"
ok $? "the first release still pulls byte-exact through B on two members"
