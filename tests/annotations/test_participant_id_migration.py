"""Migration 0024: existing tests keep accepting open-link visitors without a participant id, except
tests set up for a crowd platform (a platform completion code or URL), which now refuse them."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase

from tests.factories import ensure_default_scales
from tests.migrating import migrate_to_newest

BEFORE = ("annotations", "0023_rating_server_play_count")
AFTER = ("annotations", "0024_allow_no_participant_id")


class ParticipantIdMigrationTests(TransactionTestCase):
    def migrate(self, target: tuple[str, str]):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([target])
        return executor.loader.project_state(target).apps

    def tearDown(self):
        migrate_to_newest()

    def test_only_tests_with_a_platform_code_or_completion_url_stop_accepting_visitors_without_an_id(self):
        old = self.migrate(BEFORE)
        scale = ensure_default_scales(old.get_model("annotations", "Scale"))
        Test = old.get_model("annotations", "ListeningTest")
        url = "https://app.prolific.com/submissions/complete?cc=WALK123"
        for name, fields in (
            ("plain", {}),
            ("coded", {"platform_code": "WALK123"}),
            ("url", {"completion_url": url}),
            ("screen-out-only", {"screen_out_code": "SCRN0UT1"}),
        ):
            Test.objects.create(name=name, scale=scale, open_token=name, completion_code=name, **fields)

        new = self.migrate(AFTER)

        accepted = dict(
            new.get_model("annotations", "ListeningTest").objects.values_list(
                "name", "allow_no_participant_id"
            )
        )
        self.assertEqual(accepted, {"plain": True, "coded": False, "url": False, "screen-out-only": True})
