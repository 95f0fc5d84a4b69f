# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test test-slow test-all bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch is pinned and installed first: an unpinned torch pulls gigabytes of CUDA packages.
$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,parquet,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hiddenstruct demo

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest -q -m "slow or not slow" $(PYTEST_ARGS)

# the peers the benchmarks compare against (Torch-Pruning) come with the `bench` extra
bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	@set -e; load='import os; print("# load average (1, 5, 15 min): %.2f %.2f %.2f" % os.getloadavg())'; \
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) -c "$$load"; $(PY) $$f; done; $(PY) -c "$$load"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs demo-output
