"""Audio bodies and byte ranges sent from the open file, never read whole into Python.

Django hands a FileResponse's file to the server's wsgi.file_wrapper; gunicorn then sends
Content-Length bytes from the file descriptor's current position with os.sendfile. A range is
therefore a file positioned at its first byte with the range's length as Content-Length; read()
stops at the range's end for servers without sendfile (and the test client).
"""

import re
from typing import BinaryIO

from django.http import FileResponse, HttpResponse

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def requested_bytes(request, size: int) -> tuple[int, int] | None:
    """First and last byte (inclusive) a request gets: its Range, else the whole file; None if invalid."""
    match = RANGE.match(request.headers.get("Range", "").strip())
    if not (match and (match[1] or match[2])):
        return (0, size - 1) if size else None
    if match[1]:
        start, end = int(match[1]), min(int(match[2] or size - 1), size - 1)
    else:
        start, end = max(size - int(match[2]), 0), size - 1
    return None if start >= size or start > end else (start, end)


def is_ranged(request) -> bool:
    match = RANGE.match(request.headers.get("Range", "").strip())
    return bool(match and (match[1] or match[2]))


class FileRange:
    """Bytes first..last (inclusive) of an open binary file: read() goes no further than last.

    It has no name (the response must not carry the file's) and exposes the file's descriptor,
    positioned at first, so that the server can sendfile the range.
    """

    def __init__(self, handle: BinaryIO, first: int, last: int):
        handle.seek(first)
        self.handle = handle
        self.remaining = max(last - first + 1, 0)

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.handle.read(size) if size else b""
        self.remaining -= len(data)
        return data

    def fileno(self) -> int:
        return self.handle.fileno()

    def close(self) -> None:
        self.handle.close()


def audio_response(request, handle: BinaryIO, size: int) -> HttpResponse:
    """WAV from an open file of size bytes under a neutral name, with byte ranges (Safari will not
    play audio without them). The response closes the file."""
    sent = requested_bytes(request, size)
    if is_ranged(request) and sent is None:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    first, last = sent or (0, -1)
    body = FileRange(handle, first, last)
    if is_ranged(request):
        response = FileResponse(body, status=206, content_type="audio/wav")
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    else:
        response = FileResponse(body, content_type="audio/wav")
    # The server sends exactly this many bytes from the file's position.
    response["Content-Length"] = str(last - first + 1)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = 'inline; filename="clip.wav"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
