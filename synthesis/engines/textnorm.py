"""Text normalisation applied to both reference and ASR transcript before WER/CER.

The same function runs on both sides, so a rule only has to map the written and the
spoken form of something to one string ("Dr." and "doctor" -> "doctor"); it never has
to be "correct" English.

"english" (after Whisper's EnglishTextNormalizer), in this order:
1. NFKC; "1,000" -> "1000"; "3.5" -> "3 point 5"; "%" -> "percent"; "&" -> "and".
2. basic: casefold, punctuation and symbols to spaces (apostrophes inside words kept).
3. Per word: titles and abbreviations spelled out (_ABBREVIATIONS: mr -> mister, st -> saint,
   ...), contractions expanded (_CONTRACTIONS, then n't/'re/'ve/'ll/'m/'d; "'s" is left alone
   as it may be "is", "has" or a possessive), fillers dropped (_FILLERS: uh, um, hmm, ...).
4. Runs of cardinal number words to digits ("twenty five" -> "25", "a hundred and one" -> "101").
5. Accents removed ("café" -> "cafe").
Unlike Whisper it does not delete bracketed text (a TTS script may say it aloud), convert
British spellings, ordinals, currencies or years read in pairs ("nineteen ninety" -> "19 90").
"""

import re
import unicodedata

import jiwer

METHODS = ("none", "basic", "english")

NORMALISATION_DESCRIPTIONS: dict[str, str] = {
    "none": "Text compared exactly as written: case, punctuation and spacing all count as differences.",
    "basic": (
        "Case-folded and Unicode NFKC-normalised; punctuation and symbols removed (accented letters and "
        "apostrophes inside words kept); whitespace collapsed."
    ),
    "english": (
        "Basic, plus Whisper-style English rules: titles and abbreviations spelled out (Dr. -> doctor), "
        "contractions expanded (don't -> do not), fillers (uh, um) dropped, spelled-out cardinal numbers "
        "written as digits, % and & spelled out, accents removed."
    ),
}

# Straight and typographic apostrophes all count as one character.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_INNER_APOSTROPHE = re.compile(r"(?<=\w)'(?=\w)")

# The titles Whisper's EnglishTextNormalizer expands, plus a few common ones.
_ABBREVIATIONS = {
    "mr": "mister",
    "mrs": "missus",
    "ms": "miss",
    "dr": "doctor",
    "prof": "professor",
    "assoc": "associate",
    "asst": "assistant",
    "jr": "junior",
    "sr": "senior",
    "st": "saint",
    "capt": "captain",
    "col": "colonel",
    "lt": "lieutenant",
    "gen": "general",
    "gov": "governor",
    "sen": "senator",
    "rep": "representative",
    "pres": "president",
    "rev": "reverend",
    "hon": "honorable",
    "ald": "alderman",
    "esq": "esquire",
    "vs": "versus",
    "etc": "et cetera",
}

# Irregular contractions first; the regular suffixes are handled by _CONTRACTION_SUFFIXES.
_CONTRACTIONS = {
    "won't": "will not",
    "can't": "can not",
    "cannot": "can not",
    "shan't": "shall not",
    "ain't": "aint",
    "let's": "let us",
    "y'all": "you all",
    "ma'am": "madam",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "got to",
}
_CONTRACTION_SUFFIXES = (
    ("n't", " not"),
    ("'re", " are"),
    ("'ve", " have"),
    ("'ll", " will"),
    ("'m", " am"),
    ("'d", " would"),
)
_FILLERS = frozenset({"hmm", "mm", "mmm", "mhm", "uh", "um", "er", "erm"})

