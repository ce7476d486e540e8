# Two entry points that work on a fresh machine; each creates .venv itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test docs results lint bench-pendulum lerobot-env gpu-wheels clean

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

# What benchmarks/gpu_check.sh installs on a GPU machine that has Python 3.12 and CUDA torch but
# no Ray or gymnasium and no network: cp312 wheels in .whl/ (git-ignored; carried to that machine).
# Ray's wheel is slimmed below the 64 MiB that may travel: no Java jar, no dashboard web build.
GPU_WHEELS := ray==2.60.0 gymnasium==1.2.2 Farama-Notifications==0.0.6 dm-tree==0.1.10 lz4==4.4.5 \
	ormsgpack==1.13.1 jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 \
	rpds-py==2026.9.1 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
gpu-wheels: $(VENV)/.installed
	rm -rf .whl && mkdir -p .whl
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl $(GPU_WHEELS)
	$(PY) benchmarks/slim_wheel.py .whl/ray-*.whl
	du -sh .whl

clean:
	rm -rf $(VENV) $(LEROBOT_VENV) .pytest_cache .ruff_cache build .whl
