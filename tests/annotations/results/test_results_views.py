"""Results pages: who may see them, what the dashboards show, and how they update without reloading."""

from datetime import timedelta

from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from annotations.models import Evaluator, ListeningTest, Trial
from annotations.results import charts
from annotations.roles import ADMINS
from annotations.services import build_trials
from synthesis.models import RunItem, Sample, Sentence, StylePreset, SynthesisRun
from tests.factories import (
    SCORES,
    VAR_DIR,
    build_design,
    give,
    make_admin,
    make_config,
    make_researcher,
    make_sentence_set,
    make_user,
    rate_all,
)


@override_settings(VAR_DIR=VAR_DIR)
class AccessTests(TestCase):
    def setUp(self):
        self.test, clips = build_design()
        rate_all(self.test, clips, SCORES)
        self.run = SynthesisRun.objects.create(name="r", config=make_config())
        pk = self.test.pk
        self.pages = [
            reverse("results:index"),
            reverse("results:test", args=[pk]),
            reverse("results:test_live", args=[pk]),
            reverse("results:run", args=[self.run.pk]),
        ]
        self.exports = [
            reverse(f"results:test_{name}", args=[pk])
            for name in ("ratings_csv", "summary_csv", "summary_json", "measurements_csv", "report")
        ] + [reverse("results:run_measurements_csv", args=[self.run.pk])]

    def test_a_researcher_can_view_every_dashboard_and_download_every_export(self):
        self.client.force_login(make_researcher())
        for url in self.pages + self.exports:
            response = self.client.get(url)
            self.assertEqual(response.status_code, 200, url)

    def test_members_of_admins_and_superusers_can_too(self):
        for user in (make_user("adam", ADMINS), make_admin()):
            self.client.force_login(user)
            for url in self.pages + self.exports:
                self.assertEqual(self.client.get(url).status_code, 200, url)

    def test_a_user_without_a_group_gets_403(self):
        self.client.force_login(make_user("nobody"))
        for url in self.pages + self.exports:
            self.assertEqual(self.client.get(url).status_code, 403, url)

    def test_anonymous_visitors_and_evaluators_are_sent_to_the_login_page(self):
        evaluator = Evaluator.objects.get(test=self.test, pseudonym="R1")
        # An evaluator only has the token of their invite link; it opens nothing here.
        for url in self.pages + self.exports:
            response = self.client.get(url, {"token": evaluator.token})
            self.assertEqual(response.status_code, 302, url)
            self.assertTrue(response["Location"].startswith(reverse("login")), url)

    def test_the_navigation_links_to_the_results_for_researchers(self):
        self.client.force_login(make_researcher())
        self.assertContains(self.client.get(reverse("synthesis:home")), 'href="/results/"')


