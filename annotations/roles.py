"""Who may see results: the "researchers" and "admins" groups and the permissions behind them.

Researchers view runs, samples, tests and results, and export them. Admins can also add and change
everything in synthesis and annotations (queue runs, create tests). Evaluators have no account:
their invite token opens their own session and nothing else.
"""

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from annotations.models import ListeningTest

RESEARCHERS = "researchers"
ADMINS = "admins"
APPS = ("synthesis", "annotations")
EXPORT_CODENAME = "export_results"
EXPORT_PERMISSION = f"annotations.{EXPORT_CODENAME}"
VIEW_RESULTS = "annotations.view_listeningtest"
VIEW_RUNS = "synthesis.view_synthesisrun"


def export_permission() -> Permission:
    """The custom "export results" permission, on the listening-test content type."""
    content_type = ContentType.objects.get_for_model(ListeningTest)
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type,
        codename=EXPORT_CODENAME,
        defaults={"name": "Can export ratings, summaries and reports"},
    )
    return permission


def _app_permissions(*actions: str) -> list[Permission]:
    codenames = tuple(f"{action}_" for action in actions)
    permissions = Permission.objects.filter(content_type__app_label__in=APPS).select_related("content_type")
    return [p for p in permissions if p.codename.startswith(codenames)]


@transaction.atomic
def setup_roles() -> dict[str, int]:
    """Create or update both groups (idempotent); returns how many permissions each holds."""
    export = export_permission()
    researchers, _ = Group.objects.get_or_create(name=RESEARCHERS)
    researchers.permissions.set([*_app_permissions("view"), export])
    admins, _ = Group.objects.get_or_create(name=ADMINS)
    admins.permissions.set([*_app_permissions("view", "add", "change"), export])
    return {RESEARCHERS: researchers.permissions.count(), ADMINS: admins.permissions.count()}
