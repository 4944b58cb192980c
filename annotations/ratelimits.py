"""Limits on requests to the pages anyone can reach, counted per minute in the shared cache.

The counters live in Django's default cache (the database table, or Redis), never in one process's
memory: behind gunicorn every worker process, and every web machine, must count the same requests.
Each scope has two limits, both in settings: per participant (the evaluator token, the
PROLIFIC_PID) as SARAI_RATELIMIT_<SCOPE>, and per client address as SARAI_RATELIMIT_<SCOPE>_PER_ADDRESS.
A limit of 0 or less turns that count off.
"""

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from sarai_eval.request_log import client_address

SCOPES = ("PAGES", "AUDIO", "OPEN_LINK", "LOGIN")


def limits(scope: str) -> tuple[int, int]:
    """Requests per minute allowed in scope: (per participant, per address)."""
    per_participant = getattr(settings, f"SARAI_RATELIMIT_{scope}", 0)
    return per_participant, getattr(settings, f"SARAI_RATELIMIT_{scope}_PER_ADDRESS")


def retry_after(request: HttpRequest, *, scope: str, participant: str = "") -> int | None:
    """Count the request in scope; the seconds to wait if it is over a limit, else None."""
    if not settings.SARAI_RATELIMIT_ENABLE:
        return None
    per_participant, per_address = limits(scope)
    counted = [
        ("participant", participant, per_participant),
        ("address", client_address(request), per_address),
    ]
    waits = []
    for kind, value, per_minute in counted:
        if not value or per_minute <= 0:
            continue
        usage = get_usage(
            request,
            group=f"sarai:{scope.lower()}:{kind}",
            key=lambda _group, _request, value=value: value,
            rate=f"{per_minute}/m",
            increment=True,
        )
        if usage and usage["should_limit"]:
            waits.append(max(usage["time_left"], 1))
    return max(waits) if waits else None
