"""One JSON line per request on the `sarai_eval.requests` logger, with the evaluator tokens masked.

First in MIDDLEWARE, so the time and status include every other middleware (a redirect to HTTPS,
a CSRF refusal). The request id is sent back as `X-Request-ID`, so a user's report of a failed page
can be matched to its line; an id set by a reverse proxy is kept when it looks like one.
"""

import json
import logging
import re
import time
import uuid

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from sarai_eval.log_redaction import redact_path

logger = logging.getLogger("sarai_eval.requests")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_address(request: HttpRequest) -> str:
    """The address the request came from: REMOTE_ADDR, or behind trusted proxies X-Forwarded-For.

    With SARAI_TRUSTED_PROXIES = N, the last N hops of X-Forwarded-For were added by proxies the
    installation runs; the address before them is the client's. Addresses a client wrote itself
    further left are never believed.
    """
    proxies = settings.SARAI_TRUSTED_PROXIES
    if proxies > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def request_log_middleware(get_response):
    def middleware(request):
        started_at = timezone.now()
        started = time.monotonic()
        request_id = request.headers.get("X-Request-ID", "")
        if not REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        request.request_id = request_id
        response = get_response(request)
        response["X-Request-ID"] = request_id
        logger.info(
            json.dumps(
                log_fields(request, response, started_at=started_at, duration=time.monotonic() - started),
                ensure_ascii=False,
            )
        )
        return response

    return middleware


def log_fields(request, response, *, started_at, duration: float) -> dict:
    user = getattr(request, "user", None)
    return {
        "time": started_at.isoformat(timespec="milliseconds"),
        "request_id": request.request_id,
        "method": request.method,
        # The path only: query strings carry crowd participant ids.
        "path": redact_path(request.path),
        "status": response.status_code,
        "duration_ms": round(duration * 1000, 1),
        "bytes": response_bytes(response),
        "remote_addr": client_address(request),
        "user_id": user.pk if user is not None and user.is_authenticated else None,
    }


def response_bytes(response) -> int | None:
    """The body's size; for a streamed body, its Content-Length (None when the server does not know)."""
    if not response.streaming:
        return len(response.content)
    length = response.get("Content-Length")
    return int(length) if length and length.isdigit() else None
