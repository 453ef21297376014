#!/bin/bash
# t-ui.sh - the browse pages (fcgi/h-ui*.c): headers, escaping, error pages, paging and
# the read-only rule with curl, then one session of a real browser (Debian's chromium
# driven by playwright-core, tests/browser/ui.mjs) through home, search, a package and
# a release, with screenshots in $APPR_BUILDDIR/tests/artifacts/ui-<variant>/.
# The browser is required: when it cannot be started the browser checks fail, unless
# APPR_UI_NO_BROWSER=1 is set (then they are skipped, saying why). APPR_UI_CHROMIUM
# names another browser binary than chromium's.
# (read before lib.sh, which clears every APPR_* variable it does not know)
no_browser=${APPR_UI_NO_BROWSER:-}
chromium=${APPR_UI_CHROMIUM:-$(command -v chromium || true)}
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

NB=16                                # checks tests/browser/ui.mjs makes (its CHECKS)
plan $((33 + NB))

T=$APPR_TMP
CSP="default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
appr_start APPR_AUTH=tokens
printf 'alice-pw\n' | appr_admin user add alice --password-stdin >/dev/null 2>&1 ||
	bail "appr-admin user add alice"
appr_admin grant alice '*' admin >/dev/null 2>&1 || bail "appr-admin grant"
tok=$(appr_admin token create --user alice 2>/dev/null)
[ -n "$tok" ] || bail "appr-admin token create"
AUTH=(-H "Authorization: Bearer $tok")

# apush NS/NAME FILE RELEASE MEDIA-TYPE [JQ-FILTER...]: push with alice's token.
apush() {
	local pkg=$1
	shift
	pushbody "$@" >"$T/push.json"
	req POST "/api/v1/packages/$pkg" -H 'Content-Type: application/json' "${AUTH[@]}" \
		--data-binary "@$T/push.json"
	[ "$STATUS" = 200 ] || diag "push $pkg $2: $STATUS $BODY"
}

# ---- the packages ----
mkdir -p "$T/extra"
cat >"$T/extra/README.md" <<'EOF'
# Webapp chart

A *small* web application, for the **browse pages** test.

| key | default |
|-----|---------|
| replicas | 1 |

<script>alert("readme")</script>

[docs](https://example.com/docs)
EOF
printf 'replicas: 1\nimage: example/webapp:1.1.0\nnote: "<b>not bold</b>"\n' >"$T/extra/values.yaml"
w1=$(mkchart webapp 1.0.0 "$T/c1")
w2=$(mkchart webapp 1.1.0 "$T/c2" "$T/extra")
apush ui/webapp "$w1" 1.0.0 helm
apush ui/webapp "$w2" 1.1.0 helm
req POST /api/v1/packages/ui/webapp/channels/stable/1.0.0 "${AUTH[@]}"
evil=$(mkchart evil 0.1.0 "$T/c3")
apush ui/evil "$evil" 0.1.0 helm \
	'.metadata = {"description": "<script>alert(1)</script> \"><img src=x onerror=alert(2)>"}'
secret=$(mkchart secret 1.0.0 "$T/c4")
apush ui/secret "$secret" 1.0.0 helm '.visibility = "private"' \
	'.metadata = {"description": "secret chart"}'
# more packages than a page holds (50)
for i in $(seq -w 0 50); do
	apush "pg/pkg-$i" "$w1" 1.0.0 kpm
done

# ---- curl: headers, escaping, errors ----
req GET /
is "$STATUS $(header Content-Type)" "200 text/html; charset=utf-8" "GET / is an HTML page"
is "$(header Content-Security-Policy)" "$CSP" "Content-Security-Policy"
is "$(header X-Content-Type-Options)" nosniff "X-Content-Type-Options: nosniff"
case $APPR_TEST_STORAGE in
filesystem | sqlite)
	like "$BODY" '<a href="/packages/ui">ui</a>' "home lists namespace ui"
	like "$BODY" '<td class="num">51</td>' "home counts the 51 packages of pg"
	;;
*)	# etcd, redis: no counts, the first page of packages instead
	like "$BODY" 'keeps no package counts' "home says the store keeps no counts"
	like "$BODY" '<a rel="next" href="/packages\?after=pg%2Fpkg-49">' \
		"home lists the first packages, with a link to the next page"
	;;
esac
[[ $BODY != *secret* ]]
ok $? "home: no private package for an anonymous visitor"
req GET /packages/ui/evil
is "$STATUS" 200 "package page of ui/evil"
like "$BODY" '&lt;script&gt;alert\(1\)&lt;/script&gt; &quot;&gt;&lt;img src=x onerror=alert\(2\)&gt;' \
	"its description is escaped in the raw HTML"
[[ $BODY != *'<script'* && $BODY != *'<img'* ]]
ok $? "no <script or <img in the raw HTML"
req GET /packages/ui/webapp/1.1.0
is "$STATUS" 200 "release page of ui/webapp 1.1.0"
like "$BODY" '<h1>Webapp chart</h1>' "its README.md is rendered"
like "$BODY" '&lt;script&gt;alert\(&quot;readme&quot;\)&lt;/script&gt;' \
	"the README's raw HTML is text"
like "$BODY" 'note: &quot;&lt;b&gt;not bold&lt;/b&gt;&quot;' "values.yaml is escaped text"
like "$BODY" "appr pull 127\.0\.0\.1:[0-9]+/ui/webapp@1\.1\.0" "the appr pull command names the host"
req GET "/?appr-discovery=1"
is "$STATUS $(header Content-Type) $(jqb .code)" "404 application/json package-not-found" \
	"the appr client's discovery of the host root is answered as before the pages (no route)"
