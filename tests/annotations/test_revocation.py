"""Revoking an invite link: every evaluator URL closes for it, the open link gives it no new session,
and the ratings it gave stay."""

import re

from django.test import Client, TestCase
from django.urls import reverse

from annotations import services
from annotations.models import Evaluator, Rating
from annotations.roles import ADMINS, RESEARCHERS
from tests.annotations.helpers import answer_for, session_url
from tests.factories import build_test, evaluator_at_rating, make_admin, make_samples, make_user

EVALUATOR_PAGES = ("session", "consent", "check", "check_audio", "training", "rate", "finish", "screened_out")


class RevokeServiceTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test()
        cls.evaluator = evaluator_at_rating(cls.test)
        cls.admin = make_admin()

    def test_it_notes_when_and_by_whom_and_a_second_revocation_changes_nothing(self):
        self.assertTrue(services.revoke_evaluator(evaluator=self.evaluator, by=self.admin))
        first = self.evaluator.revoked_at
        self.assertEqual(self.evaluator.revoked_by, self.admin)
        self.assertFalse(services.revoke_evaluator(evaluator=self.evaluator, by=None))
        self.evaluator.refresh_from_db()
        self.assertEqual((self.evaluator.revoked_at, self.evaluator.revoked_by), (first, self.admin))

    def test_a_revoked_evaluator_no_longer_holds_unanswered_clips(self):
        self.assertIn(self.evaluator, Evaluator.objects.active())
        services.revoke_evaluator(evaluator=self.evaluator, by=self.admin)
        self.assertNotIn(self.evaluator, Evaluator.objects.active())


class RevokedLinkTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(scale=None, language="es", allow_open_link=True)
        cls.evaluator = evaluator_at_rating(cls.test)
        cls.rate = session_url(cls.evaluator, "rate")
        client = Client()  # the evaluator's pages keep nothing in the session: the tests' client starts anew
        answer = answer_for(client, cls.evaluator, cls.rate)
        cls.clip_url = reverse("annotations:clip_audio", args=[cls.evaluator.token, answer["clip"]])
        client.post(cls.rate, answer)
        cls.ratings = Rating.objects.filter(evaluator=cls.evaluator).count()
        services.revoke_evaluator(evaluator=cls.evaluator, by=None)

    def test_every_evaluator_page_shows_the_withdrawn_link_page_in_the_tests_language(self):
        for step in EVALUATOR_PAGES:
            response = self.client.get(session_url(self.evaluator, step))
            self.assertEqual(response.status_code, 410, step)
            self.assertContains(response, "Este enlace ha sido retirado", status_code=410)

    def test_an_answer_is_refused_and_the_ratings_already_given_are_kept(self):
        self.assertGreater(self.ratings, 0)
        response = self.client.post(self.rate, {"clip": "x"})
        self.assertEqual(response.status_code, 410)
        self.assertEqual(Rating.objects.filter(evaluator=self.evaluator).count(), self.ratings)

    def test_the_clip_audio_is_gone_as_every_page_is(self):
        response = self.client.get(self.clip_url)
        self.assertContains(response, "Este enlace ha sido retirado", status_code=410)
        self.assertNotEqual(response["Content-Type"], "audio/wav")

    def test_the_open_link_gives_the_same_participant_no_new_session(self):
        Evaluator.objects.filter(pk=self.evaluator.pk).update(external_id="PID-1")
        url = reverse("annotations:open_link", args=[self.test.open_token])
        response = self.client.get(url, {"PROLIFIC_PID": "PID-1", "STUDY_ID": "s", "SESSION_ID": "x"})
        self.assertContains(response, "Este enlace ha sido retirado", status_code=410)
        self.assertEqual(self.test.evaluators.count(), 1)


class RevokeButtonTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test()
        cls.evaluator = evaluator_at_rating(cls.test)
        cls.detail = reverse("annotations:test_detail", args=[cls.test.pk])
        cls.revoke = reverse("annotations:evaluator_revoke", args=[cls.test.pk, cls.evaluator.pk])

    def test_an_admin_revokes_a_link_from_the_test_page_and_sees_it_marked(self):
        admin = make_user("adam", ADMINS)
        self.client.force_login(admin)
        self.assertContains(self.client.get(self.detail), f'action="{self.revoke}"')
        response = self.client.post(self.revoke, {"confirm": "yes"}, follow=True)
        self.assertContains(response, "Revoked the invite link of R001.")
        self.assertContains(response, "revoked ")
        self.assertContains(response, "by adam; ratings kept")
        self.assertNotContains(response, f'action="{self.revoke}"')
        self.evaluator.refresh_from_db()
        self.assertEqual(self.evaluator.revoked_by, admin)

    def test_revoking_asks_first_and_a_post_without_the_confirmation_revokes_nothing(self):
        self.client.force_login(make_admin())
        page = self.client.get(self.detail)
        form = re.search(rf'<form method="post" action="{self.revoke}"[^>]*>', page.content.decode()).group(0)
        self.assertIn("data-confirm=", form)
        self.assertContains(page, 'class="button secondary" data-once>Revoke</button>')
        self.assertContains(page, "js/confirm.js")
        for response in (self.client.get(self.revoke), self.client.post(self.revoke)):
            self.assertContains(response, "Revoke the invite link of R001?")
            self.assertContains(response, '<input type="hidden" name="confirm" value="yes">', html=True)
        self.evaluator.refresh_from_db()
        self.assertIsNone(self.evaluator.revoked_at)
        self.assertEqual(self.client.get(session_url(self.evaluator)).status_code, 302)

    def test_the_question_for_a_link_revoked_already_says_so(self):
        self.client.force_login(make_admin())
        services.revoke_evaluator(evaluator=self.evaluator, by=None)
        response = self.client.get(self.revoke)
        self.assertContains(response, "This invite link was revoked already")
        self.assertNotContains(response, 'name="confirm"')

    def test_a_researcher_sees_no_button_and_cannot_revoke(self):
        self.client.force_login(make_user("rita", RESEARCHERS))
        self.assertNotContains(self.client.get(self.detail), f'action="{self.revoke}"')
        self.assertEqual(self.client.post(self.revoke, {"confirm": "yes"}).status_code, 403)
        self.evaluator.refresh_from_db()
        self.assertIsNone(self.evaluator.revoked_at)

    def test_an_evaluator_of_another_test_cannot_be_revoked_through_this_one(self):
        other = evaluator_at_rating(build_test("other-test", samples=make_samples(set_name="set-b")))
        self.client.force_login(make_admin())
        url = reverse("annotations:evaluator_revoke", args=[self.test.pk, other.pk])
        self.assertEqual(self.client.post(url, {"confirm": "yes"}).status_code, 404)

    def test_the_admin_action_revokes_the_selected_links(self):
        self.client.force_login(make_admin())
        response = self.client.post(
            reverse("admin:annotations_evaluator_changelist"),
            {"action": "revoke_invite_links", "index": 0, "_selected_action": [self.evaluator.pk]},
            follow=True,
        )
        self.assertContains(response, "Revoked 1 invite link.")
        self.assertEqual(self.client.get(session_url(self.evaluator)).status_code, 410)
