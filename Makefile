# auditkit: the two commands of the README are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

# The real Fashion-MNIST (the paper's Table 7 and Fig. 9) from Debian's package; the loader's
# real-data test reads it. Needs root or sudo and Debian's package archive.
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Create .venv on first use and reinstall when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Exit code 1 means the audit ran and a threshold of the policy is not met: the results are
# written all the same, and that is a finding of the demo, not a failure of the command.
demo: $(STAMP)
	$(BIN)/auditkit run policies/digits.yaml --out out || test $$? -eq 1

test: $(STAMP) $(FASHION_MNIST)
	$(BIN)/python -m pytest

$(FASHION_MNIST):
	$(SUDO) apt-get install -y -q dataset-fashion-mnist || \
		($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q dataset-fashion-mnist)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_metrics.py

lint: $(STAMP)
	$(BIN)/ruff check auditkit tests benchmarks examples

clean:
	rm -rf out .pytest_cache .ruff_cache
