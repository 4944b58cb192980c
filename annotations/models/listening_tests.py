"""Listening tests, their blinded samples, evaluators, assignments and ratings."""

import secrets
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from synthesis.models import Sample

# Upper-case letters and digits a participant cannot misread or mistype: no 0/O and no 1/I/L.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
# An evaluator idle this long releases the clips they have not rated yet, so abandoned crowd
# sessions do not hold samples below their target for ever. A returning evaluator keeps their
# assignment; the sample may then get a rating more than its target.
IDLE_RELEASE = timedelta(hours=2)


def new_token() -> str:
    """An opaque, unguessable URL-safe token (128 bits)."""
    return secrets.token_urlsafe(16)


def new_completion_code() -> str:
    """The app's own completion code: short and free of look-alike characters, to be typed by hand."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_in_url(url: str) -> str:
    """The completion code a platform put in its completion URL (Prolific's ?cc=...), or ""."""
    values = parse_qs(urlsplit(url).query).get("cc", [""])
    return values[0].strip()


def completion_conflict(platform_code: str, completion_url: str) -> str:
    """Why a platform code and a completion URL disagree, or "" when they do not."""
    in_url = code_in_url(completion_url)
    if platform_code and in_url and in_url != platform_code:
        return (
            f"The completion URL carries the code {in_url!r} but the platform code is {platform_code!r}; "
            "participants would be shown one and credited with the other."
        )
    return ""


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

    def index(self, score: int) -> int:
        """Position of a score in values (0 for the lowest), for count arrays of length n_values."""
        return score - self.min_value


class TestNotOpen(Exception):
    """A test that takes no ratings now; code is "not_started" or "closed"."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class ListeningTestQuerySet(models.QuerySet):
    def with_progress(self) -> "ListeningTestQuerySet":
        """Annotate clip, evaluator and rating counts in one query (progress as on the dashboard).

        n_collected counts answers to test trials (gold, trapping and training clips never count, nor
        answers to repeated trials): one per evaluator and trial however many main-dimension ratings
        the answer stored (a MUSHRA page stores one per sample), and each imported rating of a test
        clip; n_target is ratings_per_sample times the test trials (one per clip for ACR and
        intelligibility, one per pair for CMOS and A/B, one per sentence for MUSHRA; the test clips
        for tests imported without trials).
        """
        main = Coalesce(KT("dimensions__0"), Value("overall"), output_field=models.CharField())
        clips = TestSample.objects.filter(test=OuterRef("pk"), kind=TestSample.Kind.TEST)
        trials = Trial.objects.filter(test=OuterRef("pk"), kind=TestSample.Kind.TEST, repeat_of__isnull=True)
        evaluators = Evaluator.objects.filter(test=OuterRef("pk"))
        collected = Rating.objects.originals().filter(
            evaluator__test=OuterRef("pk"),
            dimension=OuterRef("main_dimension"),
            sample__test_samples__test=OuterRef("pk"),
            sample__test_samples__kind=TestSample.Kind.TEST,
        )
        units = Case(When(n_trials=0, then=F("n_clips")), default=F("n_trials"))
        return (
            self.annotate(
                main_dimension=main,
                n_clips=_count(clips, "test"),
                n_trials=_count(trials, "test"),
                n_evaluators=_count(evaluators, "test"),
                n_finished=_count(evaluators.filter(finished_at__isnull=False), "test"),
                n_collected=_count(collected, "evaluator__test", Count(_answer_key(), distinct=True)),
            )
            .annotate(n_units=units)
            .annotate(n_target=F("n_units") * F("ratings_per_sample"))
        )


def _count(queryset: models.QuerySet, group: str, counted: Count | None = None) -> Coalesce:
    """A correlated COUNT(*) subquery (or of what counted counts); each count in its own subquery so
    joins cannot multiply rows."""
    counts = queryset.order_by().values(group).annotate(n=counted or Count("pk")).values("n")
    return Coalesce(Subquery(counts), 0)


def _answer_key() -> Concat:
    """One value per answer of a rating: evaluator and trial, or evaluator and sample when imported."""
    text = models.CharField()
    answer = Coalesce(Cast("trial_id", text), Concat(Value("s"), Cast("sample_id", text)), output_field=text)
    return Concat(Cast("evaluator_id", text), Value(":"), answer, output_field=text)


class ListeningTest(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    name = models.SlugField(max_length=80, unique=True, help_text="Unique name, used by the export commands.")
    description = models.TextField(blank=True, help_text="For researchers; never shown to evaluators.")
    instructions = models.TextField(blank=True, help_text="Shown to evaluators before the test.")
    # For the report's appendix (what reviews of MOS practice found papers leave out); never shown
    # to evaluators.
    recruitment = models.CharField(
        max_length=200,
        blank=True,
        help_text="How evaluators were recruited, e.g. Prolific, UK residents, native speakers of English.",
    )
    payment = models.CharField(
        max_length=200, blank=True, help_text="What evaluators were paid, e.g. GBP 2.50 for about 15 minutes."
    )
    language = models.CharField(
        max_length=8,
        default="en",
        choices=[("en", "English"), ("es", "Español")],
        help_text="Language of the evaluator interface.",
    )
    scale = models.ForeignKey(Scale, on_delete=models.PROTECT, related_name="tests")
    method = models.CharField(
        max_length=40,
        default="acr",
        help_text="Test method (annotations.methods): what a trial holds, its page, answers and analysis.",
    )
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
        max_length=40,
        default=new_completion_code,
        help_text="The app's own completion code, for platforms without redirects: shown on the finish "
        "page when the test has neither a platform code nor a completion URL.",
    )
    platform_code = models.CharField(
        "platform completion code",
        max_length=64,
        blank=True,
        help_text="The crowd platform's completion code (e.g. Prolific's C1A2B3C4). When set, it is the "
        "code the finish page shows.",
    )
    completion_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="The crowd platform's completion URL (e.g. https://app.prolific.com/submissions/"
        "complete?cc=C1A2B3C4). The finish page sends evaluators there by itself.",
    )
    min_rater_overlap = models.PositiveSmallIntegerField(
        default=5,
        help_text="Screening: the low-correlation rule judges a rater only when they share at least this "
        "many test clips with the other raters (fewer shared clips give a meaningless correlation).",
    )
    screen_trials = models.PositiveSmallIntegerField(
        default=6,
        help_text="Headphone screen (Woods et al. 2017): three-tone trials in one attempt; the protocol "
        "uses 6.",
    )
    screen_pass_mark = models.PositiveSmallIntegerField(
        default=5,
        help_text="Headphone screen: correct trials needed to pass the first attempt; the protocol uses "
        "5 of 6.",
    )
    screen_retry_allowed = models.BooleanField(
        default=False,
        help_text="Headphone screen: an evaluator who fails may try once more, and must then get every "
        "trial right.",
    )
    screen_out_code = models.CharField(
        "screen-out code",
        max_length=64,
        blank=True,
        help_text="The crowd platform's code for participants screened out (e.g. Prolific's "
        "'screened out' code), shown to an evaluator who fails the headphone screen. Never the "
        "completion code.",
    )
    screen_out_url = models.URLField(
        "screen-out URL",
        max_length=500,
        blank=True,
        help_text="The crowd platform's return / screened-out URL (e.g. https://app.prolific.com/"
        "submissions/complete?cc=SCRN0UT1). An evaluator who fails the headphone screen is sent there.",
    )
    repeat_share = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="A/B tests: share of a session's pairs repeated later in the same session in swapped "
        "order, to measure each rater's consistency (0.1 = 10 %; at least one pair when above 0). "
        "Repeats never count towards the ratings target or the main statistics.",
    )
    allow_no_preference = models.BooleanField(
        default=True,
        help_text="A/B tests: offer 'No preference' besides A and B. Off for a forced choice.",
    )
    max_plays = models.PositiveSmallIntegerField(
        default=0,
        db_default=0,
        help_text="Intelligibility tests: how often an evaluator may play each clip, counted from the "
        "server's audio requests (a play begins with a request once the previous play's requests have "
        "sent the whole file); further requests are refused. 0 for no limit; other methods have none.",
    )
    reference_system = models.CharField(
        max_length=80,
        blank=True,
        db_default="",
        help_text="MUSHRA tests: the system whose sample of each sentence is the reference, played "
        "labelled and hidden among the samples rated; empty for a test without a reference.",
    )
    with_anchor = models.BooleanField(
        default=False,
        db_default=False,
        help_text="MUSHRA tests: each page also holds an anchor, the reference low-passed at 3.5 kHz "
        "(ITU-R BS.1534), made when the test was created.",
    )
    artifact_labels = models.JSONField(
        default=list,
        blank=True,
        help_text="One-clip tests (ACR, intelligibility): labels a listener may give a moment where they "
        "heard a problem, e.g. click, robotic; an empty list turns marking off.",
    )
    state = models.CharField(max_length=8, choices=State.choices, default=State.DRAFT)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this, links show a closed page."
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ListeningTestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ratings_per_sample__gte=1), name="test_ratings_per_sample_min"
            ),
            models.CheckConstraint(
                condition=Q(samples_per_session__gte=1), name="test_samples_per_session_min"
            ),
            models.CheckConstraint(
                condition=Q(screen_pass_mark__gte=1, screen_pass_mark__lte=F("screen_trials")),
                name="test_screen_pass_mark_within_trials",
            ),
            models.CheckConstraint(
                condition=Q(repeat_share__gte=0, repeat_share__lte=1), name="test_repeat_share_is_a_share"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        conflict = completion_conflict(self.platform_code, self.completion_url)
        if conflict:
            raise ValidationError({"platform_code": conflict})
        conflict = completion_conflict(self.screen_out_code, self.screen_out_url)
        if conflict:
            raise ValidationError({"screen_out_code": conflict})
        trials, mark = self.screen_trials, self.screen_pass_mark
        if trials is not None and mark is not None and not 1 <= mark <= trials:
            raise ValidationError({"screen_pass_mark": f"Give a pass mark from 1 to the {trials} trials."})

    def closed_reason(self, now: datetime | None = None) -> str:
        """Why the test takes no ratings now: "not_started" or "closed"; "" when it takes them."""
        if self.state == self.State.DRAFT:
            return "not_started"
        now = now or timezone.now()
        if self.state != self.State.OPEN or (self.expires_at is not None and self.expires_at <= now):
            return "closed"
        return ""

    def check_open(self, now: datetime | None = None) -> None:
        """Raise TestNotOpen (code "not_started" or "closed") unless the test takes ratings now."""
        reason = self.closed_reason(now)
        if reason:
            raise TestNotOpen(reason)

    def accepts_ratings(self, now: datetime | None = None) -> bool:
        return not self.closed_reason(now)

    @property
    def is_expired(self) -> bool:
        return self.state == self.State.OPEN and not self.accepts_ratings()

    @property
    def shown_completion_code(self) -> str:
        """The code the finish page shows: the platform's, else the one in the completion URL, else
        the app's own, but only when the test sends evaluators nowhere (a platform that redirects
        does not know the app's code, and a participant typing it would be refused)."""
        if self.platform_code:
            return self.platform_code
        if self.completion_url:
            return code_in_url(self.completion_url)
        return self.completion_code

    @property
    def shown_screen_out_code(self) -> str:
        """The code the screened-out page shows: the platform's screen-out code, else the one in its URL."""
        return self.screen_out_code or code_in_url(self.screen_out_url)

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

    class Role(models.TextChoices):
        CONDITION = "", "Condition"
        REFERENCE = "reference", "Hidden reference (MUSHRA)"
        ANCHOR = "anchor", "Anchor: the reference low-passed at 3.5 kHz (MUSHRA)"

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
    expected_score = models.SmallIntegerField(
        null=True, blank=True, help_text="Gold clips: expected score, on the test's scale."
    )
    instructed_score = models.SmallIntegerField(
        null=True, blank=True, help_text="Trapping clips: the score the clip asks for, on the test's scale."
    )
    role = models.CharField(
        max_length=12,
        blank=True,
        db_default="",
        choices=Role.choices,
        help_text="MUSHRA: the hidden reference (a sample of the test's reference system) or the anchor "
        "(its copy low-passed at 3.5 kHz); empty for a condition and in other methods. Never shown to "
        "evaluators.",
    )
    open_token = models.CharField(
        max_length=40,
        unique=True,
        null=True,
        blank=True,
        help_text="MUSHRA reference clips: a second opaque token under which the same copy is served as "
        "the labelled reference, so that the hidden reference's URL differs from it; empty otherwise.",
    )

    class Meta:
        ordering = ["test", "id"]
        constraints = [
            models.UniqueConstraint(fields=["test", "sample"], name="test_sample_unique"),
            models.CheckConstraint(
                condition=Q(open_token__isnull=True) | Q(role="reference"),
                name="test_sample_open_token_on_reference",
            ),
            models.CheckConstraint(
                condition=Q(kind="gold", expected_score__isnull=False) | ~Q(kind="gold"),
                name="test_sample_gold_has_expected",
            ),
            models.CheckConstraint(
                condition=Q(kind="trap", instructed_score__isnull=False) | ~Q(kind="trap"),
                name="test_sample_trap_has_instruction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.test.name}:{self.kind}:{self.sample_id}"


class EvaluatorQuerySet(models.QuerySet):
    def active(self, now: datetime | None = None) -> "EvaluatorQuerySet":
        """Evaluators in a session that has not finished and was seen within IDLE_RELEASE."""
        cutoff = (now or timezone.now()) - IDLE_RELEASE
        # A screened-out evaluator will never rate: their clips go back to the others at once.
        # Nor will a revoked one: their unanswered clips go back at once too.
        return self.filter(
            finished_at__isnull=True,
            screened_out_at__isnull=True,
            revoked_at__isnull=True,
            last_seen_at__gte=cutoff,
        )


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
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the headphone screen was passed."
    )
    screened_out_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the headphone screen was failed for good; the session ended there, without ratings.",
    )
    trained_at = models.DateTimeField(null=True, blank=True, help_text="When the training clips were done.")
    training_done = models.PositiveSmallIntegerField(default=0, help_text="Training clips answered so far.")
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Last assignment or rating; idle sessions release their clips."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the invite token was revoked: its pages are gone, its ratings are kept.",
    )
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who revoked the invite token.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = EvaluatorQuerySet.as_manager()

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
        """Where the session stands: consent, check, training, rate, finish or screened_out."""
        if self.screened_out_at:
            return "screened_out"
        if self.finished_at:
            return "finish"
        if not self.consented_at:
            return "consent"
        if not self.checked_at:
            return "check"
        if not self.trained_at:
            return "training"
        return "rate"


