"""What the server saw of an evaluator's listening: audio requests, plays, and whether an answer was heard."""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from annotations.methods import Method
from annotations.models import ClipFetch, Evaluator, TestSample, within_play_limit
from annotations.services.errors import PlayLimitReached, RatingRefused


def record_fetch(
    *,
    evaluator: Evaluator,
    test_sample: TestSample,
    started_at: datetime,
    bytes_from: int,
    bytes_to: int,
    size: int,
    labelled_reference: bool = False,
    max_plays: int = 0,
) -> ClipFetch:
    """Note one audio request the server answers: which bytes of the clip it sends, and when it began.

    With max_plays above 0, a request that would begin one play more of the clip than that, or send
    more than max_plays times the file in all (models.within_play_limit), is refused
    (PlayLimitReached) and not noted. labelled_reference marks a request for a MUSHRA reference by
    its open token, which counts for nothing.
    """
    fetch = ClipFetch(
        evaluator=evaluator,
        test_sample=test_sample,
        started_at=started_at,
        bytes_from=bytes_from,
        bytes_to=bytes_to,
        size=size,
        complete=bytes_from == 0 and bytes_to >= size - 1,
        labelled_reference=labelled_reference,
    )
    if not max_plays or labelled_reference:
        fetch.save()  # one INSERT, no transaction: a page's clips are fetched all at once
        return fetch
    with transaction.atomic():
        # Lock the evaluator's row so that two requests at once cannot both take the last play.
        Evaluator.objects.select_for_update().filter(pk=evaluator.pk).exists()
        requests = _fetches_of(evaluator, test_sample).requests() + [(bytes_from, bytes_to, size)]
        if not within_play_limit(requests, max_plays):
            raise PlayLimitReached(f"clip {test_sample.pk}: {max_plays} plays allowed, all sent")
        fetch.save()
    return fetch


def _fetches_of(evaluator: Evaluator, test_sample: TestSample) -> QuerySet:
    return ClipFetch.objects.filter(evaluator=evaluator, test_sample=test_sample, labelled_reference=False)


def play_state(*, evaluator: Evaluator, test_sample: TestSample, max_plays: int) -> dict:
    """What the page shows of a clip with limited plays: plays_left and whether it was heard whole
    (sent whole at least once, so a page reloaded after the last play still takes an answer)."""
    plays, complete = _fetches_of(evaluator, test_sample).plays()
    heard = plays > 1 or complete
    return {"plays_left": max(max_plays - plays, 0) if max_plays else None, "heard": heard}


def verify_listening(
    *, evaluator: Evaluator, method: Method, clips: list[TestSample], received_at: datetime
) -> dict:
    """The server's timings of an answer, if this evaluator could have heard every clip; else RatingRefused.

    Every clip must have been sent whole (in one request or in ranges) by requests no earlier
    answer counted, and the method's listening time for the clips' durations must have passed
    since the first of those requests began. The timings describe those requests, and
    server_play_count is the most plays (models.count_plays) they sent of any one clip. The clips
    come with their samples (their durations) loaded; the fetches are read in one query.
    """
    clip_ids = [clip.pk for clip in clips]
    fetched = _uncounted_fetches(evaluator, clip_ids, received_at).fetched()
    missing = set(clip_ids) - fetched.fully_sent
    if missing:
        raise RatingRefused("not_fetched", f"clips {sorted(missing)} were not fetched whole for this answer")
    durations = [clip.sample.duration_s for clip in clips]
    needed = method.listening_time(durations) - settings.SARAI_LISTEN_TOLERANCE_S
    waited = (received_at - fetched.first_started_at).total_seconds()
    if waited < needed:
        raise RatingRefused(
            "too_soon", f"answered {waited:.3f} s after the first fetch, {needed:.3f} s needed"
        )
    return {
        "first_fetch_at": fetched.first_started_at,
        "fetch_count": fetched.count,
        "server_play_count": max(fetched.plays.values()),
        "received_at": received_at,
    }


def _uncounted_fetches(evaluator: Evaluator, clip_ids: list[int], received_at: datetime) -> QuerySet:
    # A clip can be in several trials of a session (a pair method's clip in several pairs, an A/B
    # repeat): a fetch an earlier answer counted says nothing of hearing it for this one. A labelled
    # MUSHRA reference is the hidden one's copy, but hearing it is not hearing the page's sample.
    return ClipFetch.objects.filter(
        evaluator=evaluator,
        test_sample__in=clip_ids,
        started_at__lte=received_at,
        labelled_reference=False,
        counted_at__isnull=True,
    )


def _count_fetches(evaluator: Evaluator, clips: list[TestSample], received_at: datetime) -> None:
    """Spend the fetches an accepted answer was verified on, so that no later trial counts them."""
    _uncounted_fetches(evaluator, [clip.pk for clip in clips], received_at).update(counted_at=received_at)
