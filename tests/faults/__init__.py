"""Fault tests: real processes (gunicorn, Celery workers, a private redis-server, a TCP proxy in front
of PostgreSQL) broken on purpose, without touching the machine's shared services.

Short versions run with the suite (marker `models`, so `.ci/run` runs them and `make test-fast`
leaves them out). The full versions take more items, answers, cuts and restarts:

    SARAI_FAULTS_FULL=1 .venv/bin/python -m pytest -p no:cacheprovider --durations=0 tests/faults
"""
