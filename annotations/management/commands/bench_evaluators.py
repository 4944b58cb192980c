"""Load-test the evaluator pages: hundreds of simulated evaluators through a real gunicorn.

The command creates a listening test for the bench (from synthesized samples when there are enough,
else from generated tones imported as load-test material), starts gunicorn on a loopback port with
production settings, and lets annotations.loadtest play every session over HTTP: open link,
consent, headphone screen, practice and ratings, each clip fetched whole and heard before the
answer. It prints request times per kind, throughput, refusals, errors, the CPU both sides used,
the server's memory, and the count check (every rating a client was told was stored is stored,
once). The test is deleted afterwards unless --keep. Exit status 1 when the count check fails or
anything went wrong. With --against GIT_REF the same load also runs against another commit's code,
alternating with this code's (_bench_against.py), and the medians of both and their ratios follow.
"""

import csv
import io
import logging
import time
import zipfile

import numpy as np
import soundfile
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from annotations import importing, loadtest, services
from annotations.management.commands import _bench_against as against
from annotations.management.commands._bench_load import (
    WORKER_CLASSES,
    count_check,
    failures,
    gunicorn,
    make_plan,
    report,
    run_load,
    server_shape,
)
from annotations.models import ListeningTest, Rating
from synthesis.models import Sample

MAX_EVALUATORS = 2000
STRESS_FACTOR = 5
MATERIAL_SYSTEM = "load-test material"


class Command(BaseCommand):
    help = "Play --evaluators simulated listening-test sessions against a gunicorn this command starts."

    def add_arguments(self, parser):
        parser.add_argument("--evaluators", type=int, default=200, help=f"At most {MAX_EVALUATORS}.")
        parser.add_argument(
            "--mode",
            choices=loadtest.MODES,
            default="people",
            help=f"people: answer 0.5-2 s (× --pause) after each clip ends; stress: {STRESS_FACTOR}× the "
            "evaluators, answering the moment the listening rule allows.",
        )
        parser.add_argument("--clips", type=int, default=8, help="Clips each evaluator rates.")
        parser.add_argument("--pause", type=float, default=1.0, help="Scales people's pauses.")
        parser.add_argument(
            "--clip-seconds", type=float, default=3.0, help="Length of generated clips (when generated)."
        )
        parser.add_argument(
            "--screen-trials", type=int, default=6, help="Headphone-screen trials (protocol: 6)."
        )
        parser.add_argument(
            "--ramp",
            type=float,
            default=None,
            help="Arrivals spread over this many seconds (people: 10, stress: 0).",
        )
        parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (SARAI_WEB_WORKERS).")
        parser.add_argument(
            "--threads", type=int, default=None, help="Threads per worker (SARAI_WEB_THREADS)."
        )
        parser.add_argument(
            "--worker-class",
            choices=WORKER_CLASSES,
            default=None,
            help="gunicorn worker class (SARAI_WEB_WORKER_CLASS; sync ignores --threads).",
        )
        parser.add_argument(
            "--seeks",
            type=int,
            default=0,
            help="Byte-range requests from a random position per clip after it arrived whole, as a "
            "listener seeking in it sends them (each checked against the whole clip).",
        )
        parser.add_argument("--port", type=int, default=0, help="Loopback port for gunicorn (0: a free one).")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--keep", action="store_true", help="Keep the bench test and its ratings.")
        parser.add_argument(
            "--against",
            metavar="GIT_REF",
            default=None,
            help="Also run the same load against that commit's code (its own checkout and fresh "
            "database), alternating with this code's, and print medians and ratios.",
        )
        parser.add_argument(
            "--rounds",
            type=int,
            default=None,
            help=f"With --against: runs of each side, alternating (at least {against.MIN_ROUNDS}; default "
            f"{against.MIN_ROUNDS}).",
        )
        parser.add_argument(
            "--time-limit", type=float, default=600.0, help="Seconds before everything stops."
        )

    def handle(self, *args, **opts):
        evaluators = self._evaluators(opts)
        # httpx logs every request at INFO: tens of thousands of lines that would bury the table.
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
        if opts["against"] is not None or opts["rounds"] is not None:
            against.compare(self, opts, evaluators)
            return
        started = time.monotonic()
        self.stdout.write(
            f"Preparing a test of {opts['clips']} clips for {evaluators} evaluators ({opts['mode']})."
        )
        test, generated = prepare_test(
            clips=opts["clips"],
            evaluators=evaluators,
            clip_seconds=opts["clip_seconds"],
            screen_trials=opts["screen_trials"],
        )
        try:
            with gunicorn(port=opts["port"], shape=server_shape(opts)) as server:
                self.stdout.write(
                    f"gunicorn {server.pid} serves {server.base_url} ({server.shape}); running {test.name}."
                )
                remaining = opts["time_limit"] - (time.monotonic() - started)
                plan = self._plan(test, server, evaluators, opts)
                outcome, cpu = self._load(plan, server, remaining)
            check = count_check(*stored_ratings(test), outcome)
        finally:
            if not opts["keep"]:
                remove_test(test, generated)
        self.stdout.write(
            report(
                test_line=f"Test {test.name}: {'kept' if test.pk else 'deleted'}",
                vendor=connection.vendor,
                plan=plan,
                outcome=outcome,
                cpu=cpu,
                check=check,
                clips=opts["clips"],
                server_times=server.request_times,
                database_times=server.database_times,
            )
        )
        if server.log_tail and (outcome.statuses or not check["passed"]):
            self.stdout.write("Server log (last lines):\n" + server.log_tail)
        problems = failures(outcome, check)
        if problems:
            raise CommandError("; ".join(problems))

    def _evaluators(self, opts) -> int:
        requested = opts["evaluators"]
        if not 1 <= requested <= MAX_EVALUATORS:
            raise CommandError(f"--evaluators must be between 1 and {MAX_EVALUATORS}.")
        if opts["clips"] < 1 or opts["screen_trials"] < 1:
            raise CommandError("--clips and --screen-trials must be at least 1.")
        if opts["seeks"] < 0:
            raise CommandError("--seeks must be 0 or more.")
        if opts["mode"] == "stress":
            if requested * STRESS_FACTOR > MAX_EVALUATORS:
                self.stdout.write(f"Stress mode is capped at {MAX_EVALUATORS} evaluators.")
            return min(requested * STRESS_FACTOR, MAX_EVALUATORS)
        return requested

    def _plan(self, test: ListeningTest, server, evaluators: int, opts):
        return make_plan(
            server=server,
            open_path=reverse("annotations:open_link", args=[test.open_token]),
            evaluators=evaluators,
            opts=opts,
        )

    def _load(self, plan, server, time_limit: float):
        return run_load(plan, server, time_limit, on_progress=lambda line: self.stdout.write(line))


