"""Tokens per second of the installed llama-cpp-python on the bundled SmolLM2: a build comparison.

Usage: .venv/bin/python scripts/llm_speed.py [--threads 2] [--repeats 5]
Put another build first on PYTHONPATH to measure it on the same machine in the same way.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from synthesis.engines import models  # noqa: E402
from synthesis.engines.selftest import llama_build_flags  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=20)
    args = parser.parse_args()
    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(models.resolve_llm_model(models.SMOLLM2_NAME)),
        n_ctx=512,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
    )
    prompt = "Once upon a time, in a small village by the sea,"
    llm.create_completion(prompt, max_tokens=4, temperature=0.0)  # warm-up
    rates, seconds = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        out = llm.create_completion(prompt, max_tokens=args.tokens, temperature=0.0)
        elapsed = time.perf_counter() - started
        rates.append(out["usage"]["completion_tokens"] / elapsed)
        seconds.append(elapsed)
    print(f"llama_cpp {llama_cpp.__version__} from {Path(llama_cpp.__file__).parent}")
    print(f"build flags: {llama_build_flags()}")
    print("| threads | tokens | median ms | median tokens/s | min tokens/s | max tokens/s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.threads} | {args.tokens} | {statistics.median(seconds) * 1000:.0f} | "
        f"{statistics.median(rates):.1f} | {min(rates):.1f} | {max(rates):.1f} |"
    )
    del llm


if __name__ == "__main__":
    main()
