"""The command-line parsers shared by record, pretrain, demo and the benchmarks."""

from __future__ import annotations

import pytest

from rllib_sac_hybrid.cli import json_object, key_values


def test_json_object_parses_an_object():
    assert json_object("--env-config", '{"image_size": 32, "reward_type": "sparse"}') == {
        "image_size": 32,
        "reward_type": "sparse",
    }


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{image_size: 32}", "--env-config=.*is not JSON"),
        ("[1, 2]", "--env-config=.*a JSON list; allowed: a JSON object"),
    ],
)
def test_json_object_names_the_flag_on_bad_input(text, match):
    with pytest.raises(ValueError, match=match):
        json_object("--env-config", text)


def test_key_values_reads_literals_and_falls_back_to_strings():
    assert key_values("--set", ["n_step=3", "critic_hidden_dims=(32, 32)", "activation=relu", "x="]) == {
        "n_step": 3,
        "critic_hidden_dims": (32, 32),
        "activation": "relu",
        "x": "",
    }


@pytest.mark.parametrize("pair", ["n_step", "=3"])
def test_key_values_names_the_flag_and_the_form(pair):
    with pytest.raises(ValueError, match=r"--set .* is invalid; allowed: key=value, e.g. n_step=3"):
        key_values("--set", [pair])
