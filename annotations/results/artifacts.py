"""Where listeners marked problems in a one-clip test: per clip, how many listeners agree on each moment."""

import math
from collections import Counter, defaultdict

from django.db.models import Count
from django.urls import reverse

from annotations.models import ArtifactMark, ListeningTest, Rating, TestSample

BIN_S = 0.1  # the density's resolution: agreement is counted per tenth of a second
TOP_SAMPLES = 10
EPSILON = 1e-9  # 0.3 / 0.1 is 2.9999999999999996 in floating point


def covered_bins(start: float, end: float, n_bins: int, bin_s: float = BIN_S) -> range:
    """The bins [i·bin_s, (i+1)·bin_s) a mark from start to end overlaps (a point mark: its own bin)."""
    first = min(math.floor(start / bin_s + EPSILON), n_bins - 1)
    last = min(math.ceil(end / bin_s - EPSILON) - 1, n_bins - 1)
    return range(first, max(first, last) + 1)


def density(
    spans_by_listener: dict[int, list[tuple[float, float]]], duration: float, bin_s: float = BIN_S
) -> list[int]:
    """Per bin of the clip, how many distinct listeners have a mark covering it."""
    n_bins = max(1, math.ceil(duration / bin_s - EPSILON))
    counts = [0] * n_bins
    for spans in spans_by_listener.values():
        covered = set()
        for start, end in spans:
            covered.update(covered_bins(start, end, n_bins, bin_s))
        for index in covered:
            counts[index] += 1
    return counts


def peak_region(counts: list[int], bin_s: float = BIN_S) -> tuple[int, float, float]:
    """(peak agreement, start s, end s) of the first run of bins at the peak; (0, 0, 0) without marks."""
    peak = max(counts, default=0)
    if peak == 0:
        return 0, 0.0, 0.0
    first = counts.index(peak)
    last = first
    while last + 1 < len(counts) and counts[last + 1] == peak:
        last += 1
    return peak, round(first * bin_s, 3), round((last + 1) * bin_s, 3)


def artifact_summary(test: ListeningTest) -> dict:
    """Per marked clip: listeners who answered it, marks, the density of agreement over time, its peak
    and the labels given; clips ranked by peak agreement, then by marks."""
    marks = list(
        ArtifactMark.objects.filter(test_sample__test=test).values_list(
            "test_sample_id", "evaluator_id", "start_s", "end_s", "label"
        )
    )
    spans: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    labels: dict[int, Counter] = defaultdict(Counter)
    for clip, evaluator, start, end, label in marks:
        spans[clip][evaluator].append((start, end))
        labels[clip][label or "(no label)"] += 1
    listeners = dict(
        Rating.objects.filter(test_sample_id__in=spans, trial__isnull=False)
        .values("test_sample_id")
        .annotate(n=Count("evaluator", distinct=True))
        .values_list("test_sample_id", "n")
    )
    clips = TestSample.objects.filter(pk__in=spans).select_related("sample", "sample__sentence")
    rows = [_clip_row(clip, spans[clip.pk], labels[clip.pk], listeners.get(clip.pk, 0)) for clip in clips]
    rows.sort(key=lambda row: (-row["peak"], -row["marks"], row["test_sample_id"]))
    return {
        "labels": test.artifact_labels,
        "bin_s": BIN_S,
        "n_marks": len(marks),
        "samples": rows,
        "top": rows[:TOP_SAMPLES],
    }


def _clip_row(clip: TestSample, spans: dict[int, list], labels: Counter, listeners: int) -> dict:
    sample = clip.sample
    counts = density(spans, sample.duration_s or 0.0)
    peak, start, end = peak_region(counts)
    end = min(end, sample.duration_s or end)
    return {
        "test_sample_id": clip.pk,
        "sample_id": sample.pk,
        "kind": clip.kind,
        "system": sample.system_label,
        "style": sample.style_label,
        "sentence": sample.sentence.text if sample.sentence_id else sample.text,
        "duration_s": sample.duration_s,
        "listeners": listeners,
        "markers": len(spans),
        "marks": sum(len(s) for s in spans.values()),
        "density": counts,
        "peak": peak,
        "peak_start_s": start,
        "peak_end_s": end,
        "labels": labels.most_common(),
        # Researchers only: the sample's own audio, played from the peak's start to its end.
        "audio_url": f"{reverse('synthesis:sample_audio', args=[sample.pk])}#t={start:.2f},{end:.2f}",
    }
