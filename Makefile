# Sigil: detection rules as code, compiled for AWS Lambda. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SIGIL := $(BIN)/sigil
STAMP := $(VENV)/.installed
BUNDLE := build/sigil-lambda.zip

.DEFAULT_GOAL := help

.PHONY: help
help:  ## show this help
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: install
install: $(STAMP)  ## create .venv and install Sigil with its development tools

.PHONY: compile
compile: $(STAMP)  ## check rules/ against schemas/ and generate build/sigil_rules/
	$(SIGIL) compile rules --schemas schemas --out build

.PHONY: lint
lint: $(STAMP)  ## lint the rules (all diagnostics) and the Python code
	$(SIGIL) lint rules --schemas schemas
	$(BIN)/ruff check .

# mypy's settings are in pyproject.toml ([tool.mypy]): strict for dsl/ and compiler/'s stages. cli/ once it exists.
.PHONY: typecheck
typecheck: $(STAMP)  ## check the types of dsl/, compiler/, runtime/ (and cli/) with mypy
	$(BIN)/mypy dsl compiler runtime $(wildcard cli)

.PHONY: test
test: $(STAMP)  ## run every test: language, compiler, rule tests, runtime against moto, terraform (one worker per core)
	$(BIN)/pytest -q -n auto

# The Lambda of deploy/terraform/modules/sigil: its Python, and its architecture as manylinux names it
# (aarch64 for Terraform's default arm64, x86_64 for x86_64), e.g. `make bundle LAMBDA_ARCH=x86_64`.
LAMBDA_PYTHON ?= 3.12
LAMBDA_ARCH ?= aarch64
WHEELS := build/wheels/$(LAMBDA_ARCH)
# The pyahocorasick and google-re2 installed in .venv (read when the recipe runs), so the Lambda runs the
# versions tested here.
AHOCORASICK_VERSION = $(shell $(BIN)/python -c "import importlib.metadata as m; print(m.version('pyahocorasick'))")
RE2_VERSION = $(shell $(BIN)/python -c "import importlib.metadata as m; print(m.version('google-re2'))")

.PHONY: wheels
wheels: $(WHEELS)/.downloaded  ## download the compiled pyahocorasick and google-re2 wheels for the Lambda (LAMBDA_ARCH, LAMBDA_PYTHON) into build/wheels/

# Downloaded again only when the environment changes (a new version comes with a new $(STAMP)). google-re2's
# wheels are manylinux_2_28 (the python3.12 Lambda runtime, Amazon Linux 2023, has glibc 2.34).
$(WHEELS)/.downloaded: $(STAMP)
	rm -rf $(WHEELS)
	$(BIN)/pip download --quiet pyahocorasick==$(AHOCORASICK_VERSION) --no-deps --only-binary=:all: \
	  --platform manylinux2014_$(LAMBDA_ARCH) --python-version $(LAMBDA_PYTHON) --implementation cp -d $(WHEELS)
	$(BIN)/pip download --quiet google-re2==$(RE2_VERSION) --no-deps --only-binary=:all: \
	  --platform manylinux_2_28_$(LAMBDA_ARCH) --python-version $(LAMBDA_PYTHON) --implementation cp -d $(WHEELS)
	touch $@

