"""The results section of an iteration run (latency, llm-speed, load); the run page swaps it in as it runs.

The run mode names its section's template (RunMode.results_template); SECTIONS gives each template
the figures it shows, so a mode that reuses a section needs no change here.
"""

from collections.abc import Callable

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from annotations.results import charts, latency, load
from annotations.roles import VIEW_RUNS
from synthesis import modes
from synthesis.models import SynthesisRun


def _latency_context(run: SynthesisRun) -> dict:
    s = latency.latency_summary(run)
    chart = charts.percentile_chart(s["stages"], title="Latency per stage (counted iterations)")
    return {"s": s, "chart": chart, "streamed": latency.streaming_summary(run)}


def _llm_context(run: SynthesisRun) -> dict:
    s = latency.llm_summary(run)
    points = [(c["prompt_tokens"], c["llm_ms"], f"{c['prompt_tokens']} tokens") for c in s["contexts"]]
    top = max([p[1] for p in points] + [1])
    chart = charts.scatter_chart(
        points,
        title="LLM latency by prompt length",
        x_label="prompt tokens",
        y_label="ms",
        x_range=(0, s["n_ctx"]),
        y_range=(0, top * 1.1),
    )
    return {"s": s, "chart": chart}


def _load_context(run: SynthesisRun) -> dict:
    return {"s": load.load_summary(run)}


SECTIONS: dict[str, Callable[[SynthesisRun], dict]] = {
    "results/_latency_run.html": _latency_context,
    "results/_llm_run.html": _llm_context,
    "results/_load_run.html": _load_context,
}


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def iteration_run_table(request, pk: int):
    run = get_object_or_404(SynthesisRun.objects.select_related("config"), pk=pk)
    mode = modes.RUN_MODES.get(run.mode)
    template = mode.results_template if mode is not None else ""
    if template not in SECTIONS:
        raise Http404("Not an iteration run.")
    failed = run.items.filter(error__gt="").order_by("iteration")
    return render(request, template, {"run": run, "failed": failed, **SECTIONS[template](run)})
