"""The headphone screen (Woods et al. 2017): six three-tone trials, pass at 5, one optional retry at 6/6."""

import random
from fractions import Fraction

from django.core.exceptions import ValidationError
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from scipy import stats

from annotations import services
from annotations.headphone_screen import screen_results
from annotations.listening_check import guess_pass_probability
from annotations.models import Evaluator, ListeningTest, Rating, ScreenTrial
from annotations.results import exports, tables
from annotations.results import services as results
from tests.annotations.helpers import screen_answer, session_url, take_screen, walk_to_rating
from tests.factories import build_test, make_admin, make_researcher, make_samples

SCREEN_OUT = "SCRN0UT1"
PLATFORM = "C1A2B3C4"


class HeadphoneScreenTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(platform_code=PLATFORM, screen_out_code=SCREEN_OUT)
        cls.evaluator = services.invite_evaluators(test=cls.test, count=1)[0]

    def setUp(self):
        self.client.post(session_url(self.evaluator, "consent"), {"agree": "1"})

    def test_five_right_of_six_passes_and_the_session_goes_on(self):
        response = take_screen(self.client, self.evaluator, wrong=1)
        self.evaluator.refresh_from_db()
        self.assertIsNotNone(self.evaluator.checked_at)
        self.assertContains(response, "Practice clip 1 of")
        screen = screen_results(test=self.test)[self.evaluator.pk]
        self.assertEqual((screen.result, screen.correct, screen.attempts), ("passed", (5,), 1))

    def test_four_right_of_six_ends_the_session_with_the_screen_out_code_and_no_completion_code(self):
        response = take_screen(self.client, self.evaluator, wrong=2)
        self.evaluator.refresh_from_db()
        self.assertIsNotNone(self.evaluator.screened_out_at)
        self.assertIsNone(self.evaluator.checked_at)
        self.assertTemplateUsed(response, "annotations/screened_out.html")
        self.assertContains(response, SCREEN_OUT)
        self.assertNotContains(response, PLATFORM)
        self.assertNotContains(response, self.test.completion_code)
        screen = screen_results(test=self.test)[self.evaluator.pk]
        self.assertEqual((screen.result, screen.correct_text), ("failed", "4/6"))

    def test_a_screened_out_evaluator_never_reaches_a_rating_page_again(self):
        take_screen(self.client, self.evaluator, wrong=2)
        screened_out = session_url(self.evaluator, "screened_out")
        for step in ("session", "consent", "check", "training", "rate", "finish"):
            self.assertRedirects(self.client.get(session_url(self.evaluator, step)), screened_out)
        clip = self.evaluator.assignments.first().presented_clips()[0].test_sample
        posted = {"clip": clip.token, "score-overall": 4, "played_to_end": "true", "play_count": 1}
        self.client.post(session_url(self.evaluator, "rate"), posted)
        self.client.post(session_url(self.evaluator, "training"), posted)
        self.assertFalse(Rating.objects.filter(evaluator=self.evaluator).exists())
        audio = reverse("annotations:clip_audio", args=[self.evaluator.token, clip.token])
        self.assertEqual(self.client.get(audio).status_code, 404)
        self.assertEqual(self.client.get(session_url(self.evaluator, "check_audio")).status_code, 404)

    def test_a_screened_out_evaluator_releases_their_clips_to_others(self):
        held = sum(services.held_counts(self.test).values())
        take_screen(self.client, self.evaluator, wrong=2)
        self.assertEqual(sum(services.held_counts(self.test).values()), held - self.test.samples_per_session)

    def test_the_screen_out_url_sends_the_evaluator_back_and_never_the_completion_url(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(
            screen_out_code="",
            screen_out_url="https://app.prolific.com/submissions/complete?cc=SCRN0UT2",
            completion_url=f"https://app.prolific.com/submissions/complete?cc={PLATFORM}",
        )
        response = take_screen(self.client, self.evaluator, wrong=3)
        self.assertContains(response, 'url=https://app.prolific.com/submissions/complete?cc=SCRN0UT2"')
        self.assertContains(response, "SCRN0UT2")
        self.assertNotContains(response, PLATFORM)

    def test_without_a_retry_a_fail_is_final(self):
        take_screen(self.client, self.evaluator, wrong=2)
        self.assertFalse(self.evaluator.screen_trials.filter(attempt=2).exists())
        self.client.post(session_url(self.evaluator, "check"), {"answer": 1})
        self.assertEqual(self.evaluator.screen_trials.filter(answer__isnull=False).count(), 6)

    def test_the_trials_hold_on_reload_and_the_audio_url_says_nothing_of_the_answer(self):
        first = self.client.get(session_url(self.evaluator, "check"))
        again = self.client.get(session_url(self.evaluator, "check"))
        self.assertEqual(first.context["audio_url"], again.context["audio_url"])
        self.assertTrue(first.context["audio_url"].endswith("check.wav?n=1"))
        audio = self.client.get(first.context["audio_url"]).getvalue()
        self.assertEqual(self.client.get(first.context["audio_url"]).getvalue(), audio)
        self.assertContains(first, "Tones 1 of 6")

    def test_a_resent_answer_does_not_answer_the_next_trial(self):
        data = {"answer": screen_answer(self.evaluator), "trial": 1}
        self.client.post(session_url(self.evaluator, "check"), data)
        self.client.post(session_url(self.evaluator, "check"), data)
        self.assertEqual(self.evaluator.screen_trials.filter(answer__isnull=False).count(), 1)


class ScreenRetryTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(screen_retry_allowed=True, screen_out_code=SCREEN_OUT)

    def evaluator_failing_once(self) -> Evaluator:
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        self.client.post(session_url(evaluator, "consent"), {"agree": "1"})
        response = take_screen(self.client, evaluator, wrong=2)
        self.assertContains(response, "one more try")
        self.assertContains(response, "Tones 1 of 6")
        evaluator.refresh_from_db()
        self.assertEqual(evaluator.step, "check")
        return evaluator

    def test_the_retry_is_passed_only_with_every_trial_right(self):
        evaluator = self.evaluator_failing_once()
        take_screen(self.client, evaluator)
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.checked_at)
        screen = screen_results(test=self.test)[evaluator.pk]
        self.assertEqual((screen.result, screen.correct_text, screen.attempts), ("passed", "4/6, 6/6", 2))

    def test_five_of_six_on_the_retry_screens_out_and_there_is_no_third_attempt(self):
        evaluator = self.evaluator_failing_once()
        response = take_screen(self.client, evaluator, wrong=1)
        self.assertContains(response, SCREEN_OUT)
        evaluator.refresh_from_db()
        self.assertEqual(evaluator.step, "screened_out")
        self.assertFalse(evaluator.screen_trials.filter(attempt=3).exists())
        screen = screen_results(test=self.test)[evaluator.pk]
        self.assertEqual((screen.result, screen.correct_text), ("failed", "4/6, 5/6"))


