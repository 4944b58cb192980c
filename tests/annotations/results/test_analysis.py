"""Results from the database: MOS per condition with every CI, screening, progress, comparisons, runs."""

from datetime import timedelta

import numpy as np
import pytest
from django.test import SimpleTestCase, TestCase, override_settings
from django.utils import timezone
from scipy import stats as scipy_stats

from annotations import tasks
from annotations.models import Evaluator, ListeningTest, Rating, Scale
from annotations.models import TestSample as Clip
from annotations.results import mos, raters, runs, services, stats
from annotations.results.services import Thresholds
from synthesis.models import RunItem, Sample, Sentence, StylePreset, SynthesisRun
from synthesis.results import stats as run_stats
from tests.factories import (
    SCORES,
    VAR_DIR,
    add_special,
    build_design,
    crowdmos_ci_long,
    give,
    make_config,
    make_sample_row,
    make_sentence_set,
    rate_all,
)

# the MOS tables are SQL aggregates (CASE per condition or a join): repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends

NO_RULES = Thresholds(min_variance=None, min_correlation=None)


def condition(data: dict, system: str, style: str, dimension: str = "overall") -> dict:
    return next(
        row
        for row in data["conditions"]
        if (row["system"], row["style"], row["dimension"]) == (system, style, dimension)
    )


class CrowdMosFromSumsTests(SimpleTestCase):
    def sums(self, keys, scores) -> np.ndarray:
        rows = {}
        for key, score in zip(keys, scores, strict=True):
            n, s, ss = rows.get(key, (0, 0, 0))
            rows[key] = (n + 1, s + score, ss + score * score)
        return np.array(list(rows.values()), dtype=float)

    def test_it_gives_the_same_numbers_as_crowdmos_ci_long_on_an_unbalanced_design(self):
        rng = np.random.default_rng(3)
        cells = [(r, i) for r in range(9) for i in range(14) if rng.random() < 0.6]
        raters, items = [r for r, _ in cells], [i for _, i in cells]
        scores = rng.integers(1, 6, size=len(cells)).tolist()
        expected = crowdmos_ci_long(raters, items, scores)
        got = stats.crowdmos_from_sums(self.sums(raters, scores), self.sums(items, scores))
        for key in ("mos", "ci95", "ci95_default", "v_s", "v_w", "v_u"):
            self.assertAlmostEqual(got[key], expected[key], places=10, msg=key)
        self.assertEqual(
            (got["n"], got["df"], got["raters"], got["items"]), (len(cells), expected["df"], 9, 14)
        )

    def test_it_reproduces_the_published_v1_example(self):
        v1 = [[4, 5, None, 4, None, 3], [4, 4, 4, 5, None, 4], [None, 3, 5, 4, None, 1]]
        cells = [(r, i, s) for r, row in enumerate(v1) for i, s in enumerate(row) if s is not None]
        raters, items, scores = zip(*cells, strict=True)
        got = stats.crowdmos_from_sums(self.sums(raters, scores), self.sums(items, scores))
        self.assertEqual(f"{got['mos']:.2f}", "3.85")  # published to two decimals
        self.assertAlmostEqual(got["ci95_default"], 0.5579, places=4)
        # V1's matrix also counts an all-missing rater and item (df 3); long rows only see 3 x 5 (df 2).
        self.assertEqual(got["df"], 2)
        rescaled = got["ci95"] / scipy_stats.t.ppf(0.975, 2) * scipy_stats.t.ppf(0.975, 3)
        self.assertAlmostEqual(rescaled, 1.3316, places=4)


