#!/usr/bin/env bash
# Installs everything cheeseshop needs to build, run and test on a fresh
# Debian machine, skipping whatever is already there. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130

say() { printf '==> %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }
SUDO=""
if [ "$(id -u)" -ne 0 ] && have sudo; then SUDO=sudo; fi
APT_UPDATED=""
apt_install() {
    if [ -z "$APT_UPDATED" ]; then
        $SUDO apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

# A venv at $1 with exactly the pinned packages $2 (reinstalled when the pins change).
venv_install() {
    local dir=$1 packages=$2 what=$3
    if [ ! -f "$dir/.installed" ] || [ "$(cat "$dir/.installed")" != "$packages" ]; then
        say "installing $what ($packages)"
        python3 -m venv "$dir"
        # shellcheck disable=SC2086
        "$dir/bin/pip" install --quiet --disable-pip-version-check $packages
        echo "$packages" > "$dir/.installed"
    fi
}

# The WASM target for the browser bundle.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

# cargo-leptos, without its own downloads: every tool it runs comes from PATH.
if ! cargo leptos --version 2>/dev/null | grep -q " $CARGO_LEPTOS_VERSION"; then
    say "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes a while, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

# wasm-bindgen CLI: must equal the wasm-bindgen crate pinned in Cargo.toml.
# (Not --locked: its lock file names a crate version the registry lacks.)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# cargo-nextest runs the Rust tests (one process per test).
if ! cargo nextest --version >/dev/null 2>&1; then
    say "installing cargo-nextest"
    cargo install cargo-nextest --locked
fi

# Node.js and npm for Playwright and binaryen's wasm-opt.
if ! have npm; then
    say "installing Node.js and npm"
    apt_install nodejs npm
fi
if [ ! -x end2end/node_modules/.bin/playwright ] || [ ! -x end2end/node_modules/.bin/wasm-opt ] \
    || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
    say "installing npm packages (Playwright, binaryen)"
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi

# A browser for the end-to-end tests (Playwright cannot download its own here).
if [ ! -x /usr/bin/chromium ]; then
    say "installing Chromium"
    apt_install chromium
fi

# PostgreSQL, the scale-out backend: the tests start a throwaway cluster of
# their own with it (scripts/pg.sh); contrib has pg_trgm. No service is
# started or needed.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
    || ! ls /usr/share/postgresql/*/extension/pg_trgm.control >/dev/null 2>&1; then
    say "installing PostgreSQL"
    apt_install postgresql postgresql-contrib
fi

# nginx from Debian, for the scale-out test (tests/http/cluster.rs runs its
# own, with its own configuration, on a free port). The package's service
# is not wanted: stopped and disabled if the machine's init started it.
if [ ! -x /usr/sbin/nginx ]; then
    say "installing nginx"
    apt_install nginx
    $SUDO service nginx stop >/dev/null 2>&1 || true
    $SUDO update-rc.d nginx disable >/dev/null 2>&1 || true
fi

# The real Python clients the index tests drive: twine and uv upload, pip
# and uv install, build makes the packages. A venv of the project's own.
PYTOOLS=.tools/python
PYTOOLS_PACKAGES="twine==7.0.0 build==1.6.1 uv==0.13.9 wheel==0.48.0 setuptools==80.9.0 trove-classifiers==2026.9.21.13"
venv_install "$PYTOOLS" "$PYTOOLS_PACKAGES" "Python clients for the tests"

# Other indexes as upstreams of the pull-through cache's tests: pypiserver
# and devpi-server (with its client, to make a user and an index).
UPSTREAM_PACKAGES="pypiserver==2.4.2 devpi-server==6.20.3 devpi-client==7.3.0"
venv_install .tools/upstreams "$UPSTREAM_PACKAGES" "pypiserver and devpi-server for the tests"

# An S3-compatible server for the tests of object storage: moto in server
# mode (scripts/s3.sh starts it), in a venv of its own.
S3TOOLS_PACKAGES="moto[server]==5.2.5"
venv_install .tools/s3 "$S3TOOLS_PACKAGES" "an S3-compatible server for the tests"

# The trove classifiers uploads are checked against, from PyPA's
# trove-classifiers package (pinned above); build.rs embeds the list in the
# server binary. Not committed: it is PyPA's data, fetched here.
TROVE=.tools/trove-classifiers.txt
if [ ! -s "$TROVE" ] || [ "$PYTOOLS/.installed" -nt "$TROVE" ]; then
    say "writing $TROVE from the trove-classifiers package"
    "$PYTOOLS/bin/python" - > "$TROVE.tmp" <<'PY'
import trove_classifiers as t
for name in sorted(t.classifiers):
    print(f"C\t{name}")
for name, replacements in sorted(t.deprecated_classifiers.items()):
    print("\t".join(["D", name, *replacements]))
PY
    mv "$TROVE.tmp" "$TROVE"
fi

# `make bench` only (`scripts/setup.sh bench`): wrk, the HTTP load generator,
# and the indexes cheeseshop is measured beside, in a venv of their own:
# pypiserver as its Docker image runs it (gunicorn, gevent, watchdog, at
# the versions its image pins), devpi-server with its client, and proxpi
# (the pull-through caches cheeseshop's upstream cache is measured beside).
if [ "${1:-}" = "bench" ]; then
    if ! have wrk; then
        say "installing wrk"
        apt_install wrk
    fi
    BENCHTOOLS=.tools/bench
    BENCH_PACKAGES="pypiserver==2.4.2 gevent==24.11.1 gunicorn==25.3.0 passlib==1.7.4 watchdog==6.0.0 devpi-server==6.20.3 devpi-client==7.3.0 twine==7.0.0 proxpi==1.3.1"
    venv_install "$BENCHTOOLS" "$BENCH_PACKAGES" "the peers for the benchmark"
fi

say "toolchain ready"
