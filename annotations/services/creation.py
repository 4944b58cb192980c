"""Listening-test workflows: creating a test, joining it, assignment, the listening check, rating."""

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from annotations import multistimulus, pairs
from annotations.listening_check import check_tones_wav, draw_trial
from annotations.methods import DEFAULT_METHOD, Answer, Method, get_method
from annotations.models import (
    MARK_TOLERANCE_S,
    MAX_MARKS_PER_ANSWER,
    ArtifactMark,
    Assignment,
    ClipFetch,
    Evaluator,
    ListeningTest,
    Rating,
    Scale,
    ScreenTrial,
    TestNotOpen,
    TestSample,
    Trial,
    TrialClip,
    new_token,
)
from annotations.ordering import order_without_neighbours
from synthesis.engines import audio
from synthesis.models import Sample

# Further ListeningTest fields create_test takes as they are.
TEST_OPTIONS = (
    "instructions",
    "language",
    "description",
    "recruitment",
    "payment",
    "platform_code",
    "completion_url",
    "allow_open_link",
    "expires_at",
    "gold_per_session",
    "traps_per_session",
    "min_rater_overlap",
    "screen_trials",
    "screen_pass_mark",
    "screen_retry_allowed",
    "screen_out_code",
    "screen_out_url",
    "repeat_share",
    "allow_no_preference",
    "max_plays",
    "reference_system",
    "with_anchor",
    "artifact_labels",
)
# Samples from outside the app (other systems' output, human recordings), chosen by system name.
EXTERNAL_ORIGINS = (Sample.Origin.IMPORTED, Sample.Origin.REFERENCE)
MAX_TRAINING_CLIPS = 3
FALLBACK_TRAINING_CLIPS = 2


class TestCreationError(ValueError):
    """The chosen samples or options cannot make a test; the message says why."""


class SessionUnavailable(Exception):
    """An evaluator link that cannot be used now; code is one of CODES."""

    CODES = ("unknown", "not_started", "closed", "full", "revoked")

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class PlayLimitReached(Exception):
    """A request that would begin one play more of a clip than the test allows."""


class RatingRefused(Exception):
    """A rating the server will not store; code is one of CODES, detail is for logs."""

    CODES = ("not_assigned", "bad_score", "not_played", "not_fetched", "too_soon", "closed")

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


# -- creating a test -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clip:
    sample: Sample
    kind: str
    expected_score: int | None = None
    instructed_score: int | None = None
    role: str = TestSample.Role.CONDITION


def candidate_samples(*, runs: Iterable[int] = (), systems: Iterable[str] = ()) -> QuerySet:
    """The samples a test made from these runs and imported systems would hold, grouped for reading."""
    chosen = Q(run__in=list(runs)) | Q(origin__in=EXTERNAL_ORIGINS, system_label__in=list(systems))
    return (
        Sample.objects.filter(chosen)
        .exclude(system_label=multistimulus.ANCHOR_SYSTEM)  # made for one test, never chosen again
        .select_related("run", "sentence")
        .order_by("system_label", "sentence__sentence_set_id", "sentence__position", "style_label", "pk")
    )


def create_test(
    *,
    name: str,
    samples: Iterable[Sample],
    scale: Scale | None,
    method: str = DEFAULT_METHOD,
    dimensions: Iterable[str] = ("overall",),
    ratings_per_sample: int = 8,
    samples_per_session: int = 20,
    gold: dict[Sample, int] | None = None,
    traps: dict[Sample, int] | None = None,
    training: Iterable[Sample] = (),
    **options,
) -> ListeningTest:
    """Create an open test whose clips have opaque tokens and loudness-matched playback copies.

    options are further ListeningTest fields (instructions, language, completion_url, max_plays,
    reference_system, with_anchor, ...). Without a scale the method's default for the test's language
    is used. The method refuses a scale that cannot hold its answers and clips it cannot make trials
    from, before any audio is decoded. A method that takes a reference (MUSHRA) makes the reference
    system's sample of each sentence the reference and, with_anchor, derives an anchor from it.
    Decoding, filtering and loudness matching run here, synchronously and before any transaction
    opens: a few hundred short clips take seconds, not minutes.
    """
    if ListeningTest.objects.filter(name=name).exists():
        raise TestCreationError(f"A listening test named {name!r} exists already.")
    try:
        shape = get_method(method)
    except LookupError as exc:
        raise TestCreationError(str(exc)) from None
    scale = scale or _default_scale(shape, options.get("language", "en"))
    if not shape.gold_and_traps and (gold or traps):
        raise TestCreationError(
            f"{shape.title} tests take no gold or trapping clips: a pair has no known answer to check a "
            "rater against. Leave them out (practice clips are fine)."
        )
    clips = _clip_roles(list(samples), gold or {}, traps or {}, list(training), scale)
    if not any(clip.kind == TestSample.Kind.TEST for clip in clips):
        raise TestCreationError("Choose at least one sample to rate.")
    options = _method_options(shape, options)
    clips = _with_references(clips, options["reference_system"])
    _check_method_fits(shape, scale, clips)
    options.setdefault("state", ListeningTest.State.OPEN)
    fields = {
        "name": name,
        "scale": scale,
        "method": shape.name,
        "dimensions": _method_dimensions(shape, dimensions),
        "ratings_per_sample": ratings_per_sample,
        "samples_per_session": samples_per_session,
        **options,
    }
    # One sample rate for every clip, so the WAV header cannot tell systems apart.
    rate = max(clip.sample.sample_rate for clip in clips)
    anchors = _anchor_clips(clips, rate) if options["with_anchor"] else []
    return _store_test(fields, clips, anchors, rate)


