import pytest
from django.db import IntegrityError, transaction
from django.test import TestCase

from annotations.models import Rating, Scale
from tests.factories import make_evaluator, make_sample, make_test, rate

# database constraints and the errors they raise: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends


class RatingConstraintTests(TestCase):
    def setUp(self):
        self.test = make_test()
        self.evaluator = make_evaluator(self.test)
        self.sample = make_sample()

    def test_it_refuses_a_second_rating_for_the_same_sample_and_dimension(self):
        rate(self.evaluator, self.sample, 4)
        with self.assertRaises(IntegrityError), transaction.atomic():
            rate(self.evaluator, self.sample, 2)
        self.assertEqual(Rating.objects.get().score, 4)

    def test_it_accepts_the_same_sample_on_another_dimension(self):
        rate(self.evaluator, self.sample, 4, dimension="overall")
        rate(self.evaluator, self.sample, 3, dimension="clarity")
        self.assertEqual(Rating.objects.count(), 2)

    def test_it_refuses_a_scale_whose_lowest_score_is_above_its_highest(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            Scale.objects.create(
                name="upside-down", title="Upside down", min_value=3, max_value=2, labels=["x"]
            )

    def test_it_accepts_a_one_point_scale_which_holds_a_question_and_no_score(self):
        Scale.objects.create(name="flat", title="Type what you heard", min_value=0, max_value=0, labels=["x"])
        self.assertEqual(Scale.objects.get(name="flat").values, [0])

    def test_a_rating_holds_a_score_or_a_transcript_never_both_nor_neither(self):
        rate(self.evaluator, self.sample, None, dimension="transcript", transcript="the cat sat")
        for score, transcript in ((None, ""), (3, "the cat")):
            with self.subTest(score=score), self.assertRaises(IntegrityError), transaction.atomic():
                rate(self.evaluator, self.sample, score, dimension="clarity", transcript=transcript)
        self.assertEqual(list(Rating.objects.values_list("score", "transcript")), [(None, "the cat sat")])

    def test_it_refuses_a_crowd_participant_joining_twice(self):
        make_evaluator(self.test, "R002", external_id="PID-1")
        with self.assertRaises(IntegrityError), transaction.atomic():
            make_evaluator(self.test, "R003", external_id="PID-1")

    def test_evaluators_without_a_crowd_id_may_coexist(self):
        make_evaluator(self.test, "R002")
        make_evaluator(self.test, "R003")
        self.assertEqual(self.test.evaluators.count(), 3)
