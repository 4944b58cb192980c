"""A real Celery worker is SIGKILLed in the middle of an item; a new worker finishes the run.

This runs the project as a user would — separate processes sharing an SQLite file and the
filesystem broker in a temporary folder — because a killed process cannot be simulated in-process.
"""

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[2]


def no_core_dumps() -> None:
    """In the child before exec: a process killed with SIGILL must not leave a core file behind."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@pytest.mark.models
@pytest.mark.processes
@pytest.mark.backends
class KilledWorkerTests(SimpleTestCase):
    def setUp(self):
        self.folder = Path(tempfile.mkdtemp(prefix="sarai-killed-worker-"))
        self.env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_DIR"}}
        self.env.update(
            SARAI_VAR_DIR=str(self.folder),
            SARAI_MEDIA_ROOT=str(self.folder / "media"),
            SARAI_MODEL_CACHE=str(settings.SARAI_MODEL_CACHE),
            CELERY_BROKER_URL=self.broker_url(),
            # A long lease: recovery must come from noticing the dead process, not from a timeout.
            SARAI_ITEM_LEASE_SECONDS="3600",
            DJANGO_SETTINGS_MODULE="sarai_eval.settings",
        )
        self.workers: list[subprocess.Popen] = []
        self.addCleanup(self.stop_workers)
        self.manage("migrate", "--noinput", "-v0")
        self.manage("load_demo")

    def broker_url(self) -> str:
        """The filesystem broker, or a private Redis database when the suite runs against Redis."""
        configured = os.environ.get("CELERY_BROKER_URL", "")
        if not configured.startswith("redis://"):
            return "filesystem://"
        import redis

        # The database below this process's own (tests/testenv.py gives each test worker a pair).
        number = int(urlsplit(configured).path.strip("/") or 1) - 1
        url = urlsplit(configured)._replace(path=f"/{number}").geturl()
        redis.Redis.from_url(url).flushdb()
        self.addCleanup(lambda: redis.Redis.from_url(url).flushdb())
        return url

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def start_worker(self) -> subprocess.Popen:
        log = open(self.folder / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115 - closed with the process
        self.addCleanup(log.close)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "sarai_eval",
                "worker",
                "--concurrency=1",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=no_core_dumps,
        )
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=30)

    def query(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.folder / "db.sqlite3", timeout=30) as db:
            return db.execute(sql).fetchall()

    def wait_for(self, sql: str, predicate, timeout: float) -> list[tuple]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.query(sql)
            if predicate(rows):
                return rows
            time.sleep(0.05)
        logs = "\n".join(p.read_text()[-3000:] for p in self.folder.glob("worker-*.log"))
        self.fail(f"timed out waiting for {sql!r}; last rows {rows}\n{logs}")

    def test_an_item_running_in_a_killed_worker_is_finished_once_by_the_next_worker(self):
        self.manage("synthesize", "--set", "demo-en", "--styles", "neutral", "--no-wait")
        first = self.start_worker()
        # Wait until one item is done and the next is being synthesised, then kill the whole worker.
        running = self.wait_for(
            "SELECT id, claimed_by, (SELECT count(*) FROM synthesis_runitem WHERE status='done') "
            "FROM synthesis_runitem WHERE status='running'",
            lambda rows: rows and rows[0][2] >= 1,
            timeout=180,
        )
        killed_item, claimed_by, _ = running[0]
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        self.assertEqual(
            self.query(f"SELECT status FROM synthesis_runitem WHERE id={killed_item}"),
            [("running",)],
            "the kill must land while the item is running",
        )

        self.start_worker()
        self.wait_for(
            "SELECT status FROM synthesis_synthesisrun", lambda rows: rows[0][0] == "done", timeout=240
        )
        items = self.query("SELECT id, status, attempts, claimed_by FROM synthesis_runitem ORDER BY id")
        self.assertEqual({status for _, status, _, _ in items}, {"done"})
        self.assertEqual(len(items), 6)
        samples = self.query("SELECT run_item_id FROM synthesis_sample")
        self.assertEqual(sorted(row[0] for row in samples), [row[0] for row in items])  # one each, none lost
        retried = next(row for row in items if row[0] == killed_item)
        self.assertEqual(retried[2], 2)
        self.assertNotEqual(retried[3], claimed_by)
        self.assertEqual(
            self.query("SELECT done_count, failed_count, total_count FROM synthesis_synthesisrun"),
            [(6, 0, 6)],
        )

    def test_a_pool_process_killed_by_sigill_fails_its_item_naming_the_stage_and_the_signal(self):
        self.manage("synthesize", "--set", "demo-en", "--styles", "neutral", "--no-wait")
        self.start_worker()
        running = self.wait_for(
            "SELECT id, claimed_by, stage FROM synthesis_runitem WHERE status='running' AND stage='load'",
            bool,
            timeout=180,
        )
        item_id, claimed_by, _ = running[0]
        os.kill(int(claimed_by.rpartition(":")[2]), signal.SIGILL)  # the pool process, not the worker

        failed = self.wait_for(
            f"SELECT status, error FROM synthesis_runitem WHERE id={item_id} AND status!='running'",
            bool,
            timeout=60,
        )
        status, error = failed[0]
        self.assertEqual(status, "failed")
        self.assertIn("SIGILL (illegal instruction)", error)
        self.assertIn("during the model loading stage", error)  # DNSMOS warms up for seconds
        # The worker's main process lives on and finishes the rest of the run.
        self.wait_for(
            "SELECT status, done_count, failed_count FROM synthesis_synthesisrun",
            lambda rows: rows[0] == ("done", 5, 1),
            timeout=240,
        )

    def kill_an_in_process_run_during_tts(self) -> None:
        """Start `synthesize --in-process` and kill its process with SIGILL while an item is in TTS."""
        command = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "synthesize",
                "--set",
                "demo-en",
                "--styles",
                "neutral",
                "--in-process",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=no_core_dumps,
        )
        self.wait_for(
            "SELECT id FROM synthesis_runitem WHERE status='running' AND stage='tts'", bool, timeout=180
        )
        command.send_signal(signal.SIGILL)
        self.assertEqual(command.wait(timeout=30), -signal.SIGILL)
        self.assertEqual(self.query("SELECT status FROM synthesis_synthesisrun"), [("running",)])

    def test_an_in_process_run_whose_process_dies_is_failed_by_the_next_command(self):
        self.kill_an_in_process_run_during_tts()
        self.manage("synthesize", "--set", "demo-en", "--styles", "warm", "--no-wait")
        runs = self.query("SELECT status, error FROM synthesis_synthesisrun ORDER BY id")
        self.assertEqual(runs[0][0], "failed")
        self.assertIn("ended", runs[0][1])
        errors = [row[0] for row in self.query("SELECT error FROM synthesis_runitem WHERE run_id=1")]
        self.assertTrue(any("during the TTS stage (piper)" in error for error in errors), errors)
        self.assertEqual(self.query("SELECT count(*) FROM synthesis_runitem WHERE status='running'"), [(0,)])

    def test_an_in_process_run_whose_process_dies_is_failed_by_the_next_worker(self):
        self.kill_an_in_process_run_during_tts()
        self.start_worker()
        runs = self.wait_for(
            "SELECT status, error FROM synthesis_synthesisrun",
            lambda rows: rows[0][0] != "running",
            timeout=180,
        )
        self.assertEqual(runs[0][0], "failed")
        self.assertIn("ended", runs[0][1])
        errors = [row[0] for row in self.query("SELECT error FROM synthesis_runitem WHERE run_id=1")]
        self.assertTrue(any("during the TTS stage (piper)" in error for error in errors), errors)

    def test_a_conversation_run_in_process_completes_and_exits_without_a_traceback(self):
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "synthesize",
                "--set",
                "demo-en",
                "--styles",
                "neutral",
                "--mode",
                "conversation",
                "--in-process",
            ],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Done, 6 done, 0 failed of 6.", result.stdout)
        # llama-cpp-python's destructor at interpreter exit printed "Exception ignored in ... __del__".
        self.assertNotIn("Exception ignored", result.stderr)
        self.assertNotIn("Traceback", result.stderr)
