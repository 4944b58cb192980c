"""The results section of an iteration run (latency, llm-speed, load); the run page swaps it in as it runs."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from annotations.results import charts, latency, load
from annotations.roles import VIEW_RUNS
from synthesis import modes
from synthesis.models import SynthesisRun


@login_required
@permission_required(VIEW_RUNS, raise_exception=True)
def iteration_run_table(request, pk: int):
    run = get_object_or_404(SynthesisRun.objects.select_related("config"), pk=pk)
    failed = run.items.filter(error__gt="").order_by("iteration")
    context = {"run": run, "failed": failed}
    if run.mode == modes.LATENCY.key:
        s = latency.latency_summary(run)
        chart = charts.percentile_chart(s["stages"], title="Latency per stage (counted iterations)")
        context.update(s=s, chart=chart, streamed=latency.streaming_summary(run))
        return render(request, "results/_latency_run.html", context)
    if run.mode == modes.LLM_SPEED.key:
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
        context.update(s=s, chart=chart)
        return render(request, "results/_llm_run.html", context)
    if run.mode == modes.LOAD.key:
        context.update(s=load.load_summary(run))
        return render(request, "results/_load_run.html", context)
    raise Http404("Not an iteration run.")
