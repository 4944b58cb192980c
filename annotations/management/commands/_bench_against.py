"""`manage.py bench_evaluators --against GIT_REF`: the same load against another commit's code on the
same machine, alternating with this checkout's (A, B, A, B ...), and the medians and ratios of both.

Each side runs from a checkout of its own (this one; the other commit's files from `git archive`)
on a fresh database (its own SARAI_VAR_DIR; on PostgreSQL a database of its own on the same server).
Models differ between commits, so each side's database and test are made by that checkout's own
manage.py (migrate, then `bench_evaluators.prepare_test` through `manage.py shell`), and the ratings
are read back the same way. This checkout's client drives both servers. Both sides run on this
interpreter (its virtualenv); the output says whether the other commit's requirements.txt differs.
"""

import json
import os
import secrets
import statistics
import subprocess
import sys
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from django.core.management.base import CommandError
from django.db import connection

from annotations import loadtest
from annotations.management.commands._bench_load import (
    ROOT,
    TARGET_KINDS,
    count_check,
    failures,
    gunicorn,
    make_plan,
    report,
    run_load,
    server_shape,
)

MIN_ROUNDS = 2
SIDES = ("this", "other")
MARK = "BENCH-JSON "
SETUP_TIMEOUT_S = 600
# Run in each checkout by its own `manage.py shell`: only names every commit with this command has.
SETUP = """
import json
from django.urls import reverse
from annotations.management.commands.bench_evaluators import prepare_test
test, _ = prepare_test(
    clips={clips}, evaluators={evaluators}, clip_seconds={clip_seconds}, screen_trials={screen_trials}
)
path = reverse("annotations:open_link", args=[test.open_token])
print({mark!r} + json.dumps({{"pk": test.pk, "name": test.name, "open_path": path}}))
"""
RATINGS = """
import json
from annotations.models import ListeningTest, Rating
test = ListeningTest.objects.get(pk={pk})
rows = Rating.objects.filter(evaluator__test=test).values_list(
    "evaluator__token", "test_sample__token", "trial_id", "dimension"
)
print({mark!r} + json.dumps({{"main": test.rated_dimensions[0], "rows": list(rows)}}))
"""


@dataclass
class Side:
    """One checkout under test: its folder, the variables that give it its own database, its runs."""

    name: str
    label: str
    root: Path
    env: dict[str, str]
    runs: list[dict] = field(default_factory=list)

    def manage(self, *args: str) -> str:
        """Run this checkout's manage.py; its output, or a CommandError with its last lines."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=SETUP_TIMEOUT_S,
        )
        if result.returncode:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise CommandError(f"{self.label}: manage.py {args[0]} failed:\n{tail}")
        return result.stdout

    def shell(self, code: str) -> dict:
        """Run code in this checkout's `manage.py shell`; the JSON it prints after MARK."""
        for line in self.manage("shell", "-c", code).splitlines():
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])
        raise CommandError(f"{self.label}: manage.py shell printed no result.")


def alternation(rounds: int) -> list[str]:
    """The order of the runs: this, other, this, other ... rounds times each."""
    return [name for _ in range(rounds) for name in SIDES]


def check_options(opts) -> int:
    """The number of rounds; a CommandError for options that do not go with --against."""
    if not opts["against"]:
        raise CommandError("--rounds needs --against GIT_REF.")
    if opts["keep"]:
        raise CommandError("--keep does not go with --against: each side's database is removed afterwards.")
    rounds = MIN_ROUNDS if opts["rounds"] is None else opts["rounds"]
    if rounds < MIN_ROUNDS:
        raise CommandError(f"--rounds must be at least {MIN_ROUNDS} (runs of each side, alternating).")
    return rounds


def resolve(ref: str) -> str:
    """The full commit id of ref in this repository, or a CommandError saying it has none."""
    result = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode or not result.stdout.strip():
        raise CommandError(f"--against {ref}: no such commit in the repository at {ROOT}.")
    return result.stdout.strip()


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def export(commit: str, folder: Path) -> None:
    """The commit's files in folder (git archive: no worktree is added to the repository)."""
    folder.mkdir(parents=True)
    command = ["git", "archive", "--format=tar", commit]
    with (
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE) as pipe,
        tarfile.open(fileobj=pipe.stdout, mode="r|") as archive,
    ):
        archive.extractall(folder, filter="data")
    if pipe.returncode:
        raise CommandError(f"git archive {commit} failed.")


def requirements_note(commit: str, ref: str) -> str:
    theirs = git("show", f"{commit}:requirements.txt")
    ours = (ROOT / "requirements.txt").read_text().strip()
    where = f"both sides run on {sys.executable}"
    if theirs == ours:
        return f"requirements.txt is the same at {ref}: {where}."
    return f"requirements.txt differs at {ref}: {where}, so that side may not run as it would on its own."


def this_label() -> str:
    changed = " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"this checkout ({git('rev-parse', '--short', 'HEAD')}{changed})"