@override_settings(VAR_DIR=VAR_DIR)
class TestResultsTests(TestCase):
    def test_each_condition_reports_n_mos_sd_and_every_ci_method_as_the_stats_module_does(self):
        test, clips = build_design()
        rate_all(test, clips, {"R1": [4, 5, 3, 4, 2, 5], "R2": [3, 5, 4, 4, 3, 4], "R3": [5, 4, 4, 5, 2, 5]})
        data = services.test_results(test, NO_RULES)
        row = condition(data, "sys-a", "warm")
        warm = [
            (c, r.evaluator.pseudonym, r.score)
            for c in ("warm",)
            for r in Rating.objects.filter(sample__style_label=c)
        ]
        votes = [score for _, _, score in warm]
        expected = stats.mos_summary(votes)
        for key in ("n", "mean", "sd", "ci95_t", "ci95_normal"):
            self.assertAlmostEqual(row["after"][key], expected[key], places=10)
        ratings = Rating.objects.filter(sample__style_label="warm").values_list(
            "evaluator_id", "sample_id", "score"
        )
        crowd = crowdmos_ci_long(*zip(*ratings, strict=True))
        self.assertAlmostEqual(row["after"]["crowdmos"]["ci95"], crowd["ci95"], places=10)
        boot = stats.bootstrap_ci(*zip(*ratings, strict=True), n_boot=1000, seed=0)
        self.assertAlmostEqual(row["bootstrap"]["after"]["low"], boot["low"], places=10)
        self.assertEqual(row["after"]["distribution"], [0, 0, 0, 4, 5])
        self.assertEqual(row["before"]["n"], row["after"]["n"])

    def test_gold_and_trapping_clips_feed_screening_but_never_the_mos(self):
        test, clips = build_design()
        gold, trap = add_special(test, "gold", 5), add_special(test, "trap", 1)
        rate_all(test, clips, {"R1": [4, 5, 3, 4, 2, 5], "R2": [3, 5, 4, 4, 3, 4]})
        r1, r2 = test.evaluators.order_by("pseudonym")
        give(r1, gold, 5), give(r1, trap, 1), give(r2, gold, 2), give(r2, trap, 4)
        data = services.test_results(test, NO_RULES)
        self.assertEqual(sum(row["before"]["n"] for row in data["conditions"]), 12)
        self.assertEqual({row["system"] for row in data["conditions"]}, {"sys-a"})
        [excluded] = data["excluded"]
        self.assertEqual(excluded["pseudonym"], "R2")
        self.assertEqual(set(excluded["flags"]), {"gold_off", "failed_trap"})
        self.assertIn("gave 4, asked for 1", " ".join(excluded["reasons"]))

    def test_an_excluded_rater_loses_every_vote_in_every_dimension_and_mos_is_shown_before_and_after(self):
        test, clips = build_design(dimensions=("overall", "clarity"))
        table = {"R1": [4, 5, 3, 4, 2, 5], "R2": [3, 5, 4, 4, 3, 4], "R3": [3, 3, 3, 3, 3, 3]}
        rate_all(test, clips, table)
        rate_all(
            test,
            clips,
            {"R1": [4, 4, 3, 4, 2, 5], "R2": [3, 4, 4, 4, 3, 4], "R3": [1, 2, 1, 2, 1, 2]},
            "clarity",
        )
        data = services.test_results(test, Thresholds(min_variance=0.1, min_correlation=None))
        self.assertEqual([row["pseudonym"] for row in data["excluded"]], ["R3"])
        self.assertEqual(data["excluded"][0]["flags"], ["straight_lining"])
        clarity = condition(data, "sys-a", "neutral", "clarity")
        self.assertEqual((clarity["before"]["n"], clarity["after"]["n"]), (9, 6))
        self.assertAlmostEqual(clarity["before"]["mean"], np.mean([4, 3, 2, 3, 4, 3, 1, 1, 1]))
        self.assertAlmostEqual(clarity["after"]["mean"], np.mean([4, 3, 2, 3, 4, 3]))
        self.assertEqual(clarity["after"]["raters"], 2)

    def test_screening_thresholds_are_configurable(self):
        test, clips = build_design()
        rate_all(test, clips, {"R1": [4, 5, 3, 4, 2, 5], "R2": [3, 5, 4, 4, 3, 4], "R3": [3, 3, 3, 3, 3, 3]})
        strict = services.test_results(test, Thresholds(min_variance=0.1, min_correlation=None))
        lenient = services.test_results(test, NO_RULES)
        self.assertEqual(len(strict["excluded"]), 1)
        self.assertEqual(lenient["excluded"], [])

    def test_progress_counts_ratings_against_the_target_and_active_and_finished_evaluators(self):
        test, clips = build_design()
        rate_all(test, clips, {"R1": [4] * 6, "R2": [3, 4, 4, 4, 4, 4][:6]})
        Evaluator.objects.filter(pseudonym="R1").update(finished_at=timezone.now())
        Evaluator.objects.filter(pseudonym="R2").update(last_seen_at=timezone.now())
        Evaluator.objects.create(test=test, pseudonym="R3", last_seen_at=timezone.now() - timedelta(hours=5))
        progress = services.test_results(test, NO_RULES)["progress"]
        self.assertEqual((progress["collected"], progress["target"], progress["percent"]), (12, 12, 100.0))
        self.assertEqual((progress["finished"], progress["active"], progress["idle"]), (1, 1, 1))
        self.assertEqual(progress["clips_complete"], 6)

    def test_rater_sums_are_the_same_whether_sql_numbers_the_conditions_or_joins_the_samples(self):
        test, clips = build_design(systems=("sys-a", "sys-b"))
        rate_all(test, clips, {name: scores * 2 for name, scores in SCORES.items()})
        scored, conditions = raters.scored_ratings(test), mos.condition_of_clips(test)
        numbered = mos.rater_sums(scored, "overall", conditions)
        joined = mos.rater_sums(scored, "overall", conditions, case_limits=(0, 0))
        self.assertEqual(dict(numbered), dict(joined))
        self.assertEqual(numbered[("sys-b", "warm")][test.evaluators.get(pseudonym="R1").pk], (3, 14, 66))

    def test_paired_comparisons_pair_conditions_on_the_same_sentences_and_apply_holm(self):
        test, clips = build_design(systems=("sys-a", "sys-b"), sentences=6)
        rng = np.random.default_rng(0)
        for number in range(8):
            evaluator = Evaluator.objects.create(test=test, pseudonym=f"R{number}")
            for (_, style, _), clip in clips.items():
                give(evaluator, clip, int(np.clip(3 + (style == "warm") + rng.integers(-1, 2), 1, 5)))
        comparisons = services.test_results(test, NO_RULES)["comparisons"]
        pairs = {(c["a"], c["b"]) for c in comparisons}
        self.assertEqual(len(pairs), 4)  # two styles within each system, two systems within each style
        self.assertNotIn((("sys-a", "neutral"), ("sys-b", "warm")), pairs)
        style_pair = next(
            c for c in comparisons if c["a"] == ("sys-a", "neutral") and c["b"] == ("sys-a", "warm")
        )
        self.assertEqual((style_pair["by_rater"]["n"], style_pair["by_sentence"]["n"]), (8, 6))
        self.assertGreater(style_pair["by_rater"]["mean_difference"], 0.5)
        tested = [c["by_rater"] for c in comparisons if c["by_rater"]["p"] is not None]
        expected = stats.holm([t["p"] for t in tested])["p_adjusted"]
        self.assertEqual([t["p_holm"] for t in tested], expected)


