"""gunicorn settings for the web tier (`gunicorn -c sarai_eval/gunicorn_conf.py sarai_eval.wsgi`).

Evaluator requests are short and mostly wait on the database or a file, so each worker process
serves several at once on threads. The defaults (2 processes × 4 threads, gthread) were chosen with
`manage.py bench_evaluators` on 2 cores against 2 × 8, 4 × 4 and 4 sync workers (docs/benchmarks.md);
every value comes from the environment, as the rest of the settings do.
"""

import gc
import os
import sys

from gunicorn import glogging

from sarai_eval.log_redaction import add_filter


class RedactingLogger(glogging.Logger):
    """gunicorn's error log with evaluator tokens and passwords masked, as in the app's own logs
    ("Error handling request /t/i/<token>/rate/" names the request's URL)."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        add_filter(self.error_log, self.access_log)


bind = os.environ.get(
    "SARAI_WEB_BIND", f"{os.environ.get('SARAI_HOST', '127.0.0.1')}:{os.environ.get('SARAI_PORT', '8000')}"
)
workers = int(os.environ.get("SARAI_WEB_WORKERS", "2"))
worker_class = os.environ.get("SARAI_WEB_WORKER_CLASS", "gthread")
threads = int(os.environ.get("SARAI_WEB_THREADS", "4"))
# A request that takes longer than this (an export of a large test, a sample import) is killed.
timeout = int(os.environ.get("SARAI_WEB_TIMEOUT", "120"))
graceful_timeout = 30
# Seconds an idle kept-alive connection stays open: longer than an evaluator's pause between two
# requests (a clip's length), so a page's next request rarely races the server closing it.
keepalive = int(os.environ.get("SARAI_WEB_KEEPALIVE", "20"))
# Connections waiting for a worker; gunicorn's default of 2048 is kept explicit for the load test.
backlog = int(os.environ.get("SARAI_WEB_BACKLOG", "2048"))
# Load the app before forking: a broken setting stops the server at once with its message.
preload_app = True
# The app writes one structured line per request itself; gunicorn's own access log would repeat it.
accesslog = None
errorlog = "-"
logger_class = RedactingLogger
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The control socket sits at one path per user ($HOME/.gunicorn/gunicorn.ctl): a second server on the
# machine (a test, another checkout) would take it over. Stopping goes through the pid (make stop).
control_socket_disable = True


def when_ready(server) -> None:
    """Before the workers fork: what the loaded app holds leaves the garbage collector's full passes.

    Django, the app and the statistics libraries are millions of long-lived objects; a full
    collection walked them all while every thread of the worker waited (up to 200 ms at 200
    evaluators, docs/benchmarks.md). Frozen in the master, the workers inherit them frozen.
    """
    gc.collect()
    gc.freeze()


# How long a thread may keep the interpreter before another that is ready to run gets it. Python's
# 5 ms default lets one request rendering a page hold up every other thread of its worker that is
# back from the database or a file: each SQLite or PostgreSQL call gives the interpreter up and then
# waits up to that long to get it back (the "convoy" effect). Set in the master, the workers inherit it.
sys.setswitchinterval(float(os.environ.get("SARAI_WEB_SWITCH_INTERVAL_MS", "0.5")) / 1000)
