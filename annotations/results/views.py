"""Researchers' results pages: live dashboards per test and per run, and the exports.

Dashboards render once in full, then static/js/dashboard.js polls the live feed, which answers
"unchanged" from one cheap version query or re-renders the sections that depend on the ratings.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from annotations.methods import get_method
from annotations.models import ListeningTest, Rating
from annotations.results import charts, claims, exports, runs, services
from annotations.results.services import Thresholds
from annotations.roles import EXPORT_PERMISSION, VIEW_RESULTS, VIEW_RUNS
from synthesis.engines import textnorm
from synthesis.models import Sample, SynthesisRun

RUN_SECTIONS = ("wer", "latency", "dnsmos")


class ScreeningForm(forms.Form):
    min_variance = forms.FloatField(
        required=False,
        min_value=0,
        label="Straight-lining: minimum variance",
        help_text="Empty turns the rule off.",
    )
    min_correlation = forms.FloatField(
        required=False,
        min_value=-1,
        max_value=1,
        label="Minimum correlation with the other raters",
        help_text="Empty turns the rule off.",
    )
    gold_tolerance = forms.FloatField(
        required=False, min_value=0, label="Gold clips: largest accepted difference", help_text="Default 1."
    )
    # The timing rules read the server's timings of each answer; ratings imported without them are
    # noted on the raters table and never judged on timing. Each needs 5 timed answers.
    answer_margin_s = forms.FloatField(
        required=False,
        min_value=0,
        label="Answers at the minimum: margin (s)",
        help_text="An answer counts as at the minimum when it arrives within this many seconds of the least "
        "time the server allows (the trial's listening time from the first audio fetch). Default 0.5: a "
        "person needs one to several seconds after a clip ends to choose and click; a script that fetches "
        "and waits answers within milliseconds. Empty turns the rule off.",
    )
    at_minimum_share = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label="Answers at the minimum: share",
        help_text="Flag a rater when at least this share of their answers is at the minimum. Default 0.8 "
        "(most answers): anyone may answer an obvious clip at once, nobody does it four times in five.",
    )
    min_clips_without_replay = forms.IntegerField(
        required=False,
        min_value=1,
        label="Never replayed: over at least (clips)",
        help_text="Flag a rater who replayed no clip (the server sent each clip once, counting plays from "
        "its audio requests, never from what the page reports) over at least this many clips. Default 40: "
        "replays are optional, so this is the weakest rule; a rater who replays one clip in ten goes 40 "
        "clips without one 1.5 % of the time (0.9^40). Empty turns it off.",
    )
    session_margin = forms.FloatField(
        required=False,
        min_value=0,
        label="Session about the audio length: margin",
        help_text="Flag a session whose time from the first fetch to the last answer is at most the total "
        "audio length × (1 + this). Default 0.1: a person adds a reaction and a page load to every clip, "
        "20 % or more of clips of 3 to 10 s; lower it for much longer clips. Empty turns it off.",
    )


# Fields whose empty value means the default rather than "rule off".
DEFAULT_WHEN_EMPTY = ("gold_tolerance", "at_minimum_share")


def _thresholds(request) -> tuple[Thresholds, ScreeningForm]:
    """Screening thresholds from the query string; the defaults when none are given or they are invalid.

    A field missing from the query (a link made before the field existed) keeps its default.
    """
    defaults = Thresholds()
    if not set(ScreeningForm.base_fields) & set(request.GET):
        return defaults, ScreeningForm(initial=defaults.as_dict())
    form = ScreeningForm(request.GET)
    if not form.is_valid():
        return defaults, form
    values = {
        name: getattr(defaults, name)
        if name not in request.GET or (name in DEFAULT_WHEN_EMPTY and value is None)
        else value
        for name, value in form.cleaned_data.items()
    }
    return Thresholds(**values), form


def _get_test(pk: int) -> ListeningTest:
    return get_object_or_404(ListeningTest.objects.select_related("scale"), pk=pk)


def _attachment(response: HttpResponse, test: ListeningTest, what: str) -> HttpResponse:
    """Download the response as '<test name, slugified>-<what>', e.g. demo-simulated-summary.json."""
    response["Content-Disposition"] = f'attachment; filename="{slugify(test.name)}-{what}"'
    return response


def _test_context(data: dict) -> dict:
    """What the dashboard's sections read; data["sections"] names them for the test's method."""
    return {
        "r": data,
        "test": data["test"],
        "charts": charts.test_charts(data, get_method(data["method"]).charts),
        "sections": data["sections"],
    }


def _form_for(test: ListeningTest, form: ScreeningForm) -> ScreeningForm:
    """The screening form without the settings the test's method does not use."""
    for name in services.unused_thresholds(test):
        form.fields.pop(name, None)
    return form


@login_required
@permission_required(VIEW_RESULTS, raise_exception=True)
def index(request):
    # The same counts as the test list (/t/manage/) and each dashboard's progress: answers to test
    # pages against the target (ListeningTest.objects.with_progress).
    tests = ListeningTest.objects.with_progress()
    runs = SynthesisRun.objects.select_related("config").order_by("-created_at")[:50]
    return render(request, "results/index.html", {"tests": tests, "runs": runs})


