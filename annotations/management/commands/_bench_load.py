"""One load run of `manage.py bench_evaluators`: a gunicorn of some checkout, the simulated evaluators
against it, the count check and the report. `--against` runs it for two checkouts in turn.
"""

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psutil
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone, translation

from annotations import loadtest
from annotations.views import REFUSALS

TARGET_P99_MS = 100.0
TARGET_KINDS = ("page", "audio", "answer submit")
HEALTH_TIMEOUT_S = 60
STOP_TIMEOUT_S = 35
WORKER_CLASSES = ("gthread", "sync")
MEMORY_EVERY_S = 0.5
LOCKS_EVERY_S = 0.02
ROOT = Path(settings.BASE_DIR)


@dataclass(frozen=True)
class Shape:
    """What gunicorn runs with; None: what the checkout's sarai_eval/gunicorn_conf.py chooses."""

    workers: int | None = None
    threads: int | None = None
    worker_class: str | None = None

    def environment(self) -> dict[str, str]:
        env = {}
        if self.workers:
            env["SARAI_WEB_WORKERS"] = str(self.workers)
        if self.threads:
            env["SARAI_WEB_THREADS"] = str(self.threads)
        if self.worker_class:
            env["SARAI_WEB_WORKER_CLASS"] = self.worker_class
        return env


def server_shape(opts) -> Shape:
    return Shape(opts["workers"], opts["threads"], opts["worker_class"])


def make_plan(*, server: "Server", open_path: str, evaluators: int, opts) -> loadtest.Plan:
    with translation.override("en"):
        refusal_codes = {str(message): code for code, message in REFUSALS.items()}
    ramp = opts["ramp"] if opts["ramp"] is not None else (10.0 if opts["mode"] == "people" else 0.0)
    return loadtest.Plan(
        base_url=server.base_url,
        open_path=open_path,
        evaluators=evaluators,
        mode=opts["mode"],
        pause=opts["pause"],
        ramp_s=ramp,
        seed=opts["seed"],
        seeks=opts["seeks"],
        refusal_codes=refusal_codes,
    )


def run_load(plan: loadtest.Plan, server: "Server", time_limit: float, on_progress) -> tuple:
    """The simulated evaluators against server; the CPU both sides used and the server's memory."""
    client_before, server_before = os.times(), server.cpu_seconds()
    with MemoryWatch(server) as memory, LockWatch() as locks:
        outcome = asyncio.run(loadtest.run(plan, time_limit=max(time_limit, 1.0), on_progress=on_progress))
    client_after = os.times()
    client = (client_after.user + client_after.system) - (client_before.user + client_before.system)
    cpu = {
        "client": client,
        "server": server.cpu_seconds() - server_before,
        "shape": server.shape,
        "rss_start": memory.start,
        "rss_peak": memory.peak,
        "locks": locks.summary(),
    }
    return outcome, cpu


# -- the server ----------------------------------------------------------------------------------


class Server:
    def __init__(self, process: subprocess.Popen, base_url: str, log_path: Path, shape: str):
        self.process = process
        self.pid = process.pid
        self.base_url = base_url
        self.log_path = log_path
        self.log_tail = ""
        self.request_times: dict[str, list[float]] = {}
        self.database_times: dict[str, dict[str, list[float]]] = {}
        self.shape = shape

    def _tree(self) -> list[psutil.Process]:
        master = psutil.Process(self.pid)
        return [master, *master.children(recursive=True)]

    def cpu_seconds(self) -> float:
        """User + system time of the gunicorn master and its workers, live and exited."""
        try:
            master = psutil.Process(self.pid)
            times = master.cpu_times()
            total = times.user + times.system + times.children_user + times.children_system
            for child in master.children(recursive=True):
                try:
                    child_times = child.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += child_times.user + child_times.system
        except psutil.NoSuchProcess:
            return 0.0
        return total

    def rss_bytes(self) -> int:
        """Resident memory of the gunicorn master and its workers together."""
        total = 0
        try:
            processes = self._tree()
        except psutil.NoSuchProcess:
            return 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total


