#!/usr/bin/env bash
# A throwaway S3-compatible server for the tests: moto in server mode (from
# PyPI, installed by scripts/setup.sh into .tools/s3), on a free loopback
# port, its objects in memory. Nothing else is touched.
#
#   scripts/s3.sh start   start it (idempotent) and print its endpoint URL
#   scripts/s3.sh url     print the endpoint of the running server
#   scripts/s3.sh stop    stop it (idempotent)
#
# Clients reach it with path-style requests over plain HTTP: AWS_ENDPOINT=<url>,
# AWS_ALLOW_HTTP=true, any AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and a
# bucket made first (moto accepts an unsigned `PUT /<bucket>`).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${CHEESESHOP_S3_DIR:-/tmp/cheeseshop-s3-$(pwd | cksum | cut -d' ' -f1)}"
MOTO=.tools/s3/bin/moto_server

running() {
    [ -f "$DIR/url" ] && [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    if running; then
        cat "$DIR/url"
        return
    fi
    if [ ! -x "$MOTO" ]; then
        echo "moto is not installed: run scripts/setup.sh" >&2
        exit 1
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    local port tries=0
    while :; do
        port=$(free_port)
        setsid "$MOTO" -H 127.0.0.1 -p "$port" >"$DIR/server.log" 2>&1 9>&- &
        echo $! >"$DIR/pid"
        for _ in $(seq 1 100); do
            if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
                "http://127.0.0.1:$port/moto-api/" 2>/dev/null; then
                echo "http://127.0.0.1:$port" >"$DIR/url"
                cat "$DIR/url"
                return
            fi
            kill -0 "$(cat "$DIR/pid")" 2>/dev/null || break
            sleep 0.1
        done
        kill "$(cat "$DIR/pid")" 2>/dev/null || true
        # Another process may have taken the port in between: try another.
        tries=$((tries + 1))
        if [ "$tries" -ge 3 ]; then
            cat "$DIR/server.log" >&2
            exit 1
        fi
    done
}

stop() {
    if [ -f "$DIR/pid" ]; then
        kill "$(cat "$DIR/pid")" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}

case "${1:-}" in
start)
    # Tests may start it from several processes at once: one at a time.
    mkdir -p "$(dirname "$DIR")"
    exec 9>"$DIR.lock"
    flock 9
    start
    ;;
url)
    running && cat "$DIR/url" || { echo "no S3 server: run scripts/s3.sh start" >&2; exit 1; }
    ;;
stop)
    exec 9>"$DIR.lock"
    flock 9
    stop
    ;;
*)
    echo "usage: scripts/s3.sh start|url|stop" >&2
    exit 2
    ;;
esac
