"""``HybridSACEnvRunner``: RLlib's single-agent EnvRunner with a deliberate torch thread count."""

from __future__ import annotations

import torch
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner


class HybridSACEnvRunner(SingleAgentEnvRunner):
    """A ``SingleAgentEnvRunner`` that runs its policy on ``env_runner_torch_threads`` torch threads.

    An EnvRunner's forward pass is one small batch per env step: extra intra-op threads only
    add synchronisation and compete with the learner for cores (on 2 cores, oversubscription
    makes timings swing tenfold). Only remote runners (``worker_index > 0``) set it: the
    local runner lives in the algorithm's process, whose threads the learner setting owns.
    """

    def __init__(self, *, config, **kwargs) -> None:
        if kwargs.get("worker_index", 0) > 0:
            torch.set_num_threads(config.env_runner_torch_threads)
        super().__init__(config=config, **kwargs)