class ScreenQueryTests(TestCase):
    def test_an_answer_to_a_screen_trial_reads_the_trial_once_and_stores_it_once(self):
        test = build_test()
        Evaluator.objects.create(test=test, pseudonym="R001", consented_at=timezone.now())
        evaluator = Evaluator.objects.select_related("test").get(pseudonym="R001")
        services.start_screen(evaluator=evaluator, rng=random.Random(1))
        with self.assertNumQueries(2):  # the waiting trial, then its answer
            self.assertEqual(services.answer_check(evaluator=evaluator, answer=1), "next")
        self.assertEqual(ScreenTrial.objects.filter(evaluator=evaluator, answer=1).count(), 1)


class GuessingBotTests(TestCase):
    def test_the_protocol_gives_a_guesser_a_1_8_percent_chance(self):
        self.assertAlmostEqual(guess_pass_probability(6, 5), 13 / 729)  # 12 ways to get 5, 1 to get 6
        self.assertAlmostEqual(100 * guess_pass_probability(6, 5), 1.8, places=1)
        self.assertAlmostEqual(guess_pass_probability(6, 6), (1 / 3) ** 6)

    def test_with_the_retry_at_six_of_six_a_guesser_passes_the_screen_with_a_1_9_percent_chance(self):
        first, retry = Fraction(13, 729), Fraction(1, 729)  # at least 5 of 6, then 6 of 6
        self.assertAlmostEqual(
            guess_pass_probability(6, 5, retry_allowed=True), float(first + (1 - first) * retry)
        )
        self.assertAlmostEqual(100 * guess_pass_probability(6, 5, retry_allowed=True), 1.9, places=1)
        four = Fraction(1, 81)  # 4 of 4, twice
        self.assertAlmostEqual(
            guess_pass_probability(4, 4, retry_allowed=True), float(four + (1 - four) * four)
        )

    def test_guessing_bots_through_the_services_pass_at_the_binomial_rate(self):
        """Seeded bots answering at random through the real screen: passes within a 99.9 % binomial range."""
        test = build_test()
        n_bots, rng = 1000, random.Random(2017)
        now = timezone.now()
        Evaluator.objects.bulk_create(
            Evaluator(test=test, pseudonym=f"B{i:04d}", consented_at=now) for i in range(n_bots)
        )
        outcomes = []
        for evaluator in test.evaluators.select_related("test"):
            services.start_screen(evaluator=evaluator, rng=rng)
            outcome = "next"
            while outcome == "next":
                outcome = services.answer_check(evaluator=evaluator, answer=rng.randint(1, 3))
            outcomes.append(outcome)
        p = guess_pass_probability(6, 5)
        low, high = stats.binom.interval(0.999, n_bots, p)
        self.assertTrue(low <= outcomes.count("passed") <= high, (outcomes.count("passed"), low, high))
        self.assertEqual(outcomes.count("passed") + outcomes.count("failed"), n_bots)
        self.assertEqual(ScreenTrial.objects.filter(evaluator__test=test).count(), 6 * n_bots)


