"""The claims page: each design claim next to the latest measurement, with a verdict."""

import json

from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from annotations.demo import NAME as DEMO_TEST_NAME
from annotations.models import ClipFetch, Rating, Trial
from annotations.results import claims
from annotations.services import build_trials
from synthesis import services
from synthesis.engines import iterations
from synthesis.models import (
    Status,
    SynthesisRun,
    TimedIteration,
)
from tests.factories import (
    add_to_test,
    make_config,
    make_evaluator,
    make_researcher,
    make_sample,
    make_test,
    make_user,
    wer_run,
)

OMNI_STT = "/models/qwen3-omni-audio-encoder-int8.onnx"
DESIGN_SYSTEM = "qwen3-omni-talker-int8"


def rated_test(name: str, *, system: str, scores: dict[str, int], heard: bool = True, complete: bool = True):
    """A test of one system in both styles (4 sentences), rated by 3 evaluators through trials.

    heard: the server sent each clip (ClipFetch rows), as it does for every answer given in the app.
    """
    test = make_test(name, ratings_per_sample=3)
    clips = [
        add_to_test(test, make_sample(system_label=system, style_name=style, source_name=f"{style}-{i}.wav"))
        for style in ("neutral", "warm")
        for i in range(4)
    ]
    build_trials(test=test)
    raters = 3 if complete else 1
    for number in range(raters):
        evaluator = make_evaluator(test, f"R{number:03d}")
        for position, clip in enumerate(clips):
            if heard:
                size = clip.sample.audio.size
                ClipFetch.objects.create(
                    evaluator=evaluator, test_sample=clip, bytes_from=0, bytes_to=size - 1, size=size
                )
            score = scores[clip.sample.style_label] + position % 2 * (
                -1 if scores[clip.sample.style_label] == 5 else 1
            )
            Rating.objects.create(
                evaluator=evaluator, sample=clip.sample, test_sample=clip, score=score,
                trial=Trial.objects.get(trial_clips__test_sample=clip), played_to_end=True,
            )  # fmt: skip
    return test


def row(key: str) -> dict:
    return next(r for r in claims.claim_rows() if r["claim"].key == key)


class WerClaimTests(TestCase):
    def test_nothing_measured_gives_not_measured(self):
        self.assertEqual(row("stt-wer-es")["verdict"], claims.NOT_MEASURED)

    def test_a_spanish_run_with_the_designs_model_under_the_target_holds(self):
        wer_run(stt_model=OMNI_STT, errors=1)  # 1 error in 100 words: 1 %
        result = row("stt-wer-es")
        self.assertEqual(result["verdict"], claims.HOLDS)
        self.assertAlmostEqual(result["measured"].value, 1.0)
        self.assertLessEqual(result["measured"].low, 1.0)
        self.assertGreaterEqual(result["measured"].high, 1.0)

    def test_a_spanish_run_with_the_designs_model_over_the_target_does_not_hold(self):
        wer_run(stt_model=OMNI_STT, errors=5)  # 5 %
        self.assertEqual(row("stt-wer-es")["verdict"], claims.DOES_NOT_HOLD)

    def test_a_run_with_whisper_is_not_comparable_even_under_the_target(self):
        wer_run(stt_model="base", errors=1)
        result = row("stt-wer-es")
        self.assertEqual(result["verdict"], claims.NOT_COMPARABLE)
        self.assertAlmostEqual(result["measured"].value, 1.0)
        self.assertIn("STT model differs: base", result["reasons"][0])

    def test_an_english_dataset_does_not_count_for_the_spanish_claim(self):
        wer_run(stt_model=OMNI_STT, errors=1, language="en")
        self.assertEqual(row("stt-wer-es")["verdict"], claims.NOT_MEASURED)