class MemoryWatch:
    """The server tree's RSS when the load starts and its highest sample while it runs."""

    def __init__(self, server: Server):
        self.server = server
        self.start = self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> "MemoryWatch":
        self.start = self.peak = self.server.rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(MEMORY_EVERY_S):
            self.peak = max(self.peak, self.server.rss_bytes())


class LockWatch:
    """On PostgreSQL, how often server backends wait for a lock while the load runs: pg_stat_activity
    sampled every LOCKS_EVERY_S on a connection of its own (SQLite's waits are in the request log)."""

    def __init__(self):
        self.samples = self.waiting = self.most = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> "LockWatch":
        if connection.vendor == "postgresql":
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        try:
            with connections["default"].cursor() as cursor:
                while not self._done.wait(LOCKS_EVERY_S):
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                    (count,) = cursor.fetchone()
                    self.samples += 1
                    self.waiting += bool(count)
                    self.most = max(self.most, count)
        finally:
            connections["default"].close()

    def summary(self) -> dict | None:
        if not self.samples:
            return None
        return {"samples": self.samples, "waiting": self.waiting, "most": self.most}


@contextmanager
def gunicorn(*, port: int, shape: Shape, root: Path = ROOT, environment: dict | None = None):
    """gunicorn of the checkout at root on 127.0.0.1 with production settings and a fresh secret key,
    stopped on the way out. environment: variables for another checkout's server (its own database)."""
    port = port or free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "sarai_eval.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_SECURE_COOKIES": "false",
        # Rate limits stay on at the installation's settings: the simulated evaluators spread over
        # loopback addresses so that per-address limits are exercised without false refusals.
        "SARAI_RATELIMIT_ENABLE": "true",
        "SARAI_WEB_BIND": f"127.0.0.1:{port}",
        "SARAI_VAR_DIR": str(settings.VAR_DIR),
        "SARAI_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        **(environment or {}),
        **shape.environment(),
    }
    log_path = Path(tempfile.mkstemp(prefix="bench-evaluators-gunicorn-", suffix=".log")[1])
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "sarai_eval/gunicorn_conf.py", "sarai_eval.wsgi"],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path, configured_shape(root, env))
    try:
        wait_healthy(server)
        yield server
    finally:
        stop(process)
        lines = log_path.read_text(errors="replace").splitlines()
        server.request_times = request_times(lines)
        server.database_times = database_times(lines)
        # The request log's JSON lines are left out: what is wanted on a failure is the tracebacks.
        server.log_tail = "\n".join([line for line in lines if not line.startswith("{")][-60:])
        log_path.unlink(missing_ok=True)


