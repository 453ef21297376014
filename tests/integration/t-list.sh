#!/bin/bash
# t-list.sh - listings longer than a page are streamed (no Content-Length, every row
# once, in order, across page boundaries); limit, offset and the after= cursor;
# substring search and query= through the trigram index (3 characters and more) and
# the scan (shorter), case-insensitively, following creates and deletes; a store made
# before the index gets it filled when it is opened. On etcd and redis, the index's
# keys (lib/storage-kv-search.c): an index a killed process left unfinished is used
# all the same and finished by gc, a stale key names no package in an answer.
# Up to a minute on etcd and redis (700 pushes, the index rebuilt), more under ASan.
APPR_TEST_TIMEOUT=${APPR_TEST_TIMEOUT:-400}
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

if [ "$APPR_TEST_STORAGE" = filesystem ]; then plan 36; else plan 39; fi

appr_start
T=$APPR_TMP

# 300 packages in namespace la (la/p000..la/p299), 150 in lb (lb/q000..lb/q149):
# more than two pages of the listing (200 packages a page). One curl, in parallel.
pushbody "$(mkchart p 1.0.0 "$T/c")" 1.0.0 helm >"$T/body.json"
urls=()
for i in $(seq -w 0 299); do urls+=("$BASE/api/v1/packages/la/p$i"); done
for i in $(seq -w 0 149); do urls+=("$BASE/api/v1/packages/lb/q$i"); done
args=()
for u in "${urls[@]}"; do args+=(-o /dev/null "$u"); done
curl -s -g --parallel --parallel-max 8 --max-time 120 -w '%{http_code}\n' \
	-X POST -H 'Content-Type: application/json' --data-binary "@$T/body.json" \
	"${args[@]}" >"$T/codes"
is "$(sort "$T/codes" | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')" "200x450 " \
	"450 packages pushed"

# names LISTING-FILTER: the names of the last answer, one per line
names() { jqb '.[].name'; }
expect() { # FIRST LAST: the sequence la/p.. or lb/q.. between them, one per line
	local ns=$1 from=$2 to=$3 pre
	[ "$ns" = la ] && pre=p || pre=q
	for i in $(seq -w "$from" "$to"); do
		[ "${#i}" -lt 3 ] && i=$(printf '%03d' "$((10#$i))")
		echo "$ns/$pre$i"
	done
}
{ expect la 000 299; expect lb 000 149; } >"$T/all"

req GET /api/v1/packages
is "$STATUS $(jqb length)" "200 450" "the whole listing: 450 packages"
names >"$T/got"
cmp -s "$T/got" "$T/all"; ok $? "every package once, by namespace then name, across the pages"
# The responder sends a listing longer than a page as it reads it, without
# Content-Length. Asked as a CGI program on the same store (a web server in front
# may add a Content-Length when it buffered the whole answer).
benv=()
case $APPR_TEST_STORAGE in
etcd | redis) eval "benv=(\"\${${APPR_TEST_STORAGE}_env[@]}\")" ;;
esac
env APPR_CONFIG="$APPR_TMP/appr.conf" APPR_DATA_DIR="$APPR_DATA" "${benv[@]}" \
	GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 REQUEST_METHOD=GET SCRIPT_NAME= \
	PATH_INFO=/api/v1/packages QUERY_STRING= REQUEST_URI=/api/v1/packages \
	timeout 30 "$APPR_FCGI" </dev/null >"$T/cgi.out" 2>"$T/cgi.err"
if [ "$APPR_TEST_STORAGE" = filesystem ]; then
	is "$(sed -n '1,/^\r\{0,1\}$/p' "$T/cgi.out" | grep -ci '^content-length') $(sed '1,/^\r\{0,1\}$/d' "$T/cgi.out" | jq length)" \
		"0 450" "a listing longer than a page is streamed: no Content-Length, every row"
