"""Import ratings collected elsewhere, in the tidy CSV layout export_ratings writes."""

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from annotations.models import Rating, Scale
from annotations.results.imports import RatingImportError, import_ratings


class Command(BaseCommand):
    help = (
        "Create a closed test from a ratings CSV (export_ratings layout; required columns: evaluator, "
        "sample, system, dimension, score). Samples are created without audio."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file (UTF-8).")
        parser.add_argument("--test", required=True, help="Name of the test to create.")
        parser.add_argument("--scale", default="acr-en", help="Rating scale of the test (default acr-en).")
        parser.add_argument("--language", default="en", help="Language of the sentences (default en).")

    def handle(self, *args, **options):
        scale = Scale.objects.filter(name=options["scale"]).first()
        if scale is None:
            raise CommandError(f"No scale named {options['scale']!r}.")
        try:
            with open(options["file"], newline="", encoding="utf-8-sig") as lines:
                test = import_ratings(
                    name=options["test"], lines=lines, scale=scale, language=options["language"]
                )
        except (OSError, RatingImportError) as exc:
            raise CommandError(str(exc)) from None
        ratings = Rating.objects.filter(evaluator__test=test).count()
        evaluators, clips = test.evaluators.count(), test.test_samples.count()
        self.stdout.write(
            f"Imported {ratings} rating{pluralize(ratings)} by {evaluators} evaluator{pluralize(evaluators)} "
            f"on {clips} clip{pluralize(clips)} into {test.name}."
        )
