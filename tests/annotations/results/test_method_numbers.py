"""Each test method owns its numbers: a clip's score in every test that rated it, each on that test's
scale; every method's summary CSV beside its summary JSON; progress counted alike on every page."""

import csv
import io
import random
import re

import pytest
from django.test import TestCase
from django.urls import reverse

from annotations import services
from annotations.methods import get_method
from annotations.models import ListeningTest
from annotations.results import runs
from annotations.results import services as results_services
from synthesis.models import Sample
from tests.factories import (
    SENTENCES,
    build_test,
    evaluator_at_rating,
    hear_all,
    make_researcher,
    make_run_with_samples,
    make_sample,
    make_samples,
    make_sentence_set,
    noise_wav,
)

# progress and per-clip scores counted in SQL: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends

# Per sample of a run (make_run_with_samples' order), what the first rater gives; the second gives one
# more (ACR) or ten more (MUSHRA), so each clip's mean is the base plus a half (or five).
ACR_BASE = (2, 4, 1, 3, 4, 2)
SECOND_ACR_BASE = (5, 3, 4, 2, 2, 3)
MUSHRA_BASE = (30, 70, 45, 85, 20, 60)
DNSMOS = (2.1, 3.4, 1.8, 3.0, 3.9, 2.6)


def read_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(body.decode())))


def number(cell: str) -> float | None:
    """A CSV cell as the number it holds; an empty cell is None, as in the JSON."""
    return None if cell == "" else float(cell)


def text_of(html: str) -> str:
    """The text without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def page_text(response) -> str:
    return text_of(response.content.decode())


def answer_every_page(evaluator, answer) -> None:
    """Answer the evaluator's whole session through the service; answer(clips) gives a page's value
    from its clips (TestSamples) in the order shown.

    Each page's clips were fetched 30 s before its answer, as a person who listens and then thinks: an
    answer at the least time the service allows is what the timing rules flag as a script.
    """
    test = evaluator.test
    question = get_method(test.method).questions(test)[0]
    while (assignment := services.current_clip(evaluator=evaluator)[0]) is not None:
        clips = [clip.test_sample for clip in assignment.presented_clips()]
        hear_all(evaluator, clips, seconds=30)
        services.submit_rating(
            evaluator=evaluator,
            sample_token=clips[0].token,
            clip_tokens=[clip.token for clip in clips],
            scores={question: answer(clips)},
            played_to_end=True,
            play_count=2,
            time_to_answer_ms=2500,
        )


def rate_with(test, *answers) -> None:
    """One evaluator per answer function, each answering their whole session before the next joins."""
    for seed, answer in enumerate(answers):
        answer_every_page(evaluator_at_rating(test, rng=random.Random(seed)), answer)


def by_sample(table: dict[int, int], more: int = 0):
    """A one-clip answer: the clip's sample's score in table, plus more."""
    return lambda clips: table[clips[0].sample_id] + more


def each_clip(table: dict[int, int], more: int = 0):
    """A MUSHRA answer: every clip's score in table, plus more, in the order shown."""
    return lambda clips: [table[clip.sample_id] + more for clip in clips]


def warmth(values: dict[str, int]):
    """A pair answer: the rater's value of warm over neutral on the sentence, signed for the order heard."""

    def answer(clips) -> int:
        value = values[clips[0].sample.text]
        return value if clips[1].sample.style_label == "warm" else -value

    return answer


def per_sample(samples: list[Sample], values) -> dict[int, object]:
    return {sample.pk: value for sample, value in zip(samples, values, strict=True)}


HUMAN = ("test", "method", "score_name", "scale", "scale_min", "scale_max", "dimension", "votes")


def human_cells(row: dict) -> tuple:
    """The human columns of a measurements row but the score."""
    return tuple(row[f"human_{name}"] for name in HUMAN)


