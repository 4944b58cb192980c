"""What an item leaves behind, by its mode's kind: a Sample (audio and measurements), a Transcript
(an STT result and its error counts) or a TimedIteration (one iteration's stage times)."""

import errno
import logging

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from synthesis import modes
from synthesis.engines import audio, pipeline
from synthesis.models import (
    RunItem,
    Sample,
    Status,
    TimedIteration,
    Transcript,
)
from synthesis.services.progress import refresh_progress

logger = logging.getLogger(__name__)


class MediaStorageError(Exception):
    """The media storage refused a file (disk full, read-only): the item fails, the run goes on."""


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
