#!/usr/bin/env python3
"""`make bench`: throughput, latency and memory of the release server under
load, next to a static-file ceiling served by the same server, and the
async claim measured with latency injected into every database round trip.

Runs against target/release/cheeseshop and target/site (built by `make
build`), drives it with wrk on loopback, prints a Markdown report and writes
it to bench/results/<date>.md. It prints numbers; it never fails on them.

Environment knobs (defaults in brackets):
  BENCH_SECONDS [10]        length of each measured cell
  BENCH_WARMUP [2]          warm-up before each cell
  BENCH_CONNECTIONS [1,16,64,256]
  BENCH_PROJECTS [100000]   size of the synthetic catalogue
  BENCH_LATENCY_MS [10]     injected database latency in the async mode
  BENCH_POOL [32]           pool size in the async mode
  DATASET [../shared/data/pypi-top-100]
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target/release/cheeseshop"
SITE = ROOT / "target/site"
WORK = ROOT / "target/bench"
LUA = ROOT / "bench/report.lua"
RESULTS = ROOT / "bench/results"
CEILING_FILE = "bench-ceiling.html"

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "1,16,64,256").split(",")]
PROJECTS = int(os.environ.get("BENCH_PROJECTS", "100000"))
LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "10"))
LATENCY_POOL = int(os.environ.get("BENCH_POOL", "32"))
DATASET = Path(os.environ.get("DATASET", str(ROOT.parent / "shared/data/pypi-top-100")))
PORT = int(os.environ.get("BENCH_PORT", "3900"))
BASE = f"http://127.0.0.1:{PORT}"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"--> {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- databases


def prepare_db(name: str, args: list[str]) -> Path:
    """A database made once by the binary itself and kept in target/bench."""
    WORK.mkdir(parents=True, exist_ok=True)
    db = WORK / f"{name}.db"
    done = WORK / f"{name}.ok"
    if db.exists() and done.exists():
        return db
    for stale in WORK.glob(f"{name}.db*"):
        stale.unlink()
    log(f"preparing the {name} database: cheeseshop {' '.join(args)}")
    env = dict(os.environ, DATABASE_URL=f"sqlite://{db}", RUST_LOG="warn")
    subprocess.run([str(BIN), *args], env=env, check=True, stdout=subprocess.DEVNULL)
    done.touch()
    return db


def biggest_project(db: Path) -> str:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT p.normalized_name FROM projects p JOIN releases r ON r.project_id = p.id "
            "GROUP BY p.id ORDER BY COUNT(*) DESC, p.id LIMIT 1"
        ).fetchone()
    return row[0]


def a_search_term(db: Path) -> str:
    """A word from the most common project-name prefix: a search with many hits."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        names = [r[0] for r in conn.execute("SELECT normalized_name FROM projects LIMIT 2000")]
    words: dict[str, int] = {}
    for name in names:
        for word in name.split("-"):
            if len(word) > 2:
                words[word] = words.get(word, 0) + 1
    return max(words, key=lambda w: (words[w], w)) if words else "python"


# ------------------------------------------------------------------- server


class ServerProcess:
    def __init__(self, db: Path, label: str, extra_env: dict[str, str] | None = None):
        self.label = label
        env = dict(
            os.environ,
            DATABASE_URL=f"sqlite://{db}",
            LEPTOS_SITE_ROOT=str(SITE),
            LEPTOS_SITE_ADDR=f"127.0.0.1:{PORT}",
            LEPTOS_ENV="PROD",
            RUST_LOG="warn",
        )
        env.update(extra_env or {})
        self.log_path = WORK / f"server-{label}.log"
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(BIN)], env=env, stdout=self.log_file, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited at start-up; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{BASE}/about", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise SystemExit(f"the server did not answer within 60 s; see {self.log_path}")

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def status_kib(self, key: str) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log_file.close()


