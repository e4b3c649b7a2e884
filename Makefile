# The two commands: `make run` (portal with demo data on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint migrate messages worker beat bench screenshots clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

setup: $(VENV)/.installed
	$(MANAGE) compilemessages --ignore=.venv -v 0

migrate: setup
	$(MANAGE) migrate --noinput -v 0

run: migrate
	$(MANAGE) seed_demo
	$(MANAGE) runserver $(HOST):$(PORT)

test: setup
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(MANAGE) makemigrations --check --dry-run -v 1

messages: setup
	$(MANAGE) makemessages -l fr --ignore=.venv --ignore=var --ignore=staticfiles
	$(MANAGE) compilemessages --ignore=.venv

worker: setup
	$(VENV)/bin/celery -A portal worker --loglevel=INFO

beat: setup
	$(VENV)/bin/celery -A portal beat --loglevel=INFO

# Generate a program at scale on PostgreSQL (its own database: BENCH_DATABASE_URL, default portal_bench) and time
# every job against bare SQL; e.g. make bench BENCH_ARGS="--partners 500 --lines 100000 --reuse". docs/performance.md
bench: setup
	$(PY) -m benchmarks $(BENCH_ARGS)

# The README's screenshots (docs/screenshots/*.png): the demo seeded in a throwaway SQLite database, at 1366 px.
screenshots: setup
	$(PY) tools/screenshots.py

clean:
	rm -rf $(VENV) var staticfiles
