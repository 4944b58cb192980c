"""Create personal invite links for a listening test and print them, one per line."""

import os

from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from annotations import services
from annotations.models import Evaluator, ListeningTest

DEFAULT_BASE_URL = (
    f"http://{os.environ.get('SARAI_HOST', '127.0.0.1')}:{os.environ.get('SARAI_PORT', '8000')}"
)
MAX_COUNT = 10000


def invite_link(evaluator: Evaluator, base_url: str) -> str:
    """The evaluator's personal link, as they will open it."""
    return base_url.rstrip("/") + reverse("annotations:session", args=[evaluator.token])


class Command(BaseCommand):
    help = "Create evaluators with invite tokens and print their links (pseudonym, tab, link)."

    def add_arguments(self, parser):
        parser.add_argument("--test", required=True, help="Test name.")
        parser.add_argument("--count", type=int, default=10, help="How many links to create.")
        parser.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help="Scheme and host the evaluators will use (default: where `make run` serves).",
        )

    def handle(self, *args, test: str, count: int, base_url: str, **options):
        listening_test = ListeningTest.objects.filter(name=test).first()
        if listening_test is None:
            raise CommandError(f"No listening test named {test!r}.")
        if not 1 <= count <= MAX_COUNT:
            raise CommandError(f"--count must be between 1 and {MAX_COUNT}.")
        for evaluator in services.invite_evaluators(test=listening_test, count=count):
            self.stdout.write(f"{evaluator.pseudonym}\t{invite_link(evaluator, base_url)}")
