# Two commands: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test lint bench demo-workbook clean

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

test: $(VENV)/.installed-dev
	$(PY) -m ruff check .
	$(PY) -m pytest

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
