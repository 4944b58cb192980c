"""Store an LLM-speed run (warm-up, the design's prompts, context scaling) and print its tables."""

from django.core.management.base import BaseCommand

from synthesis.management.following import ms, start_and_follow
from synthesis.results import latency
from synthesis.run_modes import llm_speed


class Command(BaseCommand):
    help = "Time the design's five prompts after a warm-up (n_ctx 512, 20 tokens) and each context length."

    def add_arguments(self, parser):
        parser.add_argument("--config", default="piper-joe", help="Pipeline configuration name (its LLM).")
        parser.add_argument(
            "--in-process", action="store_true", help="Run here instead of in a Celery worker."
        )

    def handle(self, *args, **opts):
        run = start_and_follow(
            self,
            name="LLM speed",
            config_name=opts["config"],
            mode=llm_speed.LLM_SPEED.key,
            plan=llm_speed.llm_plan(),
            in_process=opts["in_process"],
        )
        s = latency.llm_summary(run)
        self.stdout.write(
            f"\nn_ctx {s['n_ctx']}, max {s['max_tokens']} tokens, "
            f"warm-up {s['warmup_prompt']!r} not counted; "
            f"{s['cpu']} (threads: {s['threads']})."
        )
        self.stdout.write("{:<30} {:>9} {:>7} {:>9}".format("prompt", "ms", "tokens", "tok/s"))
        for p in s["prompts"]:
            self.stdout.write(
                f"{p['prompt']:<30.30} {ms(p['llm_ms']):>9} {p['llm_tokens']:>7} "
                f"{ms(p['llm_tokens_per_s']):>9}"
            )
        self.stdout.write(f"Mean tokens {ms(s['mean_tokens'])}, overall {ms(s['tokens_per_s'])} tokens/s.\n")
        self.stdout.write("{:>14} {:>9} {:>16}".format("prompt tokens", "ms", "first token ms"))
        for c in s["contexts"]:
            self.stdout.write(
                f"{c['prompt_tokens']:>14} {ms(c['llm_ms']):>9} {ms(c['llm_first_token_ms']):>16}"
            )
