"""The design's TTS MOS study in one step: synthesise a sentence set in both styles, make the blind
test with the design's four dimensions plus overall, invite the evaluators and print their links.

The test feeds the claims page (annotations.results.claims) once every evaluator has finished.
"""

import math
import time
from collections import Counter

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug
from django.db import transaction
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.text import slugify
from tqdm import tqdm

from annotations import services
from annotations.management.commands.invite_evaluators import DEFAULT_BASE_URL, MAX_COUNT, invite_link
from annotations.models import Evaluator, ListeningTest, Scale
from annotations.results import claims
from synthesis import services as synthesis_services
from synthesis.engines import selftest
from synthesis.management.following import Unterminated, advance, by_names
from synthesis.models import PipelineConfig, Sentence, SentenceSet, Status, StylePreset, SynthesisRun
from synthesis.run_modes import sentences

# The main question first: the claims page reads "overall" per style and each design dimension.
DIMENSIONS = ("overall", *claims.DIMENSIONS)
DEFAULTS = {"styles": "neutral,warm", "config": "piper-joe", "limit": 100}
SHOWN_ERRORS = 10


class Command(BaseCommand):
    help = (
        "The design's TTS MOS study: synthesise the first --limit sentences of a set in each style, make "
        "an open blind ACR test asking overall quality, then clarity, naturalness, expressiveness and "
        "absence of artifacts, each on the set's language's scale (acr-en or acr-es), invite "
        "--evaluators and print their links. By default every evaluator rates every clip (the design's "
        "full crossing: 20 raters x 100 sentences x 2 styles), so the test is complete, and feeds the "
        "claims page, when all of them have finished; a personal link resumes where its evaluator "
        "stopped, so 200 clips can be rated over several sittings. A run with failed items makes no test: "
        "retry them on the run page, then pass --run."
    )

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--set", dest="set_name", help="Sentence set to synthesise.")
        source.add_argument(
            "--run",
            type=int,
            help="Make the test from this finished synthesis run instead (e.g. after a retry).",
        )
        parser.add_argument("--styles", help=f"Style names, comma-separated (default {DEFAULTS['styles']}).")
        parser.add_argument(
            "--config",
            help=f"Pipeline configuration (default {DEFAULTS['config']}; for Spanish, espeak: no Spanish "
            "Piper voice ships).",
        )
        parser.add_argument(
            "--limit",
            type=int,
            help=f"Synthesise the set's first N sentences, in order (default {DEFAULTS['limit']}); a set "
            "with fewer is refused. Those of a longer set are copied once into the set <set>-N (as "
            "load_sentence_sets --limit makes it), which later runs share.",
        )
        parser.add_argument("--evaluators", type=int, default=20, help="Invite links to create (default 20).")
        parser.add_argument(
            "--ratings-per-sample",
            type=int,
            help="Ratings wanted per clip (default: --evaluators, every evaluator rates every clip). Fewer "
            "gives shorter sessions of clips x N / evaluators clips each and, unlike the default, leaves "
            "clips outside each session to practise on.",
        )
        parser.add_argument("--name", default="", help="Test name, a slug (default tts-mos-<set>-run-<id>).")
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="Synthesise in this process instead of waiting for Celery workers.",
        )
        parser.add_argument(
            "--base-url", default=DEFAULT_BASE_URL, help="Scheme and host of the printed links."
        )

    def handle(self, *args, **opts):
        evaluators = opts["evaluators"]
        per_sample = _ratings_per_sample(evaluators, opts["ratings_per_sample"])
        if opts["name"]:
            _check_test_name(opts["name"])
        run = self._finished_run(opts) if opts["run"] is not None else self._synthesise(opts)
        _check_complete(run, opts["base_url"])
        samples = list(services.candidate_samples(runs=[run.pk]))
        language = _language(sample.sentence.language for sample in samples if sample.sentence)
        name = opts["name"] or slugify(f"tts-mos {run.sentence_sets.first() or ''} run {run.pk}")[:80]
        _check_test_name(name)
        self.stdout.write(f"Making test {name}: loudness-matched copies of {len(samples)} clips…")
        try:
            test = services.create_test(
                name=name,
                samples=samples,
                scale=Scale.objects.get(name=f"acr-{language}"),
                dimensions=DIMENSIONS,
                ratings_per_sample=per_sample,
                samples_per_session=math.ceil(len(samples) * per_sample / evaluators),
                language=language,
                description=f"TTS MOS study of run {run.pk} ({run.name}), made by benchmark_tts_mos.",
            )
        except services.TestCreationError as exc:
            raise CommandError(str(exc)) from None
        invited = services.invite_evaluators(test=test, count=evaluators)
        self._report(test, invited, opts["base_url"])

    def _finished_run(self, opts: dict) -> SynthesisRun:
        given = [f"--{key.replace('_', '-')}" for key in (*DEFAULTS, "in_process") if opts[key]]
        if given:
            raise CommandError(f"{', '.join(given)} choose what to synthesise: --run takes the run as it is.")
        run = SynthesisRun.objects.filter(pk=opts["run"]).first()
        if run is None:
            raise CommandError(f"No synthesis run with id {opts['run']}.")
        if run.mode != sentences.SYNTHESIS.key:
            raise CommandError(f"Run {run.pk} is a {run.mode} run; the MOS study rates a synthesis run.")
        self.stdout.write(f"Run {run.pk}: {run.name}, synthesised earlier.")
        return run

    def _synthesise(self, opts: dict) -> SynthesisRun:
        """Start the run over the set's first sentences × styles and show its progress until it ends."""
        options = {key: DEFAULTS[key] if opts[key] is None else opts[key] for key in DEFAULTS}
        sentence_set = SentenceSet.objects.filter(name=opts["set_name"]).first()
        if sentence_set is None:
            raise CommandError(f"No sentence set named {opts['set_name']!r}.")
        styles = by_names(StylePreset, options["styles"])
        config = PipelineConfig.objects.filter(name=options["config"]).first()
        if config is None:
            raise CommandError(f"No pipeline configuration named {options['config']!r}.")
        chosen = _first_sentences(sentence_set, options["limit"])
        _language(chosen.sentences.values_list("language", flat=True))  # refuse before synthesising
        runner = synthesis_services.worker_name() if opts["in_process"] else ""
        if runner:
            # As in synthesize: a crashing engine would take this process down, so each is tested in
            # a child process first, and items needing one that failed fail with its message.
            for result in selftest.ensure_report(cache_dir=settings.SARAI_MODEL_CACHE)["results"]:
                if not result["ok"]:
                    self.stderr.write(f"Engine self-test failed: {result['message']}")
        run = synthesis_services.start_run(
            name=SynthesisRun.default_name([chosen.name], [style.name for style in styles]),
            config=config,
            sentence_sets=[chosen],
            styles=styles,
            in_process_by=runner,
        )
        self.stdout.write(
            f"Run {run.pk}: {run.total_count} clips ({chosen.name} × {options['styles']}) with {config.name}."
        )
        if not runner:
            self.stdout.write("Waiting for Celery workers (or stop and pass --in-process).")
        with tqdm(
            total=run.total_count, unit="item", file=Unterminated(self.stdout), smoothing=0, mininterval=0
        ) as bar:
            if runner:
                synthesis_services.run_items_here(run=run, after_each=lambda: advance(bar, run))
            else:
                while not advance(bar, run):
                    time.sleep(1)
        return run

    def _report(self, test: ListeningTest, invited: list[Evaluator], base_url: str) -> None:
        clips = test.test_samples.count()
        self.stdout.write(
            f"Created test {test.name} (id {test.pk}): {clips} clip{pluralize(clips)}, "
            f"questions {', '.join(test.dimensions)}, scale {test.scale.name}; "
            f"{test.ratings_per_sample} ratings per clip, {test.samples_per_session} clips per evaluator."
        )
        self.stdout.write(f"Dashboard: {base_url.rstrip('/')}{reverse('results:test', args=[test.pk])}")
        self.stdout.write(f"Invite links ({len(invited)}):")
        for evaluator in invited:
            self.stdout.write(f"{evaluator.pseudonym}\t{invite_link(evaluator, base_url)}")


