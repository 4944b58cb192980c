"""Load-test the evaluator pages: hundreds of simulated evaluators through a real gunicorn.

The command creates a listening test for the bench (from synthesized samples when there are enough,
else from generated tones imported as load-test material), starts gunicorn on a loopback port with
production settings, and lets annotations.loadtest play every session over HTTP: open link,
consent, headphone screen, practice and ratings, each clip fetched whole and heard before the
answer. It prints request times per kind, throughput, refusals, errors, the CPU both sides used,
and the count check (every rating a client was told was stored is stored, once). The test is
deleted afterwards unless --keep. Exit status 1 when the count check fails or anything went wrong.
"""

import asyncio
import csv
import io
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import psutil
import soundfile
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation

from annotations import importing, loadtest, services
from annotations.models import ListeningTest, Rating
from annotations.views import REFUSALS
from synthesis.models import Sample

MAX_EVALUATORS = 2000
STRESS_FACTOR = 5
MATERIAL_SYSTEM = "load-test material"
TARGET_P99_MS = 100.0
TARGET_KINDS = ("page", "audio", "answer submit")
HEALTH_TIMEOUT_S = 60
STOP_TIMEOUT_S = 35
ROOT = Path(settings.BASE_DIR)


class Command(BaseCommand):
    help = "Play --evaluators simulated listening-test sessions against a gunicorn this command starts."

    def add_arguments(self, parser):
        parser.add_argument("--evaluators", type=int, default=200, help=f"At most {MAX_EVALUATORS}.")
        parser.add_argument(
            "--mode",
            choices=loadtest.MODES,
            default="people",
            help=f"people: answer 0.5-2 s (× --pause) after each clip ends; stress: {STRESS_FACTOR}× the "
            "evaluators, answering the moment the listening rule allows.",
        )
        parser.add_argument("--clips", type=int, default=8, help="Clips each evaluator rates.")
        parser.add_argument("--pause", type=float, default=1.0, help="Scales people's pauses.")
        parser.add_argument(
            "--clip-seconds", type=float, default=3.0, help="Length of generated clips (when generated)."
        )
        parser.add_argument(
            "--screen-trials", type=int, default=6, help="Headphone-screen trials (protocol: 6)."
        )
        parser.add_argument(
            "--ramp",
            type=float,
            default=None,
            help="Arrivals spread over this many seconds (people: 10, stress: 0).",
        )
        parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (SARAI_WEB_WORKERS).")
        parser.add_argument(
            "--threads", type=int, default=None, help="Threads per worker (SARAI_WEB_THREADS)."
        )
        parser.add_argument("--port", type=int, default=0, help="Loopback port for gunicorn (0: a free one).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--keep", action="store_true", help="Keep the bench test and its ratings.")
        parser.add_argument(
            "--time-limit", type=float, default=600.0, help="Seconds before everything stops."
        )

    def handle(self, *args, **opts):
        evaluators = self._evaluators(opts)
        # httpx logs every request at INFO: tens of thousands of lines that would bury the table.
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
        started = time.monotonic()
        self.stdout.write(
            f"Preparing a test of {opts['clips']} clips for {evaluators} evaluators ({opts['mode']})."
        )
        test, generated = prepare_test(
            clips=opts["clips"],
            evaluators=evaluators,
            clip_seconds=opts["clip_seconds"],
            screen_trials=opts["screen_trials"],
        )
        try:
            with gunicorn(port=opts["port"], workers=opts["workers"], threads=opts["threads"]) as server:
                self.stdout.write(
                    f"gunicorn {server.pid} serves {server.base_url} ({server.shape}); running {test.name}."
                )
                remaining = opts["time_limit"] - (time.monotonic() - started)
                plan = self._plan(test, server, evaluators, opts)
                outcome, cpu = self._load(plan, server, remaining)
            check = count_check(test, outcome)
        finally:
            if not opts["keep"]:
                remove_test(test, generated)
        self.stdout.write(report(test, plan, outcome, cpu, check, opts["clips"], server.request_times))
        if server.log_tail and (outcome.statuses or not check["passed"]):
            self.stdout.write("Server log (last lines):\n" + server.log_tail)
        problems = failures(outcome, check)
        if problems:
            raise CommandError("; ".join(problems))

    def _evaluators(self, opts) -> int:
        requested = opts["evaluators"]
        if not 1 <= requested <= MAX_EVALUATORS:
            raise CommandError(f"--evaluators must be between 1 and {MAX_EVALUATORS}.")
        if opts["clips"] < 1 or opts["screen_trials"] < 1:
            raise CommandError("--clips and --screen-trials must be at least 1.")
        if opts["mode"] == "stress":
            if requested * STRESS_FACTOR > MAX_EVALUATORS:
                self.stdout.write(f"Stress mode is capped at {MAX_EVALUATORS} evaluators.")
            return min(requested * STRESS_FACTOR, MAX_EVALUATORS)
        return requested

    def _plan(self, test: ListeningTest, server: "Server", evaluators: int, opts) -> loadtest.Plan:
        with translation.override("en"):
            refusal_codes = {str(message): code for code, message in REFUSALS.items()}
        ramp = opts["ramp"] if opts["ramp"] is not None else (10.0 if opts["mode"] == "people" else 0.0)
        return loadtest.Plan(
            base_url=server.base_url,
            open_path=reverse("annotations:open_link", args=[test.open_token]),
            evaluators=evaluators,
            mode=opts["mode"],
            pause=opts["pause"],
            ramp_s=ramp,
            seed=opts["seed"],
            refusal_codes=refusal_codes,
        )

    def _load(self, plan: loadtest.Plan, server: "Server", time_limit: float):
        client_before, server_before = os.times(), server.cpu_seconds()
        outcome = asyncio.run(
            loadtest.run(
                plan, time_limit=max(time_limit, 1.0), on_progress=lambda line: self.stdout.write(line)
            )
        )
        client_after = os.times()
        client = (client_after.user + client_after.system) - (client_before.user + client_before.system)
        cpu = {"client": client, "server": server.cpu_seconds() - server_before, "shape": server.shape}
        return outcome, cpu