req GET /packages/ui/nope
is "$STATUS $(header Content-Type)" "404 text/html; charset=utf-8" "an absent package: HTML 404"
like "$BODY" '<h1>404 Not Found</h1>' "with a 404 page"
req GET /packages/ui/webapp/9.9.9
is "$STATUS" 404 "an absent release: 404"
req GET /packages/ui/webapp/1.1.0/more
is "$STATUS $(header Content-Type)" "404 text/html; charset=utf-8" "an unknown page: HTML 404"
req GET /packages/ui/secret
is "$STATUS" 404 "a private package: 404 to an anonymous visitor"
req GET /packages/ui/secret "${AUTH[@]}"
is "$STATUS" 200 "... and 200 to a reader"
req GET /packages/pg
like "$BODY" '<a rel="next" href="/packages/pg\?after=pg%2Fpkg-49">' "namespace page: next page link"
req GET "/packages/pg?after=pg%2Fpkg-49"
like "$BODY" 'pg/pkg-50' "the next page holds the last package"
req GET "/search?q=kg-0"
like "$BODY" 'href="/packages/pg/pkg-00"' "search finds by a part of the name"
req POST /
is "$STATUS" 405 "POST / is 405"
req DELETE /packages/ui/webapp
is "$STATUS" 405 "DELETE on a page is 405"
req GET /static/appr.css
is "$STATUS $(header Content-Type)" "200 text/css; charset=utf-8" "the style sheet"
etag=$(header ETag)
req GET /static/appr.css -H "If-None-Match: $etag"
is "$STATUS" 304 "the style sheet revalidates by ETag"
req GET /version
is "$STATUS $(header Content-Type) $(jqb 'has("appr-api")')" "200 application/json true" \
	"GET /version is untouched"
req GET /api/v1/packages/nope/nope
is_error 404 package-not-found "API errors are still JSON"

# ---- the browser ----
variant=$APPR_TEST_STORAGE-$APPR_TEST_SERVER
ART=$APPR_BUILDDIR/tests/artifacts/ui-$variant
rm -rf -- "$ART"
mkdir -p "$ART"
oci=0
case $APPR_TEST_STORAGE in filesystem | sqlite) oci=1 ;; esac
why=
# playwright-core: npm ci put it in tests/browser/node_modules (tests/install-servers.sh,
# which also links it from /usr/local/share/appr-fcgi-tests for a copy of the sources
# without it, as make distcheck's); the script runs from a copy beside a link to it
modules=
for m in "$APPR_SRCDIR/tests/browser/node_modules" /usr/local/share/appr-fcgi-tests/node_modules; do
	if [ -d "$m/playwright-core" ]; then
		modules=$(cd "$m" && pwd -P)
		break
	fi
done
if [ -z "$chromium" ]; then
	why="chromium is missing: apt-get install chromium (tests/install-servers.sh)"
elif ! command -v node >/dev/null; then
	why="node is missing: apt-get install nodejs npm (tests/install-servers.sh)"
elif [ -z "$modules" ]; then
	why="playwright-core is missing: (cd tests/browser && npm ci), see tests/install-servers.sh"
fi
out=
if [ -z "$why" ]; then
	mkdir -p "$T/browser"
	cp "$APPR_SRCDIR/tests/browser/ui.mjs" "$T/browser/ui.mjs"
	ln -s "$modules" "$T/browser/node_modules"
	out=$(BASE=$BASE ARTIFACTS=$ART CHROMIUM=$chromium USERPASS=alice:alice-pw OCI=$oci \
		timeout 90 node "$T/browser/ui.mjs" 2>"$T/node.err")
	rc=$?
	if [ "$rc" -ne 0 ] && [ -z "$out" ]; then
		why="the browser test did not run (exit $rc): $(head -c 600 "$T/node.err")"
	fi
	case $out in launch-failed*) why="chromium did not start: ${out#*$'\t'}" ;; esac
fi
if [ -n "$why" ]; then
	for ((i = 0; i < NB; i++)); do
		if [ "$no_browser" = 1 ]; then
			ok 0 "browser check $((i + 1)) # SKIP $why (APPR_UI_NO_BROWSER=1)"
		else
			ok 1 "browser check $((i + 1)): $why (APPR_UI_NO_BROWSER=1 skips it)"
		fi
	done
else
	mapfile -t lines <<<"$out"
	for ((i = 0; i < NB; i++)); do
		IFS=$'\t' read -r res what reason <<<"${lines[i]:-}"
		case $res in
		ok) ok 0 "browser: $what" ;;
		"not ok") ok 1 "browser: $what"; diag "$reason" ;;
		*) ok 1 "browser check $((i + 1)) gave no answer"; diag "$(head -c 600 "$T/node.err")" ;;
		esac
	done
	for ((i = NB; i < ${#lines[@]}; i++)); do
		diag "${lines[i]}"
	done
fi

# ---- anonymous_read = false: a browser is asked for a password ----
appr_stop
appr_start APPR_AUTH=tokens APPR_ANONYMOUS_READ=false
req GET /
is "$STATUS $(header Content-Type)" "401 text/html; charset=utf-8" "anonymous_read=false: GET / is an HTML 401"
like "$(header WWW-Authenticate)" 'Basic realm="appr"' "... that asks for Basic credentials"
req GET /packages/ui/secret -u alice:alice-pw
is "$STATUS" 200 "... which open the pages"