def _ratings_per_sample(evaluators: int, wanted: int | None) -> int:
    if not 1 <= evaluators <= MAX_COUNT:
        raise CommandError(f"--evaluators must be between 1 and {MAX_COUNT}.")
    per_sample = evaluators if wanted is None else wanted
    if not 1 <= per_sample <= evaluators:
        # An evaluator rates a clip once: more ratings than evaluators would never be reached.
        raise CommandError(f"--ratings-per-sample must be between 1 and --evaluators ({evaluators}).")
    return per_sample


def _check_test_name(name: str) -> None:
    try:
        validate_slug(name)
    except ValidationError:
        raise CommandError(f"--name {name!r} is not a slug (letters, digits, - and _).") from None
    if ListeningTest.objects.filter(name=name).exists():
        raise CommandError(f"A listening test named {name!r} exists already.")


def _check_complete(run: SynthesisRun, base_url: str) -> None:
    """Refuse a run that did not synthesise every clip: a test of part of the set is not the study."""
    run.refresh_from_db()
    if run.status == Status.DONE and run.failed_count == 0 and run.done_count == run.total_count:
        return
    errors = Counter(run.items.filter(status=Status.FAILED).values_list("error", flat=True))
    lines = [
        f"Run {run.pk} ({run.get_status_display().lower()}): {run.done_count} of {run.total_count} clips "
        f"synthesised, {run.failed_count} failed. No test was made of part of the set."
    ]
    lines += [f"  {count} × {error}" for error, count in errors.most_common(SHOWN_ERRORS)]
    if len(errors) > SHOWN_ERRORS:
        lines.append(f"  … and {len(errors) - SHOWN_ERRORS} other errors")
    lines.append(
        f"Retry the failed items on the run page ({base_url.rstrip('/')}"
        f"{reverse('synthesis:run_detail', args=[run.pk])}), "
        f"then: manage.py benchmark_tts_mos --run {run.pk}"
    )
    raise CommandError("\n".join(lines))


