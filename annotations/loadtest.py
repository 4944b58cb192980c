"""Simulated evaluators for `manage.py bench_evaluators`: plain asyncio and httpx, no Django.

Each evaluator is a browser: it takes the open link with its own PROLIFIC_PID, follows every
redirect, reads each page, fetches each clip whole (as an <audio> element does, with a byte range
from 0), posts the page's form with its CSRF token and the cookies the server set. Evaluators share
loopback source addresses four at a time, so per-address rate limits see what four people behind
one router would send. The command prepares the test before and counts the stored ratings after.
"""

import asyncio
import io
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import httpx
import numpy as np
import soundfile

MODES = ("people", "stress")
# Per-address limits allow at least four evaluators answering as fast as the listening rule allows.
EVALUATORS_PER_ADDRESS = 4
# Stress mode answers this long after the clip's length has passed since it arrived whole.
STRESS_MARGIN_S = 0.01
# People answer a short, varying while after the clip ends (times --pause).
PEOPLE_PAUSE_S = (0.5, 2.0)
# A refused answer is listened to again and resent, as the page does, at most this often.
MAX_ATTEMPTS = 3
# Pages a session may take before the evaluator is counted as stuck (a redirect loop, a bug).
MAX_STEPS = 200
# Below gunicorn's keepalive (5 s): the client drops an idle connection before the server does, so a
# request never races the server closing it.
KEEPALIVE_EXPIRY_S = 4.0
REQUEST_TIMEOUT_S = 60.0
PROGRESS_EVERY_S = 10.0
STEPS = {"consent", "check", "training", "rate", "finish", "screened-out"}
PAGE_KINDS = {"consent": "consent page", "check": "check page", "training": "practice page", "rate": "page"}
POST_KINDS = {"consent": "consent submit", "check": "check answer", "training": "practice answer"}
POST_KINDS["rate"] = "answer submit"


@dataclass(frozen=True)
class Plan:
    """What the simulated evaluators do; refusal_codes maps the server's refusal messages to codes."""

    base_url: str
    open_path: str
    evaluators: int
    mode: str = "people"
    pause: float = 1.0
    ramp_s: float = 0.0
    seed: int = 0
    # Byte-range requests from a random position after each clip arrived whole, as a listener
    # seeking in it sends them; each is checked against the whole clip.
    seeks: int = 0
    refusal_codes: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """Everything the clients saw: timings in ms per request kind, errors, refusals, OK'd answers."""

    timings: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)  # request kind -> failed requests
    statuses: Counter = field(default_factory=Counter)  # HTTP status or exception name -> count
    refusals: Counter = field(default_factory=Counter)  # refusal code -> count
    answered: list[tuple[str, str]] = field(default_factory=list)  # (evaluator token, clip token)
    finished: int = 0
    stopped: int = 0  # sessions that ended without reaching the finish page
    messages: list[str] = field(default_factory=list)  # the first few failures, for the report
    # Requests sent again after the server closed an idle kept-alive connection as they went out.
    resent: Counter = field(default_factory=Counter)
    wall_s: float = 0.0
    timed_out: bool = False
    # How late the client's own event loop woke for a LAG_TICK_S sleep, in ms: a busy client adds
    # that much to every time it reports, whatever the server did.
    loop_lag: list[float] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.timings.values())

    def note(self, message: str) -> None:
        if len(self.messages) < 10:
            self.messages.append(message)


class EvaluatorStopped(Exception):
    """The session cannot go on (an HTTP error, an unexpected page); the reason is already counted."""


@dataclass
class Page:
    url: str
    status: int
    text: str
    form: dict[str, str] = field(default_factory=dict)
    choices: dict[str, list[str]] = field(default_factory=dict)
    audio: list[str] = field(default_factory=list)
    action: str = ""


