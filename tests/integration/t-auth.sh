#!/bin/bash
# t-auth.sh - auth = tokens through the real web server: 401 with a challenge and
# nothing written, 403 across namespaces, private packages invisible (404, absent from
# list and search) to whoever may not read them, revoked / expired / wrong credentials
# refused, tokens that cannot widen themselves, grants over HTTP, the appr client's
# login flow, anonymous_read = false. Users and tokens are made with appr-admin on the
# same store.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 122

ADMIN=$APPR_BUILDDIR/tools/appr-admin
[ -x "$ADMIN" ] || bail "$ADMIN not built: make"
T=$APPR_TMP

admin() { appr_admin "$@"; }

# apush AUTH NS/NAME FILE RELEASE [JQ-FILTER...]: push as helm with Authorization AUTH
# ("" = none).
apush() {
	local auth=$1 pkg=$2 file=$3 release=$4 h=()
	shift 4
	pushbody "$file" "$release" helm "$@" >"$APPR_TMP/push.json"
	[ -z "$auth" ] || h=(-H "Authorization: $auth")
	req POST "/api/v1/packages/$pkg" -H 'Content-Type: application/json' "${h[@]}" \
		--data-binary "@$APPR_TMP/push.json"
}

# basic USER:SECRET -> an Authorization header value.
basic() {
	printf 'Basic %s' "$(printf '%s' "$1" | base64 -w0)"
}

appr_start APPR_AUTH=tokens

# alice: admin of "team"; bob: write on "bobns"; carol: read on "team";
# root: admin everywhere.
for u in alice bob carol root; do
	printf '%s-pw\n' "$u" | admin user add "$u" --password-stdin || bail "appr-admin user add $u"
done
admin grant alice team admin && admin grant bob bobns write && admin grant carol team read &&
	admin grant root '*' admin || bail "appr-admin grant"
A_ALICE=$(basic alice:alice-pw)
A_BOB=$(basic bob:bob-pw)
A_CAROL=$(basic carol:carol-pw)

c1=$(mkchart app 1.0.0 "$T/c1")
c2=$(mkchart other 2.0.0 "$T/c2")
d1=$(digest_of "$c1")

# ---- no credentials ----
req GET /version
is "$STATUS" 200 "GET /version needs no credentials"

n0=$(blob_files)
push team/app "$c1" 1.0.0 helm '.visibility = "private"'
is_error 401 unauthorized-access "push without credentials: 401 unauthorized-access"
like "$(header WWW-Authenticate)" 'Basic realm="appr"' "401 challenges Basic"
like "$(header WWW-Authenticate)" 'Bearer realm="appr"' "401 challenges Bearer"
is "$(blob_files)" "$n0" "refused push wrote no blob"
req GET /api/v1/packages/team/app
is_error 404 package-not-found "refused push created no package"

# ---- bad credentials ----
apush "$(basic alice:wrong)" team/app "$c1" 1.0.0
is_error 401 unauthorized-access "Basic with a wrong password: 401"
apush "$(basic nobody:alice-pw)" team/app "$c1" 1.0.0
is_error 401 unauthorized-access "Basic with an unknown user: 401"
apush "Bearer appr_0000000000000000000000000000000000000000000000000000000000000000" team/app "$c1" 1.0.0
is_error 401 unauthorized-access "Bearer with an unknown token: 401"
apush "Digest foo" team/app "$c1" 1.0.0
is_error 401 unauthorized-access "an unknown Authorization scheme: 401"
req GET /api/v1/packages -H "Authorization: $(basic alice:wrong)"
is_error 401 unauthorized-access "a GET with a wrong password: 401, not anonymous"
is "$(blob_files)" "$n0" "no blob written by refused pushes"

# ---- the appr client's flow: login, then the answer verbatim as Authorization ----
req POST /cnr/api/v1/users/login -H 'Content-Type: application/json' \
	-d '{"user": {"username": "alice", "password": "alice-pw"}}'
is "$STATUS" 200 "login answers 200"
TOKEN=$(jqb .token)
like "$TOKEN" '^Bearer appr_[0-9a-f]{64}$' "login answers {\"token\": \"Bearer appr_...\"}"
apush "$TOKEN" team/app "$c1" 1.0.0 '.visibility = "private"'
is "$STATUS $(jqb .status)" "200 ok" "push with the login token (private package team/app)"
req POST /api/v1/users/login -d '{"user": {"username": "alice", "password": "nope"}}'
is_error 401 unauthorized-access "login with a wrong password: 401"
req POST /api/v1/users/login -d '{"user": {"username": "ghost", "password": "nope"}}'
is_error 401 unauthorized-access "login of an unknown user: 401"
req POST /api/v1/users/login -d '{"user": "alice"}'
is_error 400 invalid-usage "login with a malformed body: 400"
apush "$A_ALICE" team/pub "$c2" 2.0.0
is "$STATUS" 200 "push with Basic user:password (public package team/pub)"

