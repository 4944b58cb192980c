"""Media on an S3-compatible bucket: every path that writes, reads or deletes audio uses the storage API.

The bucket is a real HTTP endpoint (moto's server in a thread), so requests go through boto3 and
django-storages exactly as they would to AWS, MinIO or Ceph. MEDIA_ROOT points at an empty folder
that must stay empty: a local write would mean one web or worker machine holds a file the others
cannot see.
"""

import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from unittest import mock

import boto3
import numpy as np
import pytest
from django.conf import settings
from django.test import SimpleTestCase, TestCase, override_settings
from moto.server import ThreadedMotoServer

from annotations import importing, services
from annotations.models import TestSample as Clip
from synthesis import datasets, modes
from synthesis import services as synthesis_services
from synthesis.engines import pipeline
from synthesis.models import RunItem, Sample, Status, StylePreset
from synthesis.tasks import process_item
from tests.annotations.helpers import session_url, walk_to_rating
from tests.factories import build_test, make_config, make_sentence_set, ports, tone_wav
from tests.factories.ports import worker_ports

BUCKET = "sarai-media"
PREFIX = "eval-media"
PORTS = worker_ports(18300, 18400)
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "media-test-key",
    "AWS_SECRET_ACCESS_KEY": "media-test-secret-never-logged",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    return ports.free_port(PORTS)


