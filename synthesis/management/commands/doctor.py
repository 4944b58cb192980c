"""Report what this machine runs the pipeline with, and whether every engine works here."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from synthesis.engines import selftest
from synthesis.engines.models import cpu_description, library_versions


class Command(BaseCommand):
    help = (
        "Print the CPU, its instruction-set flags, library versions and the llama.cpp build flags, then "
        "self-test every engine (each in a child process; cached per build and CPU unless --fresh)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fresh", action="store_true", help="Run the engine checks again.")

    def handle(self, *args, **options):
        report = selftest.ensure_report(cache_dir=settings.SARAI_MODEL_CACHE, force=options["fresh"])
        write = self.stdout.write
        write(f"CPU              {cpu_description()}")
        write(f"CPU flags        {' '.join(selftest.cpu_flags()) or 'none of interest'}")
        write(f"llama.cpp build  {selftest.llama_build_flags()}")
        write("Libraries")
        for name, version in library_versions().items():
            write(f"  {name:18} {version}")
        write(f"Engine self-test (key {report['key']}, {settings.SARAI_MODEL_CACHE})")
        failed = 0
        for result in report["results"]:
            mark = "ok    " if result["ok"] else "FAILED"
            failed += not result["ok"]
            write(f"  {mark} {result['label']:48} {result['seconds']:6.1f} s  {result['message']}")
        if failed:
            raise CommandError(f"{failed} engine(s) failed their self-test; see above.")