class MosClaimTests(TestCase):
    def test_a_complete_test_by_invited_evaluators_gives_a_verdict(self):
        rated_test("invited", system=DESIGN_SYSTEM, scores={"neutral": 4, "warm": 5})
        neutral, warm = row("tts-mos-neutral"), row("tts-mos-warm")
        self.assertAlmostEqual(neutral["measured"].value, 4.5)  # 4s and 5s in equal numbers
        self.assertEqual(neutral["verdict"], claims.HOLDS)
        self.assertAlmostEqual(warm["measured"].value, 4.5)
        self.assertEqual(warm["verdict"], claims.HOLDS)
        self.assertIn("CrowdMOS", neutral["measured"].method)

    def test_a_low_mos_of_the_designs_system_does_not_hold(self):
        rated_test("invited", system=DESIGN_SYSTEM, scores={"neutral": 3, "warm": 3})
        self.assertEqual(row("tts-mos-neutral")["verdict"], claims.DOES_NOT_HOLD)

    def test_a_piper_voice_is_not_comparable_even_above_the_target(self):
        rated_test("invited", system="piper-en-lessac", scores={"neutral": 4, "warm": 5})
        result = row("tts-mos-neutral")
        self.assertEqual(result["verdict"], claims.NOT_COMPARABLE)
        self.assertAlmostEqual(result["measured"].value, 4.5)

    def test_simulated_demo_ratings_never_give_a_verdict(self):
        rated_test(DEMO_TEST_NAME, system=DESIGN_SYSTEM, scores={"neutral": 4, "warm": 5})
        result = row("tts-mos-neutral")
        self.assertEqual(result["verdict"], claims.NOT_MEASURED)
        self.assertIn("simulated raters", " ".join(result["measured"].notes))

    def test_ratings_the_server_never_sent_audio_for_never_give_a_verdict(self):
        rated_test("scripted", system=DESIGN_SYSTEM, scores={"neutral": 4, "warm": 5}, heard=False)
        self.assertEqual(row("tts-mos-neutral")["verdict"], claims.NOT_MEASURED)

    def test_an_incomplete_test_stays_not_measured(self):
        rated_test("invited", system=DESIGN_SYSTEM, scores={"neutral": 4, "warm": 5}, complete=False)
        result = row("tts-mos-warm")
        self.assertEqual(result["verdict"], claims.NOT_MEASURED)
        self.assertIn("8 of 24 ratings", " ".join(result["measured"].notes))


