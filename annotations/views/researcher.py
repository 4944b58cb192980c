"""The researchers' test pages under /t/manage/: the list of tests, creating a test, a test's page
with its links and evaluators, and importing samples made elsewhere."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from annotations import importing, services
from annotations.forms import (
    CreateTestForm,
    InviteForm,
    SampleImportForm,
)
from annotations.methods import get_method
from annotations.models import Evaluator, ListeningTest

ADD_TEST = "annotations.add_listeningtest"
PROLIFIC_PARAMETERS = "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
VIEW_TESTS = "annotations.view_listeningtest"
CHANGE_EVALUATOR = "annotations.change_evaluator"
# The import message names this many clips; the create-test page it leads to lists them all.
IMPORT_REPORT_LIMIT = 20


@login_required
@permission_required(VIEW_TESTS, raise_exception=True)
def test_list(request):
    """Every test with its status, progress and links; the counts come from one query."""
    tests = ListeningTest.objects.with_progress().select_related("scale")
    rows = [{"test": test, "open_link": _open_link(request, test)} for test in tests]
    return render(request, "annotations/test_list.html", {"rows": rows})


@login_required
@permission_required(ADD_TEST, raise_exception=True)
def test_new(request):
    """The create-test form; "Show clips" lists the clips of the chosen runs and systems to pick roles."""
    # No scale chosen: the method's default for the language (acr-en for an English ACR test).
    initial = {"runs": request.GET.getlist("run"), "systems": request.GET.getlist("system")}
    form = CreateTestForm(request.POST or None, initial=initial)
    if request.method == "POST" and "show_clips" in request.POST:
        # A fresh unbound form: the clip list changes, and nothing was submitted to be refused yet.
        form = CreateTestForm(initial=form.entered_values())
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            test = services.create_test(
                name=data["name"],
                samples=data["samples"],
                scale=data["scale"],
                method=data["method"],
                dimensions=data["dimensions"],
                ratings_per_sample=data["ratings_per_sample"],
                samples_per_session=data["samples_per_session"],
                gold=data["gold_samples"],
                traps=data["trap_samples"],
                training=data["training_samples"],
                **{key: data[key] for key in services.TEST_OPTIONS},
            )
        except services.TestCreationError as exc:
            form.add_error(None, str(exc))
        else:
            clips = test.test_samples.count()
            messages.success(request, f"Created {test.name} with {clips} clip{pluralize(clips)}.")
            return redirect("annotations:test_detail", test.pk)
    return render(request, "annotations/test_new.html", {"form": form})


def _open_link(request, test: ListeningTest) -> str:
    """The open link to paste into a crowd platform, with Prolific's placeholders; "" when it is off."""
    if not test.allow_open_link:
        return ""
    return request.build_absolute_uri(reverse("annotations:open_link", args=[test.open_token])) + (
        PROLIFIC_PARAMETERS
    )


@login_required
@permission_required(VIEW_TESTS, raise_exception=True)
def test_detail(request, pk: int):
    test = get_object_or_404(ListeningTest.objects.select_related("scale"), pk=pk)
    main = test.rated_dimensions[0]
    # Trials answered (a MUSHRA answer stores a rating per sample), and imported ratings one each.
    answered = Q(ratings__dimension=main, ratings__trial__isnull=False)
    imported = Q(ratings__dimension=main, ratings__trial__isnull=True)
    evaluators = (
        test.evaluators.annotate(
            n_assigned=Count("assignments", distinct=True),
            n_answered=Count("ratings__trial", filter=answered, distinct=True),
            n_imported=Count("ratings", filter=imported, distinct=True),
        )
        .select_related("revoked_by")
        .order_by("created_at")
    )
    kinds = dict(test.test_samples.values_list("kind").annotate(n=Count("id")))
    context = {
        "test": test,
        "method": get_method(test.method),
        "evaluators": evaluators,
        "kinds": kinds,
        "open_link": _open_link(request, test),
        "invite_base": request.build_absolute_uri("/")[:-1],
        "invite_form": InviteForm(),
    }
    return render(request, "annotations/test_detail.html", context)


@require_POST
@login_required
@permission_required(ADD_TEST, raise_exception=True)
def test_invite(request, pk: int):
    test = get_object_or_404(ListeningTest, pk=pk)
    form = InviteForm(request.POST)
    if form.is_valid():
        created = services.invite_evaluators(test=test, count=form.cleaned_data["count"])
        messages.success(request, f"Created {len(created)} invite link{pluralize(len(created))}.")
    else:
        messages.error(request, "Give a number of invite links between 1 and 500.")
    return redirect("annotations:test_detail", test.pk)


@require_http_methods(["GET", "POST"])
@login_required
@permission_required((VIEW_TESTS, CHANGE_EVALUATOR), raise_exception=True)
def evaluator_revoke(request, pk: int, evaluator_pk: int):
    """Close one invite link for good (a leaked or misused token); the ratings it gave stay.

    Asks first (this page, or the test page's JavaScript confirm), then revokes on a confirmed POST.
    """
    evaluator = get_object_or_404(Evaluator.objects.select_related("test"), pk=evaluator_pk, test_id=pk)
    if request.method == "GET" or request.POST.get("confirm") != "yes":
        ratings = evaluator.ratings.count()
        context = {"evaluator": evaluator, "test": evaluator.test, "ratings": ratings}
        return render(request, "annotations/evaluator_revoke.html", context)
    if services.revoke_evaluator(evaluator=evaluator, by=request.user):
        messages.success(request, f"Revoked the invite link of {evaluator.pseudonym}.")
    return redirect("annotations:test_detail", pk)


@login_required
@permission_required("synthesis.add_sample", raise_exception=True)
def sample_import(request):
    form = SampleImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            samples = importing.import_samples(
                source=data["archive"].read(), system_label=data["system_label"], origin=data["origin"]
            )
        except importing.SampleImportError as exc:
            form.add_error("archive", str(exc))
        else:
            messages.success(request, importing.report(samples, limit=IMPORT_REPORT_LIMIT))
            # The create-test page lists the new clips, ready to be ticked as gold, trapping or practice.
            systems = sorted({sample.system_label for sample in samples})
            query = urlencode({"system": systems}, doseq=True)
            return redirect(f"{reverse('annotations:test_new')}?{query}")
    return render(request, "annotations/sample_import.html", {"form": form})