class _PageParser(HTMLParser):
    """The post form's inputs (hidden values and radio choices) and the page's <audio> sources."""

    def __init__(self):
        super().__init__()
        self.form: dict[str, str] = {}
        self.choices: dict[str, list[str]] = {}
        self.audio: list[str] = []
        self.action = ""
        self.in_form = False

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and attributes.get("method", "").lower() == "post":
            self.in_form, self.action = True, attributes.get("action", "")
        elif tag == "audio" and attributes.get("src"):
            self.audio.append(attributes["src"])
        elif tag == "input" and self.in_form and attributes.get("name"):
            kind, name = attributes.get("type", "text").lower(), attributes["name"]
            if kind == "radio":
                self.choices.setdefault(name, []).append(attributes.get("value", ""))
            elif kind == "checkbox":
                self.form[name] = attributes.get("value") or "on"
            else:
                self.form[name] = attributes.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False


def parse_page(url: str, status: int, text: str) -> Page:
    parser = _PageParser()
    parser.feed(text)
    return Page(url, status, text, parser.form, parser.choices, parser.audio, parser.action)


def source_address(index: int) -> str:
    """The loopback address evaluator index sends from: four evaluators per address, from 127.0.1.1."""
    slot = index // EVALUATORS_PER_ADDRESS
    return f"127.0.{1 + slot // 250}.{1 + slot % 250}"


def step_of(url: str) -> str:
    """The session step a URL shows: consent, check, training, rate, finish, screened-out or ""."""
    parts = [part for part in urlsplit(url).path.split("/") if part]
    return parts[3] if len(parts) >= 4 and parts[:2] == ["t", "i"] and parts[3] in STEPS else ""


def request_kind(method: str, url: str) -> str:
    """The row of the report a request belongs to."""
    path = urlsplit(url).path
    if path.startswith("/t/o/"):
        return "open link"
    if path.endswith("/check.wav"):
        return "check audio"
    if path.endswith(".wav"):
        return "audio"
    if not path.startswith("/t/i/"):
        return "other"
    step = step_of(url)
    if method == "POST":
        return POST_KINDS.get(step, "other submit")
    if step in PAGE_KINDS:
        return PAGE_KINDS[step]
    return f"{step} page" if step else "session link"


def wav_seconds(data: bytes) -> float:
    return soundfile.info(io.BytesIO(data)).duration


def quietest_tone(data: bytes) -> int:
    """The answer to a headphone-screen trial, as a listener on headphones hears it: 1, 2 or 3.

    The WAV holds three tones in equal thirds (a gap, a tone, a gap ...); one is 6 dB quieter on both
    ears. The antiphase tone is as loud on each ear, so the left channel alone tells the quiet one.
    """
    samples, _ = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    thirds = np.array_split(samples[:, 0], 3)
    return int(np.argmin([float(np.sqrt(np.mean(part**2))) for part in thirds])) + 1


class Browser:
    """One evaluator's client: cookies, manual redirects (each hop timed on its own) and the counts."""

    def __init__(self, client: httpx.AsyncClient, outcome: Outcome):
        self.client = client
        self.outcome = outcome
        self.token = ""

    async def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        kind = request_kind(method, url)
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kwargs)
        except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
            # The server closed a kept-alive connection just as the request went out on it and sent
            # nothing back. Browsers send such a request again on a new connection, once; so does
            # this client, and counts it (a repeated answer is the same answer to the server).
            self.outcome.resent[kind] += 1
            try:
                response = await self.client.request(method, url, **kwargs)
            except httpx.HTTPError as again:
                self._failed(kind, type(again).__name__, f"{method} {url}: {exc!r}, then {again!r}")
        except httpx.HTTPError as exc:
            self._failed(kind, type(exc).__name__, f"{method} {url}: {exc!r}")
        self.outcome.timings.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        return response

    def _failed(self, kind: str, status: str, message: str):
        self.outcome.errors[kind] += 1
        self.outcome.statuses[status] += 1
        self.outcome.note(message)
        raise EvaluatorStopped(message)

    async def visit(self, method: str, url: str, **kwargs) -> Page:
        """A request and every redirect after it, as a browser follows them; an error stops the session."""
        response = await self.request(method, url, **kwargs)
        for _ in range(10):
            if not response.is_redirect:
                break
            url = str(response.url.join(response.headers["location"]))
            response = await self.request("GET", url)
        if response.status_code >= 400 or response.is_redirect:
            kind = request_kind(response.request.method, str(response.url))
            self.outcome.errors[kind] += 1
            self.outcome.statuses[str(response.status_code)] += 1
            self.outcome.note(f"{response.request.method} {response.url}: {response.status_code}")
            raise EvaluatorStopped(f"{response.status_code} at {response.url}")
        parts = urlsplit(str(response.url)).path.split("/")
        if len(parts) > 3 and parts[1:3] == ["t", "i"]:
            self.token = parts[3]
        return parse_page(str(response.url), response.status_code, response.text)

    async def fetch_audio(self, url: str) -> bytes:
        """The whole file, as <audio preload> asks for it (Range: bytes=0-)."""
        response = await self.request("GET", url, headers={"Range": "bytes=0-"})
        if response.status_code not in (200, 206):
            kind = request_kind("GET", url)
            self._failed(kind, str(response.status_code), f"GET {url}: {response.status_code}")
        return response.content

    async def seek(self, url: str, whole: bytes, first: int) -> None:
        """The clip from byte first on (Range: bytes=first-), as a browser asks after a seek."""
        response = await self.request("GET", url, headers={"Range": f"bytes={first}-"})
        if response.status_code != 206 or response.content != whole[first:]:
            kind = request_kind("GET", url)
            status = str(response.status_code) if response.status_code != 206 else "wrong bytes"
            self._failed(kind, status, f"GET {url} from byte {first}: {status}")


