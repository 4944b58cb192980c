"""The results dashboard of CMOS and A/B tests: its sections, numbers and citations, the live feed, the
spoken demos, and ACR dashboards left as they were (the simulated demos: test_simulated_demos.py)."""

import io
import random
import re

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint

from annotations import methods
from annotations.demo import AB_NAME, CMOS_NAME, NAME
from annotations.models import ListeningTest, Rating
from annotations.results import services
from tests.factories import (
    CMOS_VOTES,
    SCORES,
    THREE,
    VAR_DIR,
    build_design,
    corrected_by_warmth,
    evaluator_at_rating,
    judge,
    make_researcher,
    rate_all,
    rated_ab_test,
    rated_cmos_test,
)


def section_texts(page) -> str:
    """The page's text without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())


@override_settings(VAR_DIR=VAR_DIR)
class CmosDashboardTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = rated_cmos_test()
        cls.researcher = make_researcher()
        cls.url = reverse("results:test", args=[cls.test.pk])

    def setUp(self):
        self.client.force_login(self.researcher)

    def test_it_shows_the_cmos_of_the_pair_with_its_intervals_each_with_its_method_cited(self):
        page = self.client.get(self.url)
        votes = np.array([v for values in CMOS_VOTES.values() for v in values], dtype=float)
        low, high = scipy_stats.t.interval(
            0.95, votes.size - 1, loc=votes.mean(), scale=scipy_stats.sem(votes)
        )
        self.assertContains(page, f'<td class="num headline">{votes.mean():.3f}</td>', html=False)
        self.assertContains(page, f"[{low:.3f}, {high:.3f}]")
        for citation in (
            "ITU-T P.800 Annex E",
            "two-way bootstrap, raters × sentences (Owen 2007)",
            "assumes independent votes (Student 1908)",
            "Wilcoxon 1945",
            "Welch 1947",
            "Bradley &amp; Terry 1952; Davidson 1970",
        ):
            self.assertContains(page, citation)
        self.assertNotContains(page, "MOS per condition")

    def test_the_sections_are_the_methods_own_and_the_forest_plots_carry_their_numbers(self):
        page = self.client.get(self.url)
        self.assertEqual(
            page.context["sections"], ("progress", "cmos", "ranking", "pair_raters", "pair_background")
        )
        text = section_texts(page)
        for heading in (
            "Progress",
            "CMOS per pair of conditions",
            "Ranking of every condition",
            "Raters and screening",
        ):
            self.assertIn(heading, text)
        self.assertIn("9 of 297 ratings collected", text)  # 3 pairs × 99 wanted
        self.assertIn("0 of 3 pairs have their 99 ratings", text)
        self.assertContains(page, "<svg", count=2)  # the CMOS per pair and the ranking
        [warm] = [row for row in page.context["r"]["pairs"]["ranking"]["systems"] if row["rank"] == 1]
        self.assertEqual(warm["label"], "sys-a · warm")
        self.assertContains(
            page, f"1. sys-a · warm: {warm['strength']:.2f}, 95% CI {warm['low']:.2f} to {warm['high']:.2f}"
        )

    def test_the_screening_form_leaves_out_the_settings_a_pair_test_does_not_use(self):
        page = self.client.get(self.url)
        self.assertNotIn("min_correlation", page.context["form"].fields)
        self.assertNotIn("gold_tolerance", page.context["form"].fields)
        self.assertIn("min_variance", page.context["form"].fields)

    def test_the_live_feed_re_renders_the_pair_sections(self):
        live = reverse("results:test_live", args=[self.test.pk])
        data = self.client.get(live, {"version": "old"}).json()
        self.assertEqual(
            set(data["sections"]), {"progress", "cmos", "ranking", "pair_raters", "pair_background"}
        )
        self.assertIn("Headline: CMOS with its 95% CI", data["sections"]["cmos"])


@override_settings(VAR_DIR=VAR_DIR)
class PreferenceDashboardTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = rated_ab_test()
        cls.researcher = make_researcher()

    def setUp(self):
        self.client.force_login(self.researcher)
        self.page = self.client.get(reverse("results:test", args=[self.test.pk]))

    def test_it_shows_the_counts_the_wilson_intervals_and_the_sign_test_with_no_preference_apart(self):
        [pair] = self.page.context["r"]["pairs"]["pairs"]
        s = pair["after"]
        # R001: 2 ties, 2 for neutral, 8 for warm; R002: 12 for neutral.
        self.assertEqual((s["n"], s["wins_x"], s["wins_y"], s["ties"]), (24, 14, 8, 2))
        low, high = proportion_confint(8, 22, method="wilson")
        share = f'{8 / 22:.3f} [{low:.3f}, {high:.3f}] <span class="note">(8/22)</span>'
        self.assertContains(self.page, share, html=False)
        low, high = proportion_confint(2, 24, method="wilson")
        self.assertContains(self.page, f"{2 / 24:.3f} [{low:.3f}, {high:.3f}]")
        p = scipy_stats.binomtest(8, 22).pvalue
        self.assertContains(self.page, f"{p:.4f}")
        for citation in (
            "Wilson 1927",
            "exact binomial, ties excluded (Dixon &amp; Mood 1946)",
            "Davidson 1970",
        ):
            self.assertContains(self.page, citation)

    def test_the_consistency_of_each_rater_on_the_repeats_is_shown_with_the_screening_rule(self):
        text = section_texts(self.page)
        self.assertIn("Rater consistency on repeated pairs", text)
        self.assertIn("2 of 2 repeated pairs answered as the first time", text)
        self.assertEqual(
            self.page.context["sections"],
            ("progress", "preference", "consistency", "ranking", "pair_raters", "pair_background"),
        )
        self.assertIn("too few repeats to judge", text)  # one repeat each; the rule needs two


@override_settings(VAR_DIR=VAR_DIR)
class StoredPairAnalysisTests(TestCase):
    """The pair analysis (screening, the statistics of each pair, the ranking) runs when the ratings or the
    screening settings change and is stored as an Analysis row; other views read it."""

    @classmethod
    def setUpTestData(cls):
        cls.researcher = make_researcher()

    def setUp(self):
        self.client.force_login(self.researcher)

    def view(self, test, **query):
        page = self.client.get(reverse("results:test", args=[test.pk]), query)
        self.assertEqual(page.status_code, 200)
        return page

    def stored(self, test) -> list[tuple]:
        return list(test.analyses.values_list("pk", "status", "finished_at", "n_ratings", "thresholds"))

    def answers_read(self, queries) -> int:
        """Queries that read the answers themselves (scores or the server's timings): the analysis's."""
        return sum(
            bool(re.search(r'"annotations_rating"\."(score|first_fetch_at)"', q["sql"])) for q in queries
        )

    def test_a_second_view_reads_the_stored_analysis_and_reads_no_answer(self):
        for test in (rated_cmos_test(), rated_ab_test()):
            with CaptureQueriesContext(connection) as queries:
                first = self.view(test)
            self.assertGreater(self.answers_read(queries), 0, test.method)
            [(pk, status, finished_at, n_ratings, thresholds)] = self.stored(test)
            self.assertEqual(
                (status, n_ratings), ("done", Rating.objects.filter(evaluator__test=test).count())
            )
            with CaptureQueriesContext(connection) as queries:
                second = self.view(test)
            self.assertEqual(self.answers_read(queries), 0, test.method)
            self.assertEqual(
                self.stored(test), [(pk, status, finished_at, n_ratings, thresholds)], test.method
            )
            self.assertEqual(second.context["r"]["pairs"], first.context["r"]["pairs"], test.method)
            self.assertEqual(
                [row["pseudonym"] for row in second.context["r"]["excluded"]],
                [row["pseudonym"] for row in first.context["r"]["excluded"]],
            )

    def test_a_new_answer_makes_the_next_view_compute_the_analysis_again_in_place_of_the_old(self):
        test = rated_cmos_test()
        self.view(test)
        [(old, *_)] = self.stored(test)
        judge(evaluator_at_rating(test, rng=random.Random(9)), corrected_by_warmth(dict.fromkeys(THREE, 3)))
        page = self.view(test)
        [(new, status, _, n_ratings, _)] = self.stored(test)
        self.assertNotEqual(new, old)
        self.assertEqual((status, n_ratings), ("done", 12))
        self.assertEqual(page.context["r"]["pairs"]["pairs"][0]["after"]["n"], 12)

    def test_other_screening_settings_are_computed_and_stored_in_place_of_the_default_ones(self):
        test = rated_cmos_test()
        self.view(test)
        page = self.view(test, min_variance="2")
        [(_, _, _, _, thresholds)] = self.stored(test)
        self.assertEqual(thresholds["min_variance"], 2)
        self.assertEqual(page.context["r"]["screening"].thresholds.min_variance, 2)


@override_settings(VAR_DIR=VAR_DIR, SARAI_RESULTS_INLINE_LIMIT=1)
class LargePairTestTests(TestCase):
    def test_above_the_inline_limit_the_statistics_come_from_the_stored_background_analysis(self):
        test = rated_cmos_test()
        self.client.force_login(make_researcher())
        url = reverse("results:test", args=[test.pk])
        self.assertContains(self.client.get(url), "Pending: for a test this size", count=2)  # CMOS, ranking
        services.run_background_analysis(test=test, thresholds=services.Thresholds())
        page = self.client.get(url)
        self.assertNotContains(page, "Pending: for a test this size")
        mean = np.mean([v for values in CMOS_VOTES.values() for v in values])
        self.assertContains(page, f'<td class="num headline">{mean:.3f}</td>', html=False)
        self.assertContains(page, "Screening from the background analysis")
        self.assertEqual(page.context["r"]["pairs"]["ranking"]["systems"][0]["label"], "sys-a · warm")


@override_settings(VAR_DIR=VAR_DIR)
class AcrDashboardUnchangedTests(TestCase):
    def test_an_acr_test_keeps_its_mos_sections_and_shows_nothing_of_the_pair_methods(self):
        test, clips = build_design()
        rate_all(test, clips, SCORES)
        self.client.force_login(make_researcher())
        page = self.client.get(reverse("results:test", args=[test.pk]))
        self.assertEqual(page.context["sections"], methods.get_method("acr").sections)
        self.assertContains(page, "MOS per condition (overall)")
        self.assertContains(page, "6 of 6 test clips have their")
        self.assertIn("min_correlation", page.context["form"].fields)
        for pair_heading in ("CMOS per pair", "A/B preference", "Ranking of every condition"):
            self.assertNotContains(page, pair_heading)


@override_settings(VAR_DIR=VAR_DIR)
@pytest.mark.models
class SpokenPairDemoTests(TestCase):
    def test_a_fresh_install_gets_the_three_demos_with_the_pair_results_printed(self):
        out = io.StringIO()
        call_command("simulate_ratings", sentences=4, raters=8, stdout=out)
        output = out.getvalue()
        for name in (NAME, CMOS_NAME, AB_NAME):
            self.assertTrue(ListeningTest.objects.filter(name=name).exists(), name)
            self.assertIn(f"Created {name}", output)
        self.assertIn("piper-joe-medium · warm over piper-joe-medium · neutral: CMOS", output)
        self.assertIn("of answers choosing a clip (Wilson); true 0.70", output)
