"""The media disk full or read-only while a run stores its samples: that item fails saying so, the rest go on.

Raised at the storage boundary (FileSystemStorage._save), as the OS would raise it from write():
as root a chmod does not make a folder read-only, and filling a real disk would hurt every other
process on the machine. Everything above the storage runs for real, real models included.
"""

import errno
import os
from unittest import mock

import pytest
from django.core.files.storage import FileSystemStorage
from django.test import TestCase

from synthesis import services
from synthesis.models import Sample, Status, StylePreset
from synthesis.tasks import process_item
from tests.factories import make_config, make_sentence_set
from tests.faults.processes import full_version

pytestmark = pytest.mark.models

SENTENCES = ("The cat sat on the mat.", "It is raining today.", "Please close the door.", "Good morning.")


def refusing_save(*, call: int, error: int):
    """FileSystemStorage._save that raises the OS error on its call-th call and saves otherwise."""
    original = FileSystemStorage._save
    calls = []

    def _save(storage, name, content):
        calls.append(name)
        if len(calls) == call:
            raise OSError(error, os.strerror(error), str(storage.path(name)))
        return original(storage, name, content)

    return _save


class MediaStorageFaultTests(TestCase):
    def run_with_refused_save(self, error: int):
        count = len(SENTENCES) if full_version() else 2
        sentence_set = make_sentence_set(texts=SENTENCES[:count])
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(
                name="faults",
                config=make_config(),
                sentence_sets=[sentence_set],
                styles=list(StylePreset.objects.filter(name="neutral")),
            )
        items = list(run.items.order_by("pk"))
        # The first item's audio is refused: every item after it must still be done.
        with mock.patch.object(FileSystemStorage, "_save", refusing_save(call=1, error=error)):
            for item in items:
                process_item(item.pk)
        run.refresh_from_db()
        return run, items

    def assertOnlyFirstItemFailed(self, run, items, reason: str, code: str):
        statuses = [item.status for item in run.items.order_by("pk")]
        self.assertEqual(statuses, [Status.FAILED] + [Status.DONE] * (len(items) - 1))
        error = run.items.get(pk=items[0].pk).error
        self.assertIn("media storage", error)
        self.assertIn(reason, error)
        self.assertIn(code, error)
        self.assertNotIn("Traceback", error)
        self.assertEqual((run.status, run.done_count, run.failed_count), (Status.DONE, len(items) - 1, 1))
        # The refused item left no sample row pointing at a file that is not there.
        self.assertEqual(
            sorted(Sample.objects.filter(run=run).values_list("run_item_id", flat=True)),
            [item.pk for item in items[1:]],
        )
        for sample in Sample.objects.filter(run=run):
            self.assertTrue(sample.audio.storage.exists(sample.audio.name))

    def test_a_full_media_disk_fails_the_item_naming_the_storage_and_the_run_goes_on(self):
        run, items = self.run_with_refused_save(errno.ENOSPC)
        self.assertOnlyFirstItemFailed(run, items, "No space left on device", "ENOSPC")

    def test_a_read_only_media_disk_fails_the_item_naming_the_storage_and_the_run_goes_on(self):
        run, items = self.run_with_refused_save(errno.EROFS)
        self.assertOnlyFirstItemFailed(run, items, "Read-only file system", "EROFS")

    def test_the_failed_item_is_done_once_the_storage_takes_files_again(self):
        run, items = self.run_with_refused_save(errno.ENOSPC)
        self.assertEqual(services.retry_failed(run=run), 1)
        process_item(items[0].pk)
        run.refresh_from_db()
        self.assertEqual((run.status, run.done_count, run.failed_count), (Status.DONE, len(items), 0))
        self.assertEqual(Sample.objects.filter(run=run).count(), len(items))
