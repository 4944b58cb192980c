"""Create a listening test from the samples of synthesis runs and imported systems."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator
from django.template.defaultfilters import pluralize
from django.urls import reverse

from annotations import methods, services
from annotations.models import ListeningTest, Scale, completion_conflict
from synthesis.models import Sample


def id_score(text: str) -> tuple[int, int]:
    sample_id, _, score = text.partition("=")
    # The score is checked against the test's scale by create_test.
    if not (sample_id.isdigit() and score.lstrip("-").isdigit()):
        raise ValueError(text)
    return int(sample_id), int(score)


def check_completion(platform_code: str, completion_url: str) -> None:
    """Refuse what the create page would refuse: a malformed URL, or a URL naming another code."""
    if completion_url:
        try:
            URLValidator()(completion_url)
        except ValidationError:
            raise CommandError(f"--completion-url {completion_url!r} is not a URL.") from None
    conflict = completion_conflict(platform_code, completion_url)
    if conflict:
        raise CommandError(conflict)


class Command(BaseCommand):
    help = "Create an open listening test: tokens and loudness-matched playback copies for every clip."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Unique test name (a slug).")
        parser.add_argument(
            "--method",
            default=methods.DEFAULT_METHOD,
            choices=sorted(methods.METHODS),
            help=f"Test method (default {methods.DEFAULT_METHOD}).",
        )
        parser.add_argument("--run", type=int, action="append", default=[], help="Run id; repeatable.")
        parser.add_argument(
            "--system",
            action="append",
            default=[],
            help="Imported/reference samples of this system; repeatable.",
        )
        parser.add_argument(
            "--scale",
            default="",
            help="Scale name, e.g. acr-es, naturalness-en, ccr-en, ab-es (default: the method's own for "
            "the language: acr-, ccr- (cmos), ab-, transcription- (intelligibility) or mushra-en/es).",
        )
        parser.add_argument("--dimensions", default="overall", help="Comma list; the first is the main one.")
        parser.add_argument("--ratings-per-sample", type=int, default=8)
        parser.add_argument("--samples-per-session", type=int, default=20)
        parser.add_argument("--gold", type=id_score, action="append", default=[], help="SAMPLE_ID=EXPECTED.")
        parser.add_argument(
            "--trap", type=id_score, action="append", default=[], help="SAMPLE_ID=INSTRUCTED."
        )
        parser.add_argument("--training", type=int, action="append", default=[], help="Practice sample id.")
        parser.add_argument("--language", default="en", choices=["en", "es"], help="Evaluator interface.")
        parser.add_argument("--instructions", default="", help="Shown to evaluators before the test.")
        parser.add_argument("--recruitment", default="", help="How evaluators were recruited (report).")
        parser.add_argument("--payment", default="", help="What evaluators were paid (report).")
        parser.add_argument("--open-link", action="store_true", help="Accept evaluators by the open link.")
        parser.add_argument(
            "--completion-url",
            "--redirect-url",
            default="",
            help="The crowd platform's completion URL; the finish page sends evaluators there.",
        )
        parser.add_argument(
            "--platform-code", default="", help="The crowd platform's completion code, shown when finished."
        )
        parser.add_argument(
            "--repeat-share",
            type=float,
            default=ListeningTest._meta.get_field("repeat_share").default,
            help="ab: share of each session's pairs asked again later in swapped order (default 0.1).",
        )
        parser.add_argument(
            "--forced-choice",
            action="store_true",
            help="ab: offer only A and B, no 'No preference'.",
        )
        parser.add_argument(
            "--max-plays",
            type=int,
            default=None,
            help="intelligibility: plays allowed per clip, counted by the server (default 2; 0: no limit).",
        )
        parser.add_argument(
            "--reference-system",
            default="",
            help="mushra: the system whose clip of each sentence is the reference (labelled and hidden).",
        )
        parser.add_argument(
            "--artifact-labels",
            default="",
            help="acr, intelligibility: comma list of labels listeners may give a moment where they heard "
            'a problem, e.g. "click,mispronunciation,robotic,noise" (default: no marking).',
        )
        parser.add_argument(
            "--no-anchor",
            action="store_true",
            help="mushra: no anchor (by default each page with a reference gets one: the reference "
            "low-passed at 3.5 kHz).",
        )

    def handle(self, *args, **options):
        method = methods.get_method(options["method"])
        scale_name = options["scale"] or method.default_scale(options["language"])
        scale = Scale.objects.filter(name=scale_name).first()
        if scale is None:
            raise CommandError(f"No scale named {scale_name!r}.")
        if not 0 <= options["repeat_share"] <= 1:
            raise CommandError(f"--repeat-share {options['repeat_share']} is not a share from 0 to 1.")
        if options["max_plays"] is not None and not 0 <= options["max_plays"] <= 100:
            raise CommandError(f"--max-plays {options['max_plays']}: give 1 to 100, or 0 for no limit.")
        check_completion(options["platform_code"], options["completion_url"])
        samples = list(services.candidate_samples(runs=options["run"], systems=options["system"]))
        by_id = Sample.objects.in_bulk(
            [i for i, _ in options["gold"] + options["trap"]] + options["training"]
        )
        try:
            test = services.create_test(
                name=options["name"],
                samples=samples,
                scale=scale,
                method=options["method"],
                dimensions=options["dimensions"].split(","),
                ratings_per_sample=options["ratings_per_sample"],
                samples_per_session=options["samples_per_session"],
                gold={by_id[i]: score for i, score in options["gold"]},
                traps={by_id[i]: score for i, score in options["trap"]},
                training=[by_id[i] for i in options["training"]],
                language=options["language"],
                instructions=options["instructions"],
                recruitment=options["recruitment"],
                payment=options["payment"],
                allow_open_link=options["open_link"],
                completion_url=options["completion_url"],
                platform_code=options["platform_code"],
                repeat_share=options["repeat_share"],
                allow_no_preference=not options["forced_choice"],
                max_plays=options["max_plays"],
                reference_system=options["reference_system"],
                with_anchor=bool(options["reference_system"]) and not options["no_anchor"],
                artifact_labels=options["artifact_labels"].split(","),
            )
        except KeyError as exc:
            raise CommandError(f"No sample with id {exc.args[0]}.") from None
        except services.TestCreationError as exc:
            raise CommandError(str(exc)) from None
        clips, trials = test.test_samples.count(), test.trials.count()
        self.stdout.write(
            f"Created test {test.name} (id {test.pk}, {method.name}) with {clips} clip{pluralize(clips)} "
            f"in {trials} trial{pluralize(trials)}."
        )
        if test.allow_open_link:
            link = reverse("annotations:open_link", args=[test.open_token])
            self.stdout.write(f"Open link: {link}?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}")
