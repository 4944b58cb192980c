from django.db import migrations

STYLES = [
    {
        "name": "neutral",
        "description": "Piper's recommended defaults: even pace, moderate prosodic variation.",
        "length_scale": 1.0,
        "noise_scale": 0.667,
        "noise_w_scale": 0.8,
        "volume": 1.0,
        "espeak_pitch": 50,
        "espeak_range": 50,
    },
    {
        "name": "warm",
        "description": "Slightly slower, livelier intonation and a lower espeak-ng pitch.",
        "length_scale": 1.12,
        "noise_scale": 0.75,
        "noise_w_scale": 0.9,
        "volume": 1.0,
        "espeak_pitch": 42,
        "espeak_range": 70,
    },
]


def create_styles(apps, schema_editor):
    StylePreset = apps.get_model("synthesis", "StylePreset")
    for style in STYLES:
        StylePreset.objects.get_or_create(name=style["name"], defaults=style)


class Migration(migrations.Migration):
    dependencies = [("synthesis", "0001_initial")]
    operations = [migrations.RunPython(create_styles, migrations.RunPython.noop)]
