from datetime import timedelta

from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from annotations import services
from annotations.models import ClipFetch, Evaluator, ListeningTest, Rating
from tests.annotations.helpers import answer_for, screen_answer, session_url, take_screen, walk_to_rating
from tests.factories import build_test, evaluator_at_rating, make_samples

PROLIFIC = "https://app.prolific.com/submissions/complete?cc=WALK123"


class SessionFlowTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test()
        cls.evaluator = services.invite_evaluators(test=cls.test, count=1)[0]

    def follow(self, url, client=None):
        return (client or self.client).get(url, follow=True)

    def test_the_invite_link_leads_through_consent_check_and_practice_to_the_first_clip(self):
        self.assertContains(self.follow(session_url(self.evaluator)), "I agree to take part")
        self.client.post(session_url(self.evaluator, "consent"), {"agree": "1"})
        self.assertContains(self.follow(session_url(self.evaluator)), "Which tone was the quietest?")
        self.evaluator.refresh_from_db()
        take_screen(self.client, self.evaluator)
        self.assertContains(self.follow(session_url(self.evaluator)), "Practice clip 1 of 2")
        walk_to_rating(self.client, self.evaluator)
        self.assertContains(self.follow(session_url(self.evaluator)), "Clip 1 of 4")

    def test_consent_is_required_to_go_on(self):
        response = self.client.post(session_url(self.evaluator, "consent"), {})
        self.assertContains(response, "Please tick the box", status_code=400)
        self.assertIsNone(Evaluator.objects.get(pk=self.evaluator.pk).consented_at)

    def test_a_page_ahead_of_the_session_sends_the_evaluator_back_to_the_current_step(self):
        for step in ("check", "training", "rate", "finish"):
            with self.subTest(step=step):
                response = self.client.get(session_url(self.evaluator, step))
                self.assertRedirects(response, session_url(self.evaluator, "consent"))

    def test_a_wrong_check_answer_moves_on_to_the_next_tones_without_telling(self):
        self.client.post(session_url(self.evaluator, "consent"), {"agree": "1"})
        self.evaluator.refresh_from_db()
        wrong = screen_answer(self.evaluator, right=False)
        response = self.client.post(session_url(self.evaluator, "check"), {"answer": wrong}, follow=True)
        self.assertContains(response, "Tones 2 of 6")
        self.assertNotContains(response, "not the quietest")
        self.evaluator.refresh_from_db()
        self.assertIsNone(self.evaluator.checked_at)
        self.assertEqual(self.evaluator.screen_trials.get(number=1).answer, wrong)

    def test_the_check_audio_is_a_stereo_wav_of_three_tones(self):
        self.client.post(session_url(self.evaluator, "consent"), {"agree": "1"})
        response = self.client.get(session_url(self.evaluator, "check_audio"))
        self.assertEqual(response["Content-Type"], "audio/wav")
        self.assertEqual(response.getvalue()[22], 2)  # channel count in the fmt chunk

    def test_a_reload_and_a_new_device_show_the_same_unrated_clip(self):
        walk_to_rating(self.client, self.evaluator)
        first = self.client.get(session_url(self.evaluator, "rate")).context["clip_token"]
        self.assertEqual(self.client.get(session_url(self.evaluator, "rate")).context["clip_token"], first)
        other_device = Client()
        self.assertEqual(self.follow(session_url(self.evaluator), other_device).context["clip_token"], first)
        url = session_url(self.evaluator, "rate")
        self.client.post(url, answer_for(self.client, self.evaluator, url))
        after = self.follow(session_url(self.evaluator), other_device)
        self.assertNotEqual(after.context["clip_token"], first)
        self.assertContains(after, "Clip 2 of 4")

    def test_a_double_click_makes_one_rating_and_both_requests_succeed(self):
        walk_to_rating(self.client, self.evaluator)
        url = session_url(self.evaluator, "rate")
        data = answer_for(self.client, self.evaluator, url)
        first = self.client.post(url, data, HTTP_ACCEPT="application/json")
        second = self.client.post(url, data, HTTP_ACCEPT="application/json")
        self.assertEqual((first.status_code, second.status_code), (200, 200))
        self.assertEqual(first.json(), {"ok": True, "next": url})
        self.assertEqual(second.json(), first.json())
        self.assertEqual(Rating.objects.count(), 1)

    def test_resending_the_last_answer_after_finishing_still_succeeds(self):
        walk_to_rating(self.client, self.evaluator)
        url = session_url(self.evaluator, "rate")
        data = None
        while Evaluator.objects.get(pk=self.evaluator.pk).step == "rate":
            data = answer_for(self.client, self.evaluator, url)
            self.client.post(url, data)
        response = self.client.post(url, data, HTTP_ACCEPT="application/json")
        self.assertEqual(response.json(), {"ok": True, "next": session_url(self.evaluator, "finish")})
        self.assertEqual(Rating.objects.count(), 4)

    def test_a_plain_form_post_saves_and_moves_on(self):
        walk_to_rating(self.client, self.evaluator)
        url = session_url(self.evaluator, "rate")
        response = self.client.post(url, answer_for(self.client, self.evaluator, url, score=2))
        self.assertRedirects(response, url, fetch_redirect_response=False)
        self.assertEqual(Rating.objects.get().score, 2)

    def test_refused_answers_get_a_message_not_an_error_page(self):
        walk_to_rating(self.client, self.evaluator)
        url = session_url(self.evaluator, "rate")
        cases = {
            "score-overall": ("7", "choose one answer"),
            "played_to_end": ("false", "listen to the clip to the end"),
            "clip": ("not-a-clip-of-yours", "not part of your session"),
        }
        for field, (value, message) in cases.items():
            with self.subTest(field=field):
                data = answer_for(self.client, self.evaluator, url, **{field: value})
                response = self.client.post(url, data, HTTP_ACCEPT="application/json")
                self.assertEqual(response.status_code, 400)
                self.assertIn(message, response.json()["error"])
                plain = self.client.post(url, data, follow=True)
                self.assertContains(plain, message)
        self.assertFalse(Rating.objects.exists())

    def test_clips_are_served_in_byte_ranges_as_safari_requires(self):
        walk_to_rating(self.client, self.evaluator)
        url = self.client.get(session_url(self.evaluator, "rate")).context["audio_url"]
        whole = self.client.get(url)
        body = whole.getvalue()  # a streamed body is read once
        part = self.client.get(url, HTTP_RANGE="bytes=0-1")
        self.assertEqual((whole.status_code, whole["Accept-Ranges"]), (200, "bytes"))
        self.assertEqual((part.status_code, part.getvalue()), (206, body[:2]))
        self.assertEqual(part["Content-Range"], f"bytes 0-1/{len(body)}")
        self.assertEqual(self.client.get(url, HTTP_RANGE="bytes=0-").getvalue(), body)
        self.assertEqual(self.client.get(url, HTTP_RANGE=f"bytes={len(body)}-").status_code, 416)

    def test_pages_are_never_cached(self):
        response = self.client.get(session_url(self.evaluator, "consent"))
        self.assertIn("no-store", response["Cache-Control"])


class UnavailablePageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test()
        cls.evaluator = services.invite_evaluators(test=cls.test, count=1)[0]

    def test_an_unknown_token_gets_a_friendly_not_found_page(self):
        response = self.client.get(reverse("annotations:session", args=["no-such-token"]))
        self.assertContains(response, "This link is not valid", status_code=404)
        self.assertNotIn(b"Traceback", response.content)

    def test_an_expired_test_gets_a_friendly_gone_page(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        for step in ("session", "consent", "rate"):
            with self.subTest(step=step):
                response = self.client.get(session_url(self.evaluator, step))
                self.assertContains(response, "This listening test has closed", status_code=410)

    def test_an_expired_test_answers_a_rating_with_a_message(self):
        walk_to_rating(self.client, self.evaluator)
        url = session_url(self.evaluator, "rate")
        data = answer_for(self.client, self.evaluator, url)
        ListeningTest.objects.filter(pk=self.test.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        response = self.client.post(url, data, HTTP_ACCEPT="application/json")
        self.assertContains(response, "has closed", status_code=410)

    def test_a_draft_test_is_not_open_yet(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(state=ListeningTest.State.DRAFT)
        response = self.client.get(session_url(self.evaluator), follow=True)
        self.assertContains(response, "has not started yet", status_code=403)

    def test_the_clips_of_a_closed_expired_or_unstarted_test_get_the_pages_status_and_no_audio(self):
        evaluator = evaluator_at_rating(self.test)
        audio_url = self.client.get(session_url(evaluator, "rate")).context["audio_url"]
        self.assertEqual(self.client.get(audio_url).status_code, 200)
        fetches = ClipFetch.objects.count()
        past = timezone.now() - timedelta(minutes=1)
        for change, status, text in (
            ({"state": ListeningTest.State.CLOSED}, 410, "This listening test has closed"),
            ({"expires_at": past}, 410, "This listening test has closed"),
            ({"state": ListeningTest.State.DRAFT}, 403, "has not started yet"),
        ):
            ListeningTest.objects.filter(pk=self.test.pk).update(
                **{"state": ListeningTest.State.OPEN, "expires_at": None, **change}
            )
            for headers in ({}, {"HTTP_RANGE": "bytes=0-"}):
                with self.subTest(change=change, headers=headers):
                    response = self.client.get(audio_url, **headers)
                    self.assertContains(response, text, status_code=status)
                    self.assertNotEqual(response["Content-Type"], "audio/wav")
                    self.assertIn("no-store", response["Cache-Control"])
        self.assertEqual(ClipFetch.objects.count(), fetches)

    def test_a_full_test_says_so_at_consent(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(ratings_per_sample=1, samples_per_session=6)
        first, second = services.invite_evaluators(test=self.test, count=2)
        walk_to_rating(self.client, first)
        response = Client().post(session_url(second, "consent"), {"agree": "1"})
        self.assertContains(response, "This listening test is full", status_code=410)

    def test_the_pages_speak_the_language_of_the_test(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(language="es")
        response = self.client.get(session_url(self.evaluator, "consent"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(response, "Acepto participar")
        self.assertContains(response, '<html lang="es">')
        self.assertEqual(response["Content-Language"], "es")


class OpenLinkTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(allow_open_link=True)
        cls.url = reverse("annotations:open_link", args=[cls.test.open_token])

    def test_a_crowd_participant_gets_one_evaluator_however_often_they_arrive(self):
        query = "?PROLIFIC_PID=5f1a2b&STUDY_ID=st-1&SESSION_ID=se-1"
        first = self.client.get(self.url + query)
        second = Client().get(self.url + query)
        evaluator = Evaluator.objects.get()
        self.assertEqual(
            (evaluator.external_id, evaluator.study_id, evaluator.session_id), ("5f1a2b", "st-1", "se-1")
        )
        self.assertRedirects(first, session_url(evaluator), fetch_redirect_response=False)
        self.assertEqual(second["Location"], first["Location"])

    def test_without_a_participant_id_the_same_browser_resumes(self):
        first = self.client.get(self.url)
        self.assertEqual(self.client.get(self.url)["Location"], first["Location"])
        self.assertNotEqual(Client().get(self.url)["Location"], first["Location"])
        self.assertEqual(Evaluator.objects.count(), 2)

    def test_a_test_set_up_for_a_crowd_platform_refuses_a_visit_without_a_participant_id(self):
        crowd = build_test(
            "crowd", allow_open_link=True, completion_url=PROLIFIC, samples=make_samples(set_name="set-c")
        )
        url = reverse("annotations:open_link", args=[crowd.open_token])
        for query in ("", "?STUDY_ID=st-1&SESSION_ID=se-1", "?PROLIFIC_PID="):
            response = self.client.get(url + query)
            self.assertContains(response, "This link is incomplete", status_code=400)
        self.assertFalse(crowd.evaluators.exists())
        self.assertEqual(self.client.get(url + "?PROLIFIC_PID=5f1a2b").status_code, 302)

    def test_a_browser_that_started_without_an_id_is_refused_once_the_test_no_longer_accepts_that(self):
        self.client.get(self.url)
        ListeningTest.objects.filter(pk=self.test.pk).update(allow_no_participant_id=False)
        self.assertContains(self.client.get(self.url), "This link is incomplete", status_code=400)
        self.assertEqual(Evaluator.objects.count(), 1)

    def test_a_crowd_test_may_accept_visitors_without_a_participant_id(self):
        crowd = build_test(
            "crowd",
            allow_open_link=True,
            platform_code="WALK123",
            allow_no_participant_id=True,
            samples=make_samples(set_name="set-c"),
        )
        response = self.client.get(reverse("annotations:open_link", args=[crowd.open_token]))
        self.assertRedirects(response, session_url(crowd.evaluators.get()), fetch_redirect_response=False)

    def test_a_test_without_the_open_link_does_not_accept_it(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(allow_open_link=False)
        self.assertContains(self.client.get(self.url + "?PROLIFIC_PID=x"), "not valid", status_code=404)
        self.assertFalse(Evaluator.objects.exists())

    def test_a_malformed_participant_id_gets_a_friendly_page(self):
        response = self.client.get(self.url + "?PROLIFIC_PID=%3Cscript%3E")
        self.assertContains(response, "This link is incomplete", status_code=400)
        self.assertFalse(Evaluator.objects.exists())
