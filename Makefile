# spherecode: `make run` and `make test` set everything up from nothing.
PYTHON      ?= python3
VENV        ?= .venv
# Torch is installed first and pinned: on this machine the pin resolves to a local CPU build.
# GPU users override it, e.g.  make install TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126"
TORCH_SPEC  ?= torch==2.13.0
N           ?= 100
DIM         ?= 64
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed

.PHONY: install run test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	mkdir -p runs
	$(BIN)/spherecode generate -n $(N) -d $(DIM) -o runs/codebook-$(N)x$(DIM).npz --force
	$(BIN)/spherecode bounds -n $(N) -d $(DIM)

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python experiments/bench_codebooks.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
