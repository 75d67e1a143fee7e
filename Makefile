# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNS ?= runs

.PHONY: setup demo test bench bench-gpu reproduce clean

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
	$(BIN)/ganforge train --data digits --model dcgan --steps 3000 --run demo --runs-dir $(RUNS)
	$(BIN)/ganforge sample demo --runs-dir $(RUNS) --n 64 --seed 0 --out $(RUNS)/demo/samples.png
	$(BIN)/ganforge interpolate demo --runs-dir $(RUNS) --out $(RUNS)/demo/walk.gif
	@echo "demo: samples in $(RUNS)/demo/samples.png, latent walk in $(RUNS)/demo/walk.gif"

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

# The GPU rows (one CUDA device).
bench-gpu: $(STAMP)
	$(BIN)/python -m benchmarks.run_all --gpu

# Re-run one row of BENCHMARKS.md beside its record: make reproduce ROW=ring-pack2 [SEEDS=0,1,2,3,4] [RECORD=1]
reproduce: $(STAMP)
	@test -n "$(ROW)" || { echo "give a row: make reproduce ROW=ID (ids: $(BIN)/python -m benchmarks.reproduce --list)"; exit 2; }
	$(BIN)/python -m benchmarks.reproduce $(ROW) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(RECORD),--record)

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
