# Two commands for a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing and install what they need; re-runs are incremental.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch first, pinned, so pip takes the local CPU wheel and never resolves a CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test setup bench clean gpu-check

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install "$(TORCH_SPEC)"
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The CPU-bound tests in TEST_WORKERS processes, then the timing-sensitive ones (marked `serial`:
# the runtime on real sockets, a browser, LSL; tests/conftest.py) alone, so that their deadlines
# are judged on an unloaded machine. Both parts always run; either failing fails the target. Each part
# lists its 25 slowest tests (CI has a 30-minute limit: the list says where the time goes).
TEST_WORKERS ?= 2
test: $(STAMP)
	@$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25 -m "not serial"; a=$$?; \
	$(BIN)/python -m pytest -q --durations=25 -m serial; b=$$?; \
	echo "make test: tests in $(TEST_WORKERS) processes exit $$a, timing-sensitive tests alone exit $$b"; \
	test $$a -eq 0 && test $$b -eq 0

demo: $(STAMP)
	$(BIN)/biosig demo

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python "$$b" || exit 1; done

clean:
	rm -rf $(VENV) demo-out .pytest_cache

# On a CUDA machine, with the Python that has CUDA torch (not the CPU-only .venv): gpu-marked
# tests + the issue-15 table (attention, inference, pretraining), < 5 min. GPU_PY=python3 by default.
GPU_PY ?= $(PY)
gpu-check:
	PYTHONPATH="$(CURDIR)" $(GPU_PY) benchmarks/gpu_check.py
