# bench/nginx-pools.sh - sourced by bench/frontends.sh and bench/helm.sh: one nginx in
# front of three spawn-fcgi pools on unix sockets private to this user, and nginx's own
# static files. Not a program of its own.
#
# The caller sets: here (the source tree), fcgi (the appr-fcgi binary), tmp (a private
# directory, mode 755), PROCS (processes per pool), WORKERS (nginx workers), store_env
# (VAR=VALUE words for the responders' store; empty: SQLite in $tmp/data), and
# defines die MESSAGE. It calls pools_cleanup from its EXIT trap (with its own).
# pools_start then leaves:
#   A  http://127.0.0.1:PORT  appr-fcgi, blob_delivery = stream
#   B                         appr-fcgi, blob_delivery = x-accel-redirect (same store)
#   M                         bench/min-responder.c: a fixed 400-byte JSON answer
#   S                         nginx serving $tmp/www statically
#   data                      the data directory of A and B ($tmp/data)
#   nginx_pid, pidfiles       what pools_cleanup stops
# and the functions pool NAME and ticks POOL (CPU time of a pool, for per-request cost).

pidfiles=()
nginx_pid=
data=$tmp/data

# spawn-fcgi ends its pid file without a newline
pids_in() { tr -s ' \n' '  ' <"$1"; }

pools_cleanup() {
	local f p
	[ -z "$nginx_pid" ] || kill "$nginx_pid" 2>/dev/null || true
	for f in "${pidfiles[@]}"; do
		[ -f "$f" ] || continue
		for p in $(pids_in "$f"); do kill "$p" 2>/dev/null || true; done
	done
}

# spawn NAME PROGRAM [VAR=VALUE...]: a pool of PROCS processes on $tmp/NAME.sock
pools_spawn() {
	local name=$1 prog=$2
	shift 2
	env APPR_CONFIG="$tmp/appr.conf" APPR_DATA_DIR="$data" APPR_FSYNC=false \
		"${store_env[@]}" "$@" \
		spawn-fcgi -s "$tmp/$name.sock" -M 0600 -F "$PROCS" -P "$tmp/$name.pid" \
		-- "$prog" >>"$tmp/spawn.log" 2>&1 || die "spawn-fcgi $name failed: $(cat "$tmp/spawn.log")"
	pidfiles+=("$tmp/$name.pid")
}

# the nginx configuration for ports $1..$1+3
pools_nginx_conf() {
	local pA=$1 pB=$(($1 + 1)) pM=$(($1 + 2)) pS=$(($1 + 3)) user=
	[ "$(id -u)" -ne 0 ] || user="user root;"   # the workers must reach the 0600 sockets
	# no upstream keepalive (fastcgi_keep_conn off): libfcgi serves one connection at a time
	local fastcgi="include /etc/nginx/fastcgi_params; fastcgi_keep_conn off;"
	local accel="location ^~ /_appr_blobs/ {
		internal;
		alias $data/blobs/;
		etag off;                     # the responder's ETag (the digest) instead
		add_header ETag \$upstream_http_etag;
	}"
	cat <<EOF
$user
worker_processes $WORKERS;
pid $tmp/nginx.pid;
error_log $tmp/nginx/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
	access_log off;
	types { application/x-gzip gz tgz; application/x-yaml yaml; }
	default_type application/octet-stream;
	sendfile on;
	client_max_body_size 64m;
	client_body_temp_path $tmp/nginx/body;
	fastcgi_temp_path $tmp/nginx/fastcgi;
	proxy_temp_path $tmp/nginx/proxy;
	uwsgi_temp_path $tmp/nginx/uwsgi;
	scgi_temp_path $tmp/nginx/scgi;
	server {
		listen 127.0.0.1:$pA;
		location / { $fastcgi fastcgi_pass unix:$tmp/stream.sock; }
	}
	server {
		listen 127.0.0.1:$pB;
		location / { $fastcgi fastcgi_pass unix:$tmp/accel.sock; }
		$accel
	}
	server {
		listen 127.0.0.1:$pM;
		location / { $fastcgi fastcgi_pass unix:$tmp/min.sock; }
	}
	server {
		listen 127.0.0.1:$pS;
		root $tmp/www;
	}
}
EOF
}