class ScreenSettingsAndResultsTests(TestCase):
    def test_a_pass_mark_above_the_trial_count_is_refused(self):
        test = ListeningTest(screen_trials=6, screen_pass_mark=7, screen_out_code="A", screen_out_url="")
        with self.assertRaises(ValidationError):
            test.clean()

    def test_a_screen_out_code_disagreeing_with_its_url_is_refused(self):
        test = ListeningTest(screen_out_code="AAAA", screen_out_url="https://x.example/done?cc=BBBB")
        with self.assertRaisesRegex(ValidationError, "BBBB"):
            test.clean()

    def test_the_create_page_shows_the_screen_settings_and_a_guessers_chance(self):
        self.client.force_login(make_admin())
        response = self.client.get(reverse("annotations:test_new"))
        for text in ("Headphone screen trials", "Headphone screen pass mark", "Screen-out URL", "1.8 %"):
            self.assertContains(response, text)
        self.assertContains(response, "with the retry, which asks for 6 of 6, 1.9 %")

    def test_the_dashboard_and_summary_give_a_guessers_chance_for_the_screen_as_configured(self):
        self.client.force_login(make_researcher())
        for trials, pass_mark, retry, percent in ((6, 5, False, 1.8), (6, 5, True, 1.9), (4, 4, True, 2.5)):
            with self.subTest(trials=trials, pass_mark=pass_mark, retry=retry):
                name = f"screen-{trials}-{pass_mark}-{retry}".lower()
                test = build_test(
                    name,
                    samples=make_samples(set_name=name),
                    screen_trials=trials,
                    screen_pass_mark=pass_mark,
                    screen_retry_allowed=retry,
                )
                page = self.client.get(reverse("results:test", args=[test.pk]))
                self.assertContains(
                    page,
                    f"A listener guessing at random (1 in 3 per trial) passes this screen with probability "
                    f"{percent} % (Woods et al. 2017)",
                )
                summary = exports.summary_json(results.test_results(test))["headphone_screen"]
                self.assertEqual(summary["guess_pass_percent"], percent)

    def test_the_dashboard_and_exports_show_each_raters_screen(self):
        test = build_test(screen_out_code=SCREEN_OUT, ratings_per_sample=3)
        passing, failing = services.invite_evaluators(test=test, count=2)
        walk_to_rating(self.client, passing)
        self.client.post(session_url(passing, "rate"), {})
        client = self.client_class()
        client.post(session_url(failing, "consent"), {"agree": "1"})
        take_screen(client, failing, wrong=2)
        rated = Rating.objects.create(
            evaluator=passing,
            sample=passing.assignments.first().presented_clips()[0].test_sample.sample,
            score=4,
        )
        self.client.force_login(make_researcher())
        page = self.client.get(reverse("results:test", args=[test.pk]))
        self.assertContains(page, "Headphone screen: <strong>1</strong> passed of 2 who took it (50.0 %)")
        self.assertContains(page, "Woods et al. 2017, pass at 5 of 6")
        self.assertContains(page, "failed</span> 4/6")
        self.assertContains(page, '<span class="note">failed the headphone screen (4/6)</span>')
        rows = list(tables.rating_rows(test, results.current_screening(test)))
        self.assertEqual(len(rows), 1)
        screen = dict(zip(tables.RATING_COLUMNS, rows[0], strict=True))
        self.assertEqual(
            (screen["screen_result"], screen["screen_correct"], screen["screen_attempts"]),
            ("passed", "6/6", 1),
        )
        summary = exports.summary_json(results.test_results(test))["headphone_screen"]
        self.assertEqual((summary["passed"], summary["took"]), (1, 2))
        self.assertEqual(
            {row["evaluator"]: row["screen_result"] for row in summary["raters"]},
            {passing.pseudonym: "passed", failing.pseudonym: "failed"},
        )
        self.assertEqual(rated.evaluator_id, passing.pk)
