"""An evaluator's browser, scripted over HTTP against a real server: the pages, the audio, the answers.

It does what the page's scripts do: fetch the clip whole, wait its duration, post the answer as
JSON with the CSRF token. With `retry_for` set it retries as static/js/answer.js does: a network
error or a 502/503/504 is tried again after 0.5 s, doubling to 4 s, for up to `retry_for` seconds
(answer.js: 30 s). answer.js does this for answers; for pages the 503 page reloads itself after its
Retry-After, which the same loop stands for.
"""

import re
import time
from collections import Counter
from collections.abc import Callable

import requests

from tests.faults.seed import CLIP_S

RETRY_STATUSES = (502, 503, 504)
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 4.0
CLIP = re.compile(r'<input type="hidden" name="clip" value="([^"]+)"')
AUDIO = re.compile(r'<audio preload="auto" src="([^"]+)"')
TRIAL = re.compile(r'<input type="hidden" name="trial" value="(\d+)"')

# Where the session stands, from the database (the test reads it; a browser cannot).
SESSION_CLIPS = (
    "SELECT ts.token FROM annotations_assignment a "
    "JOIN annotations_evaluator e ON e.id = a.evaluator_id "
    "JOIN annotations_trialclip tc ON tc.trial_id = a.trial_id "
    "JOIN annotations_testsample ts ON ts.id = tc.test_sample_id "
    "WHERE e.token = {p} ORDER BY a.position"
)
RATED_CLIPS = (
    "SELECT ts.token FROM annotations_rating r "
    "JOIN annotations_evaluator e ON e.id = r.evaluator_id "
    "JOIN annotations_testsample ts ON ts.id = r.test_sample_id "
    "WHERE e.token = {p} ORDER BY r.id"
)
SCREEN_KEY = (
    "SELECT st.quiet_position FROM annotations_screentrial st "
    "JOIN annotations_evaluator e ON e.id = st.evaluator_id "
    "WHERE e.token = {p} AND st.answer IS NULL ORDER BY st.attempt, st.number"
)


class HttpEvaluator:
    def __init__(self, base_url: str, token: str, *, screen_key: Callable[[], int], retry_for: float = 0):
        self.base_url, self.token = base_url, token
        self.screen_key = screen_key
        self.retry_for = retry_for
        self.browser = requests.Session()
        self.statuses: Counter[int] = Counter()  # every status the server answered, retries included
        self.refusals_503: list[dict | str] = []

    def url(self, step: str = "") -> str:
        return f"{self.base_url}/t/i/{self.token}/{step + '/' if step else ''}"

    def send(self, method: str, url: str, **kwargs) -> requests.Response:
        """One request, retried while the server is briefly away (see the module's docstring)."""
        started, delay = time.monotonic(), FIRST_DELAY_S
        while True:
            try:
                response = self.browser.request(method, url, timeout=30, **kwargs)
                self.statuses[response.status_code] += 1
                if response.status_code not in RETRY_STATUSES:
                    return response
                self.refusals_503.append(
                    response.json() if "json" in response.headers.get("Content-Type", "") else response.text
                )
            except requests.ConnectionError:
                response = None
            if not self.retry_for or time.monotonic() - started + delay > self.retry_for:
                if response is None:
                    raise requests.ConnectionError(f"{method} {url}: no answer after retries")
                return response
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)

    def post_form(self, url: str, data: dict, **kwargs) -> requests.Response:
        data = {**data, "csrfmiddlewaretoken": self.browser.cookies.get("csrftoken", "")}
        return self.send(
            "POST", url, data=data, headers={"Referer": url, **kwargs.pop("headers", {})}, **kwargs
        )

    def open_invite(self) -> requests.Response:
        return self.send("GET", self.url())

    def consent(self) -> None:
        page = self.open_invite()
        assert page.url.endswith("/consent/"), page.url
        checked = self.post_form(page.url, {"agree": "1"})
        assert checked.url.endswith("/check/"), (checked.status_code, checked.url)

    def check(self) -> None:
        """The one-trial headphone screen, answered right (the key is read from the database)."""
        page = self.send("GET", self.url("check"))
        self.send("GET", f"{self.url('check')[:-1]}.wav?n={TRIAL.search(page.text)[1]}")
        done = self.post_form(page.url, {"answer": self.screen_key(), "trial": TRIAL.search(page.text)[1]})
        assert done.url.endswith("/rate/"), (done.status_code, done.url)

    def current_clip(self, page: requests.Response | None = None) -> str | None:
        """The clip token the rating page shows now, or None once the session has moved to its end."""
        page = page or self.send("GET", self.url("rate"))
        match = CLIP.search(page.text) if page.url.endswith("/rate/") else None
        return match[1] if match else None

    def listen(self, page: requests.Response) -> None:
        audio = self.send("GET", self.base_url + AUDIO.search(page.text)[1])
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF", audio.status_code
        time.sleep(CLIP_S)  # the browser plays the clip to its end

    def answer(self, clip: str, score: int = 4) -> requests.Response:
        data = {
            "clip": clip,
            "played_to_end": "true",
            "play_count": 1,
            "time_to_answer_ms": 900,
            "score-overall": score,
        }
        return self.post_form(self.url("rate"), data, headers={"Accept": "application/json"})

    def rate_current(self, before_answer: Callable[[], None] = lambda: None) -> str | None:
        """Listen to the clip the page shows and answer it; the clip's token, or None at the end."""
        page = self.send("GET", self.url("rate"))
        clip = self.current_clip(page)
        if clip is None:
            return None
        self.listen(page)
        before_answer()
        response = self.answer(clip)
        assert response.status_code == 200 and response.json()["ok"], (response.status_code, response.text)
        return clip
