# mmagent: set-up, demo and tests.
#   make demo   train + evaluate Mask R-CNN with an mmagent backbone on a generated dataset (CPU)
#   make test   run the test suite
# Both run `make install` first, which is idempotent.

VENV ?= .venv
PYTHON ?= python3.11
# mmcv compiles ~300 C++ files; keep within the machine's cores.
MAX_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
CONSTRAINTS := -c requirements/constraints.txt
STAMP := $(VENV)/.mmagent-installed
DEMO_DIR ?= work_dirs/demo
PYTEST_ARGS ?=
# pytest-xdist workers: one per core, at most 4 (tests/conftest.py gives each its share of the cores).
TEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n < 4 ? n : 4 )))

.PHONY: install demo test clean-venv

install: $(STAMP)

$(STAMP): setup.py requirements/build.txt requirements/runtime.txt requirements/tests.txt requirements/deploy.txt \
		requirements/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch==2.13.0 resolves to the local CPU wheel configured for this machine's pip.
	$(PIP) install -q $(CONSTRAINTS) torch==2.13.0
	# Re-pin setuptools after torch (torch may lift it past 82, which removed pkg_resources).
	$(PIP) install -q $(CONSTRAINTS) -r requirements/build.txt
	# mmcv 2.1.0 has no wheel for torch 2.13: built from source once, then served from pip's wheel cache.
	MMCV_WITH_OPS=1 MAX_JOBS=$(MAX_JOBS) $(PIP) install -q --no-build-isolation $(CONSTRAINTS) \
		-r requirements/runtime.txt -r requirements/tests.txt -r requirements/deploy.txt
	$(PIP) install -q --no-build-isolation --no-deps -e .
	$(PY) -c "import torch, mmcv, mmcv.ops, mmdet, mmseg, mmpretrain, mmengine, onnxruntime, mmagent; \
		print('stack ok: torch', torch.__version__, 'mmcv', mmcv.__version__, 'mmdet', mmdet.__version__, \
		'mmseg', mmseg.__version__, 'mmengine', mmengine.__version__)"
	@touch $(STAMP)

demo: install
	$(PY) tools/demo.py --work-dir $(DEMO_DIR)

test: install
	$(PY) -m pytest tests -n $(TEST_WORKERS) --durations=15 $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
