"""The create-test form is a ModelForm over ListeningTest: the test's fields bring the model's labels, help
texts and checks unless the page says otherwise, and the form never saves (services.create_test does)."""

from html.parser import HTMLParser

from django.test import SimpleTestCase, TestCase
from django.utils.html import escape

from annotations import methods
from annotations.forms import CreateTestForm, screen_guess_note
from annotations.models import ListeningTest, Scale
from tests.factories import build_test, make_admin, make_run_with_samples

NEW = "/t/manage/new/"
# Settings whose help on the page is the model's own.
MODEL_HELP = (
    "max_plays",
    "min_rater_overlap",
    "recruitment",
    "payment",
    "platform_code",
    "screen_trials",
    "screen_retry_allowed",
    "screen_out_code",
    "screen_out_url",
    "repeat_share",
    "allow_no_preference",
)


def help_text(name: str) -> str:
    return ListeningTest._meta.get_field(name).help_text


class MethodGroups(HTMLParser):
    """The data-methods of the section each named input, select or textarea of a page sits in ("" for
    none), and each section's heading."""

    def __init__(self, page: str):
        super().__init__()
        self.stack, self.groups, self.headings, self.in_heading = [], {}, {}, False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.stack.append(attrs.get("data-methods", ""))
        elif tag == "h3" and self.stack:
            self.in_heading = True
        elif tag in ("input", "select", "textarea") and "name" in attrs:
            self.groups.setdefault(attrs["name"], self.stack[-1] if self.stack else "")

    def handle_data(self, data):
        if self.in_heading:
            self.headings[self.stack[-1]] = self.headings.get(self.stack[-1], "") + data

    def handle_endtag(self, tag):
        if tag == "section":
            self.stack.pop()
        elif tag == "h3":
            self.in_heading = False


class CreateTestFormTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.run, self.samples = make_run_with_samples()

    def form_data(self, **changes) -> dict:
        data = {
            "name": "mos-1",
            "runs": [self.run.pk],
            "scale": Scale.objects.get(name="acr-en").pk,
            "dimensions": "overall",
            "ratings_per_sample": 8,
            "samples_per_session": 4,
            "gold_per_session": 1,
            "traps_per_session": 0,
            "min_rater_overlap": 5,
            "language": "en",
        }
        data.update(changes)
        return data

    def test_the_settings_show_the_models_help_texts(self):
        page = self.client.get(NEW)
        for name in MODEL_HELP:
            self.assertContains(page, escape(help_text(name)), count=1)
        # Where the page has more to say, it follows the model's text.
        without_either = " Without either, evaluators get the app's own code to type in."
        self.assertContains(page, escape(help_text("completion_url") + without_either), count=1)
        self.assertContains(page, escape(f"{help_text('screen_pass_mark')} {screen_guess_note()}"), count=1)

    def test_the_page_keeps_its_own_labels_defaults_and_bounds(self):
        page = self.client.get(NEW)
        self.assertContains(page, '<label for="id_completion_url">Completion URL:</label>', html=True)
        self.assertContains(
            page, '<label for="id_max_plays">Plays allowed per clip (intelligibility):</label>'
        )
        plays = methods.INTELLIGIBILITY.max_plays
        self.assertContains(page, f'name="max_plays" value="{plays}" min="0" max="20"')
        self.assertRegex(page.content.decode(), r'<input type="checkbox" name="with_anchor" [^>]* checked>')
        self.assertContains(page, 'name="ratings_per_sample" value="8" min="1" max="1000"')
        self.assertContains(page, escape("Unique, e.g. mos-2024-05."))
        response = self.client.post(NEW, self.form_data(ratings_per_sample=1001, min_rater_overlap=1))
        errors = response.context["form"].errors
        self.assertEqual(errors["ratings_per_sample"], ["Ensure this value is less than or equal to 1000."])
        self.assertEqual(errors["min_rater_overlap"], ["Ensure this value is greater than or equal to 2."])
        self.assertFalse(ListeningTest.objects.exists())

    def test_a_taken_name_is_refused_once_with_the_pages_message(self):
        build_test("mos-1", samples=self.samples[:2])
        response = self.client.post(NEW, self.form_data())
        self.assertEqual(
            response.context["form"].errors, {"name": ["A listening test with this name exists already."]}
        )
        self.assertEqual(ListeningTest.objects.count(), 1)

    def test_a_pass_mark_above_the_trials_is_refused_once(self):
        response = self.client.post(NEW, self.form_data(screen_trials=3, screen_pass_mark=4))
        self.assertEqual(
            response.context["form"].errors,
            {"screen_pass_mark": ["Give a pass mark from 1 to the 3 trials."]},
        )
        self.assertFalse(ListeningTest.objects.exists())

    def test_a_refused_screen_setting_brings_no_pass_mark_message(self):
        for trials, mark, refusal in (
            (25, 7, "Ensure this value is less than or equal to 20."),
            (3, 0, "Ensure this value is greater than or equal to 1."),
        ):
            with self.subTest(trials=trials, mark=mark):
                response = self.client.post(NEW, self.form_data(screen_trials=trials, screen_pass_mark=mark))
                self.assertEqual(list(response.context["form"].errors.values()), [[refusal]])
                self.assertNotContains(response, "Give a pass mark")

    def test_checking_the_form_saves_nothing_and_the_service_makes_the_test(self):
        form = CreateTestForm(self.form_data(platform_code="WALK123"))
        self.assertTrue(form.is_valid(), form.errors)
        self.assertIsNone(form.instance.pk)
        self.assertFalse(ListeningTest.objects.exists())
        self.assertEqual(form.cleaned_data["screen_trials"], 6)  # left empty: the model's default
        self.client.post(NEW, self.form_data(platform_code="WALK123"))
        test = ListeningTest.objects.get(name="mos-1")
        self.assertEqual((test.platform_code, test.screen_trials, test.state), ("WALK123", 6, "open"))
        self.assertEqual(test.test_samples.count(), len(self.samples))

    def test_dimensions_left_as_bare_commas_take_the_services_default(self):
        self.client.post(NEW, self.form_data(dimensions=" , "))
        self.assertEqual(ListeningTest.objects.get(name="mos-1").dimensions, ["overall"])


