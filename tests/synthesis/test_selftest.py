"""Engine self-test: each check in a child process, crashes named, results cached, items refused."""

import io
import json
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import SimpleTestCase, TestCase, override_settings

from synthesis import services
from synthesis.engines import selftest
from synthesis.models import Status
from synthesis.tasks import process_item
from tests.factories import make_config, make_sentence_set, style

CRASHING_LLM = selftest.Engine(
    "llm",
    "the LLM engine (llama.cpp)",
    "tests.synthesis.crashing_engine:crash_with_sigill",
    selftest.REBUILD_LLM,
)
FAILING_STT = selftest.Engine(
    "stt",
    "the STT engine (faster-whisper)",
    "tests.synthesis.crashing_engine:fail_with_error",
    "reinstall it",
)
WORKING_TTS = selftest.Engine("tts-piper", "the TTS engine", "tests.synthesis.crashing_engine:succeed", "")


class EngineCheckTests(SimpleTestCase):
    def setUp(self):
        self.cache = Path(tempfile.mkdtemp(prefix="sarai-selftest-"))

    def test_an_engine_that_kills_itself_with_sigill_is_reported_with_its_name_and_the_signal(self):
        result = selftest.run_check(CRASHING_LLM, cache_dir=self.cache)
        self.assertFalse(result.ok)
        self.assertIn("the LLM engine (llama.cpp) crashed with SIGILL (illegal instruction)", result.message)
        self.assertIn("make rebuild-llm", result.message)

    def test_an_engine_that_raises_is_reported_with_the_error(self):
        result = selftest.run_check(FAILING_STT, cache_dir=self.cache)
        self.assertFalse(result.ok)
        self.assertIn("the STT engine (faster-whisper) failed its check", result.message)
        self.assertIn("model file is truncated", result.message)

    def test_a_working_engine_reports_what_it_did(self):
        result = selftest.run_check(WORKING_TTS, cache_dir=self.cache)
        self.assertTrue(result.ok)
        self.assertEqual(result.message, "fine: 3 tokens")

    def test_the_report_is_cached_per_build_and_cpu(self):
        first = selftest.ensure_report(cache_dir=self.cache, engines=(CRASHING_LLM, WORKING_TTS))
        path = selftest.report_path(self.cache)
        self.assertTrue(path.is_file())
        self.assertIn(selftest.build_key(), path.name)
        # A second call reads the file: the checks (and their children) do not run again.
        stored = json.loads(path.read_text())
        stored["results"][1]["message"] = "read from the cache"
        path.write_text(json.dumps(stored))
        second = selftest.ensure_report(cache_dir=self.cache, engines=(CRASHING_LLM, WORKING_TTS))
        self.assertEqual(second["results"][1]["message"], "read from the cache")
        self.assertEqual([r["ok"] for r in first["results"]], [False, True])

    def test_only_the_engines_an_item_needs_decide_its_fate(self):
        report = selftest.ensure_report(cache_dir=self.cache, engines=(CRASHING_LLM, WORKING_TTS))
        self.assertIsNone(selftest.failure_for(report, ["tts-piper", "stt"]))
        self.assertIn("SIGILL", selftest.failure_for(report, ["tts-piper", "llm"]))
        self.assertIsNone(selftest.failure_for(None, ["llm"]))


@pytest.mark.models
class DefaultEnginesSelfTest(SimpleTestCase):
    def test_every_default_engine_loads_and_infers_in_a_child_process(self):
        # The real model cache: Whisper base is assembled there once for the whole suite.
        report = selftest.ensure_report(cache_dir=settings.SARAI_MODEL_CACHE, force=True)
        self.assertEqual(
            [(r["engine"], r["ok"]) for r in report["results"]], [(e.key, True) for e in selftest.ENGINES]
        )
        llm = next(r for r in report["results"] if r["engine"] == "llm")
        self.assertRegex(llm["message"], r"smollm2-135m: \d+ tokens")


class FailedSelfTestItemTests(TestCase):
    def test_an_item_needing_an_engine_that_failed_its_self_test_fails_at_once_with_the_message(self):
        cache = Path(tempfile.mkdtemp(prefix="sarai-selftest-items-"))
        selftest.ensure_report(cache_dir=cache, engines=(CRASHING_LLM, WORKING_TTS))
        with override_settings(SARAI_MODEL_CACHE=cache):
            with self.captureOnCommitCallbacks(execute=False):
                run = services.start_run(
                    name="conv",
                    config=make_config(),
                    sentence_sets=[make_sentence_set(texts=("Hello.",))],
                    styles=[style("neutral")],
                    mode="conversation",
                )
            process_item(run.items.get().pk)
        item = run.items.get()
        self.assertEqual(item.status, Status.FAILED)
        self.assertIn("Engine self-test failed: the LLM engine (llama.cpp) crashed with SIGILL", item.error)
        run.refresh_from_db()
        self.assertEqual(run.status, Status.FAILED)


class DoctorCommandTests(SimpleTestCase):
    def test_doctor_prints_the_cpu_libraries_build_flags_and_each_engines_result(self):
        cache = Path(tempfile.mkdtemp(prefix="sarai-doctor-"))
        # The cached report of this build and CPU, as a worker that met a crashing llama.cpp left it.
        selftest.ensure_report(cache_dir=cache, engines=(CRASHING_LLM, WORKING_TTS))
        out = io.StringIO()
        with (
            override_settings(SARAI_MODEL_CACHE=cache),
            self.assertRaisesMessage(CommandError, "1 engine(s) failed their self-test"),
        ):
            call_command("doctor", stdout=out)
        printed = out.getvalue()
        self.assertRegex(printed, r"CPU flags +.*\bavx2?\b")
        self.assertIn("GGML_NATIVE=OFF", printed)
        self.assertRegex(printed, r"llama-cpp-python +\d+\.\d+")
        self.assertIn(f"Engine self-test (key {selftest.build_key()}", printed)
        self.assertRegex(
            printed, r"FAILED the LLM engine \(llama\.cpp\) .*crashed with SIGILL \(illegal instruction\)"
        )
        self.assertRegex(printed, r"ok +the TTS engine .*fine: 3 tokens")
