"""Workflows across synthesis models. The only module that enqueues synthesis tasks."""

from django.db import transaction

from synthesis.importing import parse_sentence_file
from synthesis.models import Sentence, SentenceSet


@transaction.atomic
def import_sentences(
    *, name: str, data: bytes, filename: str, language: str = "en", description: str = ""
) -> SentenceSet:
    """Create a sentence set from a UTF-8 text or CSV file; nothing is saved if any line is bad."""
    parsed = parse_sentence_file(data, filename=filename, default_language=language)
    sentence_set = SentenceSet.objects.create(name=name, description=description)
    Sentence.objects.bulk_create(
        Sentence(sentence_set=sentence_set, position=p.line, text=p.text, language=p.language, tags=p.tags)
        for p in parsed
    )
    return sentence_set
