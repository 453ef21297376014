#!/bin/bash
# t-servers.sh - the sample configurations of contrib/ work as shipped (paths and port
# substituted): lighttpd.conf, nginx.conf + spawn-fcgi, apache-fcgid.conf,
# apache-cgi.htaccess each run a registry that takes a push and gives it back, and
# answer their own errors in JSON; the systemd units verify; behind each web server
# appr-serve's server-made errors are JSON and no responder outlives it.
. "${APPR_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh"

plan 36

T=$APPR_TMP
C=$APPR_SRCDIR/contrib
_need nginx nginx
_need spawn-fcgi spawn-fcgi
_need apache2 apache2
MODS=/usr/lib/apache2/modules
for m in mpm_event authz_core mime rewrite env headers fcgid cgi xsendfile; do
	[ -f "$MODS/mod_$m.so" ] || bail "Apache module mod_$m is missing: apt-get install apache2 libapache2-mod-fcgid libapache2-mod-xsendfile"
done
for p in lighttpd nginx apache2; do
	command -v "$p" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
done

# Apache and nginx switch users when started as root: the test's directories
# then belong to that user (the parents are searchable: lib.sh made $T 755).
RUNUSER=
[ "$(id -u)" != 0 ] || RUNUSER=www-data
own() {
	[ -z "$RUNUSER" ] || chown -R "$RUNUSER:$RUNUSER" "$@"
}

# ---- running a server ----
SPID=
SNAME=
SPIDFILES=()
# start_server NAME SETUP LOG CMD...: on a free port PORT (BASE), run the
# function SETUP (writes the configuration for $PORT), then CMD in the
# background; wait until $BASE/version answers 200 (10 s); 1 when it does not.
start_server() {
	local i code try setup=$2 log=$3
	SNAME=$1
	shift 3
	for ((try = 0; try < 5; try++)); do
		newport
		"$setup"
		"$@" >"$log" 2>&1 &
		SPID=$!
		for ((i = 0; i < 100; i++)); do
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/version")
			[ "$code" = 200 ] && return 0
			_running "$SPID" || break
			sleep 0.1
		done
		wait "$SPID" 2>/dev/null
		SPID=
		grep -q -i 'in use' "$log" || break   # else: the port was taken, another one
	done
	diag "$SNAME did not answer GET /version with 200 (got $code):"
	diag "$(tail -n 15 "$log")"
	return 1
}
# stop_server: stop the server started last and the responders whose pid
# files are in SPIDFILES.
stop_server() {
	local i f p
	if [ -n "$SPID" ]; then
		kill -TERM "$SPID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			_running "$SPID" || break
			sleep 0.1
		done
		kill -KILL "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	fi
	SPID=
	for f in "${SPIDFILES[@]}"; do
		for p in $(cat "$f" 2>/dev/null); do
			kill -TERM "$p" 2>/dev/null
		done
	done
	SPIDFILES=()
}
at_exit stop_server

newport() {
	PORT=$((20000 + (RANDOM * 32768 + RANDOM) % 40001))
	BASE=http://127.0.0.1:$PORT
}

# roundtrip NAME: a push through the running server, then the pull is byte-exact.
roundtrip() {
	local tgz
	tgz=$(mkchart "rt-$1" 1.0.0 "$T/charts")
	push "ns/rt-$1" "$tgz" 1.0.0 helm
	is "$STATUS $(jqb .status)" "200 ok" "$1: push answers 200 ok"
	req GET "/api/v1/packages/ns/rt-$1/1.0.0/helm/pull"
	cmp -s "$BODYFILE" "$tgz"
	ok $? "$1: the pull gives the tar.gz back byte for byte ($STATUS)"
}

# over_limit NAME: a body the web server itself refuses (Content-Length 2 GB
# over its 1 GiB limit) answers a JSON 413.
over_limit() {
	req POST /api/v1/packages/ns/huge --data-binary '' -H 'Content-Length: 2000000000' --max-time 5
	is_error 413 payload-too-large "$1: a body over the web server's limit: JSON 413 from the server"
}

