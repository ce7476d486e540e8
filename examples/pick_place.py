"""HybridSAC on the built-in pick-and-place (a hybrid action: the arm's Box and the gripper's
close / stay / open), in the style of RLlib's example scripts.

How to run this script
----------------------
`python examples/pick_place.py`

As a test, failing unless the mean return of the last 30 episodes reaches --stop-reward:
`python examples/pick_place.py --as-test --stop-reward=-0.5 --stop-timesteps=20000`

For debugging, `--no-tune` trains in this process. Every option of RLlib's
`add_rllib_example_script_args` applies; `--num-env-runners=1` with this script's
`--async-sampling` lets the learner train while the runner steps.

Results to expect
-----------------
`HybridSACConfig()` with its defaults, seed 0. The episode return is the dense reward's (about
-10 for a policy that never grasps, about 0 when every episode ends at the goal); the windowed
success rate is printed next to it. Training success passes 80% at about 10,000 env steps (see
the README's "Learning"), where the windowed return is about -0.5.
"""

from __future__ import annotations

from common import run
from ray.rllib.examples.utils import add_rllib_example_script_args

from rllib_sac_hybrid import HybridSACConfig
from rllib_sac_hybrid.envs import PICK_PLACE_ID

parser = add_rllib_example_script_args(default_reward=-0.5, default_iters=200, default_timesteps=30_000)
parser.add_argument("--async-sampling", action="store_true", help="remote runners step on while the learner trains")


def main(argv: list[str] | None = None):
    args = parser.parse_args(argv)
    config = (
        HybridSACConfig()
        .environment(args.env or PICK_PLACE_ID)
        .training(async_sampling=args.async_sampling)
        .reporting(metrics_num_episodes_for_smoothing=30)
        .debugging(seed=0)
    )
    return run(config, args, report_success=True)


if __name__ == "__main__":
    main()
