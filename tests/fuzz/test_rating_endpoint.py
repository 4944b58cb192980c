"""Arbitrary form data posted to an evaluator's rate URL: never a server error, never half an answer."""

import json

from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from annotations.methods import get_method
from annotations.models import ArtifactMark, Rating
from tests.annotations.helpers import session_url
from tests.factories import build_test, evaluator_at_rating, hear_all, make_samples, mushra_test
from tests.fuzz import fuzz_settings

# What a rating page may answer: the next page, a redirect, or a refusal with a message.
ANSWERS = {200, 302, 400, 403, 404, 405, 409, 422}
KEYS = [
    "clip",
    "clips",
    "played_to_end",
    "play_count",
    "time_to_answer_ms",
    "score-overall",
    "score-naturalness",
    "score-cmos",
    "score-preference",
    "text-transcript",
    "text-overall",
    "mark-1",
    "mark-2",
]
ODD_VALUES = [
    "",
    " ",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e309",
    "-0",
    "4.0",
    "0x10",
    "true",
    "false",
    "null",
    "[]",
    "{}",
    "0,0.2,click",
    "0.1,nan,",
    "1,0,robotic",
    "-1,0.1,",
    "0,1e308,click",
    "٣",  # an Arabic-Indic digit: isdigit() says yes, a database column says no
    "\u00b2",
    "x" * 70_000,
    "9" * 400,
]


def values(tokens: list[str]):
    return st.one_of(
        st.sampled_from(tokens),
        st.sampled_from(ODD_VALUES),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.integers(min_value=-5, max_value=105).map(str),
        st.text(max_size=40),
    )


def post_data(tokens: list[str]):
    """Random keys (the page's own and others) with one value or several each."""
    keys = st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=12))
    one_or_many = st.one_of(values(tokens), st.lists(values(tokens), max_size=20))
    return st.dictionaries(keys, one_or_many, max_size=10)


class RatingEndpointFuzzMixin:
    """Each example runs in its own transaction, rolled back after it (hypothesis's Django TestCase)."""

    method = "acr"

    @classmethod
    def build(cls):
        return build_test(f"fuzz-{cls.method}", samples=make_samples(), artifact_labels=["click", "robotic"])

    @classmethod
    def setUpTestData(cls):
        cls.test = cls.build()
        cls.evaluator = evaluator_at_rating(cls.test)
        cls.clips = [
            clip.test_sample for a in cls.evaluator.assignments.all() for clip in a.presented_clips()
        ]
        hear_all(cls.evaluator, cls.clips, seconds=60)
        other = evaluator_at_rating(build_test("fuzz-other", samples=make_samples(set_name="set-other")))
        cls.other_tokens = [
            clip.test_sample.token for a in other.assignments.all() for clip in a.presented_clips()
        ]
        cls.tokens = [clip.token for clip in cls.clips] + cls.other_tokens + ["", "not-a-token"]
        cls.questions = get_method(cls.test.method).questions(cls.test)

    def post(self, data: dict, as_json: bool):
        headers = {"HTTP_ACCEPT": "application/json"} if as_json else {}
        return self.client.post(session_url(self.evaluator, "rate"), data, **headers)

    def assert_answered_well(self, response, as_json: bool) -> None:
        event(f"HTTP {response.status_code}")
        self.assertIn(response.status_code, ANSWERS)
        if response.status_code == 400 and as_json:
            self.assertTrue(json.loads(response.content)["error"])
        by_trial: dict[int, set[str]] = {}
        for trial, dimension in Rating.objects.filter(evaluator=self.evaluator).values_list(
            "trial", "dimension"
        ):
            by_trial.setdefault(trial, set()).add(dimension)
        for trial, dimensions in by_trial.items():
            self.assertEqual(dimensions, set(self.questions), f"trial {trial} holds part of an answer")
        marked = set(ArtifactMark.objects.filter(evaluator=self.evaluator).values_list("trial_id", flat=True))
        self.assertLessEqual(marked, set(by_trial), "marks were stored without their answer")

    def __init_subclass__(cls, **kwargs):
        # Fresh test functions per class: hypothesis refuses one function run on several classes.
        super().__init_subclass__(**kwargs)
        cls.test_any_form_data_gets_an_answer_and_never_half_a_rating = _any_form_data()
        cls.test_a_nearly_valid_answer_gets_an_answer_and_never_half_a_rating = _nearly_valid_answer()


def _any_form_data():
    @fuzz_settings(40)
    @given(data=st.data(), as_json=st.booleans())
    def test(self, data, as_json):
        posted = data.draw(post_data(self.tokens))
        self.assert_answered_well(self.post(posted, as_json), as_json)

    return test


def _nearly_valid_answer():
    @fuzz_settings(40)
    @given(data=st.data(), as_json=st.booleans())
    def test(self, data, as_json):
        clip = self.evaluator.assignments.order_by("position").first().presented_clips()
        posted = {
            "clip": clip[0].test_sample.token,
            "clips": [c.test_sample.token for c in clip],
            "played_to_end": "true",
            "play_count": "1",
            "time_to_answer_ms": "900",
        }
        for question in self.questions:
            kind = get_method(self.test.method).answer_kind
            key = f"text-{question}" if kind == "text" else f"score-{question}"
            posted[key] = "the words" if kind == "text" else ["3"] * len(clip) if kind == "per_clip" else "1"
        posted.update(data.draw(post_data(self.tokens)))
        self.assert_answered_well(self.post(posted, as_json), as_json)

    return test


class AcrRatingEndpointFuzzTests(RatingEndpointFuzzMixin, TestCase):
    method = "acr"

    def test_the_valid_answer_the_fuzzing_starts_from_is_stored(self):
        clip = self.evaluator.assignments.order_by("position").first().presented_clips()[0].test_sample
        data = {"clip": clip.token, "score-overall": "4", "played_to_end": "true", "mark-1": "0,0.2,click"}
        self.assertEqual(self.post(data, as_json=True).status_code, 200)
        self.assertEqual(Rating.objects.filter(evaluator=self.evaluator).count(), 1)
        self.assertEqual(ArtifactMark.objects.filter(evaluator=self.evaluator).count(), 1)


class AbRatingEndpointFuzzTests(RatingEndpointFuzzMixin, TestCase):
    method = "ab"

    @classmethod
    def build(cls):
        samples = make_samples(styles=("neutral",), systems=("sys-a", "sys-b"), set_name="set-ab")
        return build_test("fuzz-ab", samples=samples, scale=None, method="ab", samples_per_session=3)


class MushraRatingEndpointFuzzTests(RatingEndpointFuzzMixin, TestCase):
    method = "mushra"

    @classmethod
    def build(cls):
        return mushra_test("fuzz-mushra")


class IntelligibilityRatingEndpointFuzzTests(RatingEndpointFuzzMixin, TestCase):
    method = "intelligibility"

    @classmethod
    def build(cls):
        return build_test("fuzz-intel", samples=make_samples(), scale=None, method="intelligibility")
