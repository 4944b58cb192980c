"""docs/architecture.md's checklist for adding a run mode, followed to the letter: an iteration mode
with a results section and a claim, defined entirely in this module, reaches the run page, its
results section, the claims page and claims.json with nothing else changed."""

from django.test import TestCase
from django.urls import reverse

from synthesis import modes, services
from synthesis.engines import iterations
from synthesis.models import Status, SynthesisRun
from synthesis.results import claims, latency
from tests.factories import make_admin, make_config, register_run_mode

KEY = "toy-echo"
# The design of this toy pipeline said: "an echo answers within 100 ms at the median".
TARGET_MS = 100


def run_echo(item, *, on_stage) -> iterations.IterationResult:
    """One timed iteration whose stage times follow the item's position: 40, 50, 60... ms."""
    on_stage("echo")
    total = 40.0 + 10.0 * item.iteration
    figures = {"stt_ms": total / 4, "llm_ms": total / 4, "tts_ms": total / 2, "total_ms": total}
    return iterations.IterationResult(
        kind=iterations.LATENCY, label=f"echo {item.iteration}", figures=figures
    )


def echo_plan(count: int = 4) -> list[dict]:
    return [{"kind": iterations.LATENCY, "warmup": index == 0} for index in range(count + 1)]


def echo_section(run: SynthesisRun) -> dict:
    return {"s": latency.latency_summary(run), "chart": "", "streamed": None}


def echo_figures() -> tuple[SynthesisRun, dict] | None:
    run = claims.latest_done_run(KEY)
    if run is None:
        return None
    totals = [row.figures["total_ms"] for row in run.iterations.filter(warmup=False)]
    return run, {"echo_p50_ms": latency.percentile_summary(totals)["p50"]}


ECHO_CLAIM = claims.Claim(
    key="echo-p50",
    text=f"Echo P50 < {TARGET_MS} ms",
    target=claims.Target(TARGET_MS, "<"),
    unit="ms",
    design_models={},
    design_model="any",
    design_setting="one process",
    measure=claims.benchmark_measure(echo_figures, "echo_p50_ms", method=claims.PERCENTILES),
)
ECHO = modes.RunMode(
    key=KEY,
    label="Echo benchmark (toy)",
    run=run_echo,
    loads=(),
    records=(),
    items_from=modes.ITERATIONS,
    serial=True,
    stores=modes.ITERATION,
    plan=echo_plan,
    results_template="results/_latency_run.html",
    results=echo_section,
    claims=(ECHO_CLAIM,),
    claim_figures=echo_figures,
)


class AddingARunModeTests(TestCase):
    def setUp(self):
        register_run_mode(self, ECHO)
        self.client.force_login(make_admin())

    def run_echo_benchmark(self) -> SynthesisRun:
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(name="echo", config=make_config(), mode=KEY, plan=echo_plan())
        self.assertTrue(services.run_serial(run_id=run.pk, worker="here:1", sleep=lambda s: None))
        run.refresh_from_db()
        self.assertEqual((run.status, run.done_count), (Status.DONE, 5))
        return run

    def claim_json(self) -> dict:
        data = self.client.get(reverse("results:claims_json")).json()
        return next(row for row in data["claims"] if row["key"] == ECHO_CLAIM.key)

    def test_the_claim_is_listed_and_not_measured_before_any_run(self):
        row = self.claim_json()
        self.assertEqual((row["claim"], row["verdict"]), ("Echo P50 < 100 ms", claims.NOT_MEASURED))
        self.assertContains(self.client.get(reverse("results:claims")), "Echo P50 &lt; 100 ms")

    def test_a_finished_run_shows_its_section_and_gives_the_claim_its_verdict(self):
        run = self.run_echo_benchmark()
        page = self.client.get(reverse("synthesis:run_detail", args=[run.pk]))
        self.assertContains(page, reverse("results:iteration_run_table", args=[run.pk]))
        section = self.client.get(reverse("results:iteration_run_table", args=[run.pk]))
        self.assertContains(section, "method &quot;linear&quot;")
        row = self.claim_json()
        # Counted totals 50, 60, 70, 80 ms (the warm-up's 40 left out): P50 65 ms < 100 ms.
        self.assertEqual(row["measured"]["value"], 65.0)
        self.assertEqual(row["verdict"], claims.HOLDS)
        self.assertEqual(row["measured"]["source"], f"{KEY} run {run.pk} (echo)")

    def test_its_plain_timed_turns_do_not_count_as_the_latency_benchmark(self):
        self.run_echo_benchmark()
        data = self.client.get(reverse("results:claims_json")).json()
        verdicts = {row["key"]: row["verdict"] for row in data["claims"]}
        self.assertEqual(verdicts["stt-tts-p50"], claims.NOT_MEASURED)
        self.assertEqual(verdicts[ECHO_CLAIM.key], claims.HOLDS)

    def test_a_mode_naming_a_results_template_without_its_context_is_refused(self):
        broken = modes.RunMode(
            key="toy-broken",
            label="Broken",
            run=run_echo,
            loads=(),
            records=(),
            items_from=modes.ITERATIONS,
            stores=modes.ITERATION,
            results_template="results/_latency_run.html",
        )
        with self.assertRaisesMessage(ValueError, "names a results template but gives no results context"):
            register_run_mode(self, broken)
