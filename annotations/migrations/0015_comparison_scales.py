"""The scales of the pair methods: CCR (ITU-T P.800 Annex E, -3..+3) for CMOS and -1..+1 for A/B."""

from django.db import migrations

SCALES = [
    {
        "name": "ccr-en",
        "title": "Compared with the first sample, the second is:",
        "language": "en",
        "min_value": -3,
        "max_value": 3,
        "labels": [
            "Much worse",
            "Worse",
            "Slightly worse",
            "About the same",
            "Slightly better",
            "Better",
            "Much better",
        ],
    },
    {
        "name": "ccr-es",
        "title": "En comparación con la primera muestra, la segunda es:",
        "language": "es",
        "min_value": -3,
        "max_value": 3,
        "labels": [
            "Mucho peor",
            "Peor",
            "Algo peor",
            "Más o menos igual",
            "Algo mejor",
            "Mejor",
            "Mucho mejor",
        ],
    },
    {
        "name": "ab-en",
        "title": "Which sample do you prefer?",
        "language": "en",
        "min_value": -1,
        "max_value": 1,
        "labels": ["A", "No preference", "B"],
    },
    {
        "name": "ab-es",
        "title": "¿Qué muestra prefiere?",
        "language": "es",
        "min_value": -1,
        "max_value": 1,
        "labels": ["A", "Sin preferencia", "B"],
    },
]


def create_scales(apps, schema_editor):
    Scale = apps.get_model("annotations", "Scale")
    for scale in SCALES:
        Scale.objects.get_or_create(name=scale["name"], defaults=scale)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0014_pair_tests_repeats_and_no_preference")]
    operations = [migrations.RunPython(create_scales, migrations.RunPython.noop)]