# ---- write to another namespace ----
n1=$(blob_files)
apush "$A_BOB" team/evil "$c2" 2.0.0
is_error 403 forbidden "bob pushes to team: 403 forbidden"
is "$(blob_files)" "$n1" "forbidden push wrote no blob"
apush "$A_CAROL" team/app "$c1" 1.0.0
is_error 403 forbidden "carol (read on team) pushes: 403"
req DELETE /api/v1/packages/team/pub/2.0.0/helm -H "Authorization: $A_BOB"
is_error 403 forbidden "bob deletes in team: 403"
req POST /api/v1/packages/team/pub/channels/stable/2.0.0 -H "Authorization: $A_BOB"
is_error 403 forbidden "bob adds a channel in team: 403"
req DELETE /api/v1/packages/team/pub/2.0.0/helm
is_error 401 unauthorized-access "anonymous delete: 401"
apush "$A_BOB" bobns/tool "$c2" 2.0.0
is "$STATUS" 200 "bob pushes to bobns"
req POST /api/v1/packages/team/app/channels/stable/1.0.0 -H "Authorization: $A_ALICE"
is "$STATUS" 200 "alice adds a channel to team/app"

# ---- private package: invisible to others, visible to readers ----
P=/api/v1/packages/team/app
# who LABEL AUTH-ARGS...: every read route of team/app for one caller.
private_hidden() {
	local label=$1
	shift
	req GET "$P" "$@"
	is_error 404 package-not-found "$label: show team/app is 404"
	req GET "$P/1.0.0" "$@"
	is_error 404 package-not-found "$label: release of team/app is 404"
	req GET "$P/1.0.0/helm" "$@"
	is_error 404 package-not-found "$label: manifest of team/app is 404"
	req GET "$P/1.0.0/helm/pull" "$@"
	is_error 404 package-not-found "$label: pull of team/app is 404"
	req GET "$P/blobs/sha256/$d1" "$@"
	is_error 404 package-not-found "$label: blob of team/app is 404"
	req GET "$P/channels" "$@"
	is_error 404 package-not-found "$label: channels of team/app is 404"
	req GET "$P/channels/stable" "$@"
	is_error 404 package-not-found "$label: channel of team/app is 404"
	req GET "/api/v1/packages" "$@"
	is "$STATUS $(jqb '[.[].name] | sort | join(",")')" "200 bobns/tool,team/pub" \
		"$label: list shows the public packages only"
	req GET "/api/v1/packages?namespace=team" "$@"
	is "$(jqb '[.[].name] | join(",")')" "team/pub" "$label: list of namespace team hides team/app"
	req GET "/api/v1/packages/search?q=app" "$@"
	is "$STATUS $(jqb 'join(",")')" "200 " "$label: search does not find team/app"
}
private_hidden anonymous
private_hidden bob -H "Authorization: $A_BOB"
# The 404 of a private package is the 404 of an absent one, byte for byte (but the name).
for sub in "" /1.0.0 /default /1.0.0/helm /1.0.0/-/pull /1.0.0/helm/pull/json \
	"/blobs/sha256/$d1" /channels /channels/stable; do
	req GET "/api/v1/packages/team/nothere$sub" -H "Authorization: $A_BOB"
	absent="$STATUS $(sed 's/nothere/app/g' "$BODYFILE")"
	req GET "$P$sub" -H "Authorization: $A_BOB"
	is "$STATUS $BODY" "$absent" "private team/app$sub answers like an absent package"
done

for who in carol alice; do
	[ "$who" = carol ] && auth=$A_CAROL || auth=$A_ALICE
	req GET "$P" -H "Authorization: $auth"
	is "$STATUS $(jqb '.[0].release')" "200 1.0.0" "$who sees team/app"
	req GET "$P/1.0.0/helm/pull" -H "Authorization: $auth"
	cmp -s "$BODYFILE" "$c1"
	ok $? "$who pulls team/app"
	req GET "$P/blobs/sha256/$d1" -H "Authorization: $auth"
	is "$STATUS" 200 "$who gets the blob of team/app"
	req GET "$P/channels/stable" -H "Authorization: $auth"
	is "$STATUS" 200 "$who sees the channel of team/app"
	req GET /api/v1/packages -H "Authorization: $auth"
	is "$(jqb '[.[].name] | sort | join(",")')" "bobns/tool,team/app,team/pub" "$who lists team/app"
	jis '.[] | select(.name == "team/app") | .visibility' private "the list says team/app is private"
	req GET "/api/v1/packages/search?q=app" -H "Authorization: $auth"
	is "$(jqb 'join(",")')" "team/app" "$who finds team/app"
