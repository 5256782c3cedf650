# Two commands: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test test-dates lint bench demo-workbook clean

# The stamp files are newer than the requirements they installed; editing a
# requirements file (or deleting .venv) makes the next command reinstall.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip
	$(PY) -m pip install -qq -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -qq -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(PY) -m outreach migrate
	$(PY) -m outreach demo --if-empty
	$(PY) -m outreach.serve --server.port $(PORT) --server.address localhost

# Two processes (pytest-xdist): the suite takes about 6 minutes instead of 9 on the 2-core CI machine.
test: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2

# The tests that read a calendar, again on a wall clock 400 days from now (libfaketime, for
# every process they start): a test that only passes on the day it was written fails here.
DATE_TESTS := tests/test_cli.py tests/test_demo_data.py tests/test_planner.py tests/test_call_list.py \
              tests/test_followup.py tests/test_nagging.py tests/test_metrics.py tests/test_team_page.py
# One process: pytest-xdist's workers talk through poll() timeouts that libfaketime rewrites,
# which made the same tests six times slower. On SQLite only: a date bug shows on either database,
# `make test` runs the PostgreSQL variants, and they doubled this run's time.
test-dates: $(VENV)/.installed-dev
	tests/faketime/run +400d $(PY) -m pytest -q -k "not postgresql" $(DATE_TESTS)

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: $(VENV)/.installed-dev
	$(PY) bench/run_all.py

# Rebuild demo/outreach-demo.xlsx from its seed (the committed file is the same data).
demo-workbook: $(VENV)/.installed
	$(PY) -m outreach demo --generate demo/outreach-demo.xlsx

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
