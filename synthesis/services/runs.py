"""Starting runs (one item per sentence x style, utterance or plan entry), cancelling and retrying
them, and running a run's items in the calling process (`synthesize --in-process`)."""

import logging
from collections.abc import Callable
from itertools import product

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from synthesis import modes
from synthesis.importing import parse_sentence_file
from synthesis.models import (
    RunItem,
    Sentence,
    SentenceSet,
    SpeechDataset,
    Status,
    StylePreset,
    SynthesisRun,
)
from synthesis.services import queue
from synthesis.services.items import claim_item, execute_item, worker_name
from synthesis.services.progress import refresh_progress

logger = logging.getLogger(__name__)


@transaction.atomic
def import_sentences(
    *, name: str, data: bytes, filename: str, language: str = "en", description: str = ""
) -> SentenceSet:
    """Create a sentence set from a UTF-8 text or CSV file; nothing is saved if any line is bad."""
    parsed = parse_sentence_file(data, filename=filename, default_language=language)
    sentence_set = SentenceSet.objects.create(name=name, description=description)
    Sentence.objects.bulk_create(
        Sentence(sentence_set=sentence_set, position=p.line, text=p.text, language=p.language, tags=p.tags)
        for p in parsed
    )
    return sentence_set


def run_items_here(*, run: SynthesisRun, after_each: Callable[[], object] = lambda: None) -> None:
    """Run every item of a run in this process, in order (the commands' --in-process)."""
    worker = worker_name()
    for item_id in run.items.order_by("pk").values_list("id", flat=True):
        item = claim_item(item_id=item_id, worker=worker)
        if item is not None:
            execute_item(item=item)
        after_each()


def _benchmark_record(run_mode: modes.RunMode, plan) -> dict:
    record = {"plan": list(plan)} if plan else {}
    if run_mode.stores == modes.TRANSCRIPT:
        record[modes.STT_AS_TURNS] = True
    return record


def start_run(
    *,
    name: str,
    config,
    sentence_sets: list[SentenceSet] = (),
    styles: list[StylePreset] = (),
    dataset: SpeechDataset | None = None,
    mode: str = modes.DEFAULT_MODE,
    created_by: AbstractBaseUser | None = None,
    in_process_by: str = "",
    plan: list[dict] = (),
) -> SynthesisRun:
    """Create a run with QUEUED items where its mode takes them from and enqueue them after commit.

    A mode over utterances (stt-wer) takes a `dataset` and no sentence sets or styles; a mode over
    iterations (latency, llm-speed) takes a `plan` (synthesis.run_modes.latency.latency_plan,
    llm_speed.llm_plan), one item per entry. A serial mode's items are run in order by one process
    (run_serial), never item by item.

    With `in_process_by` (the calling process's worker_name()) nothing is enqueued: that process
    runs the items itself, and if it dies the run is failed, not handed to workers.
    """

    run_mode = modes.get_mode(mode)
    build_items = ITEM_BUILDERS[run_mode.items_from]
    if run_mode.items_from == modes.ITERATIONS and not plan and run_mode.plan:
        plan = run_mode.plan()
    with transaction.atomic():
        run = SynthesisRun.objects.create(
            name=name,
            mode=mode,
            config=config,
            dataset=dataset,
            created_by=created_by,
            in_process_by=in_process_by,
            config_snapshot=config.snapshot(),
            style_snapshot={style.name: style.parameters() for style in styles},
            benchmark=_benchmark_record(run_mode, plan),
        )
        run.sentence_sets.set(sentence_sets)
        run.styles.set(styles)
        items = build_items(run=run, sentence_sets=sentence_sets, styles=styles, dataset=dataset)
        run.total_count = len(items)
        run.save(update_fields=["total_count"])
        if not in_process_by:
            _enqueue(run, RunItem.objects.filter(run=run).values_list("id", flat=True), run_mode)
    return run


