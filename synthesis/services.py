"""Workflows across synthesis models. The only module that enqueues synthesis tasks."""

import contextlib
import errno
import logging
import os
import re
import signal
import socket
from collections.abc import Callable
from datetime import timedelta
from itertools import product
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from synthesis import modes
from synthesis.engines import audio, pipeline, selftest
from synthesis.engines.models import ModelFileError, cpu_description, fingerprints, library_versions
from synthesis.engines.settings import PipelineSettings
from synthesis.importing import parse_sentence_file
from synthesis.models import (
    RunItem,
    Sample,
    Sentence,
    SentenceSet,
    SpeechDataset,
    Status,
    StylePreset,
    SynthesisRun,
    TimedIteration,
    Transcript,
)

logger = logging.getLogger(__name__)
# Only a flaky database is worth a retry (tasks.py); any other error is the item's own and is
# recorded on it, so a bad model path or corrupt audio never stops the rest of the run.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
# An item whose worker process died this often (OOM, a crash in native code) is failed, not retried.
MAX_ATTEMPTS = 5
# A native engine that dies of one of these on an item does so again on the next try: fail at once.
DETERMINISTIC_CRASH_SIGNALS = {signal.SIGILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGABRT}


class ItemStopped(Exception):
    """The item is no longer this worker's to finish: its run was cancelled or another worker took it."""


class MediaStorageError(Exception):
    """The media storage refused a file (disk full, read-only): the item fails, the run goes on."""


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


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
    from synthesis.tasks import process_item, process_serial_run

    if mode.serial:
        process_serial_run.delay_on_commit(run.pk)
        return
    for item_id in item_ids:
        process_item.delay_on_commit(item_id)


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