def configured_shape(root: Path, env: dict) -> str:
    """Processes, threads and worker class as the checkout's sarai_eval/gunicorn_conf.py reads env."""
    code = (
        "import json; from sarai_eval import gunicorn_conf as c; "
        "print(json.dumps([c.workers, getattr(c, 'threads', 1), getattr(c, 'worker_class', 'sync')]))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True)
    try:
        workers, threads, worker_class = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return "shape unknown"
    if worker_class == "gthread":
        return f"{workers} workers × {threads} threads (gthread)"
    return f"{workers} {worker_class} workers"


def request_log(lines: list[str]):
    """(request kind, entry) for each JSON line of the app's request log (sarai_eval/request_log.py)."""
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
            yield loadtest.request_kind(entry["method"], entry["path"]), entry
        except (ValueError, KeyError, TypeError):
            continue


def request_times(lines: list[str]) -> dict[str, list[float]]:
    """Time inside Django per request kind (ms), from the request log.

    Beside the client's times it tells waiting (for a gunicorn thread, for the CPU) from working.
    """
    times: dict[str, list[float]] = {}
    for kind, entry in request_log(lines):
        try:
            times.setdefault(kind, []).append(float(entry["duration_ms"]))
        except (ValueError, KeyError, TypeError):
            continue
    return times


def database_times(lines: list[str]) -> dict[str, dict[str, list[float]]]:
    """Per request kind, each request's statements, time in the database and, of that, time waiting
    for SQLite's write lock (ms), from the request log's db_queries, db_ms and lock_wait_ms."""
    times: dict[str, dict[str, list[float]]] = {}
    for kind, entry in request_log(lines):
        try:
            figures = [float(entry[key]) for key in ("db_queries", "db_ms", "lock_wait_ms")]
        except (ValueError, KeyError, TypeError):
            continue
        kept = times.setdefault(kind, {"queries": [], "db": [], "lock": []})
        for key, value in zip(("queries", "db", "lock"), figures, strict=True):
            kept[key].append(value)
    return times


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise CommandError(
                f"gunicorn exited with {server.process.returncode}:\n{server.log_path.read_text()}"
            )
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise CommandError(f"gunicorn did not answer /healthz within {HEALTH_TIMEOUT_S} s.")


def stop(process: subprocess.Popen) -> None:
    """Quick shutdown (SIGINT): the load is over, so no request is cut short, and the graceful one waits
    for idle keep-alive connections."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- counting and reporting ----------------------------------------------------------------------
def count_check(main: str, rows: list, outcome: loadtest.Outcome) -> dict:
    """Ratings the clients were told were stored against the test's Rating rows: (evaluator token,
    clip token, trial id, dimension) each; main is the test's first rated dimension."""
    stored = Counter((token, clip) for token, clip, _, dimension in rows if dimension == main)
    twice = sum(
        n - 1 for n in Counter((token, trial, dim) for token, _, trial, dim in rows).values() if n > 1
    )
    told = Counter(outcome.answered)
    missing = sum((told - stored).values())
    unexpected = sum((stored - told).values())
    passed = not twice and not missing and not unexpected and sum(told.values()) == sum(stored.values())
    return {
        "told": sum(told.values()),
        "stored": sum(stored.values()),
        "twice": twice,
        "missing": missing,
        "unexpected": unexpected,
        "passed": passed,
    }


def loop_lag(outcome: loadtest.Outcome) -> str:
    if not outcome.loop_lag:
        return "–"
    p50, p99 = loadtest.percentiles(outcome.loop_lag)
    return f"{p50:.1f} / {p99:.1f} / {max(outcome.loop_lag):.1f}"


def failures(outcome: loadtest.Outcome, check: dict) -> list[str]:
    problems = []
    if not check["passed"]:
        problems.append("the count check failed")
    if outcome.errors:
        problems.append(f"{sum(outcome.errors.values())} errors")
    if outcome.refusals:
        problems.append(f"{sum(outcome.refusals.values())} refusals")
    if outcome.stopped:
        problems.append(f"{outcome.stopped} sessions did not finish")
    return problems


