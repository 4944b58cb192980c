"""Researchers' results pages: live dashboards per test and per run, and the exports.

Dashboards render once in full, then static/js/dashboard.js polls the live feed, which answers
"unchanged" from one cheap version query or re-renders the sections that depend on the ratings.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from annotations.models import ListeningTest, Rating
from annotations.results import charts, exports, run_analysis, services
from annotations.results.services import Thresholds
from annotations.roles import EXPORT_PERMISSION, VIEW_RESULTS, VIEW_RUNS
from synthesis.engines import textnorm
from synthesis.models import Sample, SynthesisRun

TEST_SECTIONS = (
    "progress",
    "mos",
    "dimensions",
    "distribution",
    "comparisons",
    "raters",
    "agreement",
    "background",
)
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


def _thresholds(request) -> tuple[Thresholds, ScreeningForm]:
    """Screening thresholds from the query string; the defaults when none are given or they are invalid."""
    if not set(ScreeningForm.base_fields) & set(request.GET):
        return Thresholds(), ScreeningForm(initial=Thresholds().as_dict())
    form = ScreeningForm(request.GET)
    if not form.is_valid():
        return Thresholds(), form
    data = form.cleaned_data
    tolerance = data["gold_tolerance"] if data["gold_tolerance"] is not None else 1.0
    return Thresholds(data["min_variance"], data["min_correlation"], tolerance), form


def _get_test(pk: int) -> ListeningTest:
    return get_object_or_404(ListeningTest.objects.select_related("scale"), pk=pk)


def _attachment(response: HttpResponse, test: ListeningTest, what: str) -> HttpResponse:
    """Download the response as '<test name, slugified>-<what>', e.g. demo-simulated-summary.json."""
    response["Content-Disposition"] = f'attachment; filename="{slugify(test.name)}-{what}"'
    return response


def _test_context(data: dict) -> dict:
    return {"r": data, "test": data["test"], "charts": charts.test_charts(data)}


@login_required
@permission_required(VIEW_RESULTS, raise_exception=True)
def index(request):
    ratings = (
        Rating.objects.filter(evaluator__test=OuterRef("pk"))
        .order_by()
        .values("evaluator__test")
        .annotate(n=Count("id"))
        .values("n")
    )
    tests = ListeningTest.objects.annotate(
        n_ratings=Coalesce(Subquery(ratings), 0), n_evaluators=Count("evaluators")
    )
    runs = SynthesisRun.objects.select_related("config").order_by("-created_at")[:50]
    return render(request, "results/index.html", {"tests": tests, "runs": runs})


@login_required
@permission_required(VIEW_RESULTS, raise_exception=True)
def test_dashboard(request, pk: int):
    test = _get_test(pk)
    thresholds, form = _thresholds(request)
    context = _test_context(services.test_results(test, thresholds))
    context.update(form=form, version=services.results_version(test), sections=TEST_SECTIONS)
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
        name: render_to_string(f"results/_{name}.html", context, request=request) for name in TEST_SECTIONS
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
    return exports.measurements_response(samples, f"{slugify(test.name)}-measurements.csv")


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
    data = run_analysis.run_results(run, method=method if method in textnorm.METHODS else None)
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
    return exports.measurements_response(run.samples.all(), f"run-{run.pk}-measurements.csv")
