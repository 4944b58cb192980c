"""Move background analyses stored as JSON under VAR_DIR/analysis/ into the Analysis table."""

import json
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import migrations

# Keys of the old file that described it rather than the analysis.
ENVELOPE = ("test_id", "test_name", "test_created_at", "version", "n_ratings", "thresholds", "seconds")


def import_files(apps, schema_editor):
    ListeningTest = apps.get_model("annotations", "ListeningTest")
    Analysis = apps.get_model("annotations", "Analysis")
    folder = Path(settings.VAR_DIR) / "analysis"
    for path in sorted(folder.glob("test-*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        test = ListeningTest.objects.filter(pk=data.get("test_id"), name=data.get("test_name")).first()
        if test is None or test.created_at.isoformat() != data.get("test_created_at"):
            continue  # a file left by a test that was deleted or replaced
        result = {key: value for key, value in data.items() if key not in ENVELOPE}
        # Files written before the minimum rater overlap existed: 0 marks the screening as made
        # without one, so the dashboard shows it out of date until the analysis runs again.
        result["min_overlap"] = 0
        for rater in result.get("screening", {}).values():
            rater.setdefault("overlap", None)
        count, last_id = (data.get("version") or [data.get("n_ratings"), None])[:2]
        finished = datetime.fromisoformat(data["computed_at"]) if data.get("computed_at") else test.created_at
        Analysis.objects.create(
            test=test,
            thresholds=data.get("thresholds") or {},
            min_overlap=0,
            status="done",
            result=result,
            seconds=data.get("seconds"),
            n_ratings=count,
            last_rating_id=last_id,
            created_at=finished,
            started_at=finished,
            finished_at=finished,
        )


class Migration(migrations.Migration):
    dependencies = [("annotations", "0009_analysis")]

    operations = [migrations.RunPython(import_files, migrations.RunPython.noop)]