def report(
    *,
    test_line: str,
    vendor: str,
    plan: loadtest.Plan,
    outcome: loadtest.Outcome,
    cpu: dict,
    check: dict,
    clips: int,
    server_times: dict[str, list[float]],
    database_times: dict[str, dict[str, list[float]]] | None = None,
) -> str:
    """The run's table and lines; test_line says which test it ran and what became of it."""
    cores = psutil.cpu_count(logical=True) or 1
    wall = max(outcome.wall_s, 1e-9)
    kinds = sorted(outcome.timings, key=lambda kind: (kind not in TARGET_KINDS, kind))
    lines = [
        "",
        f"`manage.py bench_evaluators` · {timezone.now():%Y-%m-%d %H:%M} · {plan.mode} · "
        f"{plan.evaluators} evaluators · {clips} clips · {vendor} · {cores} CPUs",
        f"gunicorn {cpu['shape']}; arrivals over {plan.ramp_s:.0f} s; "
        + (f"pauses 0.5-2 s × {plan.pause}" if plan.mode == "people" else "answers at the earliest")
        + f"; rate limits on (pages {settings.SARAI_RATELIMIT_PAGES}/min per evaluator, "
        f"{settings.SARAI_RATELIMIT_PAGES_PER_ADDRESS}/min per address)",
        "",
        "| Request | Count | Errors | P50 ms | P99 ms | In Django P50 / P99 ms | Target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for kind in kinds:
        p50, p99 = loadtest.percentiles(outcome.timings[kind])
        count, errors = len(outcome.timings[kind]), outcome.errors.get(kind, 0)
        target = ""
        if kind in TARGET_KINDS:
            met = p99 < TARGET_P99_MS and not errors
            target = f"P99 < {TARGET_P99_MS:.0f} ms, 0 errors: {'met' if met else 'MISSED'}"
        inside = "–"
        if server_times.get(kind):
            inside = "{:.1f} / {:.1f}".format(*loadtest.percentiles(server_times[kind]))
        lines.append(f"| {kind} | {count} | {errors} | {p50:.1f} | {p99:.1f} | {inside} | {target} |")
    for kind in sorted(set(outcome.errors) - set(outcome.timings)):
        lines.append(f"| {kind} | – | {outcome.errors[kind]} | – | – | – | |")
    if database_times:
        lines += ["", *database_table(kinds, database_times, vendor, cpu.get("locks"))]
    refusals = ", ".join(f"{code} {n}" for code, n in outcome.refusals.most_common()) or "none (target 0)"
    statuses = ", ".join(f"{status} {n}" for status, n in outcome.statuses.most_common()) or "none (target 0)"
    lines += [
        "",
        f"Wall time {outcome.wall_s:.1f} s; {outcome.requests / wall:.1f} requests/s; "
        f"{check['told'] / wall:.2f} ratings/s; {outcome.finished}/{plan.evaluators} sessions finished"
        + (" (stopped by --time-limit)" if outcome.timed_out else ""),
        f"Refusals by reason: {refusals}",
        f"HTTP errors by status: {statuses}",
        "Sent again on a new connection after the server closed an idle one (as browsers do): "
        + (", ".join(f"{kind} {n}" for kind, n in outcome.resent.most_common()) or "none"),
        f"Client event loop late by (P50 / P99 / max ms; part of every time above): {loop_lag(outcome)}",
        f"CPU: client {cpu['client'] / wall:.2f} cores, server (gunicorn tree) "
        f"{cpu['server'] / wall:.2f} cores, of {cores}",
        f"Count check: {'PASSED' if check['passed'] else 'FAILED'} — {check['told']} ratings OK'd to "
        f"clients, {check['stored']} stored, {check['twice']} stored twice, {check['missing']} missing, "
        f"{check['unexpected']} stored without an OK (expected {plan.evaluators * clips})",
        f"Server memory (RSS of the gunicorn tree): {cpu['rss_start'] / 2**20:.0f} MB when the load "
        f"started, at most {cpu['rss_peak'] / 2**20:.0f} MB during it",
        test_line,
    ]
    if outcome.messages:
        lines += ["First problems:", *(f"  {message}" for message in outcome.messages)]
    return "\n".join(lines) + "\n"


def database_table(
    kinds: list[str], times: dict[str, dict[str, list[float]]], vendor: str, locks: dict | None
) -> list[str]:
    """Each request kind's statements and time in the database, and the time waiting for a lock."""
    lines = [
        "| Request | Statements (median) | In the database P50 / P99 ms "
        "| Waiting for the write lock P50 / P99 ms |",
        "|---|---:|---:|---:|",
    ]
    for kind in kinds:
        if kind not in times:
            continue
        kept = times[kind]
        queries = float(np.median(kept["queries"]))
        db = "{:.1f} / {:.1f}".format(*loadtest.percentiles(kept["db"]))
        lock = "{:.1f} / {:.1f}".format(*loadtest.percentiles(kept["lock"])) if vendor == "sqlite" else "–"
        lines.append(f"| {kind} | {queries:.0f} | {db} | {lock} |")
    if vendor == "sqlite":
        lines.append(
            "SQLite: the lock wait is the time in BEGIN IMMEDIATE and in writes outside a transaction "
            "(sarai_eval/request_log.py)."
        )
    elif locks:
        lines.append(
            f"PostgreSQL lock waits (pg_stat_activity every {LOCKS_EVERY_S * 1000:.0f} ms): a backend "
            f"waited for a lock in {locks['waiting']} of {locks['samples']} samples "
            f"({100 * locks['waiting'] / locks['samples']:.1f} %), at most {locks['most']} at once."
        )
    return lines