def _enqueue(run: SynthesisRun, item_ids, mode: modes.RunMode) -> None:
    """After commit: one message per item, or for a serial run one message for the whole run."""

    if mode.serial:
        queue.send_serial_run(run.pk)
        return
    for item_id in item_ids:
        queue.send_item(item_id)


def _items_over_sentences_and_styles(
    *, run: SynthesisRun, sentence_sets: list[SentenceSet], styles: list[StylePreset], dataset=None
) -> list[RunItem]:
    if dataset is not None:
        raise ValueError("This run mode synthesises sentences; it takes no speech dataset.")
    sentences = Sentence.objects.filter(sentence_set__in=sentence_sets).order_by("sentence_set", "position")
    items = RunItem.objects.bulk_create(
        RunItem(run=run, sentence=sentence, style=style) for sentence, style in product(sentences, styles)
    )
    if not items:
        raise ValueError("The chosen sentence sets hold no sentences.")
    return items


def _items_over_utterances(
    *, run: SynthesisRun, sentence_sets, styles, dataset: SpeechDataset | None
) -> list[RunItem]:
    if dataset is None or sentence_sets or styles:
        raise ValueError(f"Run mode {run.mode!r} takes a speech dataset, not sentence sets or styles.")
    utterances = dataset.utterances.order_by("position")
    items = RunItem.objects.bulk_create(RunItem(run=run, utterance=utterance) for utterance in utterances)
    if not items:
        raise ValueError(f"The speech dataset {dataset.name!r} holds no utterances.")
    return items


def _items_over_plan(*, run: SynthesisRun, sentence_sets, styles, dataset) -> list[RunItem]:
    if dataset is not None or sentence_sets or styles:
        raise ValueError(f"Run mode {run.mode!r} takes a plan of iterations, not sentences or a dataset.")
    plan = run.benchmark.get("plan") or []
    if not plan:
        raise ValueError(f"Run mode {run.mode!r} needs a plan with at least one iteration.")
    return RunItem.objects.bulk_create(RunItem(run=run, iteration=index) for index in range(len(plan)))


# How each item source (modes.ITEM_SOURCES) makes a run's items.
ITEM_BUILDERS = {
    modes.SENTENCES_X_STYLES: _items_over_sentences_and_styles,
    modes.UTTERANCES: _items_over_utterances,
    modes.ITERATIONS: _items_over_plan,
}


def cancel_run(*, run: SynthesisRun) -> tuple[int, int]:
    """Cancel the run: queued items stop at once, running ones at their next stage.

    The run's CANCELLED status is the cancel request that running items read between stages
    (_stage_recorder). Returns (queued items cancelled, items still running).
    """
    with transaction.atomic():
        now = timezone.now()
        cancelled = run.items.filter(status=Status.QUEUED).update(status=Status.CANCELLED, finished_at=now)
        running = run.items.filter(status=Status.RUNNING).count()
        SynthesisRun.objects.filter(pk=run.pk, status__in=[Status.QUEUED, Status.RUNNING]).update(
            status=Status.CANCELLED, finished_at=now
        )
        refresh_progress(run_id=run.pk)
    return cancelled, running


def retry_failed(*, run: SynthesisRun) -> int:
    """Queue the failed (and cancelled) items of a run again. Returns how many."""
    with transaction.atomic():
        ids = list(
            run.items.filter(status__in=[Status.FAILED, Status.CANCELLED]).values_list("id", flat=True)
        )
        if not ids:
            return 0
        RunItem.objects.filter(pk__in=ids).update(
            status=Status.QUEUED, error="", finished_at=None, attempts=0, queued_at=timezone.now()
        )
        SynthesisRun.objects.filter(pk=run.pk).update(status=Status.RUNNING, finished_at=None, error="")
        refresh_progress(run_id=run.pk)
        _enqueue(run, ids, modes.get_mode(run.mode))
    return len(ids)
