# Set-up and go: `make demo` runs the main job, `make test` the test suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint benchmark clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU build; the project's range admits it, so nothing else is pulled.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/decaylab study --out runs/demo

lint: $(BIN)/.installed
	$(BIN)/ruff check decaylab tests benchmarks examples
	$(BIN)/ruff format --check decaylab tests benchmarks examples
	$(BIN)/mypy --strict --follow-imports=silent decaylab/optim
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q -n 2  # two processes: this machine's two cores (the suite is 19 min on one)

benchmark: $(BIN)/.installed
	$(BIN)/python benchmarks/optim_step.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
