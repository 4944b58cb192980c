"""What the project's log handlers write."""

import contextlib
import io
import logging

from sarai_eval.log_redaction import RedactingFilter


@contextlib.contextmanager
def console_output():
    """What the configured root handlers (settings.LOGGING) write, collected instead of printed."""
    buffer = io.StringIO()
    handlers = [
        h for h in logging.getLogger().handlers if any(isinstance(f, RedactingFilter) for f in h.filters)
    ]
    assert handlers, "settings.LOGGING attaches the redacting filter to the root handlers"
    streams = [handler.setStream(buffer) for handler in handlers]
    try:
        yield buffer
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)
