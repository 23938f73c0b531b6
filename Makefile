# One entry point: every target builds .venv first, so a fresh clone needs only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean soak

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pulumi_fwcluster.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict pulumi_fwcluster tests

# The tests mostly wait (provider processes starting, polls): 4 workers on 2 cores halve the wall time.
test: lint typecheck
	$(BIN)/python -m pytest -n 4 -q

# The lifecycle model of tests/model for minutes, not make test's bounded 30 s, with a random seed it prints; size
# and seed it with FWCLUSTER_SOAK_EXAMPLES, FWCLUSTER_SOAK_STEPS and FWCLUSTER_SOAK_SEED.
soak: $(STAMP)
	FWCLUSTER_SOAK=1 $(BIN)/python -m pytest -q -s tests/model

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