class ScreenTrial(models.Model):
    """One three-tone trial of an evaluator's headphone screen; the answer key never leaves the server."""

    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="screen_trials")
    attempt = models.PositiveSmallIntegerField(help_text="1 for the first attempt, 2 for the one retry.")
    number = models.PositiveSmallIntegerField(help_text="Order within the attempt, from 1.")
    quiet_position = models.PositiveSmallIntegerField(
        help_text="Which tone (1-3) is 6 dB quieter: the answer."
    )
    antiphase_position = models.PositiveSmallIntegerField(
        help_text="Which tone (1-3) is in antiphase between the ears: the loudspeaker decoy."
    )
    answer = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The tone (1-3) the evaluator chose; empty until answered."
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["evaluator", "attempt", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluator", "attempt", "number"], name="screen_trial_unique_number"
            ),
            models.CheckConstraint(
                condition=~Q(quiet_position=F("antiphase_position")), name="screen_trial_decoy_not_answer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evaluator} · screen {self.attempt}.{self.number}"

    @property
    def correct(self) -> bool:
        return self.answer == self.quiet_position


class Trial(models.Model):
    """What an evaluator answers on one page: one clip for ACR, a pair or a set for other methods."""

    test = models.ForeignKey(ListeningTest, on_delete=models.CASCADE, related_name="trials")
    kind = models.CharField(
        max_length=8,
        choices=TestSample.Kind.choices,
        default=TestSample.Kind.TEST,
        help_text="Test, gold or trapping trial; sessions mix them like the clips they hold.",
    )
    clips = models.ManyToManyField(TestSample, through="TrialClip", related_name="trials")
    repeat_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="repeats",
        help_text="Set on a repeat: the trial it repeats, with the same clips and roles, built for one "
        "evaluator's session and shown later in it in swapped order to measure consistency. Repeats "
        "never count towards the ratings target or the main statistics.",
    )

    class Meta:
        ordering = ["test", "id"]

    def __str__(self) -> str:
        return f"{self.test.name}:trial {self.pk}"


