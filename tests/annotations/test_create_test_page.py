import re

from django.test import TestCase
from django.urls import reverse

from annotations.models import ListeningTest, Scale
from synthesis.models import Sample
from tests.factories import make_admin, make_run_with_samples, make_sample

NEW = "/t/manage/new/"
PROLIFIC = "https://app.prolific.com/submissions/complete?cc=WALK123"


class CreateTestPageTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.run, self.samples = make_run_with_samples()
        self.reference = make_sample(system_label="human", origin=Sample.Origin.REFERENCE, freq=600)

    def form_data(self, **changes) -> dict:
        data = {
            "name": "mos-1",
            "runs": [self.run.pk],
            "scale": Scale.objects.get(name="acr-es").pk,
            "dimensions": "overall, clarity",
            "ratings_per_sample": 8,
            "samples_per_session": 4,
            "gold_per_session": 1,
            "traps_per_session": 0,
            "min_rater_overlap": 5,
            "language": "es",
            "instructions": "Escuche con atención.",
        }
        data.update(changes)
        return data

    def test_the_page_lists_the_runs_clips_with_a_player_text_system_style_and_role_boxes(self):
        page = self.client.get(f"{NEW}?run={self.run.pk}")
        self.assertContains(page, "Clips (6)")
        for sample in self.samples:
            self.assertContains(page, f'src="{reverse("synthesis:sample_audio", args=[sample.pk])}"')
            for role in ("gold", "traps", "training"):
                self.assertContains(page, f'name="{role}" value="{sample.pk}"')
            self.assertContains(page, f'name="score-{sample.pk}" value="5"')
        self.assertContains(page, "<td>The cat sat on the mat.</td>", count=2, html=True)
        self.assertContains(page, "<td>warm</td>", count=3, html=True)
        self.assertContains(page, "<td>sys-a</td>", count=6, html=True)
        self.assertContains(page, "run run-a")
        self.assertNotContains(page, f'name="gold" value="{self.reference.pk}"')

    def test_show_clips_lists_the_ticked_runs_and_systems_and_keeps_what_was_entered(self):
        data = self.form_data(systems=["human"], name="", instructions="Keep me.", show_clips="1")
        page = self.client.post(NEW, data)
        self.assertContains(page, "Clips (7)")
        self.assertContains(page, f'name="gold" value="{self.reference.pk}"')
        self.assertContains(page, "Keep me.")
        self.assertNotContains(page, "This field is required")
        self.assertFalse(ListeningTest.objects.exists())

    def test_a_researcher_picks_gold_trap_and_practice_clips_by_ticking_them(self):
        first, second, third = self.samples[:3]
        data = self.form_data(
            systems=["human"],
            references_as_gold="on",
            gold=[first.pk],
            traps=[second.pk],
            training=[third.pk],
            **{f"score-{first.pk}": "1", f"score-{second.pk}": "2", f"score-{third.pk}": "4"},
            platform_code="WALK123",
            completion_url=PROLIFIC,
        )
        response = self.client.post(NEW, data)
        test = ListeningTest.objects.get(name="mos-1")
        self.assertRedirects(response, reverse("annotations:test_detail", args=[test.pk]))
        clips = {clip.sample_id: clip for clip in test.test_samples.all()}
        self.assertEqual((clips[first.pk].kind, clips[first.pk].expected_score), ("gold", 1))
        self.assertEqual((clips[second.pk].kind, clips[second.pk].instructed_score), ("trap", 2))
        self.assertEqual(clips[third.pk].kind, "training")
        self.assertEqual(
            (clips[self.reference.pk].kind, clips[self.reference.pk].expected_score), ("gold", 5)
        )
        self.assertEqual([clip.kind for clip in clips.values()].count("test"), 3)
        self.assertEqual((test.language, test.dimensions, test.state), ("es", ["overall", "clarity"], "open"))
        self.assertEqual((test.platform_code, test.completion_url), ("WALK123", PROLIFIC))

    def test_visitors_without_a_participant_id_are_refused_by_default_once_a_completion_code_is_set(self):
        page = self.client.get(NEW).content.decode()
        field = re.search(r'<select name="allow_no_participant_id"[^>]*>(.*?)</select>', page, re.S)
        self.assertIsNotNone(field)
        self.assertIn(
            '<option value="unknown" selected>Only without a platform completion code or URL</option>',
            field.group(1),
        )
        for name, changes, accepted in (
            ("plain", {}, True),
            ("coded", {"platform_code": "WALK123"}, False),
            ("url", {"completion_url": PROLIFIC}, False),
            ("coded-yes", {"platform_code": "WALK123", "allow_no_participant_id": "true"}, True),
            ("plain-no", {"allow_no_participant_id": "false"}, False),
        ):
            with self.subTest(name):
                self.client.post(NEW, self.form_data(name=name, **changes))
                self.assertEqual(ListeningTest.objects.get(name=name).allow_no_participant_id, accepted)

    def test_gold_and_trapping_clips_need_a_score(self):
        first, second = self.samples[:2]
        response = self.client.post(NEW, self.form_data(gold=[first.pk], traps=[second.pk]))
        self.assertContains(response, f"Clip {first.pk} is a gold clip: choose the score it should get.")
        self.assertContains(response, f"Clip {second.pk} is a trapping clip: choose the score it asks for.")
        self.assertFalse(ListeningTest.objects.exists())

    def test_a_refused_submit_lists_every_error_at_the_top_linked_to_its_field(self):
        first = self.samples[0]
        data = self.form_data(name="", ratings_per_sample=0, gold=[first.pk])
        page = self.client.post(NEW, data).content.decode()
        summary = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', page, re.S)
        self.assertIsNotNone(summary, "no error summary on the page")
        self.assertIn('id="error-summary"', summary.group(0))
        self.assertIn('role="alert"', summary.group(0))
        self.assertIn('tabindex="-1"', summary.group(0))
        links = re.findall(r'<a href="#([^"]+)">([^<]*)</a>', summary.group(1))
        self.assertEqual(
            links,
            [
                ("id_name", "Name: This field is required."),
                (f"clip-{first.pk}", f"Clip {first.pk} is a gold clip: choose the score it should get."),
                (
                    "id_ratings_per_sample",
                    "Ratings per sample: Ensure this value is greater than or equal to 1.",
                ),
            ],
        )
        # Every anchor is on the page: the field's input, or the clip's row in the list.
        for anchor, _ in links:
            self.assertIn(f'id="{anchor}"', page)
        # The summary comes before the form's first field, and a script moves the focus to it.
        self.assertLess(page.index('id="error-summary"'), page.index('name="name"'))
        self.assertIn("js/test_new.js", page)
        self.assertFalse(ListeningTest.objects.exists())

    def test_a_page_without_errors_has_no_summary(self):
        page = self.client.get(f"{NEW}?run={self.run.pk}")
        self.assertNotContains(page, "error-summary")

    def test_trapping_clips_per_session_without_a_trapping_clip_ticked_are_refused(self):
        response = self.client.post(NEW, self.form_data(traps_per_session=1))
        self.assertEqual(
            response.context["form"].errors["traps_per_session"],
            [
                "No trapping clip is ticked in the list of clips: set this to 0, or tick the trapping clips "
                "(each with the score it asks for)."
            ],
        )
        self.assertFalse(ListeningTest.objects.exists())
        self.client.post(NEW, self.form_data(traps_per_session=0))
        self.assertEqual(ListeningTest.objects.get(name="mos-1").traps_per_session, 0)
        trap = self.samples[0]
        data = self.form_data(name="mos-2", traps_per_session=1, traps=[trap.pk], **{f"score-{trap.pk}": "2"})
        self.client.post(NEW, data)
        self.assertEqual(ListeningTest.objects.get(name="mos-2").test_samples.get(kind="trap").sample, trap)

    def test_a_clip_ticked_for_two_roles_is_refused(self):
        clip = self.samples[0]
        data = self.form_data(gold=[clip.pk], training=[clip.pk], **{f"score-{clip.pk}": "5"})
        response = self.client.post(NEW, data)
        self.assertContains(response, f"Clip {clip.pk} is ticked as gold and practice; give it one role.")
        self.assertFalse(ListeningTest.objects.exists())

    def test_only_listed_clips_can_be_ticked(self):
        data = self.form_data(gold=[self.reference.pk], **{f"score-{self.reference.pk}": "5"})
        response = self.client.post(NEW, data)
        self.assertContains(
            response, f"Select a valid choice. {self.reference.pk} is not one of the available"
        )
        self.assertFalse(ListeningTest.objects.exists())

    def test_a_platform_code_that_disagrees_with_the_completion_url_is_refused(self):
        response = self.client.post(NEW, self.form_data(platform_code="OTHER99", completion_url=PROLIFIC))
        self.assertContains(response, "carries the code &#x27;WALK123&#x27; but the platform code is")
        self.assertFalse(ListeningTest.objects.exists())

    def test_the_scale_must_speak_the_interface_language(self):
        data = self.form_data(scale=Scale.objects.get(name="acr-en").pk)
        response = self.client.post(NEW, data)
        self.assertContains(
            response, "This scale&#x27;s labels are in &#x27;en&#x27;; choose one in &#x27;es&#x27;."
        )
        self.assertFalse(ListeningTest.objects.exists())

    def test_the_form_needs_samples_to_rate(self):
        response = self.client.post(NEW, self.form_data(runs=[]))
        self.assertContains(response, "Choose at least one sample to rate")

    def test_the_method_is_chosen_from_the_registry_and_stored_on_the_test(self):
        from annotations import methods

        page = self.client.get(NEW)
        for method in methods.METHODS.values():
            self.assertContains(page, f'<option value="{method.name}"')
        self.client.post(NEW, self.form_data(method="acr"))
        self.assertEqual(ListeningTest.objects.get(name="mos-1").method, "acr")

    def test_an_unknown_method_is_refused(self):
        response = self.client.post(NEW, self.form_data(method="mushra-that-does-not-exist"))
        self.assertContains(response, "Select a valid choice")
        self.assertFalse(ListeningTest.objects.exists())