_UNIT_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS_WORDS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_UNITS = {word: value for value, word in enumerate(_UNIT_WORDS)}
_TENS = {word: 10 * (i + 2) for i, word in enumerate(_TENS_WORDS)}
_SCALES = {"thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}


def _is_english(language: str) -> bool:
    return language.lower().replace("_", "-").split("-")[0] == "en"


def default_method(language: str) -> str:
    """The normalisation used unless a test says otherwise: English rules for English only."""
    return "english" if _is_english(language) else "basic"


# The method for English; other languages get default_method(language).
DEFAULT_METHOD = default_method("en")


def normalize(text: str, method: str, language: str = "en") -> str:
    """Normalise text for WER with one of METHODS; "english" falls back to "basic" for other languages."""
    if method not in METHODS:
        raise ValueError(f"unknown normalisation method {method!r}; expected one of {METHODS}")
    if method == "none":
        return text
    if method == "english" and _is_english(language):
        return _english(text)
    return _basic(text)


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
        "method": method,
        "reference_normalised": ref,
        "hypothesis_normalised": hyp,
    }


def _basic(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    # Protect apostrophes between letters ("it's", "l'eau") before every other symbol goes.
    text = _INNER_APOSTROPHE.sub("\0", text)
    kept = [ch if ch == "\0" or unicodedata.category(ch)[0] in "LNM" else " " for ch in text]
    return " ".join("".join(kept).replace("\0", "'").split())


def _english(text: str) -> str:
    """Basic normalisation plus the English rules described in NORMALISATION_DESCRIPTIONS."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    # Written numbers keep their value once punctuation goes: "1,000" -> "1000", "3.5" -> "3 point 5".
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"(?<=\d)\.(?=\d)", " point ", text)
    text = text.replace("%", " percent ").replace("&", " and ")
    tokens: list[str] = []
    for token in _basic(text).split():
        tokens.extend(_expand_token(token))
    tokens = _words_to_digits([t for t in tokens if t not in _FILLERS])
    return _strip_accents(" ".join(tokens))


def _expand_token(token: str) -> list[str]:
    if token in _ABBREVIATIONS:
        return _ABBREVIATIONS[token].split()
    if token in _CONTRACTIONS:
        return _CONTRACTIONS[token].split()
    for suffix, replacement in _CONTRACTION_SUFFIXES:
        if token.endswith(suffix) and len(token) > len(suffix):
            return (token[: -len(suffix)] + replacement).split()
    return [token]


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _words_to_digits(tokens: list[str]) -> list[str]:
    """Replace each run of cardinal number words ("twenty five", "one hundred and two") by digits."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        value, end = _read_cardinal(tokens, i)
        if end == i:
            out.append(tokens[i])
            i += 1
        else:
            out.append(str(value))
            i = end
    return out


def _read_cardinal(tokens: list[str], start: int) -> tuple[int, int]:
    """Parse one well-formed cardinal at tokens[start:]; return (value, end), end == start if none.

    A word that cannot continue the number ("nineteen ninety", "five six") ends it, so such
    runs become separate numbers ("19 90", "5 6") on both sides alike.
    """
    total, current, last, scale = 0, 0, "", 0
    end = j = start
    while j < len(tokens):
        word = tokens[j]
        if word == "and" and last in ("hundred", "scale") and j + 1 < len(tokens):
            if tokens[j + 1] in _UNITS or tokens[j + 1] in _TENS:
                j += 1
                continue
            break
        if word == "a" and j == start and j + 1 < len(tokens) and tokens[j + 1] in ("hundred", *_SCALES):
            current, last = 1, "unit"  # "a hundred" is 100, like "one hundred"
        elif word in _UNITS:
            # A unit may follow a tens word ("twenty five") but not another unit or a teen.
            if last == "unit" or (last == "tens" and not 0 < _UNITS[word] < 10):
                break
            current, last = current + _UNITS[word], "unit"
        elif word in _TENS:
            if last in ("unit", "tens"):
                break
            current, last = current + _TENS[word], "tens"
        elif word == "hundred":
            if last not in ("unit", "tens") or current >= 100:
                break
            current, last = current * 100, "hundred"
        elif word in _SCALES:
            if current == 0 or (scale and _SCALES[word] >= scale):
                break
            total, current, last, scale = total + current * _SCALES[word], 0, "scale", _SCALES[word]
        else:
            break
        j += 1
        end = j
    return total + current, end
