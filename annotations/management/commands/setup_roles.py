"""Create the researchers and admins groups with their permissions (safe to run again)."""

from django.core.management.base import BaseCommand
from django.template.defaultfilters import pluralize

from annotations.roles import setup_roles


class Command(BaseCommand):
    help = "Create or update the 'researchers' (view and export) and 'admins' (also add and change) groups."

    def handle(self, *args, **options):
        counts = setup_roles()
        for name, count in counts.items():
            self.stdout.write(f"Group {name!r}: {count} permission{pluralize(count)}.")
