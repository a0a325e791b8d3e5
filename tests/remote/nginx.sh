# Sourced: a private nginx on loopback serving ROOT the ways a hub and its CDN do, for
# tests/remote/http_test.sh and bench/remote.sh.
#
#   start_nginx ROOT DIR     config, pid, logs and temp files under DIR; sets PORT (the "hub",
#                            127.0.0.1) and CDN_PORT (the redirect target, reached as localhost:
#                            another host, so a token must not follow). stop_nginx stops it.
#
# Locations of the hub port, each over ROOT:
#   /plain/...                          static files, byte ranges as usual
#   /hub/models/NAME/resolve/REV/FILE   hf://models/NAME with HF_ENDPOINT=http://127.0.0.1:PORT/hub:
#                                       *.safetensors answer 302 to the CDN, other files directly
#   /gated/models/NAME/resolve/REV/F    the same, but 401 without "Authorization: Bearer secret-token"
#   /norange/...                        ignores Range (max_ranges 0: 200 and the whole file)
#   /slow/...                           1 byte a second after the first 8
#   /drop/...                           *.safetensors proxied to a stalling upstream: the connection
#                                       closes after ~1000 bytes (mid-header), other files static
#   /hub/models/norepo/...              404 with X-Error-Code: RepoNotFound, as the hub answers
#   /busy/...                           503 always
#   /badredir/...                       302 to file:///etc/passwd
# The CDN port serves /cdn/... (static) and /stall/... (the upstream of /drop/). The access log
# (DIR/access.log) has "PORT STATUS BODY_BYTES AUTH URI" per request, AUTH "-" or "bearer".

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start_nginx() {
  local root=$1 dir=$2
  NGINX_DIR=$dir
  local nginx
  nginx=$(PATH=$PATH:/usr/sbin:/sbin command -v nginx) || return 77
  PORT=$(free_port)
  CDN_PORT=$(free_port)
  while [[ $CDN_PORT == "$PORT" ]]; do CDN_PORT=$(free_port); done
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<CONF
daemon on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 512; }
http {
  log_format bytes '\$server_port \$status \$body_bytes_sent \$auth_seen \$request_uri';
  map \$http_authorization \$auth_seen { "" "-"; default "bearer"; }
  access_log $dir/access.log bytes;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  types { application/json json; }
  default_type application/octet-stream;
  keepalive_requests 10000;
  gzip on;  # JSON files compressed when asked (never a byte range: nginx skips 206 answers)
  gzip_types application/json;
  server {
    listen 127.0.0.1:$PORT;
    location /plain/ { alias $root/; }
    location ~ ^/hub/models/([^/]+)/resolve/[^/]+/(.+\.safetensors)\$ {
      return 302 http://localhost:$CDN_PORT/cdn/\$1/\$2?X-Amz-Signature=abc;
    }
    location ~ ^/hub/models/([^/]+)/resolve/[^/]+/(.+)\$ { alias $root/\$1/\$2; }
    location ~ ^/gated/models/([^/]+)/resolve/[^/]+/(.+\.safetensors)\$ {
      if (\$http_authorization != "Bearer secret-token") { return 401; }
      return 302 http://localhost:$CDN_PORT/cdn/\$1/\$2;
    }
    location ~ ^/gated/models/([^/]+)/resolve/[^/]+/(.+)\$ {
      if (\$http_authorization != "Bearer secret-token") { return 401; }
      alias $root/\$1/\$2;
    }
    location /norange/ { alias $root/; max_ranges 0; }
    location /slow/ { alias $root/; limit_rate_after 8; limit_rate 1; }
    location ~ ^/drop/(.+\.safetensors)\$ {
      proxy_pass http://127.0.0.1:$CDN_PORT/stall/\$1;
      proxy_buffering off;
      proxy_read_timeout 300ms;
    }
    location /drop/ { alias $root/; }
    location ^~ /hub/models/norepo/ { add_header X-Error-Code RepoNotFound always; return 404; }
    location /busy/ { return 503; }
    location /badredir/ { return 302 file:///etc/passwd; }
  }
  server {
    listen 127.0.0.1:$CDN_PORT;
    location /cdn/ { alias $root/; }
    location /stall/ { alias $root/; limit_rate_after 1000; limit_rate 1; }
  }
}
CONF
  "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" || return 1
  local i
  for i in $(seq 100); do
    [[ -s $dir/nginx.pid ]] && return 0
    sleep 0.05
  done
  return 1
}

stop_nginx() {
  [[ -n ${NGINX_DIR:-} && -s $NGINX_DIR/nginx.pid ]] || return 0
  local pid
  pid=$(cat "$NGINX_DIR/nginx.pid")
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
}

# Bytes served on a port since the log was last cleared (BODY_BYTES summed).
served_bytes() { awk '{ s += $3 } END { print s + 0 }' "$NGINX_DIR/access.log"; }
clear_log() { : >"$NGINX_DIR/access.log"; kill -USR1 "$(cat "$NGINX_DIR/nginx.pid")"; sleep 0.05; }
