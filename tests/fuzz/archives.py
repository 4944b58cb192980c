"""Strategies for zip archives with hostile entry names and contents, and a look at MEDIA_ROOT."""

import io
import os
import shutil
import tempfile
import warnings
import zipfile

from django.conf import settings
from django.test import override_settings
from hypothesis import strategies as st

from tests.factories import noise_wav, tone_wav

SILENT_WAV = tone_wav(amplitude=0.0)
CONTENTS = st.one_of(
    st.sampled_from([tone_wav(seconds=0.5), noise_wav(seconds=0.5), SILENT_WAV, b"", b"RIFF", b"not audio"]),
    st.binary(max_size=200),
    st.integers(min_value=0, max_value=400).map(lambda cut: tone_wav(seconds=0.5)[:cut]),
)
HOSTILE_NAMES = [
    "../x.wav",
    "\x00nameless.wav",  # zipfile cuts a name at NUL: an entry with no name
    "/abs.wav",
    "..\\win.wav",
    "C:\\drive.wav",
    "a/../../up.wav",
    "./a.wav",
]
PLAIN_NAMES = ["a.wav", "b.wav", "clips/a.wav", "clips/b.flac", "A.WAV"]
NAMES = st.one_of(st.sampled_from(PLAIN_NAMES + HOSTILE_NAMES), st.text(min_size=1, max_size=12))


# (name, bytes, is a symbolic link) per entry; names may repeat, one entry in four is a link.
ENTRIES = st.lists(st.tuples(NAMES, CONTENTS, st.sampled_from([False, False, False, True])), max_size=5)


def zip_bytes(members: list[tuple[str, bytes, bool]], *, stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    compression = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names made on purpose
        with zipfile.ZipFile(buffer, "w", compression) as archive:
            for name, data, is_link in members:
                info = zipfile.ZipInfo(name)
                info.compress_type = compression
                if is_link:
                    info.external_attr = 0o120777 << 16
                archive.writestr(info, data)
    return buffer.getvalue()


class OwnMediaRoot:
    """An empty MEDIA_ROOT for the test class, so that media_files() walks only what its tests wrote
    (the test process's own media folder holds every file the tests before it wrote)."""

    @classmethod
    def setUpClass(cls):
        folder = tempfile.mkdtemp(prefix="sarai-test-class-media-")
        cls.addClassCleanup(shutil.rmtree, folder, ignore_errors=True)
        cls.enterClassContext(override_settings(MEDIA_ROOT=folder))
        super().setUpClass()


def media_files() -> set[str]:
    root = settings.MEDIA_ROOT
    return {os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names}


def csv_line(cells: list[str]) -> str:
    return ",".join('"' + cell.replace('"', '""') + '"' for cell in cells)
