#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests and the bench: its own data
# directory, a free loopback port, trust authentication, no durability (a
# test database is thrown away anyway). Nothing of the machine's own
# PostgreSQL service is used or touched.
#
#   scripts/pg.sh start   start it (idempotent) and print its admin URL
#   scripts/pg.sh url     print the admin URL of the running cluster
#   scripts/pg.sh stop    stop it and delete its data (idempotent)
#   scripts/pg.sh down    stop the server, keeping its data (restart tests)
#   scripts/pg.sh up      start it again on the same port after `down`
#   scripts/pg.sh freeze  stop its processes where they stand (SIGSTOP):
#                         connections stay open and nothing answers, as
#                         with a hung host or a network that drops packets
#   scripts/pg.sh thaw    let them go on (SIGCONT)
#
# CHEESESHOP_PG_SHARED_BUFFERS sets shared_buffers (default 128MB, as
# PostgreSQL ships; the bench gives its cluster 2GB, as a tuned server has).
# CHEESESHOP_PG_OPTIONS adds server options (the bench's cluster suite loads
# pg_stat_statements to count the statements a request makes).
#
# The admin URL names the `postgres` database as the superuser `cheeseshop`;
# tests create a database of their own through it. PostgreSQL itself comes
# from Debian's packages (`scripts/setup.sh` installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

# One cluster per checkout, outside it: the server runs as the `postgres`
# user when we are root, and that user need not be able to read the checkout.
DIR="${CHEESESHOP_PG_DIR:-/tmp/cheeseshop-pg-$(pwd | cksum | cut -d' ' -f1)}"
DATA="$DIR/data"

bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        echo "PostgreSQL is not installed: run scripts/setup.sh (apt: postgresql postgresql-contrib)" >&2
        exit 1
    fi
    echo "$dir"
}

# initdb and the server refuse to run as root.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    [ -f "$DIR/url" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    if running; then
        cat "$DIR/url"
        return
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR"; fi
    as_owner "$BIN/initdb" -D "$DATA" -U cheeseshop --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; exit 1; }
    local port tries=0
    until
        port=$(free_port)
        echo "-p $port -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=${CHEESESHOP_PG_SHARED_BUFFERS:-128MB} ${CHEESESHOP_PG_OPTIONS:-}" >"$DIR/options"
        up
    do
        # Another process may have taken the port in between: try another.
        tries=$((tries + 1))
        if [ "$tries" -ge 3 ]; then
            cat "$DIR/server.log" >&2
            exit 1
        fi
    done
    echo "postgres://cheeseshop@127.0.0.1:$port/postgres" >"$DIR/url.tmp"
    mv "$DIR/url.tmp" "$DIR/url"
    cat "$DIR/url"
}

stop() {
    if [ -d "$DATA" ]; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

# `down` drops every connection at once (a fast shutdown, as a restart or a
# failover does); `up` starts the server with the options and port of the
# first start (kept in $DIR/options by `start`).
down() {
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
}

up() {
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 start -o "$(cat "$DIR/options")" \
        >>"$DIR/pg_ctl.log" 2>&1 9>&-
}

# The postmaster first: once it is stopped it starts no new backend.
freeze() {
    local main
    main=$(head -n 1 "$DATA/postmaster.pid")
    kill -STOP "$main"
    pgrep -P "$main" | xargs -r kill -STOP
}

thaw() {
    local main
    main=$(head -n 1 "$DATA/postmaster.pid")
    pgrep -P "$main" | xargs -r kill -CONT
    kill -CONT "$main"
}

BIN=$(bin_dir)
case "${1:-}" in
freeze)
    freeze
    ;;
thaw)
    thaw
    ;;
down)
    down
    ;;
up)
    up
    ;;
start)
    # Tests may start it from several processes at once: one at a time.
    mkdir -p "$(dirname "$DIR")"
    exec 9>"$DIR.lock"
    flock 9
    start
    ;;
url)
    running && cat "$DIR/url" || { echo "no cluster: run scripts/pg.sh start" >&2; exit 1; }
    ;;
stop)
    exec 9>"$DIR.lock"
    flock 9
    stop
    ;;
*)
    echo "usage: scripts/pg.sh start|url|stop|down|up|freeze|thaw" >&2
    exit 2
    ;;
esac
