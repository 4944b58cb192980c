from django.db import migrations

SCALES = [
    {
        "name": "acr-en",
        "title": "Overall quality of the speech",
        "language": "en",
        "labels": ["Bad", "Poor", "Fair", "Good", "Excellent"],
    },
    {
        "name": "acr-es",
        "title": "Calidad global del habla",
        "language": "es",
        "labels": ["Mala", "Mediocre", "Regular", "Buena", "Excelente"],
    },
    {
        "name": "naturalness-en",
        "title": "How natural does the voice sound?",
        "language": "en",
        "labels": [
            "Very artificial",
            "Robotic but intelligible",
            "Natural but clearly synthetic",
            "Very natural, small artifacts",
            "Indistinguishable from a human voice",
        ],
    },
    {
        "name": "naturalness-es",
        "title": "¿Qué tan natural suena la voz?",
        "language": "es",
        "labels": [
            "Muy artificial",
            "Robótica pero inteligible",
            "Natural pero claramente sintética",
            "Muy natural, pequeños artefactos",
            "Indistinguible de una voz humana",
        ],
    },
]


def create_scales(apps, schema_editor):
    Scale = apps.get_model("annotations", "Scale")
    for scale in SCALES:
        Scale.objects.get_or_create(name=scale["name"], defaults=scale)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0001_initial")]
    operations = [migrations.RunPython(create_scales, migrations.RunPython.noop)]
