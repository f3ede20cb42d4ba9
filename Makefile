# demine: set-up from nothing, then the job. Needs Python 3.11+ and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: setup system-packages demo test lint docs bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "demine needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,bench]'
	# GDAL's GeoPackage validator, without the GDAL bindings it does not need for vector checks
	$(BIN)/python -m pip install --quiet --no-deps gdal-utils
	touch $(STAMP)

demo: setup
	$(BIN)/demine demo

# what the tests need from the system (GDAL, Chromium, poppler, PostgreSQL + PostGIS): installed
# with apt-get when root or `sudo -n` works, else one line naming them and the command to run
system-packages:
	@PYTHON='$(PYTHON)' VENV='$(VENV)' bash .ci/system-packages

test: system-packages setup
	bash .ci/with-postgis $(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

# docs/cli.md: docs/cli-notes.md (hand-written) and every command's --help (tests/test_cli_docs.py)
docs: setup
	$(BIN)/python -m demine.cli.docs > docs/cli.md.tmp && mv docs/cli.md.tmp docs/cli.md

bench: setup
	$(BIN)/python bench/import_hazards.py --repeat 3
	$(BIN)/python bench/lookup.py --repeat 3
	$(BIN)/python bench/check_cli.py
	$(BIN)/python bench/risk.py
	$(BIN)/python bench/impact.py
	$(BIN)/python bench/api.py --rounds 3
	bash .ci/with-postgis bash -c '$(BIN)/python bench/store.py --rounds 2 --pg-url "$$DEMINE_TEST_PG"'

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
