"""Settings, read from environment variables only.

Every variable is listed with its default in `.env.example`. The typed helpers below fail loudly
on a value they cannot read, so a typo stops the process at start-up instead of misbehaving later.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r}: expected true or false")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r}: expected a whole number") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def kept_secret_key(path: Path) -> str:
    """A random key made once and kept in `path`, so sessions survive restarts and the web process
    and the worker sign alike. Written aside and linked into place: two processes starting at once
    both end up reading the one key that won."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    # Only a machine of its own may make up its key: the embedded default (no DATABASE_URL), a
    # developer's DEBUG run and the test suite. A deployment on a shared database needs the same
    # key on every web process and worker, so it must be given one.
    if not (DEBUG or not env_str("DATABASE_URL", "") or "pytest" in sys.modules):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off: a long random string, the same for every "
            "web process and worker (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = kept_secret_key(Path(env_str("SECRET_KEY_FILE", str(BASE_DIR / "var" / "secret_key"))))
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
SITE_NAME = env_str("SITE_NAME", "Audience")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",  # the widget templates, found by FORM_RENDERER through TEMPLATES
    "django_htmx",
    "template_partials",
    "django_filters",
    # Its static files: /api/docs serves Swagger UI from them (under the CSP, no CDN).
    "ninja",
    "audience",
    "tags",
    "dnc",
    "segments",
    "imports",
    "communications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "audience.security.SecurityHeadersMiddleware",
    "audience.middleware.ApiErrorShapeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "audience.middleware.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "audience.replicas.ReadYourWritesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "audience.middleware.CurrentAccountMiddleware",
]

ROOT_URLCONF = "audience.root_urls"
WSGI_APPLICATION = "audience.wsgi.application"

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
                "audience.context_processors.current_account",
            ],
            # `day`, `when` and `ago`: one date format on every screen.
            "builtins": ["audience.templatetags.dates"],
        },
    }
]

# Bootstrap classes on widgets and one field template (`{{ form.x.as_field_group }}`).
FORM_RENDERER = "audience.rendering.BootstrapFormRenderer"

# SQLite is the embedded default: a first run needs nothing installed. WAL and immediate
# transactions let the web process and the worker write without "database is locked".
SQLITE_PATH = env_str("SQLITE_PATH", str(BASE_DIR / "var" / "audience.sqlite3"))
# Empty means the embedded default, as .env.example writes it.
DATABASE_URL = env_str("DATABASE_URL", "") or f"sqlite:///{SQLITE_PATH}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["TEST"] = (
        {"NAME": env_str("SQLITE_TEST_NAME", "")} if env_str("SQLITE_TEST_NAME", "") else {}
    )
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Rules hash event groups and NOT IN subqueries in memory: PostgreSQL's default 4 MB is too
    # small for 1M profiles (the measurements in docs/ assume 64 MB).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c work_mem={env_str('DB_WORK_MEM', '64MB')}"
    )
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# Read replicas (docs/scaling.md): each URL becomes the alias replica_0, replica_1, …; the router in
# audience/replicas.py sends the reads of counts, the People list and segment pages to one that is
# up and caught up, and everything else to the primary.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS", "")
if DATABASE_REPLICA_URLS and not IS_POSTGRES:
    raise ImproperlyConfigured("DATABASE_REPLICA_URLS: replicas need a PostgreSQL DATABASE_URL")
