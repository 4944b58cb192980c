"""annotations.results.screening: P.808 toolkit rules and CrowdMOS's correlation rule (no database)."""

import json
from unittest import TestCase

from annotations.results.screening import screen_raters

ITEMS = [f"clip{i}" for i in range(8)]
CONSENSUS = [1, 2, 3, 4, 5, 2, 3, 4]


def _session(rater, scores, *, played=True, gold_score=5, trap_score=2):
    """One rater's rows: eight test clips, one gold clip (expected 5), one trap (asks for 2)."""
    rows = [(rater, item, score, played, "test") for item, score in zip(ITEMS, scores, strict=True)]
    rows.append((rater, "gold1", gold_score, True, "gold"))
    rows.append((rater, "trap1", trap_score, True, "trap"))
    return rows


def _screen(rows, **options):
    return screen_raters(rows, gold={"gold1": 5}, traps={"trap1": 2}, **options)


class ScreenRatersTests(TestCase):
    def setUp(self):
        self.good = _session("ann", CONSENSUS) + _session("bob", [2, 2, 3, 4, 5, 1, 3, 5])

    def test_a_careful_rater_passes_every_rule(self):
        result = _screen(self.good)["ann"]
        self.assertFalse(result.excluded)
        self.assertEqual((result.flags, result.reasons), ((), ()))
        self.assertGreater(result.correlation, 0.8)

    def test_a_clip_not_played_to_the_end_excludes_the_rater(self):
        result = _screen(self.good + _session("cat", CONSENSUS, played=False))["cat"]
        self.assertTrue(result.excluded)
        self.assertEqual(result.flags, ("not_played_to_end",))
        self.assertEqual(result.reasons, ("did not play 8 clip(s) to the end",))

    def test_a_wrong_answer_to_the_trapping_clip_excludes_the_rater(self):
        result = _screen(self.good + _session("cat", CONSENSUS, trap_score=3))["cat"]
        self.assertEqual(result.flags, ("failed_trap",))
        self.assertIn("gave 3, asked for 2", result.reasons[0])

    def test_a_gold_clip_one_point_off_is_tolerated_but_two_points_are_not(self):
        rows = self.good + _session("cat", CONSENSUS, gold_score=4) + _session("dan", CONSENSUS, gold_score=3)
        results = _screen(rows)
        self.assertFalse(results["cat"].excluded)
        self.assertEqual(results["dan"].flags, ("gold_off",))
        self.assertIn("gave 3, expected 5", results["dan"].reasons[0])

    def test_the_same_score_for_every_clip_is_straight_lining(self):
        result = _screen(self.good + _session("cat", [3] * 8))["cat"]
        self.assertEqual(result.flags, ("straight_lining",))
        self.assertEqual(result.variance, 0.0)

    def test_straight_lining_uses_the_sample_variance_of_test_clips_only(self):
        # Seven 3s and a 4: sample variance 0.125, population variance 0.109; the gold (5) and
        # trap (2) clips would add spread if they were counted.
        rows = self.good + _session("cat", [3] * 7 + [4])
        result = _screen(rows, min_variance=0.12, min_correlation=None)["cat"]
        self.assertAlmostEqual(result.variance, 0.125)
        self.assertEqual(result.n_test_votes, 8)
        self.assertFalse(result.excluded)
        stricter = _screen(rows, min_variance=0.2, min_correlation=None)["cat"]
        self.assertEqual(stricter.flags, ("straight_lining",))

    def test_votes_against_the_other_raters_give_low_correlation(self):
        result = _screen(self.good + _session("cat", [6 - s for s in CONSENSUS]))["cat"]
        self.assertEqual(result.flags, ("low_correlation",))
        self.assertLess(result.correlation, 0)
        self.assertIn("disagree with the other raters", result.reasons[0])

    def test_correlation_is_not_judged_on_fewer_than_three_shared_items(self):
        rows = self.good + [("cat", "clip0", 5, True, "test"), ("cat", "clip4", 1, True, "test")]
        result = _screen(rows)["cat"]
        self.assertIsNone(result.correlation)
        self.assertNotIn("low_correlation", result.flags)

    def test_a_rater_sharing_fewer_clips_than_the_minimum_overlap_is_not_judged_on_correlation(self):
        # Four clips against the others' votes: r is -1, which says nothing about so few clips.
        disagreeing = [(item, 6 - score) for item, score in zip(ITEMS, CONSENSUS, strict=True)][:4]
        rows = self.good + [("cat", item, score, True, "test") for item, score in disagreeing]
        result = _screen(rows)["cat"]
        self.assertEqual((result.overlap, result.correlation, result.flags), (4, None, ()))
        lenient = _screen(rows, min_overlap=4)["cat"]
        self.assertEqual((lenient.overlap, lenient.flags), (4, ("low_correlation",)))

    def test_each_rater_reports_how_many_clips_they_share_with_the_others(self):
        results = _screen(self.good + [("cat", "clip0", 5, True, "test"), ("cat", "solo", 4, True, "test")])
        self.assertEqual((results["ann"].overlap, results["bob"].overlap, results["cat"].overlap), (8, 8, 1))

    def test_the_correlation_rule_can_be_switched_off(self):
        result = _screen(self.good + _session("cat", [6 - s for s in CONSENSUS]), min_correlation=None)["cat"]
        self.assertFalse(result.excluded)
        self.assertIsNone(result.correlation)

    def test_several_failures_are_all_reported(self):
        result = _screen(self.good + _session("cat", [3] * 8, played=False, trap_score=5))["cat"]
        self.assertEqual(result.flags, ("not_played_to_end", "failed_trap", "straight_lining"))
        self.assertEqual(len(result.reasons), 3)

    def test_a_gold_clip_without_an_expected_score_is_refused(self):
        with self.assertRaises(ValueError):
            screen_raters(self.good, gold={}, traps={"trap1": 2})

    def test_screening_results_serialise_to_json(self):
        data = _screen(self.good + _session("cat", [3] * 8))["cat"].as_dict()
        self.assertEqual(data["excluded"], True)
        self.assertEqual(data["flags"], ["straight_lining"])
        json.dumps(data)