# -- the material --------------------------------------------------------------------------------


def prepare_test(*, clips: int, evaluators: int, clip_seconds: float, screen_trials: int):
    """The bench test (open link, headphone screen, one practice clip) and the ids of generated samples."""
    existing = [
        sample
        for sample in Sample.objects.filter(origin=Sample.Origin.SYNTHESIZED, duration_s__gt=0)
        .exclude(audio="")
        .order_by("pk")[: clips + 1]
        if sample.audio.storage.exists(sample.audio.name)
    ]
    generated: list[int] = []
    if len(existing) >= clips:
        samples = existing
    else:
        samples = generate_material(count=clips + 1, seconds=clip_seconds)
        generated = [sample.pk for sample in samples]
    test = services.create_test(
        name=f"bench-evaluators-{timezone.now():%Y%m%d-%H%M%S}",
        description="Load-test material of manage.py bench_evaluators; deleted after the run unless --keep.",
        samples=samples[:clips],
        training=samples[clips : clips + 1],
        scale=None,
        ratings_per_sample=evaluators,
        samples_per_session=clips,
        allow_open_link=True,
        screen_trials=screen_trials,
        screen_pass_mark=min(5, screen_trials),
    )
    return test, generated


def generate_material(*, count: int, seconds: float) -> list[Sample]:
    """count tones of different pitch, imported as load-test material like any archive of samples."""
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    archive = io.BytesIO()
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(["file", "system", "text", "origin"])
    with zipfile.ZipFile(archive, "w") as zipped:
        for index in range(count):
            ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.05)
            tone = (0.3 * np.sin(2 * np.pi * (220 + 40 * index) * t) * ramp).astype(np.float32)
            wav = io.BytesIO()
            soundfile.write(wav, tone, rate, format="WAV", subtype="PCM_16")
            zipped.writestr(f"tone-{index + 1}.wav", wav.getvalue())
            writer.writerow(
                [f"tone-{index + 1}.wav", MATERIAL_SYSTEM, f"Load-test tone {index + 1}.", "imported"]
            )
        zipped.writestr(importing.MANIFEST_NAME, manifest.getvalue())
    return importing.import_samples(source=archive.getvalue())