# -- the material --------------------------------------------------------------------------------


def prepare_test(*, clips: int, evaluators: int, clip_seconds: float, screen_trials: int):
    """The bench test (open link, headphone screen, one practice clip) and the ids of generated samples."""
    existing = [
        sample
        for sample in Sample.objects.filter(origin=Sample.Origin.SYNTHESIZED, duration_s__gt=0)
        .exclude(audio="")
        .order_by("pk")[: clips + 1]
        if sample.audio.storage.exists(sample.audio.name)
    ]
    generated: list[int] = []
    if len(existing) >= clips:
        samples = existing
    else:
        samples = generate_material(count=clips + 1, seconds=clip_seconds)
        generated = [sample.pk for sample in samples]
    test = services.create_test(
        name=f"bench-evaluators-{timezone.now():%Y%m%d-%H%M%S}",
        description="Load-test material of manage.py bench_evaluators; deleted after the run unless --keep.",
        samples=samples[:clips],
        training=samples[clips : clips + 1],
        scale=None,
        ratings_per_sample=evaluators,
        samples_per_session=clips,
        allow_open_link=True,
        screen_trials=screen_trials,
        screen_pass_mark=min(5, screen_trials),
    )
    return test, generated


def generate_material(*, count: int, seconds: float) -> list[Sample]:
    """count tones of different pitch, imported as load-test material like any archive of samples."""
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    archive = io.BytesIO()
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(["file", "system", "text", "origin"])
    with zipfile.ZipFile(archive, "w") as zipped:
        for index in range(count):
            ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.05)
            tone = (0.3 * np.sin(2 * np.pi * (220 + 40 * index) * t) * ramp).astype(np.float32)
            wav = io.BytesIO()
            soundfile.write(wav, tone, rate, format="WAV", subtype="PCM_16")
            zipped.writestr(f"tone-{index + 1}.wav", wav.getvalue())
            writer.writerow(
                [f"tone-{index + 1}.wav", MATERIAL_SYSTEM, f"Load-test tone {index + 1}.", "imported"]
            )
        zipped.writestr(importing.MANIFEST_NAME, manifest.getvalue())
    return importing.import_samples(source=archive.getvalue())


def remove_test(test: ListeningTest, generated: list[int]) -> None:
    """Delete the bench test, its playback copies and the samples generated for it, with their files."""
    playback = [name for name in test.test_samples.values_list("playback_audio", flat=True) if name]
    audio = [name for name in Sample.objects.filter(pk__in=generated).values_list("audio", flat=True) if name]
    with transaction.atomic():
        Rating.objects.filter(evaluator__test=test).delete()
        test.delete()
        Sample.objects.filter(pk__in=generated).delete()
    storage = Sample._meta.get_field("audio").storage
    for name in playback + audio:
        storage.delete(name)


def stored_ratings(test: ListeningTest) -> tuple[str, list]:
    """The test's first rated dimension and its Rating rows, as count_check reads them."""
    rows = Rating.objects.filter(evaluator__test=test).values_list(
        "evaluator__token", "test_sample__token", "trial_id", "dimension"
    )
    return test.rated_dimensions[0], list(rows)
