"""Data for a fault test's temporary installation, created inside it:
`manage.py shell -c "from tests.faults.seed import listening_test; print(listening_test(clips=4))"`.
"""

from django.core.files.base import ContentFile

from annotations import services
from annotations.models import Scale
from tests.factories import make_sample, make_sentence_set, tone_wav

# Short enough that an evaluator session of many clips takes seconds, long enough to be waited for.
CLIP_S = 0.3


def listening_test(*, clips: int, name: str = "faults") -> str:
    """An open ACR test of `clips` tone clips and one invited evaluator; returns their invite token.

    Every clip is in the evaluator's session (so no practice clips are left over) and the headphone
    screen is one trial, so the session is consent, one check, then the ratings.
    """
    sentence_set = make_sentence_set(name=name, texts=tuple(f"Fault sentence {n}." for n in range(clips)))
    samples = []
    for index, sentence in enumerate(sentence_set.sentences.order_by("position")):
        sample = make_sample(sentence=sentence)
        sample.audio.save(
            "clip.wav", ContentFile(tone_wav(seconds=CLIP_S, freq=200 + 30 * index)), save=False
        )
        sample.duration_s = CLIP_S
        sample.save()
        samples.append(sample)
    test = services.create_test(
        name=name,
        samples=samples,
        scale=Scale.objects.get(name="acr-en"),
        ratings_per_sample=1,
        samples_per_session=clips,
        screen_trials=1,
        screen_pass_mark=1,
    )
    return services.invite_evaluators(test=test, count=1)[0].token
