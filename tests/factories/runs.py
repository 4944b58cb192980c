"""Synthesis runs of each mode, finished by hand (no worker, no models), and toy run modes."""

from django.core.files.base import ContentFile
from django.test import TestCase
from django.utils import timezone

from synthesis import modes, run_modes, services
from synthesis.engines import iterations, loadprobe, textnorm
from synthesis.models import (
    RunItem,
    Sample,
    SpeechDataset,
    Status,
    StylePreset,
    SynthesisRun,
    TimedIteration,
    Transcript,
    Utterance,
)
from tests.factories.files import tone_wav
from tests.factories.samples import make_config, make_samples, make_sentence_set


def make_run_with_samples(name: str = "run-a") -> tuple[SynthesisRun, list[Sample]]:
    """A run holding six synthesised samples (three sentences in two styles)."""
    run = SynthesisRun.objects.create(name=name, config=make_config(f"cfg-{name}"))
    samples = make_samples(set_name=f"set-{name}")
    Sample.objects.filter(pk__in=[s.pk for s in samples]).update(run=run, origin=Sample.Origin.SYNTHESIZED)
    return run, samples


def make_run(queued: int, running: int, done: int = 0) -> SynthesisRun:
    """A run whose items are in the given states (no worker involved)."""
    total, number = queued + running + done, SynthesisRun.objects.count() + 1
    texts = tuple(f"Sentence {n}." for n in range(total))
    sentence_set = make_sentence_set(name=f"set-{number}", texts=texts)
    run = SynthesisRun.objects.create(
        name="long run", config=make_config(f"cfg-{number}"), status=Status.RUNNING, total_count=total
    )
    states = [Status.QUEUED] * queued + [Status.RUNNING] * running + [Status.DONE] * done
    neutral = StylePreset.objects.get(name="neutral")
    for sentence, status in zip(sentence_set.sentences.order_by("position"), states, strict=True):
        RunItem.objects.create(run=run, sentence=sentence, style=neutral, status=status, claimed_by="w:1")
    SynthesisRun.objects.filter(pk=run.pk).update(done_count=done)
    return run


# Ten words per reference; each hypothesis of wer_run gets `errors` of them wrong.
WER_REFERENCE = "uno dos tres cuatro cinco seis siete ocho nueve diez"


def wer_run(*, stt_model: str, errors: int, language: str = "es") -> SynthesisRun:
    """A finished STT WER run over ten utterances of a dataset in `language`."""
    config = make_config(f"cfg-{stt_model[-8:]}-{errors}-{language}".replace("/", "").replace(".", ""))
    dataset = SpeechDataset.objects.create(name=f"ds-{config.name}", language=language)
    run = SynthesisRun.objects.create(
        name="wer", mode="stt-wer", config=config, dataset=dataset, status=Status.DONE,
        config_snapshot=config.snapshot() | {"stt_model": stt_model}, finished_at=timezone.now(),
        cpu_description="test CPU, 2 cores",
    )  # fmt: skip
    words = WER_REFERENCE.split()
    for position in range(2, 12):
        utterance = Utterance(
            dataset=dataset, position=position, source_name=f"c{position}.wav", transcript=WER_REFERENCE,
            language=language, sha256=f"{position:064x}", duration_s=1.0, sample_rate=16000,
        )  # fmt: skip
        utterance.audio.save(f"c{position}.wav", ContentFile(tone_wav()), save=False)
        utterance.save()
        item = RunItem.objects.create(run=run, utterance=utterance, status=Status.DONE)
        heard = " ".join(["mal"] * errors + words[errors:]) if position == 2 else WER_REFERENCE
        counts = textnorm.utterance_errors(WER_REFERENCE, heard, method="basic", language=language)
        fields = {k: counts[k] for k in ("hits", "substitutions", "deletions", "insertions")}
        fields |= {
            k: counts[k] for k in ("char_hits", "char_substitutions", "char_deletions", "char_insertions")
        }
        Transcript.objects.create(
            run=run, run_item=item, utterance=utterance, language=language, reference=WER_REFERENCE,
            hypothesis=heard, normalisation="basic", duration_s=1.0, stt_ms=100, stt_rtf=0.1, **fields,
        )  # fmt: skip
    return run


