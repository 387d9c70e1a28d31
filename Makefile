# Every target bootstraps .venv on its own: a fresh clone needs only `make lab` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export KERAS_BACKEND ?= jax
# Quiet jax's "no GPU/TPU found" notice.
export JAX_PLATFORMS ?= cpu

.PHONY: lab lab-gpu device-check test test-other-kernels book bench lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

## lab: JupyterLab on notebooks/, on 127.0.0.1 only, with a fresh token printed in its URL
lab: $(STAMP)
	$(BIN)/python -m rnnlib.tools.lab

## lab-gpu: `make lab` on a machine with an NVIDIA GPU: installs the `gpu` extra (JAX's CUDA 12
## wheels, pinned to the installed JAX), stops if JAX sees no GPU, then starts JupyterLab on it
lab-gpu: $(VENV)/.gpu-stamp
	JAX_PLATFORMS=cuda,cpu $(BIN)/python -c "import jax; print('JAX sees', jax.devices())"
	JAX_PLATFORMS=cuda,cpu $(BIN)/python -m rnnlib.tools.lab

$(VENV)/.gpu-stamp: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,gpu]'
	@touch $@

## device-check: what JAX sees, and the Keras LSTM's words/s on the accelerator and the CPU
## (JSON). On a GPU machine run it as `make device-check JAX_PLATFORMS=cuda,cpu`.
device-check: $(STAMP)
	$(BIN)/python -m rnnlib.tools.device_check

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
