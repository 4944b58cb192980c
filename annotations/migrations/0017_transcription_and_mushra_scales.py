"""The scales of the new methods: MUSHRA's 0 to 100 (ITU-R BS.1534) and intelligibility's one point.

A MUSHRA score's label is its BS.1534 band (Bad 0-19, Poor 20-39, Fair 40-59, Good 60-79,
Excellent 80-100); the page draws the bands from the labels. The transcription scale holds the
question an intelligibility page asks and no score (answers are typed text).
"""

from django.db import migrations


def bands(names: list[str]) -> list[str]:
    """One label per score 0..100: the band it falls in, five bands of 20 (100 is in the top one)."""
    return [names[min(score // 20, 4)] for score in range(101)]


SCALES = [
    {
        "name": "mushra-en",
        "title": "Rate the quality of each sample",
        "language": "en",
        "min_value": 0,
        "max_value": 100,
        "labels": bands(["Bad", "Poor", "Fair", "Good", "Excellent"]),
    },
    {
        "name": "mushra-es",
        "title": "Puntúe la calidad de cada muestra",
        "language": "es",
        "min_value": 0,
        "max_value": 100,
        "labels": bands(["Malo", "Pobre", "Regular", "Bueno", "Excelente"]),
    },
    {
        "name": "transcription-en",
        "title": "Type the words you heard",
        "language": "en",
        "min_value": 0,
        "max_value": 0,
        "labels": ["Typed"],
    },
    {
        "name": "transcription-es",
        "title": "Escriba las palabras que ha oído",
        "language": "es",
        "min_value": 0,
        "max_value": 0,
        "labels": ["Escrito"],
    },
]


def create_scales(apps, schema_editor):
    Scale = apps.get_model("annotations", "Scale")
    for scale in SCALES:
        Scale.objects.get_or_create(name=scale["name"], defaults=scale)


def delete_scales(apps, schema_editor):
    # Going back past 0016 brings back the rule that a scale has two points or more.
    Scale = apps.get_model("annotations", "Scale")
    Scale.objects.filter(name__in=[scale["name"] for scale in SCALES]).delete()


class Migration(migrations.Migration):
    dependencies = [("annotations", "0016_intelligibility_and_mushra")]
    operations = [migrations.RunPython(create_scales, delete_scales)]