# What one component costs in the fake child processes below: load ms (cold), MB its load adds.
LOAD_COST = {"tts": (300.0, 90.0), "stt": (400.0, 120.0), "llm": (100.0, 130.0), "dnsmos": (10.0, 10.0)}


def fake_process(components: list[str], cache: str, *, slower: float = 1.0, left_mb=0.0) -> dict:
    """The figures a load probe child would print; warm loads take half the cold time."""
    factor = slower * (1.0 if cache == loadprobe.COLD else 0.5)
    loads = {
        c: {
            "load_ms": LOAD_COST[c][0] * factor,
            "first_inference_ms": 50.0 * factor,
            "rss_load_mb": LOAD_COST[c][1],
            "rss_inference_mb": 5.0,
            "file_mb": 60.0,
        }
        for c in components
    }
    added = sum(entry["rss_load_mb"] + entry["rss_inference_mb"] for entry in loads.values())
    return {
        "components": components,
        "cache": cache,
        "import_ms": 40.0,
        "load_ms": sum(entry["load_ms"] for entry in loads.values()),
        "rss_start_mb": 100.0,
        "rss_imported_mb": 130.0,
        "rss_end_mb": 130.0 + added,
        "peak_rss_mb": 150.0 + added,
        "file_mb": 60.0 * len(components),
        "resident_mb": left_mb if cache == loadprobe.COLD else 60.0 * len(components),
        "loads": loads,
    }


def fake_plan_figures(plan: list[dict]) -> list[dict]:
    """One fake process per plan entry; the second repeat is twice as slow (medians fall between)."""
    per_repeat = len(run_modes.load.load_plan(repeat=1))
    return [
        fake_process(entry["components"], entry["cache"], slower=1.0 + index // per_repeat)
        for index, entry in enumerate(plan)
    ]


def finished_load_run(config, *, repeat: int = 1, cpu: str = "test CPU, 2 cores") -> SynthesisRun:
    """A done load run whose items stored the fake processes (no child processes, no models)."""
    plan = run_modes.load.load_plan(repeat=repeat)
    with TestCase.captureOnCommitCallbacks(execute=False):
        run = services.start_run(name="load", config=config, mode="load", plan=plan)
    for item, figures in zip(run.items.order_by("iteration"), fake_plan_figures(plan), strict=True):
        TimedIteration.objects.create(
            run=run, run_item=item, position=item.iteration, kind=loadprobe.KIND, label="x", figures=figures
        )
    run.items.update(status=Status.DONE)
    SynthesisRun.objects.filter(pk=run.pk).update(
        status=Status.DONE,
        finished_at=timezone.now(),
        cpu_description=cpu,
        library_versions={"llama-cpp-python": "0.3.36"},
    )
    return SynthesisRun.objects.get(pk=run.pk)


def store_by_hand(run: SynthesisRun, figures_for) -> None:
    """Claim each item and store the iteration a worker would have produced (no models)."""
    for item_id in run.items.order_by("iteration").values_list("id", flat=True):
        item = services.claim_item(item_id=item_id, worker="here:1")
        entry = run.benchmark["plan"][item.iteration]
        kind, figures = figures_for(item.iteration, entry)
        label = entry.get("prompt") or str(item.iteration)
        result = iterations.IterationResult(kind=kind, label=label, figures=figures)
        services.store_iteration(item=item, result=result, mode=modes.get_mode(run.mode))


def register_run_mode(test: TestCase, mode: modes.RunMode) -> modes.RunMode:
    """Register a run mode for the length of one test: the test's cleanup takes it out again."""
    test.addCleanup(modes.RUN_MODES.pop, mode.key, None)
    return modes.register(mode)
