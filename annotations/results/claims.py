"""The design's claims, each next to what this project measured and a verdict: the listening tests'
MOS claims here, the pipeline's from the run modes that measure them (synthesis.results.claims).

Simulated, demo and imported ratings never give a verdict.
"""

import dataclasses

from django.urls import reverse

from annotations.demo import NAMES as DEMO_TEST_NAMES
from annotations.methods import scoring_methods
from annotations.models import ClipFetch, ListeningTest, Rating, Scale
from annotations.results import services
from synthesis import modes
from synthesis.results.claims import (
    APPROX_TOLERANCE,
    DOES_NOT_HOLD,
    HOLDS,
    NOT_COMPARABLE,
    NOT_MEASURED,
    OMNI,
    OMNI_LABEL,
    TTS,
    VERDICTS,
    Claim,
    Measurement,
    Reads,
    Target,
    verdict,
)

__all__ = ["APPROX_TOLERANCE", "DOES_NOT_HOLD", "HOLDS", "NOT_COMPARABLE", "NOT_MEASURED"]
SPANISH_VOICE_NOTE = (
    "No package ships a Spanish Piper voice: the demo speaks Spanish with espeak-ng, so Spanish TTS "
    "figures from the demo say nothing about the design's talker."
)
CROWDMOS = "CrowdMOS 95% CI (Ribeiro et al. 2011), after screening"
DIMENSIONS = ("clarity", "naturalness", "expressiveness", "artifacts")


class Sources(Reads):
    """Reads each source once per page: the newest complete listening test, and the pipeline's runs."""

    @property
    def listening_test(self) -> tuple[ListeningTest | None, dict | None, list[str]]:
        return self.once(newest_complete_test)


def newest_complete_test() -> tuple[ListeningTest | None, dict | None, list[str]]:
    """The newest complete test rated by real evaluators, its results, and why newer ones were skipped."""
    skipped = []
    # Only absolute ratings give a MOS; comparison and other methods are read elsewhere.
    for test in ListeningTest.objects.filter(method__in=scoring_methods(mos=True)).order_by("-created_at"):
        reason = not_real_reason(test)
        if reason:
            skipped.append(f"test {test.name}: {reason}")
            continue
        results = services.test_results(test)
        main = results["main_dimension"]
        # Complete = the test collected its target of ratings (every clip rated its number of
        # times). The MOS is then computed from the raters who pass screening: excluded raters
        # keep their slots (new evaluators are not sent to replace them), so the after-screening
        # count may fall short of the target; the row says so rather than waiting for ratings
        # that never come.
        collected, target = results["progress"]["collected"], results["progress"]["target"]
        if not target or collected < target:
            skipped.append(f"test {test.name}: {collected} of {target} ratings, not complete")
            continue
        kept = sum(row["after"]["n"] for row in results["conditions"] if row["dimension"] == main)
        if kept < collected:
            skipped.append(f"test {test.name}: {kept} of {collected} ratings kept after screening")
        return test, results, skipped
    return None, None, skipped


def not_real_reason(test: ListeningTest) -> str:
    """Why a test's ratings are not from real evaluators rated in this app; "" when they are.

    The demo test's raters are simulated; imported ratings have no trial; an answer given in this
    app needs the server to have sent every clip (ClipFetch), which a script writing rows never has.
    """
    if test.name in DEMO_TEST_NAMES:
        return "simulated raters (manage.py simulate_ratings); never a verdict"
    ratings = Rating.objects.filter(evaluator__test=test)
    if not ratings.exists():
        return "no ratings yet"
    if ratings.filter(trial__isnull=True).exists():
        return "ratings imported from elsewhere (no trial in this app); never a verdict"
    heard = ClipFetch.objects.filter(evaluator__test=test).values("evaluator_id")
    if ratings.exclude(evaluator_id__in=heard).exists():
        return "ratings by evaluators the server never sent audio to (not rated through the app)"
    return ""


