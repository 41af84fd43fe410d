"""`manage.py check --deploy` is clean for the production settings, and flags a laptop-style set-up."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# What a production deployment sets (docker/compose and the README say the same).
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_ALLOWED_HOSTS": "chat.example.com",
    "DJANGO_SSL_REDIRECT": "1",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_HSTS_PRELOAD": "1",
    "DJANGO_SECURE_COOKIES": "1",
}


def check_deploy(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.update({"DJANGO_SETTINGS_MODULE": "analytics_chat.settings", "AC_DATA_DIR": str(tmp_path)})
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_production_settings_pass_check_deploy(tmp_path):
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": secrets.token_urlsafe(64)}
    result = check_deploy(env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_debug_and_a_weak_secret(tmp_path):
    result = check_deploy({"DJANGO_DEBUG": "1", "DJANGO_SECRET_KEY": "short"}, tmp_path)
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on
    assert "security.W009" in result.stderr  # weak SECRET_KEY


def test_secret_key_comes_from_the_environment_or_a_private_file(tmp_path):
    """No key in the code: without DJANGO_SECRET_KEY a random one is generated, readable by the owner only."""
    code = "from django.conf import settings; print(settings.SECRET_KEY); print(settings.DEBUG)"
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.update({"DJANGO_SETTINGS_MODULE": "analytics_chat.settings", "AC_DATA_DIR": str(tmp_path)})
    run = [sys.executable, "-c", f"import django; django.setup(); {code}"]
    generated = subprocess.run(run, cwd=REPO, env=base, capture_output=True, text=True, check=True)
    key, debug = generated.stdout.split()
    assert len(key) >= 50 and debug == "False"  # DEBUG is off unless asked for
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    given = subprocess.run(
        run, cwd=REPO, env={**base, "DJANGO_SECRET_KEY": "k" * 60}, capture_output=True, text=True, check=True
    )
    assert given.stdout.split()[0] == "k" * 60