# The interpreter compiling the bundle's bytecode (/var/task is read-only: without .pyc in the zip, every cold
# start compiles every module): the first Python $(LAMBDA_PYTHON) that runs, python$(LAMBDA_PYTHON) on PATH (a
# pyenv shim exists but may fail) or a pyenv install; empty if none. Override: BYTECODE_PYTHON=/path/to/python.
BYTECODE_CANDIDATES = python$(LAMBDA_PYTHON) $(sort $(wildcard $(HOME)/.pyenv/versions/$(LAMBDA_PYTHON).*/bin/python$(LAMBDA_PYTHON)))
BYTECODE_PYTHON ?= $(firstword $(foreach py,$(BYTECODE_CANDIDATES),$(shell $(py) -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(LAMBDA_PYTHON)")' >/dev/null 2>&1 && echo $(py))))

.PHONY: bundle
bundle: compile wheels  ## pack runtime/, the generated matchers, their bytecode (BYTECODE_PYTHON) and the wheels into build/sigil-lambda.zip
	$(eval BYTECODE_PYTHON := $(BYTECODE_PYTHON))
	@if [ -z "$(BYTECODE_PYTHON)" ]; then \
	  echo "warning: no Python $(LAMBDA_PYTHON) runs here (tried: $(strip $(BYTECODE_CANDIDATES))): the bundle has no bytecode," >&2; \
	  echo "warning: so the Lambda will compile every module from source at every cold start (/var/task is read-only)." >&2; \
	  echo "warning: install Python $(LAMBDA_PYTHON) or run: make bundle BYTECODE_PYTHON=/path/to/python$(LAMBDA_PYTHON)" >&2; \
	fi
	$(SIGIL) bundle --build build --out build/sigil-lambda.zip --wheels $(WHEELS)$(if $(BYTECODE_PYTHON), --bytecode $(BYTECODE_PYTHON))

.PHONY: demo
demo: bundle  ## run the Lambda on sample Kinesis events against a local moto server and print the alerts
	$(BIN)/python scripts/demo.py --bundle $(BUNDLE)

.PHONY: bench
bench: $(STAMP)  ## measure throughput, scale, compile and import costs; writes bench/RESULTS.md (and bench/CORRELATION.md)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.correlation_bench

.PHONY: bench-correlation
bench-correlation: $(STAMP)  ## per-event cost of a correlation, DynamoDB writes per batch, memory → bench/CORRELATION.md (short)
	$(BIN)/python -m bench.correlation_bench

# Exploration: the main test run is derandomized (the same examples every time); this runs the property tests
# under fresh random seeds, one round after another while EXPLORE_SECONDS last, printing each seed.
EXPLORE_SECONDS ?= 60
EXPLORE_TESTS ?=

.PHONY: explore
explore: $(STAMP)  ## property tests under new random seeds for EXPLORE_SECONDS (60); replay: make explore SEED=N EXPLORE_TESTS=...
	$(BIN)/python tests/explore.py --seconds $(EXPLORE_SECONDS)$(if $(SEED), --seed $(SEED)) $(EXPLORE_TESTS)

# Mutation testing (slow: tens of minutes): mutmut mutates the modules [tool.mutmut] in pyproject.toml names in a
# copy under mutants/, runs the tests that reach each mutant, and bench/MUTATION.md gets the score and survivors.
.PHONY: mutation
mutation: $(STAMP)  ## mutation score of the optimizer, codegen, helpers, pipeline and signing → bench/MUTATION.md
	$(BIN)/pip install --quiet -e '.[mutation]'
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 || true
	$(BIN)/python tests/mutation_report.py

.PHONY: regression
regression: $(STAMP)  ## score `sigil replay` on SigmaHQ's regression events with both engines
	PATH=$(abspath $(BIN)):$$PATH ../shared/tools/sigma-regression --sigil sigil --sigma ../shared/sigma --engine interpreter
	PATH=$(abspath $(BIN)):$$PATH ../shared/tools/sigma-regression --sigil sigil --sigma ../shared/sigma --engine compiled

# checkov, pinned by pyproject.toml's `scan` extra, in a venv of its own: it requires bc-python-hcl2, which
# installs the same `hcl2` package as the python-hcl2 the tests use, so the two cannot share .venv.
SCAN_VENV := .venv-scan
CHECKOV_REQUIREMENT = $(shell $(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['scan'])")

$(SCAN_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/pip install --quiet '$(CHECKOV_REQUIREMENT)'
	touch $@

.PHONY: scan
scan: $(SCAN_VENV)/.installed  ## run checkov on deploy/terraform (its own .venv-scan); fails on any failed check
	$(SCAN_VENV)/bin/checkov --directory deploy/terraform --framework terraform --quiet --compact --skip-download

# The deployed function and its alias (deploy/terraform/modules/sigil, README "Rolling back").
FUNCTION ?= sigil
ALIAS ?= live
AWS ?= aws

.PHONY: rollback
rollback:  ## point the live alias of FUNCTION (default sigil) at an earlier version: VERSION=3 make rollback
	@if [ -z "$(VERSION)" ]; then \
	  echo "error: give the version to roll back to: VERSION=<n> make rollback [FUNCTION=$(FUNCTION)]" >&2; \
	  echo "published versions of $(FUNCTION) (version, last modified):" >&2; \
	  $(AWS) lambda list-versions-by-function --function-name '$(FUNCTION)' \
	    --query 'Versions[?Version!=`$$LATEST`].[Version,LastModified]' --output text >&2; \
	  exit 2; \
	fi
	$(AWS) lambda update-alias --function-name '$(FUNCTION)' --name '$(ALIAS)' --function-version '$(VERSION)' \
	  --query '[Name,FunctionVersion]' --output text
	@echo "$(FUNCTION):$(ALIAS) now runs version $(VERSION); set live_version = \"$(VERSION)\" in Terraform, or the next apply moves it back to the latest version."

.PHONY: clean
clean:  ## remove build outputs (keeps .venv)
	rm -rf build .pytest_cache .hypothesis mutants

.PHONY: check
check: scan lint typecheck test  ## what CI runs: the Terraform scan (first: a test checks its result), lint, types, every test

.PHONY: all
all: check
