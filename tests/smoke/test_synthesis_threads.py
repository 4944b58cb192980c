"""Thread counts of the loaded models and DNSMOS scores that must not move with them (real models)."""

from unittest import TestCase

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from synthesis.engines import models, mos, pipeline, tts

pytestmark = pytest.mark.models  # real models: left out by make test-fast

# Scores of fixed_clip() by speechmos's DNSMOS with default thread pools, before any thread limit.
FIXED_CLIP_SCORES = {
    "p808": 2.2859973907470703,
    "sig": 1.1966397604494512,
    "bak": 1.0422569557166306,
    "ovrl": 1.089844428567985,
}


def fixed_clip() -> np.ndarray:
    """3.3 s of a gliding, wobbling tone in seeded noise: DNSMOS tiles it to 13.2 s, four windows."""
    rate = mos.SAMPLE_RATE
    t = np.arange(int(3.3 * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * (220 + 180 * t) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    noise = np.random.default_rng(7).normal(0.0, 0.02, t.size)
    return (tone + noise).astype(np.float32)


class ThreadLimitTests(TestCase):
    def test_dnsmos_sessions_use_one_intra_op_and_one_inter_op_thread(self):
        scorer = mos.load_dnsmos()
        for session in (scorer.onnx_sess, scorer.p808_onnx_sess):
            options = session.get_session_options()
            self.assertEqual((options.intra_op_num_threads, options.inter_op_num_threads), (1, 1))

    def test_piper_session_uses_the_configured_thread_count(self):
        model_path, config_path = models.resolve_piper_voice("en_US-joe-medium")
        voice = tts.load_piper(str(model_path), str(config_path), 2)
        options = voice.session.get_session_options()
        self.assertEqual((options.intra_op_num_threads, options.inter_op_num_threads), (2, 1))

    def test_blas_runs_one_thread_once_the_pipeline_limits_it(self):
        pipeline.limit_native_threads()
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        self.assertTrue(blas)
        self.assertEqual(set(blas), {pipeline.NATIVE_BLAS_THREADS})

    def test_dnsmos_scores_of_a_fixed_clip_are_unchanged_to_the_last_digit(self):
        pipeline.limit_native_threads()
        self.assertEqual(mos.score_dnsmos(mos.load_dnsmos(), fixed_clip()), FIXED_CLIP_SCORES)