else    # etcd, redis: every list call reads the whole key range, so one call, one answer
	is "$(sed -n '1,/^\r\{0,1\}$/p' "$T/cgi.out" | grep -ci '^content-length') $(sed '1,/^\r\{0,1\}$/d' "$T/cgi.out" | jq length)" \
		"1 450" "etcd, redis: a listing is read whole, then sent with its Content-Length"
fi
jis '[.[] | select(.default != "1.0.0" or (.releases | length) != 1 or .manifests != ["helm"])] | length' 0 \
	"every row complete (default, releases, manifests)"

req GET "/api/v1/packages?namespace=la"
is "$STATUS $(jqb length) $(jqb '.[0].name') $(jqb '.[-1].name')" "200 300 la/p000 la/p299" \
	"namespace=la: its 300 packages"
req GET "/api/v1/packages?namespace=lb&limit=10"
is "$STATUS $(jqb length)" "200 10" "limit=10"
is "$(header Content-Length)" "$(wc -c <"$BODYFILE" | tr -d ' ')" \
	"a listing of one page keeps its Content-Length"
req GET "/api/v1/packages?namespace=la&limit=250"
names >"$T/got"
cmp -s "$T/got" <(expect la 000 249); ok $? "limit=250 over two pages: la/p000..la/p249"
req GET "/api/v1/packages?offset=190&limit=30"
names >"$T/got"
cmp -s "$T/got" <(expect la 190 219); ok $? "offset=190&limit=30: la/p190..la/p219"
req GET "/api/v1/packages?offset=440"
is "$(names | tr '\n' ' ')" "lb/q140 lb/q141 lb/q142 lb/q143 lb/q144 lb/q145 lb/q146 lb/q147 lb/q148 lb/q149 " \
	"offset=440: the last ten"

# ---- the after= cursor ----
req GET "/api/v1/packages?after=la/p250"
names >"$T/got"
cmp -s "$T/got" <({ expect la 251 299; expect lb 000 149; }); ok $? \
	"after=la/p250: everything after it, across namespaces"
req GET "/api/v1/packages?after=la/p250&namespace=la"
is "$(jqb length) $(jqb '.[0].name')" "49 la/p251" "after= within a namespace"
req GET "/api/v1/packages?after=la/p250&limit=2&offset=1"
is "$(names | tr '\n' ' ')" "la/p252 la/p253 " "after= with offset and limit"
req GET "/api/v1/packages?after=la/p2505"
is "$(jqb '.[0].name')" "la/p251" "after= a package that does not exist: from where it would be"
req GET "/api/v1/packages?after=lb/q149"
is "$STATUS $BODY" "200 []" "after= the last package: an empty list"
req GET "/api/v1/packages?after=nonsense"
is_error 400 invalid-usage "after= without namespace/name: 400"

# ---- substring search and query= ----
req GET "/api/v1/packages/search?q=p29"
is "$STATUS $(jqb length) $(jqb '.[0]') $(jqb '.[-1]')" "200 10 la/p290 la/p299" \
	"search p29 (the trigram index): la/p290..la/p299"
req GET "/api/v1/packages/search?q=P29"
is "$(jqb length)" 10 "search is case-insensitive"
req GET "/api/v1/packages/search?q=/p1"
is "$(jqb length)" 100 "search /p1: la/p100..la/p199"
req GET "/api/v1/packages/search?q=29"
is "$(jqb 'join(" ")')" "la/p029 la/p129 la/p229 la/p290 la/p291 la/p292 la/p293 la/p294 la/p295 la/p296 la/p297 la/p298 la/p299 lb/q029 lb/q129" \
	"search of 2 characters (a scan): every name holding it"