for _index, _url in enumerate(DATABASE_REPLICA_URLS):
    try:
        _replica = dj_database_url.parse(_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    except ValueError as error:
        raise ImproperlyConfigured(
            f"DATABASE_REPLICA_URLS: {_url!r} is not a database URL ({error})"
        ) from None
    if not _replica["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured(f"DATABASE_REPLICA_URLS: {_url!r} is not a PostgreSQL URL")
    _replica["CONN_HEALTH_CHECKS"] = True
    # A replica that does not answer is given up quickly and read around.
    _replica["OPTIONS"] = {**DATABASES["default"]["OPTIONS"], "connect_timeout": 2}
    if "pytest" in sys.modules:
        # Tests: no test database is created on a standby (it is read-only), and reads stay on
        # the primary's; tests/replicas point the alias at the standby's copy of the primary's.
        _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_index}"] = _replica
DATABASE_ROUTERS = ["audience.replicas.ReplicaRouter"]
# Out of rotation when further behind the primary than this; looked at again every
# REPLICA_CHECK_SECONDS (also how long a replica that did not answer stays out).
REPLICA_MAX_LAG_BYTES = env_int("REPLICA_MAX_LAG_BYTES", 16 * 1024 * 1024)
REPLICA_CHECK_SECONDS = env_int("REPLICA_CHECK_SECONDS", 10)
# After a request that may have written, that browser reads the primary for this long.
REPLICA_STICKY_SECONDS = env_int("REPLICA_STICKY_SECONDS", 10)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (INCLUDE) serve PostgreSQL; SQLite builds them without the extra columns.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "audience:people"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
# Password guessing (audience/security.py): failures counted per username and address, per address,
# and per username (browsers that signed in as it before are exempt from that one), each for
# LOGIN_LOCKOUT_SECONDS.
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 30)
LOGIN_MAX_FAILURES_PER_USERNAME = env_int("LOGIN_MAX_FAILURES_PER_USERNAME", 20)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60)

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Off: ids rendered into forms must stay plain numbers; counts use `intcomma` where people read them.
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
WHITENOISE_USE_FINDERS = not env_bool("STATIC_MANIFEST", False)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "/media/"

