"""The SVG charts: their size on the page and whether their words fit inside them."""

import re
from xml.etree import ElementTree

from django.test import SimpleTestCase

from annotations.results import charts
from synthesis.results import charts as run_charts

SVG = "{http://www.w3.org/2000/svg}"
# A generous average width of one bold 11 px sans-serif character; narrower in practice.
BOLD_CHAR_PX = 7.0


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def view_width(root: ElementTree.Element) -> float:
    return float(root.get("viewBox").split()[2])


def max_width(root: ElementTree.Element) -> float:
    return float(re.search(r"max-width: ([\d.]+)px", root.get("style")).group(1))


def run_data() -> dict:
    return {
        "wer": [],
        "wer_edges": [0, 0.5, 1],
        "latency": [],
        "dnsmos": {
            "tests": [
                {
                    "test": "t",
                    "scale": "acr-en",
                    "scale_range": (1, 5),
                    "dimension": "overall",
                    "points": [(3.1, 3.4, "sample 1 · neutral"), (2.2, 2.9, "sample 2 · warm")],
                }
            ]
        },
    }


def dnsmos_chart() -> str:
    [(_, svg)] = charts.run_charts(run_data())["dnsmos"]
    return svg


class ChartSizeTests(SimpleTestCase):
    def test_the_dnsmos_scatter_is_wide_enough_for_its_whole_title(self):
        root = parse(dnsmos_chart())
        title = root.find(f"{SVG}text")
        self.assertEqual(title.text, "DNSMOS P.808 vs human MOS in t, per sample")
        self.assertGreaterEqual(view_width(root), float(title.get("x")) + BOLD_CHAR_PX * len(title.text))

    def test_labels_under_neighbouring_bars_do_not_overlap(self):
        bars = [
            {"label": "piper-joe-medium\nneutral", "mos": 3.9, "low": 3.6, "high": 4.2},
            {"label": "espeak-ng-formant\nneutral", "mos": 2.8, "low": 2.5, "high": 3.1},
        ]
        root = parse(charts.mos_chart(bars, title="MOS"))
        labels = [
            text for text in root.iter(f"{SVG}text") if text.text in ("piper-joe-medium", "espeak-ng-formant")
        ]
        first, second = (float(text.get("x")) for text in labels)
        half_widths = 6.0 * (len(labels[0].text) + len(labels[1].text)) / 2
        self.assertGreaterEqual(second - first, half_widths)

    def test_a_very_long_label_is_shortened_with_an_ellipsis_and_kept_whole_in_the_tooltip(self):
        label = "a-system-label-far-longer-than-any-bar-could-hold"
        svg = charts.mos_chart([{"label": label, "mos": 3.0, "low": None, "high": None}], title="MOS")
        self.assertIn("…", svg)
        self.assertIn(f"<title>{label}: MOS 3.00", svg)

    def test_charts_fill_their_column_and_may_grow_well_beyond_their_drawing_size(self):
        for svg in (
            dnsmos_chart(),
            charts.mos_chart([{"label": "a", "mos": 3.0, "low": 2.5, "high": 3.5}], title="MOS"),
            run_charts.histogram_chart([1, 2], [0, 0.5, 1], title="WER", x_label="WER"),
        ):
            root = parse(svg)
            self.assertEqual(root.get("width"), "100%")
            self.assertIsNone(root.get("height"))  # the height follows the viewBox's aspect ratio
            self.assertGreaterEqual(max_width(root), 1.5 * view_width(root))

    def test_the_dnsmos_scatter_may_grow_far_beyond_the_388_pixels_it_had(self):
        self.assertGreaterEqual(max_width(parse(dnsmos_chart())), 500)
