"""Profiled requests (SARAI_PROFILE_DIR): each evaluator request's time split by layer, added up by
manage.py request_profile."""

import io
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import TestCase, override_settings

from sarai_eval.request_profile import OTHER, layer_seconds, summary
from tests.annotations.helpers import answer_for, session_url
from tests.factories import build_test, evaluator_at_rating

PROFILED = ["sarai_eval.request_profile.request_profile_middleware", *settings.MIDDLEWARE]


def frame(path: str, time: float, *children):
    return SimpleNamespace(file_path=path, time=time, children=list(children))


class LayerTests(TestCase):
    def test_each_frames_own_time_goes_to_the_innermost_layer_on_its_stack(self):
        tree = frame(
            "/x/lib/python3.11/threading.py",
            10.0,
            frame(
                "/app/annotations/views/evaluator.py",
                9.0,
                frame("/x/django/db/models/query.py", 5.0, frame("/x/django/db/backends/base.py", 4.0)),
                frame("/x/lib/python3.11/json/encoder.py", 1.0),
            ),
        )
        self.assertEqual(
            layer_seconds(tree),
            {
                OTHER: 1.0,  # the thread's own 10 - 9
                "project code": 4.0,  # the view's own 9 - 5 - 1, and json's 1 called from it
                "ORM: building queries and rows": 1.0,
                "database": 4.0,
            },
        )


class ProfiledRequestTests(TestCase):
    def setUp(self):
        self.folder = Path(tempfile.mkdtemp(prefix="sarai-profile-"))
        patcher = mock.patch.dict(os.environ, {"SARAI_PROFILE_DIR": str(self.folder)})
        patcher.start()
        self.addCleanup(patcher.stop)

    @override_settings(MIDDLEWARE=PROFILED)
    def test_an_evaluators_requests_are_profiled_by_kind_and_added_up_by_the_command(self):
        evaluator = evaluator_at_rating(build_test(samples_per_session=2))
        url = session_url(evaluator, "rate")
        self.client.post(url, answer_for(self.client, evaluator, url))
        kinds = summary(self.folder)
        self.assertEqual(kinds["POST annotations:rate"]["count"], 1)
        self.assertGreaterEqual(kinds["GET annotations:rate"]["count"], 1)
        layers = kinds["POST annotations:rate"]["layers"]
        self.assertGreater(layers.get("database", 0), 0)  # an answer is stored: SQL ran
        out = io.StringIO()
        call_command("request_profile", str(self.folder), stdout=out)
        lines = out.getvalue().splitlines()
        row = next(line for line in lines if line.startswith("| POST annotations:rate "))
        shares = [float(cell.strip(" %")) for cell in row.strip("|").split("|")[3:]]
        self.assertAlmostEqual(sum(shares), 100, delta=len(shares))  # rounded per cell

    def test_the_command_names_a_folder_without_profiles(self):
        with self.assertRaisesRegex(CommandError, "no request profiles"):
            call_command("request_profile", str(self.folder))
        with self.assertRaisesRegex(CommandError, "no such folder"):
            call_command("request_profile", str(self.folder / "missing"))
