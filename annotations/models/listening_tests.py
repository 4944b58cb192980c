"""Listening tests and their clips (TestSample), each behind an opaque token."""

from datetime import datetime

from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from annotations.models.scales import Scale
from annotations.models.tokens import code_in_url, completion_conflict, new_completion_code, new_token
from synthesis.models import Sample


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
        # Trials, evaluators and ratings are defined in modules that import this one: looked up by name.
        Trial, Evaluator, Rating = (
            apps.get_model("annotations", name) for name in ("Trial", "Evaluator", "Rating")
        )
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
    allow_no_participant_id = models.BooleanField(
        "accept visitors without a participant id",
        default=True,
        help_text="Open link: a visit whose link carries no participant id (PROLIFIC_PID) starts a session "
        "of its own per browser. Off, it gets the 'This link is incomplete' page, as an unfilled "
        "placeholder does. New tests have it off when a platform completion code or URL is set.",
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
        ordering = ["test_id", "id"]
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
