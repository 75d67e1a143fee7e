# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench bench-gpu clean

setup: $(STAMP)

# Re-install only when the package metadata or the pins change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# Train the default GAN (DCGAN) on scikit-learn's bundled 8x8 digits, then
# write a sample grid and a latent walk. Resumes if runs/demo already exists.
demo: $(STAMP)
	$(BIN)/ganforge train --data digits --model dcgan --steps 3000 --run demo
	$(BIN)/ganforge sample demo --n 64 --seed 0 --out runs/demo/samples.png
	$(BIN)/ganforge interpolate demo --out runs/demo/walk.gif
	@echo "demo: samples in runs/demo/samples.png, latent walk in runs/demo/walk.gif"

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

# The GPU rows (one CUDA device).
bench-gpu: $(STAMP)
	$(BIN)/python -m benchmarks.run_all --gpu

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
