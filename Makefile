# DCC call automation: developer commands. Needs only python3 (>= 3.11) and GNU make on a fresh clone.
#   make run    virtualenv, migrate, demo data, then web server + provider simulator (+ monitor) on 127.0.0.1
#   make test   the whole suite on SQLite, then on PostgreSQL when reachable (required when CI=true)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-stamp
MANAGE := $(PY) manage.py

.DEFAULT_GOAL := help
.PHONY: help venv var run test lint migrate demo clean

help:
	@echo "make run      create .venv, migrate, seed the demo, serve http://127.0.0.1:8000 with the simulator"
	@echo "make test     whole suite on SQLite, then PostgreSQL (if reachable; required with CI=true)"
	@echo "make lint     ruff check ."
	@echo "make migrate  apply migrations to the development database (var/db.sqlite3 by default)"
	@echo "make demo     load the demo organization, logins, token and leads (idempotent)"
	@echo "make clean    remove .venv, var/ and caches"

# The virtualenv is (re)built when it is missing or a requirements file is newer than the stamp.
$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=python3.11)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

var:
	@mkdir -p var/static

migrate: venv var
	$(MANAGE) migrate --no-input

demo: migrate
	$(MANAGE) seed_demo

run: migrate
	$(PY) scripts/devstack.py

test: venv var
	bash scripts/run_tests.sh

lint: venv
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