req GET "/api/v1/packages/search?q=p29&limit=3"
is "$(jqb 'join(" ")')" "la/p290 la/p291 la/p292" "search limit"
req GET "/api/v1/packages/search?q=$(jq -rn '"a\"b" | @uri')"
is "$STATUS $BODY" "200 []" "a double quote in the text is a character, not syntax"
req GET "/api/v1/packages/search?q=$(jq -rn '"q1 OR p" | @uri')"
is "$STATUS $BODY" "200 []" "search words are no query language"
req GET "/api/v1/packages?query=Q14"
is "$(names | tr '\n' ' ')" "lb/q140 lb/q141 lb/q142 lb/q143 lb/q144 lb/q145 lb/q146 lb/q147 lb/q148 lb/q149 " \
	"list query=Q14 (the index, any case)"
req GET "/api/v1/packages?query=q14&namespace=la"
is "$STATUS $BODY" "200 []" "query= and namespace= together"

req DELETE /api/v1/packages/la/p299/1.0.0/helm
req GET "/api/v1/packages/search?q=p29"
is "$STATUS $(jqb length) $(jqb '.[-1]')" "200 9 la/p298" "a deleted package leaves the search"
push la/zp299x "$(mkchart p 1.0.0 "$T/c")" 1.0.0 helm
req GET "/api/v1/packages/search?q=p29"
is "$(jqb length) $(jqb '.[-1]')" "10 la/zp299x" "a new package joins it"

# ---- private packages between the public ones, for anonymous readers ----
# la/pNNNv (NNN < 250) private: each sorts right after la/pNNN, so the pages of 200
# hold public and private packages alike; an anonymous reader (auth = tokens, anonymous
# read) gets the same public listing, in order, paged or not, and no private one.
pushbody "$(mkchart p 1.0.0 "$T/c")" 1.0.0 helm '.visibility = "private"' >"$T/priv.json"
args=()
for i in $(seq -w 0 249); do args+=(-o /dev/null "$BASE/api/v1/packages/la/p${i}v"); done
curl -s -g --parallel --parallel-max 8 --max-time 120 -w '%{http_code}\n' \
	-X POST -H 'Content-Type: application/json' --data-binary "@$T/priv.json" \
	"${args[@]}" >"$T/codes"
is "$(sort "$T/codes" | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')" "200x250 " \
	"250 private packages pushed between the public ones"
req GET /api/v1/packages
names >"$T/public"
req GET "/api/v1/packages/search?q=v"
is "$(jqb length)" 250 "(auth = none: the private ones are listed)"
appr_stop
appr_start APPR_AUTH=tokens
req GET /api/v1/packages
names >"$T/got"
grep -v 'v$' "$T/public" >"$T/want"
cmp -s "$T/got" "$T/want"
ok $? "anonymous: every public package once and in order across the pages, no private one"
req GET "/api/v1/packages?namespace=la&after=la/p100&limit=150"
is "$(jqb length) $(jqb '.[0].name') $(jqb '.[-1].name') $(jqb '[.[] | select(.name | endswith("v"))] | length')" \
	"150 la/p101 la/p250 0" "anonymous, from a cursor: 150 public packages, none private"
req GET "/api/v1/packages/search?q=v"
is "$STATUS $BODY" "200 []" "anonymous search: no private package"
appr_stop
appr_start