class TrialClip(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="trial_clips")
    # RESTRICT, not PROTECT: a clip with trials cannot be deleted alone, but deleting its whole test
    # (which cascades to both) can.
    test_sample = models.ForeignKey(TestSample, on_delete=models.RESTRICT, related_name="trial_clips")
    role = models.CharField(
        max_length=20,
        blank=True,
        help_text='The clip\'s part in the trial: "X" or "Y" in a CMOS or A/B pair (X is the condition, '
        '(system, style), that sorts first); "reference" (hidden), "anchor" or "condition" on a MUSHRA '
        'page; "" for a one-clip trial. Never shown to evaluators.',
    )
    position = models.PositiveSmallIntegerField(help_text="Order in the trial as built, from 0.")

    class Meta:
        ordering = ["trial", "position"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "position"], name="trial_clip_unique_position"),
            models.UniqueConstraint(fields=["trial", "test_sample"], name="trial_clip_unique_sample"),
        ]

    def __str__(self) -> str:
        return f"{self.trial} · {self.role or self.position}"


class Assignment(models.Model):
    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="assignments")
    trial = models.ForeignKey(Trial, on_delete=models.RESTRICT, related_name="assignments")
    position = models.PositiveIntegerField(help_text="Order in the evaluator's session, from 0.")
    clip_order = models.JSONField(
        default=list,
        help_text="TrialClip ids in the order this evaluator is presented them; in a pair the first is "
        'clip "A" (played first) and the second clip "B".',
    )

    class Meta:
        ordering = ["evaluator", "position"]
        constraints = [
            models.UniqueConstraint(fields=["evaluator", "trial"], name="assignment_unique_trial"),
            models.UniqueConstraint(fields=["evaluator", "position"], name="assignment_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.evaluator} #{self.position}"

    def presented_clips(self) -> list[TrialClip]:
        """The trial's clips in this evaluator's order (the trial's own order if none was stored)."""
        clips = {clip.pk: clip for clip in self.trial.trial_clips.select_related("test_sample__sample")}
        order = [pk for pk in self.clip_order if pk in clips]
        order = order or sorted(clips, key=lambda pk: clips[pk].position)
        return [clips[pk] for pk in order]


class RatingQuerySet(models.QuerySet):
    def originals(self) -> "RatingQuerySet":
        """Leave out answers to repeated trials (kept for consistency, never for the main statistics)."""
        return self.filter(trial__repeat_of__isnull=True)


class Rating(models.Model):
    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="ratings")
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="ratings")
    test_sample = models.ForeignKey(
        TestSample,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="ratings",
        help_text="How the sample appeared in the test (clip kind); empty for imported ratings.",
    )
    trial = models.ForeignKey(
        Trial,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="ratings",
        help_text="The trial answered; empty for imported ratings.",
    )
    dimension = models.CharField(max_length=40, default="overall", help_text="What was rated, e.g. overall.")
    score = models.SmallIntegerField(
        null=True,
        blank=True,
        help_text="A value of the test's scale (checked when it is stored); empty for a transcript.",
    )
    transcript = models.TextField(
        blank=True,
        db_default="",
        help_text='Intelligibility (dimension "transcript"): what the evaluator typed, trimmed; empty for '
        "a score.",
    )
    played_to_end = models.BooleanField(
        default=False, help_text="The browser reported the clip played to the end."
    )
    play_count = models.PositiveSmallIntegerField(default=1, help_text="How many times the clip was played.")
    time_to_answer_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="From the end of the first playback to the answer."
    )
    first_fetch_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "Server time when this evaluator's first fetch of the trial's clips began; empty for imports."
        ),
    )
    fetch_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Audio requests for the trial's clips the server saw before the answer; empty for imports.",
    )
    received_at = models.DateTimeField(
        null=True, blank=True, help_text="Server time when the answer arrived; empty for imports."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = RatingQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluator", "sample", "dimension"],
                condition=Q(trial__isnull=True),
                name="rating_unique_per_dimension",
            ),
            models.UniqueConstraint(
                fields=["evaluator", "trial", "sample", "dimension"],
                condition=Q(trial__isnull=False),
                name="rating_unique_per_trial_dimension",
            ),
            # A score or a transcript, never both and never neither: code reading scores of a
            # scored method never meets an empty one.
            models.CheckConstraint(
                condition=Q(score__isnull=False, transcript="") | (Q(score__isnull=True) & ~Q(transcript="")),
                name="rating_score_or_transcript",
            ),
        ]

    def __str__(self) -> str:
        answer = self.score if self.score is not None else repr(self.transcript[:40])
        return f"{self.evaluator} · sample {self.sample_id} · {self.dimension}={answer}"