# ---- contrib/lighttpd.conf ----
L=$T/lighttpd
mkdir -p "$L/data/www" "$L/log" "$L/up"
setup_lighttpd() {
	sed -e "s|/usr/local/bin/appr-fcgi|$APPR_FCGI|g" -e "s|/var/lib/appr|$L/data|g" \
		-e "s|/var/log/lighttpd|$L/log|g" -e "s|/run/lighttpd-appr.pid|$L/pid|" \
		-e "s|/run/lighttpd/appr.sock|$L/appr.sock|" -e "s|/var/tmp|$L/up|" \
		-e "s|^server.port .*|server.port = $PORT|" "$C/lighttpd.conf" >"$L/lighttpd.conf"
	[ "$(id -u)" = 0 ] || sed -i '/^server\.\(user\|group\)name/d' "$L/lighttpd.conf"
	own "$L"
}
start_server lighttpd setup_lighttpd "$L/run.log" lighttpd -D -f "$L/lighttpd.conf"
ok $? "contrib/lighttpd.conf: lighttpd answers GET /version"
lighttpd -tt -f "$L/lighttpd.conf" >"$L/check.log" 2>&1
ok $? "contrib/lighttpd.conf: lighttpd -tt accepts it" || diag "$(cat "$L/check.log")"
roundtrip lighttpd-conf
stop_server

# ---- contrib/nginx.conf + spawn-fcgi ----
N=$T/nginx
mkdir -p "$N/data/www" "$N/run"
setup_nginx() {
	sed -e "s|/var/lib/appr|$N/data|g" -e "s|/run/appr|$N/run|g" \
		-e "s|127.0.0.1:5000|127.0.0.1:$PORT|" "$C/nginx.conf" >"$N/site.conf"
	{
		[ -z "$RUNUSER" ] || echo "user $RUNUSER;"
		cat <<EOF
pid $N/run/nginx.pid;
error_log stderr;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $N/run/client_body;
  fastcgi_temp_path $N/run/fastcgi;
  proxy_temp_path $N/run/proxy;
  uwsgi_temp_path $N/run/uwsgi;
  scgi_temp_path $N/run/scgi;
  include $N/site.conf;
}
EOF
	} >"$N/nginx.conf"
	own "$N"
}
# spawn-fcgi as in the comment of contrib/nginx.conf
sf=(-s "$N/run/appr-fcgi.sock" -M 0600 -F 2 -P "$N/run/appr-fcgi.pid")
[ -z "$RUNUSER" ] || sf+=(-U "$RUNUSER" -G "$RUNUSER" -u "$RUNUSER" -g "$RUNUSER")
own "$N"
SPIDFILES=("$N/run/appr-fcgi.pid")
spawn-fcgi "${sf[@]}" -- /usr/bin/env APPR_CONFIG="$T/appr.conf" APPR_DATA_DIR="$N/data" \
	"$APPR_FCGI" >"$N/spawn.log" 2>&1 || diag "spawn-fcgi: $(cat "$N/spawn.log")"
start_server nginx setup_nginx "$N/run.log" nginx -e stderr -c "$N/nginx.conf" -g 'daemon off;'
ok $? "contrib/nginx.conf: nginx with 2 responders of spawn-fcgi answers GET /version"
nginx -e stderr -t -q -c "$N/nginx.conf" >"$N/check.log" 2>&1
ok $? "contrib/nginx.conf: nginx -t accepts it (in an http block)" || diag "$(cat "$N/check.log")"
roundtrip nginx-conf
over_limit nginx.conf
stop_server

# ---- contrib/apache-fcgid.conf ----
# apache_main DIR MODULE...: the main configuration a Debian apache2.conf would
# give (modules, pid, locks, user) around DIR/site.conf.
apache_main() {
	local d=$1 m
	shift
	for m in mpm_event authz_core "$@"; do
		printf 'LoadModule %s_module %s/mod_%s.so\n' "$m" "$MODS" "$m"
	done
	cat <<EOF
ServerName localhost
Listen 127.0.0.1:$PORT
PidFile $d/run/apache2.pid
DefaultRuntimeDir $d/run
Mutex file:$d/run default
ErrorLog $d/error.log
TypesConfig /dev/null
EOF
	[ -z "$RUNUSER" ] || printf 'User %s\nGroup %s\n' "$RUNUSER" "$RUNUSER"
	printf '<Directory />\n  AllowOverride None\n  Require all denied\n</Directory>\n'
}
A=$T/apache-fcgid
mkdir -p "$A/data/www" "$A/run"
fdir=$(dirname "$APPR_FCGI")
# The config names /usr/local/bin/appr-fcgi: the one built here is the same file name.
[ "$(basename "$APPR_FCGI")" = appr-fcgi ] || bail "APPR_FCGI is not called appr-fcgi"
setup_fcgid() {
	sed -e "s|/usr/local/bin|$fdir|g" -e "s|/var/lib/appr|$A/data|g" \
		-e "s|127.0.0.1:5000|127.0.0.1:$PORT|" \
		-e "s|^\( *\)\(FcgidInitialEnv APPR_DATA_DIR .*\)|\1\2\n\1FcgidInitialEnv APPR_CONFIG $T/appr.conf|" \
		"$C/apache-fcgid.conf" >"$A/site.conf"
	{
		apache_main "$A" rewrite env headers mime fcgid xsendfile
		printf 'FcgidIPCDir %s/run/fcgid\nFcgidProcessTableFile %s/run/fcgid_shm\n' "$A" "$A"
		printf 'Include %s/site.conf\n' "$A"
	} >"$A/apache2.conf"
	own "$A"
}
start_server apache-fcgid setup_fcgid "$A/run.log" env -i PATH="$PATH" apache2 -f "$A/apache2.conf" -d "$A" -DFOREGROUND
ok $? "contrib/apache-fcgid.conf: Apache + mod_fcgid answers GET /version" || diag "$(tail "$A/error.log" 2>&1)"
apache2 -t -f "$A/apache2.conf" -d "$A" >"$A/check.log" 2>&1
ok $? "contrib/apache-fcgid.conf: apache2 -t accepts it" || diag "$(cat "$A/check.log")"
roundtrip apache-fcgid-conf
over_limit apache-fcgid.conf
stop_server