@override_settings(VAR_DIR=VAR_DIR)
class TestDashboardTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test, cls.clips = build_design()
        rate_all(cls.test, cls.clips, SCORES)
        cls.researcher = make_researcher()
        cls.url = reverse("results:test", args=[cls.test.pk])

    def setUp(self):
        self.client.force_login(self.researcher)

    def test_it_shows_the_mos_chart_every_ci_method_and_names_crowdmos_as_the_headline(self):
        page = self.client.get(self.url)
        self.assertContains(page, "<svg", count=2)  # MOS with CI whiskers, and the distribution
        self.assertContains(page, "Headline: CrowdMOS 95% CI.")
        self.assertContains(page, "Ribeiro et al. 2011")
        for column in ("± CrowdMOS", "± t (P.1401)", "± normal (P.808)", "Bootstrap 95%", "Before screening"):
            self.assertContains(page, column)

    def test_it_lists_the_excluded_raters_with_their_reason(self):
        page = self.client.get(self.url)
        self.assertContains(page, "<strong>1 excluded:</strong>", html=False)
        self.assertContains(
            page, "<strong>R3</strong>: votes barely vary (variance 0.00 &lt; 0.1)", html=False
        )

    def test_thresholds_from_the_form_change_the_screening(self):
        page = self.client.get(self.url, {"min_variance": "", "min_correlation": "", "gold_tolerance": "1"})
        self.assertContains(page, "No rater excluded.")

    def test_the_live_feed_answers_unchanged_until_a_rating_arrives(self):
        live = reverse("results:test_live", args=[self.test.pk])
        version = self.client.get(self.url).context["version"]
        self.assertEqual(
            self.client.get(live, {"version": version}).json(), {"version": version, "changed": False}
        )
        late = Evaluator.objects.create(test=self.test, pseudonym="R4", last_seen_at=timezone.now())
        give(late, next(iter(self.clips.values())), 5)
        data = self.client.get(live, {"version": version}).json()
        self.assertTrue(data["changed"])
        self.assertEqual(
            set(data["sections"]),
            set(("progress", "mos", "dimensions", "distribution"))
            | {"comparisons", "raters", "agreement", "background"},
        )
        self.assertIn("<strong>19</strong> of 12 ratings collected", data["sections"]["progress"])
        self.assertIn("<strong>1</strong> active", data["sections"]["progress"])

    def test_asking_for_the_background_analysis_queues_one_task(self):
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            response = self.client.post(reverse("results:test_analyse", args=[self.test.pk]))
        self.assertRedirects(response, self.url)
        self.assertEqual(len(callbacks), 1)
        self.assertContains(self.client.get(self.url), "<strong>Queued</strong>")

    def test_the_background_note_says_in_a_whole_sentence_where_the_mixed_models_come_from(self):
        page = self.client.get(self.url)
        self.assertNotContains(page, "The mixed models always do.")
        self.assertContains(
            page, "The mixed models of the comparisons are fitted only by the background analysis"
        )

    def test_the_raters_table_shows_the_minimum_overlap_and_each_raters_shared_clips(self):
        page = self.client.get(self.url)
        self.assertContains(page, "share at least <strong>5</strong> test clips with the others")
        self.assertContains(page, '<th class="num">Shared clips</th>', html=False)
        self.assertNotContains(page, "(too few)")
        # Every rater heard the same 6 clips: a minimum of 7 leaves each of them unjudged.
        ListeningTest.objects.filter(pk=self.test.pk).update(min_rater_overlap=7)
        page = self.client.get(self.url)
        self.assertContains(page, "share at least <strong>7</strong> test clips")
        self.assertContains(page, "(too few)", count=3)
        self.assertTrue(all(row["overlap"] == 6 for row in page.context["r"]["raters"]))

    def test_a_condition_left_without_votes_by_screening_shows_a_dash_for_its_crowdmos_df(self):
        test, clips = build_design("two-systems", systems=("sys-a", "sys-b"))
        ours = {key: clip for key, clip in clips.items() if key[0] == "sys-a"}
        rate_all(test, ours, {"R1": SCORES["R1"], "R2": SCORES["R2"]})
        straight = Evaluator.objects.create(test=test, pseudonym="R3")
        for key, clip in clips.items():
            if key[0] == "sys-b":
                give(straight, clip, 3)
        page = self.client.get(reverse("results:test", args=[test.pk]))
        emptied = [
            row["after"]["crowdmos"] for row in page.context["r"]["conditions"] if row["system"] == "sys-b"
        ]
        self.assertEqual([(crowd["n"], crowd["df"]) for crowd in emptied], [(0, None), (0, None)])
        dimensions = page.content.decode().split("<h2>Every dimension</h2>")[1].split("</table>")[0]
        self.assertNotIn(">-1<", dimensions)
        self.assertIn('<td class="num">–</td>', dimensions)

    def test_it_shows_the_paired_comparison_of_the_two_styles(self):
        page = self.client.get(self.url)
        self.assertContains(page, "sys-a · neutral")
        self.assertContains(page, "sys-a · warm")
        self.assertContains(page, "Holm")


