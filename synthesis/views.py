"""Pages for admins and researchers: runs, samples and their measurements."""

import mimetypes
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from synthesis import modes, services
from synthesis.forms import RunForm
from synthesis.models import Sample, Status, SynthesisRun, Utterance

VIEW_RUNS = "synthesis.view_synthesisrun"
QUEUE_RUNS = "synthesis.add_synthesisrun"


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def home(request):
    runs = SynthesisRun.objects.select_related("config").order_by("-created_at")[:50]
    return render(request, "synthesis/home.html", {"runs": runs})


@login_required
@permission_required(QUEUE_RUNS, raise_exception=True)
def run_new(request):
    initial = {"sentence_sets": request.GET.getlist("set")}
    form = RunForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = services.start_run(
                name=data["name"],
                mode=data["mode"],
                config=data["config"],
                sentence_sets=list(data["sentence_sets"]),
                styles=list(data["styles"]),
                dataset=data["dataset"],
                created_by=request.user,
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("synthesis:run_detail", run.pk)
    return render(request, "synthesis/run_new.html", {"form": form})


def _get_run(pk: int) -> SynthesisRun:
    return get_object_or_404(SynthesisRun.objects.select_related("config", "created_by"), pk=pk)


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def run_detail(request, pk: int):
    run = _get_run(pk)
    mode = modes.get_mode(run.mode)
    items_url = reverse("synthesis:run_samples", args=[pk])
    if mode.stores == modes.TRANSCRIPT:
        # Transcripts, not samples: the WER table (results app), in the normalisation and order asked for.
        query = urlencode({key: request.GET[key] for key in ("norm", "sort") if key in request.GET})
        items_url = f"{reverse('results:wer_run_table', args=[pk])}?{query}"
    elif mode.stores == modes.ITERATION:
        # Timed iterations, not samples: the latency or LLM-speed summary (results app).
        items_url = reverse("results:iteration_run_table", args=[pk])
    context = {"run": run, "mode": mode, "progress": progress_of(run), "items_url": items_url}
    return render(request, "synthesis/run_detail.html", context)


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def run_samples(request, pk: int):
    """The samples table alone; the run page swaps it in while the run progresses."""
    run = _get_run(pk)
    samples = run.samples.select_related("sentence", "style").order_by("sentence__position", "style__name")
    columns = modes.get_mode(run.mode).page_columns
    rows = [(sample, [(m, m.format(getattr(sample, m.name))) for m in columns]) for sample in samples]
    # Failed items, and items sent again after a worker crash (their error says how it died).
    failed = (
        run.items.filter(
            Q(status=Status.FAILED) | Q(status__in=[Status.QUEUED, Status.RUNNING], error__gt="")
        )
        .select_related("sentence", "style")
        .order_by("pk")
    )
    context = {"run": run, "columns": columns, "rows": rows, "failed": failed}
    return render(request, "synthesis/_samples.html", context)


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def run_progress(request, pk: int):
    return JsonResponse(progress_of(_get_run(pk)))


def progress_of(run: SynthesisRun) -> dict:
    """Done/failed/total with elapsed time and a naive ETA from the mean time per finished item."""
    finished = run.done_count + run.failed_count
    end = run.finished_at or timezone.now()
    elapsed = (end - run.started_at).total_seconds() if run.started_at else 0.0
    remaining = run.total_count - finished
    eta = elapsed / finished * remaining if finished and not run.is_finished else None
    return {
        "status": run.status,
        "status_label": run.get_status_display(),
        "done": run.done_count,
        "failed": run.failed_count,
        "total": run.total_count,
        "elapsed_s": round(elapsed, 1),
        "eta_s": None if eta is None else round(eta, 1),
        "finished": run.is_finished,
    }


@require_http_methods(["GET", "POST"])
@login_required
@permission_required(QUEUE_RUNS, raise_exception=True)
def run_cancel(request, pk: int):
    """Ask first (this page, or the run page's JavaScript confirm), then cancel on a confirmed POST."""
    run = _get_run(pk)
    if request.method == "GET" or request.POST.get("confirm") != "yes":
        counts = run.items.status_counts()
        queued, running = counts.get(Status.QUEUED, 0), counts.get(Status.RUNNING, 0)
        return render(
            request, "synthesis/run_cancel.html", {"run": run, "queued": queued, "running": running}
        )
    if run.is_finished:
        messages.info(request, f"The run had already ended ({run.get_status_display().lower()}).")
        return redirect("synthesis:run_detail", pk)
    queued, running = services.cancel_run(run=run)
    messages.info(request, cancel_message(queued, running))
    return redirect("synthesis:run_detail", pk)


def cancel_message(queued: int, running: int) -> str:
    """'Cancelled 2 queued items; 4 running items will stop at their next stage.'"""
    done = f"Cancelled {queued} queued item{pluralize(queued)}"
    if not running:
        return f"{done}; no item was running."
    whose = "their" if running > 1 else "its"
    return f"{done}; {running} running item{pluralize(running)} will stop at {whose} next stage."


@require_POST
@login_required
@permission_required(QUEUE_RUNS, raise_exception=True)
def run_retry(request, pk: int):
    count = services.retry_failed(run=_get_run(pk))
    messages.info(request, f"Queued {count} item{pluralize(count)} again.")
    return redirect("synthesis:run_detail", pk)


@login_required
@permission_required("synthesis.view_sample", raise_exception=True)
def sample_audio(request, pk: int):
    sample = get_object_or_404(Sample, pk=pk)
    if not sample.audio:
        raise Http404("This sample has no audio file.")
    return FileResponse(sample.audio.open("rb"), content_type="audio/wav")


@login_required
@permission_required("synthesis.view_utterance", raise_exception=True)
def utterance_audio(request, pk: int):
    """A speech dataset's clip for the admin's player, read through the storage (S3 objects are private)."""
    utterance = get_object_or_404(Utterance, pk=pk)
    if not utterance.audio:
        raise Http404("This utterance has no audio file.")
    return FileResponse(utterance.audio.open("rb"), content_type=_audio_type(utterance.audio.name))


def _audio_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def favicon(request):
    """Browsers ask for /favicon.ico on every site; the pages link the SVG icon, so send them there."""
    return redirect(static("favicon.svg"))


def healthz(request):
    """Liveness for scripts: answers once the app and its database respond."""
    SynthesisRun.objects.exists()
    return HttpResponse("ok", content_type="text/plain")
