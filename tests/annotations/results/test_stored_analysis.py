"""The background analysis as a database row: claimed by one worker, seen by every web process."""

import os
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import SimpleTestCase, TestCase
from django.utils import timezone

from annotations.models import Analysis
from annotations.results import services
from annotations.results.services import Thresholds
from tests.factories import build_design, rate_all

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.backends  # claimed by conditional UPDATE, leases
class ClaimAnalysisTests(TestCase):
    def setUp(self):
        self.test, clips = build_design()
        rate_all(self.test, clips, {"R1": [4, 5, 3, 4, 2, 5], "R2": [3, 5, 4, 4, 3, 4]})
        with self.captureOnCommitCallbacks(execute=False):
            self.analysis = services.queue_analysis(test=self.test, thresholds=Thresholds())

    def test_a_second_claim_of_a_claimed_analysis_returns_nothing(self):
        self.assertIsNotNone(services.claim_analysis(analysis_id=self.analysis.pk, worker="host-a:1"))
        self.assertIsNone(services.claim_analysis(analysis_id=self.analysis.pk, worker="host-b:2"))
        self.analysis.refresh_from_db()
        self.assertEqual((self.analysis.status, self.analysis.claimed_by), ("running", "host-a:1"))

    def test_an_expired_lease_lets_another_worker_take_the_analysis(self):
        services.claim_analysis(analysis_id=self.analysis.pk, worker="host-a:1")
        Analysis.objects.filter(pk=self.analysis.pk).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        claimed = services.claim_analysis(analysis_id=self.analysis.pk, worker="host-b:2")
        self.assertEqual(claimed.claimed_by, "host-b:2")
        services.run_claimed_analysis(analysis=claimed)
        self.assertEqual(services.load_stored(self.test)["analysis_id"], self.analysis.pk)

    def test_a_finished_analysis_is_not_claimed_again(self):
        services.run_claimed_analysis(
            analysis=services.claim_analysis(analysis_id=self.analysis.pk, worker="host-a:1")
        )
        self.assertIsNone(services.claim_analysis(analysis_id=self.analysis.pk, worker="host-b:2"))


SCRIPT = """
import sys
import django
django.setup()
from annotations.models import ListeningTest
from annotations.results import services
test = ListeningTest.objects.get(name="shared")
if sys.argv[1] == "store":
    from annotations import tasks
    # The message goes to this process's own filesystem broker; the worker's part is run here.
    analysis = services.queue_analysis(test=test, thresholds=services.Thresholds())
    tasks.analyse_test(analysis.pk)
else:
    data = services.test_results(test)
    excluded = [row["pseudonym"] for row in data["excluded"]]
    print(data["screening"].source, excluded, data["background"].get("n_ratings"))
"""


@pytest.mark.processes
@pytest.mark.backends
class SharedAnalysisTests(SimpleTestCase):
    """Two web processes with separate VAR_DIRs and one database (SQLite file) see one analysis."""

    def setUp(self):
        self.folder = Path(tempfile.mkdtemp(prefix="sarai-shared-analysis-"))
        private = {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_BROKER_DIR"}
        self.env = {k: v for k, v in os.environ.items() if k not in private}
        self.env.update(
            DATABASE_URL=f"sqlite:///{self.folder / 'shared.sqlite3'}",
            DJANGO_SETTINGS_MODULE="sarai_eval.settings",
            SARAI_RESULTS_INLINE_LIMIT="0",  # every test counts as large: screening comes from the analysis
        )
        self.run_in(self.folder / "web-a", "manage.py", "migrate", "--noinput", "-v0")
        self.run_in(self.folder / "web-a", "-c", SETUP)

    def run_in(self, var_dir: Path, *args: str) -> str:
        env = {**self.env, "SARAI_VAR_DIR": str(var_dir)}
        result = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_an_analysis_stored_by_one_process_is_read_by_another_with_its_own_var_dir(self):
        before = self.run_in(self.folder / "web-b", "-c", SCRIPT, "read")
        self.assertEqual(before.split()[0], "pending")
        self.run_in(self.folder / "web-a", "-c", SCRIPT, "store")
        after = self.run_in(self.folder / "web-b", "-c", SCRIPT, "read")
        self.assertEqual(after.strip(), "background ['R3'] 18")
        self.assertFalse((self.folder / "web-b" / "analysis").exists())
        self.assertFalse((self.folder / "web-a" / "analysis").exists())


SETUP = """
import django
django.setup()
from tests.factories import SCORES, build_design, rate_all
from annotations.models import ListeningTest
test, clips = build_design()
ListeningTest.objects.filter(pk=test.pk).update(name="shared")
test.refresh_from_db()
rate_all(test, clips, SCORES)
"""
