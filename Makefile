# auditkit: the two commands of the README are `make demo` and `make test`; `make check` is the
# contributors' fast loop.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check docs bench lint clean pango poppler chromium fashion-mnist

# The real Fashion-MNIST (the paper's Table 7 and Fig. 9) from Debian's package; the loader's
# real-data test reads it. Needs root or sudo and Debian's package archive.
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The report tests look at the report as a person does: the PDF rasterised by poppler's pdftoppm
# (poppler-utils), the HTML laid out by headless Chromium (Debian's chromium).
PDFTOPPM := /usr/bin/pdftoppm
CHROMIUM := /usr/bin/chromium
# WeasyPrint (the PDF report) loads Pango at run time; installed when ldconfig does not know it.
PANGO := $(if $(shell /sbin/ldconfig -p 2>/dev/null | grep libpangoft2-1.0.so.0),,pango)

# Create .venv on first use and reinstall when pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo signs its report with a demo CA and signer made at run time (out/keys/, never in git),
# then verifies the signatures as a regulator would. Exit code 1 of `run` means the audit ran and a
# requirement is not met: the report is written and signed all the same, and that is a finding of
# the demo, not a failure of the command.
# The demo policy names a deployed checkpoint (deployed.checkpoint, relative to the policy's folder):
# the policy's model trained on all the demo's images (`auditkit train`), made once.
DEMO_KEYS := out/keys
DEMO_DEPLOYED := out/deployed/digits.pt
# Then it explains one decision of that deployed model to the person it affects (`auditkit explain`):
# a digit the audit never saw, under the audit just kept in out/audits/, and verifies the signed sheet.
DEMO_DECISION := examples/decision/digit-1758.png
demo: $(STAMP) $(PANGO)
	test -f $(DEMO_KEYS)/signer.p12 || $(BIN)/auditkit keygen $(DEMO_KEYS) --name "auditkit demo signer"
	test -f $(DEMO_DEPLOYED) || $(BIN)/auditkit train policies/digits.yaml --out $(DEMO_DEPLOYED)
	$(BIN)/auditkit run policies/digits.yaml --out out --sign-key $(DEMO_KEYS)/signer.p12 || test $$? -eq 1
	$(BIN)/auditkit verify out --trust $(DEMO_KEYS)/ca.pem
	kept=$$(ls -d out/audits/*/ | tail -n 1); id=demo-$$(basename $$kept); \
	$(BIN)/auditkit explain $$kept $(DEMO_DECISION) --trust $(DEMO_KEYS)/ca.pem --decision-id $$id \
		--sign-key $(DEMO_KEYS)/signer.p12 && \
	$(BIN)/auditkit verify out/decisions/$$id --trust $(DEMO_KEYS)/ca.pem

test: $(STAMP) $(FASHION_MNIST) $(PANGO) $(PDFTOPPM) $(CHROMIUM)
	$(BIN)/python -m pytest

# The fast loop (about a minute on 2 CPU cores): the metrics, policy and explainer tests and the
# doctests of every module but the report's (which imports WeasyPrint); no system package needed.
check: $(STAMP)
	$(BIN)/python -m pytest -q tests/metrics tests/policy tests/explainers auditkit --ignore=auditkit/report

# The documentation (docs/), warnings as errors; the policy reference and the metric catalog are
# written from the code at build time. Sphinx comes with the dev extra.
docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

# The system packages one at a time (the tests that need one name its target when it is missing).
poppler: $(PDFTOPPM)
chromium: $(CHROMIUM)
fashion-mnist: $(FASHION_MNIST)

pango:
	$(SUDO) apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 || \
		($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0)

$(PDFTOPPM):
	$(SUDO) apt-get install -y -q poppler-utils || \
		($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q poppler-utils)

$(CHROMIUM):
	$(SUDO) apt-get install -y -q chromium || \
		($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)

$(FASHION_MNIST):
	$(SUDO) apt-get install -y -q dataset-fashion-mnist || \
		($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q dataset-fashion-mnist)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_metrics.py

lint: $(STAMP)
	$(BIN)/ruff check auditkit tests benchmarks examples

clean:
	rm -rf out .pytest_cache .ruff_cache docs/_build
