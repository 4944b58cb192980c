"""Rate-limit counters shared by every web process."""

from django.db import models


class RequestCount(models.Model):
    """Requests counted for a rate limit (annotations/ratelimits.py): one row per key and minute.

    Every web process, on every machine, counts in this table; the key is a digest, so no token or
    participant id is stored in it.
    """

    digest = models.CharField(max_length=64, help_text="sha256 of the scope, the kind and the counted value.")
    minute = models.BigIntegerField(help_text="Unix time // 60 of the counted requests.")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["digest", "minute"], name="request_count_unique_minute")
        ]
        indexes = [models.Index(fields=["minute"], name="request_count_minute")]

    def __str__(self) -> str:
        return f"{self.count} request(s) in minute {self.minute}"
