"""The benchmarks' shared train-until loop, their run records, and the tables rendered from them."""

from __future__ import annotations

import json

from benchmarks import common, render


class FakeAlgo:
    """1,000 env steps per train(); the windowed success climbs by 0.25 an iteration."""

    def __init__(self) -> None:
        self.iteration = 0

    def train(self) -> dict:
        self.iteration += 1
        return {
            "num_env_steps_sampled_lifetime": 1000 * self.iteration,
            "env_runners": {
                "episode_return_windowed": -100.0 + 10 * self.iteration,
                "episode_success_rate_windowed": min(1.0, 0.25 * self.iteration),
                "num_episodes_finished_lifetime": 10 * self.iteration,
            },
            "learners": {"default_policy": {"temperature": 0.01}},
        }


def test_train_until_stops_at_the_budget_or_the_stop_rule_and_evaluates_on_schedule():
    evaluated = []

    def greedy(algo, steps):
        evaluated.append(steps)
        return {"greedy_success": steps / 10_000}

    rows = common.train_until(FakeAlgo(), 5000, evaluate=greedy, eval_every=2000)
    assert [r["env_steps"] for r in rows] == [1000, 2000, 3000, 4000, 5000]
    assert evaluated == [2000, 4000, 5000]  # on schedule, and at the end
    assert rows[1]["greedy_success"] == 0.2 and "greedy_success" not in rows[0]
    assert rows[2]["train_success"] == 0.75 and rows[2]["episodes"] == 30

    evaluated.clear()
    rows = common.train_until(FakeAlgo(), 10_000, stop=lambda r: r["train_success"] >= 0.5, evaluate=greedy,
                              eval_every=5000)  # fmt: skip
    assert rows[-1]["env_steps"] == 2000 and evaluated == [2000]  # a run stopped early ends evaluated
    assert common.first_at(rows, "train_success", 0.5)["env_steps"] == 2000
    assert common.held_from([{"x": 1.0}, {"x": 0.0}, {"x": 1.0}, {"x": 1.0}], "x", 0.5) == {"x": 1.0}


def test_a_run_record_names_its_commit_and_machine_and_renders_into_the_tables(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    for seed in (0, 1):
        curve = common.train_until(FakeAlgo(), 4000, evaluate=lambda a, s: {"greedy_success": 0.9})
        summary = {"metric": "success", "target": 0.8, "final": curve[-1],
                   "train_first": {"env_steps": 4000, "seconds": 1.0}, "greedy_first": None,
                   "train_held_from": 4000}  # fmt: skip
        path = common.record_run("learning", task="pick-place", label="defaults", seed=seed, settings={"a": (1, 2)},
                                 curve=curve, summary=summary)  # fmt: skip
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert record["commit"] and record["machine"]["cores"] and record["settings"] == {"a": [1, 2]}
    runs = common.read_runs("learning")
    table = render.headline_table(runs)
    assert "| PickPlace-v0 (hybrid) | defaults | success 80% | 4,000 / 4,000 | 0.90 / 0.90 | 0, 1 |" in table
    page = render.results_page(runs)
    assert "## PickPlace-v0 (hybrid): defaults" in page and page.count("| 0 |") + page.count("| 1 |") >= 2
    readme = f"intro\n{render.BEGIN}\nold\n{render.END}\nrest\n"
    assert render.readme_with_table(readme, table) == f"intro\n{render.BEGIN}\n{table}\n{render.END}\nrest\n"