class ResearcherTestCase(TestCase):
    """Signed in as a researcher, reading the exports as they are downloaded."""

    @classmethod
    def setUpTestData(cls):
        cls.researcher = make_researcher()

    def setUp(self):
        self.client.force_login(self.researcher)

    def csv_of(self, name: str, pk: int) -> list[dict]:
        response = self.client.get(reverse(f"results:{name}", args=[pk]))
        self.assertEqual(response.status_code, 200)
        return read_csv(response)

    def json_of(self, name: str, pk: int) -> dict:
        response = self.client.get(reverse(f"results:{name}", args=[pk]))
        self.assertEqual(response.status_code, 200)
        return response.json()


def run_with_dnsmos() -> tuple:
    """A run's six samples (three sentences, neutral and warm), each with its DNSMOS."""
    run, samples = make_run_with_samples()
    for sample, value in zip(samples, DNSMOS, strict=True):
        Sample.objects.filter(pk=sample.pk).update(dnsmos_p808=value)
    return run, samples


class OneClipInAnAcrAndAMushraTestTests(ResearcherTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.synthesis_run, cls.samples = run_with_dnsmos()
        cls.acr = build_test("acr-run", samples=cls.samples, samples_per_session=6)
        # The run's two styles are a sentence's two conditions; no reference, so no anchor.
        cls.mushra = build_test(
            "mushra-run",
            samples=cls.samples,
            scale=None,
            method="mushra",
            reference_system="",
            with_anchor=False,
            samples_per_session=3,
        )
        acr, mushra = per_sample(cls.samples, ACR_BASE), per_sample(cls.samples, MUSHRA_BASE)
        rate_with(cls.acr, by_sample(acr), by_sample(acr, 1))
        rate_with(cls.mushra, each_clip(mushra), each_clip(mushra, 10))
        cls.acr_mos = per_sample(cls.samples, [base + 0.5 for base in ACR_BASE])
        cls.mushra_score = per_sample(cls.samples, [base + 5 for base in MUSHRA_BASE])

    def setUp(self):
        super().setUp()
        self.run = self.synthesis_run  # not a class attribute: it would hide TestCase.run

    def test_the_acr_tests_measurements_carry_its_mos_on_its_scale_and_no_mushra_score(self):
        rows = self.csv_of("test_measurements_csv", self.acr.pk)
        self.assertEqual(sorted(int(row["sample_id"]) for row in rows), sorted(self.acr_mos))
        for row in rows:
            self.assertEqual(human_cells(row), ("acr-run", "acr", "MOS", "acr-en", "1", "5", "overall", "2"))
            self.assertAlmostEqual(float(row["human_score"]), self.acr_mos[int(row["sample_id"])])

    def test_the_mushra_tests_measurements_carry_its_0_to_100_score_only(self):
        rows = self.csv_of("test_measurements_csv", self.mushra.pk)
        self.assertEqual(sorted(int(row["sample_id"]) for row in rows), sorted(self.mushra_score))
        for row in rows:
            self.assertEqual(
                human_cells(row),
                ("mushra-run", "mushra", "MUSHRA score", "mushra-en", "0", "100", "mushra", "2"),
            )
            self.assertAlmostEqual(float(row["human_score"]), self.mushra_score[int(row["sample_id"])])

    def test_the_runs_measurements_hold_one_row_per_sample_and_test_each_on_its_own_scale(self):
        rows = self.csv_of("run_measurements_csv", self.run.pk)
        self.assertEqual(len(rows), 2 * len(self.samples))
        scores = {(int(row["sample_id"]), row["human_test"]): row for row in rows}
        for sample in self.samples:
            acr, mushra = scores[(sample.pk, "acr-run")], scores[(sample.pk, "mushra-run")]
            self.assertAlmostEqual(float(acr["human_score"]), self.acr_mos[sample.pk])
            self.assertEqual((acr["human_scale"], acr["human_score_name"]), ("acr-en", "MOS"))
            self.assertAlmostEqual(float(mushra["human_score"]), self.mushra_score[sample.pk])
            self.assertEqual(
                (mushra["human_scale"], mushra["human_score_name"]), ("mushra-en", "MUSHRA score")
            )

    def test_the_runs_dnsmos_correlation_reads_the_acr_mos_only(self):
        blocks = runs.run_results(self.run)["dnsmos"]["tests"]
        self.assertEqual([(block["test"], block["scale"]) for block in blocks], [("acr-run", "acr-en")])
        expected = sorted(zip(DNSMOS, [base + 0.5 for base in ACR_BASE], strict=True))
        got = sorted((dnsmos, human) for dnsmos, human, _ in blocks[0]["points"])
        self.assertEqual(len(got), len(expected))
        for (dnsmos, human), (want_dnsmos, want_human) in zip(got, expected, strict=True):
            self.assertAlmostEqual(dnsmos, want_dnsmos)
            self.assertAlmostEqual(human, want_human)
        page = self.client.get(reverse("results:run", args=[self.run.pk]))
        self.assertContains(page, "<h3>acr-run <small>(overall, scale acr-en)</small></h3>", html=True)
        self.assertNotContains(page, "mushra-run")


class OneClipInTwoAcrTestsTests(ResearcherTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.synthesis_run, cls.samples = run_with_dnsmos()
        cls.first = build_test("acr-first", samples=cls.samples, samples_per_session=6)
        cls.second = build_test("acr-second", samples=cls.samples, samples_per_session=6)
        first, second = per_sample(cls.samples, ACR_BASE), per_sample(cls.samples, SECOND_ACR_BASE)
        rate_with(cls.first, by_sample(first), by_sample(first, 1))
        rate_with(cls.second, by_sample(second), by_sample(second, -1))
        cls.mos = {
            "acr-first": per_sample(cls.samples, [base + 0.5 for base in ACR_BASE]),
            "acr-second": per_sample(cls.samples, [base - 0.5 for base in SECOND_ACR_BASE]),
        }

    def setUp(self):
        super().setUp()
        self.run = self.synthesis_run  # not a class attribute: it would hide TestCase.run

    def test_the_runs_measurements_show_the_clips_mos_in_each_test_with_its_test(self):
        rows = self.csv_of("run_measurements_csv", self.run.pk)
        self.assertEqual(
            sorted((int(row["sample_id"]), row["human_test"]) for row in rows),
            sorted((sample.pk, test) for sample in self.samples for test in self.mos),
        )
        for row in rows:
            self.assertAlmostEqual(
                float(row["human_score"]), self.mos[row["human_test"]][int(row["sample_id"])]
            )
            self.assertEqual((row["human_method"], row["human_votes"]), ("acr", "2"))

    def test_each_tests_measurements_hold_its_own_mos_only(self):
        for test in (self.first, self.second):
            rows = self.csv_of("test_measurements_csv", test.pk)
            self.assertEqual(len(rows), len(self.samples), test.name)
            self.assertEqual({row["human_test"] for row in rows}, {test.name})
            for row in rows:
                self.assertAlmostEqual(float(row["human_score"]), self.mos[test.name][int(row["sample_id"])])

    def test_the_dnsmos_correlation_has_one_block_per_test_with_that_tests_mos(self):
        blocks = runs.run_results(self.run)["dnsmos"]["tests"]
        self.assertEqual(sorted(block["test"] for block in blocks), ["acr-first", "acr-second"])
        dnsmos = dict(zip(DNSMOS, [sample.pk for sample in self.samples], strict=True))
        for block in blocks:
            self.assertEqual(len(block["points"]), len(self.samples))
            for value, human, _ in block["points"]:
                self.assertAlmostEqual(human, self.mos[block["test"]][dnsmos[value]])


class PairTestOnARunTests(ResearcherTestCase):
    def test_a_run_sample_rated_only_in_a_pair_test_has_one_row_with_empty_human_columns(self):
        run, samples = run_with_dnsmos()
        test = build_test("cmos-run", samples=samples, scale=None, method="cmos", samples_per_session=3)
        rate_with(test, warmth(dict.fromkeys(SENTENCES, 1)))
        rows = self.csv_of("run_measurements_csv", run.pk)
        self.assertEqual(sorted(int(row["sample_id"]) for row in rows), sorted(s.pk for s in samples))
        for row in rows:
            self.assertEqual(human_cells(row)[:-1] + (row["human_score"],), ("",) * 8)
            self.assertIn(row["human_votes"], ("", "0"))
        self.assertEqual(runs.run_results(run)["dnsmos"]["tests"], [])


# --- every method's summary CSV holds what its summary JSON holds ----------------------------------

CMOS_VOTES = ((2, 1, 0), (1, 1, 2), (0, -1, 1))  # per rater, warm over neutral on each sentence
FOUR = ("One sentence here.", "Two sentences there.", "Three more now.", "Four at last.")


def mushra_samples(set_name: str) -> list[Sample]:
    """Three sentences by sys-a and sys-b (tones) and by the reference, human (white noise)."""
    sentence_set = make_sentence_set(name=set_name, texts=("One here.", "Two there.", "Three again."))
    samples = []
    for index, sentence in enumerate(sentence_set.sentences.all()):
        for system in ("sys-a", "sys-b"):
            samples.append(make_sample(system_label=system, sentence=sentence, freq=200 + 40 * len(samples)))
        samples.append(
            make_sample(
                system_label="human",
                sentence=sentence,
                origin=Sample.Origin.REFERENCE,
                wav=noise_wav(seed=index),
            )
        )
    return samples


def mushra_test(name: str, **options):
    """A MUSHRA test of three pages: the hidden reference, its anchor, sys-a and sys-b."""
    options.setdefault("samples_per_session", 3)
    return build_test(
        name,
        samples=mushra_samples(f"set-{name}"),
        scale=None,
        method="mushra",
        reference_system="human",
        with_anchor=True,
        **options,
    )


MUSHRA_BY_ROLE = {"reference": 100, "anchor": 20}
MUSHRA_BY_SYSTEM = {"sys-a": 70, "sys-b": 40}


def mushra_scores(less: int = 0):
    """A MUSHRA answer: the reference 100, the anchor 20, sys-a 70 and sys-b 40, each less `less`."""

    def answer(clips) -> list[int]:
        return [
            MUSHRA_BY_ROLE.get(clip.role, MUSHRA_BY_SYSTEM.get(clip.sample.system_label, 0)) - less
            for clip in clips
        ]

    return answer


class SummaryCsvMatchesJsonTests(ResearcherTestCase):
    def summaries(self, test) -> tuple[list[dict], dict]:
        rows = self.csv_of("test_summary_csv", test.pk)
        self.assertGreater(len(rows), 0, "the summary CSV has no data row")
        return rows, self.json_of("test_summary_json", test.pk)

    def assertNumbers(self, csv_row: dict, json_values: dict, msg: str = "") -> None:
        """Each CSV column named in json_values holds that JSON number (None: an empty cell)."""
        for column, value in json_values.items():
            got = number(csv_row[column])
            if value is None:
                self.assertIsNone(got, f"{msg} {column}")
            else:
                self.assertAlmostEqual(got, float(value), msg=f"{msg} {column}")

    def assertPairsMatch(self, rows: list[dict], data: dict, numbers) -> dict[tuple, dict]:
        """Each pair's CSV row per screening state holds numbers(the JSON's summary of that state); the
        pair rows by (system_x, style_x, system_y, style_y, screening)."""
        pairs = {
            (r["system_x"], r["style_x"], r["system_y"], r["style_y"], r["screening"]): r
            for r in rows
            if r["table"] == "pair"
        }
        self.assertEqual(len(pairs), 2 * len(data["analysis"]["pairs"]))
        for pair in data["analysis"]["pairs"]:
            x, y = pair["x"], pair["y"]
            for state in ("after", "before"):
                key = (x["system"], x["style"], y["system"], y["style"], state)
                self.assertNumbers(pairs[key], numbers(pair[state]), str(key))
        return pairs

    def test_the_acr_summary_csv_gives_each_conditions_mos_as_the_json_does(self):
        samples = make_samples(set_name="set-acr-summary")
        test = build_test("acr-summary", samples=samples, samples_per_session=6)
        base = per_sample(samples, ACR_BASE)
        rate_with(test, by_sample(base), by_sample(base, 1))
        rows, data = self.summaries(test)
        by_key = {(r["dimension"], r["system"], r["style"], r["screening"]): r for r in rows}
        expected_keys = {
            (c["dimension"], c["system"], c["style"], state)
            for c in data["conditions"]
            for state in ("after", "before")
        }
        self.assertEqual(set(by_key), expected_keys)
        for condition in data["conditions"]:
            for state in ("after", "before"):
                key = (condition["dimension"], condition["system"], condition["style"], state)
                s = condition[state]
                self.assertNumbers(
                    by_key[key],
                    {"n": s["n"], "mos": s["mos"], "sd": s["sd"], "ci95_crowdmos": s["ci95"]["crowdmos"]},
                    str(key),
                )
        # neutral: 2, 1, 4 and one more each; warm: 4, 3, 2 and one more each.
        self.assertAlmostEqual(float(by_key[("overall", "sys-a", "neutral", "before")]["mos"]), 17 / 6)
        self.assertAlmostEqual(float(by_key[("overall", "sys-a", "warm", "before")]["mos"]), 3.5)

    def test_the_cmos_summary_csv_gives_each_pairs_cmos_and_the_ranking_as_the_json_does(self):
        samples = make_samples(set_name="set-cmos-summary")
        test = build_test(
            "cmos-summary",
            samples=samples,
            scale=None,
            method="cmos",
            samples_per_session=3,
            ratings_per_sample=3,
        )
        rate_with(test, *(warmth(dict(zip(SENTENCES, votes, strict=True))) for votes in CMOS_VOTES))
        rows, data = self.summaries(test)
        pairs = self.assertPairsMatch(
            rows,
            data,
            lambda s: {
                "n": s["n"],
                "cmos": s["mean"],
                "ci_low": s["ci_low"],
                "ci_high": s["ci_high"],
                "wilcoxon_p": s["wilcoxon"]["p"],
            },
        )
        before = pairs[("sys-a", "neutral", "sys-a", "warm", "before")]
        self.assertAlmostEqual(float(before["cmos"]), 7 / 9)
        ranked = {(r["system"], r["style"]): r for r in rows if r["table"] == "ranking"}
        systems = data["analysis"]["ranking"]["systems"]
        self.assertEqual(len(ranked), len(systems))
        for row in systems:
            key = (row["condition"]["system"], row["condition"]["style"])
            self.assertNumbers(ranked[key], {"rank": row["rank"], "strength": row["strength"]}, str(key))

    def test_the_ab_summary_csv_gives_each_pairs_counts_shares_and_sign_test_as_the_json_does(self):
        samples = make_samples(sentences=FOUR, set_name="set-ab-summary")
        test = build_test(
            "ab-summary",
            samples=samples,
            scale=None,
            method="ab",
            samples_per_session=4,
            ratings_per_sample=2,
        )
        # The first rater prefers warm but on the last sentence; the second prefers neutral on two.
        warm_but_last = warmth({text: 0 if text == FOUR[3] else 1 for text in FOUR})
        neutral_on_two = warmth({text: -1 if text in FOUR[:2] else 1 for text in FOUR})
        rate_with(test, warm_but_last, neutral_on_two)
        rows, data = self.summaries(test)
        pairs = self.assertPairsMatch(
            rows,
            data,
            lambda s: {
                "n": s["n"],
                "x_preferred": s["wins_x"],
                "y_preferred": s["wins_y"],
                "no_preference": s["ties"],
                "share_y_decisive": s["decisive_shares"]["y"]["share"],
                "sign_test_p": s["sign_test"]["p"],
            },
        )
        before = pairs[("sys-a", "neutral", "sys-a", "warm", "before")]
        self.assertEqual(
            (before["n"], before["x_preferred"], before["y_preferred"], before["no_preference"]),
            ("8", "2", "5", "1"),
        )  # the repeats asked for consistency never count

    def test_the_mushra_summary_csv_gives_each_conditions_mean_and_each_paired_test_as_the_json_does(self):
        test = mushra_test("mushra-summary", ratings_per_sample=2)
        rate_with(test, mushra_scores(), mushra_scores(less=5))
        rows, data = self.summaries(test)
        analysis = data["analysis"]
        conditions = {
            (r["screening"], r["role"], r["system"], r["style"]): r for r in rows if r["table"] == "condition"
        }
        self.assertEqual(len(conditions), len(analysis["conditions"]) + len(analysis["before"]))
        for state, key in (("after", "conditions"), ("before", "before")):
            for c in analysis[key]:
                row = conditions[(state, c["role"], c["system"], c["style"])]
                self.assertNumbers(
                    row, {"n": c["n"], "mean": c["mean"], "t_low": c["low"], "t_high": c["high"]}, c["label"]
                )
        self.assertAlmostEqual(float(conditions[("after", "condition", "sys-a", "neutral")]["mean"]), 67.5)
        self.assertAlmostEqual(float(conditions[("after", "reference", "human", "neutral")]["mean"]), 97.5)
        tests = {(r["a"], r["b"]): r for r in rows if r["table"] == "paired test"}
        self.assertEqual(len(tests), len(analysis["tests"]))
        self.assertGreater(len(tests), 0)
        for t in analysis["tests"]:
            self.assertNumbers(
                tests[(t["a"], t["b"])],
                {"mean_difference": t["mean_difference"], "wilcoxon_p": t["p"]},
                f"{t['a']} / {t['b']}",
            )

    def test_the_intelligibility_summary_csv_gives_each_conditions_wer_and_cer_as_the_json_does(self):
        samples = make_samples(set_name="set-words-summary")
        test = build_test(
            "words-summary", samples=samples, scale=None, method="intelligibility", samples_per_session=6
        )

        def heard_all(clips) -> str:
            return clips[0].sample.text

        def missed_the_last_word_when_warm(clips) -> str:
            words = clips[0].sample.text.split()
            return " ".join(words[:-1] if clips[0].sample.style_label == "warm" else words)

        rate_with(test, heard_all, missed_the_last_word_when_warm)
        rows, data = self.summaries(test)
        by_condition = {(r["system"], r["style"]): r for r in rows}
        whole = by_condition.pop(("(all conditions)", ""))
        self.assertEqual(
            (int(whole["n"]), int(whole["raters"])),
            (data["analysis"]["n_transcripts"], data["analysis"]["raters"]),
        )
        self.assertEqual(number(whole["pearson_r_human_asr"]), data["analysis"]["correlation"]["pearson_r"])
        conditions = data["analysis"]["conditions"]
        self.assertEqual(set(by_condition), {(c["system"], c["style"]) for c in conditions})
        for c in conditions:
            self.assertNumbers(
                by_condition[(c["system"], c["style"])],
                {"n": c["n"], "wer": c["wer"]["rate"], "cer": c["cer"]["rate"], "wer_low": c["wer"]["low"]},
                c["label"],
            )
        # Three words missed of the 2 × (6 + 5 + 4) heard in the warm clips; none in the neutral ones.
        self.assertAlmostEqual(float(by_condition[("sys-a", "warm")]["wer"]), 3 / 30)
        self.assertAlmostEqual(float(by_condition[("sys-a", "neutral")]["wer"]), 0.0)


# --- progress reads the same on every page that shows it --------------------------------------------


def collected_column(page) -> dict[str, str]:
    """Test name -> the text of its "Ratings (collected / target)" cell, in the page's table of tests."""
    html = page.content.decode()
    headers = [text_of(cell) for cell in re.findall(r"<th[^>]*>(.*?)</th>", html, re.S)]
    column = headers.index("Ratings (collected / target)")
    cells = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        tds = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        if len(tds) > column:
            cells[text_of(re.search(r"<a [^>]*>(.*?)</a>", tds[0], re.S).group(1))] = text_of(tds[column])
    return cells


class ProgressTests(ResearcherTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.mushra = mushra_test("mushra-done", ratings_per_sample=2)
        rate_with(cls.mushra, mushra_scores(), mushra_scores(less=5))  # every page by two raters
        acr_samples = make_samples(set_name="set-acr-half")
        cls.acr = build_test("acr-half", samples=acr_samples, samples_per_session=6)
        rate_with(cls.acr, by_sample(per_sample(acr_samples, ACR_BASE)))
        cmos_samples = make_samples(set_name="set-cmos-done")
        cls.cmos = build_test(
            "cmos-done", samples=cmos_samples, scale=None, method="cmos", samples_per_session=3
        )
        rate_with(cls.cmos, warmth(dict.fromkeys(SENTENCES, 1)), warmth(dict.fromkeys(SENTENCES, 2)))
        ab_samples = make_samples(sentences=FOUR, set_name="set-ab-half")
        cls.ab = build_test("ab-half", samples=ab_samples, scale=None, method="ab", samples_per_session=4)
        rate_with(cls.ab, warmth(dict.fromkeys(FOUR, 1)))  # four pairs and one repeat
        # (collected, target): MUSHRA 3 pages × 2 raters; ACR one rater of 6 clips × 2; CMOS 3 pairs × 2;
        # A/B one rater of 4 pairs × 2, the repeat uncounted.
        cls.expected = {"mushra-done": (6, 6), "acr-half": (6, 12), "cmos-done": (6, 6), "ab-half": (4, 8)}

    def test_a_finished_mushra_test_reads_100_percent_on_its_dashboard_and_its_report(self):
        progress = results_services.test_results(self.mushra)["progress"]
        self.assertEqual(
            (progress["collected"], progress["target"], progress["percent"], progress["clips_complete"]),
            (6, 6, 100.0, 3),
        )
        line = "6 of 6 ratings collected (100.0%) · 3 of 3 pages have their 2 ratings"
        dashboard = self.client.get(reverse("results:test", args=[self.mushra.pk]))
        self.assertIn(line, page_text(dashboard))
        report = self.client.get(reverse("results:test_report", args=[self.mushra.pk]))
        self.assertIn(line, page_text(report))

    def test_the_test_list_and_the_results_index_show_each_tests_dashboard_counts(self):
        listed = collected_column(self.client.get(reverse("annotations:test_list")))
        indexed = collected_column(self.client.get(reverse("results:index")))
        for test in (self.mushra, self.acr, self.cmos, self.ab):
            progress = results_services.test_results(test)["progress"]
            counts = f"{progress['collected']} / {progress['target']}"
            self.assertEqual((progress["collected"], progress["target"]), self.expected[test.name], test.name)
            self.assertEqual(listed[test.name], counts, test.name)
            self.assertEqual(indexed[test.name], counts, test.name)
            report = self.client.get(reverse("results:test_report", args=[test.pk]))
            self.assertIn(
                f"{progress['collected']} of {progress['target']} ratings collected", page_text(report)
            )

    def test_a_mushra_tests_hidden_reference_and_anchor_get_no_per_clip_score(self):
        held = dict(self.mushra.test_samples.values_list("sample_id", "role"))
        scores = results_services.human_scores(
            list(held), tests=ListeningTest.objects.filter(pk=self.mushra.pk)
        )
        self.assertTrue(scores)
        self.assertEqual({held[sample] for sample in scores}, {""})  # conditions only
        self.assertEqual(set(held.values()), {"", "reference", "anchor"})