# ---- a store made before the index ----
if [ "$APPR_TEST_STORAGE" = filesystem ]; then
	is "$(sqlite3 "$APPR_DATA/appr.db" 'SELECT count(*) FROM trigram_counts c WHERE n !=
		(SELECT count(*) FROM package_trigrams t WHERE t.trigram = c.trigram)')" 0 \
		"after creates and deletes, every trigram count is its number of packages"
	appr_stop
	sqlite3 "$APPR_DATA/appr.db" "DROP TRIGGER packages_trigrams_insert;
		DROP TRIGGER packages_trigrams_delete; DROP TRIGGER package_trigrams_count;
		DROP TRIGGER package_trigrams_uncount; DROP TABLE package_trigrams;
		DROP TABLE trigram_counts; DROP TABLE trigram_positions;
		DROP TABLE oci_tags; DROP TABLE oci_manifest_refs; DROP TABLE oci_manifests;
		DROP TABLE oci_blob_links; DROP TABLE oci_blobs; DROP TABLE oci_uploads;
		DROP TABLE helm_oci; PRAGMA user_version = 3;"
	appr_start
	req GET "/api/v1/packages/search?q=q14"
	is "$STATUS $(jqb length)" "200 10" "a store made before the index: filled when opened"
	is "$(sqlite3 "$APPR_DATA/appr.db" 'PRAGMA user_version; SELECT count(DISTINCT package_id) FROM package_trigrams')" \
		"$(printf '%s\n700' "$(ls "$APPR_SRCDIR"/schema/*.sql | wc -l)")" \
		"the schema brought up to date, every package in the trigram index"
else
	# kv keys as etcd and redis keep them (lib/kv-redis.c: a hash per key and the
	# sorted set idx of every key), below the default key prefix /appr/
	kv_count() { # PREFIX (ending in /): how many keys
		case $APPR_TEST_STORAGE in
		etcd) etcdctl_ get --prefix --keys-only "/appr/$1" | grep -c . || true ;;
		redis) redis_cli ZLEXCOUNT /appr/idx "[$1" "(${1%/}0" ;;
		esac
	}
	kv_del() { # KEY
		case $APPR_TEST_STORAGE in
		etcd) etcdctl_ del "/appr/$1" >/dev/null ;;
		redis) redis_cli DEL "/appr/k:$1" >/dev/null && redis_cli ZREM /appr/idx "$1" >/dev/null ;;
		esac
	}
	kv_put1() { # KEY: value "1"
		case $APPR_TEST_STORAGE in
		etcd) etcdctl_ put "/appr/$1" 1 >/dev/null ;;
		redis) redis_cli HSET "/appr/k:$1" v 1 r 1 >/dev/null && redis_cli ZADD /appr/idx 0 "$1" >/dev/null ;;
		esac
	}
	kv_del_prefix() { # PREFIX (ending in /)
		case $APPR_TEST_STORAGE in
		etcd) etcdctl_ del --prefix "/appr/$1" >/dev/null ;;
		redis) # one script, not two redis-cli per key (thousands of them)
			redis_cli EVAL "local ks = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2])
				for _, k in ipairs(ks) do
					redis.call('DEL', ARGV[3] .. k); redis.call('ZREM', KEYS[1], k)
				end
				return #ks" 1 /appr/idx "[$1" "(${1%/}0" /appr/k: >/dev/null
			;;
		esac
	}
	is "$(kv_count tri/p29/) $(kv_count tix/)" "10 0" \
		"the index: a key per package and trigram (la/p299 deleted, la/zp299x added), none unfinished"
	appr_stop
	kv_del_prefix tri/
	kv_del searchidx
	is "$(kv_count tri/)" 0 "(the index taken away: a store made before it)"
	appr_start
	req GET "/api/v1/packages/search?q=q14"
	is "$STATUS $(jqb length) $(kv_count tri/q14/)" "200 10 10" \
		"a store made before the index: filled when opened"
	# a push killed between its transaction and its index: tix/ says so
	for t in la/ a/p /p2 p29 290; do kv_del "tri/$t/la/p290"; done
	kv_put1 tix/la/p290
	req GET "/api/v1/packages/search?q=p290"
	is "$STATUS $(jqb 'join(" ")')" "200 la/p290" "an unfinished index: the package is found all the same"
	appr_admin gc >"$T/gc.out" 2>&1
	is "$? $(kv_count tix/) $(kv_count tri/p29/)" "0 0 10" "gc finishes the index"
	kv_put1 tri/p29/la/p2999
	req GET "/api/v1/packages/search?q=p29"
	is "$STATUS $(jqb length) $(jqb '[.[] | select(. == "la/p2999")] | length')" "200 10 0" \
		"a stale index key names no package in the answer"
fi
