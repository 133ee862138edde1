"""Settings for the DCC call-automation service, read from environment variables.

``DJANGO_ENV`` selects the mode: ``development`` (default: safe local defaults, SQLite, the provider
simulator on loopback), ``production`` (refuses to start without real secrets; passes
``check --deploy``) or ``test`` (used by the test suite through ``dcc_project.settings_test``).
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from dcc_project.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DCC_VAR_DIR", str(BASE_DIR / "var")))

DJANGO_ENV = env_str("DJANGO_ENV", "development").strip().lower()
if DJANGO_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development, production or test, got {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

# --- Core ------------------------------------------------------------------------------------------------
_DEV_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "" if PRODUCTION else _DEV_SECRET_KEY)
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure") or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters in production "
        "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))')."
    )
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])

DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must list the host names the service answers to.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_q",
    "followups.apps.FollowupsConfig",
    "calltasks.apps.CalltasksConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if PRODUCTION:
    # gunicorn serves the admin's static files itself (collectstatic → STATIC_ROOT).
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "dcc_project.urls"
WSGI_APPLICATION = "dcc_project.wsgi.application"
AUTH_USER_MODEL = "followups.User"

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

# --- Database ----------------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers wait for the lock instead of failing with "database is locked" (web, monitor and
    # simulator share the file in development).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 30, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env_str("SQLITE_TEST_NAME", "") or None
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache -------------------------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dcc"}}

# --- Auth --------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# --- I18N / time -------------------------------------------------------------------------------------------
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and private files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
# Recordings are personal data: stored outside any public URL and served only by an authenticated view.
RECORDINGS_ROOT = Path(env_str("RECORDINGS_ROOT", str(VAR_DIR / "recordings")))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(RECORDINGS_ROOT), "base_url": "/recordings/"},
    },
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Request bodies: larger ones are refused (the API answers 413, see dcc_project/api/envelope.py).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)
# Uploaded files larger than this are streamed to a temporary file instead of being held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", DATA_UPLOAD_MAX_MEMORY_SIZE)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env_int("DATA_UPLOAD_MAX_NUMBER_FIELDS", 1000)
LEAD_IMPORT_MAX_BYTES = env_int("LEAD_IMPORT_MAX_BYTES", 10 * 1024 * 1024)
LEAD_IMPORT_MAX_ROWS = env_int("LEAD_IMPORT_MAX_ROWS", 50_000)

# --- REST API ------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dcc_project.api.authentication.AccessTokenAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "dcc_project.api.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "login": env_str("THROTTLE_LOGIN", "10/min"),
        "task_create": env_str("THROTTLE_TASK_CREATE", "30/min"),
        "task_start": env_str("THROTTLE_TASK_START", "30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DCC 智能外呼 API",
    "DESCRIPTION": "AI outbound-call tasks for dealership DCC teams: tasks, lead rows, call records, follow-ups.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # The /api/v1/ resources' error responses (400/401/403/404/409/…) are documented too (dcc_project/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dcc_project.openapi.document_rest_errors",
    ],
}

# --- django-q2 (reference/engineering-notes.md §B) ------------------------------------------------------------
Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "dcc"),
    "workers": env_int("Q_WORKERS", 2),
    # A task may run at most `timeout` seconds and is only redelivered after `retry`: timeout < retry.
    "timeout": env_int("Q_TIMEOUT", 240),
    "retry": env_int("Q_RETRY", 300),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 2),
    "ack_failures": True,
    "catch_up": False,
    "save_limit": env_int("Q_SAVE_LIMIT", 1000),
    "label": "后台任务",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Provider: Alibaba Cloud OutboundBot 2019-12-26 -------------------------------------------------------------
_DEV = not PRODUCTION
SIMULATOR_HOST = env_str("SIMULATOR_HOST", "127.0.0.1")
SIMULATOR_PORT = env_int("SIMULATOR_PORT", 8765)
_SIMULATOR_URL = f"http://{SIMULATOR_HOST}:{SIMULATOR_PORT}"
OUTBOUNDBOT_ENDPOINT = env_str(
    "OUTBOUNDBOT_ENDPOINT", _SIMULATOR_URL if _DEV else "https://outboundbot.cn-shanghai.aliyuncs.com"
)
OUTBOUNDBOT_INSTANCE_ID = env_str("OUTBOUNDBOT_INSTANCE_ID", "sim-instance" if _DEV else "")
ALIBABA_CLOUD_ACCESS_KEY_ID = env_str("ALIBABA_CLOUD_ACCESS_KEY_ID", "sim-access-key-id" if _DEV else "")
ALIBABA_CLOUD_ACCESS_KEY_SECRET = env_str("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "sim-access-key-secret" if _DEV else "")
OUTBOUNDBOT_SIGNATURE_VERSION = env_str("OUTBOUNDBOT_SIGNATURE_VERSION", "v3")
OUTBOUNDBOT_CONNECT_TIMEOUT = env_float("OUTBOUNDBOT_CONNECT_TIMEOUT", 5.0)
OUTBOUNDBOT_READ_TIMEOUT = env_float("OUTBOUNDBOT_READ_TIMEOUT", 15.0)
OUTBOUNDBOT_MAX_RETRIES = env_int("OUTBOUNDBOT_MAX_RETRIES", 3)
OUTBOUNDBOT_BACKOFF_SECONDS = env_float("OUTBOUNDBOT_BACKOFF_SECONDS", 0.5)
OUTBOUNDBOT_BACKOFF_MAX_SECONDS = env_float("OUTBOUNDBOT_BACKOFF_MAX_SECONDS", 8.0)
# Hosts recording URLs may be downloaded from (SSRF guard); the simulator's in development.
RECORDING_ALLOWED_HOSTS = env_list(
    "RECORDING_ALLOWED_HOSTS",
    [SIMULATOR_HOST, "localhost"] if _DEV else [".aliyuncs.com"],
)
RECORDING_DOWNLOAD_CONCURRENCY = env_int("RECORDING_DOWNLOAD_CONCURRENCY", 4)
RECORDING_MAX_BYTES = env_int("RECORDING_MAX_BYTES", 50 * 1024 * 1024)

# --- LLM (OpenAI-compatible chat completions; DashScope compatible mode in production) -----------------------
LLM_BASE_URL = env_str(
    "LLM_BASE_URL", f"{_SIMULATOR_URL}/compatible-mode/v1" if _DEV else "https://dashscope.aliyuncs.com/compatible-mode/v1"
)
LLM_API_KEY = env_str("LLM_API_KEY", "")
LLM_MODEL = env_str("LLM_MODEL", "qwen-plus")
LLM_TIMEOUT = env_float("LLM_TIMEOUT", 30.0)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2)
JUDGE_CONCURRENCY = env_int("JUDGE_CONCURRENCY", 8)
TRANSCRIPT_GRACE_MINUTES = env_int("TRANSCRIPT_GRACE_MINUTES", 30)

# --- Task lifecycle and monitor ------------------------------------------------------------------------------------
CALLTASKS_COMPLETION_RULE = env_str("CALLTASKS_COMPLETION_RULE", "all_final")
if CALLTASKS_COMPLETION_RULE not in {"all_final", "all_connected"}:
    raise ImproperlyConfigured("CALLTASKS_COMPLETION_RULE must be all_final or all_connected")
CALLTASKS_MAX_LEADS_PER_TASK = env_int("CALLTASKS_MAX_LEADS_PER_TASK", 5000)
CALLTASKS_DAILY_CALL_BUDGET = env_int("CALLTASKS_DAILY_CALL_BUDGET", 50000)
CALLTASKS_ASSIGN_BATCH_SIZE = min(env_int("CALLTASKS_ASSIGN_BATCH_SIZE", 25), 99)
CALLTASKS_TASK_DEADLINE_HOURS = env_int("CALLTASKS_TASK_DEADLINE_HOURS", 72)
# Default calling strategy (local Asia/Shanghai time): windows "HH:MM-HH:MM,...", attempts, interval (minutes).
CALLTASKS_WORKING_TIME = env_str("CALLTASKS_WORKING_TIME", "09:00-12:00,13:30-20:00")
CALLTASKS_MAX_ATTEMPTS_PER_DAY = env_int("CALLTASKS_MAX_ATTEMPTS_PER_DAY", 3)
CALLTASKS_MIN_ATTEMPT_INTERVAL_MINUTES = env_int("CALLTASKS_MIN_ATTEMPT_INTERVAL_MINUTES", 10)
MONITOR_INTERVAL_SECONDS = env_int("MONITOR_INTERVAL_SECONDS", 300)
MONITOR_FAST_INTERVAL_SECONDS = env_int("MONITOR_FAST_INTERVAL_SECONDS", 10)
MONITOR_FAST_WINDOW_SECONDS = env_int("MONITOR_FAST_WINDOW_SECONDS", 120)
MONITOR_ERROR_RETRY_SECONDS = env_int("MONITOR_ERROR_RETRY_SECONDS", 60)
MONITOR_LEASE_SECONDS = env_int("MONITOR_LEASE_SECONDS", 600)
# Tasks one monitor pass (run_monitor, /auto-task check) processes at once, in threads (PostgreSQL; SQLite: 1).
MONITOR_WORKERS = max(1, env_int("MONITOR_WORKERS", 4))

# --- Notifications -------------------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "dcc-noreply@localhost")
NOTIFY_WEBHOOK_URL = env_str("NOTIFY_WEBHOOK_URL", "")
NOTIFY_WEBHOOK_SECRET = env_str("NOTIFY_WEBHOOK_SECRET", "")

# --- Security ------------------------------------------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("DJANGO_BEHIND_TLS_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging: phone numbers are masked on every handler ----------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_phones": {"()": "dcc_project.logging.PhoneMaskFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_phones"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django_q": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

ADMIN_SITE_HEADER = _("DCC AI outbound calls")
