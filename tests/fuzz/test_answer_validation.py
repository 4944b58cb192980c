"""Each method's answer validation, fed any Python values (not only what the rating form makes):
answers on the test's scale, or ValueError with a message; never another exception."""

import math

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from annotations.methods import get_method
from tests.factories import build_test, evaluator_at_rating, make_samples, mushra_test
from tests.fuzz import fuzz_settings

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-5, max_value=105),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, 3.0, "3", "", "x" * 5000, b"4"]),
    st.text(max_size=30),
)
VALUES = st.one_of(
    SCALARS, st.lists(st.one_of(st.none(), SCALARS), max_size=8), st.dictionaries(st.text(), SCALARS)
)
QUESTIONS = ["overall", "naturalness", "cmos", "preference", "transcript", "mushra"]


class AnswerValidationFuzzMixin:
    @classmethod
    def setUpTestData(cls):
        cls.test = cls.build()
        evaluator = evaluator_at_rating(cls.test)
        cls.trials = [assignment.presented_clips() for assignment in evaluator.assignments.all()]
        cls.method = get_method(cls.test.method)

    def __init_subclass__(cls, **kwargs):
        # Fresh test functions per class: hypothesis refuses one function run on several classes.
        super().__init_subclass__(**kwargs)
        cls.test_any_values_give_answers_on_the_scale_or_a_value_error = _any_values()


def _any_values():
    @fuzz_settings(60)
    @given(data=st.data())
    def test(self, data):
        clips = data.draw(st.sampled_from(self.trials))
        names = [*self.method.questions(self.test), *QUESTIONS]
        keys = st.one_of(st.sampled_from(names), st.text(max_size=8))
        scores = data.draw(st.dictionaries(keys, VALUES, max_size=4))
        try:
            answers = self.method.validate(self.test, clips, scores)
            for answer in answers:
                if not answer.text:
                    self.test.scale.check_score(answer.score)
        except ValueError as exc:
            self.assertTrue(str(exc))
            return
        self.assertTrue(answers)
        for answer in answers:
            self.assertIn(answer.dimension, self.method.questions(self.test))

    return test


class AcrAnswerValidationFuzzTests(AnswerValidationFuzzMixin, TestCase):
    @classmethod
    def build(cls):
        return build_test("v-acr", samples=make_samples())


class AbAnswerValidationFuzzTests(AnswerValidationFuzzMixin, TestCase):
    @classmethod
    def build(cls):
        samples = make_samples(styles=("neutral",), systems=("sys-a", "sys-b"), set_name="set-ab")
        return build_test("v-ab", samples=samples, scale=None, method="ab", samples_per_session=3)


class CmosAnswerValidationFuzzTests(AnswerValidationFuzzMixin, TestCase):
    @classmethod
    def build(cls):
        samples = make_samples(styles=("neutral",), systems=("sys-a", "sys-b"), set_name="set-cmos")
        return build_test("v-cmos", samples=samples, scale=None, method="cmos", samples_per_session=3)


class MushraAnswerValidationFuzzTests(AnswerValidationFuzzMixin, TestCase):
    @classmethod
    def build(cls):
        return mushra_test("v-mushra")


class IntelligibilityAnswerValidationFuzzTests(AnswerValidationFuzzMixin, TestCase):
    @classmethod
    def build(cls):
        return build_test("v-intel", samples=make_samples(), scale=None, method="intelligibility")
