"""Loaded with -p before Django starts (see pyproject.toml): test runs keep their files out of var/."""

import gc
import os
import shutil
import sys
import tempfile

# Every temporary file and folder of a run (the tests', their subprocesses', pytest's own) goes into
# one folder, which the process that started the run removes when it ends: before, each run left a
# few hundred megabytes in /tmp. pytest-xdist's workers inherit the folder and leave it to that process.
RUN_FOLDER = "SARAI_TEST_TMP"
remove_at_end = None
if not os.path.isdir(os.environ.get(RUN_FOLDER, "")):
    os.environ[RUN_FOLDER] = remove_at_end = tempfile.mkdtemp(prefix="sarai-test-run-")
os.environ["TMPDIR"] = tempfile.tempdir = os.environ[RUN_FOLDER]

# Test runs write media and the broker's spool into throw-away folders, never into the working copy:
# one pair per process. pytest-xdist's workers inherit the environment of the process that started
# them, so a worker replaces the folders that process made (never folders the caller chose).
MADE_HERE = "SARAI_TESTENV_FOLDERS"
made = set(filter(None, os.environ.get(MADE_HERE, "").split(",")))
worker = os.environ.get("PYTEST_XDIST_WORKER", "")
for name, prefix in (("SARAI_MEDIA_ROOT", "sarai-test-media-"), ("CELERY_BROKER_DIR", "sarai-test-broker-")):
    if name not in os.environ or (worker and name in made):
        os.environ[name] = tempfile.mkdtemp(prefix=f"{prefix}{worker}{'-' if worker else ''}")
        made.add(name)
os.environ[MADE_HERE] = ",".join(sorted(made))
# Against Redis (CI's second pass) each worker takes its own pair of numbered databases: gwN publishes
# on the configured one minus 2N, and tests that start workers use the one below it.
broker = os.environ.get("CELERY_BROKER_URL", "")
if worker and broker.startswith("redis://") and "SARAI_TESTENV_BROKER" not in os.environ:
    from urllib.parse import urlsplit

    parts = urlsplit(broker)
    number = int(parts.path.strip("/") or 0) - 2 * int(worker.removeprefix("gw") or 0)
    if number < 1:
        raise RuntimeError(f"too many test workers for the Redis databases below {broker}")
    os.environ["CELERY_BROKER_URL"] = parts._replace(path=f"/{number}").geturl()
    os.environ["SARAI_TESTENV_BROKER"] = broker
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# DEBUG is off unless asked for; the tests ask, as development does, so that they use the known
# development key and never write var/secret-key (Django's test runner still runs them with DEBUG off).
os.environ.setdefault("DJANGO_DEBUG", "true")
# Hundreds of tests reach the evaluator pages from 127.0.0.1 within a minute; counters in a Redis
# cache outlive each test's rollback. The rate-limit tests switch the limits on themselves.
os.environ.setdefault("SARAI_RATELIMIT_ENABLE", "false")
# Counted in the test database, so each test's rollback resets the counts; the file of counts that
# SQLite installations use is tested on its own (tests/annotations/test_rate_limits.py).
os.environ.setdefault("SARAI_REQUEST_COUNTS_FILE", "")


def _starts_xdist_workers(args: list[str]) -> bool:
    """Whether these pytest arguments start pytest-xdist workers (-n N, -nN, --numprocesses=N; N not 0)."""
    if any(arg.endswith("no:xdist") for arg in args):
        return False
    for index, arg in enumerate(args):
        if arg in ("-n", "--numprocesses"):
            value = args[index + 1] if index + 1 < len(args) else ""
        elif arg.startswith("--numprocesses="):
            value = arg.partition("=")[2]
        elif arg.startswith("-n"):
            value = arg[2:]
        else:
            continue
        return value not in ("", "0")
    return False


# pytest-django sets Django up in every process that knows the settings module. pytest-xdist's
# controller runs no test: it starts the workers, which each set Django up themselves, and the
# controller's own set-up (1.5-2 s of imports) only delayed them. So the settings module is named
# here, not in pyproject.toml, and the controller (-n given, not a worker) goes without it.
XDIST_CONTROLLER = not worker and _starts_xdist_workers(sys.argv[1:])
if not XDIST_CONTROLLER:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sarai_eval.settings")

import pytest  # noqa: E402


@pytest.hookimpl(trylast=True)
def pytest_configure(config) -> None:
    """A fast password hash for the personas' logins (Django's advice for test runs)."""
    if XDIST_CONTROLLER:
        return
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session) -> None:
    """Leave what the run imported and collected out of the garbage collector's full passes.

    By then a process holds millions of long-lived objects (Django, the app, scipy, statsmodels,
    hypothesis, every test module) that a full collection walks each time, and the tests' ORM rows
    triggered one every second or two: about a tenth of each worker's time (docs/benchmarks.md).
    Frozen, they are never walked; full passes also come ten times less often. The tests' own
    garbage is still collected by the young generations and the rarer full passes.
    """
    gc.collect()
    gc.freeze()
    threshold0, threshold1, _ = gc.get_threshold()
    gc.set_threshold(threshold0, threshold1, 100)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Tell scripts/run_tests.sh how many tests its serial phase would run, so it skips an empty one.

    The first phase collects every test before its -m leaves the serial ones out; the count of those
    matching SARAI_SERIAL_SELECTION goes to the file SARAI_SERIAL_PROBE (each worker writes the same).
    Without the probe variable, or with a pytest whose marker matching differs, nothing is written
    and the serial phase runs as it always does.
    """
    probe, selection = os.environ.get("SARAI_SERIAL_PROBE"), os.environ.get("SARAI_SERIAL_SELECTION")
    if not probe or not selection:
        return
    try:
        from _pytest.mark import MarkMatcher
        from _pytest.mark.expression import Expression

        expression = Expression.compile(selection)
        count = sum(expression.evaluate(MarkMatcher.from_markers(item.iter_markers())) for item in items)
    except (ImportError, AttributeError, SyntaxError, TypeError):
        return
    with open(probe, "w", encoding="utf-8") as handle:
        handle.write(str(count))


def pytest_unconfigure(config) -> None:
    """Free the models the tests loaded while the interpreter is still whole; remove the run's folder."""
    if not XDIST_CONTROLLER:
        from synthesis.engines import pipeline

        pipeline.release_models()
    if remove_at_end:
        shutil.rmtree(remove_at_end, ignore_errors=True)