done
req GET /api/v1/packages -H "Authorization: $(basic root:root-pw)"
is "$(jqb '[.[].name] | sort | join(",")')" "bobns/tool,team/app,team/pub" "a \"*\" grant lists every package"
req GET /api/v1/packages/team/pub
is "$STATUS" 200 "anonymous reads a public package"

# ---- tokens from appr-admin: Bearer, Basic user:token, revoked, expired ----
tok=$(admin token create --user alice --namespace team --scope write 2>"$T/tok.err")
like "$tok" '^appr_[0-9a-f]{64}$' "appr-admin token create prints a token"
tid=$(sed -n 's/^token \([0-9a-f]\{16\}\) .*/\1/p' "$T/tok.err")
apush "Bearer $tok" team/t1 "$c2" 2.0.0
is "$STATUS" 200 "Bearer token (team, write) pushes to team"
apush "$(basic "alice:$tok")" team/t2 "$c2" 2.0.0
is "$STATUS" 200 "Basic alice:token pushes to team"
apush "$(basic "bob:$tok")" team/t3 "$c2" 2.0.0
is_error 401 unauthorized-access "Basic with another user's token: 401"
apush "Bearer $tok" other/t1 "$c2" 2.0.0
is_error 403 forbidden "a team token cannot push to other"
admin grant alice '*' write || bail "grant alice * write"
apush "Bearer $tok" other/t1 "$c2" 2.0.0
is_error 403 forbidden "a team token stays bound to team when alice may write everywhere"
apush "$A_ALICE" other/t1 "$c2" 2.0.0
is "$STATUS" 200 "alice's password (grant *) pushes to other"
admin revoke alice '*' || bail "revoke alice *"
admin token revoke "$tid"
ok $? "appr-admin token revoke $tid"
apush "Bearer $tok" team/t4 "$c2" 2.0.0
is_error 401 unauthorized-access "revoked token: 401"
etok=$(admin token create --user alice --expires-seconds -5 2>/dev/null)
apush "Bearer $etok" team/t5 "$c2" 2.0.0
is_error 401 unauthorized-access "expired token: 401"
like "$(jqb .message)" 'expired' "the message says the token expired"
rtok=$(admin token create --user alice --namespace team --scope read 2>/dev/null)
req GET "$P" -H "Authorization: Bearer $rtok"
is "$STATUS" 200 "a read token of team sees the private team/app"
apush "Bearer $rtok" team/t6 "$c2" 2.0.0
is_error 403 forbidden "a read token cannot push"
btok=$(admin token create --user bob 2>/dev/null)
apush "Bearer $btok" bobns/t7 "$c2" 2.0.0
is "$STATUS" 200 "bob's token (admin scope, bob may write) pushes to bobns"
req DELETE /api/v1/packages/bobns/t7/2.0.0/helm -H "Authorization: Bearer $btok"
is "$STATUS" 200 "... and deletes there"
req PUT /api/v1/namespaces/bobns/grants/carol -H "Authorization: Bearer $btok" -d '{"level": "read"}'
is_error 403 forbidden "admin scope does not raise bob above his write grant"

# ---- a namespace token cannot widen itself ----
atok=$(admin token create --user alice --namespace team --scope admin --expires-days 1 2>/dev/null)
H=(-H "Authorization: Bearer $atok")
req PUT /api/v1/namespaces/other/grants/alice "${H[@]}" -d '{"level": "admin"}'
is_error 403 forbidden "a team token cannot grant on namespace other"
req PUT '/api/v1/namespaces/*/grants/alice' "${H[@]}" -d '{"level": "admin"}'
is_error 403 forbidden "a team token cannot grant on every namespace"
req POST /api/v1/tokens "${H[@]}" -d '{"namespace": "other"}'
is_error 403 forbidden "a team token cannot mint a token for other"
req POST /api/v1/tokens "${H[@]}" -d '{"namespace": "*"}'
is_error 403 forbidden "a team token cannot mint an all-namespace token"
req POST /api/v1/tokens "${H[@]}" -d '{"expires_days": 30}'
is_error 403 forbidden "a 1-day token cannot mint a 30-day token"
req POST /api/v1/tokens "${H[@]}" -d '{"expires_days": 0}'
is_error 403 forbidden "a 1-day token cannot mint a token that never expires"
req POST /api/v1/tokens -H "Authorization: Bearer $rtok" -d '{"scope": "write"}'
is_error 403 forbidden "a read token cannot mint a write token"
req POST /api/v1/tokens "${H[@]}" -d '{"scope": "read"}'
is "$STATUS $(jqb '[.namespace, .scope, .user] | join(" ")')" "200 team read alice" \
	"a team token mints a narrower one (bound to team, read)"
