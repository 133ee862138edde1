"""Settings for the test suite: the development settings with fast, deterministic infrastructure."""

import os

os.environ.setdefault("DJANGO_ENV", "test")

from dcc_project.settings import *  # noqa: E402,F401,F403
from dcc_project.settings import Q_CLUSTER, REST_FRAMEWORK  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
# Tests point the clients at an in-process simulator; nothing reaches the network by default.
OUTBOUNDBOT_MAX_RETRIES = 2
OUTBOUNDBOT_BACKOFF_SECONDS = 0.01
OUTBOUNDBOT_BACKOFF_MAX_SECONDS = 0.05
OUTBOUNDBOT_READ_TIMEOUT = 5.0
LLM_API_KEY = ""
LLM_TIMEOUT = 5.0
# In-process tests run inside a transaction other threads cannot see; tests of worker threads set it themselves.
MONITOR_WORKERS = 1
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {k: "10000/min" for k in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}

# A file (not shared-cache in-memory) SQLite test database: concurrent threads then wait on the busy timeout
# instead of failing with "database table is locked".
from dcc_project.settings import DATABASES, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and not DATABASES["default"]["TEST"].get("NAME"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["TEST"]["NAME"] = str(VAR_DIR / "test_db.sqlite3")
