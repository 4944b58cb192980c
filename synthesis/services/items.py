"""One run item's life in a worker: claimed (conditional UPDATE and a lease), run through its mode with
each stage recorded, stopped when its run is cancelled, failed with a readable error; the run's
progress and provenance."""

import contextlib
import logging
import os
import socket
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone

from synthesis import modes
from synthesis.engines import pipeline, selftest
from synthesis.engines.models import ModelFileError, cpu_description, fingerprints, library_versions
from synthesis.engines.settings import PipelineSettings
from synthesis.models import (
    RunItem,
    Status,
    SynthesisRun,
)
from synthesis.services.progress import refresh_progress
from synthesis.services.storing import STORERS, MediaStorageError

logger = logging.getLogger(__name__)


# Only a flaky database is worth a retry (tasks.py); any other error is the item's own and is
# recorded on it, so a bad model path or corrupt audio never stops the rest of the run.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
# An item whose worker process died this often (OOM, a crash in native code) is failed, not retried.
MAX_ATTEMPTS = 5


class ItemStopped(Exception):
    """The item is no longer this worker's to finish: its run was cancelled or another worker took it."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
    if holder and is_dead_local_process(holder, socket.gethostname()):
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


def fail_item(*, item: RunItem, error: str) -> None:
    logger.warning("run item %s failed: %s", item.pk, error)
    with transaction.atomic():
        RunItem.objects.filter(pk=item.pk, status=Status.RUNNING, claimed_by=item.claimed_by).update(
            status=Status.FAILED, error=error[:2000], finished_at=timezone.now(), lease_expires_at=None
        )
        refresh_progress(run_id=item.run_id)


def is_dead_local_process(claimed_by: str, host: str) -> bool:
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
