"""Per-condition MOS with every CI method, after and before screening, as JSON or CSV."""

import json

from django.core.management.base import BaseCommand, CommandError

from annotations.models import ListeningTest
from annotations.results import exports, services
from annotations.results.services import Thresholds


class Command(BaseCommand):
    help = (
        "Print n, MOS, SD and the CrowdMOS (headline), t, normal and bootstrap 95% CIs per system × style × "
        "dimension, after and before screening. Everything is computed now, whatever the test's size."
    )

    def add_arguments(self, parser):
        parser.add_argument("--test", required=True, help="Name of the listening test.")
        parser.add_argument("--format", choices=("json", "csv"), default="json")
        Thresholds.add_arguments(parser)

    def handle(self, *args, **options):
        test = ListeningTest.objects.filter(name=options["test"]).first()
        if test is None:
            raise CommandError(f"No listening test named {options['test']!r}.")
        data = services.test_results(test, Thresholds.from_options(options), inline=True)
        if options["format"] == "csv":
            self.stdout.write(exports.summary_csv(data), ending="")
        else:
            self.stdout.write(json.dumps(exports.summary_json(data), indent=2))
