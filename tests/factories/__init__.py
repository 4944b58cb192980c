"""Deterministic builders for test data, and the named personas of the tests.

Tests import them from here (`from tests.factories import build_test`), never from one another; each
module below holds one kind:

- people: the personas (an admin, a researcher, an admin by role).
- files: WAV tones and noise, RIFF chunks, zip archives.
- samples: sentence sets, pipeline configs, styles, samples and speech datasets.
- runs: synthesis runs of each mode finished by hand, and run modes registered for one test.
- listening: listening tests, their evaluators, and the clip fetches the server records.
- ratings: ratings stored directly, and a VAR_DIR for tests that produce results.
- methods: tests of each method (A/B, CMOS, MUSHRA, intelligibility) and their answers.
- blinding: samples named with secrets, and what a page an evaluator reaches may hold.
- url_table: every URL x role -> status, and the fixtures that fill the URLs.
- logs: what the log handlers write.
- reference: reference implementations the app's statistics are held against.
"""

from tests.factories.blinding import ALLOWED_URL, ROLE_MARKERS, SECRETS, secret_samples
from tests.factories.files import noise_wav, riff_chunks, tone_wav, zip_bytes
from tests.factories.listening import (
    add_to_test,
    build_design,
    build_test,
    ensure_default_scales,
    evaluator_at_rating,
    fetch_whole,
    hear_all,
    heard,
    make_evaluator,
    make_test,
)
from tests.factories.logs import console_output
from tests.factories.methods import (
    CMOS_VOTES,
    THREE,
    TWELVE,
    ab_test,
    corrected_by_warmth,
    fake_acr_demo,
    intelligibility_test,
    judge,
    mushra_samples,
    mushra_test,
    prefer_warm_except,
    rated_ab_test,
    rated_cmos_test,
    simulated_acr_demo,
    spread_in_time,
    warm_vs_neutral,
)
from tests.factories.people import make_admin, make_group_admin, make_researcher, make_user
from tests.factories.ratings import SCORES, VAR_DIR, add_special, give, rate, rate_all
from tests.factories.reference import crowdmos_ci_long
from tests.factories.runs import (
    fake_plan_figures,
    fake_process,
    finished_load_run,
    make_run,
    make_run_with_samples,
    register_run_mode,
    store_by_hand,
    wer_run,
)
from tests.factories.samples import (
    SENTENCES,
    make_config,
    make_dataset,
    make_sample,
    make_sample_row,
    make_samples,
    make_sentence_set,
    style,
)
from tests.factories.url_table import ADMIN_PREFIXES, ROLES, TABLE, RoleFixturesMixin, Row

__all__ = [
    "crowdmos_ci_long",
    # people
    "make_admin",
    "make_group_admin",
    "make_researcher",
    "make_user",
    # files
    "noise_wav",
    "riff_chunks",
    "tone_wav",
    "zip_bytes",
    # samples
    "SENTENCES",
    "make_config",
    "make_dataset",
    "make_sample",
    "make_sample_row",
    "make_samples",
    "make_sentence_set",
    "style",
    # runs
    "fake_plan_figures",
    "fake_process",
    "finished_load_run",
    "make_run",
    "make_run_with_samples",
    "register_run_mode",
    "store_by_hand",
    "wer_run",
    # listening
    "add_to_test",
    "build_design",
    "build_test",
    "ensure_default_scales",
    "evaluator_at_rating",
    "fetch_whole",
    "hear_all",
    "heard",
    "make_evaluator",
    "make_test",
    # ratings
    "SCORES",
    "VAR_DIR",
    "add_special",
    "give",
    "rate",
    "rate_all",
    # methods
    "CMOS_VOTES",
    "THREE",
    "TWELVE",
    "ab_test",
    "corrected_by_warmth",
    "fake_acr_demo",
    "intelligibility_test",
    "judge",
    "mushra_samples",
    "mushra_test",
    "prefer_warm_except",
    "rated_ab_test",
    "rated_cmos_test",
    "simulated_acr_demo",
    "spread_in_time",
    "warm_vs_neutral",
    # blinding
    "ALLOWED_URL",
    "ROLE_MARKERS",
    "SECRETS",
    "secret_samples",
    # url_table
    "ADMIN_PREFIXES",
    "ROLES",
    "TABLE",
    "RoleFixturesMixin",
    "Row",
    # logs
    "console_output",
]
