"""The docs a newcomer reads: the site builds strictly, the generated pages are current, and every
Python example in the README and the guides runs as written (at small budgets: each training loop
runs one iteration, each recording two episodes), with the shell commands that record what they
read. A block preceded by ``<!-- no-run: why -->`` is a sketch that needs the reader's own robot or
files, and is skipped."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    ROOT / "README.md",
    ROOT / "docs" / "index.md",
    ROOT / "docs" / "getting-started.md",
    *sorted((ROOT / "docs" / "guides").glob("*.md")),
]
FENCE = re.compile(r"(?P<before>[^\n]*)\n```(?P<lang>python|bash)\n(?P<code>.*?)\n```", re.S)
# Pages whose shell commands make what their Python examples read (recorded demonstrations): those
# run too. Elsewhere a command names a user's files or a long job; each tool has tests of its own.
RUN_SHELL = {ROOT / "README.md", ROOT / "docs" / "getting-started.md", ROOT / "docs" / "guides" / "demonstrations.md"}
RAN: set[str] = set()  # blocks already run in this process (the README's quickstarts recur on the site)


def blocks(page: Path) -> list[tuple[str, str]]:
    """(language, code) of the page's runnable blocks, in order."""
    text = "\n" + page.read_text()
    found = [(m["lang"], m["code"]) for m in FENCE.finditer(text) if not m["before"].startswith("<!-- no-run")]
    return [(lang, code) for lang, code in found if lang == "python" or page in RUN_SHELL]


def small(code: str) -> str:
    """The same example at a test's budget: one training iteration, two recorded episodes."""
    code = re.sub(r"range\(\d+\)", "range(1)", code)
    stop = '"num_env_steps_sampled_lifetime": '  # a Tune run's stop
    code = re.sub(stop + r"\d+", stop + "1000", code)
    return re.sub(r"--episodes \d+", "--episodes 2", code)


def commands(script: str) -> list[list[str]]:
    """The commands of a bash block that run this package's tools (pip, make, ray: not)."""
    joined = script.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        line = line.split("  #", 1)[0].strip()
        if line.startswith("export "):
            out.append(["export", line.removeprefix("export ").strip()])
        elif line.startswith("python -m rllib_sac_hybrid"):  # examples/ scripts: tests/test_examples.py
            out.append(shlex.split(line))
    return out


PRELUDE = """\
import os, subprocess, sys
import ray, ray.train.constants
ray.train.constants.DEFAULT_STORAGE_PATH = os.path.join(os.getcwd(), "ray_results")  # Tune's results, here
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
namespace = {"__name__": "__main__"}
"""


def page_script(page: Path) -> str:
    """One Python script that runs the page's examples in order, as a reader would: Python blocks
    in one namespace, shell commands as subprocesses, ``export`` into the environment."""
    lines = [PRELUDE]
    for number, (lang, code) in enumerate(blocks(page)):
        code = small(code)
        key = hashlib.sha1(f"{lang}\n{code}".encode()).hexdigest()
        if key in RAN:
            continue  # the same example already ran from another page (same worker: one xdist group)
        RAN.add(key)
        if lang == "python":
            lines.append(f"exec(compile({code!r}, {f'{page.name}, example {number + 1}'!r}, 'exec'), namespace)")
            continue
        for command in commands(code):
            if command[0] == "export":
                name, value = command[1].split("=", 1)
                lines.append(f"os.environ[{name!r}] = {value!r}")
            else:
                lines.append(f"subprocess.run([sys.executable, *{command[1:]!r}], check=True)")
    return "\n".join(lines) + "\n"


@pytest.mark.xdist_group("docs_examples")
@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_the_examples_of_a_page_run_as_written(page, tmp_path):
    """Each page in a fresh interpreter of its own (its own Ray, env variables and renderers)."""
    if "GymHilPickCube" in page.read_text() and importlib.util.find_spec("gym_hil") is None:
        # Not imported here: importing gym-hil imports MuJoCo, whose GL backend would be fixed in this
        # worker before MUJOCO_GL is set (a later renderer then aborts the process).
        pytest.skip("the gym-hil extra is not installed")
    script = tmp_path / "examples.py"
    script.write_text(page_script(page))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("MUJOCO_GL", None)  # as a new reader's shell: the README's export sets it
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert done.returncode == 0, f"{page.name}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"


def test_the_cluster_guide_job_runs_on_one_machine(tmp_path):
    """examples/cluster/train.py with --arms 0 (no robot nodes): one iteration, a checkpoint."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "cluster" / "train.py"), "--env", "Pendulum-v1", "--arms", "0",
         "--env-steps", "1000", "--out", str(tmp_path / "ckpt")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "ckpt" / "rllib_checkpoint.json").is_file()


def test_the_site_builds_strictly(tmp_path):
    """``mkdocs build --strict``: no broken link, anchor or API reference."""
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_the_settings_reference_is_rendered_from_settings_py():
    from rllib_sac_hybrid.settings import reference_markdown

    page = (ROOT / "docs" / "reference" / "settings.md").read_text()
    assert page == reference_markdown() + "\n", "docs/reference/settings.md is stale: run make docs"


def test_the_readme_results_table_and_the_results_page_match_the_run_records():
    from benchmarks import render

    runs = render.read_runs("learning")
    readme = (ROOT / "README.md").read_text()
    assert readme == render.readme_with_table(readme, render.headline_table(runs)), "run python -m benchmarks.render"
    assert (ROOT / "docs" / "results.md").read_text() == render.results_page(runs), "run python -m benchmarks.render"
    shown = {(task, label) for task, label in render.HEADLINE if render.groups(runs).get((task, label))}
    assert shown == set(render.HEADLINE), f"headline runs without a record: {set(render.HEADLINE) - shown}"


def test_the_readme_stays_short_and_is_not_a_log():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 400
    assert not re.search(r"\b(this session|I have|we measured|until this version)\b", text, re.I)


def test_the_changelog_names_the_version_the_package_reports():
    import rllib_sac_hybrid

    newest = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert newest and newest.group(1) == rllib_sac_hybrid.__version__
