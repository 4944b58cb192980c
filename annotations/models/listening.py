"""Audio requests the server answered (ClipFetch), and the plays and coverage read back from them."""

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.utils import timezone

from annotations.models.evaluators import Evaluator
from annotations.models.listening_tests import TestSample


def covers_file(spans: list[tuple[int, int]], size: int) -> bool:
    """True if the inclusive byte ranges together cover bytes 0 to size - 1, gaps nowhere."""
    reached = 0  # the first byte no range has sent yet
    for start, end in sorted(spans):
        if start > reached:
            return False
        reached = max(reached, end + 1)
    return bool(spans) and reached >= size


# Bytes a clip with limited plays may send beyond its plays' whole files: the probes and tails a
# browser asks for around a play (Safari's first two bytes, a tail Firefox reads before playing).
PROBE_ALLOWANCE = 1024


def count_plays(fetches: list[tuple[int, int, int]]) -> tuple[int, bool]:
    """(plays begun, whether the last one sent the whole file) from one clip's requests in the order
    they began, each (first byte, last byte, file size).

    A play is a run of requests that together send the whole file: a request from the first byte
    begins a new play once the current one has sent every byte. So a browser's probe of the first
    bytes and its request for the rest are one play (Safari asks for bytes 0-1 first), and so are a
    request for the whole file and one for its tail (Firefox may read the end before it plays); a
    request from the middle (a tail, a resumed download, a seek) belongs to the play under way.
    """
    plays, spans, size = 0, [], 0
    for start, end, size in fetches:
        if plays == 0 or (start == 0 and covers_file(spans, size)):
            plays += 1
            spans = []
        spans.append((start, end))
    return plays, plays > 0 and covers_file(spans, size)


def within_play_limit(fetches: list[tuple[int, int, int]], max_plays: int) -> bool:
    """Whether one clip's requests (as count_plays takes them, the newest last) stay within max_plays:
    they begin no more plays than that, and send at most max_plays times the file's size in all
    (plus PROBE_ALLOWANCE). The bytes are what holds: ranges that stop short of the last byte never
    complete a play, so they never begin the next one either.
    """
    if not fetches:
        return True
    plays, _ = count_plays(fetches)
    sent = sum(end - start + 1 for start, end, _ in fetches)
    return plays <= max_plays and sent <= max_plays * fetches[-1][2] + PROBE_ALLOWANCE


@dataclass(frozen=True)
class Fetched:
    """What a set of one evaluator's fetches sent, read in one query (ClipFetchQuerySet.fetched)."""

    fully_sent: set[int]  # clips whose whole file was sent, in one request or in ranges that join up
    plays: dict[int, int]  # plays begun (count_plays) of each clip
    first_started_at: datetime | None
    count: int


class ClipFetchQuerySet(models.QuerySet):
    def requests(self) -> list[tuple[int, int, int]]:
        """(first byte, last byte, file size) of these fetches in the order they began."""
        return list(self.order_by("started_at", "id").values_list("bytes_from", "bytes_to", "size"))

    def plays(self) -> tuple[int, bool]:
        """count_plays of these fetches (of one evaluator and one clip)."""
        return count_plays(self.requests())

    def fetched(self) -> Fetched:
        """Coverage, plays per clip, the first start and the number of these fetches (of one evaluator)."""
        rows = self.order_by("started_at", "id").values_list(
            "test_sample_id", "started_at", "bytes_from", "bytes_to", "size"
        )
        requests: dict[int, list[tuple[int, int, int]]] = {}
        spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
        first = None
        for clip_id, started_at, start, end, size in rows:
            first = first or started_at
            requests.setdefault(clip_id, []).append((start, end, size))
            spans.setdefault((clip_id, size), []).append((start, end))
        return Fetched(
            fully_sent={clip_id for (clip_id, size), parts in spans.items() if covers_file(parts, size)},
            plays={clip_id: count_plays(clip_requests)[0] for clip_id, clip_requests in requests.items()},
            first_started_at=first,
            count=sum(len(clip_requests) for clip_requests in requests.values()),
        )


class ClipFetch(models.Model):
    """One audio request for a clip, served to an evaluator: the bytes sent and when it began.

    One row per request, so any web process can add one and coverage of the file is read back
    from the rows (a browser may fetch a clip as several byte ranges).
    """

    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="clip_fetches")
    test_sample = models.ForeignKey(TestSample, on_delete=models.CASCADE, related_name="fetches")
    started_at = models.DateTimeField(default=timezone.now, help_text="When the server began serving it.")
    bytes_from = models.PositiveBigIntegerField(help_text="First byte sent (0 for the whole file).")
    bytes_to = models.PositiveBigIntegerField(help_text="Last byte sent, inclusive.")
    size = models.PositiveBigIntegerField(help_text="Size of the whole file at the time of the request.")
    complete = models.BooleanField(
        default=False, help_text="This request alone sent the whole file (byte 0 to the last)."
    )
    labelled_reference = models.BooleanField(
        default=False,
        db_default=False,
        help_text="MUSHRA: a request for the labelled reference (its open token); it never counts as "
        "hearing the hidden reference, which is the same copy under another token.",
    )
    counted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When an accepted answer (a rating or a practice answer) counted this request as "
        "hearing its clip. A request counts for one answer only: a clip heard in an earlier trial "
        "is fetched again.",
    )

    objects = ClipFetchQuerySet.as_manager()

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["evaluator", "test_sample", "started_at"])]

    def __str__(self) -> str:
        return f"{self.evaluator} · clip {self.test_sample_id} · bytes {self.bytes_from}-{self.bytes_to}"
