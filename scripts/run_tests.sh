#!/usr/bin/env bash
# The test suite in two phases: the tests that may run side by side, on TEST_WORKERS pytest-xdist
# workers (each with its own SQLite test database, media and broker folders and port ranges), then
# the tests marked `serial` (they measure timings or share a server), alone.
#
#   scripts/run_tests.sh [MARKERS] [pytest arguments...]
#
# MARKERS, a pytest -m expression, narrows both phases (make test-fast: no models, processes or
# browser; CI's second pass: backends). pytest's exit code 5 (no test collected) counts as success.
# Choose tests with MARKERS, not with -m or -n among the pytest arguments: those would override the
# phases' own selection and worker count.
set -uo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
# Each test process imports the app and every test module. Where PYTHONDONTWRITEBYTECODE is set (as
# on some shared machines), Python compiled all of them from source again in every process of every
# run: about a tenth of `make test-fast` (docs/benchmarks.md). The compiled files then go under
# var/cache/pycache instead, never beside the sources, and are reused by the next run.
if [ -n "${PYTHONDONTWRITEBYTECODE:-}" ]; then
  unset PYTHONDONTWRITEBYTECODE
  export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$PWD/var/cache/pycache}"
fi
markers="${1:-}"
shift || true
workers="${TEST_WORKERS:-2}"

selection() {
  if [ -n "$markers" ]; then echo "($markers) and $1"; else echo "$1"; fi
}

run() {
  "$py" -m pytest "$@"
  local status=$?
  if [ "$status" -eq 5 ]; then status=0; fi
  return "$status"
}

# The first phase counts the tests the serial phase would run (tests/testenv.py); none: it is skipped.
probe=$(mktemp)
trap 'rm -f "$probe"' EXIT
export SARAI_SERIAL_PROBE="$probe" SARAI_SERIAL_SELECTION="$(selection serial)"
status=0
if [ "$workers" -gt 1 ]; then
  run -n "$workers" -m "$(selection 'not serial')" "$@" || status=$?
else
  run -m "$(selection 'not serial')" "$@" || status=$?
fi
unset SARAI_SERIAL_PROBE SARAI_SERIAL_SELECTION
if [ "$(cat "$probe")" = "0" ]; then
  echo "No test of this selection is marked serial: the serial phase is skipped."
else
  run -p no:xdist -m "$(selection serial)" "$@" || status=$?
fi
exit "$status"
