"""Store a latency run (W warm-ups, N timed conversation turns, serial) and print its percentile table."""

from django.core.management.base import BaseCommand, CommandError

from synthesis.management.following import cell, ms, start_and_follow
from synthesis.models import SentenceSet, SpeechDataset, SynthesisRun
from synthesis.results import latency
from synthesis.run_modes import latency as latency_mode


class Command(BaseCommand):
    help = (
        "Time N conversation turns after W warm-ups in one idle process; print P50/P90/P99 and the raw floor."
    )

    def add_arguments(self, parser):
        parser.add_argument("--config", default="piper-joe", help="Pipeline configuration name.")
        parser.add_argument("--iterations", type=int, default=100)
        parser.add_argument("--warmup", type=int, default=5)
        parser.add_argument(
            "--prompts",
            default="2s",
            help=(
                "'2s' (the design's 2-second input), a sentence set's name (spoken by the configuration's "
                "voice) or a speech dataset's (recorded prompts, identical for every configuration: "
                "scripts/spoken_prompts.py freezes a sentence set as one); 'set:NAME' or 'dataset:NAME' "
                "when both have the name."
            ),
        )
        parser.add_argument(
            "--baseline-run",
            type=int,
            help=(
                "A finished latency run on the same prompts: the paired difference in WER of the streamed "
                "turns' own transcripts (this run minus that one) with its bootstrap CI."
            ),
        )
        parser.add_argument(
            "--streaming",
            choices=latency_mode.STREAMING_CHOICES,
            default="all",
            help=(
                "plain: the whole prompt handed over at once (the design's measurement); off / on: the "
                "prompt heard live, chunk by chunk, without / with streaming; both: off and on; all: plain, "
                "off and on, one after the other on each input (default)."
            ),
        )
        parser.add_argument(
            "--in-process", action="store_true", help="Run here instead of in a Celery worker."
        )

    def handle(self, *args, **opts):
        prompts = None if opts["prompts"] == "2s" else named_prompts(opts["prompts"])
        baseline = None
        if opts["baseline_run"] is not None:
            baseline = SynthesisRun.objects.filter(pk=opts["baseline_run"], mode=latency_mode.KEY).first()
            if baseline is None:
                raise CommandError(f"No latency run {opts['baseline_run']}.")
        try:
            plan = latency_mode.latency_plan(
                count=opts["iterations"], warmup=opts["warmup"], prompts=prompts, streaming=opts["streaming"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        run = start_and_follow(
            self,
            name=f"Latency {opts['prompts']} × {opts['iterations']} (streaming {opts['streaming']})",
            config_name=opts["config"],
            mode=latency_mode.LATENCY.key,
            plan=plan,
            in_process=opts["in_process"],
        )
        self.report(run)
        if baseline is not None:
            self.report_paired_wer(baseline, run)

    def report_paired_wer(self, baseline: SynthesisRun, run: SynthesisRun) -> None:
        d = latency.paired_prompt_wer(baseline, run)
        self.stdout.write(
            f"\nStreamed turns' own transcripts, run {run.pk} ({run.config.name}) against run {baseline.pk} "
            f"({baseline.config.name}), {d['n']} prompts heard by both ({d['method']}):"
        )
        if d["difference"] is None:
            self.stdout.write("  no prompt was heard in both runs' counted streamed turns.")
            return
        self.stdout.write(
            f"  WER {100 * d['rate_b']:.2f} % against {100 * d['rate_a']:.2f} %: difference "
            f"{100 * d['difference']:+.2f} points, 95 % CI [{100 * d['low']:+.2f}, {100 * d['high']:+.2f}]"
        )

    def report(self, run: SynthesisRun) -> None:
        s = latency.latency_summary(run)
        kinds = {entry["kind"] for entry in run.benchmark.get("plan", [])} or {"latency"}
        self.stdout.write(
            f"\nOn {s['cpu']} (threads: {s['threads']}): {s['warmups'] // len(kinds)} warm-up turn(s) of "
            f"each kind, stored, not counted; waited {s['idle_wait_s'] or 0:.1f} s for an idle machine; "
            f"{s['contended']} contended."
        )
        self.stdout.write(f"Percentiles: {s['percentile_method']}. Times in ms.")
        if s["iterations"]:
            self.stdout.write(
                f"\nPlain: {s['iterations']} counted. The whole prompt handed to STT at once, no "
                "end-of-speech detection; 'raw P50' is the same library calls made directly."
            )
            self.table(s["stages"], floor="raw P50")
            for rate in s["rates"]:
                digits = 1 if rate["name"] == "llm_tokens_per_s" else 3
                mean, p50 = (cell(rate[key], digits) for key in ("mean", "p50"))
                self.stdout.write(f"{rate['label']:<40} mean {mean}  P50 {p50}")
        streamed = latency.streaming_summary(run)
        if streamed:
            self.report_streaming(streamed)

    def table(self, stages: list[dict], *, floor: str | None) -> None:
        """mean/P50/P90/P99/max per stage, with the floor's P50 and the ratio when `floor` names it."""
        head = "{:<40} {:>8} {:>8} {:>8} {:>8} {:>8}".format("stage", "mean", "P50", "P90", "P99", "max")
        self.stdout.write(head + (f" {floor:>9} {'ratio':>6}" if floor else ""))
        for st in stages:
            line = f"{st['label']:<40} " + " ".join(
                f"{ms(st[key]):>8}" for key in ("mean", "p50", "p90", "p99", "max")
            )
            if floor:
                ratio = "–" if st["ratio"] is None else f"{st['ratio']:.3f}"
                line += f" {ms(st['floor_p50']):>9} {ratio:>6}"
            self.stdout.write(line)

    def report_streaming(self, s: dict) -> None:
        self.stdout.write(
            f"\nLive turns: the prompt arrives in real time, chunk by chunk; settings {s['settings']}.\n"
            "Clock: from the true end of speech (the prompt's last voiced sample) unless a row says "
            "'decision'."
        )
        if s["unstreamed_iterations"]:
            self.stdout.write(
                f"\nWithout streaming: {s['unstreamed_iterations']} counted. The same detector and "
                "hang-over; after the decision Whisper on the whole prompt (30 s window), the LLM's "
                "first full sentence to TTS, played once synthesised."
            )
            self.table(s["unstreamed_stages"], floor=None)
        wer = {
            key: "–" if s[key] is None else f"{s[key]:.2%}"
            for key in ("wer_plain", "wer_unstreamed", "wer_streamed")
        }
        self.stdout.write(
            f"STT word error rate on the prompts: plain {wer['wer_plain']}, without streaming "
            f"{wer['wer_unstreamed']}, streamed {wer['wer_streamed']}."
        )
        if s["iterations"]:
            self.report_streamed(s)

    def report_streamed(self, s: dict) -> None:
        self.stdout.write(
            f"\nStreamed: {s['iterations']} counted. Floor: the raw library calls on the critical path "
            "after the end of speech (STT pass, LLM to its first clause, TTS of that clause) plus the "
            "hang-over they do not overlap, timed in the same iteration."
        )
        self.table(s["stages"], floor="floor P50")
        hit = "–" if s["hit_rate"] is None else f"{s['hit_rate']:.3f}"
        self.stdout.write(
            f"Speculations: {s['speculations']} started, {s['wrong_speculations']} wrong (discarded); "
            f"hit rate {hit}."
        )
        if s["settings"].get("tts_first_clause_max_words"):
            self.stdout.write(
                f"First clauses cut at {s['settings']['tts_first_clause_max_words']} words (no punctuation "
                f"before): {s['first_clauses_cut']} of {s['iterations']}."
            )
        targets, meets = s["targets"], s["meets"]
        if s["plain_iterations"]:
            self.stdout.write(
                f"For information: streamed P50 ÷ plain P50 ({ms(s['plain_first_audio_p50'])} ms, the whole "
                f"prompt handed over at the true end, no detection): {s['ratio_to_plain']:.3f}."
            )
        lines = [
            (
                f"streamed P50 ≤ {targets['ratio_to_unstreamed']}× P50 without streaming "
                f"({ms(s['unstreamed_first_audio_p50'])} ms)",
                s["ratio_to_unstreamed"],
                meets["ratio_to_unstreamed"],
            ),
            (
                f"streamed P50 ≤ {targets['ratio_to_floor']}× floor P50",
                s["ratio_to_floor"],
                meets["ratio_to_floor"],
            ),
        ]
        for label, ratio, met in lines:
            if ratio is None:
                self.stdout.write(f"Target {label}: not measured")
            else:
                self.stdout.write(f"Target {label}: ratio {ratio:.3f}: {'met' if met else 'MISSED'}")
        first = s["stages"][0]
        for key, figure in (("p50_ms", "p50"), ("p99_ms", "p99")):
            self.stdout.write(
                f"Target (faster machines) {figure.upper()} ≤ {targets[key]} ms: {ms(first[figure])} ms: "
                f"{'met' if meets[key] else 'MISSED'}"
            )


def named_prompts(name: str) -> list:
    """A sentence set's sentences, or a speech dataset's recorded prompts (see --prompts)."""
    kind, _, bare = name.partition(":") if name.startswith(("set:", "dataset:")) else ("", "", name)
    sentence_set = SentenceSet.objects.filter(name=bare).first() if kind in ("", "set") else None
    dataset = SpeechDataset.objects.filter(name=bare).first() if kind in ("", "dataset") else None
    if sentence_set and dataset:
        raise CommandError(
            f"Both a sentence set and a speech dataset are named {bare!r}: say set:{bare} or dataset:{bare}."
        )
    if sentence_set:
        return list(sentence_set.sentences.order_by("position").values_list("text", "language"))
    if dataset:
        prompts = latency_mode.spoken_prompts(dataset)
        if not prompts:
            raise CommandError(f"Speech dataset {bare!r} has no utterances.")
        return prompts
    raise CommandError(f"No sentence set or speech dataset named {bare!r}.")