class RunDashboardTests(TestCase):
    SAMPLES = (  # worker, start second, style, text; the first item of each worker is its warm-up
        ("w:1", 0, "neutral", "This is a test"),
        ("w:1", 2, "neutral", "Hello there."),
        ("w:1", 3, "warm", "This is a test"),
        ("w:2", 1, "neutral", "This is a test"),
        ("w:2", 4, "warm", "Hello there."),
    )

    @classmethod
    def setUpTestData(cls):
        cls.researcher = make_researcher()
        cls.synthesis_run = SynthesisRun.objects.create(name="run one", config=make_config())
        sentence_set = make_sentence_set(texts=())
        for position, (worker, start, style_name, text) in enumerate(cls.SAMPLES, start=1):
            sentence = Sentence.objects.create(sentence_set=sentence_set, position=position, text=text)
            style = StylePreset.objects.get(name=style_name)
            item = RunItem.objects.create(
                run=cls.synthesis_run,
                sentence=sentence,
                style=style,
                claimed_by=worker,
                started_at=timezone.now() + timedelta(seconds=start),
            )
            Sample.objects.create(
                run=cls.synthesis_run,
                run_item=item,
                sentence=sentence,
                style=style,
                style_label=style_name,
                system_label="sys",
                text=text,
                recognized_text="this test" if "test" in text else "hello there",
                wer=0.5 if "test" in text else 0.0,
                audio="samples/none.wav",
                duration_s=1.0,
                sample_rate=16000,
                tts_ms=100.0 + start,
                tts_rtf=0.1,
            )

    def setUp(self):
        self.client.force_login(self.researcher)
        self.run = self.synthesis_run  # not a class attribute: it would hide TestCase.run

    def test_it_shows_corpus_wer_with_the_normalisation_named(self):
        page = self.client.get(reverse("results:run", args=[self.run.pk]))
        self.assertContains(page, "<td><strong>english</strong></td>")
        self.assertContains(page, "<dd>Whisper&#x27;s EnglishTextNormalizer (whisper-normalizer")
        self.assertContains(page, "0.4000")  # neutral: 4 deletions over 10 reference words, corpus level

    def test_a_chosen_normalisation_is_used_and_named(self):
        page = self.client.get(reverse("results:run", args=[self.run.pk]), {"norm": "none"})
        self.assertContains(page, "<td><strong>none</strong></td>")
        self.assertContains(page, "<dd>Text compared exactly as written")

    def test_it_shows_latency_percentiles_with_the_method_and_the_warm_up_rule(self):
        page = self.client.get(reverse("results:run", args=[self.run.pk]))
        self.assertContains(page, "linear interpolation (numpy default, Hyndman &amp; Fan type 7)")
        self.assertContains(page, "The first item each worker process finished in this run is left out")
        self.assertContains(page, "(2 samples left out here.)")

    def test_the_live_feed_re_renders_the_run_sections(self):
        data = self.client.get(reverse("results:run_live", args=[self.run.pk])).json()
        self.assertEqual(set(data["sections"]), {"wer", "latency", "dnsmos"})
        again = self.client.get(reverse("results:run_live", args=[self.run.pk]), {"version": data["version"]})
        self.assertFalse(again.json()["changed"])


@override_settings(VAR_DIR=VAR_DIR)
class DownloadNameTests(TestCase):
    def test_every_download_of_a_test_is_named_after_the_test_slugified(self):
        test, clips = build_design("Week 3 MOS")
        rate_all(test, clips, SCORES)
        self.client.force_login(make_researcher())
        for name, suffix in (("summary_json", "summary.json"), ("summary_csv", "summary.csv")):
            response = self.client.get(reverse(f"results:test_{name}", args=[test.pk]))
            self.assertEqual(response["Content-Disposition"], f'attachment; filename="week-3-mos-{suffix}"')
        response = self.client.get(reverse("results:test_summary_json", args=[test.pk]))
        self.assertEqual(response.json()["test"], "Week 3 MOS")


class RunDashboardWithoutSamplesTests(TestCase):
    def setUp(self):
        self.client.force_login(make_researcher())
        sentence = make_sentence_set(texts=("Hello.",)).sentences.get()
        self.run = SynthesisRun.objects.create(
            name="r",
            config=make_config(),
            status="failed",
            total_count=1,
            failed_count=1,
            error="Every item failed; see the items' errors.",
        )
        RunItem.objects.create(
            run=self.run,
            sentence=sentence,
            style=StylePreset.objects.get(name="neutral"),
            status="failed",
            error="The worker process died in the LLM reply stage (llama.cpp): signal 4 (SIGILL).",
        )
        self.url = reverse("results:run", args=[self.run.pk])

    def test_a_failed_run_says_it_failed_and_why_instead_of_waiting_for_samples(self):
        page = self.client.get(self.url)
        self.assertNotContains(page, "yet.</p>")
        self.assertContains(
            page, "<strong>The run failed</strong>: Every item failed; see the items&#x27; errors."
        )
        self.assertContains(page, "1 item: The worker process died in the LLM reply stage (llama.cpp)")
        self.assertContains(page, "No timed samples: the run failed (see above).")

    def test_a_finished_run_without_samples_does_not_say_yet(self):
        SynthesisRun.objects.filter(pk=self.run.pk).update(status="done")
        page = self.client.get(self.url)
        self.assertContains(page, "The run ended without any measured sample.")
        self.assertContains(page, "The run ended without any timed sample.")
        self.assertNotContains(page, "No measured samples yet.")

    def test_a_running_run_still_waits_for_its_first_sample(self):
        SynthesisRun.objects.filter(pk=self.run.pk).update(status="running")
        self.assertContains(self.client.get(self.url), "No measured samples yet.")