def mos_measure(dimension: str, style: str, design_words: tuple[str, ...] = OMNI):
    """A measure function: MOS of one dimension and style in the newest complete real test."""

    def measure(reads: Reads) -> Measurement | None:
        test, results, skipped = reads.once(newest_complete_test)
        if test is None:
            return Measurement(
                value=None, source="no complete listening test by real evaluators", notes=skipped
            )
        rows = [r for r in results["conditions"] if r["dimension"] == dimension and r["style"] == style]
        if not rows:
            return Measurement(value=None, source=f"test {test.name} rated no {dimension} × {style}")
        rows.sort(key=lambda r: (not all(w in r["system"].lower() for w in design_words), -r["after"]["n"]))
        row, crowd = rows[0], rows[0]["after"]["crowdmos"]
        ci = crowd["ci95"]
        last = Rating.objects.filter(evaluator__test=test).order_by("-created_at").first()
        measured = Measurement(
            value=crowd["mos"],
            low=None if ci is None else crowd["mos"] - ci,
            high=None if ci is None else crowd["mos"] + ci,
            source=f"listening test {test.name}: system {row['system']} ({crowd['raters']} raters × "
            f"{crowd['items']} clips)",
            url=reverse("results:test", args=[test.pk]),
            configuration=f"{test.name} ({test.scale.name})",
            models={"tts": row["system"]},
            measured_at=last.created_at if last else test.created_at,
            method=CROWDMOS,
            notes=skipped,
        )
        if len(rows) > 1:
            measured.notes.append("other systems in the test: " + ", ".join(r["system"] for r in rows[1:]))
        return measured

    return measure


# --- the registry ------------------------------------------------------------------------------


def _acr_unit() -> str:
    """The design's MOS targets are on the ACR scale, whose range is the Scale model's default."""
    lowest, highest = (Scale._meta.get_field(name).default for name in ("min_value", "max_value"))
    return f"MOS ({lowest}–{highest})"


def _mos_claims() -> list[Claim]:
    unit = _acr_unit()
    claims = [
        Claim(
            key=f"tts-mos-{style}",
            text=f"TTS MOS ≥ {target} ({style}; 20 raters × 100 sentences)",
            target=Target(target, ">="),
            unit=unit,
            design_models=TTS,
            design_model=OMNI_LABEL,
            design_setting=f"talker, {style} style",
            measure=mos_measure("overall", style),
            note=SPANISH_VOICE_NOTE,
        )  # fmt: skip
        for style, target in (("neutral", 4.21), ("warm", 4.38))
    ]
    # The design tabled a MOS per dimension and style; its figures are not in this project's brief,
    # so each row shows the measurement and can only become a verdict once its target is entered.
    claims += [
        Claim(
            key=f"tts-mos-{dimension}-{style}",
            text=f"TTS MOS breakdown: {dimension} ({style})",
            target=Target(None, ">="),
            unit=unit,
            design_models=TTS,
            design_model=OMNI_LABEL,
            design_setting=f"talker, {style} style",
            measure=mos_measure(dimension, style),
        )  # fmt: skip
        for dimension in DIMENSIONS
        for style in ("neutral", "warm")
    ]
    return claims


def all_claims() -> list[Claim]:
    """The listening tests' MOS claims, then every registered run mode's claims in registry order."""
    return [*_mos_claims(), *(claim for mode in modes.claiming_modes() for claim in mode.claims)]


def claim_rows(sources: Sources | None = None) -> list[dict]:
    """Every claim with its latest measurement, verdict and the reasons for it."""
    sources = sources or Sources()
    rows = []
    for claim in all_claims():
        measured = claim.measure(sources)
        outcome, reasons = verdict(claim, measured)
        rows.append({"claim": claim, "measured": measured, "verdict": outcome, "reasons": reasons})
    return rows


def claims_json(rows: list[dict]) -> dict:
    """The claims table as plain JSON values."""
    return {
        "verdicts": list(VERDICTS),
        "spanish_voice": SPANISH_VOICE_NOTE,
        "claims": [_row_json(row) for row in rows],
    }


def _row_json(row: dict) -> dict:
    claim, measured = row["claim"], row["measured"]
    data = {
        "key": claim.key,
        "claim": claim.text,
        "target": {"value": claim.target.value, "comparison": claim.target.comparison},
        "unit": claim.unit,
        "design_model": claim.design_model,
        "design_setting": claim.design_setting,
        "design_hardware": claim.design_hardware,
        "verdict": row["verdict"],
        "reasons": row["reasons"],
        "measured": None,
    }
    if measured is not None:
        data["measured"] = dataclasses.asdict(measured)
        data["measured"]["measured_at"] = measured.measured_at.isoformat() if measured.measured_at else None
    return data
