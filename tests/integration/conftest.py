"""The real stack for integration tests: Kafka and Elasticsearch started by infra/stack.sh when
not running, the services as subprocesses under a fresh topic prefix and index alias, so a
test run never touches a user's data, and a local web site with the sample pages."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from newsflow.core.settings import Settings

from .helpers import RUN_STEMS, environ, remove_run_data, run_stem, stage_healthy
from .ports import listen_port, web_port_base

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "site"
STAGES = ("fetch", "parse", "enrich", "index")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def stack() -> None:
    subprocess.run([str(REPO / "infra" / "stack.sh"), "up"], check=True)
    subprocess.run([str(REPO / "infra" / "corenlp" / "corenlp.sh"), "up"], check=True)  # the enrich stage's NER server


@pytest.fixture(scope="session", autouse=True)
def run_data_removed():
    """At the session's end, the topics and indices its runs made (helpers.run_stem) are deleted;
    NEWSFLOW_TEST_KEEP=1 keeps them for a look after a failure."""
    yield
    if not RUN_STEMS or os.environ.get("NEWSFLOW_TEST_KEEP") == "1":
        return
    try:
        topics, indices = remove_run_data(Settings(), sorted(RUN_STEMS))
        print(f"\nremoved this session's {len(topics)} topics and {len(indices)} indices")
    except Exception as exc:  # noqa: BLE001 - leftovers on a broker, not a failed test
        print(f"\ncould not remove this session's topics and indices: {type(exc).__name__}: {exc}")


@pytest.fixture(scope="session")
def test_env(stack) -> dict[str, str]:
    stem = run_stem("test")
    env = {
        **os.environ,
        "NEWSFLOW_TOPIC_PREFIX": f"{stem}.",
        "NEWSFLOW_INDEX_ALIAS": f"{stem}-articles",
        "NEWSFLOW_WEB_PORT_BASE": str(web_port_base()),
        "NEWSFLOW_SEARCH_PORT": str(listen_port()),
        "NEWSFLOW_LOG_LEVEL": "info",
        "NEWSFLOW_INDEX_BATCH_SECONDS": "0.3",
        "NEWSFLOW_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8",  # the test sites are on loopback
        "NEWSFLOW_FETCH_HOST_DELAY": "0",  # politeness lifted for our own test sites
    }
    return env


@pytest.fixture(scope="session")
def settings(test_env) -> Settings:
    keys = ("NEWSFLOW_TOPIC_PREFIX", "NEWSFLOW_INDEX_ALIAS", "NEWSFLOW_WEB_PORT_BASE", "NEWSFLOW_SEARCH_PORT")
    with environ({k: test_env[k] for k in keys}):
        yield Settings()


class ServiceProcess:
    """One `newsflow serve NAME` subprocess, stopped or killed like an operator would."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path):
        self.name, self.env, self.log_path, self.proc = name, env, log_path, None
        log_path.parent.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self.proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "newsflow"), "serve", self.name], env=self.env,
                                     stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)

    def stop(self) -> None:
        """SIGTERM, as a supervisor would; SIGKILL if it has not left within 30 s."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class Services:
    """The pipeline's processes, started, killed and restarted like an operator would."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir, self.procs = env, log_dir, {}

    def start(self, name: str) -> None:
        self.procs[name] = ServiceProcess(name, self.env, self.log_dir / f"{name}.log")
        self.procs[name].start()

    def kill(self, name: str) -> None:
        self.procs.pop(name).kill()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.stop()
        self.procs.clear()

    def alive(self, name: str) -> bool:
        return name in self.procs and self.procs[name].alive()

    def wait_ready(self, settings: Settings, timeout_s: float = 120) -> None:
        """Until every started stage answers its /health (and the search API its own). A process
        that exits meanwhile fails the wait at once, with the end of its log."""

        def ready() -> bool:
            for name, proc in self.procs.items():
                if not proc.alive():
                    lines = proc.log_path.read_text(errors="replace").splitlines()
                    errors = [line for line in lines if '"level": "error"' in line or '"level": "critical"' in line]
                    raise AssertionError(f"the {name} service exited ({proc.proc.returncode}): "
                                         + "\n".join((errors or lines)[-5:]))
            return all(_ok(f"http://127.0.0.1:{settings.search_port}/health") if name == "search"
                       else stage_healthy(settings, name) for name in self.procs)

        wait_until(ready, timeout_s, "the services healthy")


@pytest.fixture(scope="session")
def services(test_env, settings):
    svc = Services(test_env, REPO / ".var" / "logs" / f"test-{test_env['NEWSFLOW_TOPIC_PREFIX'].rstrip('.')}")
    for name in (*STAGES, "search"):
        svc.start(name)
    svc.wait_ready(settings)
    yield svc
    svc.stop_all()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(predicate, timeout_s: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output readable
        pass


@pytest.fixture(scope="session")
def sample_site() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(SAMPLES)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run(coro):
    return asyncio.run(coro)