def _store_test(fields: dict, clips: list["_Clip"], anchors: list["_Clip"], rate: int) -> ListeningTest:
    """Write the playback copies, then the test, its anchors' samples, its clips and its trials in one
    transaction; on any failure no file is left behind."""
    rows: list[TestSample] = []
    try:
        rows = _write_playback_copies(clips + anchors, rate)
        with transaction.atomic():
            test = ListeningTest.objects.create(**fields)
            for anchor in anchors:
                anchor.sample.save()
            for row in rows:
                row.test = test
            TestSample.objects.bulk_create(rows)
            build_trials(test=test)
    except BaseException:
        _delete_playback_files(rows)
        _delete_sample_files(anchors)
        raise
    return test


def _method_options(method: Method, options: dict) -> dict:
    """The options with the settings the method decides: its play limit, its reference and anchor."""
    options = dict(options)
    plays = options.get("max_plays")
    if plays is not None and plays < 0:
        raise TestCreationError(f"max_plays={plays}: give a number of plays from 1, or 0 for no limit.")
    options["max_plays"] = (method.max_plays if plays is None else plays) if method.max_plays else 0
    reference = (options.get("reference_system") or "").strip()
    anchor = bool(options.get("with_anchor"))
    if not method.takes_reference:
        if reference:
            raise TestCreationError(
                f"{method.title} tests take no reference system; leave it empty instead of {reference!r}."
            )
        anchor = False
    elif anchor and not reference:
        raise TestCreationError(
            "The anchor is made from the reference (low-passed at 3.5 kHz): name a reference system, "
            "or leave the anchor out."
        )
    options["reference_system"], options["with_anchor"] = reference, anchor
    options["artifact_labels"] = _artifact_labels(method, options.get("artifact_labels") or [])
    return options


def _artifact_labels(method: Method, labels: Iterable[str]) -> list[str]:
    """The labels trimmed, without blanks or repeats; refused for a method that plays several clips."""
    cleaned = list(dict.fromkeys(label.strip() for label in labels if label.strip()))
    if cleaned and method.clips_per_trial != 1:
        raise TestCreationError(
            f"{method.title} tests play several clips per page: artifact marks are for one-clip methods "
            "(ACR, intelligibility). Leave the labels empty."
        )
    too_long = [label for label in cleaned if len(label) > ArtifactMark._meta.get_field("label").max_length]
    if too_long:
        raise TestCreationError(f"Artifact label {too_long[0]!r} is too long (60 characters at most).")
    return cleaned


def _with_references(clips: list["_Clip"], reference_system: str) -> list["_Clip"]:
    """The clips with the reference system's marked as the reference of their sentence; references of
    sentences no condition says are left out. TestCreationError when a test sentence has none or two."""
    if not reference_system:
        return clips
    conditions = [clip for clip in clips if clip.sample.system_label != reference_system]
    references = [clip for clip in clips if clip.sample.system_label == reference_system]
    chosen = set()
    for kind in (TestSample.Kind.TEST, TestSample.Kind.TRAINING):
        try:
            chosen |= set(
                multistimulus.pick_references(
                    [clip.sample for clip in conditions if clip.kind == kind],
                    [clip.sample for clip in references if clip.kind == kind],
                    reference_system,
                    required=kind == TestSample.Kind.TEST,
                )
            )
        except ValueError as exc:
            raise TestCreationError(str(exc)) from None
    marked = [replace(clip, role=TestSample.Role.REFERENCE) for clip in references if clip.sample in chosen]
    return conditions + marked


def _default_scale(method: Method, language: str) -> Scale:
    name = method.default_scale(language)
    scale = Scale.objects.filter(name=name).first()
    if scale is None:
        raise TestCreationError(
            f"No scale chosen, and the default for {method.name} ({name}) does not exist."
        )
    return scale


def _check_method_fits(method: Method, scale: Scale, clips: list["_Clip"]) -> None:
    """TestCreationError when the scale cannot hold the method's answers or the clips make no trials."""
    # The method checks the conditions; a reference's sentence was checked when it was chosen.
    conditions = [clip for clip in clips if clip.role == TestSample.Role.CONDITION]
    test_samples = [clip.sample for clip in conditions if clip.kind == TestSample.Kind.TEST]
    practice = [clip.sample for clip in conditions if clip.kind == TestSample.Kind.TRAINING]
    try:
        method.check_scale(scale)
        method.check_samples(test_samples, practice)
    except ValueError as exc:
        raise TestCreationError(str(exc)) from None


def _method_dimensions(method: Method, dimensions: Iterable[str]) -> list[str]:
    """The test's dimensions: the ones given, or the one fixed question of a method that has one."""
    given = clean_dimensions(dimensions)
    if not method.dimensions:
        return given
    if given not in (["overall"], list(method.dimensions)):
        raise TestCreationError(
            f"{method.title} tests ask one question ({', '.join(method.dimensions)}); "
            f"leave the dimensions at their default instead of {', '.join(given)}."
        )
    return list(method.dimensions)


def clean_dimensions(dimensions: Iterable[str]) -> list[str]:
    """Lower-case slugs, in order, without repeats; ['overall'] when none are given."""
    result = []
    for raw in dimensions:
        dimension = slugify(raw.strip())
        if raw.strip() and not dimension:
            raise TestCreationError(f"{raw!r} is not a usable dimension name (letters, digits, dashes).")
        if dimension and dimension not in result:
            result.append(dimension[:40])
    return result or ["overall"]


