"""What a run's measurements are called: a synthesis run's total is its synthesis time, since the ASR round
trip after it is a measurement, not a stage; a conversation run's total is its whole turn."""

import csv
import io

from django.test import TestCase
from django.urls import reverse

from synthesis import modes
from synthesis.models import SynthesisRun
from tests.factories import make_config, make_researcher, make_sample, make_sentence_set, register_run_mode

TIMES = {"tts_ms": 710.0, "total_ms": 710.0, "stt_ms": 2661.0, "tts_rtf": 0.2, "stt_rtf": 0.8}


class MeasurementLabelTests(TestCase):
    def setUp(self):
        self.client.force_login(make_researcher())
        self.sentence = make_sentence_set(texts=("One.",)).sentences.get()

    def run_of(self, mode: str, **times) -> SynthesisRun:
        run = SynthesisRun.objects.create(name=mode, mode=mode, config=make_config(mode))
        make_sample(sentence=self.sentence, run=run, **(TIMES | times))
        return run

    def headings(self, run: SynthesisRun) -> str:
        page = self.client.get(reverse("synthesis:run_samples", args=[run.pk])).content.decode()
        return page.split("<thead>")[1].split("</thead>")[0]

    def latency_rows(self, run: SynthesisRun) -> list[str]:
        response = self.client.get(reverse("results:run", args=[run.pk]))
        return [row["label"] for row in response.context["d"]["latency"]]

    def test_a_synthesis_runs_total_is_headed_as_its_synthesis_time_on_the_run_page(self):
        headings = self.headings(self.run_of("synthesis"))
        self.assertIn("Synthesis time ms", headings)
        self.assertIn("ASR round trip ms", headings)
        self.assertNotIn("Total ms", headings)
        self.assertIn("the ASR round trip after it is a measurement, not a stage", headings)

    def test_a_conversation_runs_total_keeps_its_name_on_the_run_page(self):
        headings = self.headings(self.run_of("conversation", llm_ms=900.0, total_ms=3900.0))
        self.assertIn("Total ms", headings)
        self.assertIn("STT ms", headings)
        self.assertNotIn("Synthesis time", headings)

    def test_the_run_dashboards_latency_table_says_the_same_as_the_run_page(self):
        self.assertEqual(
            self.latency_rows(self.run_of("synthesis")), ["ASR round trip", "TTS", "Synthesis time"]
        )
        conversation = self.run_of("conversation", llm_ms=900.0, total_ms=3900.0)
        self.assertEqual(self.latency_rows(conversation), ["STT", "LLM", "TTS", "Total"])

    def test_the_run_pages_say_which_measurements_csv_column_a_renamed_heading_is(self):
        run = self.run_of("synthesis")
        for url in (reverse("synthesis:run_detail", args=[run.pk]), reverse("results:run", args=[run.pk])):
            self.assertContains(self.client.get(url), "Synthesis time ms is <code>total_ms</code>")
        conversation = self.run_of("conversation")
        self.assertNotContains(
            self.client.get(reverse("results:run", args=[conversation.pk])), "<code>total_ms</code>"
        )

    def test_the_measurements_csv_keeps_its_column_names(self):
        run = self.run_of("synthesis")
        response = self.client.get(reverse("results:run_measurements_csv", args=[run.pk]))
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        self.assertEqual(
            (rows[0]["total_ms"], rows[0]["tts_ms"], rows[0]["stt_ms"]), ("710.0", "710.0", "2661.0")
        )

    def test_both_modes_still_count_as_recording_the_renamed_measurements(self):
        total = modes.MEASUREMENTS_BY_NAME["total_ms"]
        self.assertIn("synthesis", total.modes)
        self.assertIn("conversation", total.modes)

    def test_a_mode_cannot_rename_a_measurement_it_does_not_record(self):
        rename = {"llm_ms": modes.Relabel("Thinking", "What the LLM took.")}
        with self.assertRaisesMessage(ValueError, "renames measurements it does not record: llm_ms"):
            register_run_mode(
                self,
                modes.RunMode(
                    key="toy", label="Toy", run=print, loads=(), records=("tts_ms",), relabel=rename
                ),
            )
