"""A run's results page: the pipeline's own analysis (synthesis.results.run_analysis) and, beside it,
what listeners said of the same samples: DNSMOS against the human MOS of each listening test.
"""

from collections import defaultdict

import numpy as np

from annotations.results import services
from synthesis.models import SynthesisRun
from synthesis.results import run_analysis, stats


def run_results(run: SynthesisRun, *, method: str | None = None) -> dict:
    """run_analysis.run_results with the DNSMOS vs human MOS blocks ("dnsmos")."""
    data = run_analysis.run_results(run, method=method)
    data["dnsmos"] = dnsmos_vs_human(data.pop("samples"))
    return data


def dnsmos_vs_human(samples: list[dict]) -> dict:
    """Pearson/Spearman of DNSMOS with the human MOS of each sample, per listening test that rated the
    samples with absolute category ratings (a MOS): one block per test, never pooled across tests or
    scales; pair, MUSHRA and transcription tests give no MOS and are left out."""
    by_id = {s["id"]: s for s in samples if s["dnsmos_p808"] is not None}
    blocks: dict[str, dict] = {}
    for sample_id, scores in services.human_scores(list(by_id), mos=True).items():
        for score in scores:
            block = blocks.setdefault(score.test, {"score": score, "pairs": []})
            block["pairs"].append((by_id[sample_id], score.score))
    return {"tests": [_dnsmos_block(block["score"], block["pairs"]) for block in blocks.values()]}


def _dnsmos_block(score: services.HumanScore, paired: list[tuple[dict, float]]) -> dict:
    mos = [value for _, value in paired]
    by_style: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for sample, value in paired:
        by_style[sample["style_label"]].append((sample["dnsmos_p808"], value))
    means = {style: np.mean(pairs, axis=0).tolist() for style, pairs in sorted(by_style.items())}
    points = [(s["dnsmos_p808"], m, f"sample {s['id']} · {s['style_label']}") for s, m in paired]
    ovrl = [np.nan if s["dnsmos_ovrl"] is None else s["dnsmos_ovrl"] for s, _ in paired]
    style_dnsmos, style_human = [d for d, _ in means.values()], [h for _, h in means.values()]
    return {
        "test": score.test,
        "scale": score.scale,
        "scale_range": (score.scale_min, score.scale_max),
        "dimension": score.dimension,
        "points": points,
        "table": [
            ("DNSMOS P.808, per sample", stats.correlation([s["dnsmos_p808"] for s, _ in paired], mos)),
            ("DNSMOS P.835 OVRL, per sample", stats.correlation(ovrl, mos)),
            ("DNSMOS P.808, per condition (style means)", stats.correlation(style_dnsmos, style_human)),
        ],
        "conditions": [{"style": style, "dnsmos": d, "human": h} for style, (d, h) in means.items()],
    }
