"""Building and training HybridSAC prints none of RLlib's notices that say nothing to its users,
and our own code raises no warnings (they are turned into errors here)."""

from __future__ import annotations

import logging
import warnings

import pytest
import ray.util.debug
from ray.rllib.examples.envs.classes.multi_agent import MultiAgentPendulum
from ray.tune.registry import register_env

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.algorithm import HybridSAC
from rllib_sac_hybrid.config import new_api_stack_notice_key
from rllib_sac_hybrid.module import RLMODULE_CONFIG_DEPRECATION_KEY
from tests.conftest import TINY_NETS


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


register_env("quiet-ma-pendulum", lambda _: MultiAgentPendulum(config={"num_agents": 2}))


@pytest.mark.parametrize("multi_agent", [False, True], ids=["single-agent", "multi-agent"])
def test_build_and_train_are_quiet(ray_session, multi_agent):
    # Earlier tests in this process may have logged them already: forget that, so this can fail.
    for key in (RLMODULE_CONFIG_DEPRECATION_KEY, new_api_stack_notice_key(HybridSAC)):
        ray.util.debug._logged.discard(key)
    records = Records()
    loggers = [logging.getLogger(name) for name in ("ray", "ray.rllib")]  # ray.rllib does not propagate
    for logger in loggers:
        logger.addHandler(records)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("error", module=r"rllib_sac_hybrid(\..*)?$")
            config = (
                HybridSACConfig()
                .environment("quiet-ma-pendulum" if multi_agent else "Pendulum-v1")
                .training(**TINY_NETS, num_random_steps=20, train_batch_size_per_learner=16)
                .reporting(min_sample_timesteps_per_iteration=40)
            )
            if multi_agent:
                config.multi_agent(policies={"p0", "p1"}, policy_mapping_fn=lambda agent_id, *a, **k: f"p{agent_id}")
            algo = config.build_algo()
            try:
                algo.train()
            finally:
                algo.stop()
    finally:
        for logger in loggers:
            logger.removeHandler(records)
    noisy = [m for m in records.messages if "new API stack" in m or "RLModuleConfig" in m]
    assert not noisy, noisy
