"""annotations.results.screening: P.808 toolkit rules and CrowdMOS's correlation rule (no database)."""

import json
from unittest import TestCase

from annotations.results.screening import IMPORTED_NOTE, Answer, TimingRules, screen_raters

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


CLIP_S = 3.0  # every clip of the timing tests lasts 3 s


def _answers(rater, waits, *, plays=None, fetches=None, start=1_000.0, gap=0.2):
    """One answered one-clip trial per wait (seconds after the clip's end), back to back."""
    plays = plays or [1] * len(waits)
    fetches = fetches or plays
    answers, clock = [], start
    for wait, play, fetch in zip(waits, plays, fetches, strict=True):
        received = clock + CLIP_S * play + wait
        answers.append(Answer(rater, False, 1, CLIP_S, CLIP_S, clock, received, fetch, play))
        clock = received + gap
    return answers


# A person: one to several seconds after each clip ends, a replay now and then, pages in between.
HUMAN_WAITS = [1.2, 2.5, 1.8, 3.9, 1.1, 2.2, 5.0, 1.6, 2.8, 1.4]
HUMAN_PLAYS = [1, 1, 2, 1, 1, 1, 1, 2, 1, 1]


def _timed(rows_and_answers, rules=None, **options):
    rows = [row for rows, _ in rows_and_answers for row in rows]
    answers = [answer for _, answers in rows_and_answers for answer in answers]
    return _screen(rows, answers=answers, timing=rules or TimingRules(), **options)