# Uploaded and exported files go through Django's storage API. Set STORAGE_BACKEND to
# "storages.backends.s3.S3Storage" (and install django-storages[s3]) so workers on other
# machines read the same files; its AWS_* variables are read by django-storages itself.
STORAGES = {
    "default": {"BACKEND": env_str("STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery. The embedded default is kombu's filesystem transport, so a worker runs with no server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_FOLDER = Path(env_str("CELERY_BROKER_FOLDER", str(BASE_DIR / "var" / "broker")))
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER),
        "data_folder_out": str(CELERY_BROKER_FOLDER),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        # kombu's exchange tables; its default is control/ in the working directory.
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# A working task beats its job's heartbeat this often; a running job silent for JOB_STALE_SECONDS
# lost its worker and is taken over (docs/architecture.md, "When a worker dies").
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10)
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 60)
# A job started this many times (each resume after a dead worker is one more) gives up: failed, saying so.
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)
CELERY_BEAT_SCHEDULE = {
    # Jobs whose queueing failed (broker down) are queued again once it is back.
    "task-outbox-flush": {"task": "audience.task_outbox_flush_task", "schedule": 30},
    # Running jobs whose worker was killed are queued again (not after the visibility timeout).
    "job-stale-requeue": {
        "task": "audience.job_stale_requeue_task",
        "schedule": max(1, JOB_STALE_SECONDS // 2),
    },
    # Each segment's size once a day (the chart on the segment page).
    "segment-sizes-daily": {"task": "segments.segment_sizes_record_task", "schedule": 24 * 60 * 60},
    # The due runs of active flows (communications.flows): waits that ended, replies, new entrants.
    "flow-runs": {"task": "communications.flow_runs_task", "schedule": 60},
    # People who start to match an active flow's entry segment or tag enter it.
    "flow-entries": {"task": "communications.flow_entries_task", "schedule": 300},
    # Hand-off keys of emails older than HANDOFF_RETENTION_DAYS are deleted.
    "handoff-purge": {"task": "communications.handoff_purge_task", "schedule": 60 * 60},
}

# Files coming in.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 15 * 1024 * 1024)
# A body over UPLOAD_MAX_BYTES is stopped before it is read (imports.files.UploadLimitHandler).
FILE_UPLOAD_HANDLERS = [
    "imports.files.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Bulk actions above this many profiles run as a background job.
BULK_SYNC_LIMIT = env_int("BULK_SYNC_LIMIT", 1000)
# A people CSV export on PostgreSQL reads its ranges of profiles over this many connections at once.
EXPORT_COPY_STREAMS = env_int("EXPORT_COPY_STREAMS", 2)
# An import on PostgreSQL writes its chunks over this many connections at once (still committed in order).
IMPORT_STREAMS = env_int("IMPORT_STREAMS", 2)

# Counts: a statement timeout keeps a slow rule from hanging a page; a short cache per rule.
COUNT_TIMEOUT_MS = env_int("COUNT_TIMEOUT_MS", 3000)
COUNT_CACHE_SECONDS = env_int("COUNT_CACHE_SECONDS", 30)
# A second count engine (docs/rules.md, "Performance"): unset (or "orm") counts in the database;
# "duckdb" counts from one DuckDB file per account under COUNT_ENGINE_DIR (segments/engines/store.py),
# rebuilt by a worker after writes, and from the database while the file is older than the last
# write. Needs the `duckdb` package, a cache shared by every process (REDIS_URL: the account's data
# generation lives there) and COUNT_ENGINE_DIR on a disk that web processes and workers share.
COUNT_ENGINE = env_str("COUNT_ENGINE", "").strip().lower() or "orm"
if COUNT_ENGINE not in {"orm", "duckdb"}:
    raise ImproperlyConfigured(f"COUNT_ENGINE={COUNT_ENGINE!r}: expected orm or duckdb (or unset)")
COUNT_ENGINE_DIR = Path(env_str("COUNT_ENGINE_DIR", str(BASE_DIR / "var" / "count_engine")))

# Where broadcasts go (docs/communications.md): email over SMTP when EMAIL_HOST is set, phone
# channels through Infobip when INFOBIP_BASE_URL and INFOBIP_API_KEY are, the signed webhook for a
# channel with neither when COMMUNICATIONS_WEBHOOK_URL is, else the sandbox outbox (nothing leaves).
# COMMUNICATIONS_BACKEND (a dotted path) overrides all of them with one class (tests).
COMMUNICATIONS_BACKEND = env_str("COMMUNICATIONS_BACKEND", "")
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
# SMTP connections a chunk of emails is spread over, each in its own thread (the round trips overlap).
SMTP_CONNECTIONS = env_int("SMTP_CONNECTIONS", 8)
# Worker processes one broadcast's chunks are handed over from at once: the process running the send
# queues every other chunk's hand-over as a task for the others (1: it hands over every chunk itself).
SEND_PROCESSES = env_int("SEND_PROCESSES", 1)
if SEND_PROCESSES < 1:
    raise ImproperlyConfigured(f"SEND_PROCESSES={SEND_PROCESSES}: expected 1 or more")
# Days an email's hand-off key (communications.HandOff) is kept: a send resumed after a dead worker
# needs the keys of its own hand-offs (minutes to hours old); older ones are deleted every hour.
HANDOFF_RETENTION_DAYS = env_int("HANDOFF_RETENTION_DAYS", 30)
if HANDOFF_RETENTION_DAYS < 1:
    raise ImproperlyConfigured(f"HANDOFF_RETENTION_DAYS={HANDOFF_RETENTION_DAYS}: expected 1 or more")
if SMTP_CONNECTIONS < 1:
    raise ImproperlyConfigured(f"SMTP_CONNECTIONS={SMTP_CONNECTIONS}: expected 1 or more")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "audience@localhost")
INFOBIP_BASE_URL = env_str("INFOBIP_BASE_URL", "")
INFOBIP_API_KEY = env_str("INFOBIP_API_KEY", "")
# WhatsApp and Viber through Infobip need a sender it knows: the broadcast's, else these.
INFOBIP_WHATSAPP_SENDER = env_str("INFOBIP_WHATSAPP_SENDER", "")
INFOBIP_VIBER_SENDER = env_str("INFOBIP_VIBER_SENDER", "")
COMMUNICATIONS_WEBHOOK_URL = env_str("COMMUNICATIONS_WEBHOOK_URL", "")
COMMUNICATIONS_WEBHOOK_SECRET = env_str("COMMUNICATIONS_WEBHOOK_SECRET", "")
# A provider that fails transiently (5xx, timeouts, a dropped connection) is tried this many times,
# pausing SEND_RETRY_MS, then twice that, and so on.
SEND_ATTEMPTS = env_int("SEND_ATTEMPTS", 4)
SEND_RETRY_MS = env_int("SEND_RETRY_MS", 500)
# The address people reach this app at: unsubscribe links in emails are built on it.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# The mailto of List-Unsubscribe (a mailbox someone reads); none when empty.
UNSUBSCRIBE_MAILTO = env_str("UNSUBSCRIBE_MAILTO", "")

# The API: requests a second per key before 429.
API_RATE_LIMIT_PER_SECOND = env_int("API_RATE_LIMIT_PER_SECOND", 20)

# Production hardening; the README's production section sets these.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies in front of the app append to X-Forwarded-For: the client's address is the one
# the outermost of them saw. 0 believes REMOTE_ADDR only (no proxy: the header is the client's own).
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 1 if BEHIND_PROXY else 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
