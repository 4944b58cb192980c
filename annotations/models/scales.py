"""Rating scales: the one definition of a scale's values and labels."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q


class Scale(models.Model):
    """The one definition of a rating scale: integer steps from min_value to max_value, one label each.

    A scale of one point (min_value == max_value) holds no rating: it gives a method whose answer is
    not a score (intelligibility: typed text) its question and language. Scored methods refuse it.
    """

    name = models.SlugField(max_length=60, unique=True, help_text="e.g. acr-en, acr-es, naturalness-en.")
    title = models.CharField(max_length=200, help_text="Question shown above the buttons.")
    language = models.CharField(max_length=8, default="en", help_text="Language of the labels.")
    min_value = models.SmallIntegerField(default=1, help_text="Lowest score (worst), e.g. 1, -3 or 0.")
    max_value = models.SmallIntegerField(default=5, help_text="Highest score (best), e.g. 5, 3 or 100.")
    labels = models.JSONField(
        help_text='One label per score from the lowest to the highest, e.g. ["Bad", "Poor", "Fair", '
        '"Good", "Excellent"] for 1 to 5.'
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="scale_title_not_empty"),
            models.CheckConstraint(
                condition=Q(min_value__lte=F("max_value")), name="scale_min_not_above_max"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.min_value is None or self.max_value is None:
            return
        if self.min_value > self.max_value:
            raise ValidationError({"max_value": "The highest score must not be below the lowest."})
        labels = self.labels
        if not (isinstance(labels, list) and all(isinstance(x, str) and x.strip() for x in labels)):
            raise ValidationError({"labels": "Give a list of non-empty labels."})
        if len(labels) != self.n_values:
            raise ValidationError(
                {
                    "labels": f"Give exactly {self.n_values} labels, one per score from {self.min_value} "
                    f"to {self.max_value}; got {len(labels)}."
                }
            )

    @property
    def n_values(self) -> int:
        return self.max_value - self.min_value + 1

    @property
    def values(self) -> list[int]:
        """Every score on the scale, lowest first."""
        return list(range(self.min_value, self.max_value + 1))

    def choices(self) -> list[tuple[int, str]]:
        return list(zip(self.values, self.labels, strict=True))

    def contains(self, score: object) -> bool:
        is_int = isinstance(score, int) and not isinstance(score, bool)
        return is_int and self.min_value <= score <= self.max_value

    def check_score(self, score: object) -> int:
        """The score as an int, or ValueError saying which scores the scale takes."""
        if not self.contains(score):
            raise ValueError(
                f"{score!r} is not on the scale {self.name} ({self.min_value} to {self.max_value})"
            )
        return score

    def describe_points(self) -> str:
        """Every score with its label, lowest first: "1 = Bad, 2 = Poor, …, 5 = Excellent"."""
        return ", ".join(f"{value} = {label}" for value, label in self.choices())

    def describe_continuous(self) -> str:
        """A slider over the whole range, as its ends are labelled: "0–100, continuous; labelled 0 Bad …
        100 Excellent" (the labels of the points between are bands along it, not answers)."""
        low, high = self.min_value, self.max_value
        return f"{low}–{high}, continuous; labelled {low} {self.labels[0]} … {high} {self.labels[-1]}"

    def index(self, score: int) -> int:
        """Position of a score in values (0 for the lowest), for count arrays of length n_values."""
        return score - self.min_value
