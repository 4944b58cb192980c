"""Real processes for the fault tests: a temporary installation (SQLite file, media, broker spool in
one folder), workers, gunicorn and a private redis-server, each in its own process group so a test
can SIGKILL one whole and cleanup never leaves one behind.

The approach of tests/smoke/test_killed_worker.py, shared by the tests in this folder.
"""

import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings

from tests.factories import ports
from tests.factories.ports import worker_ports

ROOT = Path(__file__).resolve().parents[2]
# The fault tests listen only on ports from this range (gunicorn, redis-server, the database proxy).
PORTS = worker_ports(18600, 18700)


def full_version() -> bool:
    """SARAI_FAULTS_FULL=1 runs the longer versions (more items, more answers, more cuts)."""
    return os.environ.get("SARAI_FAULTS_FULL", "") == "1"


def no_core_dumps() -> None:
    """In the child before exec: a process killed on purpose must not leave a core file behind."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def free_port(taken: set[int] = frozenset()) -> int:
    return ports.free_port(PORTS, taken)


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process for port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answers on port {port} after {timeout} s")


class Installation:
    """A throw-away installation in a temporary folder and the processes started on it."""

    def __init__(self, prefix: str, **env: str):
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        drop = {"DATABASE_URL", "CELERY_BROKER_DIR", "CELERY_BROKER_URL"}
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env.update(
            SARAI_VAR_DIR=str(self.folder),
            SARAI_MEDIA_ROOT=str(self.folder / "media"),
            SARAI_MODEL_CACHE=str(settings.SARAI_MODEL_CACHE),
            DJANGO_SETTINGS_MODULE="sarai_eval.settings",
            **env,
        )
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def listening_test(self, *, clips: int, name: str = "faults") -> str:
        """Seed an ACR test with one invited evaluator (tests/faults/seed.py); their invite token."""
        code = f"from tests.faults import seed; print(seed.listening_test(clips={clips}, name={name!r}))"
        return self.manage("shell", "-v0", "-c", code).strip().splitlines()[-1]

    def run(self, *argv: str, timeout: float = 60) -> None:
        result = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed:\n{result.stderr[-3000:]}")

    def wait_for_log(self, process: subprocess.Popen, text: str, *, timeout: float) -> None:
        """Wait until the process's log says `text` (e.g. a Celery worker's "ready.")."""
        log = self.logs[self.processes.index(process)]
        deadline = time.monotonic() + timeout
        while text not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in {log.name}\n{self.log_tail()}")
            time.sleep(0.1)

    def start(self, name: str, *argv: str) -> subprocess.Popen:
        """Start a process in its own group (so killing it kills its children too), logging to a file."""
        log_path = self.folder / f"{name}-{len(self.processes)}.log"
        self.logs.append(log_path)
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=no_core_dumps,
            )
        self.processes.append(process)
        return process

    def start_worker(self) -> subprocess.Popen:
        return self.start(
            "worker",
            sys.executable,
            "-m",
            "celery",
            "-A",
            "sarai_eval",
            "worker",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        )

    def start_web(self, port: int) -> subprocess.Popen:
        """gunicorn as deployed (sarai_eval/gunicorn_conf.py), answering once it listens."""
        self.env.update(SARAI_WEB_BIND=f"127.0.0.1:{port}", SARAI_WEB_WORKERS="2", SARAI_WEB_THREADS="4")
        web = self.start(
            "web", sys.executable, "-m", "gunicorn", "-c", "sarai_eval/gunicorn_conf.py", "sarai_eval.wsgi"
        )
        wait_for_port(port, timeout=60, process=web)
        return web

    def start_redis(self, port: int) -> subprocess.Popen:
        """A private redis-server that keeps nothing on disk: stopping it loses every message in it."""
        redis = self.start(
            "redis",
            "/usr/bin/redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.folder),
        )
        wait_for_port(port, timeout=20, process=redis)
        return redis

    def kill(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Send the signal to the whole process group (a gunicorn master and its workers alike)."""
        if process.poll() is None:
            os.killpg(process.pid, sig)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        """Kill every process started here, then remove the folder (a failure has quoted the logs)."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with sqlite3.connect(self.folder / "db.sqlite3", timeout=30) as db:
            return db.execute(sql, params).fetchall()

    def wait_for(self, sql: str, predicate, timeout: float, query=None) -> list[tuple]:
        query = query or self.query
        deadline = time.monotonic() + timeout
        rows = None
        while time.monotonic() < deadline:
            rows = query(sql)
            if predicate(rows):
                return rows
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {sql!r}; last rows {rows}\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-chars:]}" for path in self.logs if path.exists()
        )