@login_required
@permission_required(VIEW_RESULTS, raise_exception=True)
def test_dashboard(request, pk: int):
    test = _get_test(pk)
    thresholds, form = _thresholds(request)
    context = _test_context(services.test_results(test, thresholds))
    context.update(form=_form_for(test, form), version=services.results_version(test))
    context["query"] = request.GET.urlencode()
    return render(request, "results/test_dashboard.html", context)


@login_required
@permission_required(VIEW_RESULTS, raise_exception=True)
def test_live(request, pk: int):
    """JSON for dashboard.js: {"changed": false} or the re-rendered sections."""
    test = _get_test(pk)
    version = services.results_version(test)
    if request.GET.get("version") == version:
        return JsonResponse({"version": version, "changed": False})
    thresholds, _ = _thresholds(request)
    context = _test_context(services.test_results(test, thresholds))
    context["query"] = request.GET.urlencode()
    sections = {
        name: render_to_string(f"results/_{name}.html", context, request=request)
        for name in context["sections"]
    }
    return JsonResponse({"version": version, "changed": True, "sections": sections})


@require_POST
@login_required
@permission_required(VIEW_RESULTS, raise_exception=True)
def test_analyse(request, pk: int):
    test = _get_test(pk)
    thresholds, _ = _thresholds(request)
    if services.queue_analysis(test=test, thresholds=thresholds):
        messages.success(request, "Background analysis queued; this page shows it when it is done.")
    else:
        messages.info(request, "A background analysis of this test is already queued.")
    query = request.GET.urlencode()
    return redirect(reverse("results:test", args=[pk]) + (f"?{query}" if query else ""))


@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def test_ratings_csv(request, pk: int):
    return exports.ratings_response(_get_test(pk), _thresholds(request)[0])


@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def test_summary_csv(request, pk: int):
    test = _get_test(pk)
    data = services.test_results(test, _thresholds(request)[0])
    response = HttpResponse(exports.summary_csv(data), content_type="text/csv; charset=utf-8")
    return _attachment(response, test, "summary.csv")


@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def test_summary_json(request, pk: int):
    test = _get_test(pk)
    data = services.test_results(test, _thresholds(request)[0])
    response = JsonResponse(exports.summary_json(data), json_dumps_params={"indent": 2})
    return _attachment(response, test, "summary.json")


@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def test_measurements_csv(request, pk: int):
    test = _get_test(pk)
    samples = Sample.objects.filter(test_samples__test=test, test_samples__kind="test")
    ids = list(samples.values_list("id", flat=True))
    # This test's own per-clip score only: a clip's score in another test is in that test's export.
    human = services.human_scores(ids, tests=ListeningTest.objects.filter(pk=test.pk))
    return exports.measurements_response(samples, human, f"{slugify(test.name)}-measurements.csv")


@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def test_marks_csv(request, pk: int):
    return exports.marks_response(_get_test(pk))


@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def test_report(request, pk: int):
    test = _get_test(pk)
    html = exports.render_report(services.test_results(test, _thresholds(request)[0]))
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    return _attachment(response, test, "report.html")


# --- runs --------------------------------------------------------------------------------------


def _get_run(pk: int) -> SynthesisRun:
    return get_object_or_404(SynthesisRun.objects.select_related("config"), pk=pk)


def _run_context(request, run: SynthesisRun) -> dict:
    method = request.GET.get("norm")
    data = runs.run_results(run, method=method if method in textnorm.METHODS else None)
    return {"d": data, "run": run, "charts": charts.run_charts(data), "methods": textnorm.METHODS}


def _run_version(run: SynthesisRun) -> str:
    votes = Rating.objects.filter(sample__run=run).order_by().count()
    return f"{run.status}.{run.done_count}.{run.failed_count}.{votes}"


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def run_dashboard(request, pk: int):
    run = _get_run(pk)
    context = _run_context(request, run)
    context.update(version=_run_version(run), sections=RUN_SECTIONS)
    return render(request, "results/run_dashboard.html", context)


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def run_live(request, pk: int):
    run = _get_run(pk)
    version = _run_version(run)
    if request.GET.get("version") == version:
        return JsonResponse({"version": version, "changed": False})
    context = _run_context(request, run)
    sections = {
        name: render_to_string(f"results/_run_{name}.html", context, request=request) for name in RUN_SECTIONS
    }
    return JsonResponse({"version": version, "changed": True, "sections": sections})


@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def run_measurements_csv(request, pk: int):
    run = _get_run(pk)
    samples = run.samples.all()
    human = services.human_scores(list(samples.values_list("id", flat=True)))
    return exports.measurements_response(samples, human, f"run-{run.pk}-measurements.csv")


# --- the design's claims -----------------------------------------------------------------------


def _claims_context() -> dict:
    rows = claims.claim_rows()
    return {"rows": rows, "spanish_voice": claims.SPANISH_VOICE_NOTE, "tolerance": claims.APPROX_TOLERANCE}


@login_required
@permission_required(VIEW_RESULTS, raise_exception=True)
def claims_page(request):
    """Every claim of the design next to the latest measurement and a verdict."""
    return render(request, "results/claims.html", _claims_context())


@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def claims_json(request):
    response = JsonResponse(claims.claims_json(claims.claim_rows()), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="claims.json"'
    return response


@login_required
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def claims_report(request):
    """The claims table as one self-contained HTML file."""
    html = render_to_string("results/claims_report.html", _claims_context(), request=request)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="claims-report.html"'
    return response
