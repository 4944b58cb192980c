"""Create the admin login if it does not exist, and print how to log in."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser from SARAI_ADMIN_USER/SARAI_ADMIN_PASSWORD, or with a generated password."

    def handle(self, *args, **options):
        username = os.environ.get("SARAI_ADMIN_USER", "admin")
        password = os.environ.get("SARAI_ADMIN_PASSWORD", "")
        password_file = settings.VAR_DIR / "admin-password.txt"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if not password:
                password = secrets.token_urlsafe(12)
                password_file.write_text(password + "\n")
                password_file.chmod(0o600)
            User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"Created admin user {username!r}.")
        elif password:
            user.set_password(password)
            user.save(update_fields=["password"])
        if not password and password_file.exists():
            password = password_file.read_text().strip()
        shown = password or f"(unchanged; not stored in {password_file})"
        self.stdout.write(f"Admin login: {username} / {shown}")
