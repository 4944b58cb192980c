"""Import a speech dataset from a folder in Common Voice layout or with a CSV manifest."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from synthesis.datasets import DatasetImportError, import_dataset, report_lines


class Command(BaseCommand):
    help = (
        "Import a speech dataset: a Common Voice folder (validated.tsv or test/dev/train.tsv with "
        "path and sentence, clips/ beside it) or a CSV manifest file,transcript[,language]."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path, help="Folder holding the TSV or CSV and the clips.")
        parser.add_argument("--name", required=True, help="Name (slug) of the new dataset.")
        parser.add_argument("--limit", type=int, help="Keep a random subset of this many utterances.")
        parser.add_argument("--seed", type=int, help="Seed of the subset; drawn and stored when omitted.")
        parser.add_argument("--language", help="Language of rows without a locale, e.g. es.")
        parser.add_argument("--description", default="", help="Where the recordings come from.")

    def handle(self, *args, folder: Path, name, limit, seed, language, description, **options):
        try:
            dataset = import_dataset(
                name=name,
                folder=folder,
                limit=limit,
                seed=seed,
                language=language,
                description=description,
            )
        except DatasetImportError as exc:
            raise CommandError(str(exc)) from None
        subset = f" (random subset of {dataset.limit}, seed {dataset.seed})" if dataset.limit else ""
        self.stdout.write(f"Dataset {dataset.name}: {dataset.source}{subset}.")
        for line in report_lines(dataset.import_report):
            self.stdout.write(line)
