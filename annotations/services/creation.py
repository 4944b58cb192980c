"""Creating a listening test: its options, clips and trials, checked against its method."""

from collections.abc import Iterable
from dataclasses import replace

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.text import slugify

from annotations import multistimulus
from annotations.methods import DEFAULT_METHOD, Method, get_method
from annotations.models import (
    ArtifactMark,
    ListeningTest,
    Scale,
    TestSample,
    Trial,
    TrialClip,
    expects_participant_ids,
)
from annotations.services.errors import TestCreationError
from annotations.services.playback import (
    _anchor_clips,
    _Clip,
    _delete_playback_files,
    _delete_sample_files,
    _write_playback_copies,
)
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
    "allow_no_participant_id",
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
    is used; without allow_no_participant_id (or None), a test with a platform code or completion URL
    refuses open-link visitors without a participant id and any other test accepts them. The method
    refuses a scale that cannot hold its answers and clips it cannot make trials from, before any
    audio is decoded. A method that takes a reference (MUSHRA) makes the reference
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
    if options.get("allow_no_participant_id") is None:
        crowd = expects_participant_ids(options.get("platform_code", ""), options.get("completion_url", ""))
        options["allow_no_participant_id"] = not crowd
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


def _store_test(fields: dict, clips: list[_Clip], anchors: list[_Clip], rate: int) -> ListeningTest:
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


def _with_references(clips: list[_Clip], reference_system: str) -> list[_Clip]:
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


def _check_method_fits(method: Method, scale: Scale, clips: list[_Clip]) -> None:
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
    shaped = [
        (Trial(test=test, kind=kind), shape)
        for kind in (TestSample.Kind.TEST, TestSample.Kind.GOLD, TestSample.Kind.TRAP)
        for shape in method.build_trials([clip for clip in clips if clip.kind == kind])
    ]
    # Two INSERTs whatever the test's size: the trials (their ids come back), then all their clips.
    trials = Trial.objects.bulk_create(trial for trial, _ in shaped)
    TrialClip.objects.bulk_create(
        TrialClip(trial=trial, test_sample=clip, role=role, position=position)
        for trial, shape in shaped
        for position, (clip, role) in enumerate(shape)
    )
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