def claim_item(*, item_id: int, worker: str) -> RunItem | None:
    """Take an item for this worker with one conditional UPDATE; None if someone else has it."""
    now = timezone.now()
    claimable = (
        Q(status=Status.QUEUED)
        | Q(status=Status.RUNNING, lease_expires_at__lt=now)
        | Q(status=Status.RUNNING, claimed_by=worker)
    )
    # A redelivered message whose previous worker process on this host was killed: take it over now
    # rather than after the lease runs out.
    holder = (
        RunItem.objects.filter(pk=item_id, status=Status.RUNNING).values_list("claimed_by", flat=True).first()
    )
    if holder and _is_dead_local_process(holder, socket.gethostname()):
        claimable |= Q(status=Status.RUNNING, claimed_by=holder)
    with transaction.atomic():
        claimed = RunItem.objects.filter(
            claimable, pk=item_id, attempts__lt=MAX_ATTEMPTS, run__status__in=[Status.QUEUED, Status.RUNNING]
        ).update(
            status=Status.RUNNING,
            claimed_by=worker,
            started_at=now,
            lease_expires_at=now + timedelta(seconds=settings.SARAI_ITEM_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
        if not claimed:
            _give_up_if_exhausted(item_id, claimable)
            return None
        SynthesisRun.objects.filter(items__pk=item_id, status=Status.QUEUED).update(
            status=Status.RUNNING, started_at=now
        )
    return RunItem.objects.select_related("run", "sentence", "style", "utterance").get(pk=item_id)


def _give_up_if_exhausted(item_id: int, claimable: Q) -> None:
    given_up = RunItem.objects.filter(claimable, pk=item_id, attempts__gte=MAX_ATTEMPTS).update(
        status=Status.FAILED,
        error=f"Gave up after {MAX_ATTEMPTS} attempts: the worker process ended before the item finished.",
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
    if given_up:
        with transaction.atomic():
            refresh_progress(run_id=RunItem.objects.values_list("run_id", flat=True).get(pk=item_id))


def execute_item(*, item: RunItem) -> None:
    """Run one claimed item through the pipeline (outside any transaction) and store its sample."""
    try:
        mode = modes.get_mode(item.run.mode)
        record_provenance(run=item.run)
        broken = selftest.failure_for(
            selftest.cached_report(settings.SARAI_MODEL_CACHE),
            pipeline.engines_for(item.run.pipeline_settings, mode.loads),
        )
        if broken:
            fail_item(item=item, error=broken)
            return
        result = mode.run(item, on_stage=_stage_recorder(item))
        STORERS[mode.stores](item=item, result=result, mode=mode)
    except ItemStopped:
        _stop_item(item)
    except TRANSIENT_ERRORS:
        _release_quietly(item)
        raise
    except ModelFileError as exc:
        fail_item(item=item, error=f"Model file problem: {exc}")
    except MediaStorageError as exc:
        fail_item(item=item, error=str(exc))
    except Exception as exc:
        fail_item(item=item, error=f"{type(exc).__name__}: {exc}")


def _stage_recorder(item: RunItem) -> pipeline.StageCallback:
    """Record each stage on the item as it starts; stop between stages once the run is cancelled."""

    def record(stage: str) -> None:
        updated = RunItem.objects.filter(
            pk=item.pk,
            status=Status.RUNNING,
            claimed_by=item.claimed_by,
            run__status__in=[Status.QUEUED, Status.RUNNING],
        ).update(stage=stage)
        if not updated:
            raise ItemStopped(stage)

    return record


def _stop_item(item: RunItem) -> None:
    """Close an item whose run was cancelled while it ran; a taken-over item is left to its new owner."""
    with transaction.atomic():
        stopped = RunItem.objects.filter(
            pk=item.pk, status=Status.RUNNING, claimed_by=item.claimed_by, run__status=Status.CANCELLED
        ).update(status=Status.CANCELLED, finished_at=timezone.now(), lease_expires_at=None)
        if stopped:
            refresh_progress(run_id=item.run_id)


def record_worker_crash(*, item_id: int, exit_description: str) -> None:
    """A pool process died on this item: name the stage and signal on it, then fail or re-queue it.

    `exit_description` is what the pool reports, e.g. "Worker exited prematurely: signal 4 (SIGILL)".
    A crash that repeats on the same input (SIGILL, SIGSEGV, ...) fails the item at once; anything
    else (SIGKILL from the OOM killer or an operator) sends it again until MAX_ATTEMPTS.
    """
    from synthesis.tasks import process_item

    item = RunItem.objects.select_related("run").filter(pk=item_id, status=Status.RUNNING).first()
    if item is None:
        return
    number = _exit_signal(exit_description)
    how = f"with {selftest.describe_signal(number)}" if number else f"({exit_description.strip()})"
    stage = pipeline.stage_description(item.stage, item.run.pipeline_settings)
    crash = f"The worker process died {how} during {stage}."
    deterministic = number in DETERMINISTIC_CRASH_SIGNALS
    with transaction.atomic():
        if deterministic or item.attempts >= MAX_ATTEMPTS:
            hint = " Run `manage.py doctor` to check the engines on this machine." if deterministic else ""
            done = RunItem.objects.filter(pk=item.pk, status=Status.RUNNING).update(
                status=Status.FAILED,
                error=(crash if deterministic else f"Gave up after {item.attempts} attempts. {crash}") + hint,
                finished_at=timezone.now(),
                lease_expires_at=None,
            )
            if done:
                refresh_progress(run_id=item.run_id)
            return
        requeued = RunItem.objects.filter(pk=item.pk, status=Status.RUNNING).update(
            status=Status.QUEUED,
            error=f"{crash} Sent again.",
            lease_expires_at=None,
            queued_at=timezone.now(),
        )
        if requeued:
            process_item.delay_on_commit(item.pk)


def _exit_signal(exit_description: str) -> int | None:
    match = re.search(r"signal (\d+)", exit_description)
    return int(match.group(1)) if match else None


def fail_abandoned_in_process_runs() -> int:
    """Fail runs whose `synthesize --in-process` command on this host died; returns how many."""
    host = socket.gethostname()
    open_runs = SynthesisRun.objects.filter(status__in=[Status.QUEUED, Status.RUNNING]).exclude(
        in_process_by=""
    )
    count = 0
    for run_id, runner in open_runs.values_list("id", "in_process_by"):
        if _is_dead_local_process(runner, host):
            _fail_abandoned_run(run_id=run_id, runner=runner)
            count += 1
    return count


def _fail_abandoned_run(*, run_id: int, runner: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        run = SynthesisRun.objects.select_for_update().get(pk=run_id)
        for item in run.items.filter(status=Status.RUNNING):
            stage = pipeline.stage_description(item.stage, run.pipeline_settings)
            RunItem.objects.filter(pk=item.pk, status=Status.RUNNING).update(
                status=Status.FAILED,
                error=f"The command running this item in its own process ({runner}) ended during {stage}; "
                "a native crash (e.g. SIGILL) ends a process without a trace: run `manage.py doctor`.",
                finished_at=now,
                lease_expires_at=None,
            )
        run.items.filter(status=Status.QUEUED).update(
            status=Status.FAILED,
            error=f"Not run: the command running the run ({runner}) ended first.",
            finished_at=now,
        )
        SynthesisRun.objects.filter(pk=run_id).update(
            status=Status.FAILED,
            error=f"The command running this run in its own process ({runner}) ended.",
            finished_at=now,
        )
        refresh_progress(run_id=run_id)


def _release_quietly(item: RunItem) -> None:
    """Give a claimed item back before a retry, so whichever process gets the retry may take it."""
    # If the database is still away, the lease runs out and the item is handed out again.
    with contextlib.suppress(*TRANSIENT_ERRORS):
        RunItem.objects.filter(pk=item.pk, status=Status.RUNNING, claimed_by=item.claimed_by).update(
            status=Status.QUEUED, lease_expires_at=None, queued_at=timezone.now()
        )


def record_provenance(*, run: SynthesisRun) -> None:
    """Fill in library versions, CPU and model file checksums the first time a worker touches a run."""
    if run.model_files:
        return
    loads = modes.get_mode(run.mode).loads
    config = run.pipeline_settings
    files = fingerprints(pipeline.model_files(config, settings.SARAI_MODEL_CACHE, loads))
    SynthesisRun.objects.filter(pk=run.pk, model_files=[]).update(
        model_files=files,
        library_versions=library_versions(),
        cpu_description=cpu_description(),
        config_snapshot={**run.config_snapshot, "threads": _thread_summary(config)},
    )
    run.model_files = files


def _thread_summary(config: PipelineSettings) -> str:
    llm = f"llm {config.llm_threads}"
    batch = config.llm_batch_threads or config.llm_threads
    if batch != config.llm_threads:
        llm += f" (prompt {batch})"
    return f"stt {config.stt_threads}, {llm}, tts {config.tts_threads}, dnsmos 1"


def store_sample(*, item: RunItem, result: pipeline.ItemResult, mode: modes.RunMode) -> Sample | None:
    """Save (or replace) the item's one sample and mark it DONE, unless another worker took it over."""
    run, fields = item.run, dict(result.measurements)
    undeclared = set(fields) - {m.name for m in mode.measurements}
    if undeclared:
        # The registry is what pages and exports read: a figure it does not list would go unseen.
        raise ValueError(f"run mode {mode.key!r} does not declare {', '.join(sorted(undeclared))}")
    duration = fields.pop("duration_s")
    content = ContentFile(audio.wav_bytes(result.audio, result.sample_rate))
    with transaction.atomic():
        if not _finish_item(item):
            return None
        sample, _ = Sample.objects.update_or_create(
            run_item=item,
            defaults={
                "run": run,
                "origin": Sample.Origin.SYNTHESIZED,
                "sentence": item.sentence,
                "style": item.style,
                "style_label": item.style.name,
                "system_label": run.system_label,
                "text": result.text,
                "duration_s": duration,
                "sample_rate": result.sample_rate,
                **fields,
            },
        )
        if sample.audio:
            sample.audio.delete(save=False)  # a re-run replaces the file instead of leaving it behind
        _save_media(sample.audio, f"{sample.pk}.wav", content)
        refresh_progress(run_id=run.pk)
    return sample


def _save_media(field_file, name: str, content: ContentFile) -> None:
    """Save a file to the media storage; an OS error (disk full, read-only) becomes MediaStorageError.

    The OS's own words ("No space left on device") say what to fix; naming the storage says where,
    since the worker's traceback is not on the run page.
    """
    try:
        field_file.save(name, content, save=True)
    except OSError as exc:
        storage = field_file.storage
        where = getattr(storage, "location", "") or type(storage).__name__
        reason = exc.strerror or str(exc)
        code = f" ({errno.errorcode[exc.errno]})" if exc.errno in errno.errorcode else ""
        raise MediaStorageError(
            f"The media storage ({where}) could not save the audio: {reason}{code}. "
            "Free space or make it writable, then retry the failed items."
        ) from exc


def store_transcript(
    *, item: RunItem, result: pipeline.TranscriptResult, mode: modes.RunMode
) -> Transcript | None:
    """Save (or replace) the item's one transcript and mark it DONE, unless another worker took it over."""
    errors, seconds = result.errors, result.stt_seconds
    counts = ("hits", "substitutions", "deletions", "insertions")
    counts += tuple(f"char_{name}" for name in counts)
    with transaction.atomic():
        if not _finish_item(item):
            return None
        transcript, _ = Transcript.objects.update_or_create(
            run_item=item,
            defaults={
                "run": item.run,
                "utterance": item.utterance,
                "language": result.language,
                "reference": result.reference,
                "hypothesis": result.hypothesis,
                "normalisation": errors["method"],
                "reference_normalised": errors["reference_normalised"],
                "hypothesis_normalised": errors["hypothesis_normalised"],
                "duration_s": result.duration_s,
                "stt_ms": seconds * 1000,
                "stt_rtf": seconds / result.duration_s,
                **{name: errors[name] for name in counts},
            },
        )
        refresh_progress(run_id=item.run_id)
    return transcript


def _finish_item(item: RunItem) -> bool:
    """Mark a claimed item DONE; False (and a warning) when another worker has taken it over."""
    mine = RunItem.objects.filter(pk=item.pk, status=Status.RUNNING, claimed_by=item.claimed_by).update(
        status=Status.DONE, error="", finished_at=timezone.now(), lease_expires_at=None
    )
    if not mine:
        logger.warning("run item %s was taken over by another worker; result dropped", item.pk)
    return bool(mine)


def store_iteration(*, item: RunItem, result, mode: modes.RunMode) -> TimedIteration | None:
    """Save (or replace) the item's timed iteration and mark it DONE, unless another worker took it over."""
    entry = item.run.benchmark["plan"][item.iteration]
    # Another run's item running now shared the CPU with (part of) this iteration: say so on the row.
    contended = RunItem.objects.filter(status=Status.RUNNING).exclude(run_id=item.run_id).exists()
    with transaction.atomic():
        if not _finish_item(item):
            return None
        row, _ = TimedIteration.objects.update_or_create(
            run_item=item,
            defaults={
                "run": item.run,
                "position": item.iteration,
                "kind": result.kind,
                "label": result.label[:300],
                "warmup": bool(entry.get("warmup")),
                "contended": contended,
                "figures": result.figures,
            },
        )
        refresh_progress(run_id=item.run_id)
    return row


# How each kind of item result (modes.RESULT_KINDS) is stored.
STORERS = {modes.SAMPLE: store_sample, modes.TRANSCRIPT: store_transcript, modes.ITERATION: store_iteration}


class MachineBusy(Exception):
    """Other items kept running past SARAI_SERIAL_IDLE_TIMEOUT: a serial run would measure contention."""


def wait_until_idle(*, run: SynthesisRun, timeout_s: float, poll_s: float, sleep=None) -> float:
    """Block until no item of another run is RUNNING; return the seconds waited (MachineBusy on timeout)."""
    import time

    sleep = sleep or time.sleep
    started = time.monotonic()
    # An item whose lease ran out belongs to a dead worker (requeue_stale_items hands it out again).
    while (
        RunItem.objects.filter(status=Status.RUNNING, lease_expires_at__gt=timezone.now())
        .exclude(run_id=run.pk)
        .exists()
    ):
        waited = time.monotonic() - started
        if waited >= timeout_s:
            raise MachineBusy(f"other runs' items were still running after {waited:.0f} s")
        sleep(poll_s)
    return time.monotonic() - started


def run_serial(*, run_id: int, worker: str, sleep=None, after_item=None) -> bool:
    """Run a serial run's items in order in this process once the machine is idle; False if not ours.

    The run is claimed with one conditional UPDATE of `in_process_by` (a Celery worker process or the
    command), so duplicate messages are harmless and a runner that dies has its run failed by
    fail_abandoned_in_process_runs. Each item still goes through claim_item/execute_item.
    """
    mine = SynthesisRun.objects.filter(
        Q(in_process_by="") | Q(in_process_by=worker),
        pk=run_id,
        status__in=[Status.QUEUED, Status.RUNNING],
    ).update(in_process_by=worker)
    if not mine:
        return False
    run = SynthesisRun.objects.get(pk=run_id)
    try:
        waited = wait_until_idle(
            run=run,
            timeout_s=settings.SARAI_SERIAL_IDLE_TIMEOUT,
            poll_s=settings.SARAI_SERIAL_POLL_SECONDS,
            sleep=sleep,
        )
    except MachineBusy as exc:
        _fail_unstarted_run(run_id=run_id, error=f"Not measured: {exc}; a serial run needs an idle machine.")
        return True
    SynthesisRun.objects.filter(pk=run_id).update(benchmark={**run.benchmark, "idle_wait_s": waited})
    for item_id in run.items.order_by("iteration", "id").values_list("id", flat=True):
        item = claim_item(item_id=item_id, worker=worker)
        if item is not None:
            execute_item(item=item)
        if after_item is not None:
            after_item()  # e.g. a command's progress bar
    # Handed back so that retry_failed can send the run to any worker again.
    SynthesisRun.objects.filter(pk=run_id, in_process_by=worker).update(in_process_by="")
    return True


def _fail_unstarted_run(*, run_id: int, error: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        RunItem.objects.filter(run_id=run_id, status=Status.QUEUED).update(
            status=Status.FAILED, error=error, finished_at=now
        )
        SynthesisRun.objects.filter(pk=run_id).update(status=Status.FAILED, error=error, finished_at=now)
        refresh_progress(run_id=run_id)


def fail_item(*, item: RunItem, error: str) -> None:
    logger.warning("run item %s failed: %s", item.pk, error)
    with transaction.atomic():
        RunItem.objects.filter(pk=item.pk, status=Status.RUNNING, claimed_by=item.claimed_by).update(
            status=Status.FAILED, error=error[:2000], finished_at=timezone.now(), lease_expires_at=None
        )
        refresh_progress(run_id=item.run_id)


def refresh_progress(*, run_id: int) -> None:
    """Recount the run's items and close the run when none is left to do."""
    run = SynthesisRun.objects.select_for_update().get(pk=run_id)
    counts = RunItem.objects.filter(run_id=run_id).status_counts()
    run.done_count = counts.get(Status.DONE, 0)
    run.failed_count = counts.get(Status.FAILED, 0)
    open_items = counts.get(Status.QUEUED, 0) + counts.get(Status.RUNNING, 0)
    if open_items == 0 and run.status in {Status.QUEUED, Status.RUNNING}:
        run.status = Status.FAILED if run.done_count == 0 and run.failed_count else Status.DONE
        run.error = "Every item failed; see the items' errors." if run.status == Status.FAILED else ""
        run.finished_at = timezone.now()
    run.save(update_fields=["done_count", "failed_count", "status", "error", "finished_at"])


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


def requeue_stale_items() -> int:
    """Send items again whose message or worker was lost. Returns how many were sent.

    RUNNING items whose lease ran out or whose process on this host is dead go back to QUEUED;
    QUEUED items waiting longer than a lease (a message lost on the way, e.g. a broker that was
    down at enqueue time) get a new message. Claims make any duplicate message harmless.
    """
    from synthesis.tasks import process_item

    now, host = timezone.now(), socket.gethostname()
    lease = timedelta(seconds=settings.SARAI_ITEM_LEASE_SECONDS)
    _cancel_orphans_of_cancelled_runs(now=now, host=host)
    running = RunItem.objects.filter(status=Status.RUNNING, run__status=Status.RUNNING, run__in_process_by="")
    stale = [
        (item_id, claimed_by)
        for item_id, claimed_by, expires in running.values_list("id", "claimed_by", "lease_expires_at")
        if (expires is not None and expires < now) or _is_dead_local_process(claimed_by, host)
    ]
    sent = 0
    with transaction.atomic():
        for item_id, claimed_by in stale:
            sent += RunItem.objects.filter(pk=item_id, status=Status.RUNNING, claimed_by=claimed_by).update(
                status=Status.QUEUED, queued_at=now
            )
        waiting = RunItem.objects.filter(
            status=Status.QUEUED,
            queued_at__lt=now - lease,
            run__status__in=[Status.QUEUED, Status.RUNNING],
            run__in_process_by="",
        ).exclude(run__mode__in=_serial_mode_keys())
        lost = list(waiting.values_list("id", flat=True))
        _resend_waiting_serial_runs(before=now - lease)
        waiting.filter(pk__in=lost).update(queued_at=now)
        for item_id in [item_id for item_id, _ in stale] + lost:
            process_item.delay_on_commit(item_id)
    return sent + len(lost)


def _serial_mode_keys() -> list[str]:
    return [mode.key for mode in modes.RUN_MODES.values() if mode.serial]


def _resend_waiting_serial_runs(*, before) -> None:
    """A serial run nobody has claimed for a lease (its message lost): send it again."""
    from synthesis.tasks import process_serial_run

    waiting = SynthesisRun.objects.filter(
        mode__in=_serial_mode_keys(),
        status__in=[Status.QUEUED, Status.RUNNING],
        in_process_by="",
        items__status=Status.QUEUED,
        items__queued_at__lt=before,
    ).distinct()
    for run_id in waiting.values_list("id", flat=True):
        process_serial_run.delay_on_commit(run_id)


def _cancel_orphans_of_cancelled_runs(*, now, host: str) -> None:
    """Items of a cancelled run whose worker died can no longer stop themselves: close them here."""
    running = RunItem.objects.filter(status=Status.RUNNING, run__status=Status.CANCELLED)
    for item_id, run_id, claimed_by, expires in running.values_list(
        "id", "run_id", "claimed_by", "lease_expires_at"
    ):
        if (expires is not None and expires < now) or _is_dead_local_process(claimed_by, host):
            with transaction.atomic():
                RunItem.objects.filter(pk=item_id, status=Status.RUNNING, claimed_by=claimed_by).update(
                    status=Status.CANCELLED, finished_at=now, lease_expires_at=None
                )
                refresh_progress(run_id=run_id)


def _is_dead_local_process(claimed_by: str, host: str) -> bool:
    name, _, pid = claimed_by.rpartition(":")
    if name != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    """A killed worker child can linger as a zombie where nothing reaps orphans; it answers kill(0)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] in {"Z", "X"}
