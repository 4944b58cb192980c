"""Ratings stored directly, as the analyses read them: by sample, by clip, or a whole table at once."""

import tempfile

from annotations.models import Evaluator, ListeningTest, Rating
from annotations.models import TestSample as Clip
from synthesis.models import Sample
from tests.factories.samples import make_sample_row

# A VAR_DIR of the test run's own, for tests that produce results (override_settings(VAR_DIR=VAR_DIR)).
VAR_DIR = tempfile.mkdtemp(prefix="sarai-test-var-")
# Three raters' scores of six clips (build_design()'s default), in order; R3 gives every clip a 3.
SCORES = {"R1": [4, 5, 3, 4, 2, 5], "R2": [3, 5, 4, 4, 3, 4], "R3": [3, 3, 3, 3, 3, 3]}


def rate(evaluator: Evaluator, sample: Sample, score: int, dimension: str = "overall", **fields) -> Rating:
    fields.setdefault("played_to_end", True)
    return Rating.objects.create(
        evaluator=evaluator, sample=sample, score=score, dimension=dimension, **fields
    )


def give(evaluator: Evaluator, clip: Clip, score: int, dimension: str = "overall", **fields) -> Rating:
    """A rating of a test clip (its sample and the clip itself), played to the end unless fields say."""
    fields.setdefault("played_to_end", True)
    return Rating.objects.create(
        evaluator=evaluator,
        sample_id=clip.sample_id,
        test_sample=clip,
        dimension=dimension,
        score=score,
        **fields,
    )


def rate_all(
    test: ListeningTest, clips: dict, table: dict[str, list[int]], dimension: str = "overall"
) -> None:
    """table maps a pseudonym to scores in the order of clips; evaluators are created as needed."""
    for pseudonym, scores in table.items():
        evaluator, _ = Evaluator.objects.get_or_create(test=test, pseudonym=pseudonym)
        for clip, score in zip(clips.values(), scores, strict=True):
            give(evaluator, clip, score, dimension)


def add_special(test: ListeningTest, kind: str, score: int) -> Clip:
    """A gold clip (kind "gold": expected score) or trapping clip (instructed score) of a reference sample."""
    sample = make_sample_row("reference", "neutral", text=f"{kind} clip")
    target = {"expected_score": score} if kind == "gold" else {"instructed_score": score}
    return Clip.objects.create(test=test, sample=sample, kind=kind, **target)
