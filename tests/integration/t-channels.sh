#!/bin/bash
# t-channels.sh - channels: create by adding, promotion, removal, deletion, and
# what deleting a release does to them.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 32

appr_start
T=$APPR_TMP
P=/api/v1/packages/ns/ch
C=$P/channels

for r in 1.0.0 1.1.0 2.0.0; do
	push ns/ch "$(mkchart ch "$r" "$T/c")" "$r" helm
	[ "$STATUS" = 200 ] || diag "push ns/ch $r: $STATUS $BODY"
done

# channel as "name current releases(sorted)"
chan() {
	jqb '"\(.name) \(.current) \(.releases | sort | join(","))"'
}

req GET "$C"
is "$STATUS $(jqb tojson)" "200 []" "a package without channels: []"
req GET "$C/stable"
is_error 404 channel-not-found "an absent channel: 404 channel-not-found"

# ---- create by adding; promotion ----
req POST "$C/stable/1.0.0"
is "$STATUS $(chan)" "200 stable 1.0.0 1.0.0" "adding 1.0.0 creates stable, current 1.0.0"
jis 'keys_unsorted | sort | join(",")' "current,name,releases" "channel keys: name current releases"
req GET "$C/stable"
is "$STATUS $(chan)" "200 stable 1.0.0 1.0.0" "GET the channel"
req GET "$C"
is "$STATUS $(jqb 'length') $(jqb '.[0] | "\(.name) \(.current)"')" "200 1 stable 1.0.0" "the channel list holds it"

req POST "$C/stable/2.0.0"
is "$STATUS $(chan)" "200 stable 2.0.0 1.0.0,2.0.0" "adding 2.0.0 promotes it"
req POST "$C/stable/1.1.0"
is "$STATUS $(chan)" "200 stable 1.1.0 1.0.0,1.1.0,2.0.0" "adding 1.1.0 promotes it (not the highest)"
req GET "$C/stable"
is "$(chan)" "stable 1.1.0 1.0.0,1.1.0,2.0.0" "current moved with the promotion"

req GET "$P/1.1.0/helm"
is "$STATUS $(jqb '.channels | tojson')" '200 ["stable"]' "manifest of the current release lists the channel"
req GET "$P/2.0.0/helm"
is "$STATUS $(jqb '.channels | tojson')" '200 []' "manifest of a non-current member does not"

req POST "$C/stable/1.0.0"
is "$STATUS $(chan)" "200 stable 1.0.0 1.0.0,1.1.0,2.0.0" "adding a member again promotes it"
req POST "$C/beta/2.0.0"
req GET "$C"
is "$STATUS $(jqb '[.[] | "\(.name)=\(.current)"] | sort | join(",")')" "200 beta=2.0.0,stable=1.0.0" \
	"two channels listed"
req GET "$P/2.0.0/helm"
jis '.channels | sort | join(",")' "beta" "manifest channels: beta only for 2.0.0"
req POST "$C/beta/1.0.0"
req GET "$P/1.0.0/helm"
jis '.channels | sort | join(",")' "beta,stable" "manifest channels: both for 1.0.0"

# ---- removal ----
req DELETE "$C/stable/1.0.0"
is "$STATUS $(jqb -c '[.status, .package, .name, .release]')" '200 ["deleted","ns/ch","stable","1.0.0"]' \
	"DELETE channel release answers {status: deleted, package, name, release}"
req GET "$C/stable"
is "$STATUS $(chan)" "200 stable 2.0.0 1.1.0,2.0.0" "removing current: highest remaining (2.0.0) becomes current"
req DELETE "$C/stable/1.1.0"
req GET "$C/stable"
is "$STATUS $(chan)" "200 stable 2.0.0 2.0.0" "removing a non-current member keeps current"
req DELETE "$C/stable/1.1.0"
is "$STATUS" 404 "removing a release that is not in the channel: 404"
req DELETE "$C/stable/2.0.0"
is "$STATUS" 200 "removing the last release"
req GET "$C/stable"
is_error 404 channel-not-found "the channel went with its last release"

# ---- delete a channel ----
req DELETE "$C/beta"
is "$STATUS $(jqb -c '[.channel, .package, .action]')" '200 ["beta","ns/ch","delete"]' \
	"DELETE channel answers {channel, package, action: delete}"
req GET "$C/beta"
is_error 404 channel-not-found "the deleted channel is gone"
req GET "$C"
is "$STATUS $(jqb tojson)" "200 []" "no channels left"
req DELETE "$C/beta"
is_error 404 channel-not-found "DELETE of an absent channel: 404 channel-not-found"
req GET "$P/1.0.0/helm"
jis '.channels | tojson' '[]' "manifest channels empty again"

# ---- absent release or package ----
req POST "$C/stable/9.9.9"
is_error 404 package-not-found "adding an absent release: 404 package-not-found"
req GET "$C/stable"
is "$STATUS" 404 "the failed add created no channel"
req GET /api/v1/packages/ns/nothing/channels
is_error 404 package-not-found "channels of an absent package: 404 package-not-found"

# ---- deleting a release removes it from its channels ----
req POST "$C/rc/1.0.0"
req POST "$C/rc/2.0.0"
req POST "$C/only/2.0.0"
req DELETE "$P/2.0.0/helm"
is "$STATUS" 200 "delete release 2.0.0 (current of rc, only member of only)"
req GET "$C/rc"
is "$STATUS $(chan)" "200 rc 1.0.0 1.0.0" "the deleted release left rc; current is the highest remaining"
req GET "$C/only"
is_error 404 channel-not-found "a channel whose only release was deleted is gone"