ntok=$(jqb .token)
like "$(jqb .expires_at)" '^[1-9][0-9]*$' "the minted token inherits an expiry"
apush "Bearer $ntok" team/t8 "$c2" 2.0.0
is_error 403 forbidden "the minted read token cannot push"
req POST /api/v1/tokens -d '{}'
is_error 401 unauthorized-access "minting a token needs credentials"
req POST /api/v1/tokens -H "Authorization: $A_BOB" -d '{"scope": "bogus"}'
is_error 400 invalid-usage "an unknown scope: 400"

# ---- grants over HTTP ----
req PUT /api/v1/namespaces/team/grants/bob "${H[@]}" -d '{"level": "write"}'
is "$STATUS $(jqb '[.user, .namespace, .level] | join(" ")')" "200 bob team write" \
	"alice's team admin token grants bob write on team"
apush "$A_BOB" team/bobs "$c2" 2.0.0
is "$STATUS" 200 "bob now pushes to team"
req PUT /api/v1/namespaces/team/grants/carol -H "Authorization: $A_BOB" -d '{"level": "admin"}'
is_error 403 forbidden "bob (write on team) cannot grant"
req PUT /api/v1/namespaces/team/grants/bob -H "Authorization: $A_BOB" -d '{"level": "admin"}'
is_error 403 forbidden "bob cannot raise himself"
req PUT /api/v1/namespaces/team/grants/ghost "${H[@]}" -d '{"level": "read"}'
is_error 404 user-not-found "granting to an unknown user: 404 user-not-found"
req PUT /api/v1/namespaces/team/grants/bob "${H[@]}" -d '{"level": "super"}'
is_error 400 invalid-usage "an unknown level: 400"
req DELETE /api/v1/namespaces/team/grants/bob "${H[@]}"
is "$STATUS" 200 "alice removes bob's grant on team"
apush "$A_BOB" team/bobs2 "$c2" 2.0.0
is_error 403 forbidden "bob can no longer push to team"
req PUT /api/v1/namespaces/newns/grants/bob -H "Authorization: $(basic root:root-pw)" -d '{"level": "write"}'
is "$STATUS" 200 "root (admin on *) grants on any namespace"
req PUT /api/v1/namespaces/team/grants/bob -d '{"level": "write"}'
is_error 401 unauthorized-access "anonymous grant: 401"

# ---- anonymous_read = false ----
appr_stop
appr_start APPR_AUTH=tokens APPR_ANONYMOUS_READ=false
req GET /api/v1/packages
is_error 401 unauthorized-access "anonymous_read=false: anonymous list is 401"
like "$(header WWW-Authenticate)" 'Bearer' "... with a challenge"
req GET /api/v1/packages/team/pub
is_error 401 unauthorized-access "anonymous_read=false: anonymous show of a public package is 401"
req GET /api/v1/packages/team/pub/2.0.0/helm/pull
is_error 401 unauthorized-access "anonymous_read=false: anonymous pull is 401"
req GET "/api/v1/packages/search?q=pub"
is_error 401 unauthorized-access "anonymous_read=false: anonymous search is 401"
req GET /version
is "$STATUS" 200 "anonymous_read=false: /version still open"
req POST /api/v1/users/login -d '{"user": {"username": "carol", "password": "carol-pw"}}'
is "$STATUS" 200 "anonymous_read=false: login still open"
CTOK=$(jqb .token)
req GET /api/v1/packages/team/pub -H "Authorization: $CTOK"
is "$STATUS" 200 "anonymous_read=false: a logged-in user reads"
req GET /api/v1/packages -H "Authorization: $A_BOB"
is "$(jqb '[.[].name] | index("team/app")')" "null" "bob still does not list team/app"

# ---- auth = none: today's open registry ----
appr_stop
appr_start
push open/pkg "$c2" 2.0.0 helm
is "$STATUS" 200 "auth = none: anonymous push"
req GET "$P"
is "$STATUS" 200 "auth = none: private packages are readable"
grep -q 'auth = none' "$APPR_TMP/serve.log"
ok $? "auth = none is said in the log at start"
