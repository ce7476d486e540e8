# Two entry points that work on a fresh machine; each creates .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test docs results lint bench-pendulum lerobot-env clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The pinned CPU build first: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,docs,bench,tune,optuna,pb2,minari,gym-hil,tensorboard,export]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m rllib_sac_hybrid.demo

test: $(VENV)/.installed
	$(PY) -m ruff check rllib_sac_hybrid tests benchmarks examples
	# Tests go to the 2 xdist workers one by one (a file's long learning tests no longer queue on
	# one worker); files whose tests share a module fixture carry an xdist_group mark.
	# Two phases: the suite on 2 xdist workers, then the `serial` tests alone: several processes
	# that must run together (learners that all-reduce every step, the local cluster, an async
	# runner), which a busy peer worker slows three- to sixfold.
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=60 -m "not serial" tests
	$(PY) -m pytest -q --durations=15 -m serial tests

# The site in build/site: the settings reference rendered from settings.py, then a strict build.
docs: $(VENV)/.installed
	$(PY) -c "from rllib_sac_hybrid.settings import write_reference; write_reference()"
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

# The result tables (README, docs/results.md) and curves from the run records in benchmarks/results/.
results: $(VENV)/.installed
	$(PY) -m benchmarks.render

bench-pendulum: $(VENV)/.installed
	$(PY) benchmarks/pendulum.py

# LeRobot in an environment of its own: lerobot 0.4 requires torch<2.11, this package's .venv has
# 2.13. robot.lerobot_dataset runs LeRobot's side there (--lerobot-python .venv-lerobot/bin/python);
# tests/test_lerobot_dataset.py uses it. About 2 minutes and 8 GB (PyPI's torch 2.9.1 is a CUDA build).
LEROBOT_VENV := .venv-lerobot
$(LEROBOT_VENV)/.installed:
	$(PYTHON) -m venv $(LEROBOT_VENV)
	$(LEROBOT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LEROBOT_VENV)/bin/python -m pip install --quiet "lerobot==0.4.4" "torch==2.9.1" "torchvision==0.24.1"
	touch $@

lerobot-env: $(LEROBOT_VENV)/.installed

clean:
	rm -rf $(VENV) $(LEROBOT_VENV) .pytest_cache .ruff_cache build
