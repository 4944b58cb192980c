"""Every method's answer page is one base template and one shared script (static/js/answer.js) plus what
the method adds: the same form, error region and scripts whatever the method."""

import re

from django.contrib.staticfiles import finders
from django.test import TestCase

from annotations.models import ListeningTest
from tests.annotations.helpers import session_url
from tests.factories import (
    ab_test,
    build_test,
    evaluator_at_rating,
    intelligibility_test,
    make_samples,
    mushra_test,
    warm_vs_neutral,
)

SCRIPTS = re.compile(r'<script src="([^"]+)"')
# Each method's page and the script that adds what the method needs to answer.js.
METHOD_SCRIPTS = {
    "acr": "/static/js/rate.js",
    "cmos": "/static/js/pair.js",
    "ab": "/static/js/pair.js",
    "mushra": "/static/js/mushra.js",
    "intelligibility": "/static/js/transcribe.js",
}

# What answer.js reads in the form: the listening it measured, the refusal's region, the button, the hint.
FORM_MARKERS = ("data-played", "data-plays", "data-time", "data-error", "data-submit", "data-hint")


def attribute_count(html: str, name: str) -> int:
    """How many tags carry the attribute name (data-play, not data-played)."""
    return len(re.findall(rf"\s{name}(?=[\s>=])", html))


def method_test(method: str, **options) -> ListeningTest:
    if method == "acr":
        return build_test(samples=make_samples(), **options)
    if method == "cmos":
        return warm_vs_neutral("cmos-test", "cmos", **options)
    if method == "ab":
        return ab_test(**options)
    if method == "mushra":
        return mushra_test(**options)
    return intelligibility_test(**options)


class AnswerPageTests(TestCase):
    def page(self, method: str, **options):
        evaluator = evaluator_at_rating(method_test(method, **options))
        return self.client.get(session_url(evaluator, "rate"))

    def test_every_method_page_extends_the_answer_base_and_loads_answer_js_once_before_its_own_script(self):
        for method, script in METHOD_SCRIPTS.items():
            with self.subTest(method=method):
                page = self.page(method)
                self.assertTemplateUsed(page, "annotations/answer_base.html")
                scripts = SCRIPTS.findall(page.content.decode())
                self.assertEqual(scripts, ["/static/js/answer.js", script])

    def test_one_clip_pages_with_marks_load_marks_js_before_answer_js(self):
        for method in ("acr", "intelligibility"):
            with self.subTest(method=method):
                page = self.page(method, artifact_labels=["click"])
                scripts = SCRIPTS.findall(page.content.decode())
                self.assertEqual(
                    scripts, ["/static/js/marks.js", "/static/js/answer.js", METHOD_SCRIPTS[method]]
                )

    def test_every_method_page_has_one_form_with_the_fields_and_regions_answer_js_drives(self):
        for method in METHOD_SCRIPTS:
            with self.subTest(method=method):
                html = self.page(method).content.decode()
                self.assertEqual(html.count("<form "), 1)
                form = re.search(r"<form [^>]*>", html)[0]
                self.assertIn("data-fetch", form)
                self.assertIn('data-msg-network="Your answer could not be sent.', form)
                self.assertIn('data-msg-play="Please listen to', form)
                self.assertIn("data-msg-ended=", form)
                for marker in FORM_MARKERS:
                    self.assertEqual(attribute_count(html, marker), 1, marker)
                self.assertGreaterEqual(attribute_count(html, "data-play"), 1)
                self.assertEqual(html.count('<progress max="'), 1)

    def test_a_one_clip_page_marks_its_player_box_for_answer_js(self):
        for method in ("acr", "intelligibility"):
            with self.subTest(method=method):
                html = self.page(method).content.decode()
                self.assertEqual(attribute_count(html, "data-player"), 1)
                box = html[html.index("data-player") : html.index("</div>", html.index("data-player"))]
                self.assertIn("<audio", box)
                self.assertEqual(attribute_count(box, "data-play"), 1)


class AnswerScriptTests(TestCase):
    """The method scripts leave the players, the keys, the refusal and the send to answer.js."""

    def test_each_method_script_runs_its_page_through_answer_js_and_repeats_none_of_it(self):
        for script in sorted(set(METHOD_SCRIPTS.values())):
            with self.subTest(script=script):
                path = finders.find(script.removeprefix("/static/"))
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
                self.assertEqual(text.count("window.answerPage("), 1)
                for shared in ("keydown", "sendAnswer", "playAddress", '"submit"', "requestSubmit", '"play"'):
                    self.assertNotIn(shared, text)
