import io

import numpy as np
import soundfile as sf
from django.core.files.base import ContentFile
from django.test import TestCase

from annotations import services
from annotations.models import ListeningTest, Scale
from annotations.models import TestSample as Clip
from synthesis.engines import audio
from synthesis.models import Sample
from tests.factories import (
    build_test,
    make_run_with_samples,
    make_sample,
    make_samples,
    riff_chunks,
    tone_wav,
)


class CreateTestTests(TestCase):
    def test_every_clip_gets_its_own_unguessable_token(self):
        test = build_test()
        tokens = list(test.test_samples.values_list("token", flat=True))
        self.assertEqual(len(tokens), 6)
        self.assertEqual(len(set(tokens)), 6)
        self.assertTrue(all(len(token) >= 22 for token in tokens))

    def test_playback_copies_all_have_the_target_loudness(self):
        quiet = make_sample(freq=300)
        quiet.audio.save("q.wav", ContentFile(tone_wav(amplitude=0.02, freq=300)), save=True)
        loud = make_sample(freq=500)
        loud.audio.save("l.wav", ContentFile(tone_wav(amplitude=0.6, freq=500)), save=True)
        test = build_test(samples=[quiet, loud])
        for clip in test.test_samples.all():
            with clip.playback_audio.open("rb") as handle:
                data, rate = audio.read_audio(handle.read())
            self.assertAlmostEqual(audio.integrated_loudness(data, rate), -23, delta=0.3)
            self.assertAlmostEqual(clip.playback_lufs, -23, delta=0.3)

    def test_playback_files_are_named_by_token_and_hold_nothing_but_the_audio(self):
        test = build_test()
        for clip in test.test_samples.all():
            self.assertEqual(clip.playback_audio.name, f"playback/{clip.token}.wav")
            with clip.playback_audio.open("rb") as handle:
                self.assertEqual(riff_chunks(handle.read()), [b"fmt ", b"data"])

    def test_playback_copies_share_one_sample_rate_so_the_header_tells_nothing(self):
        narrow = make_sample()
        wide = make_sample(freq=330)
        wide.audio.save("w.wav", ContentFile(tone_wav(sample_rate=22050, freq=330)), save=True)
        wide.sample_rate = 22050
        wide.save()
        test = build_test(samples=[narrow, wide])
        for clip in test.test_samples.all():
            with clip.playback_audio.open("rb") as handle:
                self.assertEqual(sf.info(io.BytesIO(handle.read())).samplerate, 22050)

    def test_gold_trap_and_training_clips_keep_their_scores(self):
        samples = make_samples()
        test = build_test(
            samples=samples[:4], gold={samples[4]: 5}, traps={samples[5]: 2}, training=[samples[0]]
        )
        kinds = {
            clip.sample_id: (clip.kind, clip.expected_score, clip.instructed_score)
            for clip in test.test_samples.all()
        }
        self.assertEqual(kinds[samples[0].pk], ("training", None, None))
        self.assertEqual(kinds[samples[1].pk], ("test", None, None))
        self.assertEqual(kinds[samples[4].pk], ("gold", 5, None))
        self.assertEqual(kinds[samples[5].pk], ("trap", None, 2))

    def test_a_silent_sample_is_refused_by_id_and_nothing_is_kept(self):
        good, silent = make_sample(), make_sample(freq=400)
        buffer = io.BytesIO()
        sf.write(buffer, np.zeros(8000, dtype=np.float32), 16000, format="WAV", subtype="PCM_16")
        silent.audio.save("s.wav", ContentFile(buffer.getvalue()), save=True)
        storage = Clip._meta.get_field("playback_audio").storage
        before = set(storage.listdir("playback")[1]) if storage.exists("playback") else set()
        with self.assertRaisesMessage(services.TestCreationError, f"Sample {silent.pk}"):
            build_test(samples=[good, silent])
        self.assertFalse(ListeningTest.objects.exists())
        self.assertEqual(set(storage.listdir("playback")[1]) if storage.exists("playback") else set(), before)

    def test_a_second_test_with_the_same_name_is_refused(self):
        samples = make_samples()
        build_test("same", samples=samples)
        with self.assertRaisesMessage(services.TestCreationError, "exists already"):
            build_test("same", samples=samples)

    def test_a_test_needs_at_least_one_clip_to_rate(self):
        sample = make_sample()
        with self.assertRaisesMessage(services.TestCreationError, "at least one sample"):
            services.create_test(
                name="t", samples=[], gold={sample: 5}, scale=Scale.objects.get(name="acr-en")
            )

    def test_dimensions_become_slugs_in_order_without_repeats(self):
        self.assertEqual(
            services.clean_dimensions(["Overall", " clarity", "clarity", ""]), ["overall", "clarity"]
        )
        self.assertEqual(services.clean_dimensions([]), ["overall"])


class ParticipantIdTests(TestCase):
    """Whether the open link accepts visitors without a participant id follows the completion settings
    unless the caller says."""

    def test_a_test_without_a_platform_code_or_completion_url_accepts_them(self):
        self.assertTrue(build_test("plain").allow_no_participant_id)

    def test_a_test_with_a_platform_code_or_completion_url_refuses_them(self):
        samples = make_samples(set_name="set-b")
        self.assertFalse(build_test("coded", platform_code="WALK123").allow_no_participant_id)
        url = "https://app.prolific.com/submissions/complete?cc=WALK123"
        self.assertFalse(build_test("url", samples=samples, completion_url=url).allow_no_participant_id)

    def test_the_caller_may_say_otherwise(self):
        test = build_test("coded", platform_code="WALK123", allow_no_participant_id=True)
        self.assertTrue(test.allow_no_participant_id)
        test = build_test("plain", samples=make_samples(set_name="set-b"), allow_no_participant_id=False)
        self.assertFalse(test.allow_no_participant_id)


class CandidateSamplesTests(TestCase):
    def test_candidates_are_the_runs_samples_and_the_chosen_imported_systems_only(self):
        run, in_run = make_run_with_samples()
        _, other_run = make_run_with_samples("run-b")
        vendor = make_sample(system_label="vendor", freq=500)
        reference = make_sample(system_label="human", origin=Sample.Origin.REFERENCE, freq=550)
        make_sample(system_label="unchosen", freq=600)
        chosen = services.candidate_samples(runs=[run.pk], systems=["vendor", "human"])
        self.assertEqual({s.pk for s in chosen}, {*(s.pk for s in in_run), vendor.pk, reference.pk})
        # A run's synthesised samples are never picked up by a system name.
        self.assertFalse(services.candidate_samples(systems=[other_run[0].system_label]).exists())
