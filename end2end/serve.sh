#!/usr/bin/env bash
# Started by Playwright (webServer): the release binary on a fresh database
# holding the shared dataset. Everything is removed when Playwright stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
export DATABASE_URL="sqlite://$dir/e2e.db"
export RUST_LOG=warn
./target/release/cheeseshop import "${DATASET:-../shared/data/pypi-top-100}" >/dev/null
# A site administrator, made as README says (the admin area's test logs in as it).
printf 'correct horse battery staple\n' | ./target/release/cheeseshop user create --username admin --email admin@example.org >/dev/null
./target/release/cheeseshop user admin grant admin >/dev/null
LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_ADDR="127.0.0.1:${PORT:-3100}" LEPTOS_ENV=PROD \
    ./target/release/cheeseshop &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
wait "$pid"
