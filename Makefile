# make demo  - create .venv, install, stylise the bundled photo, print where the result is
# make test  - create .venv, install with dev extras, run the default test suite
# make bench - the quick runtime benchmark (rtstyle bench --quick) into bench/results
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test test-slow bench install clean

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "rtstyle needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip setuptools
	$(PIP) -e '.[train,dev]'
	@touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/rtstyle demo

test: install
	$(VENV)/bin/pytest

test-slow: install
	$(VENV)/bin/pytest -m slow

bench: install
	$(VENV)/bin/rtstyle bench --quick

clean:
	rm -rf $(VENV) out .pytest_cache
