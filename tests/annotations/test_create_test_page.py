from django.test import TestCase
from django.urls import reverse

from annotations.models import ListeningTest, Scale
from synthesis.models import Sample
from tests.annotations.helpers import make_clip, make_run_with_samples
from tests.factories import make_admin

NEW = "/t/manage/new/"
PROLIFIC = "https://app.prolific.com/submissions/complete?cc=WALK123"


class CreateTestPageTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.run, self.samples = make_run_with_samples()
        self.reference = make_clip(system_label="human", origin=Sample.Origin.REFERENCE, freq=600)

    def form_data(self, **changes) -> dict:
        data = {
            "name": "mos-1",
            "runs": [self.run.pk],
            "scale": Scale.objects.get(name="acr-es").pk,
            "dimensions": "overall, clarity",
            "ratings_per_sample": 8,
            "samples_per_session": 4,
            "gold_per_session": 1,
            "traps_per_session": 1,
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

    def test_gold_and_trapping_clips_need_a_score(self):
        first, second = self.samples[:2]
        response = self.client.post(NEW, self.form_data(gold=[first.pk], traps=[second.pk]))
        self.assertContains(response, f"Clip {first.pk} is a gold clip: choose the score it should get.")
        self.assertContains(response, f"Clip {second.pk} is a trapping clip: choose the score it asks for.")
        self.assertFalse(ListeningTest.objects.exists())

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
