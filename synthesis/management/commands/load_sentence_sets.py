"""Load the sentence sets shipped for listening tests (Harvard sentences, Spanish); safe to re-run."""

from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.template.defaultfilters import pluralize

from synthesis.importing import parse_sentence_file
from synthesis.models import SentenceSet
from synthesis.services import import_sentences

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@dataclass(frozen=True)
class ShippedSet:
    name: str
    filename: str
    language: str
    description: str


SHIPPED_SETS = [
    ShippedSet(
        name="harvard-en",
        filename="harvard_sentences.txt",
        language="en",
        description=(
            "The 720 Harvard sentences, 72 phonetically balanced lists of 10 in list order, from IEEE "
            "Recommended Practice for Speech Quality Measurements, IEEE Transactions on Audio and "
            "Electroacoustics 17(3), 1969 (public domain)."
        ),
    ),
    ShippedSet(
        name="sentences-es",
        filename="spanish_sentences.txt",
        language="es",
        description=(
            "Everyday Spanish sentences written for sarai-eval, covering the Spanish phonemes; CC0."
        ),
    ),
]


class Command(BaseCommand):
    help = (
        "Create the shipped sentence sets harvard-en and sentences-es; with --limit N also NAME-N "
        "holding the first N sentences of each (harvard-en-100 is Harvard lists 1-10). Safe to re-run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit",
            type=int,
            help="Also create NAME-N with the first N sentences of each set, in file order.",
        )

    def handle(self, *args, limit: int | None, **options):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number of sentences.")
        for shipped in SHIPPED_SETS:
            data = (FIXTURES / shipped.filename).read_bytes()
            self._create(shipped.name, data, shipped, shipped.description)
            if limit is not None:
                self._create_first(limit, data, shipped)

    def _create_first(self, limit: int, data: bytes, shipped: ShippedSet) -> None:
        sentences = parse_sentence_file(data, filename=shipped.filename, default_language=shipped.language)
        if limit >= len(sentences):
            self.stdout.write(f"{shipped.name} has only {len(sentences)} sentences: no subset of {limit}.")
            return
        # The file cut after its limit-th sentence: the subset keeps the full set's positions.
        last_line = sentences[limit - 1].line
        head = b"\n".join(data.split(b"\n")[:last_line]) + b"\n"
        description = f"The first {limit} of the {len(sentences)} sentences of {shipped.name}, in file order."
        self._create(f"{shipped.name}-{limit}", head, shipped, description)

    def _create(self, name: str, data: bytes, shipped: ShippedSet, description: str) -> None:
        if SentenceSet.objects.filter(name=name).exists():
            self.stdout.write(f"Sentence set {name} exists already.")
            return
        with transaction.atomic():
            sentence_set = import_sentences(
                name=name,
                data=data,
                filename=shipped.filename,
                language=shipped.language,
                description=description,
            )
        count = sentence_set.sentences.count()
        self.stdout.write(f"Created sentence set {name} ({count} sentence{pluralize(count)}).")
