#!/bin/bash
# t-releases.sh - release selection (default, semver queries, pre-releases), the
# package list with its filters and shape, search.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 46

appr_start
T=$APPR_TMP
P=/api/v1/packages/ns/rel

# url-encode one path segment or query value
enc() {
	jq -rn --arg v "$1" '$v | @uri'
}

releases=(1.0.0 1.2.0 1.2.5 1.5.0 1.9.9 2.0.0 2.1.0-beta)
for r in "${releases[@]}"; do
	push ns/rel "$(mkchart rel "$r" "$T/c")" "$r" helm
	[ "$STATUS" = 200 ] || diag "push ns/rel $r: $STATUS $BODY"
done
req GET "$P"
is "$STATUS $(jqb 'length')" "200 ${#releases[@]}" "seven releases pushed"

# ---- default ----
req GET "$P/default/helm"
is "$STATUS $(jqb .release)" "200 2.1.0-beta" "default = highest release, pre-releases count (2.1.0-beta > 2.0.0)"
req GET "$P/default"
is "$STATUS $(jqb '.[0].release')" "200 2.1.0-beta" "default in the release view"
req GET "$P/default/helm/pull"
cmp -s "$BODYFILE" "$T/c/rel-2.1.0-beta.tgz"
ok $? "pull of default gives the 2.1.0-beta blob"
req GET "$P/1.2.0/helm"
is "$STATUS $(jqb .release)" "200 1.2.0" "an exact version"

# ---- queries: "query" "expected release" ----
queries=(
	'>=1.5,<2.0|1.9.9'
	'>=1.5.0,<2.0.0|1.9.9'
	'^1.0.0|1.9.9'
	'~1.2.0|1.2.5'
	'!=2.0.0|1.9.9'
	'==1.2.0|1.2.0'
	'<1.2.0|1.0.0'
	'<=1.2.5|1.2.5'
	'>1.2.0,<1.5.0|1.2.5'
	'>=2.0.0|2.0.0'
	'>=2.1.0-alpha|2.1.0-beta'
	'>=1.0.0,!=1.9.9,<2.0.0|1.5.0'
)
for q in "${queries[@]}"; do
	query=${q%|*}
	want=${q#*|}
	req GET "$P/$(enc "$query")/helm"
	is "$STATUS $(jqb .release)" "200 $want" "query $query selects $want"
done
req GET "$P/$(enc '>=1.5,<2.0')"
is "$STATUS $(jqb '[.[].release] | join(",")')" "200 1.9.9" "a query in the release view"
req GET "$P/$(enc '^1.0.0')/helm/pull"
cmp -s "$BODYFILE" "$T/c/rel-1.9.9.tgz"
ok $? "pull through a query"

# ---- no match, invalid ----
req GET "$P/$(enc '>=3.0.0')/helm"
is_error 404 package-release-not-found "a query matching nothing: 404 package-release-not-found"
req GET "$P/$(enc '>2.0.0')/helm"
is_error 404 package-release-not-found "pre-releases only match a query naming one (>2.0.0)"
req GET "$P/9.9.9/helm"
is "$STATUS" 404 "an absent exact release: 404"
for bad in '>=abc' 'not-a-version' '>=1.0.0,,<2' '1.2.3.4'; do
	req GET "$P/$(enc "$bad")/helm"
	is_error 422 invalid-release "an invalid release query ($bad): 422 invalid-release"
done

# ---- list ----
push other/thing "$(mkchart thing 0.1.0 "$T/c")" 0.1.0 kpm
push zz/rel2 "$(mkchart rel2 1.0.0 "$T/c")" 1.0.0 helm
push zz/rel2 "$(mkchart rel2 1.0.0 "$T/c")" 1.0.0 jsonnet

req GET /api/v1/packages
is "$STATUS $(jqb 'type')" "200 array" "list answers a JSON array"
is "$(jqb '[.[].name] | sort | join(",")')" "ns/rel,other/thing,zz/rel2" "list holds the three packages"
jq '.[] | select(.name == "ns/rel")' "$BODYFILE" >"$T/rel.json" 2>/dev/null
is "$(jq -r 'keys_unsorted | sort | join(",")' "$T/rel.json")" \
	"created_at,default,manifests,name,releases,visibility" \
	"list item keys: name default releases manifests visibility created_at"
is "$(jq -r .default "$T/rel.json")" 2.1.0-beta "list item default"
is "$(jq -r '.releases | join(",")' "$T/rel.json")" "2.1.0-beta,2.0.0,1.9.9,1.5.0,1.2.5,1.2.0,1.0.0" \
	"list item releases, highest first by semver"
is "$(jq -r '.manifests | join(",")' "$T/rel.json")" helm "list item manifests: the media types of the default"
is "$(jq -r .visibility "$T/rel.json")" public "list item visibility public"
like "$(jq -r .created_at "$T/rel.json")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}$' \
	"list item created_at format"
is "$(jqb '.[] | select(.name == "zz/rel2") | .manifests | sort | join(",")')" "helm,jsonnet" \
	"manifests lists every media type of the default release"

req GET "/api/v1/packages?namespace=zz"
is "$STATUS $(jqb '[.[].name] | join(",")')" "200 zz/rel2" "list ?namespace=zz"
req GET "/api/v1/packages?namespace=nothing"
is "$STATUS $(jqb 'tojson')" "200 []" "list of an empty namespace: []"
req GET "/api/v1/packages?query=rel"
is "$STATUS $(jqb '[.[].name] | sort | join(",")')" "200 ns/rel,zz/rel2" "list ?query=rel"
req GET "/api/v1/packages?media_type=kpm"
is "$STATUS $(jqb '[.[].name] | join(",")')" "200 other/thing" "list ?media_type=kpm"
req GET "/api/v1/packages?media_type=jsonnet&namespace=zz&query=rel2"
is "$STATUS $(jqb '[.[].name] | join(",")')" "200 zz/rel2" "list with the three filters together"
req GET "/api/v1/packages?media_type=jsonnet&namespace=ns"
is "$STATUS $(jqb 'tojson')" "200 []" "list filters combine (jsonnet in ns: none)"

# ---- search ----
req GET "/api/v1/packages/search?q=REL"
is "$STATUS $(jqb 'sort | join(",")')" "200 ns/rel,zz/rel2" "search is a case-insensitive substring match"
req GET "/api/v1/packages/search?q=$(enc 's/r')"
is "$STATUS $(jqb 'sort | join(",")')" "200 ns/rel" "search matches across the slash"
req GET "/api/v1/packages/search?q=nomatch"
is "$STATUS $(jqb 'tojson')" "200 []" "search without a match: []"
req GET "/api/v1/packages/search?q=$(enc '(')"
is "$STATUS $(jqb 'tojson')" "200 []" "search for ( is no error"
req GET "/api/v1/packages/search?q=$(enc 'r.l')"
is "$STATUS $(jqb 'tojson')" "200 []" "search is not a regular expression (r.l matches nothing)"
