"""MUSHRA (ITU-R BS.1534): a sentence in every condition on one page, hidden reference, anchor, 0-100."""

import random
from io import StringIO
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase, override_settings
from django.urls import reverse

from annotations import methods, multistimulus, services
from annotations.forms import CreateTestForm
from annotations.models import ClipFetch, ListeningTest, Rating, Scale
from synthesis.engines import audio
from synthesis.models import Sample
from tests.annotations.helpers import rate_everything, session_url, take_screen, walk_to_rating
from tests.factories import (
    build_test,
    evaluator_at_rating,
    hear_all,
    make_admin,
    mushra_samples,
    mushra_test,
    tone_wav,
)


def roles_of(trial) -> list[tuple[str, str]]:
    return [(clip.role, clip.test_sample.sample.system_label) for clip in trial.trial_clips.all()]


def spectrum(clip) -> tuple[np.ndarray, np.ndarray]:
    """Power per frequency of a clip's playback copy (Hann window), and the frequencies."""
    with clip.playback_audio.open("rb") as handle:
        data, rate = audio.read_audio(handle.read())
    power = np.abs(np.fft.rfft(data * np.hanning(data.size))) ** 2
    return power, np.fft.rfftfreq(data.size, 1 / rate)


class MushraTrialTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = mushra_test(ratings_per_sample=99)

    def test_each_sentence_is_one_page_with_its_reference_its_anchor_and_every_condition(self):
        trials = list(self.test.trials.prefetch_related("trial_clips__test_sample__sample"))
        self.assertEqual(len(trials), 3)
        for trial in trials:
            self.assertEqual(
                roles_of(trial),
                [
                    ("reference", "human"),
                    ("anchor", multistimulus.ANCHOR_SYSTEM),
                    ("condition", "sys-a"),
                    ("condition", "sys-b"),
                ],
            )
            clips = [clip.test_sample for clip in trial.trial_clips.all()]
            self.assertEqual(len({clip.sample.sentence_key for clip in clips}), 1)
            self.assertEqual([clip.role for clip in clips], ["reference", "anchor", "", ""])
            self.assertEqual([bool(clip.open_token) for clip in clips], [True, False, False, False])
        anchors = Sample.objects.filter(system_label=multistimulus.ANCHOR_SYSTEM)
        self.assertEqual(anchors.count(), 3)
        self.assertTrue(all("low-passed at 3500 Hz" in anchor.source_name for anchor in anchors))

    def test_the_test_asks_one_question_on_the_0_to_100_scale_of_its_language_with_the_five_bands(self):
        self.assertEqual((self.test.dimensions, self.test.scale.name), (["mushra"], "mushra-en"))
        scale = Scale.objects.get(name="mushra-es")
        self.assertEqual((scale.min_value, scale.max_value, len(scale.labels)), (0, 100, 101))
        self.assertEqual(
            [scale.labels[score] for score in (0, 19, 20, 40, 60, 79, 80, 100)],
            ["Malo", "Malo", "Pobre", "Regular", "Bueno", "Bueno", "Excelente", "Excelente"],
        )
        self.assertEqual(Scale.objects.get(name="mushra-en").labels[50], "Fair")

    def test_each_evaluator_hears_the_samples_of_a_page_in_an_order_of_their_own(self):
        orders = set()
        for seed in range(6):
            evaluator = evaluator_at_rating(self.test, rng=random.Random(seed))
            assignment = evaluator.assignments.get(position=0)
            built = [clip.pk for clip in assignment.trial.trial_clips.all()]
            self.assertEqual(sorted(assignment.clip_order), sorted(built))
            orders.add((assignment.trial_id, tuple(assignment.clip_order)))
        self.assertGreater(len(orders), 3)


class AnchorTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = mushra_test()
        cls.reference = cls.test.test_samples.get(role="reference", sample__sentence__position=1)
        cls.anchor = cls.test.test_samples.get(role="anchor", sample__sentence__position=1)

    def test_the_anchor_is_the_reference_low_passed_above_four_kilohertz_by_forty_decibels_or_more(self):
        reference, frequencies = spectrum(self.reference)
        anchor, _ = spectrum(self.anchor)
        high, low = frequencies > 4000, frequencies < 3000
        drop = 10 * np.log10(anchor[high].sum() / reference[high].sum())
        self.assertLess(drop, -40)
        # Below the cut-off it keeps the reference's sound, only made as loud as the other clips.
        kept = 10 * np.log10(anchor[low].sum() / reference[low].sum())
        self.assertLess(abs(kept), 6)
        self.assertGreater(np.corrcoef(anchor[low], reference[low])[0, 1], 0.99)

    def test_the_anchor_is_loudness_matched_like_every_other_clip(self):
        for clip in self.test.test_samples.all():
            with clip.playback_audio.open("rb") as handle:
                data, rate = audio.read_audio(handle.read())
            self.assertAlmostEqual(
                audio.integrated_loudness(data, rate), settings.SARAI_TARGET_LUFS, delta=0.3
            )
            self.assertAlmostEqual(clip.playback_lufs, settings.SARAI_TARGET_LUFS, delta=0.3)

    def test_the_anchor_is_never_offered_as_a_sample_to_choose_for_another_test(self):
        self.assertFalse(
            services.candidate_samples(systems=["human", multistimulus.ANCHOR_SYSTEM])
            .filter(system_label=multistimulus.ANCHOR_SYSTEM)
            .exists()
        )
        form = CreateTestForm()
        self.assertNotIn(multistimulus.ANCHOR_SYSTEM, dict(form.fields["systems"].choices))
        self.assertIn("human", dict(form.fields["systems"].choices))


@override_settings(SARAI_LISTEN_TOLERANCE_S=0.05)
class MushraAnswerTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = mushra_test(samples_per_session=1)
        cls.evaluator = evaluator_at_rating(cls.test, rng=random.Random(2))
        cls.assignment = services.current_clip(evaluator=cls.evaluator)[0]
        cls.clips = [clip.test_sample for clip in cls.assignment.presented_clips()]

    def submit(self, scores):
        return services.submit_rating(
            evaluator=self.evaluator,
            sample_token=self.clips[0].token,
            clip_tokens=[clip.token for clip in self.clips],
            scores={"mushra": scores},
            played_to_end=True,
            play_count=1,
            time_to_answer_ms=800,
        )

    def test_an_answer_is_refused_until_every_sample_was_fetched_whole(self):
        hear_all(self.evaluator, self.clips[:-1], seconds=5)
        with self.assertRaisesMessage(services.RatingRefused, "not_fetched"):
            self.submit([50, 60, 70, 80])
        self.assertFalse(Rating.objects.exists())

    def test_hearing_the_labelled_reference_is_not_hearing_the_hidden_one(self):
        hidden = next(clip for clip in self.clips if clip.role == "reference")
        others = [clip for clip in self.clips if clip != hidden]
        hear_all(self.evaluator, others, seconds=5)
        size = hidden.playback_audio.size
        services.record_fetch(
            evaluator=self.evaluator,
            test_sample=hidden,
            started_at=ClipFetch.objects.earliest("started_at").started_at,
            bytes_from=0,
            bytes_to=size - 1,
            size=size,
            labelled_reference=True,
        )
        with self.assertRaisesMessage(services.RatingRefused, "not_fetched"):
            self.submit([50, 60, 70, 80])

    def test_an_answer_is_refused_before_the_longest_sample_has_had_time_to_play(self):
        # The reference and the anchor last 1 s, the conditions 0.5 s: the page takes the longest.
        hear_all(self.evaluator, self.clips, seconds=0.8)
        with self.assertRaisesMessage(services.RatingRefused, "too_soon"):
            self.submit([50, 60, 70, 80])
        self.assertEqual(methods.get_method("mushra").listening_time([0.5, 1.0, 0.5]), 1.0)

    def test_an_answer_is_refused_unless_every_sample_has_a_score_on_the_scale(self):
        hear_all(self.evaluator, self.clips, seconds=1.2)
        with self.assertRaisesMessage(services.RatingRefused, "sample(s) 2, 4 have no score yet"):
            self.submit([50, None, 70, None])
        with self.assertRaisesMessage(services.RatingRefused, "one score per sample: 4 wanted, 3 sent"):
            self.submit([50, 60, 70])
        with self.assertRaisesMessage(services.RatingRefused, "sample 3=101 is not on the scale mushra-en"):
            self.submit([50, 60, 101, 0])
        self.assertFalse(Rating.objects.exists())

    def test_one_score_per_sample_is_stored_once_and_read_back_with_its_role_and_place(self):
        hear_all(self.evaluator, self.clips, seconds=1.2)
        ratings = self.submit([100, 20, 55, 0])
        self.assertEqual(
            [(r.test_sample, r.dimension, r.score) for r in ratings],
            [(clip, "mushra", score) for clip, score in zip(self.clips, [100, 20, 55, 0], strict=True)],
        )
        self.assertEqual(self.submit([1, 2, 3, 4]), ratings)  # a resend changes nothing
        rows = multistimulus.mushra_judgements(self.test)
        self.assertEqual(len(rows), 4)
        by_place = {row["position"]: row for row in rows}
        for place, clip in enumerate(self.clips, 1):
            row = by_place[place]
            self.assertEqual(row["sample"], clip.sample_id)
            self.assertEqual(
                row["role"], {"reference": "reference", "anchor": "anchor"}.get(clip.role, "condition")
            )
            self.assertEqual(row["condition"], (clip.sample.system_label, clip.sample.style_label))
            self.assertEqual(
                (row["rater"], row["trial"], row["stimuli"]), ("R001", self.assignment.trial_id, 4)
            )
            self.assertIsNotNone(row["received_at"])
        self.assertEqual(sorted(row["score"] for row in rows), [0, 20, 55, 100])
        summary = methods.get_method("mushra").analyse(self.test)
        # The one rater scored which sample 0 depends on the page order: read the figures before
        # BS.1534 post-screening, which may exclude them.
        self.assertEqual(
            {(row["role"], row["system"], row["n"]) for row in summary["before"]},
            {
                ("reference", "human", 1),
                ("anchor", multistimulus.ANCHOR_SYSTEM, 1),
                ("condition", "sys-a", 1),
                ("condition", "sys-b", 1),
            },
        )


