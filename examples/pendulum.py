"""HybridSAC on Pendulum-v1, in the style of RLlib's example scripts.

How to run this script
----------------------
`python examples/pendulum.py`

As a test, failing unless the mean return of the last 10 episodes reaches --stop-reward:
`python examples/pendulum.py --as-test --stop-reward=-400 --stop-timesteps=10000`

For debugging, `--no-tune` trains in this process (breakpoints work). Every option of RLlib's
`add_rllib_example_script_args` applies (`--num-env-runners`, `--num-learners`, `--wandb-key`, ...).

Results to expect
-----------------
The stop and `--as-test` metric is `env_runners/episode_return_windowed` (the last 10 episodes),
not RLlib's per-iteration `episode_return_mean` (see `common.py`). Seed 0: -1,147 at 2,000 env
steps, -751 at 4,000, -365 at 5,000, -170 at 6,000 (253 s on 2 busy cores). With the plain
defaults (1,000 random steps, 1 env step per round) it was at -797 at 4,000.
"""

from __future__ import annotations

from common import run
from ray.rllib.examples.utils import add_rllib_example_script_args

from rllib_sac_hybrid import HybridSACConfig

parser = add_rllib_example_script_args(default_reward=-200.0, default_iters=100, default_timesteps=20_000)


def main(argv: list[str] | None = None):
    args = parser.parse_args(argv)
    config = (
        HybridSACConfig()
        .environment(args.env or "Pendulum-v1")
        # The defaults, but half of the 1,000 random warm-up steps, and 4 env steps per round
        # (the defaults' 1 costs RLlib's per-round overhead at every step).
        .training(num_random_steps=500)
        .env_runners(rollout_fragment_length=4)
        .reporting(min_sample_timesteps_per_iteration=500, metrics_num_episodes_for_smoothing=10)
        .debugging(seed=0)
    )
    return run(config, args)


if __name__ == "__main__":
    main()
