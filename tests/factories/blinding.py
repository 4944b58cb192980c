"""Samples named with secrets, and what a page an evaluator reaches may hold: no secret, no role, only
opaque URLs."""

import re

from synthesis.models import Sample, StylePreset, SynthesisRun
from tests.factories.samples import make_config, make_sample, make_sentence_set

# Every name secret_samples() gives, and what the blinding tests' listening tests hold: their name, their
# description and the kinds of their gold and trapping clips.
SECRETS = [
    "SYSTEM-SECRET-X",
    "SYSTEM-SECRET-Y",
    "style-secret-calm",
    "style-secret-bright",
    "Zebras quietly debate",
    "Walruses loudly agree",
    "Otters calmly listen",
    "set-secret",
    "RUN-SECRET-NAME",
    "cfg-secret",
    "original-secret-file",
    "mos-secret-test",
    "DESCRIPTION-SECRET",
    "gold",
    "trap",
]
# Every URL in a page must be one of these: opaque tokens and static files, no ids or names.
ALLOWED_URL = re.compile(
    r"^(/t/i/[A-Za-z0-9_-]{22}/((consent|check|training|rate|finish)/|check\.wav(\?n=\d+)?|a/[A-Za-z0-9_-]{22}\.wav(\?play=\d+)?)?"
    r"|/static/(css/site|css/rate|js/rate|js/answer|js/marks|js/pair|js/transcribe|js/mushra|js/once|js/copy)\.(css|js)"
    r"|/static/favicon\.svg)$"
)
# Markup that would tell a pair's X clip from its Y clip.
ROLE_MARKERS = ["data-role", 'data-clip="X"', 'data-clip="Y"', 'role="X"', 'role="Y"', ">X<", ">Y<"]


def secret_samples() -> tuple[list[Sample], SynthesisRun]:
    """Three sentences, each by two systems in two styles, every name a secret: four samples a sentence."""
    sentence_set = make_sentence_set(
        name="set-secret",
        texts=("Zebras quietly debate.", "Walruses loudly agree.", "Otters calmly listen."),
    )
    styles = [StylePreset.objects.create(name=name) for name in ("style-secret-calm", "style-secret-bright")]
    run = SynthesisRun.objects.create(name="RUN-SECRET-NAME", config=make_config("cfg-secret"))
    samples = []
    for sentence in sentence_set.sentences.all():
        for style in styles:
            for system in ("SYSTEM-SECRET-X", "SYSTEM-SECRET-Y"):
                sample = make_sample(
                    system_label=system,
                    style_name=style.name,
                    sentence=sentence,
                    source_name="original-secret-file.wav",
                )
                Sample.objects.filter(pk=sample.pk).update(run=run)
                samples.append(sample)
    return samples, run
