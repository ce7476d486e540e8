"""HybridSAC from camera images: the built-in pick-and-place seen through a numpy-drawn top-down
camera (``PickPlacePixels-v0``) against a random policy; and a gym-hil smoke run with
``image_obs=True`` (two 128x128 cameras, software GL).

    python benchmarks/pixels.py --max-env-steps 20000
    python benchmarks/pixels.py --settings pretrained,frozen,trained --max-env-steps 30000  # + a backbone
                                                    # pretrained on 120 scripted demonstrations, frozen
    python benchmarks/pixels.py --gym-hil-iterations 3 --max-env-steps 0   # the gym-hil smoke run only

Prints the training return and success rate against env steps, the random policy's, and the
figures per setting; writes ``benchmarks/results/pixels.{csv,png}``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import ray  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks.common

from benchmarks.common import record_run, train_until  # noqa: E402
from rllib_sac_hybrid import HybridSACConfig  # noqa: E402
from rllib_sac_hybrid.envs import GYM_HIL_PICK_CUBE_ID, PICK_PLACE_PIXELS_ID, PICK_PLACE_TRAINING  # noqa: E402
from rllib_sac_hybrid.settings import HYBRID_SAC_DEFAULTS  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def random_policy(image_size: int, episodes: int) -> dict:
    env = gym.make(PICK_PLACE_PIXELS_ID, image_size=image_size)
    env.action_space.seed(0)
    returns, successes = [], []
    for episode in range(episodes):
        env.reset(seed=episode)
        total = 0.0
        while True:
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            total += reward
            if terminated or truncated:
                returns.append(total), successes.append(float(info["is_success"]))
                break
    return {"return": float(np.mean(returns)), "success": float(np.mean(successes))}


def pretrained_backbone(args: argparse.Namespace) -> str:
    """A backbone pretrained on ``--pretrain-demos`` scripted demonstrations (behaviour cloning from
    the image, ``rllib_sac_hybrid.robot.pretrain``), recorded and trained once per image size."""
    from rllib_sac_hybrid.robot.pretrain import pretrain_image_backbone
    from rllib_sac_hybrid.robot.record import record

    demos = RESULTS / f"demos_pixels{args.image_size}_{args.pretrain_demos}"
    out = RESULTS / f"backbone_pixels{args.image_size}_{args.pretrain_demos}.pt"
    if not demos.is_dir():
        record(PICK_PLACE_PIXELS_ID, args.pretrain_demos, str(demos), "scripted", seed=20_000,
               env_config={"image_size": args.image_size})  # fmt: skip
    if not out.is_file():
        summary = pretrain_image_backbone(PICK_PLACE_PIXELS_ID, str(demos), str(out),
                                          env_config={"image_size": args.image_size}, progress=False)  # fmt: skip
        print(
            f"pretrained backbone: validation loss {summary['validation_loss']:.3f} (predicting the mean: "
            f"{summary['mean_prediction_loss']:.3f}), {summary['epochs']} epochs, {summary['seconds']:.0f} s"
        )
    return str(out)


def pixel_config(args: argparse.Namespace, frozen: bool, weights: str | None = None) -> HybridSACConfig:
    return (
        HybridSACConfig()
        .environment(PICK_PLACE_PIXELS_ID, env_config={"image_size": args.image_size})
        .training(
            **{
                **PICK_PLACE_TRAINING,
                "train_batch_size_per_learner": args.batch,
                "freeze_image_backbone": frozen,
                "image_backbone_weights": weights,
            }  # fmt: skip
        )
        .env_runners(rollout_fragment_length=8)
        .reporting(min_sample_timesteps_per_iteration=1000, metrics_num_episodes_for_smoothing=30)
        .debugging(seed=args.seed)
    )


def train(name: str, config: HybridSACConfig, max_env_steps: int) -> list[dict]:
    algo = config.build_algo()
    curve: list[dict] = []
    try:
        train_until(algo, max_env_steps, label=name, rows=curve)
    finally:
        algo.stop()
    record_run("pixels", task="pick-place-pixels", label=name, seed=config.seed or 0, curve=curve,
               settings={k: repr(v) for k, v in config.to_dict().items() if k in HYBRID_SAC_DEFAULTS})  # fmt: skip
    return [{"setting": name, "env_steps": r["env_steps"], "return": r["train_return"], "success": r["train_success"],
             "seconds": r["seconds"]} for r in curve]  # fmt: skip


def gym_hil_smoke(iterations: int) -> None:
    config = (
        HybridSACConfig()
        .environment(GYM_HIL_PICK_CUBE_ID, env_config={"image_obs": True})
        .training(
            discrete_action_in_last_dim=True,
            encoder_latent_dim=32,
            actor_hidden_dims=(64,),
            critic_hidden_dims=(64,),
            discrete_critic_hidden_dims=(64,),
            train_batch_size_per_learner=16,
            num_random_steps=50,
            freeze_image_backbone=True,
            replay_capacity=5000,  # two 128x128 cameras: about 123 KB per transition
        )
        .reporting(min_sample_timesteps_per_iteration=100)
        .debugging(seed=0)
    )
    algo = config.build_algo()
    try:
        spaces = algo.env_runner.env.single_observation_space
        print(f"gym-hil image observation space: {spaces}")
        for i in range(iterations):
            start = time.monotonic()
            result = algo.train()
            learner = result["learners"]["default_policy"]
            print(f"gym-hil images, iteration {i + 1}: {result['num_env_steps_sampled_lifetime']} env steps, "
                  f"critic loss {learner.get('critic_loss', float('nan')):.4f}, replay {learner['replay_size']}, "
                  f"{time.monotonic() - start:.0f} s", flush=True)  # fmt: skip
    finally:
        algo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-env-steps", type=int, default=20_000, help="0: skip the pixel task")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--settings", default="frozen,trained",
                        help="backbones, comma-separated: frozen (random), trained, pretrained (frozen)")  # fmt: skip
    parser.add_argument("--pretrain-demos", type=int, default=120, help="scripted episodes the pretraining uses")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gym-hil-iterations", type=int, default=0, help="gym-hil image_obs smoke run")
    args = parser.parse_args()
    settings = [s for s in args.settings.split(",") if s]
    if any(s not in ("frozen", "trained", "pretrained") for s in settings) or args.max_env_steps < 0:
        raise ValueError("--settings: a comma-separated subset of frozen,trained,pretrained; --max-env-steps >= 0")
    torch.set_num_threads(2)
    RESULTS.mkdir(exist_ok=True)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = []
        if args.max_env_steps:
            baseline = random_policy(args.image_size, 200)
            print(f"random policy: return {baseline['return']:.2f}, success {baseline['success']:.2f}")
            for setting in settings:
                weights = pretrained_backbone(args) if setting == "pretrained" else None
                config = pixel_config(args, setting in ("frozen", "pretrained"), weights)
                rows += train(f"{setting} backbone", config, args.max_env_steps)
        if args.gym_hil_iterations:
            gym_hil_smoke(args.gym_hil_iterations)
    finally:
        ray.shutdown()
    if rows:
        with open(RESULTS / "pixels.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        print(f"\n{PICK_PLACE_PIXELS_ID} at {args.image_size}x{args.image_size}, batch {args.batch}, UTD 1")
        print(f"random policy: return {baseline['return']:.2f}, success {baseline['success']:.0%}")
        for setting in settings:
            curve = [r for r in rows if r["setting"] == f"{setting} backbone"]
            last = curve[-3:]
            print(f"{setting} backbone: after {curve[-1]['env_steps']:,} env steps ({curve[-1]['seconds']:.0f} s): "
                  f"return {np.mean([r['return'] for r in last]):.2f}, "
                  f"success {np.mean([r['success'] for r in last]):.0%} (mean of the last 3 iterations)")  # fmt: skip
        plot(rows, baseline, RESULTS / "pixels.png")


def plot(rows: list[dict], baseline: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in zip(axes, ("return", "success"), ("training return", "training success rate")):
        for setting in sorted({r["setting"] for r in rows}):
            curve = [r for r in rows if r["setting"] == setting]
            ax.plot([r["env_steps"] for r in curve], [r[key] for r in curve], label=setting)
        ax.axhline(baseline[key], color="k", ls=":", lw=1, label="random policy")
        ax.set_xlabel("env steps")
        ax.set_ylabel(f"{label} (last 30 episodes)")
    axes[1].set_ylim(-0.02, 1.02)
    axes[0].legend(fontsize=8)
    fig.suptitle("Pick-and-place from a camera image")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