async def run(plan: Plan, *, time_limit: float, on_progress=None) -> Outcome:
    """Run every simulated evaluator; stop them all once time_limit seconds have passed."""
    outcome = Outcome()
    started = time.perf_counter()
    tasks = [asyncio.create_task(_evaluator(plan, index, outcome)) for index in range(plan.evaluators)]
    reporter = asyncio.create_task(_report(outcome, plan, started, on_progress)) if on_progress else None
    lag = asyncio.create_task(_watch_loop_lag(outcome))
    done, pending = await asyncio.wait(tasks, timeout=time_limit)
    lag.cancel()
    for task in pending:
        task.cancel()
    if pending:
        outcome.timed_out = True
        outcome.stopped += len(pending)
        outcome.note(f"--time-limit of {time_limit:.0f} s reached: {len(pending)} sessions stopped")
        await asyncio.wait(pending)
    if reporter:
        reporter.cancel()
    outcome.wall_s = time.perf_counter() - started
    return outcome


LAG_TICK_S = 0.01


async def _watch_loop_lag(outcome: Outcome) -> None:
    while True:
        asked = time.perf_counter()
        await asyncio.sleep(LAG_TICK_S)
        outcome.loop_lag.append(max(time.perf_counter() - asked - LAG_TICK_S, 0.0) * 1000)


async def _report(outcome: Outcome, plan: Plan, started: float, on_progress) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        on_progress(
            f"{time.perf_counter() - started:5.0f} s: {outcome.finished}/{plan.evaluators} finished, "
            f"{len(outcome.answered)} ratings, {outcome.requests} requests, "
            f"{sum(outcome.errors.values())} errors"
        )


async def _evaluator(plan: Plan, index: int, outcome: Outcome) -> None:
    rng = random.Random(plan.seed * 1_000_003 + index)
    transport = httpx.AsyncHTTPTransport(
        local_address=source_address(index),
        limits=httpx.Limits(max_connections=2, keepalive_expiry=KEEPALIVE_EXPIRY_S),
    )
    async with httpx.AsyncClient(
        base_url=plan.base_url, transport=transport, timeout=REQUEST_TIMEOUT_S
    ) as client:
        browser = Browser(client, outcome)
        if plan.ramp_s:
            await asyncio.sleep(rng.uniform(0, plan.ramp_s))
        query = urlencode(
            {"PROLIFIC_PID": f"bench{index:05d}", "STUDY_ID": "bench", "SESSION_ID": f"s{index}"}
        )
        try:
            await _session(plan, browser, rng, f"{plan.base_url}{plan.open_path}?{query}")
        except EvaluatorStopped:
            outcome.stopped += 1


