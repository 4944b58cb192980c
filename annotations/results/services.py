"""What the results pages, exports and commands show about a test: the one door to its numbers.

The test's method (annotations.methods) computes them: its dashboard (screening, raters and its
analysis), its background analysis, its screening and its progress. Analyses that need every single
rating run inline for tests up to the inline limit (the pair methods store what a view computed, with
annotations.results.stored.store_computed, for the views after it); the background analysis
(annotations.tasks.analyse_test) computes them for any size and stores the result with when it ran, how
long it took and how many ratings it covered. This module is the only one that enqueues the results
tasks; the tasks claim and run an analysis through annotations.results.analysis_queue, which never
imports them (this module re-exports its claim_analysis, run_claimed_analysis and
run_background_analysis, and stored's load_stored, for its callers). The machinery the methods share
is in annotations.results.raters (screening, raters, progress), annotations.results.mos (MOS per
condition) and annotations.results.stored (the stored analysis).
"""

import dataclasses
from collections import defaultdict

from django.db.models import Count, Max

from annotations import tasks
from annotations.methods import get_method, scoring_methods
from annotations.models import Analysis, ListeningTest, TestSample
from annotations.results import artifacts
from annotations.results.analysis_queue import claim_analysis as claim_analysis
from annotations.results.analysis_queue import run_background_analysis as run_background_analysis
from annotations.results.analysis_queue import run_claimed_analysis as run_claimed_analysis
from annotations.results.raters import Screening, Thresholds, ratings_version
from annotations.results.stored import is_pending
from annotations.results.stored import load_stored as load_stored


def sections(test: ListeningTest) -> tuple[str, ...]:
    """The dashboard's sections for the test's method and, where listeners could mark problems on a
    one-clip page, the artifact marks."""
    method = get_method(test.method)
    if test.artifact_labels and method.clips_per_trial == 1:
        return (*method.sections, "artifacts")
    return method.sections


def report_design(test: ListeningTest) -> str:
    return get_method(test.method).report_design


def unused_thresholds(test: ListeningTest) -> tuple[str, ...]:
    """Screening settings the method does not read."""
    return get_method(test.method).unused_thresholds


# --- the background analysis -------------------------------------------------------------------


def queue_analysis(*, test: ListeningTest, thresholds: Thresholds) -> Analysis | None:
    """Queue the background analysis, enqueued once the transaction commits; None if one is pending."""
    if is_pending(test.pk):
        return None
    analysis = Analysis.objects.create(
        test=test, thresholds=thresholds.as_dict(), min_overlap=test.min_rater_overlap
    )
    tasks.analyse_test.delay_on_commit(analysis.pk)
    return analysis


# --- everything a page shows -------------------------------------------------------------------


def results_version(test: ListeningTest) -> str:
    """Changes when a rating arrives, an evaluator moves on or a background analysis lands."""
    n, last = ratings_version(test)
    evaluators = test.evaluators.aggregate(n=Count("id"), done=Count("finished_at"), seen=Max("last_seen_at"))
    seen = evaluators["seen"].timestamp() if evaluators["seen"] else 0
    stored = test.analyses.filter(status=Analysis.Status.DONE).aggregate(last=Max("pk"))["last"] or 0
    return f"{n}.{last}.{evaluators['n']}.{evaluators['done']}.{seen}.{stored}.{int(is_pending(test.pk))}"


def current_screening(test: ListeningTest, thresholds: Thresholds | None = None) -> Screening:
    """The screening of the test's method: computed now for tests up to the inline limit, else the
    stored background one."""
    return get_method(test.method).screen(test, thresholds or Thresholds())


def test_results(
    test: ListeningTest, thresholds: Thresholds | None = None, *, inline: bool | None = None
) -> dict:
    """Everything the dashboard, the report and the exports show of one test, from its method.

    "sections" lists the dashboard sections that show it; with "artifacts" among them, "artifacts"
    holds the marks' artifact_summary. "conditions" holds MOS per condition for a method whose numbers
    are a MOS per condition, else nothing (readers of MOS, such as the claims, find none).
    """
    method = get_method(test.method)
    data = {
        "test": test,
        "method": test.method,
        "method_title": method.title,
        "main_dimension": test.rated_dimensions[0],
        "scale_values": test.scale.values,
        "dimensions": test.rated_dimensions,
        "conditions": [],
        **method.dashboard(test, thresholds or Thresholds(), inline),
        "progress": method.progress(test),
        "sections": sections(test),
    }
    if "artifacts" in data["sections"]:
        data["artifacts"] = artifacts.artifact_summary(test)
    return data


@dataclasses.dataclass(frozen=True)
class HumanScore:
    """One sample's human score in one test: the mean of its votes on the method's per-clip score, on
    the test's scale and dimension, after the test's screening."""

    test: str
    method: str
    name: str
    mos: bool
    scale: str
    scale_min: int
    scale_max: int
    dimension: str
    score: float
    votes: int

    def cells(self) -> tuple:
        """The measurements export's human columns."""
        return (
            self.test,
            self.method,
            self.name,
            self.scale,
            self.scale_min,
            self.scale_max,
            self.dimension,
            self.score,
            self.votes,
        )


def human_scores(sample_ids: list[int], *, tests=None, mos: bool = False) -> dict[int, list[HumanScore]]:
    """sample id -> its human score in each test (of `tests`, else every test) that holds it as a test
    clip and whose method gives a per-clip score (with mos: a MOS), oldest test first. Never pooled:
    a clip rated in two tests has two scores, each with its test and scale."""
    methods = scoring_methods(mos=mos)
    tests = ListeningTest.objects.all() if tests is None else tests
    held = (
        tests.filter(
            method__in=methods,
            test_samples__sample_id__in=sample_ids,
            test_samples__kind=TestSample.Kind.TEST,
        )
        .select_related("scale")
        .distinct()
        .order_by("created_at", "pk")
    )
    wanted, result = set(sample_ids), defaultdict(list)
    for test in held:
        method = get_method(test.method)
        for sample, (score, votes) in sorted(method.clip_scores(test).items()):
            if sample in wanted:
                result[sample].append(
                    HumanScore(
                        test=test.name,
                        method=test.method,
                        name=method.clip_score.name,
                        mos=method.clip_score.mos,
                        scale=test.scale.name,
                        scale_min=test.scale.min_value,
                        scale_max=test.scale.max_value,
                        dimension=method.clip_score.dimension(test),
                        score=score,
                        votes=votes,
                    )
                )
    return dict(result)