pools_start() {
	local nginx port fcgi_cflags fcgi_libs
	nginx=$(command -v nginx || echo /usr/sbin/nginx)
	# ---- the minimal responder ----
	read -r -a fcgi_cflags <<<"$(pkg-config --cflags fcgi)" || true
	read -r -a fcgi_libs <<<"$(pkg-config --libs fcgi)" || true
	cc -std=c11 -O2 "${fcgi_cflags[@]}" -o "$tmp/min-responder" \
		"$here/bench/min-responder.c" "${fcgi_libs[@]}" ||
		die "cannot compile bench/min-responder.c (apt-get install libfcgi-dev)"
	# ---- the pools; the first responder creates the data directory alone ----
	: >"$tmp/appr.conf"
	env APPR_CONFIG="$tmp/appr.conf" APPR_DATA_DIR="$data" "${store_env[@]}" \
		GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI=/version \
		"$fcgi" </dev/null >/dev/null 2>"$tmp/first.log" ||
		die "appr-fcgi refused to start: $(cat "$tmp/first.log")"
	pools_spawn stream "$fcgi" APPR_BLOB_DELIVERY=stream
	pools_spawn accel "$fcgi" APPR_BLOB_DELIVERY=x-accel-redirect
	pools_spawn min "$tmp/min-responder"
	# ---- nginx: four consecutive ports; others if one is taken ----
	mkdir -p "$tmp/www" "$tmp/nginx"
	for _ in $(seq 10); do
		port=$((20000 + RANDOM % 30000))
		pools_nginx_conf "$port" >"$tmp/nginx.conf"
		"$nginx" -t -q -p "$tmp/nginx" -c "$tmp/nginx.conf" 2>"$tmp/nginx-t.log" ||
			die "nginx refused the configuration: $(cat "$tmp/nginx-t.log")"
		"$nginx" -p "$tmp/nginx" -c "$tmp/nginx.conf" 2>>"$tmp/nginx/error.log" &
		nginx_pid=$!
		A=http://127.0.0.1:$port B=http://127.0.0.1:$((port + 1))
		M=http://127.0.0.1:$((port + 2)) S=http://127.0.0.1:$((port + 3))
		for _ in $(seq 100); do
			kill -0 "$nginx_pid" 2>/dev/null || break
			curl -sf "$A/version" >/dev/null && curl -sf "$M/" >/dev/null && break
			sleep 0.1
		done
		kill -0 "$nginx_pid" 2>/dev/null && break
		wait "$nginx_pid" || true
		nginx_pid=
		grep -q 'in use' "$tmp/nginx/error.log" ||
			die "nginx failed: $(tail -5 "$tmp/nginx/error.log")"
	done
	[ -n "$nginx_pid" ] || die "no free ports for nginx in 10 tries"
	curl -sf "$A/version" >/dev/null ||
		die "nginx + appr-fcgi do not answer: $(tail -5 "$tmp/nginx/error.log")"
}

# pool NAME: the pool serving target NAME (min, accel for *_accel, stream; none for
# static)
pool() {
	case $1 in
	min | min4k) echo min ;;
	static) echo none ;;
	*_accel) echo accel ;;
	*) echo stream ;;
	esac
}

# ticks POOL: the CPU clock ticks (user + system) its processes used so far
ticks() {
	local p line f t=0
	[ -f "$tmp/$1.pid" ] || { echo 0; return; }
	for p in $(pids_in "$tmp/$1.pid"); do
		read -r line 2>/dev/null <"/proc/$p/stat" || continue
		read -r -a f <<<"${line##*) }"
		t=$((t + f[11] + f[12]))
	done
	echo "$t"
}
