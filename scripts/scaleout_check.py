"""Bring up sarai-eval as several processes on PostgreSQL + Redis and drive it end to end.

Run with the checkout's virtualenv: `.venv/bin/python scripts/scaleout_check.py`. It needs PostgreSQL
on 127.0.0.1:5432 (user postgres, no password) and Redis on 127.0.0.1:6379, and it leaves nothing
behind: a fresh database sarai_scaleout_<pid> (dropped at the end), Redis db 13 as the broker
(flushed first), and one temporary folder for media, static files and logs,
shared by every process as an NFS mount would be. Models come from the checkout's var/models, so
nothing is assembled again.

What it starts, as docs/deploy.md describes a scaled-out installation: gunicorn with 2 workers,
a Celery worker on the `inference` queue and one on `light,inference` that also runs beat. What it
checks: a run of 2 sentences x 2 styles is shared by both workers; two evaluators complete their
sessions over HTTP against gunicorn (consent, headphone screen, practice, ratings) obeying the
server's listening rule; the results page and the ratings CSV hold exactly the answers sent.
Prints PASS or FAIL with what failed; exits 1 on failure.
"""

import contextlib
import csv
import io
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
BROKER_URL = "redis://127.0.0.1:6379/13"
PORTS = range(18200, 18300)
RUN_TIMEOUT_S = 180
READY_TIMEOUT_S = 90
SENTENCES = (
    "The library opens at nine and closes after the evening lecture.",
    "Please remind me to water the tomatoes when I get home.",
)
EVALUATOR_SCORES = (4, 2)  # each evaluator answers every clip with its own score


class CheckFailed(Exception):
    pass


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise CheckFailed("no free port in 18200-18299")