class MethodFieldsTests(TestCase):
    """Each method's own settings come from its registry entry (Method.form_fields): the page groups them
    under a heading naming the methods that read them, and ignores them for any other method."""

    def setUp(self):
        self.client.force_login(make_admin())
        self.run, self.samples = make_run_with_samples()

    def test_every_methods_own_settings_sit_in_a_section_naming_the_methods_that_read_them(self):
        page = MethodGroups(self.client.get(NEW).content.decode())
        readers = {}
        for method in methods.METHODS.values():
            for name in method.form_fields:
                readers.setdefault(name, []).append(method.name)
        self.assertTrue(readers)
        for name, names in readers.items():
            self.assertEqual(page.groups[name], " ".join(names), name)
        self.assertEqual(page.groups["with_anchor"], "mushra")
        self.assertEqual(page.headings["mushra"], "MUSHRA tests")
        self.assertEqual(page.groups["repeat_share"], "ab")
        self.assertEqual(page.headings["ab"], "A/B tests")
        self.assertEqual(page.headings["acr intelligibility"], "ACR and intelligibility tests")
        for name in ("name", "method", "scale", "ratings_per_sample", "samples_per_session", "language"):
            self.assertEqual(page.groups[name], "", name)
        self.assertIn("js/test_new.js", self.client.get(NEW).content.decode())

    def test_the_settings_of_other_methods_are_ignored_whatever_they_hold(self):
        data = {
            "name": "acr-1",
            "runs": [self.run.pk],
            "method": "acr",
            "dimensions": "overall",
            "ratings_per_sample": 8,
            "samples_per_session": 4,
            "gold_per_session": 0,
            "traps_per_session": 0,
            "min_rater_overlap": 5,
            "language": "en",
            # MUSHRA's, intelligibility's and A/B's, out of bounds or refused for an ACR test.
            "reference_system": "sys-a",
            "with_anchor": "on",
            "max_plays": 50,
            "repeat_share": 2,
        }
        response = self.client.post(NEW, data)
        test = ListeningTest.objects.get(name="acr-1")
        self.assertRedirects(response, f"/t/manage/{test.pk}/")
        self.assertEqual(
            (test.reference_system, test.with_anchor, test.max_plays, test.repeat_share), ("", False, 0, 0.1)
        )
        data.update(name="cmos-1", method="cmos", dimensions="clarity, overall", artifact_labels="click")
        self.client.post(NEW, data)
        test = ListeningTest.objects.get(name="cmos-1")
        self.assertEqual((test.dimensions, test.artifact_labels), (["cmos"], []))


class MethodFormFieldsTests(SimpleTestCase):
    def test_each_methods_form_fields_are_settings_of_the_create_page_that_it_reads(self):
        settings = set(CreateTestForm.base_fields)
        for method in methods.METHODS.values():
            with self.subTest(method=method.name):
                self.assertLessEqual(set(method.form_fields), settings)
                fields = set(method.form_fields)
                self.assertEqual({"gold_per_session", "traps_per_session"} <= fields, method.gold_and_traps)
                self.assertEqual("reference_system" in fields, method.takes_reference)
                self.assertEqual("max_plays" in fields, bool(method.max_plays))
                self.assertEqual("artifact_labels" in fields, method.clips_per_trial == 1)
                self.assertEqual("dimensions" in fields, not method.dimensions)
