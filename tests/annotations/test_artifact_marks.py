"""Artifact marks: stored once with the answer, checked against the clip and the test's labels, offered
on the page only where the test has labels, and only for one-clip methods."""

from io import StringIO

from django.core.management import call_command
from django.test import TestCase

from annotations import services
from annotations.models import ArtifactMark, ListeningTest, Rating, Scale
from tests.annotations.helpers import answer_for, session_url, walk_to_rating
from tests.factories import build_test, heard, make_admin, make_run_with_samples, make_samples

LABELS = ["click", "robotic"]


class StoringMarksTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(artifact_labels=LABELS, samples_per_session=2)
        cls.evaluator = services.invite_evaluators(test=cls.test, count=1)[0]
        cls.clips = [a.presented_clips()[0].test_sample for a in services.assign(evaluator=cls.evaluator)]
        heard(cls.evaluator, *cls.clips)

    def submit(self, marks):
        return services.submit_rating(
            evaluator=self.evaluator,
            sample_token=self.clips[0].token,
            scores={"overall": 4},
            played_to_end=True,
            play_count=1,
            time_to_answer_ms=900,
            marks=marks,
        )

    def assertRefused(self, marks, message):
        with self.assertRaisesMessage(services.RatingRefused, message) as raised:
            self.submit(marks)
        self.assertEqual(raised.exception.code, "bad_mark")
        self.assertFalse(Rating.objects.exists())
        self.assertFalse(ArtifactMark.objects.exists())

    def test_marks_are_stored_with_the_answer_and_a_resend_stores_nothing_twice(self):
        self.submit([(0.1, 0.3, "click"), (0.25, 0.5, "")])
        self.submit([(0.1, 0.3, "click"), (0.25, 0.5, "")])
        rows = ArtifactMark.objects.values_list("test_sample", "start_s", "end_s", "label")
        self.assertEqual(
            sorted(rows), [(self.clips[0].pk, 0.1, 0.3, "click"), (self.clips[0].pk, 0.25, 0.5, "")]
        )
        self.assertEqual(Rating.objects.count(), 1)
        self.assertEqual({m.trial_id for m in ArtifactMark.objects.all()}, {Rating.objects.get().trial_id})

    def test_a_mark_past_the_end_of_the_clip_is_refused_and_nothing_is_stored(self):
        self.assertRefused([(0.2, 3.0, "click")], "outside the clip")

    def test_a_mark_ending_before_it_starts_is_refused(self):
        self.assertRefused([(0.4, 0.2, "click")], "outside the clip")

    def test_a_label_not_in_the_tests_list_is_refused(self):
        self.assertRefused([(0.1, 0.2, "hiss")], "not one of the test's")

    def test_more_than_fifty_marks_are_refused(self):
        self.assertRefused([(0.1, 0.2, "")] * 51, "at most 50")

    def test_a_mark_a_little_past_the_end_is_kept_and_ends_at_the_clip_end(self):
        self.submit([(0.4, 0.7, "")])
        self.assertEqual(ArtifactMark.objects.get().end_s, self.clips[0].sample.duration_s)

    def test_a_test_without_labels_takes_no_marks(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(artifact_labels=[])
        self.evaluator.refresh_from_db()
        self.assertRefused([(0.1, 0.2, "")], "takes no artifact marks")


class CreatingTests(TestCase):
    def test_labels_are_trimmed_and_kept_for_a_one_clip_method(self):
        test = build_test(artifact_labels=[" click", "robotic ", "", "click"])
        self.assertEqual(test.artifact_labels, ["click", "robotic"])

    def test_a_method_with_several_clips_per_page_refuses_labels(self):
        samples = make_samples(systems=("sys-a", "sys-b"))
        with self.assertRaisesMessage(services.TestCreationError, "artifact marks are for one-clip methods"):
            build_test("pairs", samples=samples, scale=None, method="cmos", artifact_labels=["click"])
        self.assertFalse(ListeningTest.objects.exists())

    def test_the_create_test_command_takes_the_labels(self):
        make_samples()
        call_command(
            "create_test",
            "--name",
            "marks-cmd",
            "--system",
            "sys-a",
            "--artifact-labels",
            "click,mispronunciation,robotic,noise",
            stdout=StringIO(),
        )
        test = ListeningTest.objects.get(name="marks-cmd")
        self.assertEqual(test.artifact_labels, ["click", "mispronunciation", "robotic", "noise"])


class RatingPageTests(TestCase):
    def start(self, labels, name="mos-test", **options):
        samples = make_samples(set_name=f"set-{name}")
        test = build_test(name, samples=samples, artifact_labels=labels, samples_per_session=2, **options)
        evaluator = services.invite_evaluators(test=test, count=1)[0]
        walk_to_rating(self.client, evaluator)
        evaluator.refresh_from_db()
        return evaluator, session_url(evaluator, "rate")

    def test_the_page_offers_marking_with_the_tests_labels_only_when_it_has_labels(self):
        _, url = self.start(LABELS)
        page = self.client.get(url).content.decode()
        self.assertIn("Mark a problem", page)
        self.assertIn('<option value="robotic">robotic</option>', page)
        _, url = self.start([], name="no-marks")
        self.assertNotIn("Mark a problem", self.client.get(url).content.decode())

    def test_marks_posted_with_the_rating_are_stored(self):
        evaluator, url = self.start(LABELS)
        data = answer_for(self.client, evaluator, url, **{"mark-0": "0.10,0.35,click", "mark-1": "0.2,0.4,"})
        self.client.post(url, data)
        self.assertEqual(
            sorted(ArtifactMark.objects.values_list("start_s", "end_s", "label")),
            [(0.1, 0.35, "click"), (0.2, 0.4, "")],
        )

    def test_the_intelligibility_page_offers_marking_and_stores_a_mark_with_the_transcript(self):
        evaluator, url = self.start(LABELS, name="intel-marks", scale=None, method="intelligibility")
        page = self.client.get(url).content.decode()
        self.assertIn("Mark a problem", page)
        self.assertIn("js/marks.js", page)
        data = answer_for(self.client, evaluator, url, **{"mark-0": "0.05,0.30,robotic"})
        self.client.post(url, data)
        rating = Rating.objects.get(evaluator=evaluator, trial__isnull=False)
        self.assertEqual(rating.transcript, "the words I heard")
        self.assertEqual(
            list(ArtifactMark.objects.values_list("trial", "start_s", "end_s", "label")),
            [(rating.trial_id, 0.05, 0.3, "robotic")],
        )

    def test_a_bad_mark_is_refused_with_a_message_and_nothing_is_stored(self):
        evaluator, url = self.start(LABELS)
        data = answer_for(self.client, evaluator, url, **{"mark-0": "0.1,0.2,hiss"})
        response = self.client.post(url, data, HTTP_ACCEPT="application/json")
        self.assertEqual(response.status_code, 400)
        self.assertIn("One of your marks could not be stored", response.json()["error"])
        self.assertFalse(Rating.objects.filter(evaluator=evaluator).exists())
        self.assertFalse(ArtifactMark.objects.exists())

    def test_a_mark_that_is_not_two_times_and_a_label_is_refused(self):
        evaluator, url = self.start(LABELS)
        data = answer_for(self.client, evaluator, url, **{"mark-0": "soon,later,click"})
        response = self.client.post(url, data, HTTP_ACCEPT="application/json")
        self.assertEqual(response.status_code, 400)
        self.assertFalse(Rating.objects.filter(evaluator=evaluator).exists())


class CreatePageTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.run, _ = make_run_with_samples()

    def post(self, method, labels):
        data = {
            "name": f"{method}-marks",
            "method": method,
            "runs": [self.run.pk],
            "dimensions": "overall",
            "ratings_per_sample": 8,
            "samples_per_session": 4,
            "gold_per_session": 0,
            "traps_per_session": 0,
            "min_rater_overlap": 5,
            "language": "en",
            "artifact_labels": labels,
        }
        if method == "acr":
            data["scale"] = Scale.objects.get(name="acr-en").pk
        return self.client.post("/t/manage/new/", data)

    def test_the_create_page_takes_a_comma_separated_list_of_labels(self):
        self.post("acr", "click, robotic ,, noise")
        self.assertEqual(ListeningTest.objects.get().artifact_labels, ["click", "robotic", "noise"])

    def test_the_create_page_ignores_labels_left_in_the_field_for_a_pair_method(self):
        # The labels are a setting of the one-clip methods: the page shows them only for those.
        self.post("cmos", "click")
        self.assertEqual(ListeningTest.objects.get().artifact_labels, [])