class TimingRulesTests(TestCase):
    def setUp(self):
        self.people = [
            (_session("ann", CONSENSUS), _answers("ann", HUMAN_WAITS[:8], plays=HUMAN_PLAYS[:8], gap=1.5)),
            (
                _session("bob", [2, 2, 3, 4, 5, 1, 3, 5]),
                _answers("bob", HUMAN_WAITS[2:], plays=HUMAN_PLAYS[2:]),
            ),
        ]

    def test_a_person_answering_seconds_after_each_clip_with_a_replay_is_not_flagged(self):
        result = _timed(self.people, TimingRules(min_clips_without_replay=8))["ann"]
        self.assertEqual((result.flags, result.notes), ((), ()))
        self.assertEqual(result.at_minimum, 0.0)
        self.assertGreater(result.session_ratio, 1.5)

    def test_answers_clustered_at_the_servers_minimum_are_flagged(self):
        bot = _answers("cat", [0.004] * 8, gap=2.0)  # pages in between keep the session rule quiet
        result = _timed([*self.people, (_session("cat", CONSENSUS), bot)])["cat"]
        self.assertEqual(result.flags, ("answers_at_minimum",))
        self.assertEqual(result.at_minimum, 1.0)
        self.assertIn(
            "answered 8 of 8 trials within 0.5 s of the least time the server allows", result.reasons[0]
        )

    def test_a_few_quick_answers_among_slow_ones_are_not_flagged(self):
        waits = [0.2, 0.3, 2.0, 2.5, 1.5, 3.0, 1.2, 2.2]  # two quick answers: a share of 0.25 < 0.8
        result = _timed([*self.people, (_session("cat", CONSENSUS), _answers("cat", waits, gap=1.0))])["cat"]
        self.assertEqual(result.at_minimum, 0.25)
        self.assertNotIn("answers_at_minimum", result.flags)

    def test_never_replaying_on_enough_clips_is_flagged_and_one_replay_clears_it(self):
        rules = TimingRules(min_clips_without_replay=8)
        once = _answers("cat", HUMAN_WAITS[:8], gap=1.0)
        result = _timed([*self.people, (_session("cat", CONSENSUS), once)], rules)["cat"]
        self.assertEqual(result.flags, ("never_replayed",))
        self.assertIn("never replayed a clip: the server sent each of 8 clips once", result.reasons[0])
        replayed = _answers("dan", HUMAN_WAITS[:8], plays=[1] * 7 + [2], gap=1.0)
        result = _timed([*self.people, (_session("dan", CONSENSUS), replayed)], rules)["dan"]
        self.assertEqual(result.flags, ())

    def test_two_requests_for_one_play_are_not_a_replay(self):
        # Safari asks for the first two bytes, then for the rest: two requests, one play.
        probed = _answers("cat", HUMAN_WAITS[:8], fetches=[2] * 8, gap=1.0)
        result = _timed(
            [*self.people, (_session("cat", CONSENSUS), probed)], TimingRules(min_clips_without_replay=8)
        )
        self.assertEqual(result["cat"].flags, ("never_replayed",))

    def test_answers_stored_before_the_server_counted_plays_are_judged_on_their_requests(self):
        rules = TimingRules(min_clips_without_replay=8)
        for fetches, flags in (([1] * 8, ("never_replayed",)), ([1] * 7 + [2], ())):
            uncounted = [a._replace(plays=None) for a in _answers("cat", HUMAN_WAITS[:8], fetches=fetches)]
            result = _timed([*self.people, (_session("cat", CONSENSUS), uncounted)], rules)["cat"]
            self.assertEqual(result.flags, flags, fetches)

    def test_fewer_clips_than_the_minimum_are_not_judged_on_replays(self):
        once = _answers("cat", HUMAN_WAITS[:8], gap=1.0)
        result = _timed([*self.people, (_session("cat", CONSENSUS), once)])["cat"]  # default: 40 clips
        self.assertNotIn("never_replayed", result.flags)

    def test_a_session_barely_longer_than_its_audio_is_flagged(self):
        # 0.6 s after each clip, back to back: late enough for the answer rule, 1.2x the audio.
        quick = [*self.people, (_session("cat", CONSENSUS), _answers("cat", [0.6] * 8, gap=0.0))]
        result = _timed(quick, TimingRules(session_margin=0.25))["cat"]
        self.assertEqual(result.flags, ("session_at_audio_length",))
        self.assertAlmostEqual(result.session_ratio, 1.2)
        self.assertIn("finished in 29 s, 1.20× the 24 s of audio", result.reasons[0])
        self.assertEqual(_timed(quick)["cat"].flags, ())  # the default margin is 0.1

    def test_a_fetch_and_wait_bot_answering_the_same_everywhere_gets_every_matching_flag(self):
        bot = _answers("cat", [0.004] * 8, gap=0.01)
        result = _timed(
            [*self.people, (_session("cat", [3] * 8), bot)], TimingRules(min_clips_without_replay=8)
        )
        self.assertEqual(
            result["cat"].flags,
            ("straight_lining", "answers_at_minimum", "never_replayed", "session_at_audio_length"),
        )

    def test_imported_ratings_are_marked_and_not_judged_on_timing(self):
        imported = [Answer("cat", True, 1, CLIP_S, CLIP_S, None, None, None, 1) for _ in range(8)]
        result = _timed(
            [*self.people, (_session("cat", CONSENSUS), imported)], TimingRules(min_clips_without_replay=8)
        )
        self.assertEqual((result["cat"].flags, result["cat"].notes), ((), (IMPORTED_NOTE,)))
        self.assertIsNone(result["cat"].at_minimum)
        self.assertIsNone(result["cat"].session_ratio)

    def test_each_timing_rule_can_be_switched_off(self):
        bot = _answers("cat", [0.004] * 8, gap=0.01)
        rules = TimingRules(answer_margin_s=None, min_clips_without_replay=None, session_margin=None)
        result = _timed([*self.people, (_session("cat", CONSENSUS), bot)], rules)["cat"]
        self.assertEqual(result.flags, ())

    def test_timing_results_serialise_to_json(self):
        bot = _answers("cat", [0.004] * 8, gap=0.01)
        data = _timed([*self.people, (_session("cat", CONSENSUS), bot)])["cat"].as_dict()
        self.assertEqual(
            json.loads(json.dumps(data))["flags"], ["answers_at_minimum", "session_at_audio_length"]
        )
