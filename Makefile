# Every target bootstraps .venv on its own: a fresh clone needs only `make lab` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export KERAS_BACKEND ?= jax
# Quiet jax's "no GPU/TPU found" notice.
export JAX_PLATFORMS ?= cpu

.PHONY: lab test test-other-kernels book bench lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

## lab: JupyterLab on notebooks/, on 127.0.0.1 only, with a fresh token printed in its URL
lab: $(STAMP)
	$(BIN)/python -m rnnlib.tools.lab

## test: unit tests, then every notebook under nbval in quick mode (RNNLIB_QUICK=1)
test: $(STAMP)
	RNNLIB_QUICK=1 $(BIN)/python -m pytest tests notebooks --nbval-lax \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg -p no:cacheprovider

## test-other-kernels: the `fixtures` tests again under OpenBLAS's Sandybridge kernels, so that
## a comparison that holds only on the kernels of the machine that wrote a file fails here too
test-other-kernels: $(STAMP)
	OPENBLAS_CORETYPE=Sandybridge RNNLIB_QUICK=1 $(BIN)/python -m pytest tests -m fixtures \
		-p no:cacheprovider

## book: execute every notebook in place at full size, so the saved outputs are real
book: $(STAMP)
	$(BIN)/python -m rnnlib.tools.book notebooks

## bench: throughput of every implementation, measured in one run (installs the `bench`
## extra first: PyTorch 2.13.0 and threadpoolctl, for the peer and the BLAS kernel names)
bench: $(VENV)/.bench-stamp
	$(BIN)/python -m rnnlib bench

$(VENV)/.bench-stamp: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	@touch $@

lint: $(STAMP)
	$(BIN)/ruff check rnnlib tests notebooks
	$(BIN)/ruff format --check rnnlib tests

format: $(STAMP)
	$(BIN)/ruff format rnnlib tests
	$(BIN)/ruff check --fix rnnlib tests

clean:
	rm -rf $(VENV)
