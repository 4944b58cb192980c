"""Evaluator pages (no account: the token in the URL is the key) and the clips' audio.

Evaluator pages speak the test's language, are never cached, and show nothing about a clip but
its opaque token: no system, style, sentence, run or file name.
"""

import io
from functools import wraps

from django.contrib import messages
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_safe

from annotations import ratelimits, services
from annotations.forms import (
    CheckForm,
    ConsentForm,
    OpenLinkForm,
    RatingForm,
)
from annotations.methods import get_method
from annotations.models import Assignment, Evaluator, ListeningTest, TestSample, TrialClip
from annotations.views.audio import audio_response, requested_bytes

UNAVAILABLE_STATUS = {
    "unknown": 404,
    "bad_link": 400,
    "not_started": 403,
    "closed": 410,
    "full": 410,
    "revoked": 410,
    "too_many": 429,
}
REFUSALS = {
    "not_assigned": _("This clip is not part of your session. Please reload the page."),
    "bad_score": _("Please choose one answer for every question."),
    "not_played": _("Please listen to the clip to the end before answering."),
    "not_fetched": _(
        "Your browser has not loaded the whole clip from the server yet. "
        "Please play it again to the end, then send your answer."
    ),
    "too_soon": _(
        "Please listen to the whole clip before answering: play it again to the end, then send your answer."
    ),
    "closed": _("This listening test has closed; no more answers are accepted."),
    "bad_mark": _("One of your marks could not be stored. Please remove it and mark the moment again."),
}
# The same refusals on a page of two clips (CMOS, A/B).
PAIR_REFUSALS = {
    **REFUSALS,
    "not_assigned": _("This pair is not part of your session. Please reload the page."),
    "not_played": _("Please listen to both samples to the end before answering."),
    "not_fetched": _(
        "Your browser has not loaded both samples from the server yet. "
        "Please play each of them again to the end, then send your answer."
    ),
    "too_soon": _(
        "Please listen to both samples in full before answering: play them again to the end, "
        "then send your answer."
    ),
}
DIMENSION_LABELS = {
    "overall": _("Overall quality"),
    "quality": _("Quality"),
    "clarity": _("Clarity"),
    "naturalness": _("Naturalness"),
    "expressiveness": _("Expressiveness"),
    "artifacts": _("Absence of artifacts"),
    "intelligibility": _("Intelligibility"),
}
# Long enough to read the thanks (and the code, should the platform ask for it), short enough
# that nobody closes the tab before the platform records the completion.
REDIRECT_SECONDS = 3


def _unavailable(request, code: str, language: str | None = None) -> HttpResponse:
    with translation.override(language or translation.get_language()):
        response = render(
            request, "annotations/unavailable.html", {"code": code}, status=UNAVAILABLE_STATUS[code]
        )
    add_never_cache_headers(response)
    return response


def _too_many(request, wait: int, language: str | None) -> HttpResponse:
    """429 with Retry-After: JSON for the rating pages' answer poster, else the friendly page."""
    if request.method == "POST" and _wants_json(request):
        with translation.override(language or translation.get_language()):
            message = gettext("Too many requests from this connection. Please wait a minute, then try again.")
        response = JsonResponse({"ok": False, "error": message}, status=429)
        add_never_cache_headers(response)
    else:
        response = _unavailable(request, "too_many", language)
    response["Retry-After"] = str(wait)
    return response


def limit_requests(scope: str):
    """Refuse (429) an evaluator URL's request over its token's or its address's limit in scope."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, token: str, **kwargs):
            wait = ratelimits.retry_after(request, scope=scope, participant=token)
            if wait is not None:
                tests = ListeningTest.objects.filter(evaluators__token=token)
                return _too_many(request, wait, tests.values_list("language", flat=True).first())
            return view(request, token, **kwargs)

        return wrapper

    return decorator


def evaluator_page(view):
    """Find the evaluator by the URL token; answer in the test's language; friendly pages otherwise."""

    @wraps(view)
    @limit_requests("PAGES")
    def wrapper(request, token: str, **kwargs):
        evaluator = Evaluator.objects.select_related("test__scale").filter(token=token).first()
        if evaluator is None:
            return _unavailable(request, "unknown")
        language = evaluator.test.language
        if evaluator.revoked_at:
            return _unavailable(request, "revoked", language)
        with translation.override(language):
            try:
                # A finished (or screened-out) evaluator may always come back for their code.
                if not (evaluator.finished_at or evaluator.screened_out_at):
                    services.check_open(evaluator.test)
                response = view(request, evaluator, **kwargs)
            except services.SessionUnavailable as exc:
                response = _unavailable(request, exc.code, language)
        response.headers["Content-Language"] = language
        add_never_cache_headers(response)
        return response

    return wrapper