def environment(*, database: str, tmp: Path, port: int) -> dict[str, str]:
    """The variables every process of the installation shares (docs/deploy.md, "Each machine")."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "SARAI_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "sarai_eval.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
            # Plain HTTP on localhost: no TLS in front, so cookies without the Secure flag.
            "DJANGO_SECURE_COOKIES": "false",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "DATABASE_CONN_MAX_AGE": "60",
            "CELERY_BROKER_URL": BROKER_URL,
            "SARAI_VAR_DIR": str(tmp / "var"),
            "SARAI_MEDIA_ROOT": str(tmp / "media"),
            "SARAI_MODEL_CACHE": str(ROOT / "var" / "models"),
            "SARAI_WEB_BIND": f"127.0.0.1:{port}",
            "SARAI_WEB_WORKERS": "2",
            "HF_HUB_OFFLINE": "1",
            "LOG_LEVEL": "INFO",
        }
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise CheckFailed(f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout


def start(name: str, command: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen:
    log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process in stop()
    # Own process group, so teardown reaches gunicorn's and Celery's children too.
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(processes: dict[str, subprocess.Popen]) -> None:
    """TERM each main process (Celery's warm shutdown), then KILL what is left of its group."""
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 20
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_for(what: str, ready, timeout: float, processes: dict[str, subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                tail = (logs / f"{name}.log").read_text(errors="replace")[-2000:]
                raise CheckFailed(
                    f"{name} exited with {process.returncode} while waiting for {what}:\n{tail}"
                )
        if ready():
            return
        time.sleep(0.5)
    raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")


def web_answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).text.strip() == "ok"
    except httpx.HTTPError:
        return False


def worker_ready(logs: Path, name: str) -> bool:
    return b" ready." in (logs / f"{name}.log").read_bytes()


# -- the evaluator's side, over HTTP -------------------------------------------------------------


def field(page: httpx.Response, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page.text)
    if not match:
        raise CheckFailed(f"{page.url.path} ({page.status_code}) has no {name} field: {page.text[:300]!r}")
    return match.group(1)


def fetch_whole(client: httpx.Client, url: str) -> float:
    """GET a clip as the audio element does and return its duration from the WAV header."""
    response = client.get(url)
    response.raise_for_status()
    if int(response.headers.get("Content-Length", -1)) != len(response.content):
        raise CheckFailed(f"{url} came back short")
    with wave.open(io.BytesIO(response.content)) as clip:
        return clip.getnframes() / clip.getframerate()


def answer_screen(client: httpx.Client, response: httpx.Response, token: str) -> httpx.Response:
    """One headphone-screen trial: fetch its tones, answer the quiet one (read from the DB: a harness)."""
    from annotations.models import ScreenTrial

    html = response.text
    audio = re.search(r'<audio[^>]*src="([^"]+)"', html).group(1).replace("&amp;", "&")
    fetch_whole(client, audio)
    trial = (
        ScreenTrial.objects.filter(evaluator__token=token, answer__isnull=True)
        .order_by("attempt", "number")
        .first()
    )
    data = {
        "csrfmiddlewaretoken": field(response, "csrfmiddlewaretoken"),
        "answer": trial.quiet_position,
        "trial": field(response, "trial"),
    }
    return client.post(str(response.url), data=data)


def answer_clip(client: httpx.Client, response: httpx.Response, score: int) -> tuple[str, str]:
    """Fetch the page's clip whole, wait until it could have been heard, post the score; (clip, next URL)."""
    html = response.text
    clip = field(response, "clip")
    audio = re.search(r'<audio[^>]*src="([^"]+)"', html).group(1)
    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
    started = time.monotonic()
    duration = fetch_whole(client, audio)
    time.sleep(max(0.0, started + duration - time.monotonic()))
    data = {
        "csrfmiddlewaretoken": field(response, "csrfmiddlewaretoken"),
        "clip": clip,
        "played_to_end": "true",
        "play_count": "1",
        "time_to_answer_ms": "900",
    }
    for question in sorted(set(re.findall(r'name="(score-[a-z]+)"', html))):
        data[question] = str(score)
    reply = client.post(action, data=data, headers={"Accept": "application/json"})
    body = reply.json()
    if not body.get("ok"):
        raise CheckFailed(f"answer to clip {clip} refused: {body.get('error')}")
    return clip, body["next"]


def take_session(base: str, token: str, score: int, sent: list, errors: list) -> None:
    """One evaluator from the invite link to the finish page; appends (token, clip, score) per rating."""
    from django.db import connection

    try:
        with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as client:
            page = client.get(f"/t/i/{token}/")
            page = client.post(
                str(page.url), data={"agree": "on", "csrfmiddlewaretoken": field(page, "csrfmiddlewaretoken")}
            )
            while page.url.path.endswith("/check/"):
                page = answer_screen(client, page, token)
            while page.url.path.endswith(("/training/", "/rate/")):
                rating = page.url.path.endswith("/rate/")
                clip, next_url = answer_clip(client, page, score)
                if rating:
                    sent.append((token, clip, score))
                page = client.get(next_url)
            if not page.url.path.endswith("/finish/"):
                raise CheckFailed(f"evaluator {token[:6]}… ended on {page.url.path}, not the finish page")
    except Exception as exc:  # reported by the main thread
        errors.append(f"evaluator {token[:6]}…: {exc!r}")
    finally:
        connection.close()


# -- the checks ------------------------------------------------------------------------------------


def queue_run():
    from synthesis import services
    from synthesis.models import PipelineConfig, StylePreset

    data = ("text,language,tags\n" + "".join(f'"{text}",en,\n' for text in SENTENCES)).encode()
    sentence_set = services.import_sentences(name="scaleout", data=data, filename="scaleout.csv")
    return services.start_run(
        name="scaleout",
        config=PipelineConfig.objects.get(name="piper-joe"),
        sentence_sets=[sentence_set],
        styles=list(StylePreset.objects.filter(name__in=["neutral", "warm"])),
    )


def wait_for_run(run, processes, logs) -> None:
    from synthesis.models import Status

    def finished() -> bool:
        return not run.items.exclude(status__in=[Status.DONE, Status.FAILED]).exists()

    wait_for("the run's 4 items", finished, RUN_TIMEOUT_S, processes, logs)
    failed = list(run.items.filter(status=Status.FAILED).values_list("error", flat=True))
    if failed:
        raise CheckFailed(f"{len(failed)} item(s) failed: {failed[0]}")


def parent_pid(pid: int) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after its ")".
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def items_per_worker(run, workers: dict[str, subprocess.Popen]) -> dict[str, int]:
    """Worker name -> items its pool processes claimed (claimed_by is host:pid of the pool process)."""
    counts = dict.fromkeys(workers, 0)
    main_pids = {process.pid: name for name, process in workers.items()}
    for claimed_by in run.items.values_list("claimed_by", flat=True):
        pid = int(claimed_by.rsplit(":", 1)[1])
        name = main_pids.get(pid) or main_pids.get(parent_pid(pid))
        if name:
            counts[name] += 1
    return counts


def rate_over_http(base: str, run) -> tuple[object, list]:
    from annotations import services
    from annotations.models import Scale
    from synthesis.models import Sample

    samples = list(Sample.objects.filter(run=run).order_by("pk"))
    test = services.create_test(
        name="scaleout",
        samples=samples,
        scale=Scale.objects.get(name="acr-en"),
        ratings_per_sample=2,
        samples_per_session=3,
        training=samples[:1],
    )
    evaluators = services.invite_evaluators(test=test, count=len(EVALUATOR_SCORES))
    sent, errors = [], []
    threads = [
        threading.Thread(target=take_session, args=(base, evaluator.token, score, sent, errors))
        for evaluator, score in zip(evaluators, EVALUATOR_SCORES, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise CheckFailed("; ".join(errors))
    return test, sent


def expected_rows(test, sent: list) -> list[tuple[str, str, str]]:
    from annotations.models import Evaluator, TestSample
    from annotations.results.tables import sample_key

    pseudonyms = dict(Evaluator.objects.filter(test=test).values_list("token", "pseudonym"))
    clips = {
        clip.token: sample_key(clip.sample_id, clip.sample.source_name)
        for clip in TestSample.objects.filter(test=test).select_related("sample")
    }
    return sorted((pseudonyms[token], clips[clip], str(score)) for token, clip, score in sent)


def check_results(base: str, test, sent: list) -> str:
    """Log in as an admin over HTTP; the dashboard's count and the ratings CSV must match what was sent."""
    from django.contrib.auth.models import User

    password = secrets.token_urlsafe(16)
    User.objects.create_superuser("scaleout-admin", "", password)
    with httpx.Client(base_url=base, follow_redirects=True, timeout=60) as client:
        login = client.get("/admin/login/")
        client.post(
            "/admin/login/",
            data={
                "username": "scaleout-admin",
                "password": password,
                "csrfmiddlewaretoken": field(login, "csrfmiddlewaretoken"),
                "next": "/admin/",
            },
        )
        dashboard = client.get(f"/results/tests/{test.pk}/")
        if dashboard.status_code != 200 or "/admin/login/" in dashboard.url.path:
            raise CheckFailed(f"results page answered {dashboard.status_code} at {dashboard.url.path}")
        shown = re.search(r"<strong>(\d+)</strong> of (\d+) ratings collected", dashboard.text)
        if not shown or int(shown.group(1)) != len(sent):
            raise CheckFailed(
                f"results page shows {shown and shown.group(0)!r}, {len(sent)} ratings were sent"
            )
        export = client.get(f"/results/tests/{test.pk}/ratings.csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
    got = sorted((row["evaluator"], row["sample"], row["score"]) for row in rows)
    if got != expected_rows(test, sent):
        raise CheckFailed(f"ratings.csv holds {got}, expected {expected_rows(test, sent)}")
    if len(set(got)) != len(got):
        raise CheckFailed("ratings.csv holds a rating twice")
    page = re.sub("</?strong>", "", shown.group(0))
    return f"results page: {page}; ratings.csv: {len(rows)} rows, no duplicates"


def check(tmp: Path, processes: dict[str, subprocess.Popen], database: str) -> list[str]:
    logs = tmp / "logs"
    logs.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(database=database, tmp=tmp, port=port)
    os.environ.update(env)
    setup_started = time.monotonic()
    redis.Redis.from_url(BROKER_URL).flushdb()
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "collectstatic", "--noinput", "-v0")
    manage(env, "load_demo")
    celery = [PYTHON, "-m", "celery", "-A", "sarai_eval", "worker", "--loglevel=INFO", "--concurrency=1"]
    processes["web"] = start(
        "web", [GUNICORN, "-c", "sarai_eval/gunicorn_conf.py", "sarai_eval.wsgi"], env, logs
    )
    processes["worker-inference"] = start(
        "worker-inference", [*celery, "-Q", "inference", "-n", "inference@%h"], env, logs
    )
    processes["worker-light"] = start(
        "worker-light", [*celery, "-Q", "light,inference", "-n", "light@%h", "-B"], env, logs
    )
    wait_for("gunicorn /healthz", lambda: web_answers(base), READY_TIMEOUT_S, processes, logs)
    for name in ("worker-inference", "worker-light"):
        wait_for(
            f"{name} to be ready",
            lambda name=name: worker_ready(logs, name),
            READY_TIMEOUT_S,
            processes,
            logs,
        )

    import logging

    import django

    django.setup()
    # The settings' root handler would print every request the evaluators make.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    import sarai_eval  # noqa: F401 - the Celery app, so start_run's messages reach Redis

    started = run_started = time.monotonic()
    run = queue_run()
    wait_for_run(run, processes, logs)
    counts = items_per_worker(run, {name: processes[name] for name in ("worker-inference", "worker-light")})
    if not all(counts.values()):
        raise CheckFailed(f"not every worker processed items: {counts}")
    summary = [
        f"setup: migrate, collectstatic, gunicorn and 2 workers ready in {run_started - setup_started:.0f} s",
        f"run: 4 items done in {time.monotonic() - started:.0f} s; items per worker: {counts}",
    ]
    started = time.monotonic()
    test, sent = rate_over_http(base, run)
    summary.append(
        f"sessions: 2 evaluators finished over HTTP, {len(sent)} ratings "
        f"in {time.monotonic() - started:.0f} s"
    )
    summary.append(check_results(base, test, sent))
    return summary


def drop_database(database: str) -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main() -> int:
    database = f"sarai_scaleout_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="sarai-scaleout-"))
    processes: dict[str, subprocess.Popen] = {}
    started, outcome, summary = time.monotonic(), 1, ["interrupted"]
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{database}"')
        summary = check(tmp, processes, database)
        outcome = 0
    except Exception as exc:
        summary = [f"{type(exc).__name__}: {exc}"]
    finally:
        stop(processes)
        if outcome:
            for log in sorted((tmp / "logs").glob("*.log")):
                print(f"--- last lines of {log.name} ---\n{log.read_text(errors='replace')[-1500:]}")
        drop_database(database)
        redis.Redis.from_url(BROKER_URL).flushdb()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"scaleout check: {'PASS' if outcome == 0 else 'FAIL'} ({time.monotonic() - started:.0f} s)")
    for line in summary:
        print(f"  {line}")
    return outcome


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
