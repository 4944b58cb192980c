"""The load probe's child process: a bad model file or a crash is reported naming the component."""

import subprocess
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from django.test import SimpleTestCase

from synthesis.engines import loadprobe
from synthesis.engines.models import ModelFileError
from synthesis.engines.settings import PipelineSettings
from synthesis.models import PipelineConfig


def config(**fields) -> PipelineSettings:
    """A configuration as a run freezes it: the defaults (the shipped models) with some fields changed."""
    return PipelineSettings.from_snapshot(PipelineConfig(name="probe", **fields).snapshot())


class ChildProcessTests(SimpleTestCase):
    def setUp(self):
        self.cache = Path(tempfile.mkdtemp(prefix="sarai-loadprobe-"))

    @pytest.mark.processes
    def test_a_missing_gguf_is_refused_by_the_child_with_an_error_naming_the_file(self):
        missing = "/nowhere/LFM2-1.2B-Q4_K_M.gguf"
        with self.assertRaisesMessage(ModelFileError, f"LLM model {missing} not found"):
            loadprobe.probe(
                components=["llm"], cache="cold", config=config(llm_model=missing), cache_dir=self.cache
            )

    @pytest.mark.processes
    def test_a_gguf_the_library_cannot_load_fails_naming_the_component_the_exit_code_and_the_error(self):
        broken = self.cache / "broken.gguf"
        broken.write_bytes(b"GGUF\x03\x00\x00\x00not a model")
        with self.assertRaises(loadprobe.LoadProbeError) as raised:
            loadprobe.probe(
                components=["llm"], cache="warm", config=config(llm_model=str(broken)), cache_dir=self.cache
            )
        message = str(raised.exception)
        self.assertIn(
            f"The LLM {broken} (n_ctx 1024) load probe (warm page cache) ended with exit code 1", message
        )
        self.assertIn(f"Failed to load model from file: {broken}", message)

    def test_a_child_killed_by_a_signal_is_reported_with_the_signal_and_its_stack(self):
        stack = (
            'Fatal Python error: Segmentation fault\n\n  File "llama_cpp/llama.py", line 388 in __init__\n'
        )
        died = subprocess.CompletedProcess(args=[], returncode=-11, stdout="", stderr=stack)
        with (
            mock.patch.object(loadprobe.subprocess, "run", return_value=died),
            self.assertRaises(loadprobe.LoadProbeError) as raised,
        ):
            loadprobe.probe(components=["llm"], cache="cold", config=config(), cache_dir=self.cache)
        message = str(raised.exception)
        self.assertIn(
            "The LLM smollm2-135m (n_ctx 1024) load probe (cold page cache) ended with SIGSEGV", message
        )
        self.assertIn("llama.py", message)

    def test_an_unknown_component_or_page_cache_state_is_refused_before_any_child_starts(self):
        with self.assertRaises(ValueError):
            loadprobe.probe(components=["gpu"], cache="cold", config=config(), cache_dir=self.cache)
        with self.assertRaises(ValueError):
            loadprobe.probe(components=["tts"], cache="lukewarm", config=config(), cache_dir=self.cache)
