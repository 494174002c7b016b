#!/usr/bin/env bash
# README's "Scale out" example on loopback, in the foreground: a throwaway
# PostgreSQL (scripts/pg.sh), an S3-compatible store (scripts/s3.sh: moto),
# N instances of the release binary on one database and one bucket, and
# nginx from Debian in front of them, round-robin, on ADDR. Ctrl-C (or
# SIGTERM) stops all of it and deletes its data.
#
#   scripts/cluster.sh [INSTANCES]      default 3; `make cluster` runs it
#
#   ADDR     [127.0.0.1:3000]   where nginx listens
#   DATASET  [../shared/data/pypi-top-100]  imported first when present
#
# Playwright's cluster journey (end2end/playwright.cluster.config.ts) runs
# its browser through this. Its PostgreSQL and store are its own
# (CHEESESHOP_PG_DIR, CHEESESHOP_S3_DIR), apart from `make test`'s.
set -euo pipefail
cd "$(dirname "$0")/.."

INSTANCES="${1:-3}"
ADDR="${ADDR:-127.0.0.1:3000}"
DATASET="${DATASET:-../shared/data/pypi-top-100}"
BIN=target/release/cheeseshop
NGINX=/usr/sbin/nginx

for need in "$BIN" "$NGINX" target/site; do
    if [ ! -e "$need" ]; then
        echo "$need is missing: run make build (and scripts/setup.sh for nginx)" >&2
        exit 1
    fi
done

DIR=$(mktemp -d /tmp/cheeseshop-cluster.XXXXXX)
# PostgreSQL runs as its own user when we are root: it must reach $DIR/pg.
chmod 711 "$DIR"
export CHEESESHOP_PG_DIR="$DIR/pg" CHEESESHOP_S3_DIR="$DIR/s3"
pids=()
nginx_pid=
cleanup() {
    trap - EXIT INT TERM
    # nginx's master takes its workers down on TERM (KILL would leave them).
    [ -n "$nginx_pid" ] && kill -TERM "$nginx_pid" 2>/dev/null
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}" $nginx_pid; do wait "$pid" 2>/dev/null || true; done
    scripts/s3.sh stop >/dev/null 2>&1 || true
    scripts/pg.sh stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The database and the bucket, made once, as an operator would.
admin=$(scripts/pg.sh start)
psql "$admin" -qAtX -c 'CREATE DATABASE cheeseshop' >/dev/null
export DATABASE_URL="${admin%/*}/cheeseshop"
endpoint=$(scripts/s3.sh start)
python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="PUT"))' \
    "$endpoint/packages"

# The environment every instance shares (README, "Scale out").
export CHEESESHOP_STORAGE_URL=s3://packages/cheeseshop
export AWS_ENDPOINT="$endpoint" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=cheeseshop AWS_SECRET_ACCESS_KEY=cheeseshop
export CHEESESHOP_TRUST_PROXY=1 LEPTOS_ENV=PROD LEPTOS_SITE_ROOT=target/site
export RUST_LOG="${RUST_LOG:-warn}"

$BIN migrate >/dev/null
if [ -d "$DATASET" ]; then
    $BIN import --if-empty "$DATASET" >/dev/null
fi

ports=()
for i in $(seq 1 "$INSTANCES"); do
    port=$(free_port)
    CHEESESHOP_STAGING_DIR="$DIR/staging-$i" LEPTOS_SITE_ADDR="127.0.0.1:$port" \
        $BIN >"$DIR/instance-$i.log" 2>&1 &
    pids+=($!)
    ports+=("$port")
    echo "instance $i: http://127.0.0.1:$port (log: $DIR/instance-$i.log)" >&2
done
for i in $(seq 1 "$INSTANCES"); do
    port=${ports[$((i - 1))]}
    for _ in $(seq 1 300); do
        if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
            "http://127.0.0.1:$port/_health" 2>/dev/null; then
            break
        fi
        kill -0 "${pids[$((i - 1))]}" 2>/dev/null || { cat "$DIR/instance-$i.log" >&2; exit 1; }
        sleep 0.2
    done
done

conf=$(scripts/nginx.sh "$DIR/nginx" "$ADDR" "${ports[@]}")
"$NGINX" -p "$DIR/nginx" -c "$conf" 2>"$DIR/nginx/logs/stderr.log" &
nginx_pid=$!
echo "cheeseshop: $INSTANCES instances behind nginx on http://$ADDR" >&2
# Until one of them stops, or we are told to.
wait -n "${pids[@]}" "$nginx_pid"
echo "a process of the cluster exited; stopping the rest" >&2
exit 1
