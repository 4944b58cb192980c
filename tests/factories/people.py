"""The named personas of the tests: an admin, a researcher, an admin by role, any account."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from annotations.roles import ADMINS, RESEARCHERS, setup_roles


def make_admin(username: str = "ada-admin"):
    return get_user_model().objects.create_superuser(username=username, password="pw-admin-123")


def make_user(username: str, group: str | None = None, **fields):
    """An account, in the role's group when one is given."""
    setup_roles()
    user = get_user_model().objects.create_user(username=username, password="pw-user-1234", **fields)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def make_researcher(username: str = "rita-researcher"):
    return make_user(username, RESEARCHERS)


def make_group_admin(username: str = "adam-admin"):
    """An admin by role (the admins group, staff) rather than a superuser."""
    return make_user(username, ADMINS, is_staff=True)
