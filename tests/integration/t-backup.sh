#!/bin/bash
# t-backup.sh - appr-admin backup and restore. SQLite (filesystem): backups taken
# while pushes and deletes go on succeed, a restore makes a data directory (never over
# a non-empty one) that fsck finds clean, a registry serves from it, and every release
# the backup holds pulls byte-exact. etcd and redis: backup refuses, saying that export
# is the backup there.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

T=$APPR_TMP
admin() {
	appr_admin "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out") ERR=$(cat "$T/err")
}

if [ "$APPR_TEST_STORAGE" != filesystem ]; then
	plan 2
	appr_start
	admin backup "$T/b.tar"
	like "$RC $ERR" "^1 .*backup is for the filesystem \(SQLite\) store; on $APPR_TEST_STORAGE, appr-admin export is the backup" \
		"backup on $APPR_TEST_STORAGE: exit 1, export named as the backup"
	[ ! -e "$T/b.tar" ]
	ok $? "...and no file written"
	exit 0
fi

plan 11
appr_start
for i in $(seq 1 12); do
	mkchart "p$i" 1.0.0 "$T/c" >/dev/null
	push "ns/p$i" "$T/c/p$i-1.0.0.tgz" 1.0.0 helm
	[ "$STATUS" = 200 ] || bail "push ns/p$i: $STATUS"
done
req POST /api/v1/packages/ns/p1/channels/stable/1.0.0
for i in $(seq 1 30); do mkchart "q$i" 1.0.0 "$T/c" >/dev/null; done

# pushes and deletes while backups are taken (bounded: 30 of each)
(
	for i in $(seq 1 30); do
		pushbody "$T/c/q$i-1.0.0.tgz" 1.0.0 helm >"$T/q.json"
		curl -s -o /dev/null --max-time 10 -X POST -H 'Content-Type: application/json' \
			--data-binary "@$T/q.json" "$BASE/api/v1/packages/ns/q$i"
		[ "$i" -gt 3 ] && curl -s -o /dev/null --max-time 10 -X DELETE \
			"$BASE/api/v1/packages/ns/q$((i - 3))/1.0.0/helm"
	done
) &
load=$!
rcs=
for k in 1 2 3; do
	admin backup "$T/b$k.tar"
	rcs+="$RC "
done
wait "$load"
is "$rcs" "0 0 0 " "three backups while pushes and deletes go on: each exits 0"
like "$ERR" '^backup: [0-9]+ manifests, [0-9]+ blobs \([0-9]+ bytes\) to .*; snapshot [0-9.]+ s' "backup says what it wrote"
is "$(tar -tf "$T/b3.tar" | head -2 | tr '\n' ' ')" "appr-backup.json appr.db " "a tar: the marker, the database, then the blobs"

admin restore "$T/b3.tar" "$T/r"
is "$RC" 0 "restore into a new directory exits 0"
like "$ERR" '^restore: [0-9]+ manifests, [0-9]+ blobs .* checked' "restore checks what it made"
admin restore "$T/b3.tar" "$T/r"
like "$RC $ERR" '^1 .*is not empty' "restore over a non-empty directory: refused"
env APPR_CONFIG="$T/appr.conf" APPR_DATA_DIR="$T/r" "$APPR_BUILDDIR/tools/appr-admin" fsck >"$T/out" 2>&1
ok $? "fsck finds the restored store clean" || diag "$(cat "$T/out")"
n_backup=$(sqlite3 "$T/r/appr.db" 'SELECT count(*) FROM manifests')

# a registry on the restored directory serves what the backup holds, byte for byte
appr_stop
appr_start APPR_DATA_DIR="$T/r"
req GET '/api/v1/packages?limit=1000'
names=$(jqb '.[].name' | sort)
is "$(wc -l <<<"$names")" "$n_backup" "the restored registry lists every package of the backup"
bad=0
for pkg in $names; do
	req GET "/api/v1/packages/$pkg/1.0.0/helm/pull"
	cmp -s "$BODYFILE" "$T/c/${pkg#ns/}-1.0.0.tgz" || bad=$((bad + 1))
done
is "$bad" 0 "every release pulls byte-exact"
for i in $(seq 1 12); do grep -qx "ns/p$i" <<<"$names" || bad=$((bad + 1)); done
is "$bad" 0 "every release pushed before the backup is in it"
req GET /api/v1/packages/ns/p1/channels/stable
jis .current 1.0.0 "channels are restored"
