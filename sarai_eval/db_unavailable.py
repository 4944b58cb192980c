"""A database that is briefly unreachable (a restart, a failover, a network blip) answers 503, not 500.

The evaluator's page retries a 503 (static/js/answer.js for answers, the page's own refresh for
pages), so nothing the evaluator did is lost; a 500 would show a traceback or a dead end instead.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import escape
from django.utils.translation import gettext

logger = logging.getLogger(__name__)
# Seconds a client should wait before trying again; the HTML page reloads itself after as long.
RETRY_AFTER_S = 3


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        # The class only: a driver's message may carry the connection's host or user name.
        logger.warning(
            "database unavailable (%s) for %s %s: answered 503",
            type(exception).__name__,
            request.method,
            request.path,
        )
        message = gettext("The server cannot reach its database for a moment. Retrying shortly…")
        if "application/json" in request.headers.get("Accept", ""):
            response = JsonResponse({"ok": False, "retry": True, "error": message}, status=503)
        else:
            response = HttpResponse(_page(message), status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_S)
        add_never_cache_headers(response)
        return response


def _page(message: str) -> str:
    # No template and no database: this page must render while the database is away.
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{RETRY_AFTER_S}">'
        "<title>503</title></head>"
        f'<body><p role="alert">{escape(message)}</p></body></html>'
    )
