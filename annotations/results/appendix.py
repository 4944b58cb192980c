"""The reporting appendix at the end of a test's HTML report: what reviews of listening-test papers
found missing from them (Kirkland et al. 2023, "Stuck in the MOS pit", SSW 12; Chiang et al. 2023,
"Why we should report the details in subjective evaluation of TTS more rigorously", Interspeech),
filled from the test itself.
"""

import functools
import statistics
import subprocess
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.db.models import Count

from annotations import methods
from annotations.models import ListeningTest, Rating, TestSample
from annotations.results.screening import FLAG_DESCRIPTIONS

WHY = (
    "Reviews of speech-synthesis evaluations found most papers leave out how their listening tests were "
    "run (Kirkland et al. 2023, SSW 12; Chiang et al. 2023, Interspeech); this appendix reports those "
    "details from the test itself."
)


@functools.cache
def software_version() -> str:
    """SARAI_VERSION if set, else `git describe --always --dirty` of the checkout, read once per process."""
    if settings.SARAI_VERSION:
        return settings.SARAI_VERSION
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"git {out.stdout.strip()}" if out.returncode == 0 and out.stdout.strip() else "unknown"


def scale_bands(test: ListeningTest) -> list[str]:
    """The labels the method's page shows, lowest first, runs of one label joined: "0–19 Bad", or "1 Bad"
    on a 5-point scale; none where the answer is typed."""
    bands: list[list] = []
    for value, label in sorted(methods.get_method(test.method).choices(test)):
        if bands and bands[-1][2] == label:
            bands[-1][1] = value
        else:
            bands.append([value, value, label])
    return [f"{low}" + (f"–{high}" if high != low else "") + f" {label}" for low, high, label in bands]


def judgements_per_stimulus(test: ListeningTest) -> dict:
    """Min, median and max answers per test clip on the main dimension (raters x clip, before screening)."""
    counts = dict(
        Rating.objects.originals()
        .filter(evaluator__test=test, dimension=test.rated_dimensions[0])
        .order_by()
        .values("test_sample_id")
        .annotate(n=Count("id"))
        .values_list("test_sample_id", "n")
    )
    clips = test.test_samples.filter(kind=TestSample.Kind.TEST).values_list("pk", flat=True)
    values = [counts.get(pk, 0) for pk in clips]
    if not values:
        return {"min": None, "median": None, "max": None, "clips": 0}
    return {"min": min(values), "median": statistics.median(values), "max": max(values), "clips": len(values)}


def session_minutes(test: ListeningTest) -> dict:
    """Median, min and max minutes from consent to finish of the evaluators who did both."""
    spans = [
        (finished - consented).total_seconds() / 60
        for consented, finished in test.evaluators.filter(
            consented_at__isnull=False, finished_at__isnull=False
        ).values_list("consented_at", "finished_at")
    ]
    if not spans:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {"n": len(spans), "median": statistics.median(spans), "min": min(spans), "max": max(spans)}


def recruitment(test: ListeningTest) -> str:
    """The recruitment platform as far as the test knows it."""
    said = getattr(test, "recruitment", "") or ""
    known = []
    if test.completion_url or test.completion_code:
        known.append(
            "a crowdsourcing platform with a completion " + ("URL" if test.completion_url else "code")
        )
    if test.allow_open_link:
        known.append("an open link")
    else:
        known.append("personal invitation links")
    found = "recruited through " + " and ".join(known)
    return f"{said} ({found})" if said else found[0].upper() + found[1:]


def screening_counts(data: dict) -> list[dict]:
    """Each screening rule that removed raters, with its description and how many it removed."""
    removed = Counter(flag for row in data["raters"] if row["excluded"] for flag in row["flags"])
    return [
        {"code": code, "description": FLAG_DESCRIPTIONS.get(code, code), "removed": n}
        for code, n in sorted(removed.items())
    ]


def reporting_appendix(data: dict) -> dict:
    """Everything the appendix shows of the test in `data` (services.test_results of any method)."""
    test = data["test"]
    method = methods.get_method(test.method)
    raters = [row for row in data["raters"] if row["n_votes"]]
    return {
        "why": WHY,
        "question": test.scale.title,
        "questions": method.questions(test),
        "scale_bands": scale_bands(test),
        "scale": method.describe_scale(test.scale),
        "instructions": test.instructions,
        "raters_total": len(raters),
        "raters_kept": len([row for row in raters if not row["excluded"]]),
        "per_stimulus": judgements_per_stimulus(test),
        "recruitment": recruitment(test),
        "screening": screening_counts(data),
        "headphone": data["headphone_screen"],
        "session": session_minutes(test),
        "software_version": software_version(),
    }