def _language(codes) -> str:
    """The one interface language (and acr scale) of these BCP 47 codes: en or es."""
    found = sorted({code.split("-")[0].lower() for code in codes})
    offered = dict(ListeningTest._meta.get_field("language").choices)
    if len(found) != 1 or found[0] not in offered:
        raise CommandError(
            f"The sentences are in {', '.join(found) or 'no language'}; a MOS test rates one language, "
            f"one of {', '.join(offered)}."
        )
    return found[0]


def _first_sentences(sentence_set: SentenceSet, limit: int) -> SentenceSet:
    """The set itself if it holds exactly `limit` sentences, else a copy of its first `limit` (made once)."""
    if limit < 1:
        raise CommandError("--limit must be at least 1.")
    first = list(sentence_set.sentences.order_by("position")[: limit + 1])
    if len(first) < limit:
        raise CommandError(
            f"Sentence set {sentence_set.name!r} holds {len(first)} sentence{pluralize(len(first))}, fewer "
            f"than --limit {limit}; pass --limit {len(first)} to rate them all."
        )
    if len(first) == limit:
        return sentence_set
    first = first[:limit]
    # The name load_sentence_sets --limit gives the same subset (harvard-en-100), so either makes it once.
    name = f"{sentence_set.name[:70]}-{limit}"
    with transaction.atomic():
        subset, created = SentenceSet.objects.get_or_create(
            name=name,
            defaults={"description": f"The first {limit} sentences of {sentence_set.name}, in order."},
        )
        if created:
            Sentence.objects.bulk_create(
                Sentence(
                    sentence_set=subset,
                    position=sentence.position,
                    text=sentence.text,
                    language=sentence.language,
                    tags=sentence.tags,
                    reference_audio=sentence.reference_audio.name,
                )
                for sentence in first
            )
    wanted = [(s.position, s.text, s.language) for s in first]
    if list(subset.sentences.order_by("position").values_list("position", "text", "language")) != wanted:
        raise CommandError(
            f"A sentence set named {name!r} exists but is not the first {limit} of {sentence_set}."
        )
    return subset
