"""Import external samples (another system's output, human references) from a zip or a folder."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.importing import SampleImportError, import_samples, summary


class Command(BaseCommand):
    help = "Import the audio files listed in manifest.csv (see annotations/importing.py for its columns)."

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path, help="A .zip archive or a folder holding manifest.csv.")
        parser.add_argument("--system", default="", help="System name for lines without a 'system' column.")
        parser.add_argument("--origin", default="imported", choices=["imported", "reference"])

    def handle(self, *args, source: Path, system: str, origin: str, **options):
        try:
            samples = import_samples(source=source, system_label=system, origin=origin)
        except OSError as exc:
            raise CommandError(f"Cannot read {source}: {exc.strerror}") from None
        except SampleImportError as exc:
            raise CommandError(f"{source}: {exc}") from None
        # One line per new sample, for create_test's --gold, --trap and --training.
        self.stdout.write(f"{summary(samples)}:")
        self.stdout.write("id\tsystem\tstyle\tfile")
        for sample in samples:
            self.stdout.write(
                f"{sample.pk}\t{sample.system_label}\t{sample.style_label}\t{sample.source_name}"
            )
