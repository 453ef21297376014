#!/bin/bash
# t-admin.sh - appr-admin: users, grants and tokens on the registry's store, their
# errors and exit statuses, and that what it writes is what the registry then checks.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 56

ADMIN=$APPR_BUILDDIR/tools/appr-admin
[ -x "$ADMIN" ] || bail "$ADMIN not built: make"
T=$APPR_TMP

# admin ARGS...: appr-admin on the registry's store; stdout to OUT, stderr to ERR,
# exit status to RC.
admin() {
	appr_admin "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}
# fails MSG ERE: the last admin exited 1 with a message matching ERE on stderr.
fails() {
	is "$RC $(printf '%s' "$ERR" | grep -c -E "$2")" "1 1" "$1"
}

appr_start APPR_AUTH=tokens

# ---- usage ----
admin --help
is "$RC" 0 "--help exits 0"
like "$OUT" 'user add NAME --password-stdin' "--help lists user add"
like "$OUT" 'token create --user NAME' "--help lists token create"
admin
is "$RC" 1 "no command exits 1"
admin frobnicate
fails "an unknown command exits 1 with a message" 'unknown command'
admin user frob x
fails "an unknown user command exits 1" 'unknown command'

# ---- users ----
admin user add alice --password-stdin <<<'secret-1'
is "$RC:$ERR" "0:" "user add alice"
admin user add alice --password-stdin <<<'x'
fails "user add of an existing user exits 1" 'exist'
admin user add 'Bad/Name' --password-stdin <<<'x'
fails "user add of an invalid name exits 1" 'invalid user name'
admin user add dave <<<'x'
fails "user add without --password-stdin exits 1" 'usage'
admin user add dave --password-stdin <<<''
fails "user add with an empty password exits 1" 'empty password'
admin user add dave --password-stdin </dev/null
fails "user add with no input exits 1" 'no password'
admin user add bob --password-stdin <<<'pw-b'
is "$RC" 0 "user add bob"
admin user list
is "$RC" 0 "user list exits 0"
is "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ')" "alice bob " "user list: alice and bob, by name"
is "$(printf '%s\n' "$OUT" | awk -F'\t' '$1 == "alice" { print $3 }')" "-" "alice has no grants yet"

# ---- grants ----
admin grant alice team write
is "$RC" 0 "grant alice team write"
admin grant alice '*' read
is "$RC" 0 "grant alice * read"
admin user list
is "$(printf '%s\n' "$OUT" | awk -F'\t' '$1 == "alice" { print $3 }')" "*:read,team:write" \
	"user list shows alice's grants"
admin grant alice team bogus
fails "grant with an unknown level exits 1" 'invalid level'
admin grant ghost team read
fails "grant to an unknown user exits 1" 'not found|ghost'
admin grant alice 'Bad NS' read
fails "grant on an invalid namespace exits 1" 'invalid namespace'
admin grant alice team
fails "grant without a level exits 1" 'usage'
admin revoke alice '*'
is "$RC" 0 "revoke alice *"
admin user list
is "$(printf '%s\n' "$OUT" | awk -F'\t' '$1 == "alice" { print $3 }')" "team:write" "revoke removed the grant"
admin revoke alice
fails "revoke without a namespace exits 1" 'usage'

# ---- the registry checks what appr-admin wrote ----
c=$(mkchart app 1.0.0 "$T/c")
pushbody "$c" 1.0.0 helm >"$T/push.json"
req POST /api/v1/packages/team/app -H "Authorization: Basic $(printf 'alice:secret-1' | base64 -w0)" \
	--data-binary "@$T/push.json"
is "$STATUS" 200 "alice's password and grant let her push to team"
admin user passwd alice --password-stdin <<<'secret-2'
is "$RC" 0 "user passwd alice"
req POST /api/v1/users/login -d '{"user": {"username": "alice", "password": "secret-1"}}'
is "$STATUS" 401 "the old password no longer logs in"
req POST /api/v1/users/login -d '{"user": {"username": "alice", "password": "secret-2"}}'
is "$STATUS" 200 "the new password logs in"
admin user passwd ghost --password-stdin <<<'x'
fails "user passwd of an unknown user exits 1" 'not found|ghost'

# ---- tokens ----
admin token create --user alice --namespace team --scope read --expires-days 7
is "$RC" 0 "token create exits 0"
like "$OUT" '^appr_[0-9a-f]{64}$' "token create prints the token alone on stdout"
tok=$OUT
like "$ERR" '^token [0-9a-f]{16} for user alice' "token create says the id on stderr"
tid=$(printf '%s' "$ERR" | awk '{ print $2 }')
req GET /api/v1/packages/team/app -H "Authorization: Bearer $tok"
is "$STATUS" 200 "the token works"
admin token create --user alice
all=$OUT
admin token list
is "$RC" 0 "token list exits 0"
is "$(printf '%s\n' "$OUT" | awk -F'\t' -v id="$tid" '$1 == id { print $2, $3, $4 }')" "alice team read" \
	"token list: id, user, namespace, scope"
like "$(printf '%s\n' "$OUT" | awk -F'\t' -v id="$tid" '$1 == id { print $5 }')" '^20[0-9-]+T' \
	"token list: the expiry"
is "$(printf '%s\n' "$OUT" | grep -c "$tok")" 0 "token list never shows a token itself"
is "$(printf "%s\n" "$OUT" | wc -l)" 3 "token list: three tokens (two made here, one by login)"
admin token create
fails "token create without --user exits 1" 'usage'
admin token create --user ghost
fails "token create for an unknown user exits 1" 'not found|ghost'
admin token create --user alice --scope root
fails "token create with an unknown scope exits 1" 'invalid scope'
admin token create --user alice --expires-days -1
fails "token create with a negative expiry exits 1" 'expires-days'
admin token create --user alice --expires-days soon
fails "token create with a non-number expiry exits 1" 'expires-days'
admin token create --user alice --bogus 1
fails "token create with an unknown option exits 1" 'unknown option'
admin token revoke "$tid"
is "$RC" 0 "token revoke exits 0"
req GET /api/v1/packages/team/app -H "Authorization: Bearer $tok"
is "$STATUS" 401 "the revoked token is refused"
admin token revoke "$tid"
fails "revoking it again exits 1" 'not found'
admin token revoke xyz
fails "token revoke of a malformed id exits 1" 'invalid token id'

# ---- deleting a user takes its grants and tokens ----
admin user del alice
is "$RC" 0 "user del alice"
admin user list
is "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ')" "bob " "alice is gone"
admin token list
is "$OUT" "" "alice's tokens are gone"
req GET /api/v1/packages -H "Authorization: Bearer $all"
is "$STATUS" 401 "alice's token no longer works"
admin user del alice
fails "user del of an unknown user exits 1" 'not found|alice'

# ---- configuration errors ----
APPR_MAX_BODY_SIZE=lots admin user list
fails "a bad configuration value exits 1 naming the key" 'MAX_BODY_SIZE|max_body_size'