async def _session(plan: Plan, browser: Browser, rng: random.Random, open_url: str) -> None:
    page = await browser.visit("GET", open_url)
    for _ in range(MAX_STEPS):
        step = step_of(page.url)
        if step == "finish":
            browser.outcome.finished += 1
            return
        if step == "consent":
            await _pause(plan, rng)
            page = await browser.visit("POST", page.url, data={**page.form, "agree": "1"})
        elif step == "check":
            page = await _answer_check(plan, browser, rng, page)
        elif step in ("training", "rate"):
            page = await _answer_clip(plan, browser, rng, page)
        else:
            browser.outcome.errors["unexpected page"] += 1
            browser.outcome.statuses[f"ended at {step or 'another page'}"] += 1
            browser.outcome.note(f"session of {browser.token} ended at {page.url}")
            raise EvaluatorStopped(page.url)
    browser.outcome.note(f"session of {browser.token} took more than {MAX_STEPS} pages")
    raise EvaluatorStopped("too many pages")


async def _pause(plan: Plan, rng: random.Random) -> None:
    if plan.mode == "people":
        await asyncio.sleep(rng.uniform(*PEOPLE_PAUSE_S) * plan.pause)


async def _answer_check(plan: Plan, browser: Browser, rng: random.Random, page: Page) -> Page:
    data = await browser.fetch_audio(page.audio[0])
    if plan.mode == "people":
        await asyncio.sleep(wav_seconds(data))
        await _pause(plan, rng)
    return await browser.visit("POST", page.url, data={**page.form, "answer": str(quietest_tone(data))})


async def _listen(plan: Plan, browser: Browser, page: Page, rng: random.Random) -> float:
    """Fetch each clip whole (and seek in it) and hear it to the end; returns when the last one ended
    (perf_counter)."""
    for url in page.audio:
        data = await browser.fetch_audio(url)
        for _ in range(plan.seeks):
            await browser.seek(url, data, rng.randrange(len(data)))
        await asyncio.sleep(wav_seconds(data) + (STRESS_MARGIN_S if plan.mode == "stress" else 0.0))
    return time.perf_counter()


async def _answer_clip(plan: Plan, browser: Browser, rng: random.Random, page: Page) -> Page:
    """Listen, answer with the page's form, and on a refusal listen again and resend (as the page does)."""
    answer = {name: rng.choice(values) for name, values in page.choices.items()}
    post_url = str(httpx.URL(page.url).join(page.action or page.url))
    kind = request_kind("POST", post_url)
    for _ in range(MAX_ATTEMPTS):
        ended = await _listen(plan, browser, page, rng)
        await _pause(plan, rng)
        data = {
            **page.form,
            **answer,
            "played_to_end": "true",
            "play_count": "1",
            "time_to_answer_ms": str(round((time.perf_counter() - ended) * 1000)),
        }
        response = await browser.request("POST", post_url, data=data, headers={"Accept": "application/json"})
        body = _json(response)
        if response.status_code == 200 and body.get("ok"):
            if step_of(page.url) == "rate":
                browser.outcome.answered.append((browser.token, page.form.get("clip", "")))
            return await browser.visit("GET", str(response.url.join(body["next"])))
        if response.status_code == 400 and "error" in body:
            code = plan.refusal_codes.get(body["error"], "other")
            browser.outcome.refusals[code] += 1
            browser.outcome.note(f"{kind} refused ({code}) for {browser.token}")
            if body.get("listen_again"):
                continue
            raise EvaluatorStopped(code)
        browser.outcome.errors[kind] += 1
        browser.outcome.statuses[str(response.status_code)] += 1
        browser.outcome.note(f"POST {post_url}: {response.status_code}")
        raise EvaluatorStopped(str(response.status_code))
    raise EvaluatorStopped(f"refused {MAX_ATTEMPTS} times")


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def percentiles(values: list[float]) -> tuple[float, float]:
    """(P50, P99) of request times in ms; NaN for none."""
    if not values:
        return float("nan"), float("nan")
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50), float(p99)
