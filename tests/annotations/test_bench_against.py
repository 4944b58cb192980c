"""`manage.py bench_evaluators --against GIT_REF`: its options, its order of runs and its table.

The full comparison (two checkouts, two databases, four servers) runs in BenchAgainstRunTests, marked
as starting processes; the rest starts none.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import SimpleTestCase

from annotations.management.commands import _bench_against as against
from tests.factories import ports
from tests.factories.ports import worker_ports

ROOT = Path(__file__).resolve().parents[2]
PORTS = worker_ports(18500, 18550)


def run_figures(*, submit_p99: float, requests_per_s: float, server_cores: float) -> dict:
    """One run's numbers as against.figures gives them (client P50, P99, in-Django P50, P99)."""
    return {
        "kinds": {"answer submit": (10.0, submit_p99, 5.0, None)},
        "requests/s": requests_per_s,
        "server cores": server_cores,
        "server CPU ms per request": server_cores / requests_per_s * 1000,
        "server RSS peak MB": 400.0,
        "problems": [],
    }


class AgainstOptionTests(SimpleTestCase):
    def test_the_runs_alternate_this_code_and_the_other_commit(self):
        self.assertEqual(against.alternation(2), ["this", "other", "this", "other"])
        self.assertEqual(against.alternation(3), ["this", "other"] * 3)

    def test_rounds_without_a_commit_to_compare_with_are_refused(self):
        with self.assertRaisesMessage(CommandError, "--rounds needs --against GIT_REF"):
            call_command("bench_evaluators", rounds=2)

    def test_fewer_than_two_runs_of_each_side_are_refused(self):
        with self.assertRaisesMessage(CommandError, "--rounds must be at least 2"):
            call_command("bench_evaluators", against="HEAD", rounds=1)

    def test_keep_is_refused_since_each_sides_database_is_removed(self):
        with self.assertRaisesMessage(CommandError, "--keep does not go with --against"):
            call_command("bench_evaluators", against="HEAD", keep=True)

    def test_the_table_gives_each_sides_median_and_their_ratio(self):
        this = against.Side("this", "this checkout", ROOT, {})
        other = against.Side("other", "commit abc", ROOT, {})
        this.runs = [run_figures(submit_p99=p99, requests_per_s=100, server_cores=0.5) for p99 in (10, 30)]
        other.runs = [run_figures(submit_p99=p99, requests_per_s=50, server_cores=1.0) for p99 in (40, 40)]
        opts = {"against": "abc", "mode": "people", "clips": 8}
        table = against.comparison(this, other, opts, 200)
        self.assertIn("runs alternated A, B, A, B", table)
        self.assertIn(
            "| answer submit | 10.0 / 10.0 | 1.00 | 20.0 / 40.0 | 0.50 | 5.0 / 5.0 | 1.00 | – / – | – |",
            table,
        )
        self.assertIn("| requests/s | 100.00 | 50.00 | 2.00 |", table)
        self.assertIn("| server CPU ms per request | 5.00 | 20.00 | 0.25 |", table)


@pytest.mark.processes  # runs git
class AgainstRefTests(SimpleTestCase):
    def test_an_unknown_commit_is_a_clear_error(self):
        with self.assertRaisesMessage(CommandError, "--against no-such-ref-26: no such commit"):
            call_command("bench_evaluators", against="no-such-ref-26")


# Two evaluators on each side and no assertion on a time: it checks the machinery, not the speed, so
# it runs beside other tests (its own port and folders) rather than alone.
@pytest.mark.processes
class BenchAgainstRunTests(SimpleTestCase):
    def test_both_sides_run_alternately_and_the_table_compares_them(self):
        folder = Path(tempfile.mkdtemp(prefix="sarai-bench-against-test-"))
        self.addCleanup(shutil.rmtree, folder, True)
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "CELERY_BROKER_DIR"}
        }
        env.update(SARAI_VAR_DIR=str(folder), DJANGO_SETTINGS_MODULE="sarai_eval.settings")
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "bench_evaluators",
                "--against=HEAD",
                "--evaluators=2",
                "--clips=1",
                "--pause=0.01",
                "--clip-seconds=0.3",
                "--screen-trials=1",
                "--seeks=1",
                "--ramp=0",
                "--workers=1",
                "--threads=4",
                f"--port={ports.free_port(PORTS)}",
                "--time-limit=60",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = result.stdout
        self.assertEqual(result.returncode, 0, output + result.stderr)
        runs = re.findall(r"^Run (\d) of 4: (this checkout|commit HEAD)", output, re.MULTILINE)
        self.assertEqual([side for _, side in runs], ["this checkout", "commit HEAD"] * 2)
        self.assertEqual(output.count("Count check: PASSED — 2 ratings OK'd to clients, 2 stored"), 4)
        # Each range after a seek was compared with the whole clip: none differed.
        self.assertEqual(output.count("HTTP errors by status: none"), 4)
        self.assertRegex(output, r"\| answer submit \| [\d.]+ / [\d.]+ \| [\d.]+ \|")
        self.assertIn("requirements.txt is the same at HEAD", output)
