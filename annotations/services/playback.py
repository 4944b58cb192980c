"""The clips of a new test as served: loudness-matched playback copies and MUSHRA anchors.

Files are written before the test's transaction opens; on any failure the helpers leave no file behind.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile

from annotations import multistimulus
from annotations.models import TestSample, new_token
from annotations.services.errors import TestCreationError
from synthesis.engines import audio
from synthesis.models import Sample


@dataclass(frozen=True)
class _Clip:
    sample: Sample
    kind: str
    expected_score: int | None = None
    instructed_score: int | None = None
    role: str = TestSample.Role.CONDITION


def _write_playback_copies(clips: list[_Clip], rate: int) -> list[TestSample]:
    """Unsaved clip rows whose playback files are written; on any failure no file is left behind."""
    rows: list[TestSample] = []
    try:
        for clip in clips:
            rows.append(_write_playback_copy(clip, rate))
    except BaseException:
        _delete_playback_files(rows)
        raise
    return rows


def _decoded(sample: Sample, rate: int):
    """The sample's audio at the test's common rate; TestCreationError naming it if it cannot be read."""
    try:
        with sample.audio.open("rb") as handle:
            data, sample_rate = audio.read_audio(handle.read())
        return audio.resample(data, sample_rate, rate)
    except (OSError, ValueError, audio.AudioDecodeError) as exc:
        raise TestCreationError(f"Sample {sample.pk}: {exc}") from exc


def _write_playback_copy(clip: _Clip, rate: int) -> TestSample:
    """Decode, resample to the test's common rate, match loudness and store a metadata-free WAV."""
    sample = clip.sample
    try:
        data, loudness = audio.loudness_matched(_decoded(sample, rate), rate, settings.SARAI_TARGET_LUFS)
    except (ValueError, audio.AudioDecodeError) as exc:
        raise TestCreationError(f"Sample {sample.pk}: {exc}") from exc
    row = TestSample(
        sample=sample,
        kind=clip.kind,
        expected_score=clip.expected_score,
        instructed_score=clip.instructed_score,
        playback_lufs=loudness,
        role=clip.role,
        open_token=new_token() if clip.role == TestSample.Role.REFERENCE else None,
    )
    # The file is named after the clip's random token: its name says nothing about the sample.
    row.playback_audio.save(f"{row.token}.wav", ContentFile(audio.wav_bytes(data, rate)), save=False)
    return row


def _delete_playback_files(rows: list[TestSample]) -> None:
    for row in rows:
        row.playback_audio.delete(save=False)


def _anchor_clips(clips: list[_Clip], rate: int) -> list[_Clip]:
    """An anchor for each reference clip (ITU-R BS.1534): its audio low-passed at 3.5 kHz, as an unsaved
    Sample whose file is written; on any failure no file is left behind."""
    anchors: list[_Clip] = []
    try:
        for clip in clips:
            if clip.role == TestSample.Role.REFERENCE:
                anchors.append(
                    _Clip(_anchor_sample(clip.sample, rate), clip.kind, role=TestSample.Role.ANCHOR)
                )
    except BaseException:
        _delete_sample_files(anchors)
        raise
    return anchors


def _anchor_sample(reference: Sample, rate: int) -> Sample:
    """The reference at the test's rate, low-passed, as a Sample of the anchor system (not yet saved).

    It says the reference's sentence in its style, so it joins the reference's page; its own system
    name keeps it out of every list of samples to choose from.
    """
    try:
        data = audio.low_pass(_decoded(reference, rate), rate)
    except audio.AudioDecodeError as exc:
        raise TestCreationError(f"Sample {reference.pk}: {exc}") from exc
    anchor = Sample(
        origin=Sample.Origin.IMPORTED,
        system_label=multistimulus.ANCHOR_SYSTEM,
        sentence=reference.sentence,
        style=reference.style,
        style_label=reference.style_label,
        text=reference.text,
        source_name=f"BS.1534 anchor: sample {reference.pk} low-passed at {audio.ANCHOR_CUTOFF_HZ:g} Hz",
        duration_s=data.size / rate,
        sample_rate=rate,
        loudness_lufs=audio.integrated_loudness(data, rate),
    )
    anchor.audio.save(f"anchor-{new_token()}.wav", ContentFile(audio.wav_bytes(data, rate)), save=False)
    return anchor


def _delete_sample_files(clips: list[_Clip]) -> None:
    for clip in clips:
        clip.sample.audio.delete(save=False)
