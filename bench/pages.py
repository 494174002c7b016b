"""The pages suite of `make bench` (issue 16): what a first and a second
visit cost a visitor on a slow phone, measured by bench/pages.mjs in
Chromium with the network and the CPU throttled through CDP.

Sites measured side by side, in one run:
- cheeseshop as built (target/release, target/site);
- optionally cheeseshop as built from another commit (`BENCH_PAGES_BEFORE`:
  a checkout whose target/release/cheeseshop and target/site are built, or
  `BENCH_PAGES_BEFORE_TARGET` for its target directory), for before/after;
- the app of the "Full Web Apps with FastAPI" course that cheeseshop began
  as (chapter 8, its own SQLite database of the same top-100 projects), when
  a clone of talkpython/web-applications-with-fastapi-course is at hand
  (`BENCH_FASTAPI_COURSE`: a checkout or a bare git directory). It is
  exported into target/bench and run in a venv from PyPI with its pinned
  requirements; nothing of it is kept in this repository.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "target/bench"
SCRIPT = ROOT / "bench/pages.mjs"
COURSE_APP = "code/ch8-async-databases"
DEFAULT_COURSE = Path("/work/.mirror/talkpython+web-applications-with-fastapi-course/repo")
RUNS = int(os.environ.get("BENCH_PAGES_RUNS", "3"))

# Issue 16's targets, for every measured page of cheeseshop, first visit.
TARGET_BYTES = 150 * 1024
TARGET_LCP_MS = 1500
TARGET_INTERACTIVE_MS = 2500


def log(message: str) -> None:
    print(f"--> {message}", flush=True, file=sys.stderr)


def wait_for(url: str, proc: subprocess.Popen, log_path: Path, seconds: int = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the server exited at start-up; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s; see {log_path}")


class Process:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, url: str, label: str):
        self.log_path = WORK / f"pages-{label}.log"
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self.log_file, stderr=subprocess.STDOUT)
        try:
            wait_for(url, self.proc, self.log_path)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log_file.close()


def cheeseshop(target: Path, db: Path, port: int, label: str) -> Process:
    """A cheeseshop release build on a copy of the dataset's database (the
    copy is migrated by the binary itself: an older build may predate a
    migration of the newer one, so each gets its own)."""
    binary = target / "release/cheeseshop"
    copy = WORK / f"pages-{label}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    env = dict(os.environ, DATABASE_URL=f"sqlite://{copy}", RUST_LOG="warn")
    shutil.copyfile(db, copy)
    subprocess.run([str(binary), "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    env.update(LEPTOS_SITE_ROOT=str(target / "site"), LEPTOS_SITE_ADDR=f"127.0.0.1:{port}", LEPTOS_ENV="PROD")
    return Process([str(binary)], env, ROOT, f"http://127.0.0.1:{port}/about", label)


def cheeseshop_cookie(target: Path, db_label: str, base: str) -> str:
    """Creates a user with the command line and logs in through the login
    form's server function: the account page's session cookie."""
    import http.client

    binary = target / "release/cheeseshop"
    env = dict(os.environ, DATABASE_URL=f"sqlite://{WORK / f'pages-{db_label}.db'}", RUST_LOG="warn")
    password = "correct horse battery staple"
    subprocess.run(
        [str(binary), "user", "create", "--username", "pagesbench", "--email", "pagesbench@example.org",
         "--name", "Pages Bench"],
        input=password + "\n", text=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
    body = urllib.parse.urlencode({"identifier": "pagesbench", "password": password})
    conn.request("POST", "/api/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie") or ""
    conn.close()
    return cookie.split(";", 1)[0]


def course_checkout() -> Path | None:
    source = Path(os.environ.get("BENCH_FASTAPI_COURSE", str(DEFAULT_COURSE)))
    if not source.exists():
        return None
    out = WORK / "fastapi-course"
    app = out / COURSE_APP
    if not app.exists():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        git_dir = ["--git-dir", str(source)] if not (source / ".git").exists() else ["-C", str(source)]
        archive = subprocess.run(["git", *git_dir, "archive", "HEAD", COURSE_APP], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    venv = WORK / "fastapi-course-venv"
    python = venv / "bin/python"
    if not python.exists():
        log("installing the FastAPI course app's requirements from PyPI")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(app / "requirements.txt")],
            check=True,
        )
    return app


def fastapi_course(app: Path, port: int) -> Process:
    python = WORK / "fastapi-course-venv/bin/python"
    argv = [str(python), "-m", "uvicorn", "main:app", "--host", "127.0.0.1", "--port", str(port), "--log-level",
            "warning"]
    return Process(argv, dict(os.environ), app, f"http://127.0.0.1:{port}/", "fastapi-course")


def fastapi_cookie(base: str) -> str:
    """Registers on the course app's form; its cookie is the account page's."""
    import http.client

    conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
    body = urllib.parse.urlencode(
        {"name": "Pages Bench", "email": f"bench{time.time_ns()}@example.org", "password": "correct horse"}
    )
    conn.request("POST", "/account/register", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    cookie = response.getheader("Set-Cookie") or ""
    conn.close()
    return cookie.split(";", 1)[0]


def cheeseshop_site(label: str, base: str, cookie: str) -> dict:
    return {
        "label": label,
        "base": base,
        "cookie": cookie,
        "pages": [
            {"name": "home", "path": "/"},
            {"name": "big project (botocore)", "path": "/project/botocore/"},
            {"name": "search results", "path": "/search?q=python"},
            {"name": "account", "path": "/account", "signedIn": True},
        ],
        "navigation": {
            "warmup": "/project/flask/",
            "from": "/",
            "link": "[data-test-new-release] a, a[data-test-new-release]",
            "arrived": "[data-test-project-title]",
        },
    }


def fastapi_site(base: str, cookie: str) -> dict:
    return {
        "label": "FastAPI course app",
        "base": base,
        "cookie": cookie,
        "pages": [
            {"name": "home", "path": "/"},
            {"name": "big project (botocore)", "path": "/project/botocore"},
            {"name": "account", "path": "/account", "signedIn": True},
        ],
        "navigation": {
            "warmup": "/project/flask",
            "from": "/",
            "link": "a[href^='/project/']",
            "arrived": ".package-title, h1",
        },
    }


@dataclass
class PagesResult:
    sites: list[dict]


def run(db: Path, port: int) -> PagesResult | None:
    if not shutil.which("node"):
        log("node is missing: the pages suite is skipped")
        return None
    sites: list[dict] = []
    processes: list[Process] = []
    try:
        target = ROOT / "target"
        after = cheeseshop(target, db, port, "after")
        processes.append(after)
        base = f"http://127.0.0.1:{port}"
        sites.append(cheeseshop_site("cheeseshop", base, cheeseshop_cookie(target, "after", base)))

        before_target = os.environ.get("BENCH_PAGES_BEFORE_TARGET") or (
            str(Path(os.environ["BENCH_PAGES_BEFORE"]) / "target") if os.environ.get("BENCH_PAGES_BEFORE") else ""
        )
        if before_target:
            before_target_path = Path(before_target)
            before = cheeseshop(before_target_path, db, port + 1, "before")
            processes.append(before)
            base = f"http://127.0.0.1:{port + 1}"
            label = os.environ.get("BENCH_PAGES_BEFORE_LABEL", "cheeseshop before")
            sites.append(cheeseshop_site(label, base, cheeseshop_cookie(before_target_path, "before", base)))

        app = course_checkout()
        if app:
            course = fastapi_course(app, port + 2)
            processes.append(course)
            base = f"http://127.0.0.1:{port + 2}"
            sites.append(fastapi_site(base, fastapi_cookie(base)))
        else:
            log("no clone of the FastAPI course (BENCH_FASTAPI_COURSE): it is left out of the pages suite")

        config = WORK / "pages.json"
        config.write_text(json.dumps({"runs": RUNS, "sites": sites}))
        log(f"pages: {len(sites)} sites, throttled Chromium, {RUNS} runs each")
        out = subprocess.run(["node", str(SCRIPT), str(config)], check=True, capture_output=True, text=True)
        return PagesResult(json.loads(out.stdout)["sites"])
    finally:
        for p in processes:
            p.stop()


def kb(n: float | None) -> str:
    return "—" if n is None else f"{n / 1024:.1f}"


def ms(n: float | None) -> str:
    return "—" if n is None else f"{n / 1000:.2f} s"


def section(result: PagesResult) -> list[str]:
    lines = [
        "### Pages on a slow phone",
        "",
        f"bench/pages.mjs: Chromium with the network throttled through CDP (1.6 Mbps down, 750 kbps up, "
        f"150 ms latency) and the CPU slowed 4×; median of {RUNS} runs. **Cold**: a new browser context "
        "(nothing cached); **warm**: the same page again. Anonymous, but for the account page (signed in). Bytes on the wire (encoded, headers included; "
        "0 for what the cache answered). **Interactive**: when the page's own code has run (`<body "
        "data-hydrated>` for pages that load code at once), else when its DOM is ready, and never before "
        "the last long task ends. **TBT**: long tasks' time beyond 50 ms after the first paint. **Box "
        "live**: for pages whose only island is the search box, from focusing it until its code runs "
        "(the box is a plain form until then).",
        "",
        "| site | page | visit | HTML KB | CSS KB | JS KB | WASM KB | total KB | requests | LCP | interactive "
        "| TBT ms | box live |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for site in result.sites:
        for page in site["pages"]:
            for visit in ("cold", "warm"):
                v = page[visit]
                b = v["bytes"]
                wake = "—" if v.get("wake") is None else ms(v["wake"])
                lines.append(
                    f"| {site['label']} | {page['name']} (`{page['path']}`) | {visit} | {kb(b['html'])} | "
                    f"{kb(b['css'])} | {kb(b['js'])} | {kb(b['wasm'])} | {kb(v['total'])} | {v['requests']} | "
                    f"{ms(v['lcp'])} | {ms(v['interactive'])} | {v['tbt']:.0f} | {wake} |"
                )
    lines += ["", "Navigation (warm: the destination's code cached), timed in the pages from the click on "
              "the home page's first new release until the project page shows its title (the first frame "
              "with it), and until it is interactive; clicked at once, and after the pointer rested on the "
              "link for 0.3 s:", "",
              "| site | shown | interactive | shown, after hovering | interactive, after hovering |",
              "|---|--:|--:|--:|--:|"]
    for site in result.sites:
        nav = site.get("navigation")
        if nav:
            d, h = nav["direct"], nav["hovered"]
            lines.append(f"| {site['label']} | {ms(d['shown'])} | {ms(d['interactive'])} | {ms(h['shown'])} | "
                         f"{ms(h['interactive'])} |")
    lines.append("")
    return lines


def targets(result: PagesResult) -> list[str]:
    site = result.sites[0]
    rows = []
    for page in site["pages"]:
        cold = page["cold"]
        rows.append((f"pages: {page['name']} first visit ≤ 150 KB", f"{kb(cold['total'])} KB",
                     cold["total"] <= TARGET_BYTES))
        rows.append((f"pages: {page['name']} LCP ≤ 1.5 s (throttled)", ms(cold["lcp"]), cold["lcp"] <= TARGET_LCP_MS))
        rows.append((f"pages: {page['name']} interactive ≤ 2.5 s (throttled)", ms(cold["interactive"]),
                     cold["interactive"] <= TARGET_INTERACTIVE_MS))
    return [f"| {name} | {value} | {'met' if ok else '**not met**'} |" for name, value, ok in rows]
