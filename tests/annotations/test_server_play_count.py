"""The plays the server sent for each answer: stored beside the page's own count, and the only count the
"never replayed" screening rule reads."""

import csv
import io

from django.test import TestCase, override_settings
from django.urls import reverse

from annotations.models import Rating
from tests.annotations.helpers import answer_for, session_url
from tests.factories import VAR_DIR, build_test, evaluator_at_rating, make_researcher

# Clearly different scores per clip, so that only the replay rule has anything to say.
SCORES = [1, 3, 5, 2, 4, 3]


def rate_session(client, evaluator, *, posted_plays: int, replay_first: bool = False, probe: bool = False):
    """Answer every clip over HTTP, posting play_count=posted_plays whatever the server sent.

    replay_first fetches the first clip a second time (a replay at a new address, as the pages ask for
    it); probe makes the browser ask for the first two bytes before each whole clip, as Safari does.
    """
    url = session_url(evaluator, "rate")
    for number, score in enumerate(SCORES):
        page = client.get(url)
        audio_url = page.context["clips"][0]["audio_url"]
        if probe:
            client.get(audio_url, HTTP_RANGE="bytes=0-1")
        if replay_first and number == 0:
            client.get(f"{audio_url}?play=2")
        client.post(url, answer_for(client, evaluator, url, score=score, play_count=posted_plays))


@override_settings(VAR_DIR=VAR_DIR)
class ServerPlayCountTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(samples_per_session=6, ratings_per_sample=9)
        cls.researcher = make_researcher()

    def setUp(self):
        self.client.force_login(self.researcher)

    def dashboard(self):
        # Only the replay rule, over as few clips as one session holds.
        rules = {"min_clips_without_replay": 6, "answer_margin_s": "", "session_margin": ""}
        return self.client.get(reverse("results:test", args=[self.test.pk]), rules)

    def flags(self) -> dict[str, list[str]]:
        return {row["pseudonym"]: row["flags"] for row in self.dashboard().context["r"]["raters"]}

    def test_a_script_posting_two_plays_for_clips_it_fetched_once_is_flagged_as_never_replaying(self):
        script = evaluator_at_rating(self.test)
        rate_session(self.client_class(), script, posted_plays=2)
        self.assertEqual(self.flags()[script.pseudonym], ["never_replayed"])
        self.assertContains(self.dashboard(), "the server sent each of 6 clips once")

    def test_a_replay_the_server_sent_clears_the_flag_whatever_the_page_posts(self):
        listener = evaluator_at_rating(self.test)
        rate_session(self.client_class(), listener, posted_plays=1, replay_first=True)
        self.assertEqual(self.flags()[listener.pseudonym], [])

    def test_a_browsers_probe_of_the_first_bytes_is_not_a_replay(self):
        safari = evaluator_at_rating(self.test)
        rate_session(self.client_class(), safari, posted_plays=1, probe=True)
        self.assertEqual(self.flags()[safari.pseudonym], ["never_replayed"])

    def test_each_rating_keeps_the_servers_count_beside_the_pages_and_the_ratings_csv_has_both(self):
        listener = evaluator_at_rating(self.test)
        rate_session(self.client_class(), listener, posted_plays=2, replay_first=True)
        counts = list(
            Rating.objects.filter(evaluator=listener)
            .order_by("created_at")
            .values_list("play_count", "server_play_count")
        )
        self.assertEqual(counts, [(2, 2)] + [(2, 1)] * 5)
        response = self.client.get(reverse("results:test_ratings_csv", args=[self.test.pk]))
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        self.assertEqual(
            [(row["play_count"], row["server_play_count"]) for row in rows], [("2", "2")] + [("2", "1")] * 5
        )
