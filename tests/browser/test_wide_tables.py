"""Wide tables on a laptop and on a phone: the last column is in reach without scrolling to the foot of
the table first, and the first column stays in view while the rest scrolls sideways."""

import pytest
from django.urls import reverse

from annotations import services
from annotations.models import Rating
from synthesis.models import Sample, SynthesisRun
from tests.browser.base import BrowserTestCase
from tests.factories import intelligibility_test, make_config, make_researcher, make_samples

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast

VIEWPORTS = ({"width": 1366, "height": 768}, {"width": 390, "height": 844})
SENTENCES = tuple(f"Sentence number {n} is read aloud in two styles." for n in range(1, 7))
MEASURED = {
    "tts_ms": 710.0,
    "total_ms": 710.0,
    "stt_ms": 2661.0,
    "tts_rtf": 0.213,
    "recognized_text": "sentence number one is read aloud in two styles",
    "wer": 0.125,
    "cer": 0.031,
    "dnsmos_p808": 3.45,
    "dnsmos_ovrl": 3.12,
    "loudness_lufs": -23.4,
}
# The first horizontally scrollable box that ends above the table's first row: a scroll bar at its top.
SCROLL_BAR_ABOVE = """(table) => Array.from(document.querySelectorAll('*')).find((e) => {
  const box = e.getBoundingClientRect();
  return ['auto', 'scroll'].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1
    && box.height > 0 && box.bottom <= table.getBoundingClientRect().top + 1;
}) || null"""
# Where an element is, and whether it is what the browser shows at its own centre (not covered).
PLACE = """(e) => {
  const box = e.getBoundingClientRect();
  const shown = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return { left: box.left, right: box.right, x: box.left + box.width / 2, y: box.top + box.height / 2,
           shown: e === shown || e.contains(shown) };
}"""


class WideTablesBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.researcher = make_researcher()

    def open(self, url: str, viewport: dict, ready: str):
        page = self.browser.new_page(viewport=viewport)
        self.sign_in(page, self.researcher)
        page.goto(self.live_server_url + url)
        page.wait_for_selector(ready)
        return page

    def assert_in_view(self, cell, box: dict, width: int) -> None:
        place = cell.evaluate(PLACE)
        self.assertGreaterEqual(place["left"], box["left"] - 1, cell.inner_text())
        self.assertLessEqual(place["right"], min(box["right"], width) + 1, cell.inner_text())
        self.assertTrue(place["shown"], f"{cell.inner_text()!r} is covered")

    def assert_last_column_in_reach(self, page, table, width: int) -> None:
        """The last heading is shown, or shown once the scroll bar above the table is scrolled to its end;
        either way the first column is in view beside it."""
        box = table.locator("xpath=..").evaluate(PLACE)
        last = table.locator("thead tr").last.locator("th").last
        if last.evaluate(PLACE)["right"] > min(box["right"], width) + 1:
            bar = table.evaluate_handle(SCROLL_BAR_ABOVE).as_element()
            self.assertIsNotNone(bar, "the table is cut and has no scroll bar above it")
            bar.scroll_into_view_if_needed()
            place = bar.evaluate(PLACE)
            page.mouse.move(place["x"], place["y"])
            page.mouse.wheel(5000, 0)
            page.wait_for_function("(e) => e.scrollLeft > 0", arg=bar)
            last.scroll_into_view_if_needed()
        self.assert_in_view(last, box, width)
        self.assert_in_view(table.locator("thead tr").last.locator("th").first, box, width)
        self.assert_in_view(table.locator("tbody td").first, box, width)

    def test_the_run_pages_samples_table_keeps_its_last_and_first_columns_in_reach(self):
        run = SynthesisRun.objects.create(name="wide", config=make_config("wide"))
        samples = make_samples(sentences=SENTENCES, set_name="wide")
        Sample.objects.filter(pk__in=[s.pk for s in samples]).update(
            run=run, origin=Sample.Origin.SYNTHESIZED, **MEASURED
        )
        url = reverse("synthesis:run_detail", args=[run.pk])
        for viewport in VIEWPORTS:
            with self.subTest(width=viewport["width"]):
                page = self.open(url, viewport, "#samples table tbody tr:nth-child(12)")
                table = page.locator("#samples table")
                self.assertEqual(table.locator("thead th").last.inner_text(), "Loudness LUFS")
                self.assert_last_column_in_reach(page, table, viewport["width"])
                page.close()

    def test_the_intelligibility_dashboards_table_keeps_its_last_and_first_columns_in_reach(self):
        test = intelligibility_test("wide-intel")
        evaluator = services.invite_evaluators(test=test, count=1)[0]
        for trial in test.trials.filter(kind="test"):
            clip = trial.trial_clips.get().test_sample
            Rating.objects.create(
                evaluator=evaluator, sample_id=clip.sample_id, test_sample=clip, trial=trial,
                dimension="transcript", transcript=clip.sample.text,
            )  # fmt: skip
        url = reverse("results:test", args=[test.pk])
        for viewport in VIEWPORTS:
            with self.subTest(width=viewport["width"]):
                page = self.open(url, viewport, "text=Intelligibility: word and character error rates")
                table = page.locator("table", has=page.locator("th", has_text="Spearman"))
                self.assert_last_column_in_reach(page, table, viewport["width"])
                page.close()
