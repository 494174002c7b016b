"""The index suite of `make bench`: the Simple API of cheeseshop beside the
indexes a team would run instead, pypiserver (as its Docker image runs it:
gunicorn, one gevent worker, watchdog) and devpi-server, each loaded with the
same 240 files and measured one at a time with the same wrk; and beside an
in-memory ceiling serving cheeseshop's very bytes.

Everything is installed by `scripts/setup.sh bench` into .tools/bench and
kept under target/bench; the packages are generated here.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / ".tools/bench/bin"
WORK = ROOT / "target/bench"

PROJECT = "peer-bench-pkg"
VERSIONS = 60
SMALL_PROJECTS = 20
SMALL_VERSIONS = 3
JSON_V1 = "application/vnd.pypi.simple.v1+json"


def log(message: str) -> None:
    print(f"--> {message}", flush=True, file=__import__("sys").stderr)


# ------------------------------------------------------------- packages


def _metadata(name: str, version: str) -> str:
    return (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: A package of the benchmark\nRequires-Python: >=3.8\n"
        "Classifier: Programming Language :: Python :: 3\n"
        "Description-Content-Type: text/markdown\n\n"
        f"# {name}\n\nVersion {version} of a package made by `make bench`.\n"
    )


def _wheel(out: Path, name: str, version: str) -> Path:
    dist = name.replace("-", "_")
    path = out / f"{dist}-{version}-py3-none-any.whl"
    info = f"{dist}-{version}.dist-info"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{dist}/__init__.py", f"VERSION = {version!r}\n" + "# padding\n" * 200)
        z.writestr(f"{info}/METADATA", _metadata(name, version))
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: make-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    path.write_bytes(buffer.getvalue())
    return path


def _sdist(out: Path, name: str, version: str) -> Path:
    stem = f"{name.replace('-', '_')}-{version}"
    path = out / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, text in (
            (f"{stem}/PKG-INFO", _metadata(name, version)),
            (f"{stem}/{name.replace('-', '_')}/__init__.py", f"VERSION = {version!r}\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return path


def build_packages() -> list[Path]:
    """240 files: one project with 60 versions (wheel and sdist each), and 20
    small projects with 3 versions each (the same)."""
    out = WORK / "peer-packages"
    done = out / ".ok"
    if done.exists():
        return sorted(p for p in out.iterdir() if p.suffix in (".whl", ".gz"))
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    files = []
    for i in range(VERSIONS):
        files += [_wheel(out, PROJECT, f"1.{i}.0"), _sdist(out, PROJECT, f"1.{i}.0")]
    for j in range(SMALL_PROJECTS):
        for v in range(SMALL_VERSIONS):
            name = f"peer-small-{j:02d}"
            files += [_wheel(out, name, f"0.{v}"), _sdist(out, name, f"0.{v}")]
    done.touch()
    return sorted(files)


def twine_upload(files: list[Path], url: str, user: str, password: str) -> None:
    subprocess.run(
        [str(TOOLS / "twine"), "upload", "--disable-progress-bar", "--non-interactive",
         "--repository-url", url, "-u", user, "-p", password, *map(str, files)],
        check=True, stdout=subprocess.DEVNULL,
    )


# ------------------------------------------------------------ processes


def wait_for(url: str, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited at start-up")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit(f"{what} did not answer within {timeout} s")


class Peer:
    """A peer index in its own process group (gunicorn forks a worker)."""

    def __init__(self, label: str, base: str, cmd: list[str], cwd: Path, env: dict[str, str] | None = None):
        self.label, self.base = label, base
        self.log_file = open(WORK / f"peer-{label}.log", "w")
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, env=dict(os.environ, **(env or {})), stdout=self.log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def pids(self) -> list[int]:
        """The process and its children (gunicorn's worker)."""
        pids = [self.proc.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                pids.append(int(stat.parent.name))
        return pids

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log_file.close()


def start_pypiserver(files: list[Path], port: int) -> Peer:
    """pypiserver as its Docker image runs it: `pypi-server run --server
    gunicorn` with one gevent worker (its gunicorn.conf.py), watchdog
    installed; no authentication (as our reads need none)."""
    home = WORK / "pypiserver"
    shutil.rmtree(home, ignore_errors=True)
    packages = home / "packages"
    packages.mkdir(parents=True)
    for f in files:
        shutil.copy(f, packages / f.name)
    (home / "gunicorn.conf.py").write_text("workers = 1\nworker_class = 'gevent'\npreload_app = True\n")
    peer = Peer(
        "pypiserver", f"http://127.0.0.1:{port}",
        [str(TOOLS / "pypi-server"), "run", "-p", str(port), "-i", "127.0.0.1", "--server", "gunicorn",
         "-a", ".", "-P", ".", str(packages)],
        cwd=home,
    )
    wait_for(f"{peer.base}/simple/", peer.proc, "pypiserver")
    return peer


def _devpi(label: str, port: int):
    """A fresh devpi-server (no root/pypi) under target/bench/{label}, and
    its client, logged in as root."""
    home = WORK / label
    shutil.rmtree(home, ignore_errors=True)
    server_dir, client_dir = home / "server", home / "client"
    subprocess.run(
        [str(TOOLS / "devpi-init"), "--serverdir", str(server_dir), "--no-root-pypi", "--root-passwd", "root"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    peer = Peer(
        label, f"http://127.0.0.1:{port}",
        [str(TOOLS / "devpi-server"), "--serverdir", str(server_dir), "--host", "127.0.0.1", "--port", str(port)],
        cwd=home,
    )
    wait_for(f"{peer.base}/+api", peer.proc, "devpi-server")
    devpi = lambda *args: subprocess.run(  # noqa: E731
        [str(TOOLS / "devpi"), "--clientdir", str(client_dir), *args],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    devpi("use", peer.base)
    return peer, devpi


def start_devpi(files: list[Path], port: int) -> tuple[Peer, str]:
    """devpi-server with a user and a private index of no bases (no
    mirroring), the files uploaded by twine. Returns the peer and the
    index's path."""
    peer, devpi = _devpi("devpi", port)
    devpi("user", "-c", "bench", "password=bench", "email=bench@example.org")
    devpi("login", "bench", "--password", "bench")
    devpi("index", "-c", "dev", "bases=", "volatile=False")
    twine_upload(files, f"{peer.base}/bench/dev/", "bench", "bench")
    return peer, "/bench/dev/+simple"


@dataclass
class OurIndex:
    db: Path
    storage: Path
    token: str


def prepare_our_index(binary: Path, files: list[Path], base: str, start) -> OurIndex:
    """A fresh database with a user and an API token (made by the binary
    itself), then the files uploaded by twine through a started server."""
    db = WORK / "index.db"
    storage = WORK / "index-files"
    for stale in WORK.glob("index.db*"):
        stale.unlink()
    shutil.rmtree(storage, ignore_errors=True)
    env = dict(os.environ, DATABASE_URL=f"sqlite://{db}", RUST_LOG="warn", CHEESESHOP_STORAGE_DIR=str(storage))
    password = secrets.token_urlsafe(24)
    subprocess.run(
        [str(binary), "user", "create", "--username", "bench", "--email", "bench@example.org"],
        input=password + "\n", text=True, env=env, check=True, stdout=subprocess.DEVNULL,
    )
    token = subprocess.run(
        [str(binary), "token", "create", "--user", "bench"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    index = OurIndex(db, storage, token)
    server = start(index)
    try:
        twine_upload(files, f"{base}/legacy/", "__token__", token)
    finally:
        server.stop()
    return index


# ------------------------------------------------------------ the bytes


def digest_share(body: bytes) -> float:
    """How much of `body` is hex digests (runs of 32+ hex characters), as the
    bytes of information they carry: no compression goes below it."""
    import re

    runs = re.findall(rb"[0-9a-f]{32,}", body)
    return sum(len(r) / 2 for r in runs) / max(len(body), 1)


def fetch_bytes(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------ proxies


def big_name() -> str:
    """The project of `build_big_wheel`."""
    return "peer-big-pkg"


def build_big_wheel(megabytes: int = 50) -> Path:
    """A wheel of `megabytes` MB of incompressible bytes (stored, not
    deflated), for download throughput and time to first byte."""
    out = WORK / "peer-big"
    path = out / "peer_big_pkg-1.0-py3-none-any.whl"
    if path.exists() and path.stat().st_size > megabytes * 1_000_000:
        return path
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    info = "peer_big_pkg-1.0.dist-info"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("peer_big_pkg/__init__.py", "")
        z.writestr("peer_big_pkg/blob.bin", secrets.token_bytes(megabytes * 1_000_000))
        z.writestr(f"{info}/METADATA", _metadata("peer-big-pkg", "1.0"))
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: make-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return path


def start_devpi_mirror(upstream_simple: str, port: int) -> tuple[Peer, str]:
    """devpi-server with an index `root/mirror` mirroring `upstream_simple`
    (devpi's pull-through cache). Returns the peer and its Simple prefix."""
    peer, devpi = _devpi("devpi-mirror", port)
    devpi("login", "root", "--password", "root")
    devpi("index", "-c", "root/mirror", "type=mirror", f"mirror_url={upstream_simple}")
    return peer, "/root/mirror/+simple"


def start_proxpi(upstream_simple: str, port: int) -> Peer:
    """proxpi as its README runs it in production: gunicorn, one worker."""
    home = WORK / "proxpi"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    peer = Peer(
        "proxpi", f"http://127.0.0.1:{port}",
        [str(TOOLS / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--preload", "proxpi.server:app"],
        cwd=home,
        env={"PROXPI_INDEX_URL": upstream_simple, "PROXPI_CACHE_DIR": str(home / "cache"),
             "PROXPI_LOGGING_LEVEL": "WARNING"},
    )
    wait_for(f"{peer.base}/health", peer.proc, "proxpi")
    return peer
