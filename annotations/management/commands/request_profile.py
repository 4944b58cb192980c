"""Add up the request profiles a server wrote under SARAI_PROFILE_DIR: where each kind's time goes."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sarai_eval.request_profile import LAYERS, OTHER, summary


class Command(BaseCommand):
    help = (
        "Per kind of request (URL name and method): the count, the mean time under the profiler and "
        "the share of the sampled time in each layer (database, ORM, templates, audio files, Django, "
        "project code, other), from the files a server wrote with SARAI_PROFILE_DIR set."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", help="The SARAI_PROFILE_DIR the server wrote to.")
        parser.add_argument("--min-count", type=int, default=1, help="Leave out rarer kinds.")

    def handle(self, *args, folder: str, min_count: int, **options):
        path = Path(folder)
        if not path.is_dir():
            raise CommandError(f"{folder}: no such folder (the SARAI_PROFILE_DIR a server wrote to)")
        kinds = summary(path)
        if not kinds:
            raise CommandError(f"{folder}: no request profiles in it (*.jsonl)")
        self.stdout.write(table(kinds, min_count))


def table(kinds: dict[str, dict], min_count: int = 1) -> str:
    """A Markdown table: one row per kind, the layers' shares of its sampled time in per cent."""
    layers = [name for name, _ in LAYERS] + [OTHER]
    lines = [
        "| request | count | mean ms (profiled) | " + " | ".join(layers) + " |",
        "|---|---:|---:|" + "---:|" * len(layers),
    ]
    for kind, entry in sorted(kinds.items(), key=lambda item: -item[1]["wall_s"]):
        if entry["count"] < min_count:
            continue
        sampled = sum(entry["layers"].values()) or 1.0
        shares = [f"{100 * entry['layers'].get(layer, 0.0) / sampled:.0f} %" for layer in layers]
        mean_ms = 1000 * entry["wall_s"] / entry["count"]
        lines.append(f"| {kind} | {entry['count']} | {mean_ms:.1f} | " + " | ".join(shares) + " |")
    return "\n".join(lines) + "\n"
