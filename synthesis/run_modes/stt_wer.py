"""STT WER runs: every utterance of a speech dataset through one STT configuration; the design's
Spanish WER claim reads the latest of them."""

from dataclasses import replace

from django.conf import settings

from synthesis import modes
from synthesis.engines import pipeline
from synthesis.models import Status, SynthesisRun
from synthesis.results import claims, wer

KEY = "stt-wer"


def run_stt_wer_item(item, *, on_stage: pipeline.StageCallback) -> pipeline.TranscriptResult:
    utterance, config = item.utterance, item.run.pipeline_settings
    if not item.run.benchmark.get(modes.STT_AS_TURNS):
        config = replace(config, stt_model_english="", stt_window_s=None)
    on_stage("decode")
    return pipeline.transcribe_utterance(
        audio_16k=utterance.audio_16k(),
        reference=utterance.transcript,
        language=utterance.language,
        config=config,
        cache_dir=settings.SARAI_MODEL_CACHE,
        on_stage=on_stage,
    )


def claim_figures() -> tuple[SynthesisRun, dict] | None:
    """The latest finished STT WER run on a Spanish dataset: its corpus WER in % with the bootstrap CI."""
    runs = SynthesisRun.objects.filter(mode=KEY, status=Status.DONE, dataset__language__istartswith="es")
    run = runs.select_related("dataset", "config").order_by("-finished_at", "-created_at").first()
    if run is None:
        return None
    summary = wer.summarise(wer.utterance_rows(run))
    rate = summary["wer"]
    figures = {
        "wer_percent": {key: claims.percent(rate[name]) for key, name in WER_FIELDS},
        "source": f"STT WER run {run.pk} on dataset {run.dataset.name} ({summary['n']} utterances)",
        "method": claims.WER_METHOD,
        "notes": [],
    }
    if summary["n"] != 500 or "common voice" not in run.dataset.source.lower():
        figures["notes"].append("the design used 500 Common Voice Spanish utterances")
    return run, figures


WER_FIELDS = (("value", "rate"), ("low", "low"), ("high", "high"))
STT_WER = modes.register(
    modes.RunMode(
        key=KEY,
        label="STT WER benchmark (a speech dataset through one STT configuration)",
        run=run_stt_wer_item,
        loads=("stt",),
        records=(),
        items_from=modes.UTTERANCES,
        stores=modes.TRANSCRIPT,
        claims=(
            claims.Claim(
                key="stt-wer-es",
                text="STT WER (es) < 2.0 % (Common Voice, 500 utterances)",
                target=claims.Target(2.0, "<"),
                unit="%",
                design_models=claims.STT,
                design_model=claims.OMNI_LABEL,
                design_setting="audio encoder, Spanish",
                measure=claims.benchmark_measure(claim_figures, "wer_percent"),
            ),
        ),  # fmt: skip
        claim_figures=claim_figures,
    )
)