def build_trials(*, test: ListeningTest) -> list[Trial]:
    """The test's trials, shaped by its method from the test, gold and trapping clips of each kind."""
    method = get_method(test.method)
    clips = list(test.test_samples.exclude(kind=TestSample.Kind.TRAINING).order_by("pk"))
    trials = []
    for kind in (TestSample.Kind.TEST, TestSample.Kind.GOLD, TestSample.Kind.TRAP):
        for shape in method.build_trials([clip for clip in clips if clip.kind == kind]):
            trial = Trial.objects.create(test=test, kind=kind)
            TrialClip.objects.bulk_create(
                TrialClip(trial=trial, test_sample=clip, role=role, position=position)
                for position, (clip, role) in enumerate(shape)
            )
            trials.append(trial)
    return trials


def _clip_roles(
    samples: list[Sample], gold: dict, traps: dict, training: list[Sample], scale: Scale
) -> list[_Clip]:
    """One role per sample; training beats trap beats gold beats test."""
    for label, scores in (("gold", gold), ("trapping", traps)):
        for sample, score in scores.items():
            try:
                scale.check_score(int(score))
            except ValueError as exc:
                raise TestCreationError(f"Sample {sample.pk}: the {label} score {exc}.") from None
    roles: dict[int, _Clip] = {}
    for sample in samples:
        roles[sample.pk] = _Clip(sample, TestSample.Kind.TEST)
    for sample, score in gold.items():
        roles[sample.pk] = _Clip(sample, TestSample.Kind.GOLD, expected_score=int(score))
    for sample, score in traps.items():
        roles[sample.pk] = _Clip(sample, TestSample.Kind.TRAP, instructed_score=int(score))
    for sample in training:
        roles[sample.pk] = _Clip(sample, TestSample.Kind.TRAINING)
    return list(roles.values())


def _write_playback_copies(clips: list[_Clip], rate: int) -> list[TestSample]:
    """Unsaved clip rows whose playback files are written; on any failure no file is left behind."""
    rows: list[TestSample] = []
    try:
        for clip in clips:
            rows.append(_write_playback_copy(clip, rate))
    except BaseException:
        _delete_playback_files(rows)
        raise
    return rows


def _decoded(sample: Sample, rate: int):
    """The sample's audio at the test's common rate; TestCreationError naming it if it cannot be read."""
    try:
        with sample.audio.open("rb") as handle:
            data, sample_rate = audio.read_audio(handle.read())
        return audio.resample(data, sample_rate, rate)
    except (OSError, ValueError, audio.AudioDecodeError) as exc:
        raise TestCreationError(f"Sample {sample.pk}: {exc}") from exc


def _write_playback_copy(clip: _Clip, rate: int) -> TestSample:
    """Decode, resample to the test's common rate, match loudness and store a metadata-free WAV."""
    sample = clip.sample
    try:
        data = audio.match_loudness(_decoded(sample, rate), rate, settings.SARAI_TARGET_LUFS)
    except (ValueError, audio.AudioDecodeError) as exc:
        raise TestCreationError(f"Sample {sample.pk}: {exc}") from exc
    row = TestSample(
        sample=sample,
        kind=clip.kind,
        expected_score=clip.expected_score,
        instructed_score=clip.instructed_score,
        playback_lufs=audio.integrated_loudness(data, rate),
        role=clip.role,
        open_token=new_token() if clip.role == TestSample.Role.REFERENCE else None,
    )
    # The file is named after the clip's random token: its name says nothing about the sample.
    row.playback_audio.save(f"{row.token}.wav", ContentFile(audio.wav_bytes(data, rate)), save=False)
    return row


def _delete_playback_files(rows: list[TestSample]) -> None:
    for row in rows:
        row.playback_audio.delete(save=False)


def _anchor_clips(clips: list[_Clip], rate: int) -> list[_Clip]:
    """An anchor for each reference clip (ITU-R BS.1534): its audio low-passed at 3.5 kHz, as an unsaved
    Sample whose file is written; on any failure no file is left behind."""
    anchors: list[_Clip] = []
    try:
        for clip in clips:
            if clip.role == TestSample.Role.REFERENCE:
                anchors.append(
                    _Clip(_anchor_sample(clip.sample, rate), clip.kind, role=TestSample.Role.ANCHOR)
                )
    except BaseException:
        _delete_sample_files(anchors)
        raise
    return anchors


def _anchor_sample(reference: Sample, rate: int) -> Sample:
    """The reference at the test's rate, low-passed, as a Sample of the anchor system (not yet saved).

    It says the reference's sentence in its style, so it joins the reference's page; its own system
    name keeps it out of every list of samples to choose from.
    """
    try:
        data = audio.low_pass(_decoded(reference, rate), rate)
    except audio.AudioDecodeError as exc:
        raise TestCreationError(f"Sample {reference.pk}: {exc}") from exc
    anchor = Sample(
        origin=Sample.Origin.IMPORTED,
        system_label=multistimulus.ANCHOR_SYSTEM,
        sentence=reference.sentence,
        style=reference.style,
        style_label=reference.style_label,
        text=reference.text,
        source_name=f"BS.1534 anchor: sample {reference.pk} low-passed at {audio.ANCHOR_CUTOFF_HZ:g} Hz",
        duration_s=data.size / rate,
        sample_rate=rate,
        loudness_lufs=audio.integrated_loudness(data, rate),
    )
    anchor.audio.save(f"anchor-{new_token()}.wav", ContentFile(audio.wav_bytes(data, rate)), save=False)
    return anchor


def _delete_sample_files(clips: list[_Clip]) -> None:
    for clip in clips:
        clip.sample.audio.delete(save=False)


# -- evaluators ----------------------------------------------------------------------------------