class MushraPageTests(TestCase):
    def page(self, **options):
        self.test = mushra_test(samples_per_session=1, **options)
        self.evaluator = evaluator_at_rating(self.test)
        return self.client.get(session_url(self.evaluator, "rate"))

    def test_the_page_has_numbered_samples_with_unset_sliders_and_a_labelled_reference_button(self):
        page = self.page()
        html = page.content.decode()
        self.assertTemplateUsed(page, "annotations/methods/mushra.html")
        self.assertEqual(html.count("<audio"), 5)  # the reference, then four samples
        for number in range(1, 5):
            self.assertContains(page, f">Sample {number}</span>")
            self.assertIn(f'data-key="{number}"', html)
        self.assertEqual(html.count('name="score-mushra" value=""'), 4)
        self.assertEqual(html.count("data-unset"), 4)
        self.assertEqual(html.count('aria-valuetext="Not rated yet" disabled'), 4)
        self.assertContains(page, "Play the reference")
        self.assertContains(page, "R plays the reference")
        for band in ("Bad", "Poor", "Fair", "Good", "Excellent"):
            self.assertContains(page, f"<span>{band}</span>", html=True)
        self.assertContains(page, "/static/js/mushra.js")
        hidden = self.test.test_samples.get(
            role="reference", trial_clips__trial__assignments__evaluator=self.evaluator
        )
        labelled = reverse("annotations:clip_audio", args=[self.evaluator.token, hidden.open_token])
        self.assertEqual(page.context["reference_url"], labelled)
        self.assertIn(labelled, html)
        self.assertIn(reverse("annotations:clip_audio", args=[self.evaluator.token, hidden.token]), html)

    def test_the_labelled_reference_is_the_hidden_ones_audio_under_another_token(self):
        page = self.page()
        hidden = next(clip for clip in page.context["clips"] if clip["role"] == "reference")
        labelled = self.client.get(page.context["reference_url"])
        self.assertEqual(labelled.getvalue(), self.client.get(hidden["audio_url"]).getvalue())
        self.assertNotEqual(page.context["reference_url"], hidden["audio_url"])
        self.assertEqual(
            list(ClipFetch.objects.order_by("id").values_list("labelled_reference", flat=True)), [True, False]
        )

    def test_a_page_without_a_reference_has_no_reference_button(self):
        page = self.page(reference_system="")  # the human recordings are one more condition
        self.assertEqual(page.content.decode().count("<audio"), 3)
        self.assertNotContains(page, "Play the reference")
        self.assertEqual(page.context["reference_url"], "")

    def test_the_spanish_page_speaks_spanish(self):
        page = self.page(language="es")
        self.assertEqual(self.test.scale.name, "mushra-es")
        self.assertContains(page, "Página 1 de 1")
        self.assertContains(page, "Muestra 1")
        self.assertContains(page, "Escuchar la referencia")
        self.assertContains(page, "Excelente")
        self.assertContains(page, "Puntúe la calidad de cada muestra")
        self.assertNotContains(page, "Sample 1")

    @override_settings(SARAI_LISTEN_TOLERANCE_S=0.05)
    def test_a_posted_answer_without_every_score_is_refused_with_a_message(self):
        page = self.page()
        tokens = [clip["token"] for clip in page.context["clips"]]
        hear_all(self.evaluator, self.test.test_samples.filter(token__in=tokens), seconds=3)
        data = {
            "clip": tokens[0],
            "clips": tokens,
            "played_to_end": "true",
            "play_count": 1,
            "score-mushra": ["90", "", "40", "10"],
        }
        url = session_url(self.evaluator, "rate")
        refused = self.client.post(url, data, HTTP_ACCEPT="application/json")
        self.assertEqual(refused.status_code, 400)
        self.assertEqual(refused.json()["error"], "Please rate every sample: move each slider to your score.")
        data["score-mushra"] = ["90", "35", "40", "10"]
        self.assertTrue(self.client.post(url, data, HTTP_ACCEPT="application/json").json()["ok"])
        self.assertEqual(sorted(Rating.objects.values_list("score", flat=True)), [10, 35, 40, 90])


class MushraSessionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = mushra_test(samples_per_session=2, ratings_per_sample=1, allow_open_link=True)

    def test_a_whole_session_runs_from_the_open_link_through_a_practice_page_to_the_completion_code(self):
        url = reverse("annotations:open_link", args=[self.test.open_token]) + "?PROLIFIC_PID=p1"
        self.client.get(url, follow=True)
        evaluator = self.test.evaluators.get()
        self.client.post(session_url(evaluator, "consent"), {"agree": "1"})
        evaluator.refresh_from_db()
        take_screen(self.client, evaluator)
        practice = self.client.get(session_url(evaluator), follow=True)
        self.assertContains(practice, "Practice page 1 of 1")
        self.assertEqual(len(practice.context["clips"]), 4)
        walk_to_rating(self.client, evaluator, score=70)
        page = self.client.get(session_url(evaluator, "rate"))
        self.assertContains(page, "Page 1 of 2")
        rate_everything(self.client, evaluator, score=70)
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)
        self.assertEqual(Rating.objects.filter(evaluator=evaluator, dimension="mushra").count(), 8)
        finish = self.client.get(session_url(evaluator), follow=True)
        self.assertContains(finish, self.test.completion_code)
        progress = ListeningTest.objects.with_progress().get(pk=self.test.pk)
        self.assertEqual((progress.n_collected, progress.n_target), (2, 3))
        self.client.force_login(make_admin())
        detail = self.client.get(reverse("annotations:test_detail", args=[self.test.pk]))
        self.assertContains(detail, "reference <code>human</code>, with the 3.5 kHz anchor")
        self.assertContains(detail, '<td class="num">2 / 2</td>', html=True)

    @override_settings(SARAI_LISTEN_TOLERANCE_S=0.05)
    def test_a_returning_evaluator_resumes_at_the_next_page_in_the_same_order(self):
        evaluator = evaluator_at_rating(self.test)
        first = services.current_clip(evaluator=evaluator)[0]
        clips = [clip.test_sample for clip in first.presented_clips()]
        hear_all(evaluator, clips, seconds=2)
        services.submit_rating(
            evaluator=evaluator,
            sample_token=clips[0].token,
            clip_tokens=[clip.token for clip in clips],
            scores={"mushra": [80, 20, 60, 40]},
            played_to_end=True,
            play_count=1,
            time_to_answer_ms=500,
        )
        other_browser = self.client_class()
        page = other_browser.get(session_url(evaluator), follow=True)
        self.assertContains(page, "Page 2 of 2")
        second = evaluator.assignments.get(position=1)
        tokens = [clip["token"] for clip in page.context["clips"]]
        self.assertEqual(tokens, [clip.test_sample.token for clip in second.presented_clips()])


