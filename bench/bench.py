#!/usr/bin/env python3
"""`make bench`: throughput, latency and memory of the release server under
load, each route next to an in-memory ceiling serving its very bytes; the
index APIs beside pypiserver and devpi-server (bench/peers.py); bytes on the
wire with and without compression; and the async claim measured with
latency injected into every database round trip.

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
  BENCH_PG_LATENCY_MS [5]   injected database latency in PostgreSQL's async mode
  BENCH_PG_POOL [16]        PostgreSQL's pool in its async mode (the server's default there)
  BENCH_SCALE_PROJECTS [1000000]            the scale suite's catalogue...
  BENCH_SCALE_RELEASES_PER_PROJECT [5]      ...and its releases per project
  BENCH_SUITES [dataset,demo,index,latency,postgres,scale,cluster,pages,proxy]  which parts to run
  BENCH_PAGES_RUNS [3]      runs per page in the pages suite (see bench/pages.py for its knobs)
  BENCH_CLUSTER_SIZES [1,2,3]   instances behind nginx in the cluster suite...
  BENCH_CLUSTER_CONNECTIONS [64]  ...at this many connections
  BENCH_OUT [bench/results/<date>.md]  where the report is written
  BENCH_SOAK_SECONDS [60]   the soak at 256 connections across the most instances (0: none)

PostgreSQL runs on a cluster of the bench's own (scripts/pg.sh, with
CHEESESHOP_PG_DIR set), started for the run and deleted after it.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pages  # noqa: E402
import peers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target/release/cheeseshop"
CEILING_BIN = ROOT / "target/release/examples/ceiling"
SITE = ROOT / "target/site"
WORK = ROOT / "target/bench"
LUA = ROOT / "bench/report.lua"
RESULTS = ROOT / "bench/results"

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "1,16,64,256").split(",")]
PROJECTS = int(os.environ.get("BENCH_PROJECTS", "100000"))
LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "10"))
LATENCY_POOL = int(os.environ.get("BENCH_POOL", "32"))
# PostgreSQL's async mode runs with the server's default pool on PostgreSQL.
# With 32 connections its bound (3,200 req/s at 5 ms) lay above what two
# cores render of `/` at all (2,000-3,300 req/s uncached, no latency): the
# ratio measured the CPU, not whether requests wait without blocking.
PG_LATENCY_POOL = int(os.environ.get("BENCH_PG_POOL", "16"))
DATASET = Path(os.environ.get("DATASET", str(ROOT.parent / "shared/data/pypi-top-100")))
PORT = int(os.environ.get("BENCH_PORT", "3900"))
BASE = f"http://127.0.0.1:{PORT}"
CEILING_PORT = PORT + 1
PEER_PORT = PORT + 2
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_SCRIPT = ROOT / "scripts/pg.sh"
PG_LATENCY_MS = float(os.environ.get("BENCH_PG_LATENCY_MS", "5"))
SCALE_PROJECTS = int(os.environ.get("BENCH_SCALE_PROJECTS", "1000000"))
SCALE_RELEASES = int(os.environ.get("BENCH_SCALE_RELEASES_PER_PROJECT", "5"))


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


def tree_cpu_seconds(root: int, reaped: bool = False) -> float:
    """CPU time of process `root` and of its live children (nginx's master
    and workers; the postmaster and its backends), with `reaped` also of
    the children it has waited for (backends that ended)."""
    ticks = 0
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_path.read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(stat_path.parent.name) == root:
            ticks += sum(int(f) for f in fields[11 : 15 if reaped else 13])
        elif int(fields[1]) == root:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


class PgCluster:
    """A PostgreSQL cluster of the bench's own (scripts/pg.sh): its
    databases, and the CPU time of all its processes."""

    def __init__(self, name: str = "bench", options: str = "") -> None:
        self.dir = f"/tmp/cheeseshop-pg-{name}-{os.getpid()}"
        # shared_buffers as a tuned server has it (a quarter of RAM is the
        # usual advice; 2 GB here), not the 128 MB PostgreSQL ships with.
        self.env = dict(
            os.environ, CHEESESHOP_PG_DIR=self.dir, CHEESESHOP_PG_SHARED_BUFFERS="2GB", CHEESESHOP_PG_OPTIONS=options
        )
        log("starting a PostgreSQL cluster for the bench")
        self.admin = subprocess.run(
            [str(PG_SCRIPT), "start"], env=self.env, check=True, capture_output=True, text=True
        ).stdout.strip()

    def url(self, name: str) -> str:
        return self.admin.rsplit("/", 1)[0] + "/" + name

    def psql(self, sql: str, database: str = "postgres") -> list[list[str]]:
        out = subprocess.run(
            ["psql", self.url(database), "-AtX", "-F", "\t", "-c", sql], check=True, capture_output=True, text=True
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def create(self, name: str) -> str:
        self.psql(f"DROP DATABASE IF EXISTS {name}")
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def cpu_seconds(self) -> float:
        """The postmaster's time, its reaped children's, and its live
        children's (backends, the checkpointer, the WAL writer...)."""
        try:
            pm = int(Path(self.dir, "data/postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        return tree_cpu_seconds(pm, reaped=True)

    def stop(self) -> None:
        subprocess.run([str(PG_SCRIPT), "stop"], env=self.env, capture_output=True)


def prepare_pg(cluster: PgCluster, name: str, args: list[str]) -> tuple[str, float]:
    """A PostgreSQL database made by the binary; its URL and how long that took."""
    url = cluster.create(name)
    log(f"preparing the PostgreSQL {name} database: cheeseshop {' '.join(args)}")
    t0 = time.time()
    env = dict(os.environ, DATABASE_URL=url, RUST_LOG="warn")
    subprocess.run([str(BIN), *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return url, time.time() - t0


def db_url(db: "Path | str") -> str:
    return db if isinstance(db, str) else f"sqlite://{db}"


# ------------------------------------------------------------------- server


class ServerProcess:
    def __init__(
        self,
        db: "Path | str",
        label: str,
        extra_env: dict[str, str] | None = None,
        cluster: PgCluster | None = None,
        port: int = PORT,
    ):
        self.label = label
        self.cluster = cluster
        self.port = port
        env = dict(
            os.environ,
            DATABASE_URL=db_url(db),
            LEPTOS_SITE_ROOT=str(SITE),
            LEPTOS_SITE_ADDR=f"127.0.0.1:{port}",
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
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/about", timeout=2) as r:
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


class Ceiling:
    """The in-memory ceiling (examples/ceiling.rs): each path answered with
    the bytes a route of ours answered, from memory."""

    def __init__(self, bodies: dict[str, tuple[bytes, str]]):
        folder = WORK / "ceiling"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        specs = []
        for i, (path, (body, content_type)) in enumerate(bodies.items()):
            file = folder / f"{i}.body"
            file.write_bytes(body)
            specs.append(f"{path}={file}={content_type}")
        self.log_file = open(WORK / "ceiling.log", "w")
        self.proc = subprocess.Popen(
            [str(CEILING_BIN), f"127.0.0.1:{CEILING_PORT}", *specs], stdout=self.log_file, stderr=subprocess.STDOUT
        )
        peers.wait_for(f"http://127.0.0.1:{CEILING_PORT}{next(iter(bodies))}", self.proc, "the ceiling")

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log_file.close()


def fetch_bodies(routes: list["Route"]) -> list[tuple["Route", bytes, str]]:
    """Each GET route's own bytes, as wrk gets them (no Accept-Encoding)."""
    fetched = []
    for route in routes:
        status, headers, body = fetch(route.path, headers=route.headers, base=route.base)
        if status != 200:
            raise SystemExit(f"{route.name}: {route.path} answered {status}")
        fetched.append((route, body, headers.get("content-type", "text/html")))
    return fetched


def measure_ceiling(fetched: list[tuple["Route", bytes, str]]) -> dict[tuple[str, int], "Cell"]:
    """The ceiling serving each route's bytes, at every connection count
    (run with no server of ours on the machine)."""
    bodies = {f"/c{i}": (body, content_type) for i, (_, body, content_type) in enumerate(fetched)}
    ceiling = Ceiling(bodies)
    cells = {}
    try:
        for i, (route, _, _) in enumerate(fetched):
            ceiling_route = Route(route.name, f"/c{i}", base=f"http://127.0.0.1:{CEILING_PORT}")
            for c in CONNECTIONS:
                log(f"ceiling: {route.name} with {c} connections")
                cells[(route.name, c)] = measure(ceiling, ceiling_route, c)
    finally:
        ceiling.stop()
    return cells


def fetch(
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    base: str = BASE,
):
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# ---------------------------------------------------------------------- wrk


@dataclass
class Route:
    name: str
    path: str
    method: str = "GET"
    body: str = ""
    content_type: str = ""
    base: str = BASE
    headers: dict[str, str] = field(default_factory=dict)
    count_304: bool = False
    # A mixed load: each connection goes round these paths (the soak).
    paths: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        env = {
            "BENCH_METHOD": self.method,
            "BENCH_BODY": self.body,
            "BENCH_CONTENT_TYPE": self.content_type,
            "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in self.headers.items()),
            "BENCH_PATHS": "\n".join(self.paths),
        }
        if self.count_304:
            env["BENCH_COUNT_304"] = "1"
        return env

    def elsewhere(self, name: str, base: str, path: str | None = None) -> "Route":
        """The same request to another server."""
        return Route(name, path or self.path, self.method, self.body, self.content_type, base, dict(self.headers))


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
    not_modified: int = 0
    requests: int = 0
    db_cpu_percent: float | None = None


def wrk(route: Route, connections: int, seconds: int) -> dict:
    threads = max(1, min(connections, 2))
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(LUA), route.base + route.path,
    ]
    out = subprocess.run(cmd, env=dict(os.environ, **route.env()), capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON ") :])
    raise SystemExit(f"wrk printed no result:\n{out}")


def wait_until_idle(server: "ServerProcess | None", timeout: float = 30.0, cpu=None) -> None:
    """Let the server finish what the last cell left queued (wrk stops
    sending, not the server working), so no cell pays for the one before.
    `cpu`: the CPU seconds to watch instead (several instances)."""
    cpu = cpu or server.cpu_seconds
    deadline = time.time() + timeout
    while time.time() < deadline:
        before = cpu()
        time.sleep(0.25)
        if cpu() - before < 0.25 * 0.05:
            return


def measure(server: ServerProcess, route: Route, connections: int) -> Cell:
    wait_until_idle(server)
    if WARMUP:
        wrk(route, connections, WARMUP)
    return measure_busy(server, route, connections)


def cell(route: Route, connections: int, r: dict, cpu_percent: float, db_cpu: float | None = None) -> Cell:
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
        not_modified=r.get("not_modified", 0),
        requests=r["requests"],
        db_cpu_percent=db_cpu,
    )


def measure_busy(server: ServerProcess, route: Route, connections: int) -> Cell:
    """One measured cell, whatever the server is doing already."""
    cluster = getattr(server, "cluster", None)
    db0 = cluster.cpu_seconds() if cluster else 0.0
    cpu0, t0 = server.cpu_seconds(), time.time()
    r = wrk(route, connections, SECONDS)
    cpu1, t1 = server.cpu_seconds(), time.time()
    db_cpu = 100 * (cluster.cpu_seconds() - db0) / (t1 - t0) if cluster else None
    return cell(route, connections, r, 100 * (cpu1 - cpu0) / (t1 - t0), db_cpu)


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
class Wire:
    """One resource's size on the wire in each coding."""

    name: str
    sizes: dict[str, int]
    digest_share: float | None = None


@dataclass
class Suite:
    label: str
    description: str
    cells: list[Cell] = field(default_factory=list)
    ceiling: dict[tuple[str, int], Cell] = field(default_factory=dict)
    idle_rss_kib: int = 0
    peak_rss_kib: int = 0
    # `/` measured alone and while searches keep the server busy.
    home_alone: Cell | None = None
    home_during_search: Cell | None = None
    search_during: Cell | None = None
    wire: list[Wire] = field(default_factory=list)
    ceiling_shown: bool = True


CODINGS = {"none": None, "gzip": "gzip", "br": "br", "zstd": "zstd"}


def wire_sizes(name: str, path: str, headers: dict[str, str] | None = None) -> Wire:
    sizes = {}
    identity = b""
    for label, coding in CODINGS.items():
        h = dict(headers or {})
        if coding:
            h["Accept-Encoding"] = coding
        status, response_headers, body = fetch(path, headers=h)
        if status != 200:
            raise SystemExit(f"{path} answered {status}")
        if response_headers.get("Content-Encoding", coding) != coding:
            # Not available in this coding (e.g. no zstd file of the bundle).
            sizes[label] = len(body) if coding is None else -1
            continue
        sizes[label] = len(body)
        if coding is None:
            identity = body
    share = peers.digest_share(identity) if path.startswith("/simple/") else None
    return Wire(name, sizes, share)


def check_route(route: Route) -> None:
    headers = {"Content-Type": route.content_type} if route.content_type else {}
    body = route.body.encode() if route.body else None
    status, _, payload = fetch(route.path, route.method, body, headers)
    if status != 200 or not payload:
        raise SystemExit(f"{route.name}: {route.path} answered {status}")


def run_suite(
    label: str,
    description: str,
    db: "Path | str",
    project: str,
    term: str,
    wire: bool = False,
    cluster: PgCluster | None = None,
    ceiling: dict | None = None,
) -> Suite:
    """Every route at every connection count. `ceiling`: the ceiling
    measured already for the same bytes (another backend's run)."""
    suite = Suite(label, description)
    server = ServerProcess(db, label, cluster=cluster)
    try:
        suite.idle_rss_kib = server.status_kib("VmRSS")
        cached = [
            Route("/", "/"),
            Route(f"/project/{project}/", f"/project/{project}/"),
            Route("/about", "/about"),
            Route(f"/simple/{project}/", f"/simple/{project}/"),
        ]
        routes = [
            *cached,
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
        home, search = routes[0], routes[4]
        log(f"{label}: / with 16 connections, alone and during a search burst")
        suite.home_alone = measure(server, home, 16)
        suite.home_during_search, suite.search_during = measure_during(server, home, 16, search, 256)
        if wire:
            wasm = bundle_file(".wasm")
            suite.wire = [
                wire_sizes("`/`", "/"),
                wire_sizes(f"`/project/{project}/`", f"/project/{project}/"),
                wire_sizes(f"`/simple/{project}/` (HTML)", f"/simple/{project}/"),
                wire_sizes(f"`/simple/{project}/` (JSON)", f"/simple/{project}/", {"Accept": peers.JSON_V1}),
                wire_sizes("WASM bundle", f"/pkg/{wasm.name}"),
            ]
        suite.peak_rss_kib = server.status_kib("VmHWM")
        # The ceiling of each cached route, with the server stopped: one
        # server at a time on the machine.
        if ceiling is None:
            fetched = fetch_bodies(cached)
            server.stop()
            suite.ceiling = measure_ceiling(fetched)
        else:
            server.stop()
            suite.ceiling = ceiling
            suite.ceiling_shown = False
        for cell in suite.cells:
            top = suite.ceiling.get((cell.route, cell.connections))
            cell.ratio = cell.rps / top.rps if top and top.rps else None
    finally:
        server.stop()
    return suite


def bundle_file(suffix: str) -> Path:
    """The bundle's file (hashed name) with this suffix."""
    found = [p for p in (SITE / "pkg").iterdir() if p.name.startswith("cheeseshop") and p.name.endswith(suffix)]
    if len(found) != 1:
        raise SystemExit(f"expected one cheeseshop*{suffix} in {SITE / 'pkg'}, found {found}")
    return found[0]


@dataclass
class IndexSuite:
    """The Simple API of each index, and the ceiling of ours."""

    servers: list[str] = field(default_factory=list)
    cells: dict[str, list[Cell]] = field(default_factory=dict)
    ceiling: dict[tuple[str, int], Cell] = field(default_factory=dict)
    revalidation: Cell | None = None
    files: int = 0
    notes: list[str] = field(default_factory=list)


def simple_routes(base: str, prefix: str, label: str) -> list[Route]:
    project = f"{prefix}/{peers.PROJECT}/"
    return [
        Route("project page (HTML)", project, base=base, headers={"Accept": "text/html"}),
        Route("project page (JSON)", project, base=base, headers={"Accept": peers.JSON_V1}),
        Route("index (HTML)", f"{prefix}/", base=base, headers={"Accept": "text/html"}),
    ]


def measure_routes(process, routes: list[Route], label: str) -> list[Cell]:
    cells = []
    for route in routes:
        status, headers, body = fetch(route.path, headers=route.headers, base=route.base)
        wanted = route.headers.get("Accept", "")
        if status != 200 or not body or ("json" in wanted and "json" not in headers.get("content-type", "")):
            log(f"{label}: {route.name} answered {status} {headers.get('content-type')}: left out")
            continue
        for c in CONNECTIONS:
            log(f"{label}: {route.name} with {c} connections")
            cells.append(measure(process, route, c))
    return cells


@dataclass
class ProxySuite:
    """The pull-through caches: cheeseshop's upstream cache, devpi's mirror
    index and proxpi, each in front of the same pypiserver."""

    servers: list[str] = field(default_factory=list)
    cells: dict[str, list[Cell]] = field(default_factory=dict)
    ttfb_direct_ms: float = 0.0
    ttfb_first_ms: float = 0.0
    big_bytes: int = 0
    big_cached_mb_s: float = 0.0
    big_direct_mb_s: float = 0.0
    # The in-memory ceiling answering the proxied page's very bytes, per
    # connection count (what any server can do here).
    ceiling: dict[int, Cell] = field(default_factory=dict)


def first_byte(url: str) -> tuple[float, int]:
    """Milliseconds from the request to the first byte of the body, and the
    body's length (read to the end)."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=60)
    started = time.perf_counter()
    conn.request("GET", parts.path)
    response = conn.getresponse()
    first = response.read(1)
    ttfb = (time.perf_counter() - started) * 1000
    rest = response.read()
    conn.close()
    if response.status != 200 or not first:
        raise SystemExit(f"{url} answered {response.status}")
    return ttfb, len(first) + len(rest)


def throughput(url: str, rounds: int = 3) -> float:
    """MB/s of whole downloads of `url`, best of `rounds`."""
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as r:
            n = 0
            while chunk := r.read(1 << 20):
                n += len(chunk)
        best = max(best, n / 1e6 / (time.perf_counter() - started))
    return best


def run_proxy_suite() -> ProxySuite:
    suite = ProxySuite()
    files = peers.build_packages()
    big = peers.build_big_wheel()
    suite.big_bytes = big.stat().st_size
    upstream = peers.start_pypiserver([*files, big], PEER_PORT)
    upstream_simple = f"{upstream.base}/simple/"
    project = peers.PROJECT
    html = {"Accept": "text/html"}
    try:
        db = WORK / "proxy.db"
        storage = WORK / "proxy-files"
        for stale in WORK.glob("proxy.db*"):
            stale.unlink()
        shutil.rmtree(storage, ignore_errors=True)
        ours = ServerProcess(
            db, "proxy", {"CHEESESHOP_UPSTREAM_URL": upstream_simple, "CHEESESHOP_STORAGE_DIR": str(storage)}
        )
        try:
            # The big file: its first byte through us (fetched from the
            # upstream while streamed) against straight from the upstream.
            status, _, body = fetch(
                f"/simple/{peers.big_name()}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
            )
            if status != 200:
                raise SystemExit(f"the proxy's list of the big project: {status}")
            ours_url = BASE + json.loads(body)["files"][0]["url"]
            suite.ttfb_direct_ms, _ = first_byte(f"{upstream.base}/packages/{big.name}")
            suite.ttfb_first_ms, n = first_byte(ours_url)
            if n != suite.big_bytes:
                raise SystemExit(f"the proxy sent {n} bytes of {suite.big_bytes}")
            time.sleep(1)  # stored once its last byte is sent
            suite.big_cached_mb_s = throughput(ours_url)
            suite.big_direct_mb_s = throughput(f"{upstream.base}/packages/{big.name}")
            route = Route(f"cached /simple/{project}/", f"/simple/{project}/", headers=html)
            label = "cheeseshop"
            suite.servers.append(label)
            suite.cells[label] = measure_routes(ours, [route], label)
            fetched = fetch_bodies([route])
        finally:
            ours.stop()
        # The ceiling of that page, with no server of ours running.
        suite.ceiling = {c: cell for (_, c), cell in measure_ceiling(fetched).items()}

        devpi, prefix = peers.start_devpi_mirror(upstream_simple, PEER_PORT + 1)
        try:
            route = Route(f"cached /simple/{project}/", f"{prefix}/{project}/", base=devpi.base, headers=html)
            fetch(route.path, headers=html, base=devpi.base)
            label = "devpi-server 6.20.3 (mirror index)"
            suite.servers.append(label)
            suite.cells[label] = measure_routes(devpi, [route], label)
        finally:
            devpi.stop()

        proxpi = peers.start_proxpi(upstream_simple, PEER_PORT + 2)
        try:
            route = Route(f"cached /simple/{project}/", f"/index/{project}/", base=proxpi.base, headers=html)
            fetch(route.path, headers=html, base=proxpi.base)
            label = "proxpi 1.3.1"
            suite.servers.append(label)
            suite.cells[label] = measure_routes(proxpi, [route], label)
        finally:
            proxpi.stop()
    finally:
        upstream.stop()
    return suite


def proxy_section(suite: ProxySuite) -> list[str]:
    lines = [
        "### Pull-through caches",
        "",
        f"One pypiserver (the index suite's 240 files and a {suite.big_bytes / 1e6:.0f} MB wheel) is the "
        "upstream of each: cheeseshop with `CHEESESHOP_UPSTREAM_URL`, devpi-server's mirror index, and proxpi "
        "(gunicorn, one worker). Each project page was asked for once (fetched and cached), then wrk asks "
        "for it again and again (HTML).",
        "",
        "| server | route | conns | req/s | p50 ms | p99 ms | errors | server CPU |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for server in suite.servers:
        for c in suite.cells.get(server, []):
            lines.append(
                f"| {server} | {c.route} | {c.connections} | {c.rps:,.0f} | {c.p50_ms:.2f} | {c.p99_ms:.2f} | "
                f"{c.non2xx + c.socket_errors} | {c.cpu_percent:.0f}% |"
            )
    for conns, c in sorted(suite.ceiling.items()):
        lines.append(
            f"| ceiling (in memory, the same bytes) | {c.route} | {conns} | {c.rps:,.0f} | {c.p50_ms:.2f} | "
            f"{c.p99_ms:.2f} | {c.non2xx + c.socket_errors} | {c.cpu_percent:.0f}% |"
        )
    lines += [
        "",
        f"- First download of the {suite.big_bytes / 1e6:.0f} MB wheel through cheeseshop (fetched from the "
        f"upstream while streamed): first byte after {suite.ttfb_first_ms:.1f} ms, against "
        f"{suite.ttfb_direct_ms:.1f} ms straight from the upstream.",
        f"- The same file once cached: {suite.big_cached_mb_s:,.0f} MB/s through cheeseshop "
        f"({suite.big_direct_mb_s:,.0f} MB/s from pypiserver directly).",
        "",
    ]
    return lines


def proxy_targets(suite: ProxySuite) -> list[str]:
    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = []
    ours = {c.connections: c for c in suite.cells.get("cheeseshop", [])}
    for conns in (1, 16, 64):
        others = [c.rps for s in suite.servers[1:] for c in suite.cells.get(s, []) if c.connections == conns]
        if conns in ours and others:
            ratio = ours[conns].rps / max(others)
            needed = 10 * max(others)
            ceiling = suite.ceiling.get(conns)
            said = verdict(ratio >= 10)
            if ratio < 10 and ceiling is not None and ceiling.rps < needed:
                said += (
                    f": 10× is {needed:,.0f} req/s, above the ceiling's {ceiling.rps:,.0f} "
                    f"(cheeseshop: {ours[conns].rps / ceiling.rps:.0%} of the ceiling)"
                )
            lines.append(
                f"| proxy: cached Simple page ≥ 10× the fastest of devpi and proxpi at {conns} | "
                f"{ratio:.1f}× | {said} |"
            )
    extra = suite.ttfb_first_ms - suite.ttfb_direct_ms
    lines.append(
        f"| proxy: first-download time to first byte within 20 ms of the upstream's | +{extra:.1f} ms | "
        f"{verdict(extra <= 20)} |"
    )
    return lines


def run_index_suite() -> IndexSuite:
    suite = IndexSuite()
    files = peers.build_packages()
    suite.files = len(files)

    log(f"index suite: uploading {len(files)} files to cheeseshop")
    extra = lambda index: {"CHEESESHOP_STORAGE_DIR": str(index.storage)}  # noqa: E731
    index = peers.prepare_our_index(BIN, files, BASE, lambda i: ServerProcess(i.db, "index-upload", extra(i)))
    ours = ServerProcess(index.db, "index", extra(index))
    try:
        routes = simple_routes(BASE, "/simple", "cheeseshop")
        suite.servers.append("cheeseshop")
        suite.cells["cheeseshop"] = measure_routes(ours, routes, "cheeseshop")
        # A client that revalidates what it has (pip sends `max-age=0`).
        _, headers, _ = fetch(routes[0].path, headers=routes[0].headers)
        revalidate = Route(
            "revalidation (If-None-Match)", routes[0].path,
            headers={**routes[0].headers, "If-None-Match": headers.get("ETag", "")}, count_304=True,
        )
        log("cheeseshop: revalidation with 64 connections")
        suite.revalidation = measure(ours, revalidate, 64)
    finally:
        ours.stop()

    log("index suite: pypiserver")
    pypiserver = peers.start_pypiserver(files, PEER_PORT)
    try:
        suite.servers.append("pypiserver 2.4.2")
        suite.cells["pypiserver 2.4.2"] = measure_routes(
            pypiserver, simple_routes(pypiserver.base, "/simple", "pypiserver"), "pypiserver"
        )
    finally:
        pypiserver.stop()

    log("index suite: devpi-server")
    devpi, prefix = peers.start_devpi(files, PEER_PORT)
    try:
        suite.servers.append("devpi-server 6.20.3")
        suite.cells["devpi-server 6.20.3"] = measure_routes(devpi, simple_routes(devpi.base, prefix, "devpi"), "devpi")
    finally:
        devpi.stop()

    # The ceiling: our very bytes, from memory (our server is stopped).
    ours = ServerProcess(index.db, "index-bytes", extra(index))
    try:
        fetched = fetch_bodies(simple_routes(BASE, "/simple", "cheeseshop"))
    finally:
        ours.stop()
    suite.ceiling = measure_ceiling(fetched)
    for cell in suite.cells["cheeseshop"]:
        top = suite.ceiling.get((cell.route, cell.connections))
        cell.ratio = cell.rps / top.rps if top and top.rps else None
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
    backend: str = "SQLite"
    latency_ms: float = LATENCY_MS
    mean_wait_ms: float = 0.0
    pool: int = LATENCY_POOL
    # Round trips each statement holds its connection for: 1, or 2 where
    # the pool checks a returned connection with one (PostgreSQL, sqlx).
    holds: float = 1.0


def bench_counters() -> tuple[int, float, int]:
    """The server's latency-mode counters, read at one instant: statements'
    round trips, the mean wait of every round trip in ms (the injected
    latency as delivered; the bound uses the nominal one), and the checks
    of connections returned to the pool that paid the latency too (sqlx's
    round trip on PostgreSQL; none on SQLite)."""
    statements, wait_us, checks = fetch("/__bench/db-round-trips")[2].split()
    return int(statements), int(wait_us) / 1000, int(checks)


def run_latency(
    db: "Path | str",
    latency_ms: float = LATENCY_MS,
    backend: str = "SQLite",
    cluster: PgCluster | None = None,
    pool: int = LATENCY_POOL,
) -> LatencyResult:
    latency_s = latency_ms / 1000
    server = ServerProcess(
        db,
        f"latency-{backend}",
        {
            "CHEESESHOP_BENCH_DB_LATENCY_MS": str(latency_ms),
            "CHEESESHOP_DB_MAX_CONNECTIONS": str(pool),
            # The claim is about handlers that await the database: render
            # every request (a cached page still makes one round trip, for
            # the catalogue generation).
            "CHEESESHOP_PAGE_CACHE_MB": "0",
        },
        cluster=cluster,
    )
    try:
        slow = Route("/", "/")
        # Round trips per request, counted exactly over sequential requests;
        # and how many of them lie on the critical path (queries a request
        # issues concurrently overlap): its time alone, in latencies.
        # Open the pool's connections first: sqlx calls `before_acquire`
        # only for a connection it reuses, so a request on a new one pays
        # no latency and would count fewer round trips.
        for _ in range(4):
            threads = [threading.Thread(target=fetch, args=("/",)) for _ in range(pool)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        # A check is paid after the response, in a task of its own: let the
        # last ones land before counting.
        time.sleep(latency_s * 4)
        before, _, checks_before = bench_counters()
        n = 20
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fetch("/")
            times.append(time.perf_counter() - t0)
        time.sleep(latency_s * 4)
        after, _, checks_after = bench_counters()
        statements = after - before
        q = statements / n
        holds = 1 + (checks_after - checks_before) / max(statements, 1)
        # Rounded down: a request's own time (rendering, the client) adds
        # to its waits, so half a latency of it must not count as one more
        # wait (PostgreSQL's `/` took over 7.5 ms for one 5 ms wait in a slow
        # phase, and rounding made it two: 2026-11-27-mimalloc.md).
        depth = max(1, int(sorted(times)[n // 2] / latency_s))
        rows = []
        for c in CONNECTIONS:
            log(f"latency mode ({backend}): / with {c} connections")
            cell = measure(server, slow, c)
            bound = min(c / (depth * latency_s), pool / (q * holds * latency_s))
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
        waited = bench_counters()[1]
    finally:
        server.stop()
    return LatencyResult("/", q, depth, rows, fast_alone, fast_loaded, backend, latency_ms, waited, pool, holds)


@dataclass
class ScaleResult:
    backend: str
    projects: int
    releases: int
    files: int
    generate_seconds: float | None
    cells: list[Cell] = field(default_factory=list)
    peak_rss_kib: int = 0


def catalogue_counts(db: "Path | str", cluster: PgCluster | None) -> tuple[int, int, int]:
    sql = "SELECT (SELECT COUNT(*) FROM projects), (SELECT COUNT(*) FROM releases), (SELECT COUNT(*) FROM files)"
    if isinstance(db, str) and cluster:
        row = cluster.psql(sql, db.rsplit("/", 1)[1])[0]
        return int(row[0]), int(row[1]), int(row[2])
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return tuple(conn.execute(sql).fetchone())  # type: ignore[return-value]


def middle_project(db: "Path | str", cluster: PgCluster | None) -> str:
    sql = "SELECT normalized_name FROM projects WHERE id >= (SELECT MAX(id) / 2 FROM projects) ORDER BY id LIMIT 1"
    if isinstance(db, str) and cluster:
        return cluster.psql(sql, db.rsplit("/", 1)[1])[0][0]
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchone()[0]


def run_scale(
    backend: str,
    db: "Path | str",
    term: str,
    cluster: PgCluster | None = None,
    generate_seconds: float | None = None,
) -> ScaleResult:
    """The big catalogue with the response cache off: every request reads
    the database."""
    projects, releases, files = catalogue_counts(db, cluster)
    result = ScaleResult(backend, projects, releases, files, generate_seconds)
    project = middle_project(db, cluster)
    server = ServerProcess(db, f"scale-{backend}", {"CHEESESHOP_PAGE_CACHE_MB": "0"}, cluster=cluster)
    try:
        plan = [
            (Route("project page (uncached)", f"/project/{project}/"), 64),
            (Route(f"search `{term}`", f"/search?q={term}"), 16),
            # A broad word and a common classifier: the filter must not be
            # handed to FTS5 as a rowid list (one full-text query per
            # listed project: minutes per search before 1b8c70e).
            (Route(f"search `{term}`, filtered", f"/search?q={term}&c=Topic+%3A%3A+Utilities"), 16),
            (
                Route(
                    f"suggestions `{term[:3]}`",
                    "/api/suggest",
                    method="POST",
                    body=f"q={term[:3]}",
                    content_type="application/x-www-form-urlencoded",
                ),
                16,
            ),
            (Route("/ (uncached)", "/"), 64),
            # No database at all: what rendering any page costs here, the
            # floor under the uncached project page's latency.
            (Route("/about (uncached)", "/about"), 64),
        ]
        for route, c in plan:
            check_route(route)
            log(f"scale ({backend}): {route.name} with {c} connections")
            result.cells.append(measure(server, route, c))
        result.peak_rss_kib = server.status_kib("VmHWM")
    finally:
        server.stop()
    # The same searches when nobody asked them since the last write: the
    # search cache off, every request gathers and counts its matches.
    server = ServerProcess(
        db,
        f"scale-{backend}-nocache",
        {"CHEESESHOP_PAGE_CACHE_MB": "0", "CHEESESHOP_SEARCH_CACHE_MB": "0"},
        cluster=cluster,
    )
    try:
        for route, c in [
            (Route(f"search `{term}`, search cache off", f"/search?q={term}"), 16),
            (
                Route(
                    f"search `{term}`, filtered, search cache off",
                    f"/search?q={term}&c=Topic+%3A%3A+Utilities",
                ),
                16,
            ),
        ]:
            check_route(route)
            log(f"scale ({backend}): {route.name} with {c} connections")
            result.cells.append(measure(server, route, c))
        result.peak_rss_kib = max(result.peak_rss_kib, server.status_kib("VmHWM"))
    finally:
        server.stop()
    return result


# ------------------------------------------------------------- scale out

NGINX = "/usr/sbin/nginx"
CLUSTER_SIZES = [int(n) for n in os.environ.get("BENCH_CLUSTER_SIZES", "1,2,3").split(",")]
CLUSTER_CONNECTIONS = int(os.environ.get("BENCH_CLUSTER_CONNECTIONS", "64"))
SOAK_SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "60"))
SOAK_CONNECTIONS = 256
BENCH_PASSWORD = "correct horse battery staple"


class Nginx:
    """nginx from Debian in front of the instances, round-robin, as in
    README's "Scale out" (and scripts/cluster.sh)."""

    def __init__(self, port: int, upstreams: list[int]):
        self.dir = WORK / "nginx"
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "logs").mkdir(parents=True)
        # The one configuration of scripts/nginx.sh, as `make cluster` and
        # the scale-out tests use it.
        conf = subprocess.run(
            [str(ROOT / "scripts/nginx.sh"), str(self.dir), f"127.0.0.1:{port}", *map(str, upstreams)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.dir), "-c", conf],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "logs/stderr.log", "w"),
        )
        peers.wait_for(f"{self.base}/_health", self.proc, "nginx")

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        # TERM: the master takes its workers down (KILL would leave them).
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@dataclass
class ClusterCell:
    instances: int
    route: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    instance_cpu: float
    nginx_cpu: float
    db_cpu: float

    def per_request_us(self, seconds: float) -> float:
        return 1e6 * seconds / max(self.requests, 1)


@dataclass
class SoakResult:
    seconds: int
    connections: int
    rps: float
    p99_ms: float
    errors: int
    requests: int
    paths: list[str]
    # (seconds since the start, VmRSS of each instance in KiB)
    rss: list[tuple[float, list[int]]] = field(default_factory=list)

    def flat(self) -> bool:
        """No instance's RSS grew by more than 10 % from a third of the way
        in (warm: caches full) to the end."""
        if len(self.rss) < 3:
            return False
        warm = next(s for t, s in self.rss if t >= self.seconds / 3)
        last = self.rss[-1][1]
        return all(b <= a * 1.10 for a, b in zip(warm, last))


@dataclass
class ClusterResult:
    project: str
    cells: list[ClusterCell] = field(default_factory=list)
    # statements PostgreSQL executed per request, requests made one at a time
    statements: dict[str, float] = field(default_factory=dict)
    soak: SoakResult | None = None


def session_cookie(base: str, username: str) -> str:
    """Logs in through the server function and returns the session cookie."""
    import http.client
    import urllib.parse

    host = base.removeprefix("http://")
    conn = http.client.HTTPConnection(host, timeout=30)
    body = urllib.parse.urlencode({"identifier": username, "password": BENCH_PASSWORD})
    conn.request("POST", "/api/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie")
    conn.close()
    if response.status >= 400 or not cookie:
        raise SystemExit(f"logging in for the bench failed: {response.status}")
    return cookie.split(";", 1)[0]


def statements_per_request(pg: PgCluster, database: str, route: Route, n: int = 20) -> float:
    """Statements PostgreSQL executed (pg_stat_statements, BEGIN and COMMIT
    included) per request, over `n` requests made one after another: the
    round trips a request costs."""
    headers = dict(route.headers)
    fetch(route.path, headers=headers, base=route.base)
    pg.psql("SELECT pg_stat_statements_reset()", database)
    for _ in range(n):
        status, _, _ = fetch(route.path, headers=headers, base=route.base)
        if status != 200:
            raise SystemExit(f"{route.name}: {route.path} answered {status}")
    rows = pg.psql(
        "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
        f"WHERE d.datname = '{database}' AND s.query NOT ILIKE '%pg_stat_statements%'",
        database,
    )
    return int(rows[0][0]) / n


def measure_cluster(
    n: int, instances: list[ServerProcess], nginx: Nginx, pg: PgCluster, route: Route, connections: int
) -> ClusterCell:
    def instance_cpu() -> float:
        return sum(i.cpu_seconds() for i in instances)

    wait_until_idle(None, cpu=instance_cpu)
    if WARMUP:
        wrk(route, connections, WARMUP)
    i0, n0, d0, t0 = instance_cpu(), nginx.cpu_seconds(), pg.cpu_seconds(), time.time()
    r = wrk(route, connections, SECONDS)
    i1, n1, d1, t1 = instance_cpu(), nginx.cpu_seconds(), pg.cpu_seconds(), time.time()
    c = cell(route, connections, r, 0)
    return ClusterCell(
        n, route.name, connections, c.rps, c.p50_ms, c.p99_ms, c.non2xx + c.socket_errors, c.requests,
        i1 - i0, n1 - n0, d1 - d0,
    )


def soak(instances: list[ServerProcess], base: str, paths: list[str]) -> SoakResult:
    """SOAK_CONNECTIONS connections going round `paths` for SOAK_SECONDS,
    each instance's RSS sampled every 5 s."""
    route = Route("mixed", paths[0], base=base, paths=paths)
    result: dict = {}
    loader = threading.Thread(target=lambda: result.update(wrk(route, SOAK_CONNECTIONS, SOAK_SECONDS)), daemon=True)
    t0 = time.time()
    loader.start()
    samples: list[tuple[float, list[int]]] = []
    while loader.is_alive():
        samples.append((time.time() - t0, [i.status_kib("VmRSS") for i in instances]))
        loader.join(timeout=5)
    samples.append((time.time() - t0, [i.status_kib("VmRSS") for i in instances]))
    if not result:
        raise SystemExit("wrk gave no result for the soak")
    c = cell(route, SOAK_CONNECTIONS, result, 0)
    return SoakResult(SOAK_SECONDS, SOAK_CONNECTIONS, c.rps, c.p99_ms, c.non2xx + c.socket_errors, c.requests,
                      paths, samples)


def run_cluster_suite() -> ClusterResult | None:
    """1, 2 and 3 instances behind nginx on one PostgreSQL (a cluster of this
    suite's own, with pg_stat_statements), the shared dataset, every route
    at CLUSTER_CONNECTIONS; then the soak across the largest."""
    if not DATASET.is_dir() or not Path(NGINX).exists():
        log("cluster suite skipped: it needs the shared dataset and nginx (scripts/setup.sh bench)")
        return None
    pg = PgCluster("cluster", "-c shared_preload_libraries=pg_stat_statements")
    try:
        url, _ = prepare_pg(pg, "cluster", ["import", str(DATASET)])
        pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", "cluster")
        project = "botocore" if (DATASET / "botocore.json").exists() else pg.psql(
            "SELECT normalized_name FROM projects ORDER BY id LIMIT 1", "cluster")[0][0]
        subprocess.run(
            [str(BIN), "user", "create", "--username", "bench", "--email", "bench@example.org"],
            input=BENCH_PASSWORD + "\n", text=True, check=True, stdout=subprocess.DEVNULL,
            env=dict(os.environ, DATABASE_URL=url, RUST_LOG="warn"),
        )
        result = ClusterResult(project)
        cookie = None
        for n in CLUSTER_SIZES:
            log(f"cluster: {n} instance(s) behind nginx")
            instances: list[ServerProcess] = []
            nginx = None
            try:
                for i in range(n):
                    instances.append(
                        ServerProcess(
                            url, f"cluster-{n}-{i}", {"CHEESESHOP_CACHE_NOTIFY": "1"}, cluster=pg, port=PORT + 10 + i
                        )
                    )
                nginx = Nginx(PORT, [i.port for i in instances])
                base = nginx.base
                cookie = cookie or session_cookie(base, "bench")
                routes = [
                    Route("/", "/", base=base),
                    Route(f"/project/{project}/", f"/project/{project}/", base=base),
                    Route(f"/simple/{project}/", f"/simple/{project}/", base=base),
                    Route(f"/pypi/{project}/json", f"/pypi/{project}/json", base=base),
                    Route(f"/project/{project}/ signed in (uncached)", f"/project/{project}/", base=base,
                          headers={"Cookie": cookie}),
                    Route("/search?q=http", "/search?q=http", base=base),
                ]
                if not result.statements:
                    for route in routes:
                        result.statements[route.name] = statements_per_request(pg, "cluster", route)
                for route in routes:
                    log(f"cluster: {n} instance(s), {route.name} with {CLUSTER_CONNECTIONS} connections")
                    result.cells.append(measure_cluster(n, instances, nginx, pg, route, CLUSTER_CONNECTIONS))
                if n == max(CLUSTER_SIZES) and SOAK_SECONDS:
                    log(f"cluster: soak, {SOAK_CONNECTIONS} connections for {SOAK_SECONDS} s over {n} instances")
                    paths = [
                        "/", f"/project/{project}/", f"/simple/{project}/", f"/pypi/{project}/json",
                        "/search?q=http", "/project/flask/", "/simple/", "/about", "/rss/updates.xml",
                        "/classifiers/", "/project/requests/", "/simple/flask/",
                    ]
                    result.soak = soak(instances, base, paths)
            finally:
                if nginx:
                    nginx.stop()
                for instance in instances:
                    instance.stop()
        return result
    finally:
        pg.stop()


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


def cell_row(label: str, c: Cell, ratio: str = "—") -> str:
    db_cpu = f"{c.db_cpu_percent:.0f}%" if c.db_cpu_percent is not None else "—"
    return (
        f"| {label} | {c.connections} | {c.rps:,.0f} | {c.p50_ms:.2f} | {c.p99_ms:.2f} | {c.non2xx} | "
        f"{c.socket_errors} | {c.bytes_per_response:,.0f} | {ratio} | {c.cpu_percent:.0f}% | {db_cpu} |"
    )


TABLE_HEAD = [
    "| route | conns | req/s | p50 ms | p99 ms | non-2xx | socket errors | bytes/resp | vs ceiling | server CPU "
    "| PostgreSQL CPU |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
]


def suite_table(suite: Suite) -> list[str]:
    lines = [f"### {suite.description}", "", *TABLE_HEAD]
    for c in suite.cells:
        lines.append(cell_row(c.route, c, f"{c.ratio:.0%}" if c.ratio is not None else "—"))
    if suite.ceiling_shown:
        for (route, _), c in suite.ceiling.items():
            lines.append(cell_row(f"ceiling: {route}", c))
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


def index_section(suite: IndexSuite) -> list[str]:
    lines = [
        "### The Simple API beside the peers",
        "",
        f"The same {suite.files} files (one project with {peers.VERSIONS} versions, wheel and sdist each; "
        f"{peers.SMALL_PROJECTS} projects with {peers.SMALL_VERSIONS} versions each) loaded into each index: "
        "twine uploads to cheeseshop and to devpi-server (a private index without bases), the files in "
        "pypiserver's directory. One server on the machine at a time; `server CPU` counts a server's "
        "processes (gunicorn's worker too). Project page: "
        f"`{peers.PROJECT}`; JSON: `Accept: {peers.JSON_V1}`.",
        "",
        "| server | route | conns | req/s | p50 ms | p99 ms | non-2xx | socket errors | bytes/resp | vs ceiling "
        "| server CPU | PostgreSQL CPU |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for server in suite.servers:
        for c in suite.cells.get(server, []):
            ratio = f"{c.ratio:.0%}" if c.ratio is not None else "—"
            lines.append(f"| {server} " + cell_row(c.route, c, ratio))
    for (route, _), c in suite.ceiling.items():
        lines.append("| ceiling (our bytes) " + cell_row(route, c))
    for server in suite.servers:
        if not any(c.route == "project page (JSON)" for c in suite.cells.get(server, [])):
            lines.append(f"\n{server} answers the JSON form (PEP 691) with HTML: its JSON row is left out.")
    r = suite.revalidation
    if r:
        rate = r.not_modified / max(r.requests, 1)
        lines += [
            "",
            f"A client that revalidates (`If-None-Match` with the page's ETag, 64 connections): "
            f"{r.rps:,.0f} req/s, {rate:.0%} answered 304, {r.bytes_per_response:,.0f} bytes per response, "
            f"p99 {r.p99_ms:.2f} ms.",
        ]
    return lines + [""]


def wire_section(suite: Suite) -> list[str]:
    lines = [
        "### Bytes on the wire",
        "",
        "Each resource fetched without `Accept-Encoding` and with one coding at a time (`—`: not offered "
        "in that coding).",
        "",
        "| resource | none | gzip | br | zstd | best / none |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for w in suite.wire:
        raw = w.sizes["none"]
        sizes = [f"{w.sizes[k]:,}" if w.sizes[k] >= 0 else "—" for k in CODINGS]
        best = min(v for v in w.sizes.values() if v >= 0)
        lines.append(f"| {w.name} | {' | '.join(sizes)} | {best / raw:.0%} |")
    for w in suite.wire:
        if w.digest_share is not None:
            lines.append(
                f"\n{w.name}: its hex digests alone carry {w.digest_share:.0%} of its raw size in information "
                "(SHA-256 and BLAKE2b of every file): no coding can make it smaller than that."
            )
    return lines + [""]


def targets(
    suites: list[Suite], index: IndexSuite | None, latency: LatencyResult | None, wasm_gzip_kb: float
) -> list[str]:
    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = ["## Targets", "", "| target | measured | |", "|---|---|---|"]
    for suite in suites:
        routes = sorted({c.route for c in suite.cells if c.ratio is not None})
        for route in routes:
            at64 = next((c for c in suite.cells if c.route == route and c.connections == 64), None)
            at256 = next((c for c in suite.cells if c.route == route and c.connections == 256), None)
            if at64 and at64.ratio is not None:
                lines.append(
                    f"| {suite.label} `{route}` ≥ 50 % of its ceiling at 64 | {at64.ratio:.0%} | "
                    f"{verdict(at64.ratio >= 0.5)} |"
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
        for w in suite.wire:
            if w.name.startswith("`/simple/") and "HTML" in w.name:
                best = min(v for v in w.sizes.values() if v >= 0) / w.sizes["none"]
                lines.append(f"| compressed big Simple page ≤ 15 % of raw | {best:.0%} | {verdict(best <= 0.15)} |")
    if index:
        ours = index.cells.get("cheeseshop", [])
        for route in ("project page (HTML)", "project page (JSON)"):
            mine = next((c for c in ours if c.route == route and c.connections == 64), None)
            theirs = [
                c for s in index.servers[1:] for c in index.cells.get(s, []) if c.route == route and c.connections == 64
            ]
            if mine and theirs:
                best = max(theirs, key=lambda c: c.rps)
                lines.append(
                    f"| Simple {route} ≥ 10× the fastest peer at 64 | {mine.rps / best.rps:.1f}× "
                    f"({mine.rps:,.0f} vs {best.rps:,.0f}) | {verdict(mine.rps >= 10 * best.rps)} |"
                )
        for c in ours:
            if c.connections == 64 and c.ratio is not None:
                lines.append(
                    f"| Simple {c.route} ≥ 50 % of its ceiling at 64 | {c.ratio:.0%} | {verdict(c.ratio >= 0.5)} |"
                )
                lines.append(f"| Simple {c.route} p99 ≤ 10 ms at 64 | {c.p99_ms:.1f} ms | {verdict(c.p99_ms <= 10)} |")
            if c.connections == 256:
                errors = c.non2xx + c.socket_errors
                lines.append(f"| Simple {c.route} 0 errors at 256 | {errors} | {verdict(errors == 0)} |")
    lines.append(f"| release WASM ≤ 150 KB gzip | {wasm_gzip_kb:.0f} KB | {verdict(wasm_gzip_kb <= 150)} |")
    if latency:
        worst = min(r.rps / r.bound for r in latency.rows)
        lines.append(f"| injected latency: ≥ 80 % of the bound | worst {worst:.0%} | {verdict(worst >= 0.8)} |")
    return lines + [""]


def latency_section(result: LatencyResult) -> list[str]:
    lines = [
        f"### The async claim on {result.backend}: {result.latency_ms:g} ms added to every database round trip",
        "",
        f"Route `{result.route}` makes {result.round_trips:g} database round "
        f"{'trip' if result.round_trips == 1 else 'trips'} per request (counted by the server)"
        + ("" if result.round_trips == 1 else f", {result.depth} after another (the rest run concurrently)")
        + ". Page cache off: every request is "
        f"rendered. Pool: {result.pool} connections. "
        + (
            f"Each statement holds its connection for {result.holds:.2g} round trips: its own, and sqlx's "
            "check of the connection when it returns to the pool, which pays the latency too, as a network "
            "would make it (holds, counted by the server). "
            if result.holds > 1.01
            else "Each statement holds its connection for its own round trip (holds = 1). "
        )
        + "Bound = min(C / (sequential round trips × latency), pool / (round trips × holds × latency)): "
        "the first term is C clients each waiting on the database, the second the pool kept busy. "
        f"The wait is a link thread's, as precise as the kernel's timers: round trips waited "
        f"{result.mean_wait_ms:.2f} ms on average (a tokio `sleep` counts whole milliseconds and "
        "rounds up to the next tick: 5 ms waited 6.1 ms); the bound uses the nominal latency.",
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


def backends_section(sqlite: Suite, postgres: Suite) -> list[str]:
    lines = [
        "### PostgreSQL beside SQLite (the shared dataset, the same routes)",
        "",
        "Each backend's server alone on the machine with its database; PostgreSQL on loopback, with its "
        "processes' CPU counted apart. Response cache on, as shipped.",
        "",
        "| route | conns | SQLite req/s | PostgreSQL req/s | SQLite p50 / p99 ms | PostgreSQL p50 / p99 ms "
        "| PostgreSQL errors | server CPU (SQLite / PostgreSQL) | PostgreSQL CPU |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for a in sqlite.cells:
        b = next((c for c in postgres.cells if c.route == a.route and c.connections == a.connections), None)
        if not b:
            continue
        db_cpu = f"{b.db_cpu_percent:.0f}%" if b.db_cpu_percent is not None else "—"
        lines.append(
            f"| {a.route} | {a.connections} | {a.rps:,.0f} | {b.rps:,.0f} | {a.p50_ms:.2f} / {a.p99_ms:.2f} | "
            f"{b.p50_ms:.2f} / {b.p99_ms:.2f} | {b.non2xx + b.socket_errors} | "
            f"{a.cpu_percent:.0f}% / {b.cpu_percent:.0f}% | {db_cpu} |"
        )
    lines += [
        "",
        f"Peak server RSS: SQLite {sqlite.peak_rss_kib / 1024:.1f} MiB (the database is in the process), "
        f"PostgreSQL {postgres.peak_rss_kib / 1024:.1f} MiB (the server process only).",
        "",
    ]
    return lines


def scale_section(results: list[ScaleResult]) -> list[str]:
    lines = [
        "### Scale: a synthetic catalogue of a million projects",
        "",
        "Generated by `cheeseshop demo-data --projects N --releases-per-project R` (the same catalogue on "
        "both backends), served with the response cache off (`CHEESESHOP_PAGE_CACHE_MB=0`): every page is "
        "rendered and reads the database. Searches keep the default search cache (the same search asked "
        "again is answered from memory until the catalogue changes), and are measured again with it off "
        "(`CHEESESHOP_SEARCH_CACHE_MB=0`: a search nobody asked since the last write). The project page is "
        "one project from the middle of the catalogue; suggestions are the server function the search box "
        "calls while typing; `/about` reads nothing and shows what rendering a page costs here.",
        "",
    ]
    for r in results:
        made = f", generated in {r.generate_seconds / 60:.1f} min" if r.generate_seconds else ""
        lines.append(f"- {r.backend}: {r.projects:,} projects, {r.releases:,} releases, {r.files:,} files{made}; "
                     f"peak server RSS {r.peak_rss_kib / 1024:.1f} MiB.")
    lines += ["", "| backend | route | conns | req/s | p50 ms | p99 ms | errors | server CPU | PostgreSQL CPU |",
              "|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        for c in r.cells:
            db_cpu = f"{c.db_cpu_percent:.0f}%" if c.db_cpu_percent is not None else "—"
            lines.append(
                f"| {r.backend} | {c.route} | {c.connections} | {c.rps:,.0f} | {c.p50_ms:.2f} | {c.p99_ms:.2f} | "
                f"{c.non2xx + c.socket_errors} | {c.cpu_percent:.0f}% | {db_cpu} |"
            )
    return lines + [""]


def scale_targets(results: list[ScaleResult], latencies: list[LatencyResult]) -> list[str]:
    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = []
    for lat in latencies:
        if lat.backend != "PostgreSQL":
            continue
        worst = min(r.rps / r.bound for r in lat.rows)
        lines.append(
            f"| PostgreSQL, {lat.latency_ms:g} ms per round trip, cache off: `/` ≥ 80 % of the bound | "
            f"worst {worst:.0%} | {verdict(worst >= 0.8)} |"
        )
        if lat.fast_alone and lat.fast_loaded:
            lines.append(
                f"| PostgreSQL latency mode: `/about` p99 ≤ 10 ms beside the load | "
                f"{lat.fast_loaded.p99_ms:.1f} ms (alone {lat.fast_alone.p99_ms:.1f} ms) | "
                f"{verdict(lat.fast_loaded.p99_ms <= 10)} |"
            )
    for r in results:
        if r.generate_seconds is not None and r.backend == "PostgreSQL":
            lines.append(
                f"| PostgreSQL: {r.projects:,} projects / {r.releases:,} releases generated in < 15 min | "
                f"{r.generate_seconds / 60:.1f} min | {verdict(r.generate_seconds < 15 * 60)} |"
            )
        for c in r.cells:
            if c.route.startswith("project page"):
                lines.append(f"| {r.backend} 1M: project page p99 ≤ 10 ms at 64, uncached | {c.p99_ms:.1f} ms | "
                             f"{verdict(c.p99_ms <= 10)} |")
            elif c.route.startswith("search") and "filtered" not in c.route:
                how = "search cache off" if "cache off" in c.route else "asked again (search cache)"
                lines.append(f"| {r.backend} 1M: search p50 ≤ 30 ms at 16, {how} | {c.p50_ms:.1f} ms | "
                             f"{verdict(c.p50_ms <= 30)} |")
                lines.append(f"| {r.backend} 1M: search p99 ≤ 100 ms at 16, {how} | {c.p99_ms:.1f} ms | "
                             f"{verdict(c.p99_ms <= 100)} |")
            elif c.route.startswith("suggestions"):
                lines.append(f"| {r.backend} 1M: suggestions p99 ≤ 20 ms at 16 | {c.p99_ms:.1f} ms | "
                             f"{verdict(c.p99_ms <= 20)} |")
    return lines


CACHED_ROUTES = ("/", "/project/", "/simple/", "/pypi/")


def is_cached_route(name: str) -> bool:
    return name.startswith(CACHED_ROUTES) and "uncached" not in name and not name.startswith("/search")


def cluster_section(r: ClusterResult) -> list[str]:
    lines = [
        "### Scale out: instances behind nginx on one PostgreSQL",
        "",
        f"1 to {max(CLUSTER_SIZES)} instances of the release binary on one PostgreSQL (a cluster of this suite's own, "
        "with `pg_stat_statements`; the shared dataset), behind nginx from Debian (one worker, round-robin, "
        f"keep-alive to the instances), {CLUSTER_CONNECTIONS} wrk connections to nginx. Response cache on, "
        "with `CHEESESHOP_CACHE_NOTIFY=1`: cached answers learn of writes from LISTEN/NOTIFY. The signed-in project page carries a session cookie: never cached, so it reads the session "
        "and the page. CPU per request = CPU time of the processes over requests answered: instances summed, "
        "nginx (master and worker), PostgreSQL (every backend). Everything shares 2 cores, so throughput "
        "cannot grow with instances here; capacity per core is 10⁶ / (µs per request). `statements/req`: what "
        "PostgreSQL executed per request (BEGIN and COMMIT included), requests made one at a time.",
        "",
        "| instances | route | req/s | p50 ms | p99 ms | errors | instances µs/req | nginx µs/req "
        "| PostgreSQL µs/req | PostgreSQL / instances | statements/req |",
        "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for c in r.cells:
        inst = c.per_request_us(c.instance_cpu)
        db = c.per_request_us(c.db_cpu)
        statements = r.statements.get(c.route)
        shown = f"{statements:.2f}" if statements is not None else "—"
        lines.append(
            f"| {c.instances} | `{c.route}` | {c.rps:,.0f} | {c.p50_ms:.2f} | {c.p99_ms:.2f} | {c.errors} | "
            f"{inst:.0f} | {c.per_request_us(c.nginx_cpu):.0f} | {db:.1f} | {db / max(inst, 1e-9):.1%} | {shown} |"
        )
    top = max(CLUSTER_SIZES)
    lines += ["", f"Capacity per core at {top} instances (10⁶ / µs per request):", ""]
    for c in r.cells:
        if c.instances == top:
            inst, db = c.per_request_us(c.instance_cpu), c.per_request_us(c.db_cpu)
            # Under a microsecond of PostgreSQL per request is its own
            # background work (autovacuum, the heartbeat), not the route's.
            pg = f"{1e6 / db:,.0f} req/s per PostgreSQL core" if db >= 1 else "no PostgreSQL work per request"
            lines.append(f"- `{c.route}`: {1e6 / max(inst, 1e-9):,.0f} req/s per instance core, {pg}.")
    if r.soak:
        s = r.soak
        lines += [
            "",
            f"**Soak:** {s.connections} connections for {s.seconds} s through nginx to {top} instances, each "
            f"connection going round {len(s.paths)} paths ({', '.join(f'`{p}`' for p in s.paths)}): "
            f"{s.requests:,} requests, {s.rps:,.0f} req/s, p99 {s.p99_ms:.1f} ms, {s.errors} errors. "
            "RSS of each instance (MiB):",
            "",
            "| seconds | " + " | ".join(f"instance {i + 1}" for i in range(len(s.rss[0][1]))) + " |",
            "|--:|" + "--:|" * len(s.rss[0][1]),
        ]
        for t, kib in s.rss:
            lines.append(f"| {t:.0f} | " + " | ".join(f"{k / 1024:.1f}" for k in kib) + " |")
    return lines + [""]


def cluster_targets(r: ClusterResult) -> list[str]:
    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    lines = []
    cached = [c for c in r.cells if is_cached_route(c.route)]
    if cached:
        worst = max(cached, key=lambda c: c.db_cpu / max(c.instance_cpu, 1e-9))
        ratio = worst.db_cpu / max(worst.instance_cpu, 1e-9)
        lines.append(
            f"| scale out: PostgreSQL CPU per cached page / Simple / JSON request ≤ 5 % of the instances' | "
            f"worst {ratio:.1%} (`{worst.route}`, {worst.instances} instances) | {verdict(ratio <= 0.05)} |"
        )
    for name, statements in r.statements.items():
        if "uncached" in name:
            lines.append(f"| scale out: uncached project page ≤ 3 round trips | {statements:.2f} statements | "
                         f"{verdict(statements <= 3)} |")
    errors = sum(c.errors for c in r.cells)
    lines.append(f"| scale out: 0 errors, every route, 1–{max(CLUSTER_SIZES)} instances | {errors} | "
                 f"{verdict(errors == 0)} |")
    if r.soak:
        s = r.soak
        lines.append(f"| soak: {s.connections} connections, {s.seconds} s, 0 errors | {s.errors} | "
                     f"{verdict(s.errors == 0)} |")
        first = [k / 1024 for k in s.rss[0][1]]
        last = [k / 1024 for k in s.rss[-1][1]]
        lines.append(
            "| soak: flat memory (no instance grows > 10 % after the first third) | "
            + ", ".join(f"{a:.0f}→{b:.0f} MiB" for a, b in zip(first, last))
            + f" | {verdict(s.flat())} |"
        )
    return lines


SUITES = [
    s.strip()
    for s in os.environ.get("BENCH_SUITES", "dataset,demo,index,latency,postgres,scale,cluster,pages,proxy").split(",")
]


def main() -> None:
    for tool in ("wrk",):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run `make bench`, which installs it")
    if not BIN.exists() or not (SITE / "pkg").exists() or not CEILING_BIN.exists():
        raise SystemExit("no release build: run `make bench` (it builds the server and the ceiling first)")
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.time()

    suites: list[Suite] = []
    latency_db = None
    sqlite_dataset: Suite | None = None
    postgres_dataset: Suite | None = None
    latencies: list[LatencyResult] = []
    scale: list[ScaleResult] = []
    cluster = PgCluster() if {"postgres", "scale", "latency"} & set(SUITES) else None
    try:
        if {"dataset", "postgres", "latency"} & set(SUITES):
            if DATASET.is_dir():
                db = prepare_db("dataset", ["import", str(DATASET)])
                project = "botocore" if (DATASET / "botocore.json").exists() else biggest_project(db)
                if "dataset" in SUITES:
                    sqlite_dataset = run_suite(
                        "dataset", f"Shared dataset ({DATASET.name})", db, project, "http", wire=True
                    )
                    suites.append(sqlite_dataset)
                latency_db = db
                url = None
                if ("postgres" in SUITES or "latency" in SUITES) and cluster:
                    url, _ = prepare_pg(cluster, "dataset", ["import", str(DATASET)])
                if "postgres" in SUITES and url:
                    postgres_dataset = run_suite(
                        "dataset (PostgreSQL)",
                        f"Shared dataset ({DATASET.name}) on PostgreSQL",
                        url,
                        project,
                        "http",
                        cluster=cluster,
                        ceiling=sqlite_dataset.ceiling if sqlite_dataset else None,
                    )
                    suites.append(postgres_dataset)
                # The async claim on both engines: the latency suite.
                if "latency" in SUITES and url:
                    latencies.append(run_latency(url, PG_LATENCY_MS, "PostgreSQL", cluster, PG_LATENCY_POOL))
            else:
                log(f"{DATASET} not found: the dataset suites are skipped")
        if "demo" in SUITES:
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
            latency_db = latency_db or demo
        index = run_index_suite() if "index" in SUITES else None
        if "latency" in SUITES and latency_db:
            latencies.insert(0, run_latency(latency_db))
        if "scale" in SUITES and cluster:
            args = ["demo-data", "--projects", str(SCALE_PROJECTS), "--releases-per-project", str(SCALE_RELEASES)]
            big = prepare_db(f"scale-{SCALE_PROJECTS}", args)
            term = a_search_term(big)
            scale.append(run_scale("SQLite", big, term))
            url, seconds = prepare_pg(cluster, "scale", args)
            scale.append(run_scale("PostgreSQL", url, term, cluster, seconds))
    finally:
        if cluster:
            cluster.stop()
    scaled_out = run_cluster_suite() if "cluster" in SUITES else None
    proxies = run_proxy_suite() if "proxy" in SUITES else None
    in_browser = None
    if "pages" in SUITES:
        if DATASET.is_dir():
            in_browser = pages.run(prepare_db("dataset", ["import", str(DATASET)]), PORT + 10)
        else:
            log(f"{DATASET} not found: the pages suite is skipped")

    wasm = bundle_file(".wasm")
    wasm_gzip_kb = len(gzip.compress(wasm.read_bytes(), 9)) / 1000
    today = dt.date.today().isoformat()
    lines = [
        f"# cheeseshop benchmark, {today}",
        "",
        f"Machine: {machine()}. Load: wrk on loopback (no `Accept-Encoding`), sharing the machine with the "
        f"server. Each cell: {WARMUP} s warm-up, then {SECONDS} s measured. "
        "Server: release build, SQLite (WAL), default pool and response cache unless stated (cached answers "
        "are checked against the catalogue generation, read on a connection of its own without a worker "
        "thread; `/search` and POSTed searches are never cached). "
        "`vs ceiling` divides by an in-memory axum server (examples/ceiling.rs) answering the route's very "
        "bytes, measured at the same connection count with no server of ours running; "
        "`server CPU` is the server's CPU time over wall time (200% = both cores).",
        "",
        "## Sizes",
        "",
        f"- WASM bundle: {size_line(wasm)}",
        f"- JS glue: {size_line(bundle_file('.js'))}",
        f"- CSS: {size_line(bundle_file('.css'))}",
        f"- Server binary: {BIN.stat().st_size / 1024 / 1024:.1f} MiB",
        "",
    ]
    lines += targets(suites, index, latencies[0] if latencies and latencies[0].backend == "SQLite" else None,
                     wasm_gzip_kb)
    extra = scale_targets(scale, latencies) + (cluster_targets(scaled_out) if scaled_out else [])
    extra += pages.targets(in_browser) if in_browser else []
    extra += proxy_targets(proxies) if proxies else []
    if extra:
        lines = lines[:-1] + extra + [""]
    lines += ["## Results", ""]
    for suite in suites:
        lines += suite_table(suite)
        if suite.wire:
            lines += wire_section(suite)
    if sqlite_dataset and postgres_dataset:
        lines += backends_section(sqlite_dataset, postgres_dataset)
    if index:
        lines += index_section(index)
    for latency in latencies:
        lines += latency_section(latency)
    if scale:
        lines += scale_section(scale)
    if scaled_out:
        lines += cluster_section(scaled_out)
    if proxies:
        lines += proxy_section(proxies)
    if in_browser:
        lines += pages.section(in_browser)
    lines.append(f"Total bench time: {(time.time() - started) / 60:.1f} min.")
    report = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(os.environ["BENCH_OUT"]).resolve() if os.environ.get("BENCH_OUT") else RESULTS / f"{today}.md"
    out.write_text(report)
    print(report)
    log(f"written to {out}")


if __name__ == "__main__":
    main()