class BenchmarkClaimTests(TestCase):
    def test_latency_llm_and_load_claims_are_not_measured_without_a_run(self):
        for key in ("stt-tts-p50", "stt-tts-p99", "e2e", "load-total", "ram-total", "llm-latency"):
            self.assertEqual(row(key)["verdict"], claims.NOT_MEASURED, key)

    def test_a_conversation_run_is_shown_as_provisional_and_never_holds(self):
        config = make_config("conv", llm_model="LFM2-1.2B-Q4_K_M.gguf", llm_threads=6, llm_context_size=512)
        run = SynthesisRun.objects.create(
            name="conv", mode="conversation", config=config, status=Status.DONE, finished_at=timezone.now(),
            config_snapshot=config.snapshot(), cpu_description="Intel i7-1165G7, 8 threads",
        )  # fmt: skip
        for stt_ms in (100, 110, 120):
            make_sample(run=run, stt_ms=stt_ms, tts_ms=50, total_ms=400)
        result = row("stt-tts-p50")
        self.assertAlmostEqual(result["measured"].value, 160)
        self.assertIn(f"from conversation run {run.pk}, not a latency benchmark", result["measured"].source)
        self.assertEqual(result["verdict"], claims.NOT_COMPARABLE)
        self.assertEqual(row("e2e-original-target")["verdict"], claims.NOT_COMPARABLE)

    def test_an_llm_benchmark_run_on_the_designs_setting_gives_a_verdict(self):
        config = make_config(
            "lfm2", llm_model="/m/LFM2-1.2B-Q4_K_M.gguf", llm_threads=6, llm_context_size=512
        )
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(name="llm", config=config, mode="llm-speed")
        for item in run.items.order_by("iteration")[:3]:
            TimedIteration.objects.create(
                run=run, run_item=item, position=item.iteration, kind=iterations.LLM_PROMPT,
                label=f"prompt {item.iteration}", warmup=item.iteration == 0,
                figures={"llm_ms": 850.0, "llm_tokens": 11, "llm_tokens_per_s": 12.9},
            )  # fmt: skip
        SynthesisRun.objects.filter(pk=run.pk).update(
            status=Status.DONE, finished_at=timezone.now(),
            config_snapshot=config.snapshot(), cpu_description="11th Gen Intel(R) Core(TM) i7-1165G7",
        )  # fmt: skip
        self.assertEqual(row("llm-latency")["verdict"], claims.HOLDS)  # 850 ms per 20-token prompt
        self.assertEqual(row("llm-tokens-per-s")["verdict"], claims.HOLDS)  # 22 tokens in 1.7 s
        config.llm_threads = 2
        SynthesisRun.objects.update(config_snapshot=config.snapshot())
        self.assertEqual(row("llm-latency")["verdict"], claims.NOT_COMPARABLE)

    def test_the_llm_benchmark_counts_at_the_designs_n_ctx_whatever_its_configuration_says(self):
        config = make_config(
            "lfm2", llm_model="/m/LFM2-1.2B-Q4_K_M.gguf", llm_threads=6, llm_context_size=2048
        )
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(name="llm", config=config, mode="llm-speed")
        item = run.items.get(iteration=1)
        TimedIteration.objects.create(
            run=run, run_item=item, position=1, kind=iterations.LLM_PROMPT, label="p", warmup=False,
            figures={"llm_ms": 850.0, "llm_tokens": 20, "llm_tokens_per_s": 23.5},
        )  # fmt: skip
        SynthesisRun.objects.filter(pk=run.pk).update(
            status=Status.DONE, finished_at=timezone.now(),
            config_snapshot=config.snapshot(), cpu_description="11th Gen Intel(R) Core(TM) i7-1165G7",
        )  # fmt: skip
        result = row("llm-latency")
        self.assertEqual(result["verdict"], claims.HOLDS, result["reasons"])
        self.assertEqual(result["measured"].settings["llm_context_size"], 512)


class ClaimsPageTests(TestCase):
    def test_a_researcher_sees_every_claim_and_the_spanish_voice_note(self):
        self.client.force_login(make_researcher())
        response = self.client.get(reverse("results:claims"))
        self.assertContains(response, "STT WER (es) &lt; 2.0 %")
        self.assertContains(response, "TTS MOS ≥ 4.38 (warm")
        self.assertContains(response, "LLM 904 ms / 20 tokens")
        self.assertContains(response, "No package ships a Spanish Piper voice")
        self.assertContains(response, "not measured")

    def test_someone_without_the_results_role_is_refused(self):
        self.client.force_login(make_user("nobody"))
        self.assertEqual(self.client.get(reverse("results:claims")).status_code, 403)
        self.assertEqual(self.client.get(reverse("results:claims_json")).status_code, 403)

    def test_the_json_export_carries_each_claim_with_its_verdict_and_measurement(self):
        wer_run(stt_model="base", errors=1)
        self.client.force_login(make_researcher())
        data = json.loads(self.client.get(reverse("results:claims_json")).content)
        by_key = {c["key"]: c for c in data["claims"]}
        self.assertEqual(len(by_key), len(claims.all_claims()))
        wer = by_key["stt-wer-es"]
        self.assertEqual(wer["verdict"], "not comparable")
        self.assertEqual(wer["target"], {"value": 2.0, "comparison": "<"})
        self.assertAlmostEqual(wer["measured"]["value"], 1.0)
        self.assertEqual(wer["measured"]["models"]["stt"], "base")
        self.assertIsNone(by_key["tts-mos-neutral"]["measured"]["value"])

    def test_the_html_report_is_a_standalone_file(self):
        self.client.force_login(make_researcher())
        response = self.client.get(reverse("results:claims_report"))
        self.assertEqual(response["Content-Disposition"], 'attachment; filename="claims-report.html"')
        self.assertContains(response, "<!doctype html>")
