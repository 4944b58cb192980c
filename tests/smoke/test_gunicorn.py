"""The web tier as `make run` and a deployment start it: gunicorn with sarai_eval/gunicorn_conf.py,
DEBUG off, static files collected and served by whitenoise, one request log line per request."""

import gc
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import SimpleTestCase

from sarai_eval import gunicorn_conf
from tests.factories import ports
from tests.factories.ports import worker_ports

ROOT = Path(__file__).resolve().parents[2]
PORTS = worker_ports(18100, 18200)


def free_port() -> int:
    return ports.free_port(PORTS)


def fetch(url: str, **headers: str):
    """(status, headers, body) of a GET; an error status is an answer too."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.processes
class GunicornTests(SimpleTestCase):
    def setUp(self):
        self.folder = Path(tempfile.mkdtemp(prefix="sarai-gunicorn-"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
        self.env.update(
            DJANGO_SETTINGS_MODULE="sarai_eval.settings",
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DJANGO_SECURE_COOKIES="false",
            SARAI_VAR_DIR=str(self.folder),
            SARAI_MEDIA_ROOT=str(self.folder / "media"),
            SARAI_HOST="127.0.0.1",
            SARAI_WEB_WORKERS="1",
            SARAI_WEB_THREADS="2",
        )
        for command in (
            ["migrate", "--noinput", "-v0"],
            ["collectstatic", "--noinput", "-v0"],
        ):
            result = subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            self.assertEqual(result.returncode, 0, result.stderr)

    def start_server(self) -> str:
        port = free_port()
        self.log_path = self.folder / "web.log"
        log = open(self.log_path, "w")  # noqa: SIM115 - closed with the server
        self.addCleanup(log.close)
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "sarai_eval/gunicorn_conf.py", "sarai_eval.wsgi"],
            cwd=ROOT,
            env={**self.env, "SARAI_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.addCleanup(self.kill_server)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.server.poll() is None:
            try:
                if fetch(base + "/healthz")[0] == 200:
                    return base
            except OSError:
                time.sleep(0.2)
        self.fail(f"gunicorn did not answer /healthz:\n{self.log_path.read_text()}")

    def kill_server(self) -> None:
        if self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()

    def test_gunicorn_serves_the_app_and_its_static_files_and_stops_on_term(self):
        base = self.start_server()
        status, _, body = fetch(base + "/healthz")
        self.assertEqual((status, body), (200, b"ok"))
        status, headers, body = fetch(base + "/static/favicon.svg")
        self.assertEqual(status, 200)
        self.assertEqual(body, (ROOT / "static" / "favicon.svg").read_bytes())
        # whitenoise sends the compressed copy collectstatic made.
        status, headers, _ = fetch(base + "/static/css/site.css", **{"Accept-Encoding": "gzip"})
        self.assertEqual((status, headers["Content-Encoding"]), (200, "gzip"))
        status, _, _ = fetch(base + "/t/i/Unknown-Evaluator-Token-42/rate/")
        self.assertEqual(status, 404)

        self.server.send_signal(signal.SIGTERM)
        self.assertEqual(self.server.wait(timeout=40), 0)
        log = self.log_path.read_text()
        self.assertIn('"path": "/healthz", "status": 200', log)
        self.assertIn('"path": "/static/favicon.svg", "status": 200', log)
        self.assertIn('"path": "/t/i/…/rate/", "status": 404', log)
        self.assertNotIn("Unknown-Evaluator-Token-42", log)


class SwitchIntervalTests(SimpleTestCase):
    def switch_interval(self, **env) -> float:
        conf = "sarai_eval/gunicorn_conf.py"
        show = f"import runpy, sys; runpy.run_path({conf!r}); print(sys.getswitchinterval())"
        result = subprocess.run(
            [sys.executable, "-c", show], cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return float(result.stdout)

    def test_threads_hand_the_interpreter_on_every_half_millisecond_unless_told_otherwise(self):
        self.assertAlmostEqual(self.switch_interval(), 0.0005, places=7)
        self.assertAlmostEqual(self.switch_interval(SARAI_WEB_SWITCH_INTERVAL_MS="2"), 0.002, places=7)


class FrozenAppTests(SimpleTestCase):
    def test_the_master_freezes_what_the_loaded_app_holds_before_the_workers_fork(self):
        gc.unfreeze()  # this test process freezes its own at collection (tests/testenv.py)
        self.assertEqual(gc.get_freeze_count(), 0)
        gunicorn_conf.when_ready(None)
        self.assertGreater(gc.get_freeze_count(), 100_000)  # Django, the app, numpy, scipy…