class CreatePairTestPageTests(TestCase):
    """CMOS and A/B tests from the page: pairs built from the runs, the method's scale, its settings."""

    def setUp(self):
        self.client.force_login(make_admin())
        # One system in two styles: each sentence makes one pair.
        self.run, self.samples = make_run_with_samples()

    def form_data(self, **changes) -> dict:
        data = {
            "name": "pairs-1",
            "runs": [self.run.pk],
            "scale": "",
            "dimensions": "overall",
            "ratings_per_sample": 8,
            "samples_per_session": 3,
            "gold_per_session": 1,
            "traps_per_session": 1,
            "min_rater_overlap": 5,
            "language": "en",
        }
        data.update(changes)
        return data

    def test_a_cmos_test_gets_one_pair_per_sentence_and_the_ccr_scale_of_its_language(self):
        response = self.client.post(NEW, self.form_data(method="cmos", language="es"))
        test = ListeningTest.objects.get(name="pairs-1")
        self.assertRedirects(response, reverse("annotations:test_detail", args=[test.pk]))
        self.assertEqual((test.method, test.scale.name, test.dimensions), ("cmos", "ccr-es", ["cmos"]))
        self.assertEqual(test.trials.count(), 3)
        self.assertEqual(
            sorted(test.trials.values_list("trial_clips__role", flat=True)), ["X", "X", "X", "Y", "Y", "Y"]
        )

    def test_an_ab_test_stores_its_repeat_share_and_whether_no_preference_is_offered(self):
        self.client.post(NEW, self.form_data(method="ab", repeat_share="0.25"))
        test = ListeningTest.objects.get(name="pairs-1")
        self.assertEqual(
            (test.scale.name, test.repeat_share, test.allow_no_preference), ("ab-en", 0.25, False)
        )
        self.client.post(NEW, self.form_data(name="pairs-2", method="ab", allow_no_preference="on"))
        test = ListeningTest.objects.get(name="pairs-2")
        self.assertEqual((test.repeat_share, test.allow_no_preference), (0.1, True))

    def test_the_page_offers_the_pair_settings_and_defaults_no_preference_on(self):
        page = self.client.get(NEW)
        self.assertContains(page, 'name="repeat_share" value="0.1"')
        self.assertContains(page, 'id="id_allow_no_preference" checked')
        self.assertContains(page, "The method&#x27;s default for the language")

    def test_a_scale_that_does_not_fit_the_method_is_refused_with_the_one_to_choose(self):
        acr = Scale.objects.get(name="acr-en").pk
        response = self.client.post(NEW, self.form_data(method="cmos", scale=acr))
        self.assertContains(response, "The scale acr-en runs from 1 to 5, but a CMOS answer")
        self.assertContains(response, "Choose ccr-en.")
        response = self.client.post(
            NEW, self.form_data(method="ab", scale=Scale.objects.get(name="ccr-en").pk)
        )
        self.assertContains(response, "an A/B answer is -1 (A), 0 (no preference) or +1 (B)")
        self.assertFalse(ListeningTest.objects.exists())

    def test_sentences_without_a_second_condition_are_refused_as_making_no_pairs(self):
        human = make_sample(system_label="human", origin=Sample.Origin.REFERENCE, freq=600)
        Sample.objects.filter(pk=human.pk).update(text="Only me.")
        response = self.client.post(NEW, self.form_data(method="ab", runs=[], systems=["human"]))
        self.assertContains(response, "No pairs for 1 of 1 sentence(s), e.g. “Only me.”")
        self.assertFalse(ListeningTest.objects.exists())

    def test_pair_methods_list_the_clips_without_gold_and_trap_boxes_and_refuse_gold(self):
        page = self.client.post(NEW, self.form_data(method="cmos", show_clips="1"))
        self.assertContains(page, "Pairs are built from the clips listed")
        self.assertContains(page, f'name="training" value="{self.samples[0].pk}"')
        self.assertNotContains(page, 'name="gold"')
        self.assertNotContains(page, 'name="traps"')
        # Gold clips ticked while another method was chosen are refused, the clip list being the method's.
        gold = self.samples[0]
        response = self.client.post(
            NEW, self.form_data(method="cmos", gold=[gold.pk], **{f"score-{gold.pk}": "5"})
        )
        self.assertContains(response, "tests take no gold or trapping clips: a pair has no known answer")
        self.assertFalse(ListeningTest.objects.exists())
