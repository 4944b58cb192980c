"""What each evaluator's headphone screen came to, read from the stored screen trials.

The sessions side (annotations.services) deals and scores the screen; the results side reads it here,
so neither the results nor the test methods depend on the session workflows.
"""

from dataclasses import dataclass

from annotations.models import ListeningTest, ScreenTrial


@dataclass(frozen=True)
class ScreenResult:
    """An evaluator's headphone screen: passed, failed, in_progress or not_taken, and correct per attempt."""

    result: str
    correct: tuple[int, ...] = ()
    trials: tuple[int, ...] = ()

    @property
    def attempts(self) -> int:
        return len(self.correct)

    @property
    def correct_text(self) -> str:
        """e.g. "4/6, 6/6": correct of answered trials, one entry per attempt."""
        return ", ".join(f"{n}/{total}" for n, total in zip(self.correct, self.trials, strict=True))


def screen_results(*, test: ListeningTest) -> dict[int, ScreenResult]:
    """Evaluator id -> their headphone screen result, from one query over the answered trials."""
    rows = (
        ScreenTrial.objects.filter(evaluator__test=test, answer__isnull=False)
        .order_by("evaluator_id", "attempt", "number")
        .values_list("evaluator_id", "attempt", "quiet_position", "answer")
    )
    correct: dict[int, dict[int, list[int]]] = {}
    for evaluator_id, attempt, quiet, answer in rows:
        counts = correct.setdefault(evaluator_id, {}).setdefault(attempt, [0, 0])
        counts[0] += quiet == answer
        counts[1] += 1
    results = {}
    for evaluator in test.evaluators.values("id", "checked_at", "screened_out_at"):
        attempts = correct.get(evaluator["id"], {})
        if evaluator["screened_out_at"]:
            result = "failed"
        elif not attempts:
            result = "not_taken"
        else:
            result = "passed" if evaluator["checked_at"] else "in_progress"
        results[evaluator["id"]] = ScreenResult(
            result=result,
            correct=tuple(attempts[a][0] for a in sorted(attempts)),
            trials=tuple(attempts[a][1] for a in sorted(attempts)),
        )
    return results