def covers_file(spans: list[tuple[int, int]], size: int) -> bool:
    """True if the inclusive byte ranges together cover bytes 0 to size - 1, gaps nowhere."""
    reached = 0  # the first byte no range has sent yet
    for start, end in sorted(spans):
        if start > reached:
            return False
        reached = max(reached, end + 1)
    return bool(spans) and reached >= size


def count_plays(fetches: list[tuple[int, int, int]]) -> tuple[int, bool]:
    """(plays begun, whether the last one sent the whole file) from one clip's requests in the order
    they began, each (first byte, last byte, file size).

    A play is a run of requests that together send the whole file: a request begins a new play
    unless the current one has not sent every byte yet. So a browser's probe of the first bytes and
    its request for the rest are one play (Safari asks for bytes 0-1 first), and each request after
    a complete play, wherever it starts, begins the next.
    """
    plays, spans, size = 0, [], 0
    for start, end, size in fetches:
        if plays == 0 or covers_file(spans, size):
            plays += 1
            spans = []
        spans.append((start, end))
    return plays, plays > 0 and covers_file(spans, size)


MAX_MARKS_PER_ANSWER = 50
MARK_TOLERANCE_S = 0.5  # a browser's currentTime may run a little past the decoded duration


class ArtifactMark(models.Model):
    """A moment of a clip where an evaluator heard a problem, stored with their answer to the trial."""

    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="artifact_marks")
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="artifact_marks")
    test_sample = models.ForeignKey(TestSample, on_delete=models.CASCADE, related_name="artifact_marks")
    start_s = models.FloatField(help_text="Where the marked region begins, in seconds from the clip's start.")
    end_s = models.FloatField(help_text="Where the marked region ends, in seconds (at or after start_s).")
    label = models.CharField(
        max_length=60, blank=True, help_text="One of the test's artifact labels, or empty for no label."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["test_sample", "start_s", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_s__gte=0, end_s__gte=F("start_s")), name="artifact_mark_ordered_times"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evaluator} · clip {self.test_sample_id} · {self.start_s:.2f}-{self.end_s:.2f} s"


