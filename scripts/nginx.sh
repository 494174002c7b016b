#!/usr/bin/env bash
# Writes the nginx configuration that puts instances behind one address,
# round-robin: README's "Scale out" example with loopback paths. One copy for
# everything that starts nginx here: `make cluster` (scripts/cluster.sh),
# the scale-out tests (tests/http/cluster.rs) and the bench's cluster suite.
#
#   scripts/nginx.sh DIR LISTEN PORT...
#
# DIR holds the configuration (DIR/nginx.conf, printed on stdout), the pid
# file, the logs and nginx's temporary files; LISTEN is host:port; each
# PORT is an instance on 127.0.0.1. Start it with
#   nginx -p DIR -c DIR/nginx.conf
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 DIR LISTEN PORT..." >&2
    exit 2
fi
dir=$(realpath -m "$1")
listen=$2
shift 2
mkdir -p "$dir/logs"
upstreams=
for port in "$@"; do
    upstreams+="        server 127.0.0.1:$port max_fails=1 fail_timeout=10s;"$'\n'
done
# As root, nginx's workers would switch to `nobody`, who cannot write the
# temporary directories here.
user=
[ "$(id -u)" -eq 0 ] && user="user root;"
cat >"$dir/nginx.conf" <<CONF
$user
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    upstream cheeseshop {
$upstreams        keepalive 64;
    }
    server {
        listen $listen;
        # Above CHEESESHOP_MAX_UPLOAD_MB: the instance refuses with its own message.
        client_max_body_size 200m;
        location / {
            proxy_pass http://cheeseshop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$http_host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            # A refused connection is retried on the next instance.
            proxy_next_upstream error timeout http_502 http_503;
            # Answers up to 2 MiB pass through memory, not temporary files.
            proxy_buffers 32 64k;
            proxy_busy_buffers_size 128k;
            # Which instance answered (the tests check the round-robin).
            add_header X-Upstream \$upstream_addr always;
        }
    }
}
CONF
echo "$dir/nginx.conf"
