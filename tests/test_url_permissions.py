"""Who may open what: every URL pattern of the project x role -> the status each gets, walked for real.

The table, its roles and the fixtures that fill the URLs are in tests/factories/url_table.py (the CSRF
tests ask every URL of it again). A new URL pattern fails the coverage test until it has a row there.
"""

from django.test import TestCase
from django.urls import URLResolver, get_resolver, reverse

from tests.factories import ADMIN_PREFIXES, ROLES, TABLE, RoleFixturesMixin, Row


def url_patterns(patterns=None, prefix: str = "", namespace: str = ""):
    """(key, route) of every pattern: "namespace:name", or the full route of an unnamed one."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace) if part)
            yield from url_patterns(pattern.url_patterns, route, inner)
        elif pattern.name:
            yield ":".join(part for part in (namespace, pattern.name) if part), route
        else:
            yield route, route


def admin_prefix(route: str) -> str | None:
    return next((prefix for prefix in ADMIN_PREFIXES if route.startswith(prefix)), None)


class UrlTableCoverageTests(TestCase):
    def test_every_url_pattern_has_a_row_or_an_admin_prefix(self):
        missing = [key for key, route in url_patterns() if key not in TABLE and not admin_prefix(route)]
        self.assertEqual(missing, [], "URL patterns without a row in TABLE")

    def test_every_row_and_admin_prefix_names_a_pattern_that_exists(self):
        patterns = dict(url_patterns())
        self.assertEqual([key for key in TABLE if key not in patterns], [], "rows of patterns now gone")
        unused = [prefix for prefix in ADMIN_PREFIXES if not any(map(admin_prefix, patterns.values()))]
        self.assertEqual(unused, [])
        for prefix, (name, _row) in ADMIN_PREFIXES.items():
            self.assertTrue(patterns[name].startswith(prefix), name)


class UrlPermissionTests(RoleFixturesMixin, TestCase):
    def walk(self, rows: list[tuple[str, str, Row]]) -> list[tuple]:
        wrong = []
        for key, url_key, row in rows:
            for method, expected in (("get", row.get), ("post", row.post)):
                if expected is None:
                    continue
                for role, status in zip(ROLES, expected, strict=True):
                    url = self.url(url_key, row, role)
                    got = self.outcome(getattr(self.client_for(role), method)(url))
                    if got != status:
                        wrong.append((key, method.upper(), role, f"expected {status}", f"got {got}"))
        return wrong

    def test_every_role_gets_the_status_the_table_gives_on_every_url(self):
        wrong = self.walk([(key, key, row) for key, row in TABLE.items()])
        self.assertEqual(wrong, [])

    def test_every_role_gets_the_status_the_table_gives_on_each_admin_prefix(self):
        wrong = self.walk([(prefix, name, row) for prefix, (name, row) in ADMIN_PREFIXES.items()])
        self.assertEqual(wrong, [])

    def test_a_researcher_cannot_revoke_an_invite_link(self):
        url = reverse("annotations:evaluator_revoke", args=[self.test.pk, self.other.pk])
        self.assertEqual(self.client_for("researcher").post(url).status_code, 403)
        self.other.refresh_from_db()
        self.assertIsNone(self.other.revoked_at)
