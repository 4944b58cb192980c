"""Clips are sent from the open file, never read whole: what gunicorn's sendfile is handed is counted.

gunicorn sends Content-Length bytes from the file descriptor's position with os.sendfile; servers
without it (and the test client) read the body through FileRange, which stops at the range's end.
"""

import io
import os

from django.test import Client, RequestFactory, TestCase
from django.urls import resolve

from annotations.models import ClipFetch
from annotations.views.audio import FileRange
from tests.annotations.helpers import session_url
from tests.factories import build_test, evaluator_at_rating


class CountingFile(io.BytesIO):
    """A file that counts the bytes read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        data = super().read(size)
        self.bytes_read += len(data)
        return data


class FileRangeTests(TestCase):
    def test_a_range_reads_its_bytes_and_no_more(self):
        data = bytes(range(256)) * 40
        handle = CountingFile(data)
        body = FileRange(handle, 1000, 1999)
        chunks = list(iter(lambda: body.read(300), b""))
        self.assertEqual(b"".join(chunks), data[1000:2000])
        self.assertEqual(handle.bytes_read, 1000)

    def test_closing_the_range_closes_the_file(self):
        handle = io.BytesIO(b"abc")
        FileRange(handle, 0, 2).close()
        self.assertTrue(handle.closed)


class ClipServingTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test()
        cls.evaluator = evaluator_at_rating(cls.test)
        client = Client()  # the evaluator's pages keep nothing in the session: the tests' client starts anew
        cls.url = client.get(session_url(cls.evaluator, "rate")).context["audio_url"]
        cls.whole = client.get(cls.url).getvalue()

    def served(self, **headers):
        """The view's own response, as Django hands it to the server (the test client would wrap
        its body in an iterator and drop the file)."""
        match = resolve(self.url)
        return match.func(RequestFactory().get(self.url, headers=headers), *match.args, **match.kwargs)

    def position(self, response) -> int:
        """Where the file descriptor the server would sendfile from stands."""
        return os.lseek(response.file_to_stream.fileno(), 0, os.SEEK_CUR)

    def test_a_range_is_handed_over_as_the_file_at_its_first_byte_with_its_length(self):
        response = self.served(Range="bytes=100-199")
        self.assertEqual(response.status_code, 206)
        self.assertEqual(self.position(response), 100)
        self.assertEqual(response["Content-Length"], "100")
        self.assertEqual(response["Content-Range"], f"bytes 100-199/{len(self.whole)}")
        self.assertEqual(response.getvalue(), self.whole[100:200])

    def test_the_whole_clip_is_handed_over_from_its_first_byte(self):
        response = self.served()
        self.assertEqual(self.position(response), 0)
        self.assertEqual(response["Content-Length"], str(len(self.whole)))
        # The file only: HttpResponse.close() would also signal the end of a request, which closes
        # the test's database connection.
        response.file_to_stream.close()

    def test_an_open_range_runs_to_the_end_and_is_noted_as_sent(self):
        response = self.client.get(self.url, HTTP_RANGE="bytes=-10")
        self.assertEqual(response.getvalue(), self.whole[-10:])
        fetch = ClipFetch.objects.filter(evaluator=self.evaluator).latest("pk")
        self.assertEqual(
            (fetch.bytes_from, fetch.bytes_to, fetch.size),
            (len(self.whole) - 10, len(self.whole) - 1, len(self.whole)),
        )

    def test_the_response_names_no_file_but_a_neutral_one(self):
        response = self.served(Range="bytes=0-")
        self.assertEqual(response["Content-Disposition"], 'inline; filename="clip.wav"')
        self.assertFalse(hasattr(response.file_to_stream, "name"))
        response.file_to_stream.close()

    def test_a_head_request_sends_the_headers_without_a_body_or_a_fetch(self):
        fetches = ClipFetch.objects.count()
        response = self.client.head(self.url)
        self.assertEqual((response.status_code, response["Content-Length"]), (200, str(len(self.whole))))
        self.assertEqual(response.getvalue(), b"")
        self.assertEqual(ClipFetch.objects.count(), fetches)