def join_test(
    *, test: ListeningTest, external_id: str = "", study_id: str = "", session_id: str = ""
) -> Evaluator:
    """The evaluator of an open-link visit: the same participant id always gives the same evaluator."""
    if external_id:
        existing = test.evaluators.filter(external_id=external_id).first()
        if existing and existing.revoked_at:
            # Revoking is for good: the same participant id gets no fresh session either.
            raise SessionUnavailable("revoked")
        if existing:
            return existing
    check_open(test)
    return _create_evaluator(test, external_id=external_id, study_id=study_id, session_id=session_id)


def invite_evaluators(*, test: ListeningTest, count: int) -> list[Evaluator]:
    """Create count evaluators with personal invite tokens."""
    return [_create_evaluator(test) for _ in range(count)]


def revoke_evaluator(*, evaluator: Evaluator, by: AbstractBaseUser | None) -> bool:
    """Close the evaluator's invite token for good; their ratings stay. False if it was revoked already."""
    updated = Evaluator.objects.filter(pk=evaluator.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    evaluator.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return bool(updated)


def _create_evaluator(test: ListeningTest, **fields) -> Evaluator:
    # Pseudonyms are numbered per test. The test's row is locked while the next number is chosen, so
    # visitors arriving at once queue here (PostgreSQL; SQLite's writers queue anyway) instead of
    # picking the same number; the retry covers one participant id arriving twice at once.
    for _ in range(10):
        try:
            with transaction.atomic():
                ListeningTest.objects.select_for_update().filter(pk=test.pk).exists()
                return Evaluator.objects.create(test=test, pseudonym=_next_pseudonym(test), **fields)
        except IntegrityError:
            external_id = fields.get("external_id")
            existing = external_id and test.evaluators.filter(external_id=external_id).first()
            if existing:
                return existing
    raise IntegrityError("could not allocate an evaluator pseudonym")


def _next_pseudonym(test: ListeningTest) -> str:
    names = test.evaluators.filter(pseudonym__regex=r"^R[0-9]+$").values_list("pseudonym", flat=True)
    return f"R{max((int(name[1:]) for name in names), default=0) + 1:03d}"


def check_open(test: ListeningTest) -> None:
    """Raise SessionUnavailable unless the test takes ratings now."""
    try:
        test.check_open()
    except TestNotOpen as exc:
        raise SessionUnavailable(exc.code) from None


def give_consent(*, evaluator: Evaluator, rng: random.Random | None = None) -> None:
    """Record consent, build the assignment and deal the first attempt of the headphone screen."""
    check_open(evaluator.test)
    assign(evaluator=evaluator)
    Evaluator.objects.filter(pk=evaluator.pk, consented_at__isnull=True).update(consented_at=timezone.now())
    evaluator.refresh_from_db()
    start_screen(evaluator=evaluator, rng=rng)


# -- assignment ----------------------------------------------------------------------------------


def assign(*, evaluator: Evaluator, rng: random.Random | None = None) -> list[Assignment]:
    """The evaluator's clips in order, built once: least-held test clips plus gold and trap clips."""
    existing = _assignments_of(evaluator)
    if existing:
        return existing
    rng = rng or random.SystemRandom()
    with transaction.atomic():
        # Locking the test row serialises concurrent joiners, so two of them never both take
        # the last slot of a sample that is one rating short of its target.
        test = ListeningTest.objects.select_for_update().get(pk=evaluator.test_id)
        if evaluator.assignments.exists():
            return _assignments_of(evaluator)
        method = get_method(test.method)
        trials = _choose_trials(test, rng)
        ordered = order_without_neighbours(trials, key=_trial_sentences, rng=rng)
        orders = method.order_clips(ordered, rng)
        session = _with_repeats(ordered, orders, method.repeat_share(test), rng)
        Assignment.objects.bulk_create(
            Assignment(evaluator=evaluator, trial=trial, position=position, clip_order=order)
            for position, (trial, order) in enumerate(session)
        )
        Evaluator.objects.filter(pk=evaluator.pk).update(last_seen_at=timezone.now())
    return _assignments_of(evaluator)


def _assignments_of(evaluator: Evaluator) -> list[Assignment]:
    return list(
        evaluator.assignments.select_related("trial")
        .prefetch_related("trial__trial_clips__test_sample__sample")
        .order_by("position")
    )


def _trial_sentences(trial: Trial) -> str:
    return "|".join(sorted({clip.test_sample.sample.sentence_key for clip in trial.trial_clips.all()}))


def _with_repeats(
    ordered: list[Trial], orders: dict[int, list[int]], share: float, rng: random.Random
) -> list[tuple[Trial, list[int]]]:
    """The session's (trial, clip order) with a share of its test trials asked again later, swapped.

    A repeat is a Trial of its own (repeat_of the original, the same clips and roles), so the one
    answer per evaluator and trial holds for it too.
    """
    tests = [trial for trial in ordered if trial.kind == TestSample.Kind.TEST]
    count = pairs.repeat_count(share, len(tests))
    if not count:
        return [(trial, orders[trial.pk]) for trial in ordered]
    keys = [_trial_sentences(trial) for trial in tests]
    placed = iter(pairs.place_repeats(keys, count, rng))
    session = []
    for trial in ordered:
        if trial.kind != TestSample.Kind.TEST:
            session.append((trial, orders[trial.pk]))
            continue
        index, is_repeat = next(placed)
        while is_repeat:  # repeats placed before this trial
            session.append(_repeat(tests[index], orders[tests[index].pk]))
            index, is_repeat = next(placed)
        session.append((trial, orders[trial.pk]))
    session.extend(_repeat(tests[index], orders[tests[index].pk]) for index, _ in placed)
    return session


def _repeat(trial: Trial, order: list[int]) -> tuple[Trial, list[int]]:
    """A new trial repeating this one, with its clips presented in the swapped order."""
    repeat = Trial.objects.create(test_id=trial.test_id, kind=trial.kind, repeat_of=trial)
    copies = {
        clip.pk: TrialClip.objects.create(
            trial=repeat, test_sample=clip.test_sample, role=clip.role, position=clip.position
        )
        for clip in trial.trial_clips.all()
    }
    return repeat, [copies[pk].pk for pk in reversed(order)]


def _choose_trials(test: ListeningTest, rng: random.Random) -> list[Trial]:
    held = held_counts(test)
    by_kind: dict[str, list[Trial]] = {}
    originals = test.trials.filter(repeat_of__isnull=True)
    for trial in originals.prefetch_related("trial_clips__test_sample__sample"):
        by_kind.setdefault(trial.kind, []).append(trial)

    def least_held(kind: str, count: int) -> list[Trial]:
        pool = sorted(by_kind.get(kind, []), key=lambda trial: (held[trial.pk], rng.random()))
        return pool[:count]

    chosen = least_held(TestSample.Kind.TEST, test.samples_per_session)
    # Under-target clips come first; the session is topped up with the least-rated others so
    # every session has the same length. Only when no clip needs ratings is the test full.
    if not chosen or held[chosen[0].pk] >= test.ratings_per_sample:
        raise SessionUnavailable("full")
    chosen += least_held(TestSample.Kind.GOLD, test.gold_per_session)
    return chosen + least_held(TestSample.Kind.TRAP, test.traps_per_session)


def held_counts(test: ListeningTest, now: datetime | None = None) -> Counter:
    """Per trial id: evaluators who answered it, or hold it in a session active recently.

    Repeated trials (A/B consistency) never count: they are extra answers, not the ones wanted.
    """
    rated = Rating.objects.filter(evaluator=OuterRef("evaluator"), trial=OuterRef("trial"))
    active = Evaluator.objects.active(now).filter(pk=OuterRef("evaluator"))
    rows = (
        Assignment.objects.filter(trial__test=test, trial__repeat_of__isnull=True)
        .filter(Exists(rated) | Exists(active))
        .values_list("trial_id", flat=True)
    )
    return Counter(rows)


# -- the headphone screen -----------------------------------------------------------------------


def start_screen(*, evaluator: Evaluator, rng: random.Random | None = None) -> None:
    """Deal the first attempt of the headphone screen (once; a second call changes nothing)."""
    _deal_screen_attempt(evaluator, 1, rng)


def _deal_screen_attempt(evaluator: Evaluator, attempt: int, rng: random.Random | None) -> None:
    """Store the attempt's trials with their answer keys, once (a second call changes nothing)."""
    rng = rng or random.SystemRandom()
    trials = []
    for number in range(1, evaluator.test.screen_trials + 1):
        quiet, antiphase = draw_trial(rng)
        trials.append(
            ScreenTrial(
                evaluator=evaluator,
                attempt=attempt,
                number=number,
                quiet_position=quiet,
                antiphase_position=antiphase,
            )
        )
    ScreenTrial.objects.bulk_create(trials, ignore_conflicts=True)


def current_screen_trial(*, evaluator: Evaluator) -> ScreenTrial | None:
    """The first unanswered trial of the screen, or None when none is waiting.

    An evaluator at the check step with no trials yet (consent given before the screen existed)
    is dealt the first attempt here.
    """
    waiting = evaluator.screen_trials.filter(answer__isnull=True).order_by("attempt", "number")
    if evaluator.step == "check" and not evaluator.screen_trials.exists():
        start_screen(evaluator=evaluator)
    return waiting.select_related("evaluator__test").first()


def screen_position(trial: ScreenTrial) -> int:
    """The trial's place in the whole screen, from 1; opaque in URLs (it says nothing of the answer)."""
    return (trial.attempt - 1) * trial.evaluator.test.screen_trials + trial.number


def listening_check_wav(*, evaluator: Evaluator) -> bytes | None:
    """The evaluator's current screen trial as a WAV, or None; the answer stays on the server."""
    trial = current_screen_trial(evaluator=evaluator)
    if trial is None:
        return None
    return check_tones_wav(
        quietest=trial.quiet_position,
        antiphase=trial.antiphase_position,
        target_lufs=settings.SARAI_TARGET_LUFS,
    )


def answer_check(
    *, evaluator: Evaluator, answer: int, position: int | None = None, rng: random.Random | None = None
) -> str:
    """Record the answer to the current screen trial; returns "next", "passed", "retry" or "failed".

    No feedback per trial (as in the protocol). position, when given, is the trial the page showed:
    a resent answer to an earlier trial is ignored instead of answering the next one.
    """
    if evaluator.checked_at or evaluator.screened_out_at:
        return "passed" if evaluator.checked_at else "failed"
    trial = current_screen_trial(evaluator=evaluator)
    if trial is None or (position is not None and position != screen_position(trial)):
        return "next"
    ScreenTrial.objects.filter(pk=trial.pk, answer__isnull=True).update(
        answer=answer, answered_at=timezone.now()
    )
    if trial.number < evaluator.test.screen_trials:
        return "next"
    return _score_screen_attempt(evaluator, trial.attempt, rng)


def _score_screen_attempt(evaluator: Evaluator, attempt: int, rng: random.Random | None) -> str:
    """Pass, deal the one retry, or screen the evaluator out, once the attempt's last trial is in."""
    test = evaluator.test
    trials = evaluator.screen_trials.filter(attempt=attempt)
    correct = sum(trial.correct for trial in trials)
    # The protocol's pass mark for the first attempt; a retry must be perfect, so guessing twice
    # does not double a bot's chance.
    needed = test.screen_pass_mark if attempt == 1 else test.screen_trials
    now = timezone.now()
    if correct >= needed:
        outcome = "passed"
        Evaluator.objects.filter(pk=evaluator.pk, checked_at__isnull=True).update(checked_at=now)
    elif attempt == 1 and test.screen_retry_allowed:
        outcome = "retry"
        _deal_screen_attempt(evaluator, 2, rng)
    else:
        outcome = "failed"
        Evaluator.objects.filter(pk=evaluator.pk, screened_out_at__isnull=True).update(screened_out_at=now)
    evaluator.refresh_from_db()
    return outcome


# -- training and rating -------------------------------------------------------------------------


def training_trials(*, evaluator: Evaluator) -> list[list[TestSample]]:
    """The practice trials, each its clips in presentation order: from the test's training clips or,
    failing those, from test clips outside this evaluator's session, shaped by the test's method.

    Either way the practice trials say different sentences and, where the test has several systems
    or styles, come from different ones.
    """
    clips = evaluator.test.test_samples.select_related("sample").order_by("id")
    # A different draw per evaluator (stable across requests) so no one system anchors everyone's scale.
    rng = random.Random(evaluator.pk)
    practice = get_method(evaluator.test.method).practice
    training = list(clips.filter(kind=TestSample.Kind.TRAINING))
    if training:
        return practice(training, MAX_TRAINING_CLIPS, rng)
    assigned = TrialClip.objects.filter(trial__assignments__evaluator=evaluator).values("test_sample_id")
    spare = list(clips.filter(kind=TestSample.Kind.TEST).exclude(id__in=assigned))
    return practice(spare, FALLBACK_TRAINING_CLIPS, rng)


def training_clips(*, evaluator: Evaluator) -> list[TestSample]:
    """Every clip of the practice trials, in order."""
    return [clip for trial in training_trials(evaluator=evaluator) for clip in trial]


def answer_training(
    *,
    evaluator: Evaluator,
    sample_token: str,
    scores: dict[str, object],
    played_to_end: bool,
    clip_tokens: Sequence[str] = (),
) -> None:
    """Move past one practice trial; answers are checked like ratings, listening too, but not stored.

    sample_token is the token of the trial's first clip; clip_tokens, when given, are all its clips'
    in the order shown, which tells practice trials sharing a clip apart.
    """
    received_at = timezone.now()
    trials = training_trials(evaluator=evaluator)
    shown = [[clip.token for clip in trial] for trial in trials]
    position = _trial_with(shown, sample_token, clip_tokens, done=evaluator.training_done)
    if position is None:
        raise RatingRefused("not_assigned", "not a training clip of this session")
    if position < evaluator.training_done:
        return  # a resent answer
    check_open(evaluator.test)
    clips = trials[position]
    _validate_answer(evaluator.test, [TrialClip(test_sample=clip) for clip in clips], scores, played_to_end)
    with transaction.atomic():
        if position < _lock_answers(evaluator):
            return  # a copy of this answer that arrived at the same time was stored first
        verify_listening(
            evaluator=evaluator,
            method=get_method(evaluator.test.method),
            clips=clips,
            received_at=received_at,
        )
        done = position + 1
        Evaluator.objects.filter(pk=evaluator.pk).update(training_done=done)
        _count_fetches(evaluator, clips, received_at)
        if done >= len(trials):
            Evaluator.objects.filter(pk=evaluator.pk, trained_at__isnull=True).update(
                trained_at=timezone.now()
            )
    evaluator.refresh_from_db()


def _lock_answers(evaluator: Evaluator) -> int:
    """Take the evaluator's row lock for one answer (SQLite: the write lock of its immediate transaction)
    and return the practice trials done. Two copies of an answer, or two answers sharing a fetched clip,
    are then checked and stored one after the other: a fetch is never counted for two answers."""
    return Evaluator.objects.select_for_update().values_list("training_done", flat=True).get(pk=evaluator.pk)


def _trial_with(
    shown: list[list[str]], sample_token: str, clip_tokens: Sequence[str], done: int
) -> int | None:
    """The index of the trial whose clips were shown in the order clip_tokens gives, or (without
    them) the first not yet done that holds sample_token, else the last done one (a resend)."""
    if clip_tokens:
        return next((i for i, tokens in enumerate(shown) if tokens == list(clip_tokens)), None)
    holding = [i for i, tokens in enumerate(shown) if sample_token in tokens]
    return next((i for i in holding if i >= done), holding[-1] if holding else None)


def skip_training_if_none(*, evaluator: Evaluator) -> None:
    """Tests without any clip to practise on go straight to rating."""
    if not evaluator.trained_at and not training_trials(evaluator=evaluator):
        Evaluator.objects.filter(pk=evaluator.pk).update(trained_at=timezone.now())
        evaluator.refresh_from_db()


def current_clip(*, evaluator: Evaluator) -> tuple[Assignment | None, int, int]:
    """(the first unanswered assignment or None, trials answered, trials in the session)."""
    test = evaluator.test
    main = get_method(test.method).questions(test)[0]
    rated = Rating.objects.filter(evaluator=evaluator, trial=OuterRef("trial"), dimension=main)
    rows = list(
        evaluator.assignments.select_related("trial").annotate(rated=Exists(rated)).order_by("position")
    )
    done = sum(row.rated for row in rows)
    return next((row for row in rows if not row.rated), None), done, len(rows)


def submit_rating(
    *,
    evaluator: Evaluator,
    sample_token: str,
    scores: dict[str, object],
    played_to_end: bool,
    play_count: int,
    time_to_answer_ms: int | None,
    clip_tokens: Sequence[str] = (),
    marks: Sequence[tuple[float, float, str]] = (),
) -> list[Rating]:
    """Store one answer to a trial (every question) at once; a resent answer returns the stored ratings.

    sample_token is the token of the trial's first clip as shown; clip_tokens, when given, are all
    its clips' in the order shown. A clip in several trials of a session (a pair method's clip is
    paired with each other condition, a repeat holds its original's clips) is told apart by them.
    scores holds each question's value as the method's page posts it (an integer, a typed text, or
    one integer per clip in the order shown). Each score is checked against the test's scale by the
    method's validation, and the answer is refused unless this evaluator fetched every clip for it
    (a fetch counts for one answer) and had the time to hear them. marks, (start_s, end_s, label)
    each, are the moments where the evaluator heard a problem; they are checked against the clip
    and the test's labels and stored once, with the answer.
    """
    received_at = timezone.now()
    test = evaluator.test
    assignment = _assignment_for(evaluator, sample_token, clip_tokens)
    if assignment is None:
        raise RatingRefused("not_assigned", "this clip is not in the evaluator's session")
    clips = assignment.presented_clips()
    stored = list(Rating.objects.filter(evaluator=evaluator, trial=assignment.trial_id))
    if {rating.dimension for rating in stored} >= set(get_method(test.method).questions(test)):
        return stored  # first answer wins: a double click or a resend changes nothing
    if not test.accepts_ratings():
        raise RatingRefused("closed", "the test takes no ratings now")
    answers = _validate_answer(test, clips, scores, played_to_end)
    marks = check_marks(test=test, clips=[clip.test_sample for clip in clips], marks=marks)
    with transaction.atomic():
        _lock_answers(evaluator)
        stored = list(Rating.objects.filter(evaluator=evaluator, trial=assignment.trial_id))
        if {rating.dimension for rating in stored} >= set(get_method(test.method).questions(test)):
            return stored  # a copy of this answer that arrived at the same time was stored first
        listening = verify_listening(
            evaluator=evaluator,
            method=get_method(test.method),
            clips=[clip.test_sample for clip in clips],
            received_at=received_at,
        )
        now = timezone.now()
        common = {
            "evaluator": evaluator,
            "trial_id": assignment.trial_id,
            "played_to_end": True,
            "play_count": _clamp(play_count, 1, 32767),
            "time_to_answer_ms": _clamp(time_to_answer_ms, 0, 2**31 - 1),
            **listening,
            "created_at": now,
        }
        ratings = [_create_once(common, answer) for answer in answers]
        _store_marks_once(evaluator, assignment.trial_id, clips[0].test_sample, marks, now)
        Evaluator.objects.filter(pk=evaluator.pk).update(last_seen_at=now)
        _count_fetches(evaluator, [clip.test_sample for clip in clips], received_at)
        finish_if_done(evaluator=evaluator)
    return ratings


def check_marks(
    *, test: ListeningTest, clips: list[TestSample], marks: Sequence[tuple[float, float, str]]
) -> list[tuple[float, float, str]]:
    """The marks, each inside the clip and with one of the test's labels (or none); else RatingRefused."""
    if not marks:
        return []
    if not test.artifact_labels or len(clips) != 1:
        raise RatingRefused("bad_mark", "this test takes no artifact marks")
    if len(marks) > MAX_MARKS_PER_ANSWER:
        raise RatingRefused("bad_mark", f"{len(marks)} marks, at most {MAX_MARKS_PER_ANSWER} allowed")
    duration = clips[0].sample.duration_s or 0.0
    checked = []
    for start, end, label in marks:
        if not 0 <= start <= end <= duration + MARK_TOLERANCE_S:
            raise RatingRefused("bad_mark", f"mark {start}-{end} s is outside the clip (0-{duration:.2f} s)")
        if label and label not in test.artifact_labels:
            raise RatingRefused("bad_mark", f"label {label!r} is not one of the test's")
        checked.append((min(float(start), duration), min(float(end), duration), label))
    return checked


def _store_marks_once(
    evaluator: Evaluator,
    trial_id: int,
    clip: TestSample,
    marks: list[tuple[float, float, str]],
    now: datetime,
) -> None:
    # Called under the evaluator's lock (_lock_answers): one copy of an answer stores its marks.
    if not marks:
        return
    if ArtifactMark.objects.filter(evaluator=evaluator, trial_id=trial_id).exists():
        return
    ArtifactMark.objects.bulk_create(
        ArtifactMark(
            evaluator=evaluator,
            trial_id=trial_id,
            test_sample=clip,
            start_s=start,
            end_s=end,
            label=label,
            created_at=now,
        )
        for start, end, label in marks
    )


def _assignment_for(evaluator: Evaluator, sample_token: str, clip_tokens: Sequence[str]) -> Assignment | None:
    """The assignment whose clips were shown in the order clip_tokens gives, or (without them) the
    first unanswered one holding sample_token, else the first holding it (a resend)."""
    holding = list(
        evaluator.assignments.filter(trial__trial_clips__test_sample__token=sample_token)
        .select_related("trial")
        .distinct()
        .order_by("position")
    )
    if clip_tokens:
        wanted = list(clip_tokens)
        return next(
            (a for a in holding if [c.test_sample.token for c in a.presented_clips()] == wanted), None
        )
    if len(holding) < 2:
        return holding[0] if holding else None
    answered = set(Rating.objects.filter(evaluator=evaluator).values_list("trial_id", flat=True))
    return next((a for a in holding if a.trial_id not in answered), holding[0])


def record_fetch(
    *,
    evaluator: Evaluator,
    test_sample: TestSample,
    started_at: datetime,
    bytes_from: int,
    bytes_to: int,
    size: int,
    labelled_reference: bool = False,
    max_plays: int = 0,
) -> ClipFetch:
    """Note one audio request the server answers: which bytes of the clip it sends, and when it began.

    With max_plays above 0, a request that would begin one play more of the clip than that is refused
    (PlayLimitReached) and not noted; a play is counted as models.count_plays says. labelled_reference
    marks a request for a MUSHRA reference by its open token, which counts for nothing.
    """
    fetch = ClipFetch(
        evaluator=evaluator,
        test_sample=test_sample,
        started_at=started_at,
        bytes_from=bytes_from,
        bytes_to=bytes_to,
        size=size,
        complete=bytes_from == 0 and bytes_to >= size - 1,
        labelled_reference=labelled_reference,
    )
    if not max_plays or labelled_reference:
        fetch.save()  # one INSERT, no transaction: a page's clips are fetched all at once
        return fetch
    with transaction.atomic():
        # Lock the evaluator's row so that two requests at once cannot both take the last play.
        Evaluator.objects.select_for_update().filter(pk=evaluator.pk).exists()
        plays, complete = _fetches_of(evaluator, test_sample).plays()
        if plays >= max_plays and complete:
            raise PlayLimitReached(f"clip {test_sample.pk} was played {plays} times, {max_plays} allowed")
        fetch.save()
    return fetch


def _fetches_of(evaluator: Evaluator, test_sample: TestSample) -> QuerySet:
    return ClipFetch.objects.filter(evaluator=evaluator, test_sample=test_sample, labelled_reference=False)


def play_state(*, evaluator: Evaluator, test_sample: TestSample, max_plays: int) -> dict:
    """What the page shows of a clip with limited plays: plays_left and whether it was heard whole
    (sent whole at least once, so a page reloaded after the last play still takes an answer)."""
    plays, complete = _fetches_of(evaluator, test_sample).plays()
    heard = plays > 1 or complete
    return {"plays_left": max(max_plays - plays, 0) if max_plays else None, "heard": heard}


def verify_listening(
    *, evaluator: Evaluator, method: Method, clips: list[TestSample], received_at: datetime
) -> dict:
    """The server's timings of an answer, if this evaluator could have heard every clip; else RatingRefused.

    Every clip must have been sent whole (in one request or in ranges) by requests no earlier
    answer counted, and the method's listening time for the clips' durations must have passed
    since the first of those requests began. The timings describe those requests.
    """
    clip_ids = [clip.pk for clip in clips]
    fetches = _uncounted_fetches(evaluator, clip_ids, received_at)
    missing = set(clip_ids) - fetches.fully_sent_clip_ids()
    if missing:
        raise RatingRefused("not_fetched", f"clips {sorted(missing)} were not fetched whole for this answer")
    timing = fetches.aggregate(first=Min("started_at"), count=Count("id"))
    durations = list(TestSample.objects.filter(pk__in=clip_ids).values_list("sample__duration_s", flat=True))
    needed = method.listening_time(durations) - settings.SARAI_LISTEN_TOLERANCE_S
    waited = (received_at - timing["first"]).total_seconds()
    if waited < needed:
        raise RatingRefused(
            "too_soon", f"answered {waited:.3f} s after the first fetch, {needed:.3f} s needed"
        )
    return {"first_fetch_at": timing["first"], "fetch_count": timing["count"], "received_at": received_at}


def _uncounted_fetches(evaluator: Evaluator, clip_ids: list[int], received_at: datetime) -> QuerySet:
    # A clip can be in several trials of a session (a pair method's clip in several pairs, an A/B
    # repeat): a fetch an earlier answer counted says nothing of hearing it for this one. A labelled
    # MUSHRA reference is the hidden one's copy, but hearing it is not hearing the page's sample.
    return ClipFetch.objects.filter(
        evaluator=evaluator,
        test_sample__in=clip_ids,
        started_at__lte=received_at,
        labelled_reference=False,
        counted_at__isnull=True,
    )


def _count_fetches(evaluator: Evaluator, clips: list[TestSample], received_at: datetime) -> None:
    """Spend the fetches an accepted answer was verified on, so that no later trial counts them."""
    _uncounted_fetches(evaluator, [clip.pk for clip in clips], received_at).update(counted_at=received_at)


def finish_if_done(*, evaluator: Evaluator) -> bool:
    """Mark the session finished once every clip is rated; True if it is finished."""
    if current_clip(evaluator=evaluator)[0] is None:
        Evaluator.objects.filter(pk=evaluator.pk, finished_at__isnull=True).update(finished_at=timezone.now())
    evaluator.refresh_from_db()
    return evaluator.finished_at is not None


def _clamp(value: int | None, low: int, high: int) -> int | None:
    return None if value is None else min(max(int(value), low), high)


def _validate_answer(
    test: ListeningTest, clips: list[TrialClip], scores: dict[str, object], played_to_end: bool
) -> list[Answer]:
    """The method's answers for these scores, each score on the test's scale; RatingRefused otherwise."""
    if not played_to_end:
        raise RatingRefused("not_played", "the browser did not report the clip as played to the end")
    try:
        answers = get_method(test.method).validate(test, clips, scores)
        for answer in answers:
            if not answer.text:  # a typed answer has no score; every other answer has one
                test.scale.check_score(answer.score)
    except ValueError as exc:
        raise RatingRefused("bad_score", str(exc)) from None
    return answers


def _create_once(common: dict, answer: Answer) -> Rating:
    sample = answer.test_sample
    fields = {"sample_id": sample.sample_id, "test_sample": sample, "dimension": answer.dimension}
    try:
        with transaction.atomic():
            return Rating.objects.create(score=answer.score, transcript=answer.text, **fields, **common)
    except IntegrityError:
        # The same answer arrived twice at once: the other request stored it.
        return Rating.objects.get(
            evaluator=common["evaluator"],
            trial_id=common["trial_id"],
            sample_id=sample.sample_id,
            dimension=answer.dimension,
        )
