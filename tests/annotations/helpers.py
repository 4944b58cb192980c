"""An evaluator walking a listening session: over HTTP as the pages' scripts would, or by the services."""

from datetime import timedelta

from django.db.models import F
from django.test import Client
from django.urls import reverse

from annotations import services
from annotations.methods import get_method
from annotations.models import ClipFetch, Evaluator
from synthesis.models import Sample
from tests.factories import hear_all


def session_url(evaluator: Evaluator, step: str = "session") -> str:
    return reverse(f"annotations:{step}", args=[evaluator.token])


def listen(client: Client, evaluator: Evaluator, page) -> None:
    """Fetch every clip of a rating page over HTTP, as its audio element does, and let the clips' time pass.

    The time passes by moving the fetches back rather than by sleeping; test_verified_listening waits.
    """
    tokens = [clip["token"] for clip in page.context["clips"]]
    for clip in page.context["clips"]:
        client.get(clip["audio_url"])
    durations = Sample.objects.filter(test_samples__token__in=tokens).values_list("duration_s", flat=True)
    # Every clip in turn: enough for a pair page, which needs both clips' time.
    ClipFetch.objects.filter(evaluator=evaluator, test_sample__token__in=tokens).update(
        started_at=F("started_at") - timedelta(seconds=sum(durations))
    )


def answer_for(
    client: Client, evaluator: Evaluator, url: str, score: int = 4, text: str = "the words I heard", **extra
) -> dict:
    """The POST data the page's script would send for the clip the page shows, once it was heard:
    score for each question (for each clip on a MUSHRA page), or text on a page where answers are typed."""
    page = client.get(url)
    listen(client, evaluator, page)
    clips = [clip["token"] for clip in page.context["clips"]]
    data = {
        "clip": page.context["clip_token"],
        "clips": clips,
        "played_to_end": "true",
        "play_count": 1,
        "time_to_answer_ms": 900,
    }
    kind = get_method(evaluator.test.method).answer_kind
    for question in page.context["questions"]:
        if kind == "text":
            data[f"text-{question['name']}"] = text
        else:
            data[f"score-{question['name']}"] = [score] * len(clips) if kind == "per_clip" else score
    data.update(extra)
    return data


def screen_answer(evaluator: Evaluator, *, right: bool = True) -> int:
    """The tone to pick on the current screen trial: the quiet one, or the loudspeaker decoy."""
    trial = services.current_screen_trial(evaluator=evaluator)
    return trial.quiet_position if right else trial.antiphase_position


def take_screen(client: Client, evaluator: Evaluator, *, wrong: int = 0):
    """Answer every trial of the current screen attempt over HTTP, the first `wrong` of them wrongly."""
    response, number = None, 0
    evaluator.refresh_from_db()
    while evaluator.step == "check" and services.current_screen_trial(evaluator=evaluator):
        trial = services.current_screen_trial(evaluator=evaluator)
        data = {
            "answer": screen_answer(evaluator, right=number >= wrong),
            "trial": services.screen_position(trial),
        }
        last = trial.number == evaluator.test.screen_trials
        # Only the attempt's end is followed: the check page's audio URL is gone once answered.
        response = client.post(session_url(evaluator, "check"), data, follow=last)
        number += 1
        evaluator.refresh_from_db()
        if last:
            break  # the attempt is over: passed, failed, or a retry dealt
    return response


def pass_screen(evaluator: Evaluator) -> None:
    """Answer every screen trial right through the service, without HTTP."""
    while (answer := services.current_screen_trial(evaluator=evaluator)) and not evaluator.checked_at:
        services.answer_check(evaluator=evaluator, answer=answer.quiet_position)


def walk_to_rating(client: Client, evaluator: Evaluator, score: int = 4) -> None:
    """Consent, pass the sound check and answer the practice clips (with score), as a browser would."""
    client.post(session_url(evaluator, "consent"), {"agree": "1"})
    evaluator.refresh_from_db()
    take_screen(client, evaluator)
    evaluator.refresh_from_db()
    while evaluator.step == "training":
        url = session_url(evaluator, "training")
        client.post(url, answer_for(client, evaluator, url, score=score))
        evaluator.refresh_from_db()


def rate_everything(client: Client, evaluator: Evaluator, score: int = 4) -> None:
    url = session_url(evaluator, "rate")
    evaluator.refresh_from_db()
    while evaluator.step == "rate":
        client.post(url, answer_for(client, evaluator, url, score=score))
        evaluator.refresh_from_db()


def answer_pair(evaluator: Evaluator, score: int, **fields) -> list:
    """Hear the evaluator's current pair and answer it through the service."""
    assignment = services.current_clip(evaluator=evaluator)[0]
    clips = [clip.test_sample for clip in assignment.presented_clips()]
    hear_all(evaluator, clips)
    dimension = evaluator.test.rated_dimensions[0]
    answer = {"played_to_end": True, "play_count": 1, "time_to_answer_ms": 700, **fields}
    return services.submit_rating(
        evaluator=evaluator,
        sample_token=clips[0].token,
        clip_tokens=[clip.token for clip in clips],
        scores={dimension: score},
        **answer,
    )