def _to_step(evaluator: Evaluator):
    return redirect(f"annotations:{evaluator.step}", evaluator.token)


def _wants_json(request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


@require_safe
def open_link(request, token: str):
    """Crowd platforms' link: the same PROLIFIC_PID (or, without one, the same browser, where the test
    accepts visitors without a participant id) resumes."""
    # Each visit without a known participant creates an evaluator: counted before anything is read.
    participant = request.GET.get("PROLIFIC_PID", "")[:100]
    wait = ratelimits.retry_after(request, scope="OPEN_LINK", participant=participant)
    test = ListeningTest.objects.filter(open_token=token, allow_open_link=True).first()
    if wait is not None:
        return _too_many(request, wait, test and test.language)
    if test is None:
        return _unavailable(request, "unknown")
    form = OpenLinkForm(request.GET)
    if not form.is_valid():
        return _unavailable(request, "bad_link", test.language)
    data, remembered = form.cleaned_data, f"annotations-evaluator-{test.pk}"
    evaluator = None
    if not data["PROLIFIC_PID"] and test.allow_no_participant_id:
        evaluator = test.evaluators.filter(token=request.session.get(remembered, ""), external_id="").first()
    if evaluator is None:
        try:
            evaluator = services.join_test(
                test=test,
                external_id=data["PROLIFIC_PID"],
                study_id=data["STUDY_ID"],
                session_id=data["SESSION_ID"],
            )
        except services.SessionUnavailable as exc:
            return _unavailable(request, exc.code, test.language)
    request.session[remembered] = evaluator.token
    return redirect("annotations:session", evaluator.token)


@require_safe
@evaluator_page
def session(request, evaluator: Evaluator):
    """The invite link: always sends the evaluator to where the session stands."""
    return _to_step(evaluator)


@require_http_methods(["GET", "HEAD", "POST"])
@evaluator_page
def consent(request, evaluator: Evaluator):
    if evaluator.step != "consent":
        return _to_step(evaluator)
    form = ConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.give_consent(evaluator=evaluator)
        return _to_step(evaluator)
    context = {"test": evaluator.test, "evaluator": evaluator, "form": form}
    return render(request, "annotations/consent.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@evaluator_page
def check(request, evaluator: Evaluator):
    """The headphone screen (Woods et al. 2017): one page per three-tone trial, no feedback per trial."""
    if evaluator.step != "check":
        return _to_step(evaluator)
    form = CheckForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        outcome = services.answer_check(evaluator=evaluator, answer=data["answer"], position=data["trial"])
        if outcome == "passed":
            services.skip_training_if_none(evaluator=evaluator)
        if outcome == "retry":
            return redirect(reverse("annotations:check", args=[evaluator.token]) + "?again=1")
        return _to_step(evaluator)
    trial = services.current_screen_trial(evaluator=evaluator)
    if trial is None:
        return _to_step(evaluator)
    position = services.screen_position(trial)
    test = evaluator.test
    context = {
        "evaluator": evaluator,
        "again": trial.attempt > 1,
        "number": trial.number,
        "total": test.screen_trials,
        "position": position,
        "audio_url": reverse("annotations:check_audio", args=[evaluator.token]) + f"?n={position}",
    }
    return render(request, "annotations/check.html", context)


@require_safe
@evaluator_page
def check_audio(request, evaluator: Evaluator):
    # Counted as a page: the check's tones are fetched once per trial, never in a burst.
    data = services.listening_check_wav(evaluator=evaluator) if evaluator.step == "check" else None
    if data is None:
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    return audio_response(request, io.BytesIO(data), len(data))


@require_safe
@evaluator_page
def screened_out(request, evaluator: Evaluator):
    """The polite end of a failed headphone screen: the platform's screen-out code or route, never
    the completion code."""
    if evaluator.step != "screened_out":
        return _to_step(evaluator)
    test = evaluator.test
    context = {
        "code": test.shown_screen_out_code,
        "screen_out_url": test.screen_out_url,
        "redirect_seconds": REDIRECT_SECONDS,
    }
    return render(request, "annotations/screened_out.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@evaluator_page
def training(request, evaluator: Evaluator):
    """Practice clips: the real page and buttons, answers checked but not stored as ratings."""
    if request.method == "POST" and evaluator.step in ("training", "rate"):
        return _answer(request, evaluator, training=True)
    if evaluator.step != "training":
        return _to_step(evaluator)
    trials = services.training_trials(evaluator=evaluator)
    if not trials:
        services.skip_training_if_none(evaluator=evaluator)
        return _to_step(evaluator)
    index = min(evaluator.training_done, len(trials) - 1)
    clips = [TrialClip(test_sample=clip) for clip in trials[index]]
    return _rating_page(request, evaluator, clips, training=True, number=index + 1, total=len(trials))


@require_http_methods(["GET", "HEAD", "POST"])
@evaluator_page
def rate(request, evaluator: Evaluator):
    """One clip per page; the answer is saved at once and the next unrated clip follows."""
    if request.method == "POST" and evaluator.step in ("rate", "finish"):
        return _answer(request, evaluator, training=False)
    if evaluator.step != "rate":
        return _to_step(evaluator)
    assignment, done, total = services.current_clip(evaluator=evaluator)
    if assignment is None:
        services.finish_if_done(evaluator=evaluator)
        return _to_step(evaluator)
    return _rating_page(
        request, evaluator, assignment.presented_clips(), training=False, number=done + 1, total=total
    )


def _answer(request, evaluator: Evaluator, *, training: bool):
    test = evaluator.test
    method = get_method(test.method)
    form = RatingForm(request.POST, dimensions=method.questions(test), answer_kind=method.answer_kind)
    try:
        if not form.is_valid():
            raise services.RatingRefused("bad_score", form.errors.as_text())
        answer = {
            "evaluator": evaluator,
            "sample_token": form.cleaned_data["clip"],
            "clip_tokens": form.cleaned_data["clips"],
            "scores": form.scores(),
            "played_to_end": form.cleaned_data["played_to_end"],
        }
        try:
            marks = form.marks()
        except ValueError as exc:
            raise services.RatingRefused("bad_mark", str(exc)) from None
        if training:
            services.answer_training(**answer)
        else:
            services.submit_rating(
                **answer,
                play_count=form.cleaned_data["play_count"] or 0,
                time_to_answer_ms=form.cleaned_data["time_to_answer_ms"],
                marks=marks,
            )
    except services.RatingRefused as exc:
        return _refused(request, evaluator, exc.code)
    next_url = reverse(f"annotations:{evaluator.step}", args=[evaluator.token])
    if _wants_json(request):
        return JsonResponse({"ok": True, "next": next_url})
    return redirect(next_url)


def _refused(request, evaluator: Evaluator, code: str):
    method = get_method(evaluator.test.method)
    refusals = {**(PAIR_REFUSALS if method.clips_per_trial == 2 else REFUSALS), **method.refusals}
    if _wants_json(request):
        # listen_again: the page reloads its audio, so the next play is a fresh fetch the server counts.
        listen_again = code in ("not_played", "not_fetched", "too_soon")
        return JsonResponse({"ok": False, "error": refusals[code], "listen_again": listen_again}, status=400)
    # Without JavaScript (or when fetch failed) the page comes back with the message on it.
    messages.error(request, str(refusals[code]))
    return redirect(f"annotations:{evaluator.step}", evaluator.token)


def _rating_page(
    request, evaluator: Evaluator, clips: list[TrialClip], *, training: bool, number: int, total: int
):
    """The method's page for one trial: its clips in this evaluator's order, questions and scale.

    label is the clip's place on the page ("A" is played first, then "B"), number the same from 1
    ("Sample 1"); a page shows them and never the role, which would tell which condition is which.
    Where the method limits plays, each clip says how many are left and whether it was heard whole
    already; where a clip is a reference with an open token, reference_url plays it labelled.
    """
    test = evaluator.test
    method = get_method(test.method)
    max_plays = test.max_plays if method.max_plays else 0
    shown = [_shown_clip(evaluator, clip, index, max_plays) for index, clip in enumerate(clips)]
    reference = next((clip.test_sample for clip in clips if clip.test_sample.open_token), None)
    questions = [
        {
            "name": dimension,
            "label": test.scale.title
            if index == 0
            else DIMENSION_LABELS.get(dimension, dimension.capitalize()),
        }
        for index, dimension in enumerate(method.questions(test))
    ]
    context = {
        "evaluator": evaluator,
        "training": training,
        "clips": shown,
        "clip_token": shown[0]["token"],
        "audio_url": shown[0]["audio_url"],
        "post_url": reverse(
            "annotations:training" if training else "annotations:rate", args=[evaluator.token]
        ),
        "questions": questions,
        "choices": method.choices(test),
        "scale": test.scale,
        "number": number,
        "total": total,
        "max_plays": max_plays,
        "reference_url": _clip_url(evaluator, reference.open_token) if reference else "",
        "bands": _bands(test.scale.choices()),
        # Marking is offered on one-clip pages; practice pages have it too, so the button is familiar.
        "artifact_labels": test.artifact_labels if method.clips_per_trial == 1 else [],
    }
    return render(request, method.template, context)


def _bands(choices: list[tuple[int, str]]) -> list[dict]:
    """Runs of scores with one label, lowest first: a 0-100 scale's five BS.1534 bands for a slider."""
    bands: list[dict] = []
    for value, label in choices:
        if bands and bands[-1]["label"] == label:
            bands[-1]["high"] = value
        else:
            bands.append({"label": label, "low": value, "high": value})
    return bands


def _shown_clip(evaluator: Evaluator, clip: TrialClip, index: int, max_plays: int) -> dict:
    shown = {
        "token": clip.test_sample.token,
        "role": clip.role,
        "label": chr(ord("A") + index),
        "number": index + 1,
        "audio_url": _clip_url(evaluator, clip.test_sample.token),
    }
    if max_plays:
        shown.update(
            services.play_state(evaluator=evaluator, test_sample=clip.test_sample, max_plays=max_plays)
        )
    return shown


def _clip_url(evaluator: Evaluator, clip_token: str) -> str:
    return reverse("annotations:clip_audio", args=[evaluator.token, clip_token])


@require_safe
@evaluator_page
def finish(request, evaluator: Evaluator):
    """Thank the evaluator, show the code the platform expects and send them to its completion URL."""
    if evaluator.step != "finish":
        return _to_step(evaluator)
    test = evaluator.test
    context = {
        "code": test.shown_completion_code,
        "completion_url": test.completion_url,
        "redirect_seconds": REDIRECT_SECONDS,
    }
    return render(request, "annotations/finish.html", context)


@require_safe
@limit_requests("AUDIO")
def clip_audio(request, token: str, clip: str):
    """A clip's loudness-matched copy, only for an evaluator whose session holds it; each GET is noted.

    Served no-store, and the pages ask for each replay at a new address (a `play` parameter holding
    only a time, ignored here; Chromium would replay its own copy), so every play is a request the
    server sees: answers are accepted only after the whole clip was sent for them and there was time
    to hear it (services.verify_listening). A MUSHRA reference is served under its own token (hidden
    among the samples) and its open token (the labelled reference). Where the test limits plays, a
    request beyond the last play, or beyond that many times the file's bytes, is refused (403). A
    revoked link or a test that takes no answers now gets the evaluator pages' status and page.
    """
    started_at = timezone.now()
    evaluator = Evaluator.objects.select_related("test").filter(token=token).first()
    if evaluator is None:
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    test = evaluator.test
    closed = _closed_code(evaluator)
    if closed:
        return _unavailable(request, closed, test.language)
    in_session = Assignment.objects.filter(
        evaluator=evaluator, trial__trial_clips__test_sample=OuterRef("pk")
    )
    test_sample = (
        TestSample.objects.filter(Q(token=clip) | Q(open_token=clip), test_id=test.pk)
        .annotate(in_session=Exists(in_session))
        .first()
    )
    if not test_sample or not _may_hear(evaluator, test_sample):
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    playback = test_sample.playback_audio
    size = playback.size
    sent = requested_bytes(request, size)
    if request.method == "GET" and sent is not None:
        try:
            services.record_fetch(
                evaluator=evaluator,
                test_sample=test_sample,
                started_at=started_at,
                bytes_from=sent[0],
                bytes_to=sent[1],
                size=size,
                labelled_reference=clip == test_sample.open_token,
                max_plays=test.max_plays if get_method(test.method).max_plays else 0,
            )
        except services.PlayLimitReached:
            with translation.override(test.language):
                message = gettext("You have played this clip as often as the test allows.")
            response = HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")
            add_never_cache_headers(response)
            return response
    # Sent from the file (sendfile under gunicorn): a 30-second clip is never held in memory.
    response = audio_response(request, playback.storage.open(playback.name, "rb"), size)
    add_never_cache_headers(response)  # Cache-Control: no-store among others
    return response


def _closed_code(evaluator: Evaluator) -> str:
    """Why the evaluator's clips are not served now, as the evaluator pages say it; "" if they are.

    Unlike the pages, which a finished evaluator may always reach for their code, no clip plays once
    the test has closed.
    """
    if evaluator.revoked_at:
        return "revoked"
    try:
        services.check_open(evaluator.test)
    except services.SessionUnavailable as exc:
        return exc.code
    return ""


def _may_hear(evaluator: Evaluator, test_sample: TestSample) -> bool:
    """A clip of the evaluator's session (test_sample.in_session, read with it) or of their practice."""
    if evaluator.screened_out_at:
        return False
    return test_sample.in_session or test_sample in services.training_clips(evaluator=evaluator)
