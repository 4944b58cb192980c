"""Who may open what: every URL pattern of the project x role -> the status each gets, as a table that
tests/test_url_permissions.py walks for real and tests/test_csrf.py asks again with a POST and no token.

Roles: anonymous (no account; on an evaluator URL, a guessed token), evaluator (no account: the valid
invite token of a running test, past consent, screen and practice), researcher (the "researchers"
group) and admin (the "admins" group, staff, so the admin site opens). On an evaluator URL the token
is the key, whoever is signed in: the researcher and the admin use the valid token there and see
what the evaluator sees. A new URL pattern fails the coverage test until it has a row here.

LOGIN stands for a redirect to the app's sign-in page (settings.LOGIN_URL), ADMIN_LOGIN for one to the
admin site's; other statuses are the response's own.
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from annotations.models import Evaluator, ListeningTest
from synthesis.models import SynthesisRun
from tests.factories.listening import build_test, evaluator_at_rating
from tests.factories.people import make_group_admin, make_researcher
from tests.factories.runs import make_run_with_samples, wer_run
from tests.factories.samples import make_config

ROLES = ("anonymous", "evaluator", "researcher", "admin")
LOGIN = "login"
ADMIN_LOGIN = "admin login"
GUESSED_TOKEN = "not-a-token-anyone-was-given"


@dataclass(frozen=True)
class Row:
    """What each role gets (in ROLES order) for a GET and for a POST without data; None: not asked."""

    get: tuple | None
    post: tuple | None = None
    args: str = ""  # which real objects fill the URL (see RoleFixturesMixin.arguments)


EVERYONE_405 = (405, 405, 405, 405)
SIGNED_IN = (LOGIN, LOGIN, 200, 200)
ADMINS_ONLY = (LOGIN, LOGIN, 403, 200)
# Evaluator URLs: a guessed token finds nothing; the real one goes where the session stands.
TO_THE_STEP = (404, 302, 302, 302)
# The admin site lets staff in; researchers have no staff flag, so they are sent to its login too.
STAFF = (ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 200)

TABLE = {
    # Signing in: the page is anyone's; a POST without data shows the form again. Signing out is a POST.
    "login": Row(get=(200, 200, 200, 200), post=(200, 200, 200, 200)),
    "logout": Row(get=EVERYONE_405, post=(LOGIN, LOGIN, LOGIN, LOGIN)),
    "synthesis:home": Row(get=SIGNED_IN, post=SIGNED_IN),
    "synthesis:healthz": Row(get=(200, 200, 200, 200), post=(200, 200, 200, 200)),
    "synthesis:favicon": Row(get=(302, 302, 302, 302), post=(302, 302, 302, 302)),
    "synthesis:run_new": Row(get=ADMINS_ONLY, post=ADMINS_ONLY),
    "synthesis:run_detail": Row(get=SIGNED_IN, post=SIGNED_IN, args="run"),
    "synthesis:run_samples": Row(get=SIGNED_IN, post=SIGNED_IN, args="run"),
    "synthesis:run_progress": Row(get=SIGNED_IN, post=SIGNED_IN, args="run"),
    # Without confirm=yes a POST only shows the question again.
    "synthesis:run_cancel": Row(get=ADMINS_ONLY, post=ADMINS_ONLY, args="run"),
    "synthesis:run_retry": Row(get=EVERYONE_405, post=(LOGIN, LOGIN, 403, 302), args="run"),
    "synthesis:sample_audio": Row(get=SIGNED_IN, post=SIGNED_IN, args="sample"),
    "synthesis:utterance_audio": Row(get=SIGNED_IN, post=SIGNED_IN, args="utterance"),
    "annotations:open_link": Row(get=(302, 302, 302, 302), post=EVERYONE_405, args="open_token"),
    "annotations:session": Row(get=TO_THE_STEP, post=EVERYONE_405, args="token"),
    "annotations:consent": Row(get=TO_THE_STEP, post=TO_THE_STEP, args="token"),
    "annotations:check": Row(get=TO_THE_STEP, post=TO_THE_STEP, args="token"),
    # The screen's tones exist only while the evaluator is at the screen.
    "annotations:check_audio": Row(get=(404, 404, 404, 404), post=EVERYONE_405, args="token"),
    # An empty answer is refused with a message on the page it came from.
    "annotations:training": Row(get=TO_THE_STEP, post=TO_THE_STEP, args="token"),
    "annotations:rate": Row(get=(404, 200, 200, 200), post=TO_THE_STEP, args="token"),
    "annotations:finish": Row(get=TO_THE_STEP, post=EVERYONE_405, args="token"),
    "annotations:screened_out": Row(get=TO_THE_STEP, post=EVERYONE_405, args="token"),
    "annotations:clip_audio": Row(get=(404, 200, 200, 200), post=EVERYONE_405, args="clip"),
    "annotations:test_list": Row(get=SIGNED_IN, post=SIGNED_IN),
    "annotations:test_new": Row(get=ADMINS_ONLY, post=ADMINS_ONLY),
    "annotations:sample_import": Row(get=ADMINS_ONLY, post=ADMINS_ONLY),
    "annotations:test_detail": Row(get=SIGNED_IN, post=SIGNED_IN, args="test"),
    "annotations:test_invite": Row(get=EVERYONE_405, post=(LOGIN, LOGIN, 403, 302), args="test"),
    # Without confirm=yes a POST only shows the question again.
    "annotations:evaluator_revoke": Row(get=ADMINS_ONLY, post=ADMINS_ONLY, args="revoke"),
    "results:index": Row(get=SIGNED_IN, post=SIGNED_IN),
    "results:test": Row(get=SIGNED_IN, post=SIGNED_IN, args="test"),
    "results:test_live": Row(get=SIGNED_IN, post=SIGNED_IN, args="test"),
    "results:test_analyse": Row(get=EVERYONE_405, post=(LOGIN, LOGIN, 302, 302), args="test"),
    "results:test_ratings_csv": Row(get=SIGNED_IN, post=SIGNED_IN, args="test"),
    "results:test_summary_csv": Row(get=SIGNED_IN, post=SIGNED_IN, args="test"),
    "results:test_summary_json": Row(get=SIGNED_IN, post=SIGNED_IN, args="test"),
    "results:test_measurements_csv": Row(get=SIGNED_IN, post=SIGNED_IN, args="test"),
    "results:test_marks_csv": Row(get=SIGNED_IN, post=SIGNED_IN, args="test"),
    "results:test_report": Row(get=SIGNED_IN, post=SIGNED_IN, args="test"),
    "results:run": Row(get=SIGNED_IN, post=SIGNED_IN, args="run"),
    "results:run_live": Row(get=SIGNED_IN, post=SIGNED_IN, args="run"),
    "results:run_measurements_csv": Row(get=SIGNED_IN, post=SIGNED_IN, args="run"),
    "results:wer_run_table": Row(get=SIGNED_IN, post=SIGNED_IN, args="wer_run"),
    "results:iteration_run_table": Row(get=SIGNED_IN, post=SIGNED_IN, args="latency_run"),
    "results:wer_alignment": Row(get=SIGNED_IN, post=SIGNED_IN, args="transcript"),
    "results:wer_compare": Row(get=SIGNED_IN, post=SIGNED_IN),
    "results:claims": Row(get=SIGNED_IN, post=SIGNED_IN),
    "results:claims_json": Row(get=SIGNED_IN, post=SIGNED_IN),
    "results:claims_report": Row(get=SIGNED_IN, post=SIGNED_IN),
    # The admin site's own pages (changes through it are the admin's business, so GETs only).
    "admin:index": Row(get=STAFF),
    "admin:login": Row(get=(200, 200, 200, 302), post=(200, 200, 200, 200)),
    # Signing out is a POST; the admin site sends anyone not staff to its index (then its login).
    "admin:logout": Row(get=(302, 302, 302, 405)),
    "admin:password_change": Row(get=STAFF),
    "admin:password_change_done": Row(get=STAFF),
    # Staff get 403 without the field to complete.
    "admin:autocomplete": Row(get=(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403)),
    "admin:jsi18n": Row(get=STAFF),
    # An evaluator has no page of its own outside the app's links.
    "admin:view_on_site": Row(get=(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404), args="view_on_site"),
    "admin:app_list": Row(get=STAFF, args="app_label"),
    # Unknown admin URLs (the unnamed catch-all): nothing is revealed before signing in.
    "admin/(?P<url>.*)$": Row(get=(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404), args="admin_url"),
}
# The model admins' pages, one row per prefix: every pattern under it is a ModelAdmin view with the
# same permission rule; the row asks for the changelist named.
ADMIN_PREFIXES = {
    "admin/annotations/": ("admin:annotations_evaluator_changelist", Row(get=STAFF)),
    "admin/synthesis/": ("admin:synthesis_synthesisrun_changelist", Row(get=STAFF)),
    # The admins group holds no auth permissions: users and groups are the superuser's.
    "admin/auth/": ("admin:auth_user_changelist", Row(get=(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 403))),
}


class RoleFixturesMixin:
    """For a TestCase: the personas and the real objects that fill the URLs' arguments, and the URL
    of a row of TABLE for a role."""

    @classmethod
    def setUpTestData(cls):
        cls.researcher = make_researcher()
        cls.admin = make_group_admin()
        cls.test = build_test("open-test", allow_open_link=True)
        cls.evaluator = evaluator_at_rating(cls.test)
        cls.other = Evaluator.objects.create(test=cls.test, pseudonym="R900")
        cls.synthesis_run, samples = make_run_with_samples()
        cls.wer_run = wer_run(stt_model="/models/whisper-tiny.bin", errors=1)
        cls.latency_run = SynthesisRun.objects.create(name="lat", mode="latency", config=make_config("lat"))
        cls.sample = samples[0]

    def arguments(self, kind: str, role: str) -> list:
        """The URL arguments of this kind, read when asked for (a walk asks hundreds of times)."""
        token = GUESSED_TOKEN if role == "anonymous" else self.evaluator.token

        def clip() -> str:
            return self.evaluator.assignments.first().trial.trial_clips.first().test_sample.token

        return {
            "": lambda: [],
            "run": lambda: [self.synthesis_run.pk],
            "sample": lambda: [self.sample.pk],
            "test": lambda: [self.test.pk],
            "open_token": lambda: [ListeningTest.objects.get(pk=self.test.pk).open_token],
            "token": lambda: [token],
            "clip": lambda: [token, clip()],
            "revoke": lambda: [self.test.pk, self.other.pk],
            "wer_run": lambda: [self.wer_run.pk],
            "latency_run": lambda: [self.latency_run.pk],
            "transcript": lambda: [self.wer_run.pk, self.wer_run.transcripts.first().pk],
            "utterance": lambda: [self.wer_run.transcripts.first().utterance_id],
            "view_on_site": lambda: [ContentType.objects.get_for_model(Evaluator).pk, self.evaluator.pk],
            "app_label": lambda: ["annotations"],
        }[kind]()

    def client_for(self, role: str) -> Client:
        client = Client()
        user = {"researcher": self.researcher, "admin": self.admin}.get(role)
        if user:
            client.force_login(user)
        return client

    def url(self, key: str, row: Row, role: str) -> str:
        if key == "admin/(?P<url>.*)$":
            return "/admin/no-such-page/"
        return reverse(key, args=self.arguments(row.args, role))

    @staticmethod
    def outcome(response):
        if response.status_code == 302:
            for login, name in ((reverse(settings.LOGIN_URL), LOGIN), (reverse("admin:login"), ADMIN_LOGIN)):
                if response["Location"].startswith(login):
                    return name
        return response.status_code