def analyse(test: ListeningTest, thresholds: Thresholds | None = None) -> None:
    """Queue the background analysis and run its task as the worker would."""
    analysis = services.queue_analysis(test=test, thresholds=thresholds or Thresholds())
    tasks.analyse_test(analysis.pk)


@override_settings(VAR_DIR=VAR_DIR, SARAI_RESULTS_INLINE_LIMIT=0)
class BackgroundAnalysisTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test, clips = build_design(sentences=4)
        rate_all(
            cls.test,
            clips,
            {"R1": [4, 5, 3, 4, 2, 5, 4, 4], "R2": [3, 5, 4, 4, 3, 4, 2, 3], "R3": [3, 3, 3, 3, 3, 3, 3, 3]},
        )

    def test_a_large_test_shows_screening_as_pending_until_the_background_analysis_ran(self):
        data = services.test_results(self.test)
        self.assertEqual((data["screening"].source, data["excluded"]), ("pending", []))
        self.assertIsNone(condition(data, "sys-a", "warm")["bootstrap"].get("after"))
        analyse(self.test)
        data = services.test_results(self.test)
        self.assertEqual(data["screening"].source, "background")
        self.assertEqual([row["pseudonym"] for row in data["excluded"]], ["R3"])
        self.assertIsNotNone(condition(data, "sys-a", "warm")["bootstrap"]["after"]["low"])
        self.assertEqual([a["dimension"] for a in data["agreement"]], ["overall"])
        background = data["background"]
        self.assertEqual((background["n_ratings"], background["stale"]), (24, False))
        # The page no longer says "Queued" and says the stored analysis used the settings shown.
        self.assertEqual((background["pending"], background["thresholds_match"]), (False, True))

    def test_the_stored_analysis_says_when_it_no_longer_covers_every_rating(self):
        analyse(self.test)
        late = Evaluator.objects.create(test=self.test, pseudonym="R9")
        give(late, self.test.test_samples.first(), 4)
        background = services.test_results(self.test)["background"]
        self.assertEqual((background["n_ratings"], background["stale"]), (24, True))

    def test_the_task_fits_the_mixed_model_and_a_second_delivery_changes_nothing(self):
        analysis = services.queue_analysis(test=self.test, thresholds=Thresholds())
        tasks.analyse_test(analysis.pk)
        stored = services.load_stored(self.test)
        [model] = stored["mixed_models"].values()
        self.assertIn("difference", model)
        tasks.analyse_test(analysis.pk)
        self.assertEqual(services.load_stored(self.test)["computed_at"], stored["computed_at"])

    def test_changing_the_tests_minimum_overlap_makes_the_stored_screening_out_of_date(self):
        analyse(self.test)
        data = services.test_results(self.test)
        self.assertEqual(data["screening"].source, "background")
        self.assertEqual([row["overlap"] for row in data["raters"]], [8, 8, 8])
        ListeningTest.objects.filter(pk=self.test.pk).update(min_rater_overlap=9)
        self.test.refresh_from_db()
        self.assertEqual(services.test_results(self.test)["screening"].source, "pending")
        analyse(self.test)
        data = services.test_results(self.test)
        self.assertEqual((data["screening"].source, data["screening"].min_overlap), ("background", 9))
        self.assertTrue(all(row["correlation"] is None for row in data["raters"]))

    def test_queueing_enqueues_one_task_on_commit_and_refuses_a_second_while_it_waits(self):
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            self.assertTrue(services.queue_analysis(test=self.test, thresholds=Thresholds()))
            self.assertFalse(services.queue_analysis(test=self.test, thresholds=Thresholds()))
        self.assertEqual(len(callbacks), 1)
        self.assertTrue(services.test_results(self.test)["background"]["pending"])


