"""LLM speed runs: the design's prompt list and raw completions at growing context lengths; the
design's LLM latency and tokens/s claims read the latest of them."""

from synthesis import modes
from synthesis.engines import iterations, pipeline
from synthesis.models import SynthesisRun
from synthesis.results import claims, latency

KEY = "llm-speed"


def llm_plan(
    *,
    prompts: tuple[str, ...] = iterations.LLM_PROMPTS,
    lengths: tuple[int, ...] = iterations.CONTEXT_LENGTHS,
) -> list[dict]:
    """The warm-up prompt, the prompt list, then one raw completion per context length."""
    plan = [{"kind": iterations.LLM_PROMPT, "warmup": True, "prompt": iterations.LLM_WARMUP_PROMPT}]
    plan += [{"kind": iterations.LLM_PROMPT, "warmup": False, "prompt": p} for p in prompts]
    plan += [{"kind": iterations.LLM_CONTEXT, "warmup": False, "length": n} for n in lengths]
    return plan


def run_llm_speed_item(item, *, on_stage: pipeline.StageCallback) -> iterations.IterationResult:
    entry, config = modes.plan_entry(item), item.run.pipeline_settings
    if entry["kind"] == iterations.LLM_CONTEXT:
        return iterations.llm_context_iteration(length=entry["length"], config=config, on_stage=on_stage)
    return iterations.llm_prompt_iteration(prompt=entry["prompt"], config=config, on_stage=on_stage)


def latest_summary() -> dict | None:
    """The latest finished LLM speed run's llm_summary, or None if there is none."""
    run = claims.latest_done_run(KEY)
    return latency.llm_summary(run) if run else None


def claim_figures() -> tuple[SynthesisRun, dict] | None:
    run = claims.latest_done_run(KEY)
    return None if run is None else (run, latency.llm_claim_figures(run))


DESIGN_SETTING = "n_ctx 512, 6 threads, max 20 tokens"
LLM_SPEED = modes.register(
    modes.RunMode(
        key=KEY,
        label="LLM benchmark (prompt list and context scaling, serial)",
        run=run_llm_speed_item,
        loads=("llm",),
        records=(),
        items_from=modes.ITERATIONS,
        serial=True,
        stores=modes.ITERATION,
        plan=llm_plan,
        results_template="results/_llm_run.html",
        results=latency.llm_section,
        claims=(
            claims.Claim(
                key="llm-latency",
                text="LLM 904 ms / 20 tokens",
                target=claims.Target(904, "<="),
                unit="ms",
                design_models=claims.LLM,
                design_model=claims.LFM2_LABEL,
                design_setting=DESIGN_SETTING,
                measure=claims.benchmark_measure(claim_figures, "latency_ms"),
                design_settings=claims.LFM2_SETTING,
                design_hardware=claims.DESIGN_CPU,
            ),
            claims.Claim(
                key="llm-tokens-per-s",
                text="LLM 12.4 tok/s",
                target=claims.Target(12.4, ">="),
                unit="tok/s",
                design_models=claims.LLM,
                design_model=claims.LFM2_LABEL,
                design_setting=DESIGN_SETTING,
                measure=claims.benchmark_measure(claim_figures, "tokens_per_s"),
                design_settings=claims.LFM2_SETTING,
                design_hardware=claims.DESIGN_CPU,
            ),
        ),  # fmt: skip
        claim_figures=claim_figures,
    )
)
