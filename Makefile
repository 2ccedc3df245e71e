# Two commands set everything up: `make run` serves, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= ./data
HOST ?= 127.0.0.1
PORT ?= 19530

COMPAT := .venv-pymilvus26
COMPAT_STAMP := $(COMPAT)/.installed

.PHONY: install bytecode run test lint compat bench clean

install: $(STAMP)

# The package's modules byte-compiled, as a regular (not editable) install leaves them: with
# PYTHONDONTWRITEBYTECODE set, every `elanus serve` would otherwise compile them all again
# (0.2 s of its start-up here). Cheap when nothing changed.
bytecode: install
	$(BIN)/python -m compileall -q elanus

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: bytecode
	$(BIN)/elanus serve --host $(HOST) --port $(PORT) --data $(DATA)

test: lint bytecode
	$(BIN)/python -m pytest -q tests
	$(MAKE) --no-print-directory compat

# The served end-to-end tests again, driven by a pymilvus 2.6 client from its own venv.
compat: bytecode $(COMPAT_STAMP)
	ELANUS_SERVER_PYTHON=$(abspath $(BIN)/python) ELANUS_CLIENT_MODES=served \
		PYTHONPATH=$(CURDIR) $(COMPAT)/bin/python -m pytest -q -p no:cacheprovider \
		-m "not elanus_client" -W ignore::DeprecationWarning \
		tests/e2e/test_quickstart.py tests/e2e/test_errors.py tests/e2e/test_explicit_schema.py \
		tests/e2e/test_orm_client.py tests/e2e/test_databases.py tests/e2e/test_aliases.py \
		tests/e2e/test_partitions.py tests/e2e/test_vector_types.py \
		tests/e2e/test_schema_evolution.py tests/e2e/test_scalar_types.py tests/e2e/test_geometry.py \
		tests/e2e/test_partial_update.py tests/e2e/test_scalar_indexes.py tests/e2e/test_search_modes.py \
		tests/e2e/test_hybrid_search.py tests/e2e/test_full_text_search.py \
		tests/e2e/test_text_match.py

$(COMPAT_STAMP): pyproject.toml
	test -x $(COMPAT)/bin/python || $(PYTHON) -m venv $(COMPAT)
	$(COMPAT)/bin/python -m pip install --quiet pymilvus==2.6.17 pytest==9.0.3 numpy==2.4.6 \
		grpcio-health-checking==1.85.1 scipy==1.17.1 ml_dtypes==0.6.0
	touch $(COMPAT_STAMP)

# The benchmark suite: faiss, elanus embedded and served, milvus-lite 3.2.2 (its own venv), one table
# per data set, JSON to bench/results/latest.json (docs/performance.md: what it measures).
# More options through BENCH_ARGS, e.g. `make bench BENCH_ARGS=--quick`.
bench: bytecode
	$(BIN)/python bench/suite.py --with-lite $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check elanus tests bench
	$(BIN)/mypy elanus

clean:
	rm -rf $(VENV) $(COMPAT) build *.egg-info
