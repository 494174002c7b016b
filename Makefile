# cheeseshop — see README.md. `make run` and `make test` are all a new machine needs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# Tools installed by scripts/setup.sh: cargo's bin dir and the npm packages
# (binaryen's wasm-opt for release builds, Playwright).
export PATH := $(CURDIR)/end2end/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

# A clean checkout (CI) gains nothing from incremental compilation, and its
# state runs to tens of gigabytes: off for every build made here.
export CARGO_INCREMENTAL ?= 0

DATASET      ?= ../shared/data/pypi-top-100
DATABASE_URL ?= sqlite://cheeseshop.db
ADDR         ?= 127.0.0.1:3000
BIN          := target/release/cheeseshop
export DATABASE_URL

.PHONY: all setup build run dev test lint fmt check-fmt clippy unit e2e cluster bench clean

all: build

setup:
	@scripts/setup.sh

build: setup
	cargo leptos build --release --precompress

## Serve on http://$(ADDR) with data: the shared PyPI dataset when it is
## there, synthetic demo data otherwise (only when the database is empty).
run: build
	$(BIN) migrate
	@if [ -d "$(DATASET)" ]; then \
		$(BIN) import --if-empty "$(DATASET)"; \
	else \
		$(BIN) demo-data --if-empty --projects 1000; \
	fi
	LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_ADDR=$(ADDR) LEPTOS_ENV=PROD $(BIN)

## Development: rebuild and reload on every change.
dev: setup
	cargo leptos watch

test: setup check-fmt clippy unit e2e

check-fmt:
	cargo fmt --all -- --check

fmt:
	cargo fmt --all

clippy:
	cargo clippy --features ssr --all-targets -- -D warnings
	cargo clippy --features hydrate --lib --target wasm32-unknown-unknown -- -D warnings

## Unit tests (domain, importer) and HTTP integration tests against the real
## server. nextest runs every test in its own process: each test starts its own
## server and runtime, and Leptos keeps process-wide state that assumes one.
## Then the whole HTTP and CLI suite again on PostgreSQL: a throwaway cluster
## (scripts/pg.sh) with a fresh database per test, stopped after. The tests
## that name their backends (postgres::, copy::, cluster::) ran in the first pass.
## Both passes have an S3-compatible server (scripts/s3.sh: moto) for the
## object-storage tests, stopped after too.
unit:
	@url=$$(scripts/pg.sh start) || exit 1; \
	s3=$$(scripts/s3.sh start) || { scripts/pg.sh stop; exit 1; }; \
	CHEESESHOP_TEST_POSTGRES=$$url CHEESESHOP_TEST_S3=$$s3 cargo nextest run --features ssr --no-fail-fast; \
	status=$$?; \
	echo "== the HTTP and CLI suite on PostgreSQL"; \
	CHEESESHOP_TEST_POSTGRES=$$url CHEESESHOP_TEST_S3=$$s3 CHEESESHOP_TEST_BACKEND=postgres \
	    cargo nextest run --features ssr --test http --no-fail-fast -E 'not test(/^(postgres|copy|cluster)::/)' \
	    || status=1; \
	scripts/s3.sh stop; scripts/pg.sh stop; exit $$status

## Playwright against the release build: the single-server suite
## (end2end/playwright.config.ts starts the server), then the journey through
## nginx in front of three instances on PostgreSQL and an S3-compatible store
## (end2end/playwright.cluster.config.ts starts scripts/cluster.sh).
e2e: build
	cd end2end && npx playwright test
	cd end2end && npx playwright test -c playwright.cluster.config.ts

## README's "Scale out" example on loopback: three instances behind nginx on
## $(ADDR), on a throwaway PostgreSQL and S3-compatible store (Ctrl-C stops all).
cluster: build
	ADDR=$(ADDR) scripts/cluster.sh 3

## Load benchmark (not part of `make test`): see bench/bench.py. Prints a
## Markdown report and writes it to bench/results/<date>.md.
bench: build
	@scripts/setup.sh bench
	cargo build --release --example ceiling --features ssr
	python3 bench/bench.py

clean:
	-scripts/pg.sh stop
	-scripts/s3.sh stop
	cargo clean
	rm -rf end2end/node_modules end2end/test-results end2end/playwright-report
