"""A worker that takes only the `light` queue starts without checking or loading any model, as on a
machine that has none; a worker without -Q takes both queues."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.processes
@pytest.mark.backends
class LightWorkerTests(SimpleTestCase):
    def setUp(self):
        self.folder = Path(tempfile.mkdtemp(prefix="sarai-light-worker-"))
        self.models = self.folder / "models"
        self.env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_DIR"}}
        self.env.update(
            DJANGO_SETTINGS_MODULE="sarai_eval.settings",
            SARAI_VAR_DIR=str(self.folder),
            SARAI_MEDIA_ROOT=str(self.folder / "media"),
            # An empty model cache: a self-test would write its report here.
            SARAI_MODEL_CACHE=str(self.models),
            CELERY_BROKER_URL="filesystem://",
        )
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_light_worker_starts_without_the_engine_self_test(self):
        log_path = self.folder / "worker.log"
        with open(log_path, "w") as log:
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "sarai_eval",
                    "worker",
                    "-Q",
                    "light",
                    "--concurrency=1",
                    "--loglevel=INFO",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 60
            while (
                time.monotonic() < deadline
                and worker.poll() is None
                and " ready." not in log_path.read_text()
            ):
                time.sleep(0.2)
            output = log_path.read_text()
            self.assertIn(" ready.", output)
            self.assertIn("takes no inference items (queues: light): engines not checked", output)
            self.assertIn(".> light ", output)
            self.assertNotIn(".> inference ", output)
            self.assertFalse((self.models / "selftest").exists())
            worker.send_signal(signal.SIGTERM)
            self.assertEqual(worker.wait(timeout=30), 0)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
