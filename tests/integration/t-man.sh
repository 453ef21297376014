#!/bin/bash
# t-man.sh - the manual pages (doc/*.[58]) are lint-clean for mandoc and groff, and
# complete: every key lib/config.c accepts is in appr.conf(5) and etc/appr.conf,
# every appr-admin command and option in appr-admin(8), every appr-serve option and
# web server in appr-serve(8). Needs no registry (only the built responder, to check
# that etc/appr.conf with every line uncommented is a configuration it accepts), so
# it does not source lib.sh, which wants a web server and curl.
set -u

[ -n "${APPR_SRCDIR:-}" ] || APPR_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
S=$APPR_SRCDIR
PAGES="doc/appr-fcgi.8 doc/appr-admin.8 doc/appr-serve.8 doc/appr.conf.5 doc/appr-archive.5"

# ---- TAP ----
_n=0
_failed=0
plan() { printf '1..%s\n' "$1"; }
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
ok() { # RC MSG
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then
		printf 'ok %d - %s\n' "$_n" "$2"
	else
		printf 'not ok %d - %s\n' "$_n" "$2"
		_failed=$((_failed + 1))
	fi
}
# missing WHAT LIST MSG: passes when LIST (words) is empty, else names them.
missing() {
	if [ -z "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "$1 missing: $(printf '%s' "$2" | tr '\n' ' ')"
	fi
}
bail() { # MSG: a precondition failed: one "not ok", then stop
	[ "$_n" -gt 0 ] || plan 1
	ok 1 "$1"
	exit 1
}

T=$(mktemp -d "${TMPDIR:-/tmp}/appr-test-man.XXXXXX") || bail "mktemp -d failed"
trap 'rm -rf -- "$T"' EXIT

command -v mandoc >/dev/null 2>&1 || bail "mandoc is missing: apt-get install mandoc"
command -v man >/dev/null 2>&1 || bail "man is missing: apt-get install man-db"
command -v groff >/dev/null 2>&1 || bail "groff is missing: apt-get install groff-base"
for p in $PAGES; do
	[ -r "$S/$p" ] || bail "$p is missing"
done

# ---- what the sources define ----
# keys of lib/config.c: the rows { "name", K_TYPE, ... } of its keys[] table
keys=$(sed -n '/keys\[\] = {/,/^};/p' "$S/lib/config.c" |
	sed -nE 's/^[[:space:]]*\{ "([a-z_]+)", K_.*/\1/p' | sort -u)
# appr-admin commands: strcmp(group, "G") and strcmp(sub, "S") in run()
admin_cmds=$(sed -n '/^static int run(/,/^}/p' "$S/tools/appr-admin.c" | awk '
	match($0, /strcmp\(group, "[a-z]+"\)/) {
		g = substr($0, RSTART + 15, RLENGTH - 17); print g }
	match($0, /strcmp\(sub, "[a-z]+"\)/) {
		print g " " substr($0, RSTART + 13, RLENGTH - 15) }' | sort -u)
# appr-admin options: those its usage message (--help) shows
admin_opts=$(sed -n '/^static const char usage\[\] =/,/;$/p' "$S/tools/appr-admin.c" |
	grep -oE -- '--[a-z][a-z-]*' | sort -u)
# appr-serve options: the case labels of its argument loop
serve_args=$(sed -n '/^# ---- arguments ----/,/^# ---- programs ----/p' "$S/contrib/appr-serve.in")
serve_opts=$(printf '%s\n' "$serve_args" | grep -oE '^[[:space:]]*-[^)]*\)' |
	grep -oE -- '-{1,2}[a-z][a-z-]*' | sort -u)
# appr-serve --server names: the case that checks them
serve_servers=$(printf '%s\n' "$serve_args" | grep -A1 -E '^case \$server in' |
	grep -oE '^[a-z|-]+\)' | tr -d ')' | tr '|' '\n' | sort -u)

[ "$(printf '%s\n' "$keys" | wc -w)" -ge 18 ] || bail "could not read the keys of lib/config.c"
[ "$(printf '%s\n' "$admin_cmds" | wc -l)" -ge 9 ] || bail "could not read the commands of tools/appr-admin.c"
[ "$(printf '%s\n' "$serve_opts" | wc -w)" -ge 6 ] || bail "could not read the options of contrib/appr-serve.in"
[ "$(printf '%s\n' "$serve_servers" | wc -w)" -ge 4 ] || bail "could not read the --server names of contrib/appr-serve.in"

npages=$(printf '%s\n' $PAGES | wc -l)
plan $((npages * 3 + 10))

# ---- lint ----
for p in $PAGES; do
	out=$(mandoc -T lint -W warning "$S/$p" 2>&1)
	rc=$?
	ok $((rc != 0 || ${#out} != 0)) "mandoc -T lint -W warning $p: clean"
	[ -z "$out" ] || diag "$out"
	# groff through man-db, as a reader gets it; warnings go to stderr
	out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$S/$p" 2>&1 >"$T/page.txt")
	rc=$?
	ok $((rc != 0 || ${#out} != 0)) "man --warnings -l $p: no warnings"
	[ -z "$out" ] || diag "$out"
	name=$(basename "$p")
	name=${name%.*}
	grep -q "^NAME" "$T/page.txt" && grep -q "^ *$name " "$T/page.txt"
	ok $? "$p renders, with its NAME section for $name"
done

# ---- completeness ----
conf5=$S/doc/appr.conf.5
miss=$(for k in $keys; do grep -qE "^\.It Cm $k( |$)" "$conf5" || echo "$k"; done)
missing "keys of lib/config.c in doc/appr.conf.5 (.It Cm KEY)" "$miss" \
	"every key of lib/config.c is described in appr.conf(5)"
miss=$(for k in $keys; do grep -qE "^#? ?$k = " "$S/etc/appr.conf" || echo "$k"; done)
missing "keys of lib/config.c in etc/appr.conf (#key = default)" "$miss" \
	"every key of lib/config.c is in etc/appr.conf"
miss=$(for k in $keys; do
	v=APPR_$(printf '%s' "$k" | tr a-z A-Z)
	grep -qE "^\.Ev $v( |$)" "$S/doc/appr-fcgi.8" || echo "$v"
done)
missing "variables in doc/appr-fcgi.8" "$miss" "every APPR_KEY variable is listed in appr-fcgi(8)"
miss=$(grep -oE '^#? ?[a-z_]+ = ' "$S/etc/appr.conf" | grep -oE '[a-z_]+' |
	while read -r k; do printf '%s\n' "$keys" | grep -qx "$k" || echo "$k"; done)
missing "keys lib/config.c does not accept, in etc/appr.conf" "$miss" \
	"etc/appr.conf names no key lib/config.c does not accept"

admin8=$S/doc/appr-admin.8
miss=$(printf '%s\n' "$admin_cmds" | while read -r c; do
	grep -qE "^\.(It )?Cm $c( |$)" "$admin8" || echo "\"$c\""
done)
missing "appr-admin commands in doc/appr-admin.8" "$miss" \
	"every appr-admin command ($(printf '%s\n' "$admin_cmds" | wc -l)) is in appr-admin(8)"
miss=$(for o in $admin_opts; do grep -qE "Fl ${o#-}( |$)" "$admin8" || echo "$o"; done)
missing "appr-admin options in doc/appr-admin.8" "$miss" "every option of appr-admin --help is in appr-admin(8)"

serve8=$S/doc/appr-serve.8
miss=$(for o in $serve_opts; do
	case $o in
	--*) grep -qE "Fl ${o#-}( |$)" "$serve8" ;;
	*) grep -qE "Fl (-[a-z-]+ [|,] (Fl )?)?${o#-}( |$)" "$serve8" ;;
	esac || echo "$o"
done)
missing "appr-serve options in doc/appr-serve.8" "$miss" "every appr-serve option is in appr-serve(8)"
miss=$(for s in $serve_servers; do grep -qE "Cm $s( |$)" "$serve8" || echo "$s"; done)
missing "appr-serve --server names in doc/appr-serve.8" "$miss" \
	"every web server of appr-serve --server is in appr-serve(8)"

# Every page is installed: listed in Makefile.am's dist_man_MANS.
manlist=$(sed -n '/^dist_man_MANS *=/,/[^\\]$/p' "$S/Makefile.am")
miss=$(for p in $PAGES; do printf '%s\n' "$manlist" | grep -q "$p" || echo "$p"; done)
missing "pages in Makefile.am dist_man_MANS" "$miss" "every page is in dist_man_MANS (make install, tarball)"

# etc/appr.conf with every "#key = value" line uncommented is the default
# configuration and the responder accepts it (one CGI request, GET /version).
fcgi=${APPR_FCGI:-${APPR_BUILDDIR:-.}/fcgi/appr-fcgi}
if [ -x "$fcgi" ]; then
	sed -E 's/^#([a-z_]+ = )/\1/' "$S/etc/appr.conf" >"$T/appr.conf"
	# only the file configures it: no APPR_*, STORAGE... of the caller (the
	# sanitizer options stay, as in lib.sh)
	out=$(for v in $(compgen -e); do
		case $v in APPR_*|STORAGE|ETCD_ENDPOINTS|REDIS_URL) unset "$v" ;; esac
	done
	APPR_CONFIG="$T/appr.conf" APPR_DATA_DIR="$T/data" GATEWAY_INTERFACE=CGI/1.1 \
		REQUEST_METHOD=GET PATH_INFO=/version "$fcgi" </dev/null 2>"$T/err")
	printf '%s' "$out" | head -n 1 | grep -q '^Status: 200'
	ok $? "etc/appr.conf, every key uncommented, is accepted by appr-fcgi"
	[ ! -s "$T/err" ] || diag "$(grep -v 'auth = none' "$T/err")"
else
	ok 1 "etc/appr.conf, every key uncommented, is accepted by appr-fcgi"
	diag "$fcgi is not built: make"
fi

exit 0