class ChartTests(TestCase):
    def test_labels_are_escaped(self):
        svg = charts.mos_chart(
            [{"label": "<script>x</script>", "mos": 3.5, "low": 3.1, "high": 3.9}], title="A & B"
        )
        self.assertNotIn("<script>", svg)
        self.assertIn("&lt;script&gt;", svg)
        self.assertIn("A &amp; B", svg)

    def test_a_chart_without_data_says_so(self):
        self.assertIn("no ratings yet", charts.distribution_chart([], title="Scores", points=[1, 2, 3, 4, 5]))


def give_timed(
    evaluator: Evaluator, clips: dict, scores: list[int], *, waits: list[float], plays=None, gap=1.5
) -> None:
    """One-clip trials answered in order with server timings: each answer `wait` s after the clip's end."""
    clock = timezone.now() - timedelta(hours=1)
    for n, (clip, score, wait) in enumerate(zip(clips.values(), scores, waits, strict=True)):
        play = plays[n] if plays else 1
        received = clock + timedelta(seconds=clip.sample.duration_s * play + wait)
        trial = Trial.objects.get(trial_clips__test_sample=clip)
        give(
            evaluator,
            clip,
            score,
            trial=trial,
            first_fetch_at=clock,
            fetch_count=play,
            play_count=play,
            server_play_count=play,
        )
        evaluator.ratings.filter(trial=trial).update(received_at=received, created_at=received)
        clock = received + timedelta(seconds=gap)


@override_settings(VAR_DIR=VAR_DIR)
class ScreeningByTimingTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test, cls.clips = build_design()
        build_trials(test=cls.test)
        for pseudonym in ("R1", "R2"):
            person = Evaluator.objects.create(test=cls.test, pseudonym=pseudonym)
            waits = [1.4, 2.8, 1.1, 3.5, 2.0, 1.7]
            give_timed(person, cls.clips, SCORES[pseudonym], waits=waits, plays=[1, 2, 1, 1, 1, 1])
        # A script that fetches each clip, waits its length and answers a few ms later, agreeing
        # with the others so that only the timing rules can see it.
        bot = Evaluator.objects.create(test=cls.test, pseudonym="R4")
        give_timed(bot, cls.clips, SCORES["R1"], waits=[0.004] * 6, gap=0.01)
        rate_all(cls.test, cls.clips, {"R5": SCORES["R2"]})  # imported: no trial, no server timings
        cls.researcher = make_researcher()
        cls.url = reverse("results:test", args=[cls.test.pk])

    def setUp(self):
        self.client.force_login(self.researcher)

    def test_a_fetch_and_wait_script_is_excluded_with_its_timing_reasons(self):
        page = self.client.get(self.url)
        excluded = {row["pseudonym"]: row for row in page.context["r"]["excluded"]}
        self.assertEqual(list(excluded), ["R4"])
        self.assertEqual(excluded["R4"]["flags"], ["answers_at_minimum", "session_at_audio_length"])
        self.assertContains(
            page, "<strong>R4</strong>: answered 6 of 6 trials within 0.5 s of the least time", html=False
        )
        self.assertContains(page, "finished in 6 s, 1.01× the 6 s of audio (at most 1.1× is flagged)")

    def test_imported_ratings_are_marked_and_kept(self):
        page = self.client.get(self.url)
        imported = next(row for row in page.context["r"]["raters"] if row["pseudonym"] == "R5")
        self.assertEqual((imported["excluded"], imported["notes"]), (False, ["no server timings: imported"]))
        self.assertContains(page, '<span class="note">no server timings: imported</span>', html=False)

    def test_the_timing_thresholds_are_on_the_page_and_can_be_turned_off(self):
        page = self.client.get(self.url)
        self.assertContains(page, 'name="answer_margin_s"')
        self.assertContains(page, "a script that fetches and waits answers within milliseconds")
        off = self.client.get(self.url, {"answer_margin_s": "", "session_margin": ""})
        self.assertEqual(off.context["r"]["excluded"], [])
