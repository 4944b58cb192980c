"""Write a test's ratings as the tidy CSV (one row per rating, screening flags included)."""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from annotations.models import ListeningTest
from annotations.results import exports
from annotations.results.services import Thresholds


class Command(BaseCommand):
    help = "Export every rating of a test as tidy CSV, streamed in constant memory (stdout or --out FILE)."

    def add_arguments(self, parser):
        parser.add_argument("--test", required=True, help="Name of the listening test.")
        parser.add_argument("--out", help="File to write; standard output if omitted.")
        Thresholds.add_arguments(parser)

    def handle(self, *args, **options):
        test = ListeningTest.objects.filter(name=options["test"]).first()
        if test is None:
            raise CommandError(f"No listening test named {options['test']!r}.")
        thresholds = Thresholds.from_options(options)
        if options["out"]:
            with open(options["out"], "w", newline="", encoding="utf-8") as out:
                count = exports.write_ratings(test, thresholds, out)
            self.stderr.write(f"Wrote {count} rating{pluralize(count)} of {test.name} to {options['out']}.")
        else:
            count = exports.write_ratings(test, thresholds, sys.stdout)
            self.stderr.write(f"Wrote {count} rating{pluralize(count)} of {test.name}.")
