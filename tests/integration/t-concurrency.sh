#!/bin/bash
# t-concurrency.sh - concurrent pushes: distinct releases all land; one release
# pushed many times at once is created exactly once.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 12

SERVE_PROCS=4
appr_start
T=$APPR_TMP
P=/api/v1/packages/ns/conc

# launch N: POST $T/body.I (I = 1..N) to $P at once; statuses in $T/status.I.
launch() {
	local i pids=()
	for ((i = 1; i <= $1; i++)); do
		curl -s --max-time 40 -o "$T/out.$i" -w '%{http_code}' -X POST \
			-H 'Content-Type: application/json' --data-binary "@$T/body.$i" \
			"$BASE$P" >"$T/status.$i" 2>/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
}

# statuses N: the sorted, counted statuses, e.g. "20x200" or "1x200 15x409".
statuses() {
	local i
	for ((i = 1; i <= $1; i++)); do
		cat "$T/status.$i"
		echo
	done | sort | uniq -c | awk '{ printf "%s%sx%s", sep, $1, $2; sep = " " }'
}

# ---- 20 distinct releases at once ----
for i in $(seq 1 20); do
	pushbody "$(mkchart conc "1.0.$i" "$T/c")" "1.0.$i" helm >"$T/body.$i"
done
blobs0=$(blob_files)
launch 20
is "$(statuses 20)" "20x200" "20 concurrent pushes of distinct releases: all 200"
for i in $(seq 1 20); do
	grep -q '"ok"' "$T/out.$i" || diag "push $i: $(cat "$T/status.$i") $(head -c 300 "$T/out.$i")"
done
req GET "$P"
is "$STATUS $(jqb 'length')" "200 20" "all 20 manifests are there"
is "$(jqb '[.[].release] | sort | join(",")')" "$(printf '1.0.%s\n' $(seq 1 20) | sort | paste -sd,)" \
	"the 20 releases are 1.0.1 .. 1.0.20"
req GET "/api/v1/packages?namespace=ns"
is "$STATUS $(jqb '.[0].releases | length') $(jqb '.[0].default')" "200 20 1.0.20" "the list shows 20 releases, default 1.0.20"
is "$(blob_files)" "$((blobs0 + 20))" "20 new blobs"
bad=0
for i in $(seq 1 20); do
	req GET "$P/1.0.$i/helm/pull"
	cmp -s "$BODYFILE" "$T/c/conc-1.0.$i.tgz" || bad=$((bad + 1))
done
is "$bad" 0 "each release serves its own blob"

# ---- one release, 16 pushes at once ----
for i in $(seq 1 16); do
	mkdir -p "$T/s$i"
	printf 'push: %s\n' "$i" >"$T/s$i/which"
	tar -C "$T/s$i" -czf "$T/s$i.tgz" which
	pushbody "$T/s$i.tgz" 5.0.0 helm >"$T/body.$i"
done
blobs0=$(blob_files)
launch 16
is "$(statuses 16)" "1x200 15x409" "16 concurrent pushes of one release: exactly one 200, fifteen 409"
n=0
for i in $(seq 1 16); do
	[ "$(cat "$T/status.$i")" != 409 ] || [ "$(jq -r .code "$T/out.$i" 2>/dev/null)" = package-exists ] || n=$((n + 1))
done
is "$n" 0 "every 409 is package-exists"
winner=
for i in $(seq 1 16); do
	[ "$(cat "$T/status.$i")" = 200 ] && winner=$i
done
req GET "$P/5.0.0/helm/pull"
is "$STATUS" 200 "5.0.0 exists"
cmp -s "$BODYFILE" "$T/s${winner:-0}.tgz"
ok $? "5.0.0 holds the content of the push that got 200 (push ${winner:-none})"
is "$(blob_files)" "$((blobs0 + 1))" "the 15 refused pushes left no blob"

# ---- force pushes of one release at once: all succeed, one content wins ----
for i in $(seq 1 8); do
	pushbody "$T/s$i.tgz" 5.0.0 helm '.force = true' >"$T/body.$i"
done
launch 8
is "$(statuses 8)" "8x200" "8 concurrent forced pushes of one release: all 200"
