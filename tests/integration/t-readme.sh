#!/bin/bash
# t-readme.sh - the curl demo of README (the original cnr-server README's), run
# verbatim against a fresh registry: only http://localhost:5000 becomes $BASE.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 9

T=$APPR_TMP
appr_start
cd "$T" || bail "cd $T"
mapfile -t cmds < <(grep -E '^    curl .*http://localhost:5000' "$APPR_SRCDIR/README" | sed -e 's/^    //' \
	-e "s|http://localhost:5000|$BASE|g")
is "${#cmds[@]}" 6 "README has the six demo commands"

out() { eval "${cmds[$1]} -s -w '\n%{http_code}'"; }
r=$(out 0); is "${r##*$'\n'}" 200 "push foo/bar 1.0.1 kpm"
r=$(out 1); is "${r##*$'\n'}" 200 "push foo/bar 1.0.1 helm"
r=$(out 2); is "$(printf '%s' "${r%$'\n'*}" | jq -c '[.[] | {name, default, manifests}]')" \
	'[{"name":"foo/bar","default":"1.0.1","manifests":["helm","kpm"]}]' "list shows foo/bar with both media types"
r=$(out 3); is "$(printf '%s' "${r%$'\n'*}" | jq -r .content.digest)" \
	92ba810abfe250d43cea35bad65906a7e199cd50b6cfeead6c66d31844223885 "show helm: the digest the original README links to"
eval "${cmds[4]} -s"
is "$(gzip -dc foo_bar-92ba810a.tar.gz | sha256sum | cut -c1-64)" \
	92ba810abfe250d43cea35bad65906a7e199cd50b6cfeead6c66d31844223885 "the fetched blob is that tarball"
is "$(tar tzf foo_bar-92ba810a.tar.gz)" Charts.yaml "and it holds Charts.yaml"
r=$(out 5); is "${r##*$'\n'}" 200 "delete foo/bar 1.0.1 helm"
req GET /api/v1/packages/foo/bar/1.0.1/helm
is "$STATUS" 404 "the helm manifest is gone"