class ClipFetchQuerySet(models.QuerySet):
    def plays(self) -> tuple[int, bool]:
        """count_plays of these fetches (of one evaluator and one clip)."""
        rows = self.order_by("started_at", "id").values_list("bytes_from", "bytes_to", "size")
        return count_plays(list(rows))

    def fully_sent_clip_ids(self) -> set[int]:
        """Clips whose whole file these fetches sent, in one request or in byte ranges that join up."""
        spans: dict[tuple[int, int], list[tuple[int, int]]] = {}
        rows = self.values_list("test_sample_id", "size", "bytes_from", "bytes_to")
        for clip_id, size, start, end in rows:
            spans.setdefault((clip_id, size), []).append((start, end))
        return {clip_id for (clip_id, size), parts in spans.items() if covers_file(parts, size)}


class ClipFetch(models.Model):
    """One audio request for a clip, served to an evaluator: the bytes sent and when it began.

    One row per request, so any web process can add one and coverage of the file is read back
    from the rows (a browser may fetch a clip as several byte ranges).
    """

    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="clip_fetches")
    test_sample = models.ForeignKey(TestSample, on_delete=models.CASCADE, related_name="fetches")
    started_at = models.DateTimeField(default=timezone.now, help_text="When the server began serving it.")
    bytes_from = models.PositiveBigIntegerField(help_text="First byte sent (0 for the whole file).")
    bytes_to = models.PositiveBigIntegerField(help_text="Last byte sent, inclusive.")
    size = models.PositiveBigIntegerField(help_text="Size of the whole file at the time of the request.")
    complete = models.BooleanField(
        default=False, help_text="This request alone sent the whole file (byte 0 to the last)."
    )
    labelled_reference = models.BooleanField(
        default=False,
        db_default=False,
        help_text="MUSHRA: a request for the labelled reference (its open token); it never counts as "
        "hearing the hidden reference, which is the same copy under another token.",
    )
    counted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When an accepted answer (a rating or a practice answer) counted this request as "
        "hearing its clip. A request counts for one answer only: a clip heard in an earlier trial "
        "is fetched again.",
    )

    objects = ClipFetchQuerySet.as_manager()

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["evaluator", "test_sample", "started_at"])]

    def __str__(self) -> str:
        return f"{self.evaluator} · clip {self.test_sample_id} · bytes {self.bytes_from}-{self.bytes_to}"


