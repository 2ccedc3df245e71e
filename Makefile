# Two commands set everything up: `make run` serves, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ./data
HOST ?= 127.0.0.1
PORT ?= 19530

.PHONY: install run test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/elanus serve --host $(HOST) --port $(PORT) --data $(DATA)

test: lint
	$(BIN)/python -m pytest -q tests

lint: install
	$(BIN)/ruff check elanus tests bench
	$(BIN)/mypy elanus

clean:
	rm -rf $(VENV) build *.egg-info
