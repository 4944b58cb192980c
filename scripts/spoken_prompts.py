"""Write a sentence set's sentences, spoken once by a configuration's prompt voice, as a dataset folder.

The latency benchmark speaks its prompts again in every process (Piper's noise makes each take
slightly different); this freezes one take of each as 16 kHz WAV files with a CSV manifest, so the
STT WER benchmark can compare configurations on exactly the audio their turns hear:

    .venv/bin/python scripts/spoken_prompts.py harvard-en-100 piper-joe /tmp/harvard-spoken
    .venv/bin/python manage.py import_dataset /tmp/harvard-spoken --name harvard-spoken
    .venv/bin/python manage.py benchmark_stt_wer --dataset harvard-spoken --config piper-joe \
        --config piper-joe-fast --in-process
"""

import csv
import os
import sys
from pathlib import Path

import django


def main(set_name: str, config_name: str, folder: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sarai_eval.settings")
    django.setup()
    import soundfile

    from synthesis.engines import iterations, pipeline
    from synthesis.engines.settings import PipelineSettings
    from synthesis.models import PipelineConfig, SentenceSet

    sentence_set = SentenceSet.objects.filter(name=set_name).first()
    config = PipelineConfig.objects.filter(name=config_name).first()
    if sentence_set is None or config is None:
        sys.exit(f"No sentence set {set_name!r} or no pipeline configuration {config_name!r}.")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    voice = PipelineSettings.from_snapshot(config.snapshot())
    rows = []
    for sentence in sentence_set.sentences.order_by("position"):
        audio = iterations.spoken_prompt(
            sentence.text, language=sentence.language, config=voice, seconds=None
        )
        name = f"prompt{sentence.position:04d}.wav"
        soundfile.write(out / name, audio, pipeline.STT_RATE, subtype="PCM_16")
        rows.append({"file": name, "transcript": sentence.text, "language": sentence.language})
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "transcript", "language"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} clips and manifest.csv in {out}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
