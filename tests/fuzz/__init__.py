"""Property tests that feed the importers and the rating endpoint arbitrary input.

Two hypothesis profiles, chosen with HYPOTHESIS_PROFILE: "ci" (the default; few examples, drawn the
same way on every run so CI is deterministic) and "long" (many more examples, freshly drawn):

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest -p no:cacheprovider tests/fuzz

The profiles are applied per test through `fuzz_settings`, never loaded globally, so the other
property tests of the suite keep their own settings.
"""

import os

from hypothesis import HealthCheck, settings

HEALTH_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile(
    "ci", max_examples=20, deadline=None, derandomize=True, database=None, suppress_health_check=HEALTH_CHECKS
)
settings.register_profile(
    "long", max_examples=500, deadline=None, database=None, suppress_health_check=HEALTH_CHECKS
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
# Only the long profile draws more examples; any other name (another suite's profile) runs as ci.
LONG_FACTOR = 25 if PROFILE == "long" else 1


def fuzz_settings(examples: int) -> settings:
    """The profile's settings with this property's example count (times 25 under the long profile)."""
    parent = settings.get_profile("long" if PROFILE == "long" else "ci")
    return settings(parent=parent, max_examples=examples * LONG_FACTOR)
