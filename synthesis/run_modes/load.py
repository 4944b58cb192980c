"""Load runs: each model loaded in a fresh child process, cold and warm page cache, then all of them
together; the design's load-time and RAM claims read the latest of them."""

from django.conf import settings

from synthesis import modes
from synthesis.engines import iterations, loadprobe, pipeline
from synthesis.models import SynthesisRun
from synthesis.results import claims, load

KEY = "load"


def load_plan(*, repeat: int = 1) -> list[dict]:
    """Each component alone, cold then warm page cache, then all of them in one process; `repeat` times."""
    if repeat < 1:
        raise ValueError("A load run needs at least one repeat.")
    groups = [[component] for component in pipeline.COMPONENTS] + [list(pipeline.COMPONENTS)]
    return [
        {"kind": loadprobe.KIND, "warmup": False, "components": components, "cache": cache}
        for _ in range(repeat)
        for components in groups
        for cache in loadprobe.PAGE_CACHE_STATES
    ]


def run_load_item(item, *, on_stage: pipeline.StageCallback) -> iterations.IterationResult:
    """One plan entry measured in a fresh child process (loadprobe), never in this warm one."""
    entry = modes.plan_entry(item)
    on_stage("load")
    figures = loadprobe.probe(
        components=entry["components"],
        cache=entry["cache"],
        config=item.run.pipeline_settings,
        cache_dir=settings.SARAI_MODEL_CACHE,
    )
    label = f"{loadprobe.describe(entry['components'])}, {entry['cache']} page cache"
    return iterations.IterationResult(kind=loadprobe.KIND, label=label, figures=figures)


def claim_figures() -> tuple[SynthesisRun, dict] | None:
    run = claims.latest_done_run(KEY)
    return None if run is None else (run, load.load_claim_figures(run))


DESIGN_PIPELINE = f"{claims.OMNI_LABEL}; {claims.LFM2_LABEL}"
LOAD = modes.register(
    modes.RunMode(
        key=KEY,
        label="Load and memory benchmark (each model in a fresh process, cold and warm, serial)",
        run=run_load_item,
        loads=pipeline.COMPONENTS,
        records=(),
        items_from=modes.ITERATIONS,
        serial=True,
        stores=modes.ITERATION,
        plan=lambda: load_plan(repeat=3),
        results_template="results/_load_run.html",
        results=load.load_section,
        claims=(
            claims.Claim(
                key="load-total",
                text="Model load 813 ms total",
                target=claims.Target(813, "<="),
                unit="ms",
                design_models=claims.PIPELINE,
                design_model=DESIGN_PIPELINE,
                design_setting="cold load",
                measure=claims.benchmark_measure(claim_figures, "total_ms"),
                design_hardware=claims.DESIGN_CPU,
            ),
            claims.Claim(
                key="ram-total",
                text="RAM 1.34 GB",
                target=claims.Target(1.34, "<="),
                unit="GB",
                design_models=claims.PIPELINE,
                design_model=DESIGN_PIPELINE,
                design_setting="all loaded",
                measure=claims.benchmark_measure(claim_figures, "ram_total_gb"),
            ),
        ),  # fmt: skip
        claim_figures=claim_figures,
    )
)