class Analysis(models.Model):
    """A background analysis of a listening test, claimed by one worker and read by every web process."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    test = models.ForeignKey(ListeningTest, on_delete=models.CASCADE, related_name="analyses")
    thresholds = models.JSONField(help_text="Screening settings the analysis used (min_variance, ...).")
    min_overlap = models.PositiveIntegerField(
        help_text="The test's minimum rater overlap when it was queued."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    claimed_by = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker running it.")
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Another worker may take a running analysis after this."
    )
    result = models.JSONField(
        null=True,
        blank=True,
        help_text="Screening, bootstrap, agreement and mixed models, as the pages read them.",
    )
    seconds = models.FloatField(null=True, blank=True, help_text="How long the analysis took.")
    n_ratings = models.PositiveIntegerField(null=True, blank=True, help_text="Ratings the analysis covered.")
    last_rating_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Highest rating id covered; with n_ratings tells when it is stale."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "analyses"

    def __str__(self) -> str:
        return f"analysis {self.pk} of {self.test_id} ({self.status})"


class RequestCount(models.Model):
    """Requests counted for a rate limit (annotations/ratelimits.py): one row per key and minute.

    Every web process, on every machine, counts in this table; the key is a digest, so no token or
    participant id is stored in it.
    """

    digest = models.CharField(max_length=64, help_text="sha256 of the scope, the kind and the counted value.")
    minute = models.BigIntegerField(help_text="Unix time // 60 of the counted requests.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["digest", "minute"], name="request_count_unique_minute")
        ]
        indexes = [models.Index(fields=["minute"], name="request_count_minute")]

    def __str__(self) -> str:
        return f"{self.count} request(s) in minute {self.minute}"