@contextmanager
def databases(sides: list[Side], folder: Path):
    """A fresh database per side: an SQLite file in its own folder, or on PostgreSQL a database of its
    own on the server this checkout's settings name (dropped afterwards)."""
    created = []
    try:
        for side in sides:
            var = folder / f"var-{side.name}"
            side.env.update(
                SARAI_VAR_DIR=str(var),
                SARAI_MEDIA_ROOT=str(var / "media"),
                CELERY_BROKER_DIR=str(var / "broker"),
                DJANGO_SETTINGS_MODULE="sarai_eval.settings",
                DJANGO_DEBUG="false",
                DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            )
            if connection.vendor == "postgresql":
                name = f"{connection.settings_dict['NAME']}_bench_{side.name}_{os.getpid()}"
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    cursor.execute(f'CREATE DATABASE "{name}"')
                created.append(name)
                side.env["DATABASE_URL"] = (
                    urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}").geturl()
                )
            else:
                side.env["DATABASE_URL"] = f"sqlite:///{var / 'db.sqlite3'}"
        yield
    finally:
        with connection.cursor() as cursor:
            for name in created:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def compare(command, opts, evaluators: int) -> None:
    """Run the load on both sides in turn and print each run's report, then the medians and ratios."""
    rounds = check_options(opts)
    commit = resolve(opts["against"])
    ref = f"{opts['against']} ({commit[:9]})"
    with tempfile.TemporaryDirectory(prefix="sarai-bench-against-") as temporary:
        folder = Path(temporary)
        export(commit, folder / "checkout")
        sides = {
            "this": Side("this", this_label(), ROOT, {}),
            "other": Side("other", f"commit {ref}", folder / "checkout", {}),
        }
        command.stdout.write(requirements_note(commit, opts["against"]))
        with databases(list(sides.values()), folder):
            for side in sides.values():
                command.stdout.write(f"Migrating a fresh {connection.vendor} database for {side.label}.")
                side.manage("migrate", "--noinput", "-v0")
            order = alternation(rounds)
            for number, name in enumerate(order, 1):
                command.stdout.write(f"\nRun {number} of {len(order)}: {sides[name].label}")
                sides[name].runs.append(run_side(command, sides[name], opts, evaluators))
    command.stdout.write(comparison(sides["this"], sides["other"], opts, evaluators))
    problems = [
        f"{side.label}: {problem}"
        for side in sides.values()
        for run in side.runs
        for problem in run["problems"]
    ]
    if problems:
        raise CommandError("; ".join(problems))


def run_side(command, side: Side, opts, evaluators: int) -> dict:
    setup = side.shell(
        SETUP.format(
            clips=opts["clips"],
            evaluators=evaluators,
            clip_seconds=opts["clip_seconds"],
            screen_trials=opts["screen_trials"],
            mark=MARK,
        )
    )
    with gunicorn(
        port=opts["port"], shape=server_shape(opts), root=side.root, environment=side.env
    ) as server:
        command.stdout.write(f"gunicorn {server.pid} serves {server.base_url} ({server.shape}).")
        plan = make_plan(server=server, open_path=setup["open_path"], evaluators=evaluators, opts=opts)
        outcome, cpu = run_load(plan, server, opts["time_limit"], on_progress=command.stdout.write)
    stored = side.shell(RATINGS.format(pk=setup["pk"], mark=MARK))
    check = count_check(stored["main"], [tuple(row) for row in stored["rows"]], outcome)
    command.stdout.write(
        report(
            test_line=f"{side.label}: test {setup['name']} in a fresh database",
            vendor=connection.vendor,
            plan=plan,
            outcome=outcome,
            cpu=cpu,
            check=check,
            clips=opts["clips"],
            server_times=server.request_times,
        )
    )
    return figures(outcome, cpu, server.request_times) | {"problems": failures(outcome, check)}


def figures(outcome: loadtest.Outcome, cpu: dict, server_times: dict[str, list[float]]) -> dict:
    """One run's numbers for the comparison: per request kind (P50, P99, in-Django P50, P99), rates."""
    wall = max(outcome.wall_s, 1e-9)
    kinds = {}
    for kind, values in outcome.timings.items():
        inside = loadtest.percentiles(server_times[kind]) if server_times.get(kind) else (None, None)
        kinds[kind] = (*loadtest.percentiles(values), *inside)
    rate = outcome.requests / wall
    cores = cpu["server"] / wall
    return {
        "kinds": kinds,
        "requests/s": rate,
        "server cores": cores,
        "server CPU ms per request": cores / rate * 1000 if rate else None,
        "server RSS peak MB": cpu["rss_peak"] / 2**20,
    }


def median(values: list) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def comparison(this: Side, other: Side, opts, evaluators: int) -> str:
    """Medians of each side's runs and their ratios (this / other), per request kind and overall."""
    cores = psutil.cpu_count(logical=True) or 1
    lines = [
        "",
        f"`manage.py bench_evaluators --against {opts['against']}` · {opts['mode']} · {evaluators} "
        f"evaluators · {opts['clips']} clips · {connection.vendor} · {cores} CPUs · runs alternated "
        f"{', '.join('A' if name == 'this' else 'B' for name in alternation(len(this.runs)))}",
        f"A: {this.label}; B: {other.label}. Medians of {len(this.runs)} runs each; ratio A / B "
        "(below 1: A is faster or uses less).",
        "",
        "| Request | P50 ms A / B | ratio | P99 ms A / B | ratio | In Django P50 A / B | ratio "
        "| In Django P99 A / B | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    kinds = sorted(
        set().union(*(run["kinds"] for run in this.runs + other.runs)),
        key=lambda kind: (kind not in TARGET_KINDS, kind),
    )
    for kind in kinds:
        cells = []
        for index in range(4):
            a = median([run["kinds"][kind][index] for run in this.runs if kind in run["kinds"]])
            b = median([run["kinds"][kind][index] for run in other.runs if kind in run["kinds"]])
            cells += [f"{number(a)} / {number(b)}", ratio(a, b)]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += ["", "| Whole run | A | B | ratio |", "|---|---:|---:|---:|"]
    for name in ("requests/s", "server cores", "server CPU ms per request", "server RSS peak MB"):
        a, b = median([run[name] for run in this.runs]), median([run[name] for run in other.runs])
        lines.append(f"| {name} | {number(a, 2)} | {number(b, 2)} | {ratio(a, b)} |")
    return "\n".join(lines) + "\n"


def number(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def ratio(a: float | None, b: float | None) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}"