class MushraCreationTests(TestCase):
    def test_a_sentence_in_fewer_than_two_conditions_is_refused_and_named(self):
        samples = mushra_samples(systems=("sys-a",))
        with self.assertRaisesMessage(
            services.TestCreationError, "3 of 3 sentence(s) are said in one condition only, e.g. “One here.”"
        ):
            mushra_test(samples=samples)
        self.assertFalse(ListeningTest.objects.exists())
        self.assertFalse(Sample.objects.filter(system_label=multistimulus.ANCHOR_SYSTEM).exists())

    def test_a_clip_that_cannot_be_played_is_refused_and_no_anchor_is_kept(self):
        samples = mushra_samples()
        samples[0].audio.save("silent.wav", ContentFile(tone_wav(amplitude=0.0)), save=True)
        media = Path(Sample._meta.get_field("audio").storage.location)
        before = set(media.rglob("anchor-*.wav"))
        with self.assertRaisesMessage(services.TestCreationError, f"Sample {samples[0].pk}: audio is silent"):
            mushra_test(samples=samples)
        self.assertFalse(ListeningTest.objects.exists())
        self.assertFalse(Sample.objects.filter(system_label=multistimulus.ANCHOR_SYSTEM).exists())
        self.assertEqual(set(media.rglob("anchor-*.wav")), before)

    def test_a_reference_system_missing_for_a_sentence_is_refused_and_named(self):
        samples = mushra_samples()
        Sample.objects.filter(system_label="human", sentence__position=2).update(system_label="someone else")
        samples = list(
            Sample.objects.filter(pk__in=[s.pk for s in samples]).exclude(system_label="someone else")
        )
        with self.assertRaisesMessage(
            services.TestCreationError,
            "The reference system 'human' has no clip of 1 of 3 sentence(s), e.g. “Two there.”",
        ):
            mushra_test(samples=samples)
        with self.assertRaisesMessage(
            services.TestCreationError, "No chosen sample is by the reference system"
        ):
            mushra_test(samples=samples, reference_system="nobody")

    def test_an_anchor_without_a_reference_and_a_reference_for_another_method_are_refused(self):
        samples = mushra_samples(reference="")
        with self.assertRaisesMessage(
            services.TestCreationError, "name a reference system, or leave the anchor out"
        ):
            mushra_test(samples=samples, reference_system="", with_anchor=True)
        with self.assertRaisesMessage(services.TestCreationError, "take no reference system"):
            build_test("cmos-ref", samples=samples, scale=None, method="cmos", reference_system="sys-a")
        test = mushra_test(samples=samples, reference_system="")
        self.assertEqual(
            {clip.role for trial in test.trials.all() for clip in trial.trial_clips.all()}, {"condition"}
        )

    def test_a_scale_other_than_0_to_100_and_gold_clips_are_refused(self):
        samples = mushra_samples()
        with self.assertRaisesMessage(services.TestCreationError, "a MUSHRA slider runs from 0 to 100"):
            build_test("wrong", samples=samples, scale="acr-en", method="mushra")
        with self.assertRaisesMessage(services.TestCreationError, "take no gold or trapping clips"):
            mushra_test(samples=samples[:3], gold={samples[4]: 100})

    def test_create_test_makes_a_mushra_test_with_a_reference_and_an_anchor_or_without_the_anchor(self):
        mushra_samples()
        out = StringIO()
        args = ["--method", "mushra", "--system", "sys-a", "--system", "sys-b", "--system", "human"]
        call_command("create_test", "--name", "m1", *args, "--reference-system", "human", stdout=out)
        self.assertIn("with 12 clips in 3 trials", out.getvalue())
        test = ListeningTest.objects.get(name="m1")
        self.assertEqual(
            (test.method, test.scale.name, test.reference_system, test.with_anchor),
            ("mushra", "mushra-en", "human", True),
        )
        call_command(
            "create_test", "--name", "m2", *args, "--reference-system", "human", "--no-anchor", stdout=out
        )
        self.assertFalse(ListeningTest.objects.get(name="m2").test_samples.filter(role="anchor").exists())
        with self.assertRaisesMessage(CommandError, "sentence(s) are said in one condition only"):
            call_command("create_test", "--name", "m3", "--method", "mushra", "--system", "sys-a", stdout=out)

    def test_the_create_page_takes_the_reference_system_from_the_clips_listed_and_adds_anchors(self):
        self.client.force_login(make_admin())
        mushra_samples()
        data = {
            "name": "mushra-page",
            "method": "mushra",
            "systems": ["sys-a", "sys-b", "human"],
            "dimensions": "overall",
            "ratings_per_sample": 4,
            "samples_per_session": 3,
            "gold_per_session": 0,
            "traps_per_session": 0,
            "min_rater_overlap": 5,
            "language": "es",
        }
        listed = self.client.post(reverse("annotations:test_new"), {**data, "show_clips": "1"})
        self.assertContains(listed, '<option value="human">human</option>', html=True)
        self.assertContains(listed, "Each sentence is one page holding its clip in every condition")
        refused = self.client.post(reverse("annotations:test_new"), {**data, "with_anchor": "on"})
        self.assertContains(refused, "name a reference system, or leave the anchor out")
        response = self.client.post(
            reverse("annotations:test_new"), {**data, "reference_system": "human", "with_anchor": "on"}
        )
        test = ListeningTest.objects.get(name="mushra-page")
        self.assertRedirects(response, reverse("annotations:test_detail", args=[test.pk]))
        self.assertEqual(
            (test.scale.name, test.reference_system, test.with_anchor), ("mushra-es", "human", True)
        )
        self.assertEqual(test.test_samples.filter(role="anchor").count(), 3)
