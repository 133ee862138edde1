"""Production mode fails loudly without real secrets and passes ``check --deploy`` with them.

Settings are read once per process, so each case runs ``manage.py`` in a subprocess.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    clean.update(
        DJANGO_SETTINGS_MODULE="dcc_project.settings",
        DCC_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PYTHONDONTWRITEBYTECODE="1",
        **env,
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def production(**extra: str) -> dict[str, str]:
    return {"DJANGO_ENV": "production", "DJANGO_ALLOWED_HOSTS": "dcc.example.com", **extra}


@pytest.mark.parametrize(
    "secret",
    [
        None,  # not set at all
        "",
        "short-key",
        "django-insecure-" + "x7Kq" * 12,  # Django's development prefix
        "a" * 64,  # long but not random
    ],
    ids=["missing", "empty", "short", "insecure-prefix", "repetitive"],
)
def test_production_refuses_a_missing_or_weak_secret_key(tmp_path, secret):
    env = production() if secret is None else production(DJANGO_SECRET_KEY=secret)
    result = manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_requires_allowed_hosts(tmp_path):
    result = manage(tmp_path, "check", DJANGO_ENV="production", DJANGO_SECRET_KEY=secrets.token_urlsafe(64))
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_unknown_environment_name_is_rejected(tmp_path):
    result = manage(tmp_path, "check", DJANGO_ENV="staging")
    assert result.returncode != 0
    assert "DJANGO_ENV" in result.stderr


def test_production_with_real_secrets_passes_the_deploy_check(tmp_path):
    result = manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **production(DJANGO_SECRET_KEY=secrets.token_urlsafe(64)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_are_hardened(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS > 0)"
    )
    result = manage(tmp_path, "shell", "-v", "0", "-c", code, **production(DJANGO_SECRET_KEY=secrets.token_urlsafe(64)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "True", "True"]


def test_development_defaults_need_no_environment(tmp_path):
    code = "from django.conf import settings as s; print(s.DEBUG, s.LANGUAGE_CODE, s.TIME_ZONE, s.USE_TZ)"
    result = manage(tmp_path, "shell", "-v", "0", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "zh-hans", "Asia/Shanghai", "True"]


def test_bad_boolean_is_rejected(tmp_path):
    result = manage(tmp_path, "check", DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr


def test_test_settings_are_in_use(settings):
    assert settings.DJANGO_ENV == "test"
    assert settings.Q_CLUSTER["sync"] is True
    assert settings.Q_CLUSTER["timeout"] < settings.Q_CLUSTER["retry"]
    assert settings.Q_CLUSTER["catch_up"] is False
