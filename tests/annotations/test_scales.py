"""A scale other than 1 to 5, created as the admin would, carries ratings end to end."""

from django.contrib.auth import get_user_model
from django.test import Client, TestCase
from django.urls import reverse

from annotations import methods, services
from annotations.models import Scale
from annotations.results import services as results_services
from tests.factories import build_test, heard, make_samples


class MinusThreeToThreeScaleTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.admin = get_user_model().objects.create_superuser("admin", password="pw-admin-123")
        client = Client()
        client.force_login(cls.admin)
        labels = ["Much worse", "Worse", "Slightly worse", "Same", "Slightly better", "Better", "Much better"]
        client.post(
            reverse("admin:annotations_scale_add"),
            {
                "name": "cmos-en",
                "title": "Compared with the reference",
                "language": "en",
                "min_value": -3,
                "max_value": 3,
                "labels": str(labels).replace("'", '"'),
            },
        )
        cls.scale = Scale.objects.get(name="cmos-en")
        samples = make_samples(styles=("neutral",))  # one system, one style: one condition
        cls.test = build_test("cmos", samples=samples, scale="cmos-en", samples_per_session=2)

    def setUp(self):
        self.client.force_login(self.admin)

    def submit(self, evaluator, score):
        clip = services.current_clip(evaluator=evaluator)[0].presented_clips()[0].test_sample
        heard(evaluator, clip)
        return services.submit_rating(
            evaluator=evaluator,
            sample_token=clip.token,
            scores={"overall": score},
            played_to_end=True,
            play_count=1,
            time_to_answer_ms=500,
        )

    def test_the_admin_stores_the_range_and_one_label_per_score(self):
        self.assertEqual(self.scale.values, [-3, -2, -1, 0, 1, 2, 3])
        self.assertEqual(self.scale.choices()[0], (-3, "Much worse"))

    def test_ratings_at_both_ends_are_stored_and_one_beyond_is_refused_clearly(self):
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        services.assign(evaluator=evaluator)
        with self.assertRaisesMessage(services.RatingRefused, "4 is not on the scale cmos-en (-3 to 3)"):
            self.submit(evaluator, 4)
        self.assertEqual(self.submit(evaluator, -3)[0].score, -3)
        self.assertEqual(self.submit(evaluator, 3)[0].score, 3)

    def test_the_mean_per_condition_is_on_the_scales_own_values(self):
        for score in (-3, -1):
            evaluator = services.invite_evaluators(test=self.test, count=1)[0]
            services.assign(evaluator=evaluator)
            self.submit(evaluator, score)
            self.submit(evaluator, score)
        result = methods.get_method(self.test.method).analyse(self.test)
        self.assertEqual(result["scale"], {"min": -3, "max": 3})
        self.assertEqual([(row["n"], row["mean"]) for row in result["conditions"]], [(4, -2.0)])

    def test_the_dashboard_reports_mos_and_the_distribution_on_the_scales_own_points(self):
        for score in (-3, 2):
            evaluator = services.invite_evaluators(test=self.test, count=1)[0]
            services.assign(evaluator=evaluator)
            self.submit(evaluator, score)
            self.submit(evaluator, score)
        data = results_services.test_results(self.test)
        [row] = data["conditions"]
        self.assertAlmostEqual(row["before"]["mean"], -0.5)
        self.assertEqual(row["before"]["distribution"], [2, 0, 0, 0, 0, 2, 0])
        self.assertEqual(data["scale_values"], [-3, -2, -1, 0, 1, 2, 3])
        page = self.client.get(reverse("results:test", args=[self.test.pk]))
        self.assertContains(page, "Before screening (-3 to 3)")
