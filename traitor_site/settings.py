"""Traitor settings: one module, driven by environment variables.

Every knob a node operator may turn is read here, through the typed readers of
``traitor_site.env``; application code reads ``settings.TRAITOR_*`` and nothing else.
Standalone mode needs no variable at all: data, the generated secret key and the
SQLite database live under ``$TRAITOR_HOME`` (default ``~/.traitor``).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url

from traitor_site.env import env_bool, env_float, env_int, env_path, env_str, env_timezone

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Where a node keeps its data -------------------------------------------------------
TRAITOR_HOME = env_path("TRAITOR_HOME", Path.home() / ".traitor")
TRAITOR_HOME.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The key from the environment, else one generated once and kept under TRAITOR_HOME."""
    from_env = env_str("TRAITOR_SECRET_KEY", "")
    if from_env:
        return from_env
    key_file = TRAITOR_HOME / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("TRAITOR_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in env_str("TRAITOR_ALLOWED_HOSTS", "*").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in env_str("TRAITOR_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "channels",
    "jobs",
    "scheduler",
    "jsruntime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # JSON errors under /api/ for what never reaches an API view (unknown routes, crashes).
    "jobs.middleware.ApiJsonErrors",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "traitor_site.urls"
ASGI_APPLICATION = "traitor_site.asgi.application"

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

# --- Database ----------------------------------------------------------------------------
# SQLite under TRAITOR_HOME by default; TRAITOR_DATABASE_URL (or `runnode --db`) points the
# node at PostgreSQL instead. WAL lets the web threads read while the scheduler writes, and
# IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
TRAITOR_DATABASE_URL = env_str("TRAITOR_DATABASE_URL", "")
if TRAITOR_DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(TRAITOR_DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": TRAITOR_HOME / "traitor.sqlite3",
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # Tests use a file too (under the session's temporary TRAITOR_HOME): the shared
            # in-memory database fails with "table is locked" instead of waiting when two
            # threads write, and the dispatcher tests run two loops on one database.
            "TEST": {"NAME": str(TRAITOR_HOME / "test.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = TRAITOR_HOME / "static"
# WhiteNoise serves the admin's files from the apps (WHITENOISE_USE_FINDERS) but warns, each
# time the middleware loads, when STATIC_ROOT does not exist: an empty one keeps logs clean.
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/admin/login/"

# --- Request limits ----------------------------------------------------------------------
TRAITOR_MAX_BODY_BYTES = env_int("TRAITOR_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
TRAITOR_MAX_SCRIPT_BYTES = env_int("TRAITOR_MAX_SCRIPT_BYTES", 256 * 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = TRAITOR_MAX_BODY_BYTES

# --- Authentication ----------------------------------------------------------------------
# On by default; TRAITOR_AUTH=off restores the original open API for a trusted network.
TRAITOR_AUTH = env_bool("TRAITOR_AUTH", True)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns "no credentials" into a 401.
        "rest_framework.authentication.TokenAuthentication",
        # DRF's session login, with the CSRF check run on Django's request so JSON writes
        # from a browser logged in at /admin/ work (see jobs.authentication).
        "jobs.authentication.SessionAuthentication",
    ],
    # Logged in, or anyone when TRAITOR_AUTH=off (read per request, see jobs.permissions).
    "DEFAULT_PERMISSION_CLASSES": ["jobs.permissions.ApiAccess"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "jobs.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

# --- Channels (the debug websocket) -----------------------------------------------------
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Scheduling --------------------------------------------------------------------------
TRAITOR_DEFAULT_TIMEZONE = env_timezone("TRAITOR_DEFAULT_TIMEZONE", "UTC")
TRAITOR_MIN_DELAY_SECONDS = env_int("TRAITOR_MIN_DELAY_SECONDS", 5, minimum=0)
TRAITOR_RUNS_KEPT = env_int("TRAITOR_RUNS_KEPT", 100, minimum=1)
TRAITOR_NODE_NAME = env_str("TRAITOR_NODE_NAME", "")
TRAITOR_CLUSTER = env_str("TRAITOR_CLUSTER", "default")
# Dispatcher: a fire later than the grace counts as missed (catch-up rules apply); the
# longest sleep is a safety net for wall-clock steps, wake-ups are immediate; run threads
# carry runs through the sandbox pool so the dispatcher never waits for a script.
TRAITOR_MISFIRE_GRACE_SECONDS = env_float("TRAITOR_MISFIRE_GRACE_SECONDS", 5.0, minimum=0.0)
TRAITOR_DISPATCH_MAX_SLEEP_SECONDS = env_float(
    "TRAITOR_DISPATCH_MAX_SLEEP_SECONDS", 30.0, minimum=0.01
)
TRAITOR_RUN_THREADS = env_int("TRAITOR_RUN_THREADS", 32, minimum=1)
# Fires this close are claimed ahead and started at their instant, off the database's clock.
TRAITOR_DISPATCH_LOOKAHEAD_MS = env_int("TRAITOR_DISPATCH_LOOKAHEAD_MS", 250, minimum=0)
# Most runs of one job going at once when it allows overlap; a fire beyond it is skipped.
TRAITOR_MAX_RUNS_PER_JOB = env_int("TRAITOR_MAX_RUNS_PER_JOB", 3, minimum=1)

# --- Sandbox limits: defaults per run, and the ceiling a job may raise them to ----------
TRAITOR_SANDBOX_WORKERS = env_int("TRAITOR_SANDBOX_WORKERS", 2, minimum=1)
TRAITOR_RUN_TIMEOUT_SECONDS = env_float("TRAITOR_RUN_TIMEOUT_SECONDS", 30.0, minimum=0.1)
TRAITOR_RUN_TIMEOUT_MAX_SECONDS = env_float("TRAITOR_RUN_TIMEOUT_MAX_SECONDS", 600.0, minimum=0.1)
TRAITOR_RUN_MEMORY_MB = env_int("TRAITOR_RUN_MEMORY_MB", 256, minimum=16)
TRAITOR_RUN_MEMORY_MAX_MB = env_int("TRAITOR_RUN_MEMORY_MAX_MB", 2048, minimum=16)
TRAITOR_RUN_OUTPUT_BYTES = env_int("TRAITOR_RUN_OUTPUT_BYTES", 1024 * 1024, minimum=1024)
TRAITOR_RUN_OUTPUT_MAX_BYTES = env_int(
    "TRAITOR_RUN_OUTPUT_MAX_BYTES", 16 * 1024 * 1024, minimum=1024
)
TRAITOR_HTTP_RESPONSE_BYTES = env_int("TRAITOR_HTTP_RESPONSE_BYTES", 5 * 1024 * 1024, minimum=1024)
TRAITOR_HTTP_RESPONSE_MAX_BYTES = env_int(
    "TRAITOR_HTTP_RESPONSE_MAX_BYTES", 64 * 1024 * 1024, minimum=1024
)
# Link-local and cloud-metadata addresses are always refused; this adds private and loopback.
TRAITOR_HTTP_DENY_PRIVATE = env_bool("TRAITOR_HTTP_DENY_PRIVATE", False)
# Comma-separated Python modules whose exported functions scripts can `require`; the shipped
# `jsruntime.store` (per-job key/value store) is on unless the list leaves it out.
TRAITOR_PLUGINS = [
    p.strip() for p in env_str("TRAITOR_PLUGINS", "jsruntime.store").split(",") if p.strip()
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("TRAITOR_LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}