def zip_of(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tone_item(item, *, on_stage) -> pipeline.ItemResult:
    """A toy run mode's item: a tone instead of speech, so no model is loaded."""
    on_stage("tts")
    rate = 16000
    tone = 0.2 * np.sin(2 * np.pi * 330 * np.arange(rate // 2) / rate)
    return pipeline.ItemResult(
        audio=tone.astype(np.float32),
        sample_rate=rate,
        text=item.sentence.text,
        measurements={"duration_s": 0.5, "total_ms": 3.0},
    )


class MediaOnS3Tests(TestCase):
    @classmethod
    def setUpClass(cls):
        # The endpoint logs every request at INFO; a test run only needs its failures.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        cls.enterClassContext(mock.patch.dict(os.environ, CREDENTIALS))
        port = free_port()
        cls.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        cls.server.start()
        cls.addClassCleanup(cls.server.stop)
        endpoint = f"http://127.0.0.1:{port}"
        cls.s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        cls.s3.create_bucket(Bucket=BUCKET)
        cls.media_root = Path(tempfile.mkdtemp(prefix="sarai-s3-media-root-"))
        cls.addClassCleanup(shutil.rmtree, cls.media_root, True)
        storages = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": BUCKET,
                    "endpoint_url": endpoint,
                    "region_name": "us-east-1",
                    "location": PREFIX,
                    "default_acl": None,
                    "querystring_auth": False,
                    "file_overwrite": False,
                },
            },
        }
        cls.enterClassContext(override_settings(STORAGES=storages, MEDIA_ROOT=str(cls.media_root)))
        super().setUpClass()

    def setUp(self):
        for key in self.keys():
            self.s3.delete_object(Bucket=BUCKET, Key=key)

    def tearDown(self):
        self.assertEqual(list(self.media_root.rglob("*")), [], "a file was written under MEDIA_ROOT")

    def keys(self, folder: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/{folder}")
        return sorted(entry["Key"] for page in pages for entry in page.get("Contents", []))

    def stored(self, name: str) -> bytes:
        return self.s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{name}")["Body"].read()

    def test_a_synthesised_sample_is_stored_in_the_bucket_and_a_rerun_replaces_its_file(self):
        mode = modes.register(
            modes.RunMode(key="tone", label="Tone", run=tone_item, loads=(), records=("total_ms",))
        )
        self.addCleanup(modes.RUN_MODES.pop, mode.key, None)
        with self.captureOnCommitCallbacks(execute=False):
            run = synthesis_services.start_run(
                name="to the bucket",
                mode="tone",
                config=make_config(),
                sentence_sets=[make_sentence_set(texts=("Hello there.",))],
                styles=list(StylePreset.objects.filter(name="neutral")),
            )
        item = run.items.get()
        process_item(item.pk)
        sample = Sample.objects.get(run=run)
        self.assertEqual(self.keys("samples/"), [f"{PREFIX}/{sample.audio.name}"])
        first = self.stored(sample.audio.name)
        self.assertEqual(first[:4], b"RIFF")
        self.assertEqual(self.client.get(f"/media-not-served/{sample.audio.name}").status_code, 404)

        RunItem.objects.filter(pk=item.pk).update(status=Status.QUEUED)
        process_item(item.pk)
        sample.refresh_from_db()
        # One object: the old file was deleted before the new one was written, not left behind.
        self.assertEqual(self.keys("samples/"), [f"{PREFIX}/{sample.audio.name}"])
        self.assertEqual(self.stored(sample.audio.name), first)

    def test_a_new_listening_test_writes_its_playback_copies_to_the_bucket(self):
        test = build_test()
        clips = list(test.test_samples.all())
        self.assertEqual(
            self.keys("playback/"), sorted(f"{PREFIX}/{clip.playback_audio.name}" for clip in clips)
        )
        bucket = self.keys()
        self.assertTrue(all(f"{PREFIX}/{clip.sample.audio.name}" in bucket for clip in clips))
        for clip in clips:
            self.assertEqual(clip.playback_audio.name, f"playback/{clip.token}.wav")

    def test_an_evaluator_hears_the_bucket_s_bytes_through_the_app_with_byte_ranges(self):
        test = build_test()
        evaluator = services.invite_evaluators(test=test, count=1)[0]
        walk_to_rating(self.client, evaluator)
        page = self.client.get(session_url(evaluator, "rate"))
        url = page.context["audio_url"]
        clip = Clip.objects.get(token=page.context["clip_token"])
        in_bucket = self.stored(clip.playback_audio.name)
        self.assertNotIn(BUCKET, page.content.decode())
        whole = self.client.get(url)
        self.assertEqual((whole.status_code, whole.getvalue()), (200, in_bucket))
        self.assertIn("no-store", whole["Cache-Control"])
        part = self.client.get(url, HTTP_RANGE="bytes=100-199")
        self.assertEqual((part.status_code, part.getvalue()), (206, in_bucket[100:200]))
        self.assertEqual(part["Content-Range"], f"bytes 100-199/{len(in_bucket)}")

    def test_a_failed_test_creation_removes_the_playback_copies_it_had_written(self):
        samples = build_test("good").test_samples.values_list("sample", flat=True)
        before = self.keys("playback/")
        broken = Sample.objects.get(pk=max(samples))
        self.s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{broken.audio.name}", Body=b"not audio at all")
        with self.assertRaises(services.TestCreationError):
            build_test("second", samples=list(Sample.objects.filter(pk__in=samples).order_by("pk")))
        self.assertEqual(self.keys("playback/"), before)

    def test_an_imported_sample_archive_is_stored_in_the_bucket(self):
        archive = zip_of(
            {
                "manifest.csv": "file,system,text\na.wav,human,First.\nb.wav,human,Second.\n",
                "a.wav": tone_wav(freq=220.0),
                "b.wav": tone_wav(freq=330.0),
            }
        )
        samples = importing.import_samples(source=archive)
        self.assertEqual(self.keys("samples/"), sorted(f"{PREFIX}/{s.audio.name}" for s in samples))
        with samples[0].audio.open("rb") as handle:
            self.assertEqual(handle.read()[:4], b"RIFF")

    def test_an_imported_speech_dataset_is_stored_in_the_bucket_and_read_back_for_stt(self):
        archive = zip_of(
            {
                "manifest.csv": "file,transcript,language\none.wav,One.,en\ntwo.wav,Two.,en\n",
                "one.wav": tone_wav(freq=220.0, sample_rate=8000),
                "two.wav": tone_wav(freq=440.0),
            }
        )
        dataset = datasets.import_dataset(name="spoken", archive=archive)
        utterances = list(dataset.utterances.all())
        self.assertEqual(self.keys("datasets/"), sorted(f"{PREFIX}/{u.audio.name}" for u in utterances))
        self.assertEqual(len(utterances[0].audio_16k()), 8000)  # 0.5 s at 8 kHz, resampled to 16 kHz


@pytest.mark.processes
class MediaStorageSettingsTests(SimpleTestCase):
    def settings_in_child(self, **env) -> subprocess.CompletedProcess:
        """Import the settings in a fresh interpreter with env, printing every setting's value."""
        clean = {
            k: v for k, v in os.environ.items() if not k.startswith(("SARAI_S3_", "SARAI_MEDIA_STORAGE"))
        }
        var = tempfile.mkdtemp(prefix="sarai-settings-var-")
        self.addCleanup(shutil.rmtree, var, True)
        script = "import sarai_eval.settings as s; print([getattr(s, n) for n in dir(s) if n.isupper()])"
        return subprocess.run(
            [sys.executable, "-c", script],
            env={**clean, "SARAI_VAR_DIR": var, "DJANGO_SETTINGS_MODULE": "sarai_eval.settings", **env},
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_s3_media_without_a_bucket_stops_the_settings_with_a_message(self):
        result = self.settings_in_child(SARAI_MEDIA_STORAGE="s3")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("SARAI_MEDIA_STORAGE=s3 needs SARAI_S3_BUCKET", result.stderr)

    def test_an_unknown_media_storage_is_refused(self):
        result = self.settings_in_child(SARAI_MEDIA_STORAGE="ftp")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("SARAI_MEDIA_STORAGE='ftp' is not filesystem or s3", result.stderr)

    def test_s3_settings_name_the_bucket_but_never_hold_the_credentials(self):
        result = self.settings_in_child(
            SARAI_MEDIA_STORAGE="s3", SARAI_S3_BUCKET="eval-audio", SARAI_S3_PREFIX="/lab/", **CREDENTIALS
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("'bucket_name': 'eval-audio'", result.stdout)
        self.assertIn("'location': 'lab'", result.stdout)
        self.assertIn("'querystring_auth': False", result.stdout)
        self.assertNotIn(CREDENTIALS["AWS_SECRET_ACCESS_KEY"], result.stdout)
        self.assertNotIn(CREDENTIALS["AWS_ACCESS_KEY_ID"], result.stdout)