# ---- contrib/apache-cgi.htaccess (shared hosting) ----
H=$T/apache-cgi
mkdir -p "$H/data" "$H/www" "$H/run"
cp "$APPR_FCGI" "$H/www/appr.cgi"
sed -e "s|/home/USER/appr-data|$H/data|" \
	-e "s|^\(SetEnv APPR_DATA_DIR .*\)|\1\nSetEnv APPR_CONFIG $T/appr.conf|" \
	"$C/apache-cgi.htaccess" >"$H/www/.htaccess"
setup_cgi() {
	{
		apache_main "$H" rewrite env headers mime cgi
		cat <<EOF
DocumentRoot $H/www
<Directory $H/www>
  AllowOverride All
  Require all granted
</Directory>
EOF
	} >"$H/apache2.conf"
	own "$H"
}
start_server apache-cgi setup_cgi "$H/run.log" env -i PATH="$PATH" apache2 -f "$H/apache2.conf" -d "$H" -DFOREGROUND
ok $? "contrib/apache-cgi.htaccess: Apache + mod_cgi answers GET /version" || diag "$(tail "$H/error.log" 2>&1)"
roundtrip apache-cgi-htaccess
over_limit apache-cgi.htaccess
stop_server

# ---- contrib/systemd ----
S=$T/systemd
mkdir -p "$S"
for u in appr-fcgi.service appr-fcgi.socket appr-fcgi@.service; do
	sed -e "s|/usr/local/bin/appr-fcgi|$APPR_FCGI|g" "$C/systemd/$u" >"$S/$u"
done
if command -v systemd-analyze >/dev/null 2>&1; then
	out=$(cd "$S" && systemd-analyze verify --man=no ./appr-fcgi.service ./appr-fcgi.socket \
		./appr-fcgi@1.service 2>&1)
	is "$?:$out" "0:" "contrib/systemd: systemd-analyze verify finds nothing to say"
else
	ok 1 "contrib/systemd: systemd-analyze is missing: apt-get install systemd"
fi

# responders_of DIR: the pids of the processes (orphans included, as
# spawn-fcgi's are) whose environment has APPR_DATA_DIR=DIR.
responders_of() {
	local f
	for f in /proc/[0-9]*/environ; do
		tr '\0' '\n' 2>/dev/null <"$f" | grep -qxF "APPR_DATA_DIR=$1" || continue
		f=${f#/proc/}
		printf '%s ' "${f%/environ}"
	done
}

# ---- appr-serve: the web server's own errors are JSON; nothing outlives it ----
for server in lighttpd nginx apache-fcgid apache-cgi; do
	APPR_TEST_SERVER=$server
	appr_start
	over_limit "appr-serve --server $server"
	req GET /_appr_blobs/sha256/00/0000
	is_error 404 package-not-found "appr-serve --server $server: the blobs' internal location is not reachable"
	req POST /api/v1/packages/ns/nolength --data-binary '' -H 'Content-Length:'
	like "$STATUS $(jqb .code) $(header Content-Type)" '^(400|411) invalid-usage application/json' \
		"appr-serve --server $server: a POST without Content-Length: a JSON 400 or 411"
	appr_stop
	is "$(responders_of "$APPR_DATA")" "" \
		"appr-serve --server $server: no responder on its data directory outlives it"
done

out=$("$APPR_SERVE" --server bogus --port 1 2>&1)
is "$?:$out" "1:appr-serve: --server: \"bogus\" is not one of lighttpd, nginx, apache-fcgid, apache-cgi" \
	"appr-serve --server bogus: exit 1 with a message"
