"""Evaluators joining a test: open-link visits, personal invites, revocation and consent."""

import random

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.models import Evaluator, ListeningTest, TestNotOpen
from annotations.services.assignment import assign
from annotations.services.errors import SessionUnavailable
from annotations.services.screening import start_screen


def join_test(
    *, test: ListeningTest, external_id: str = "", study_id: str = "", session_id: str = ""
) -> Evaluator:
    """The evaluator of an open-link visit: the same participant id always gives the same evaluator.

    A visit without a participant id is refused as an incomplete link ("bad_link") by a test that does
    not accept those visitors.
    """
    if external_id:
        existing = test.evaluators.filter(external_id=external_id).first()
        if existing and existing.revoked_at:
            # Revoking is for good: the same participant id gets no fresh session either.
            raise SessionUnavailable("revoked")
        if existing:
            return existing
    check_open(test)
    if not external_id and not test.allow_no_participant_id:
        raise SessionUnavailable("bad_link")
    return _create_evaluator(test, external_id=external_id, study_id=study_id, session_id=session_id)


def invite_evaluators(*, test: ListeningTest, count: int) -> list[Evaluator]:
    """Create count evaluators with personal invite tokens."""
    return [_create_evaluator(test) for _ in range(count)]


def revoke_evaluator(*, evaluator: Evaluator, by: AbstractBaseUser | None) -> bool:
    """Close the evaluator's invite token for good; their ratings stay. False if it was revoked already."""
    updated = Evaluator.objects.filter(pk=evaluator.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    evaluator.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return bool(updated)


def _create_evaluator(test: ListeningTest, **fields) -> Evaluator:
    # Pseudonyms are numbered per test. The test's row is locked while the next number is chosen, so
    # visitors arriving at once queue here (PostgreSQL; SQLite's writers queue anyway) instead of
    # picking the same number; the retry covers one participant id arriving twice at once.
    for _ in range(10):
        try:
            with transaction.atomic():
                ListeningTest.objects.select_for_update().filter(pk=test.pk).exists()
                return Evaluator.objects.create(test=test, pseudonym=_next_pseudonym(test), **fields)
        except IntegrityError:
            external_id = fields.get("external_id")
            existing = external_id and test.evaluators.filter(external_id=external_id).first()
            if existing:
                return existing
    raise IntegrityError("could not allocate an evaluator pseudonym")


def _next_pseudonym(test: ListeningTest) -> str:
    names = test.evaluators.filter(pseudonym__regex=r"^R[0-9]+$").values_list("pseudonym", flat=True)
    return f"R{max((int(name[1:]) for name in names), default=0) + 1:03d}"


def check_open(test: ListeningTest) -> None:
    """Raise SessionUnavailable unless the test takes ratings now."""
    try:
        test.check_open()
    except TestNotOpen as exc:
        raise SessionUnavailable(exc.code) from None


def give_consent(*, evaluator: Evaluator, rng: random.Random | None = None) -> None:
    """Record consent, build the assignment and deal the first attempt of the headphone screen."""
    check_open(evaluator.test)
    assign(evaluator=evaluator)
    now = timezone.now()
    if Evaluator.objects.filter(pk=evaluator.pk, consented_at__isnull=True).update(consented_at=now):
        evaluator.consented_at = now
    else:
        evaluator.refresh_from_db()  # another request recorded the consent first
    start_screen(evaluator=evaluator, rng=rng)