def remove_test(test: ListeningTest, generated: list[int]) -> None:
    """Delete the bench test, its playback copies and the samples generated for it, with their files."""
    playback = [name for name in test.test_samples.values_list("playback_audio", flat=True) if name]
    audio = [name for name in Sample.objects.filter(pk__in=generated).values_list("audio", flat=True) if name]
    with transaction.atomic():
        Rating.objects.filter(evaluator__test=test).delete()
        test.delete()
        Sample.objects.filter(pk__in=generated).delete()
    storage = Sample._meta.get_field("audio").storage
    for name in playback + audio:
        storage.delete(name)


# -- the server ----------------------------------------------------------------------------------


class Server:
    def __init__(self, process: subprocess.Popen, base_url: str, log_path: Path, env: dict):
        self.process = process
        self.pid = process.pid
        self.base_url = base_url
        self.log_path = log_path
        self.log_tail = ""
        self.request_times: dict[str, list[float]] = {}
        # What the server runs with, as sarai_eval/gunicorn_conf.py reads it (same defaults).
        workers, threads = env.get("SARAI_WEB_WORKERS", "2"), env.get("SARAI_WEB_THREADS", "8")
        self.shape = f"{workers} workers × {threads} threads"

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


@contextmanager
def gunicorn(*, port: int, workers: int | None, threads: int | None):
    """gunicorn on 127.0.0.1 with production settings and a fresh secret key, stopped on the way out."""
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
    }
    if workers:
        env["SARAI_WEB_WORKERS"] = str(workers)
    if threads:
        env["SARAI_WEB_THREADS"] = str(threads)
    log_path = Path(tempfile.mkstemp(prefix="bench-evaluators-gunicorn-", suffix=".log")[1])
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "sarai_eval/gunicorn_conf.py", "sarai_eval.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path, env)
    try:
        wait_healthy(server)
        yield server
    finally:
        stop(process)
        lines = log_path.read_text(errors="replace").splitlines()
        server.request_times = request_times(lines)
        # The request log's JSON lines are left out: what is wanted on a failure is the tracebacks.
        server.log_tail = "\n".join([line for line in lines if not line.startswith("{")][-60:])
        log_path.unlink(missing_ok=True)


def request_times(lines: list[str]) -> dict[str, list[float]]:
    """Time inside Django per request kind (ms), from the app's request log (sarai_eval/request_log.py).

    Beside the client's times it tells waiting (for a gunicorn thread, for the CPU) from working.
    """
    times: dict[str, list[float]] = {}
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
            kind = loadtest.request_kind(entry["method"], entry["path"])
            times.setdefault(kind, []).append(float(entry["duration_ms"]))
        except (ValueError, KeyError, TypeError):
            continue
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


def count_check(test: ListeningTest, outcome: loadtest.Outcome) -> dict:
    """Ratings the clients were told were stored against the Rating rows of the test."""
    main = test.rated_dimensions[0]
    rows = list(
        Rating.objects.filter(evaluator__test=test).values_list(
            "evaluator__token", "test_sample__token", "trial_id", "dimension"
        )
    )
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
    test: ListeningTest,
    plan: loadtest.Plan,
    outcome: loadtest.Outcome,
    cpu: dict,
    check: dict,
    clips: int,
    server_times: dict[str, list[float]],
) -> str:
    cores = psutil.cpu_count(logical=True) or 1
    wall = max(outcome.wall_s, 1e-9)
    kinds = sorted(outcome.timings, key=lambda kind: (kind not in TARGET_KINDS, kind))
    lines = [
        "",
        f"`manage.py bench_evaluators` · {timezone.now():%Y-%m-%d %H:%M} · {plan.mode} · "
        f"{plan.evaluators} evaluators · {clips} clips · {connection.vendor} · {cores} CPUs",
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
        f"CPU: client {cpu['client'] / wall:.2f} cores, server (gunicorn tree) "
        f"{cpu['server'] / wall:.2f} cores, of {cores}",
        f"Count check: {'PASSED' if check['passed'] else 'FAILED'} — {check['told']} ratings OK'd to "
        f"clients, {check['stored']} stored, {check['twice']} stored twice, {check['missing']} missing, "
        f"{check['unexpected']} stored without an OK (expected {plan.evaluators * clips})",
        f"Test {test.name}: {'kept' if test.pk else 'deleted'}",
    ]
    if outcome.messages:
        lines += ["First problems:", *(f"  {message}" for message in outcome.messages)]
    return "\n".join(lines) + "\n"
