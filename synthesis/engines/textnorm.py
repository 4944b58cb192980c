"""Text normalisation applied to both reference and ASR transcript before WER/CER.

The standard Whisper normalisers (whisper-normalizer, the code of the Whisper paper's appendix C,
as the public ASR leaderboards use it) so that figures compare with published ones:
"english" is EnglishTextNormalizer, "basic" is BasicTextNormalizer (for languages other than
English), "none" compares the text as written. The project's earlier hand-written approximation
is retired: the TTS round trip needs no rule of its own, since both sides go through the same
normaliser.
"""

import functools

import jiwer
from whisper_normalizer.basic import BasicTextNormalizer
from whisper_normalizer.english import EnglishTextNormalizer

METHODS = ("none", "basic", "english")

NORMALISATION_DESCRIPTIONS: dict[str, str] = {
    "none": "Text compared exactly as written: case, punctuation and spacing all count as differences.",
    "basic": (
        "Whisper's BasicTextNormalizer (whisper-normalizer 0.1.15): lower-cased, text in brackets or "
        "parentheses removed, punctuation, symbols and marks replaced by spaces (NFKC), whitespace collapsed."
    ),
    "english": (
        "Whisper's EnglishTextNormalizer (whisper-normalizer 0.1.15): basic, plus fillers (uh, um) and "
        "bracketed text dropped, titles spelled out (Mr. -> mister), contractions expanded, numbers and "
        "currencies written as digits, British spellings made American, accents removed. English only: "
        "other languages get the basic normaliser."
    ),
}


@functools.cache
def _whisper_normaliser(method: str):
    return EnglishTextNormalizer() if method == "english" else BasicTextNormalizer()


def _is_english(language: str) -> bool:
    return language.lower().replace("_", "-").split("-")[0] == "en"


def default_method(language: str) -> str:
    """The normalisation used unless a test says otherwise: English rules for English only."""
    return "english" if _is_english(language) else "basic"


# The method for English; other languages get default_method(language).
DEFAULT_METHOD = default_method("en")


def effective_method(method: str, language: str) -> str:
    """The method actually applied: the English normaliser is for English only, others get "basic"."""
    if method not in METHODS:
        raise ValueError(f"unknown normalisation method {method!r}; expected one of {METHODS}")
    return "basic" if method == "english" and not _is_english(language) else method


def normalize(text: str, method: str, language: str = "en") -> str:
    """Normalise text for WER with one of METHODS (see effective_method for other languages)."""
    method = effective_method(method, language)
    if method == "none":
        return text
    # The Whisper normalisers collapse inner whitespace but may leave a space at either end.
    return _whisper_normaliser(method)(text).strip()


def utterance_errors(reference: str, hypothesis: str, *, method: str, language: str) -> dict:
    """WER, CER and edit counts of one utterance after normalising both sides.

    A reference that is empty after normalisation follows jiwer 4: WER is the number of
    inserted words (0 when the hypothesis is empty too), CER the number of inserted
    characters, so silence read correctly is error-free and anything else counts in full.
    """
    ref = normalize(reference, method, language)
    hyp = normalize(hypothesis, method, language)
    words = jiwer.process_words(ref, hyp)
    chars = jiwer.process_characters(ref, hyp)
    return {
        "wer": float(words.wer),
        "cer": float(chars.cer),
        "substitutions": words.substitutions,
        "deletions": words.deletions,
        "insertions": words.insertions,
        "hits": words.hits,
        "ref_words": words.hits + words.substitutions + words.deletions,
        "char_hits": chars.hits,
        "char_substitutions": chars.substitutions,
        "char_deletions": chars.deletions,
        "char_insertions": chars.insertions,
        "ref_chars": chars.hits + chars.substitutions + chars.deletions,
        "method": effective_method(method, language),
        "reference_normalised": ref,
        "hypothesis_normalised": hyp,
    }
