"""Print this machine's reference call: Whisper base (int8, one thread, its 30 s window) on the bundled clip.

Machines of one brand differ about twofold in speed, so every figure this project records names the
CPU and this call: about 600 ms on the faster kind of machine, 1,050-1,100 ms on the slower kind.
The clip (synthesis/fixtures/reference-clip.wav, 3.9 s, 16 kHz) is Piper en_US-joe-medium saying
"The new librarian cleaned three empty boxes without saying a word today." without noise, so every
machine transcribes the same samples.

    .venv/bin/python scripts/reference_speed.py [--repeat 5]
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "synthesis" / "fixtures" / "reference-clip.wav"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Timed calls after one untimed call.")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sarai_eval.settings")
    import django

    django.setup()
    import soundfile
    from django.conf import settings
    from faster_whisper import WhisperModel

    from synthesis.engines import bench, models

    audio, rate = soundfile.read(CLIP, dtype="float32")
    whisper_dir = models.assemble_whisper_base(Path(settings.SARAI_MODEL_CACHE) / "whisper-base")
    whisper = WhisperModel(str(whisper_dir), device="cpu", compute_type="int8", cpu_threads=1)
    bench.direct_stt(whisper, audio)
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        text = bench.direct_stt(whisper, audio)
        times.append(1000 * (time.perf_counter() - started))
    print(f"CPU: {models.cpu_description()}")
    print(f"Clip: {CLIP.name}, {len(audio) / rate:.1f} s · transcript: {text.strip()}")
    median = statistics.median(times)
    print(
        f"Reference call (Whisper base, int8, 1 thread, 30 s window): median {median:.0f} ms "
        f"of {args.repeat} (min {min(times):.0f}, max {max(times):.0f})"
    )


if __name__ == "__main__":
    main()
