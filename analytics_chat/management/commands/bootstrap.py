"""First-run set-up: database, demo data, an admin user with a token. Safe to run again."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Migrate, load the demo data, and create the admin user (printing its credentials and API token)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--skip-demo", action="store_true")

    def handle(self, *args, username: str, skip_demo: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        if not skip_demo:
            call_command("load_demo")
        password_file = settings.DATA_DIR / "admin_password"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None or not password_file.exists():
            password = secrets.token_urlsafe(12)
            if user is None:
                user = User.objects.create_superuser(username, email="", password=password)
            else:
                user.set_password(password)
                user.save()
            password_file.write_text(password)
            password_file.chmod(0o600)
        password = password_file.read_text().strip()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(
            self.style.SUCCESS(
                f"\nAdmin user: {username}\nPassword:   {password}\nAPI token:  {token.key}\n"
                f"(the password is kept in {password_file})\n"
            )
        )
