"""Predicted MOS with DNSMOS (P.835 signal/background/overall and P.808) from the speechmos package."""

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synthesis.engines import models

if TYPE_CHECKING:
    from speechmos.dnsmos import DNSMOS

SAMPLE_RATE = 16000
WARM_UP_SECONDS = 1.0


@functools.lru_cache(maxsize=1)
def load_dnsmos(threads: int = 1) -> "DNSMOS":
    """Build the DNSMOS scorer once per process, its onnxruntime sessions limited to `threads`."""
    # Imported here: speechmos imports librosa (and numba), which costs about a second.
    import onnxruntime
    from speechmos.dnsmos import DNSMOS

    class _ThreadLimitedDNSMOS(DNSMOS):
        """DNSMOS whose sessions get SessionOptions (DNSMOS.__init__ accepts none)."""

        def __init__(self, primary_model_path: str, p808_model_path: str) -> None:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            providers = ["CPUExecutionProvider"]
            self.primary_model_path = primary_model_path
            self.onnx_sess = onnxruntime.InferenceSession(primary_model_path, options, providers=providers)
            self.p808_onnx_sess = onnxruntime.InferenceSession(p808_model_path, options, providers=providers)

    primary, p808 = model_paths()
    for path in (primary, p808):
        if not path.is_file():
            raise models.ModelFileError(
                f"DNSMOS model {path} not found: expected it in the speechmos package."
            )
    return _ThreadLimitedDNSMOS(str(primary), str(p808))


def score_dnsmos(scorer: "DNSMOS", audio_16k: np.ndarray) -> dict:
    """Return non-personalised DNSMOS scores p808, sig, bak and ovrl for 16 kHz mono audio."""
    audio = np.asarray(audio_16k, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        # DNSMOS tiles short clips by doubling them, which never ends for an empty one.
        raise ValueError(f"DNSMOS needs non-empty mono audio, got shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("DNSMOS cannot score audio containing NaN or infinite samples")
    # DNSMOS rejects anything outside [-1, 1]; resampling can overshoot full scale slightly.
    scores = scorer(np.clip(audio, -1.0, 1.0), SAMPLE_RATE, False)
    return {
        "p808": float(scores["p808_mos"]),
        "sig": float(scores["sig_mos"]),
        "bak": float(scores["bak_mos"]),
        "ovrl": float(scores["ovrl_mos"]),
    }


def warm_up_dnsmos(scorer: "DNSMOS") -> None:
    """Score one second of low noise so the one-off librosa/numba compilation happens now."""
    noise = np.random.default_rng(0).normal(0.0, 0.01, int(WARM_UP_SECONDS * SAMPLE_RATE))
    score_dnsmos(scorer, noise.astype(np.float32))


def model_paths() -> list[Path]:
    """Return the DNSMOS P.835 and P.808 model files (also for fingerprinting)."""
    model_dir = models.package_dir("speechmos") / "dnsmos_models"
    return [model_dir / "sig_bak_ovr.onnx", model_dir / "model_v8.onnx"]
