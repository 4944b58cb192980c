"""The pipeline's own result pages: a benchmark run's section that the run page swaps in as it runs
(its mode's results template and context), WER runs' tables and alignments, and WER run comparisons.
"""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from synthesis import modes
from synthesis.models import SynthesisRun
from synthesis.results import wer

VIEW_RUNS = "synthesis.view_synthesisrun"


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def iteration_run_table(request, pk: int):
    run = get_object_or_404(SynthesisRun.objects.select_related("config"), pk=pk)
    mode = modes.RUN_MODES.get(run.mode)
    if mode is None or mode.results is None:
        raise Http404("Not an iteration run.")
    failed = run.items.filter(error__gt="").order_by("iteration")
    return render(request, mode.results_template, {"run": run, "failed": failed, **mode.results(run)})


# --- STT WER runs ------------------------------------------------------------------------------

WER_SORTS = {
    "position": ("utterance position", lambda row: row["utterance__position"]),
    "wer": ("WER, worst first", lambda row: (-(row["wer"] if row["wer"] is not None else -1), row["id"])),
    "errors": ("word errors, most first", lambda row: (-row["word_errors"], row["id"])),
    "cer": ("character errors, most first", lambda row: (-row["char_errors"], row["id"])),
}


def _wer_method(request) -> str:
    method = request.GET.get("norm", wer.DEFAULT)
    return method if method in wer.NORMALISATIONS else wer.DEFAULT


def _get_wer_run(pk: int) -> SynthesisRun:
    return get_object_or_404(
        SynthesisRun.objects.select_related("config", "dataset"), pk=pk, mode__in=modes.transcript_modes()
    )


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def wer_run_table(request, pk: int):
    """Corpus WER/CER and the per-utterance table of a WER run; the run page swaps it in as it runs."""
    run = _get_wer_run(pk)
    data = wer.run_wer(run, method=_wer_method(request))
    sort = request.GET.get("sort") if request.GET.get("sort") in WER_SORTS else "position"
    data["rows"].sort(key=WER_SORTS[sort][1])
    failed = run.items.filter(error__gt="").select_related("utterance").order_by("pk")
    context = {"d": data, "run": run, "sort": sort, "sorts": WER_SORTS, "failed": failed}
    return render(request, "results/_wer_run.html", context)


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def wer_alignment(request, pk: int, transcript_pk: int):
    run = _get_wer_run(pk)
    transcript = get_object_or_404(run.transcripts.select_related("utterance"), pk=transcript_pk)
    method = _wer_method(request)
    context = {
        "run": run,
        "transcript": transcript,
        "a": wer.alignment(transcript, method),
        "method": method,
        "normalisations": wer.NORMALISATIONS,
    }
    return render(request, "results/wer_alignment.html", context)


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def wer_compare(request):
    """Two or more WER runs on one dataset side by side, each against the first (paired bootstrap)."""
    runs = wer.wer_runs()
    chosen_ids = [int(i) for i in request.GET.getlist("run") if i.isdigit()]
    by_id = {run.pk: run for run in runs}
    chosen = [by_id[i] for i in chosen_ids if i in by_id]
    method = _wer_method(request)
    data, error = None, ""
    if chosen_ids:
        try:
            data = wer.compare_runs(chosen, method=method)
        except ValueError as exc:
            error = str(exc)
    context = {
        "runs": runs,
        "chosen": chosen_ids,
        "d": data,
        "error": error,
        "method": method,
        "normalisations": wer.NORMALISATIONS,
    }
    return render(request, "results/wer_compare.html", context)