def fetch(path: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None):
    request = urllib.request.Request(BASE + path, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as r:
        return r.status, r.headers, r.read()


# ---------------------------------------------------------------------- wrk


@dataclass
class Route:
    name: str
    path: str
    method: str = "GET"
    body: str = ""
    content_type: str = ""

    def env(self) -> dict[str, str]:
        return {
            "BENCH_METHOD": self.method,
            "BENCH_BODY": self.body,
            "BENCH_CONTENT_TYPE": self.content_type,
        }


@dataclass
class Cell:
    route: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    bytes_per_response: float
    cpu_percent: float
    ratio: float | None = None


def wrk(route: Route, connections: int, seconds: int) -> dict:
    threads = max(1, min(connections, 2))
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(LUA), BASE + route.path,
    ]
    out = subprocess.run(cmd, env=dict(os.environ, **route.env()), capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise SystemExit(f"wrk printed no result:\n{out}")


def wait_until_idle(server: ServerProcess, timeout: float = 30.0) -> None:
    """Let the server finish what the last cell left queued (wrk stops
    sending, not the server working), so no cell pays for the one before."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        before = server.cpu_seconds()
        time.sleep(0.25)
        if server.cpu_seconds() - before < 0.25 * 0.05:
            return


def measure(server: ServerProcess, route: Route, connections: int) -> Cell:
    wait_until_idle(server)
    if WARMUP:
        wrk(route, connections, WARMUP)
    return measure_busy(server, route, connections)


def cell(route: Route, connections: int, r: dict, cpu_percent: float) -> Cell:
    """A table cell from wrk's result."""
    requests = max(r["requests"], 1)
    timeouts = r["timeout"]
    if r["requests"] == 0:
        # Nothing answered within wrk's timeout: every connection failed.
        timeouts = max(timeouts, connections)
    return Cell(
        route=route.name,
        connections=connections,
        rps=r["requests"] / (r["duration_us"] / 1e6),
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        non2xx=r["status"],
        socket_errors=r["connect"] + r["read"] + r["write"] + timeouts,
        bytes_per_response=r["bytes"] / requests,
        cpu_percent=cpu_percent,
    )


def measure_busy(server: ServerProcess, route: Route, connections: int) -> Cell:
    """One measured cell, whatever the server is doing already."""
    cpu0, t0 = server.cpu_seconds(), time.time()
    r = wrk(route, connections, SECONDS)
    cpu1, t1 = server.cpu_seconds(), time.time()
    return cell(route, connections, r, 100 * (cpu1 - cpu0) / (t1 - t0))


def measure_during(server: ServerProcess, route: Route, connections: int, load: Route, load_connections: int):
    """`route` measured while `load` runs at `load_connections` beside it."""
    wait_until_idle(server)
    result: dict = {}
    background = threading.Thread(
        target=lambda: result.update(wrk(load, load_connections, SECONDS + WARMUP + 2)), daemon=True
    )
    background.start()
    time.sleep(WARMUP + 1)
    measured = measure_busy(server, route, connections)
    background.join()
    if not result:
        raise SystemExit(f"wrk gave no result for {load.name} under load")
    return measured, cell(load, load_connections, result, 0)


# ------------------------------------------------------------------ the run


@dataclass
class Suite:
    label: str
    description: str
    cells: list[Cell] = field(default_factory=list)
    idle_rss_kib: int = 0
    peak_rss_kib: int = 0
    # `/` measured alone and while searches keep the server busy.
    home_alone: Cell | None = None
    home_during_search: Cell | None = None
    search_during: Cell | None = None


def check_route(route: Route) -> None:
    headers = {"Content-Type": route.content_type} if route.content_type else {}
    body = route.body.encode() if route.body else None
    status, _, payload = fetch(route.path, route.method, body, headers)
    if status != 200 or not payload:
        raise SystemExit(f"{route.name}: {route.path} answered {status}")


def run_suite(label: str, description: str, db: Path, project: str, term: str) -> Suite:
    suite = Suite(label, description)
    server = ServerProcess(db, label)
    try:
        suite.idle_rss_kib = server.status_kib("VmRSS")
        # The ceiling: the rendered home page's very bytes, served as a static
        # file by the same server (same stack, no page logic).
        _, _, home = fetch("/")
        (SITE / CEILING_FILE).write_bytes(home)
        routes = [
            Route("static ceiling", f"/{CEILING_FILE}"),
            Route("/", "/"),
            Route(f"/project/{project}/", f"/project/{project}/"),
            Route("/about", "/about"),
            Route(f"/search?q={term}", f"/search?q={term}"),
            Route(
                "server fn: project",
                "/api/project",
                method="POST",
                body=f"name={project}",
                content_type="application/x-www-form-urlencoded",
            ),
        ]
        for route in routes:
            check_route(route)
        for route in routes:
            for c in CONNECTIONS:
                log(f"{label}: {route.name} with {c} connections")
                suite.cells.append(measure(server, route, c))
        # Pages while a burst of searches (256 connections) keeps every
        # search slot busy and the rest queued: they must not wait for them.
        home, search = routes[1], routes[4]
        log(f"{label}: / with 16 connections, alone and during a search burst")
        suite.home_alone = measure(server, home, 16)
        suite.home_during_search, suite.search_during = measure_during(server, home, 16, search, 256)
        ceiling = {c.connections: c.rps for c in suite.cells if c.route == "static ceiling"}
        for cell in suite.cells:
            cell.ratio = cell.rps / ceiling[cell.connections] if ceiling.get(cell.connections) else None
        suite.peak_rss_kib = server.status_kib("VmHWM")
    finally:
        server.stop()
        (SITE / CEILING_FILE).unlink(missing_ok=True)
    return suite


@dataclass
class LatencyRow:
    connections: int
    rps: float
    bound: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class LatencyResult:
    route: str
    round_trips: float
    depth: int
    rows: list[LatencyRow]
    fast_alone: Cell | None = None
    fast_loaded: Cell | None = None


def round_trips() -> int:
    return int(fetch("/__bench/db-round-trips")[2])


def run_latency(db: Path) -> LatencyResult:
    latency_s = LATENCY_MS / 1000
    server = ServerProcess(
        db,
        "latency",
        {
            "CHEESESHOP_BENCH_DB_LATENCY_MS": str(LATENCY_MS),
            "CHEESESHOP_DB_MAX_CONNECTIONS": str(LATENCY_POOL),
            # The claim is about handlers that await the database: render
            # every request (a cached page still makes one round trip, for
            # the catalogue generation).
            "CHEESESHOP_PAGE_CACHE_MB": "0",
        },
    )
    try:
        slow = Route("/", "/")
        # Round trips per request, counted exactly over sequential requests;
        # and how many of them lie on the critical path (queries a request
        # issues concurrently overlap): its time alone, in latencies.
        fetch("/")
        before = round_trips()
        n = 20
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fetch("/")
            times.append(time.perf_counter() - t0)
        q = (round_trips() - before) / n
        depth = max(1, round(sorted(times)[n // 2] / latency_s))
        rows = []
        for c in CONNECTIONS:
            log(f"latency mode: / with {c} connections")
            cell = measure(server, slow, c)
            bound = min(c / (depth * latency_s), LATENCY_POOL / (q * latency_s))
            rows.append(LatencyRow(c, cell.rps, bound, cell.p50_ms, cell.p99_ms, cell.non2xx + cell.socket_errors))
        # A fast request (no database) alone, then while slow ones fill every
        # connection of the pool.
        fast = Route("/about", "/about")
        log("latency mode: /about alone")
        fast_alone = measure(server, fast, 1)
        load_connections = max(CONNECTIONS)
        loader = threading.Thread(target=wrk, args=(slow, load_connections, SECONDS + WARMUP + 4), daemon=True)
        loader.start()
        time.sleep(2)
        log(f"latency mode: /about while {load_connections} connections load /")
        fast_loaded = measure(server, fast, 1)
        loader.join()
    finally:
        server.stop()
    return LatencyResult("/", q, depth, rows, fast_alone, fast_loaded)


# ------------------------------------------------------------------- report


def size_line(path: Path) -> str:
    data = path.read_bytes()
    return f"{len(data) / 1024:,.1f} KiB raw, {len(gzip.compress(data, 9)) / 1024:,.1f} KiB gzip"


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, commit {commit.strip() or '?'}"


def suite_table(suite: Suite) -> list[str]:
    lines = [
        f"### {suite.description}",
        "",
        "| route | conns | req/s | p50 ms | p99 ms | non-2xx | socket errors | bytes/resp | vs ceiling | server CPU |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for c in suite.cells:
        ratio = f"{c.ratio:.0%}" if c.ratio is not None else "—"
        lines.append(
            f"| {c.route} | {c.connections} | {c.rps:,.0f} | {c.p50_ms:.2f} | {c.p99_ms:.2f} | {c.non2xx} | "
            f"{c.socket_errors} | {c.bytes_per_response:,.0f} | {ratio} | {c.cpu_percent:.0f}% |"
        )
    if suite.home_alone and suite.home_during_search and suite.search_during:
        a, b, load = suite.home_alone, suite.home_during_search, suite.search_during
        lines += [
            "",
            f"`/` at {a.connections} connections alone: {a.rps:,.0f} req/s, p50 {a.p50_ms:.2f} ms, "
            f"p99 {a.p99_ms:.2f} ms; while `{load.route}` runs at {load.connections} connections beside it "
            f"({load.rps:,.0f} searches/s, {load.non2xx + load.socket_errors} errors): {b.rps:,.0f} req/s, "
            f"p50 {b.p50_ms:.2f} ms, p99 {b.p99_ms:.2f} ms, {b.non2xx + b.socket_errors} errors.",
        ]
    lines += [
        "",
        f"Server memory: {suite.idle_rss_kib / 1024:.1f} MiB RSS after start, "
        f"peak (VmHWM) {suite.peak_rss_kib / 1024:.1f} MiB over the whole run.",
        "",
    ]
    return lines


def targets(suites: list[Suite], latency: LatencyResult | None, wasm_gzip_kb: float) -> list[str]:
    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = ["## Targets", "", "| target | measured | |", "|---|---|---|"]
    for suite in suites:
        pages = [r for r in {c.route for c in suite.cells} if r == "/" or r.startswith("/project/")]
        for route in sorted(pages):
            at64 = next((c for c in suite.cells if c.route == route and c.connections == 64), None)
            at256 = next((c for c in suite.cells if c.route == route and c.connections == 256), None)
            if at64 and at64.ratio is not None:
                lines.append(
                    f"| {suite.label} `{route}` ≥ 50 % of ceiling at 64 | {at64.ratio:.0%} | {verdict(at64.ratio >= 0.5)} |"
                )
                lines.append(
                    f"| {suite.label} `{route}` p99 ≤ 10 ms at 64 | {at64.p99_ms:.1f} ms | {verdict(at64.p99_ms <= 10)} |"
                )
            if at256:
                errors = at256.non2xx + at256.socket_errors
                lines.append(f"| {suite.label} `{route}` 0 errors at 256 | {errors} | {verdict(errors == 0)} |")
        lines.append(
            f"| {suite.label} peak RSS ≤ 60 MiB | {suite.peak_rss_kib / 1024:.1f} MiB | "
            f"{verdict(suite.peak_rss_kib <= 60 * 1024)} |"
        )
    lines.append(f"| release WASM ≤ 150 KB gzip | {wasm_gzip_kb:.0f} KB | {verdict(wasm_gzip_kb <= 150)} |")
    if latency:
        worst = min(r.rps / r.bound for r in latency.rows)
        lines.append(f"| injected latency: ≥ 80 % of the bound | worst {worst:.0%} | {verdict(worst >= 0.8)} |")
    return lines + [""]


def latency_section(result: LatencyResult) -> list[str]:
    lines = [
        f"### The async claim: {LATENCY_MS:g} ms added to every database round trip",
        "",
        f"Route `{result.route}` makes {result.round_trips:g} database round trips per request (counted by the "
        f"server), {result.depth} after another (the rest run concurrently). Page cache off: every request is "
        f"rendered. Pool: {LATENCY_POOL} connections. "
        "Bound = min(C / (sequential round trips × latency), pool / (round trips × latency)): the first term "
        "is C clients each waiting on the database, the second the pool kept busy.",
        "",
        "| conns | req/s | bound | measured / bound | p50 ms | p99 ms | errors |",
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in result.rows:
        lines.append(
            f"| {r.connections} | {r.rps:,.0f} | {r.bound:,.0f} | {r.rps / r.bound:.0%} | {r.p50_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.errors} |"
        )
    a, b = result.fast_alone, result.fast_loaded
    if a and b:
        lines += [
            "",
            f"A fast request (`/about`, no database) alone: p50 {a.p50_ms:.2f} ms, p99 {a.p99_ms:.2f} ms; "
            f"while {max(CONNECTIONS)} connections keep slow `/` requests in flight: "
            f"p50 {b.p50_ms:.2f} ms, p99 {b.p99_ms:.2f} ms.",
        ]
    return lines + [""]


def main() -> None:
    for tool in ("wrk",):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run `make bench`, which installs it")
    if not BIN.exists() or not (SITE / "pkg").exists():
        raise SystemExit("no release build: run `make bench` (it runs `make build` first)")
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.time()

    suites: list[Suite] = []
    latency_db = None
    if DATASET.is_dir():
        db = prepare_db("dataset", ["import", str(DATASET)])
        project = "botocore" if (DATASET / "botocore.json").exists() else biggest_project(db)
        suites.append(run_suite("dataset", f"Shared dataset ({DATASET.name})", db, project, "http"))
        latency_db = db
    else:
        log(f"{DATASET} not found: the dataset suite is skipped")
    demo = prepare_db(f"demo-{PROJECTS}", ["demo-data", "--projects", str(PROJECTS)])
    suites.append(
        run_suite(
            f"demo {PROJECTS:,}",
            f"Synthetic catalogue, {PROJECTS:,} projects",
            demo,
            biggest_project(demo),
            a_search_term(demo),
        )
    )
    latency = run_latency(latency_db or demo)

    wasm = SITE / "pkg/cheeseshop.wasm"
    wasm_gzip_kb = len(gzip.compress(wasm.read_bytes(), 9)) / 1000
    today = dt.date.today().isoformat()
    lines = [
        f"# cheeseshop benchmark, {today}",
        "",
        f"Machine: {machine()}. Load: wrk on loopback, sharing the machine with the server. "
        f"Each cell: {WARMUP} s warm-up, then {SECONDS} s measured. "
        "Server: release build, SQLite (WAL), default pool and page cache unless stated (pages without a "
        "session are served from the cache after one single-row query; `/search` and POSTed searches are "
        "never cached). "
        "`vs ceiling` divides by the static file (the home page's bytes) at the same connection count; "
        "`server CPU` is the server process's CPU time over wall time (200% = both cores).",
        "",
        "## Sizes",
        "",
        f"- WASM bundle: {size_line(wasm)}",
        f"- JS glue: {size_line(SITE / 'pkg/cheeseshop.js')}",
        f"- CSS: {size_line(SITE / 'pkg/cheeseshop.css')}",
        f"- Server binary: {BIN.stat().st_size / 1024 / 1024:.1f} MiB",
        "",
    ]
    lines += targets(suites, latency, wasm_gzip_kb)
    lines += ["## Results", ""]
    for suite in suites:
        lines += suite_table(suite)
    lines += latency_section(latency)
    lines.append(f"Total bench time: {(time.time() - started) / 60:.1f} min.")
    report = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{today}.md"
    out.write_text(report)
    print(report)
    log(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