class RunAnalysisTests(TestCase):
    def setUp(self):
        self.run = SynthesisRun.objects.create(name="r", config=make_config())
        self.sentence_set = make_sentence_set(texts=())

    def sample(
        self, worker: str, started_s: int, style: str = "neutral", text: str = "Hello.", **fields
    ) -> Sample:
        position = self.sentence_set.sentences.count() + 1
        sentence = Sentence.objects.create(sentence_set=self.sentence_set, position=position, text=text)
        item = RunItem.objects.create(
            run=self.run,
            sentence=sentence,
            style=StylePreset.objects.get(name=style),
            claimed_by=worker,
            started_at=timezone.now() + timedelta(seconds=started_s),
        )
        return make_sample_row(
            "sys", style, sentence, run=self.run, run_item=item, origin=Sample.Origin.SYNTHESIZED, **fields
        )

    def test_corpus_wer_is_per_style_with_its_normalisation_named(self):
        self.sample("w:1", 0, text="Mr. Park visited.", recognized_text="mister park visited", wer=0.0)
        self.sample("w:1", 1, text="This is a test", recognized_text="This test", wer=0.5)
        [row] = runs.run_results(self.run)["wer"]
        self.assertEqual((row["style"], row["method"], row["n_utterances"]), ("neutral", "english", 2))
        self.assertAlmostEqual(row["wer"], 2 / 7)  # corpus level: 2 deletions over 3 + 4 reference words
        self.assertEqual((row["deletions"], row["substitutions"], row["insertions"]), (2, 0, 0))
        self.assertIn("EnglishTextNormalizer", row["method_description"])
        raw = runs.run_results(self.run, method="none")["wer"][0]
        self.assertGreater(raw["wer"], row["wer"])

    def test_latency_leaves_out_the_first_item_of_each_worker_and_names_the_percentile_method(self):
        for worker in ("a:1", "b:2"):
            self.sample(worker, 0, tts_ms=9000.0)  # cold first call
            for second, value in enumerate((100.0, 110.0, 120.0), start=1):
                self.sample(worker, second, tts_ms=value)
        data = runs.run_results(self.run)
        tts = next(row for row in data["latency"] if row["field"] == "tts_ms")
        self.assertEqual((tts["n"], tts["warmup_dropped"], tts["max"]), (6, 2, 120.0))
        self.assertEqual(tts["p50"], run_stats.latency_summary([100, 110, 120, 100, 110, 120])["p50"])
        self.assertIn("linear interpolation", data["percentile_method"])
        self.assertEqual(data["warmup_count"], 2)

    def test_dnsmos_is_compared_with_the_human_mos_of_each_sample(self):
        test = ListeningTest.objects.create(name="t", scale=Scale.objects.get(name="acr-en"))
        raters = [Evaluator.objects.create(test=test, pseudonym=f"R{i}") for i in range(2)]
        for second, (dnsmos, votes) in enumerate(
            [(2.0, (2, 1)), (3.0, (3, 3)), (4.1, (4, 5)), (3.5, (4, 4))]
        ):
            clip = Clip.objects.create(test=test, sample=self.sample("w:1", second, dnsmos_p808=dnsmos))
            for rater, vote in zip(raters, votes, strict=True):
                give(rater, clip, vote)
        [dnsmos] = runs.run_results(self.run)["dnsmos"]["tests"]
        self.assertEqual((dnsmos["test"], len(dnsmos["points"])), ("t", 4))
        label, per_sample = dnsmos["table"][0]
        expected = run_stats.correlation([2.0, 3.0, 4.1, 3.5], [1.5, 3.0, 4.5, 4.0])
        self.assertAlmostEqual(per_sample["pearson_r"], expected["pearson_r"])
        self.assertIn("per sample", label)
