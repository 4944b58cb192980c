"""Listening tests, their blinded samples, evaluators, assignments and ratings."""

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from synthesis.models import Sample


def new_token() -> str:
    """An opaque, unguessable URL-safe token (128 bits)."""
    return secrets.token_urlsafe(16)


class Scale(models.Model):
    name = models.SlugField(max_length=60, unique=True, help_text="e.g. acr-en, acr-es, naturalness-en.")
    title = models.CharField(max_length=200, help_text="Question shown above the buttons.")
    language = models.CharField(max_length=8, default="en", help_text="Language of the labels.")
    labels = models.JSONField(help_text="Five labels, for scores 1 to 5 in that order.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="scale_title_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def choices(self) -> list[tuple[int, str]]:
        return list(zip(range(1, 6), self.labels, strict=True))


class ListeningTest(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    name = models.SlugField(max_length=80, unique=True, help_text="Unique name, used by the export commands.")
    description = models.TextField(blank=True, help_text="For researchers; never shown to evaluators.")
    instructions = models.TextField(blank=True, help_text="Shown to evaluators before the test.")
    language = models.CharField(
        max_length=8,
        default="en",
        choices=[("en", "English"), ("es", "Español")],
        help_text="Language of the evaluator interface.",
    )
    scale = models.ForeignKey(Scale, on_delete=models.PROTECT, related_name="tests")
    dimensions = models.JSONField(
        default=list, help_text='Rated dimensions; the first is the main one, e.g. ["overall", "clarity"].'
    )
    ratings_per_sample = models.PositiveSmallIntegerField(
        default=8, help_text="Ratings wanted for each sample."
    )
    samples_per_session = models.PositiveSmallIntegerField(
        default=20, help_text="Clips rated by one evaluator."
    )
    gold_per_session = models.PositiveSmallIntegerField(
        default=1, help_text="Gold clips mixed into each session (if the test has them)."
    )
    traps_per_session = models.PositiveSmallIntegerField(
        default=1, help_text="Trapping clips mixed into each session (if the test has them)."
    )
    open_token = models.CharField(
        max_length=40, unique=True, default=new_token, help_text="Token of the open link for crowd platforms."
    )
    allow_open_link = models.BooleanField(
        default=False, help_text="Accept evaluators arriving by the open link."
    )
    completion_code = models.CharField(
        max_length=40, default=new_token, help_text="Shown on the finish page."
    )
    redirect_url = models.URLField(
        blank=True, help_text="Where to send evaluators after finishing, if anywhere."
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.DRAFT)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this, links show a closed page."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ratings_per_sample__gte=1), name="test_ratings_per_sample_min"
            ),
            models.CheckConstraint(
                condition=Q(samples_per_session__gte=1), name="test_samples_per_session_min"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def accepts_ratings(self, now=None) -> bool:
        now = now or timezone.now()
        return self.state == self.State.OPEN and (self.expires_at is None or self.expires_at > now)

    @property
    def rated_dimensions(self) -> list[str]:
        """The dimensions rated for every clip; the first is the main one."""
        return list(self.dimensions) or ["overall"]


class TestSample(models.Model):
    """A sample as it appears in one test: behind an opaque token, with a loudness-matched copy."""

    class Kind(models.TextChoices):
        TEST = "test", "Test clip"
        GOLD = "gold", "Gold clip (known score)"
        TRAP = "trap", "Trapping clip (instructed answer)"
        TRAINING = "training", "Training clip (not analysed)"

    test = models.ForeignKey(ListeningTest, on_delete=models.CASCADE, related_name="test_samples")
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="test_samples")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TEST)
    token = models.CharField(
        max_length=40, unique=True, default=new_token, help_text="The only id evaluators see."
    )
    playback_audio = models.FileField(
        upload_to="playback/",
        blank=True,
        help_text="Loudness-matched, metadata-free copy served to evaluators.",
    )
    playback_lufs = models.FloatField(
        null=True, blank=True, help_text="Integrated loudness of the playback copy."
    )
    expected_score = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Gold clips: expected score."
    )
    instructed_score = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Trapping clips: the score the clip asks for."
    )

    class Meta:
        ordering = ["test", "id"]
        constraints = [
            models.UniqueConstraint(fields=["test", "sample"], name="test_sample_unique"),
            models.CheckConstraint(
                condition=Q(kind="gold", expected_score__gte=1, expected_score__lte=5) | ~Q(kind="gold"),
                name="test_sample_gold_has_expected",
            ),
            models.CheckConstraint(
                condition=Q(kind="trap", instructed_score__gte=1, instructed_score__lte=5) | ~Q(kind="trap"),
                name="test_sample_trap_has_instruction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.test.name}:{self.kind}:{self.sample_id}"


class Evaluator(models.Model):
    test = models.ForeignKey(ListeningTest, on_delete=models.CASCADE, related_name="evaluators")
    token = models.CharField(
        max_length=40, unique=True, default=new_token, help_text="Personal invite token."
    )
    pseudonym = models.CharField(max_length=40, help_text="Stable pseudonym used in exports, e.g. R007.")
    external_id = models.CharField(
        max_length=100, blank=True, help_text="Crowd participant id (PROLIFIC_PID)."
    )
    study_id = models.CharField(max_length=100, blank=True, help_text="Crowd study id (STUDY_ID).")
    session_id = models.CharField(max_length=100, blank=True, help_text="Crowd session id (SESSION_ID).")
    consented_at = models.DateTimeField(null=True, blank=True, help_text="When consent was given.")
    checked_at = models.DateTimeField(null=True, blank=True, help_text="When the listening check was passed.")
    trained_at = models.DateTimeField(null=True, blank=True, help_text="When the training clips were done.")
    check_quietest = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Listening check: which of the three tones (1-3) is the quiet one."
    )
    check_attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Wrong answers given to the listening check."
    )
    training_done = models.PositiveSmallIntegerField(default=0, help_text="Training clips answered so far.")
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Last assignment or rating; idle sessions release their clips."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["test", "pseudonym"]
        constraints = [
            models.UniqueConstraint(fields=["test", "pseudonym"], name="evaluator_unique_pseudonym"),
            models.UniqueConstraint(
                fields=["test", "external_id"],
                condition=~Q(external_id=""),
                name="evaluator_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.test.name}:{self.pseudonym}"

    @property
    def step(self) -> str:
        """Where the session stands: consent, check, training, rate or finish."""
        if self.finished_at:
            return "finish"
        if not self.consented_at:
            return "consent"
        if not self.checked_at:
            return "check"
        if not self.trained_at:
            return "training"
        return "rate"


class Assignment(models.Model):
    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="assignments")
    test_sample = models.ForeignKey(TestSample, on_delete=models.PROTECT, related_name="assignments")
    position = models.PositiveIntegerField(help_text="Order in the evaluator's session, from 0.")

    class Meta:
        ordering = ["evaluator", "position"]
        constraints = [
            models.UniqueConstraint(fields=["evaluator", "test_sample"], name="assignment_unique_sample"),
            models.UniqueConstraint(fields=["evaluator", "position"], name="assignment_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.evaluator} #{self.position}"


class Rating(models.Model):
    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="ratings")
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="ratings")
    test_sample = models.ForeignKey(
        TestSample,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ratings",
        help_text="How the sample appeared in the test (clip kind); empty for imported ratings.",
    )
    dimension = models.CharField(max_length=40, default="overall", help_text="What was rated, e.g. overall.")
    score = models.PositiveSmallIntegerField(help_text="1 (worst) to 5 (best).")
    played_to_end = models.BooleanField(
        default=False, help_text="The browser reported the clip played to the end."
    )
    play_count = models.PositiveSmallIntegerField(default=1, help_text="How many times the clip was played.")
    time_to_answer_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="From the end of the first playback to the answer."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluator", "sample", "dimension"], name="rating_unique_per_dimension"
            ),
            models.CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="rating_score_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"{self.evaluator} · sample {self.sample_id} · {self.dimension}={self.score}"
