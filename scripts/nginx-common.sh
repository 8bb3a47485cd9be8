# Sourced by demo-broker.sh, demo-learn.sh and bench-nginx.sh: Debian's
# nginx, unchanged, in a scratch tree of its own ($tmp), on 127.0.0.1:$PORT.
# The caller sets PORT before calling these; they set tmp and server.

# nginx_dirs [MKTEMP_TEMPLATE]: make $tmp with nginx's tree in it (www, logs,
# run, and tmp, which nobody owns for its temporary files); removed at exit,
# with the server still running, if any.
nginx_dirs() {
	tmp=$(mktemp -d "$@")
	chmod 0755 "$tmp"
	server=
	trap nginx_cleanup EXIT INT TERM
	mkdir "$tmp/www" "$tmp/logs" "$tmp/run" "$tmp/tmp"
	chown nobody "$tmp/tmp"
}

nginx_cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$tmp"
}

# Standard input becomes the page nginx serves, readable by all.
nginx_page() {
	cat > "$tmp/www/index.html"
	chmod -R a+rX "$tmp/www"
}

# Empty logs only root may open: nginx as nobody gets them from the monitor.
nginx_logs() {
	: > "$tmp/logs/access.log"
	: > "$tmp/logs/error.log"
	chmod 0600 "$tmp/logs/access.log" "$tmp/logs/error.log"
}

# nginx_conf WORKERS CONNECTIONS PID_DIR [ERROR_LEVEL [HTTP_DIRECTIVES]]:
# write $tmp/nginx.conf, every path of it in $tmp.
nginx_conf() {
	cat > "$tmp/nginx.conf" <<CONF
daemon off;
worker_processes $1;
pid $3/nginx.pid;
error_log $tmp/logs/error.log${4:+ $4};
events { worker_connections $2; }
http {
    access_log $tmp/logs/access.log;
    client_body_temp_path $tmp/tmp/body;
    proxy_temp_path $tmp/tmp/proxy;
    fastcgi_temp_path $tmp/tmp/fastcgi;
    uwsgi_temp_path $tmp/tmp/uwsgi;
    scgi_temp_path $tmp/tmp/scgi;
    ${5:-}
    server { listen 127.0.0.1:$PORT; root $tmp/www; }
}
CONF
}

# The policy's lines for what only root could give nginx: the port and the
# logs; then the pid file in $tmp/run.
nginx_policy_logs() {
	printf 'bind    127.0.0.1:%s\n' "$PORT"
	printf 'open_ao { %s %s }\n' "$tmp/logs/error.log" "$tmp/logs/access.log"
}

nginx_policy_pid() {
	printf 'open_rw %s\n' "$tmp/run/nginx.pid"
	printf 'unlink  %s\n' "$tmp/run/nginx.pid"
}

# Whether something answers HTTP on the port already.
nginx_port_busy() {
	curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null
}

# Start "$@" in the background (its output in $tmp/server.log, its pid in
# $server) and wait up to 5 s until nginx answers; 1 if it never does.
nginx_start() {
	"$@" >"$tmp/server.log" 2>&1 &
	server=$!
	tries=0
	until curl -s --max-time 1 -o /dev/null "http://127.0.0.1:$PORT/"; do
		tries=$((tries + 1))
		if [ $tries -ge 50 ] || ! kill -0 "$server" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
}

# nginx_start, saying why on failure, as the demos do.
nginx_serve() {
	nginx_start "$@" && return 0
	echo "nginx did not answer; its output:"
	cat "$tmp/server.log"
	return 1
}

nginx_stop() {
	kill "$server"
	wait "$server" 2>/dev/null
	server=
}
