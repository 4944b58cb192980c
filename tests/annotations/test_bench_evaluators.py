"""`manage.py bench_evaluators` on a small scale: eight evaluators through a real gunicorn.

gunicorn is another process and cannot see a test transaction, so the command runs as a user runs
it, in a child process on an SQLite file in a temporary folder, and the test reads what it prints.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.test import SimpleTestCase

from annotations import loadtest
from annotations.listening_check import check_tones_wav
from tests.factories import ports
from tests.factories.ports import worker_ports

ROOT = Path(__file__).resolve().parents[2]
# The ports this suite may give a server of its own.
PORTS = worker_ports(18450, 18500)


def free_port() -> int:
    return ports.free_port(PORTS)


@pytest.mark.processes
@pytest.mark.serial  # a load test: it measures the server, never beside other tests
class BenchEvaluatorsTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.folder = Path(tempfile.mkdtemp(prefix="sarai-bench-evaluators-"))
        # The embedded defaults (SQLite file, database cache), whatever the suite itself runs on.
        cls.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "CELERY_BROKER_DIR"}
        }
        cls.env.update(
            SARAI_VAR_DIR=str(cls.folder),
            SARAI_MEDIA_ROOT=str(cls.folder / "media"),
            DJANGO_SETTINGS_MODULE="sarai_eval.settings",
        )
        for command in (("migrate", "--noinput", "-v0"),):
            subprocess.run(
                [sys.executable, "manage.py", *command], cwd=ROOT, env=cls.env, check=True, timeout=180
            )

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.folder, ignore_errors=True)
        super().tearDownClass()

    def bench(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "manage.py",
                "bench_evaluators",
                "--evaluators=8",
                "--clips=2",
                "--pause=0.01",
                "--clip-seconds=0.5",
                "--screen-trials=2",
                "--ramp=0",
                "--workers=1",
                "--threads=8",
                f"--port={free_port()}",
                "--time-limit=120",
                *args,
            ],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=180,
        )

    def test_every_rating_the_evaluators_were_told_was_stored_is_stored_once(self):
        result = self.bench("--keep")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        output = result.stdout
        self.assertIn(
            "Count check: PASSED — 16 ratings OK'd to clients, 16 stored, 0 stored twice, 0 missing", output
        )
        self.assertIn("8/8 sessions finished", output)
        self.assertIn("Refusals by reason: none", output)
        self.assertIn("HTTP errors by status: none", output)
        # Every kind of request a session makes is in the table, none with an error.
        rows = dict(re.findall(r"^\| ([a-z ]+) \| \d+ \| (\d+) \|", output, re.MULTILINE))
        for kind in ("open link", "consent submit", "check audio", "check answer", "practice answer", "page"):
            self.assertEqual(rows.get(kind), "0", kind)
        self.assertEqual(re.search(r"^\| audio \| (\d+) \| 0 \|", output, re.MULTILINE)[1], "24")
        self.assertEqual(re.search(r"^\| answer submit \| (\d+) \| 0 \|", output, re.MULTILINE)[1], "16")
        # The request log's database figures per kind: statements, time in SQLite, time waiting to write.
        database = dict(
            re.findall(r"^\| ([a-z ]+) \| (\d+) \| [\d.]+ / [\d.]+ \| [\d.]+ / [\d.]+ \|$", output, re.M)
        )
        self.assertEqual(set(database), set(rows) | {"audio", "answer submit"})
        self.assertTrue(all(int(count) >= 1 for count in database.values()), database)
        self.assertIn("SQLite: the lock wait is the time in BEGIN IMMEDIATE", output)
        # How late the client's own loop woke, sampled all through the run.
        lag = re.search(r"^Client event loop late by .*: ([\d.]+) / ([\d.]+) / ([\d.]+)$", output, re.M)
        self.assertIsNotNone(lag, output)
        self.assertLessEqual(float(lag[1]), float(lag[3]))

    def test_it_fails_when_the_server_refuses_answers_given_too_soon(self):
        # Clips claimed to last 20 s longer than they do: every answer comes too soon for the server.
        result = self.bench(
            "--evaluators=1", "--clips=1", "--screen-trials=1", env={"SARAI_LISTEN_TOLERANCE_S": "-20"}
        )
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("Refusals by reason: too_soon", result.stdout)
        self.assertIn("Count check: PASSED — 0 ratings OK'd to clients, 0 stored", result.stdout)


class SourceAddressTests(SimpleTestCase):
    def test_no_more_than_four_evaluators_share_a_loopback_address(self):
        addresses = [loadtest.source_address(index) for index in range(loadtest.EVALUATORS_PER_ADDRESS * 600)]
        shared = {address: addresses.count(address) for address in set(addresses)}
        self.assertEqual(set(shared.values()), {4})
        self.assertTrue(all(address.startswith("127.") for address in shared))


class HeadphoneScreenAnswerTests(SimpleTestCase):
    def test_the_quiet_tone_is_heard_where_it_is_whichever_tone_is_in_antiphase(self):
        for quiet, antiphase in ((1, 2), (2, 3), (3, 1), (1, 3), (2, 1), (3, 2)):
            wav = check_tones_wav(quietest=quiet, antiphase=antiphase, target_lufs=-23.0)
            self.assertEqual(loadtest.quietest_tone(wav), quiet)
