"""Where a request's time goes: each request sampled by pyinstrument, its time split by layer.

Switched on by SARAI_PROFILE_DIR (`bench_evaluators --profile` sets it for the server it starts;
the settings then put this middleware first). Each request runs under pyinstrument's sampling
profiler; its samples are split into layers by the innermost frame that names one (LAYERS), and
one JSON line per request goes to DIR/<pid>.jsonl: the URL's name and method, the wall time and the
seconds in each layer. `manage.py request_profile DIR` adds them up per kind of request.

A profiled server is slower (pyinstrument's samples cost time): the shares say where the time goes,
not how fast the server is.
"""

import json
import os
import time
from pathlib import Path

# (layer, substrings of a frame's file path), innermost match wins: a query run from a view counts
# as the database's time, the view's own Python as the project's.
LAYERS = (
    ("database", ("/django/db/backends/", "/sqlite3/", "/psycopg/", "/psycopg2/")),
    ("ORM: building queries and rows", ("/django/db/models/", "/django/db/transaction.py")),
    ("templates", ("/django/template/", "/django/templatetags/", "/templates/")),
    ("audio files", ("/django/core/files/", "/soundfile.py")),
    ("Django: middleware, URLs, forms, sessions", ("/django/", "/whitenoise/")),
    ("project code", ("/annotations/", "/synthesis/", "/sarai_eval/")),
)
OTHER = "other (standard library, logging, JSON)"
INTERVAL_S = 0.0002


def layer_of(file_path: str, inherited: str) -> str:
    for name, markers in LAYERS:
        if any(marker in file_path for marker in markers):
            return name
    return inherited


def layer_seconds(frame, inherited: str = OTHER, totals: dict | None = None) -> dict[str, float]:
    """Seconds per layer in a pyinstrument frame tree: each frame's own time goes to the layer of the
    innermost frame on its stack that names one."""
    totals = {} if totals is None else totals
    if frame is None:
        return totals
    layer = layer_of(frame.file_path or "", inherited)
    own = frame.time - sum(child.time for child in frame.children)
    totals[layer] = totals.get(layer, 0.0) + max(own, 0.0)
    for child in frame.children:
        layer_seconds(child, layer, totals)
    return totals


def request_profile_middleware(get_response):
    from pyinstrument import Profiler

    folder = Path(os.environ["SARAI_PROFILE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)

    def middleware(request):
        profiler = Profiler(interval=INTERVAL_S, async_mode="disabled")
        started = time.perf_counter()
        profiler.start()
        try:
            response = get_response(request)
        finally:
            profiler.stop()
        wall = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        line = {
            "kind": f"{request.method} {match.view_name if match else 'unresolved'}",
            "wall_s": wall,
            "layers": layer_seconds(profiler.last_session.root_frame()),
        }
        with open(folder / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
        return response

    return middleware


def summary(folder: Path) -> dict[str, dict]:
    """Per kind of request: count, mean wall ms and the share of each layer in the sampled time."""
    kinds: dict[str, dict] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = json.loads(raw)
            entry = kinds.setdefault(line["kind"], {"count": 0, "wall_s": 0.0, "layers": {}})
            entry["count"] += 1
            entry["wall_s"] += line["wall_s"]
            for layer, seconds in line["layers"].items():
                entry["layers"][layer] = entry["layers"].get(layer, 0.0) + seconds
    return kinds
