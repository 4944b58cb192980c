"""Import a sentence set from a UTF-8 text or CSV file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from synthesis.importing import SentenceFileError
from synthesis.models import SentenceSet
from synthesis.services import import_sentences


class Command(BaseCommand):
    help = (
        "Import sentences: one per line (.txt; a line starting with # is a comment) "
        "or CSV with text[,language][,tags] (.csv)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--name", required=True, help="Name of the new sentence set.")
        parser.add_argument("--language", default="en", help="Language of lines that do not give one.")

    def handle(self, *args, file: Path, name: str, language: str, **options):
        if SentenceSet.objects.filter(name=name).exists():
            raise CommandError(f"A sentence set named {name!r} exists already.")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        try:
            sentence_set = import_sentences(name=name, data=data, filename=file.name, language=language)
        except SentenceFileError as exc:
            raise CommandError(f"{file}: {exc}") from None
        count = sentence_set.sentences.count()
        self.stdout.write(f"Imported {count} sentence{pluralize(count)} into {name}.")
