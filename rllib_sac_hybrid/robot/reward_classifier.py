"""A learned success classifier as the reward (HIL-SERL: a real robot has no success signal).

    python -m rllib_sac_hybrid.robot.reward_classifier train --episodes demos/ evals/ --out classifier.pt
    python -m rllib_sac_hybrid.robot.reward_classifier train --episodes runs/ --labels labels.json --out classifier.pt

Training data are recorded episodes (``python -m rllib_sac_hybrid.robot.record``, RLlib's offline
episode format): the observation after each step is a frame, labelled 1 where that step's info
says ``is_success`` / ``succeed`` and 0 elsewhere. Hand-labelled episodes take a labels file
instead: JSON ``{"<episode id>": first successful step, or a list of 0/1 per step}`` (``python -m
rllib_sac_hybrid.robot.reward_classifier list --episodes DIR`` prints the ids, steps and recorded success);
episodes it leaves out keep their recorded labels. Failed episodes are what teach the
classifier what is not success: record some (``--policy random``, or evaluation runs).

The model is the policy's own encoder family (``networks.ObservationEncoder``: a CNN backbone per
camera with a spatial embedding, a linear layer per vector key) and a small MLP to one logit.
Training holds whole episodes out for validation, weights the positive class by the negatives'
share, stops early on the validation loss, and prints precision and recall each epoch.

Use: ``HybridSACConfig().training(reward_classifier="classifier.pt")`` makes every EnvRunner wrap
its vector env in ``RewardClassifierVectorWrapper``: one batched forward over the sub-envs per
step, on the runner's CPU. At the file's threshold (the best F1 on the validation frames, unless
``reward_classifier_threshold`` is set) it replaces the env's reward by 1.0 / 0.0
(``reward_classifier_mode="replace"``) or adds it (``"add"``), and sets ``info["is_success"]``,
with the env's own flag kept as ``info["env_is_success"]`` to measure the classifier against.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rllib_sac_hybrid.data.demonstrations import read_episodes
from rllib_sac_hybrid.networks import ObservationEncoder, resolve_backbone
from rllib_sac_hybrid.robot.export import describe_space
from rllib_sac_hybrid.runtime.callbacks import success_flag
from rllib_sac_hybrid.spaces import flatten_observation, image_shapes, observation_dims

FILE_FORMAT = "rllib_sac_hybrid.reward_classifier/1"
MODES = ("replace", "add")


class SuccessClassifier(nn.Module):
    """Observation (batched, the env's format) -> success logit (B,)."""

    def __init__(
        self,
        observation_space: gym.Space,
        latent_dim: int = 64,
        hidden_dims: Sequence[int] = (64,),
        image_backbone: str | None = None,
    ) -> None:
        super().__init__()
        self.observation_space = observation_space
        self.encoder = ObservationEncoder(
            observation_dims(observation_space),
            latent_dim,
            image_shapes=image_shapes(observation_space),
            backbone=resolve_backbone(image_backbone),
        )
        layers: list[nn.Module] = []
        width = self.encoder.out_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.head = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, obs) -> torch.Tensor:
        """obs: batched, the env's format (nested dicts allowed); returns logits (B,)."""
        return self.head(self.encoder(flatten_observation(obs, self.observation_space))).squeeze(-1)

    @torch.no_grad()
    def probability(self, obs) -> np.ndarray:
        """Success probabilities (B,) of batched numpy observations in the env's format."""
        return torch.sigmoid(self(_tensors(obs))).numpy()


# ---- data -----------------------------------------------------------------------------------------
def labelled_frames(
    episode_dirs: str | Sequence[str], labels_file: str | None = None
) -> tuple[list[Any], list[np.ndarray], gym.Space]:
    """Per episode: its frames (the observation after each step, batched in the env's format)
    and their 0/1 labels; and the observation space.

    Raises:
        ValueError: no episodes, or a labels file that does not fit them.
    """
    # Ray Data reads in no fixed order: sorted by id, the split and the batches repeat.
    episodes = sorted(read_episodes(episode_dirs), key=lambda e: str(e.id_))
    if not episodes:
        raise ValueError(f"--episodes {episode_dirs!r} holds no episodes.")
    space = episodes[0].observation_space
    if space is None:
        raise ValueError(f"--episodes {episode_dirs!r}: the episodes carry no observation space.")
    given = _read_labels(labels_file, {str(e.id_) for e in episodes}) if labels_file else {}
    frames, labels = [], []
    for episode in episodes:
        index = str(episode.id_)
        infos = episode.get_infos()[1:]  # the info of each step (the first is the reset's)
        observations = _stack(episode.get_observations()[1:], space)
        steps = len(infos)
        if index in given:
            value = given[index]
            label = np.asarray(value, dtype=np.float32) if isinstance(value, list) else np.arange(steps) >= value
            if len(label) != steps:
                raise ValueError(
                    f"--labels {labels_file}: episode {index} has {steps} steps but {len(label)} labels; allowed: "
                    "one 0/1 per step, or the first successful step."
                )
        else:
            label = np.array([bool(success_flag(info)) for info in infos])
        frames.append(observations)
        labels.append(np.asarray(label, dtype=np.float32))
    return frames, labels, space


def _read_labels(path: str, ids: set[str]) -> dict[str, Any]:
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"--labels {path}: not a readable JSON file ({error}).") from error
    if not isinstance(raw, dict):
        raise ValueError(f"--labels {path}: expected a JSON object of episode id -> labels.")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in ids:
            raise ValueError(
                f"--labels {path}: episode {key!r} is not one of the {len(ids)} episodes (python -m "
                "rllib_sac_hybrid.robot.reward_classifier list --episodes ... prints their ids)."
            )
        if not (isinstance(value, int) or (isinstance(value, list) and all(v in (0, 1) for v in value))):
            raise ValueError(f"--labels {path}: episode {key}: {value!r}; allowed: a step index or a list of 0/1.")
        out[key] = value
    return out


def list_episodes(episode_dirs: str | Sequence[str]) -> list[dict[str, Any]]:
    """Each recorded episode's id, steps and recorded success (of its last step), in the order
    training reads them."""
    episodes = sorted(read_episodes(episode_dirs), key=lambda e: str(e.id_))
    return [{"id": str(e.id_), "steps": len(e), "success": success_flag(e.get_infos(-1))} for e in episodes]


def _stack(observations, space: gym.Space):
    """A list of observations (or an already batched one) -> batched arrays in the space's format."""
    if isinstance(space, gym.spaces.Dict):
        if isinstance(observations, dict):
            return {k: _stack(observations[k], sub) for k, sub in space.spaces.items()}
        return {k: _stack([o[k] for o in observations], sub) for k, sub in space.spaces.items()}
    return np.asarray(observations, dtype=space.dtype)


def _rows(batched, index: np.ndarray):
    if isinstance(batched, dict):
        return {k: _rows(v, index) for k, v in batched.items()}
    return batched[index]


def _concat(parts: list):
    if isinstance(parts[0], dict):
        return {k: _concat([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


def _tensors(obs):
    if isinstance(obs, dict):
        return {k: _tensors(v) for k, v in obs.items()}
    return torch.as_tensor(np.ascontiguousarray(obs))


# ---- training -------------------------------------------------------------------------------------
def train_classifier(
    episodes: str | Sequence[str],
    out: str,
    *,
    labels: str | None = None,
    epochs: int = 50,
    batch_size: int = 64,
    lr: float = 3e-4,
    validation_fraction: float = 0.2,
    patience: int = 5,
    latent_dim: int = 64,
    image_backbone: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Trains a ``SuccessClassifier`` and saves the best epoch's (lowest validation loss) to
    ``out``; returns its validation precision, recall and loss, and the epochs run."""
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("patience", patience, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name}={value!r} is invalid; allowed: an integer >= {low}.")
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction={validation_fraction!r} is invalid; allowed: a number in (0, 1).")
    frames, label_list, space = labelled_frames(episodes, labels)
    everything = np.concatenate(label_list)
    if everything.min() == everything.max():
        kind = "success" if everything.max() == 1 else "failure"
        raise ValueError(
            f"--episodes {episodes!r}: all {len(everything)} frames are labelled {kind}; allowed: episodes with "
            "both successful and unsuccessful frames (record failures too, e.g. --policy random, or label by hand "
            "with --labels)."
        )
    if len(frames) < 2:
        raise ValueError(f"--episodes {episodes!r} hold 1 episode; allowed: at least 2 (whole episodes are held out).")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    # Episodes in an order fixed by their content (ids are random at recording), then shuffled
    # by the seed: the same recordings give the same split.
    digests = [hashlib.sha1(repr(_first_bytes(f)).encode()).hexdigest() for f in frames]
    by_content = sorted(range(len(frames)), key=lambda i: digests[i])
    order = [by_content[i] for i in torch.randperm(len(frames), generator=generator).tolist()]
    num_val = max(1, round(validation_fraction * len(frames)))
    split = {"validation": order[:num_val], "train": order[num_val:]}
    data = {
        name: (
            _tensors(_concat([frames[i] for i in ids])),
            torch.as_tensor(np.concatenate([label_list[i] for i in ids])),
        )
        for name, ids in split.items()
    }
    train_obs, train_y = data["train"]
    val_obs, val_y = data["validation"]
    positives = float(train_y.sum())
    pos_weight = torch.tensor((len(train_y) - positives) / max(positives, 1.0))  # class balance
    model = SuccessClassifier(space, latent_dim=latent_dim, image_backbone=image_backbone)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def validation_logits() -> torch.Tensor:
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(_rows(val_obs, rows)) for rows in torch.arange(len(val_y)).split(256)])
        model.train()
        return logits

    def evaluate(threshold: float = 0.5) -> dict[str, float]:
        logits = validation_logits()
        loss = float(F.binary_cross_entropy_with_logits(logits, val_y, pos_weight=pos_weight))
        return {"loss": loss, **_scores(torch.sigmoid(logits), val_y > 0.5, threshold)}

    best: dict[str, Any] = {"loss": math.inf, "epoch": 0}
    start, epoch = time.monotonic(), 0
    live_bar = sys.stdout.isatty()  # in a log file, one line per epoch instead of a redrawn bar
    for epoch in range(1, epochs + 1):
        batches = torch.randperm(len(train_y), generator=generator).split(batch_size)
        for step, rows in enumerate(batches, 1):
            loss = F.binary_cross_entropy_with_logits(
                model(_rows(train_obs, rows)), train_y[rows], pos_weight=pos_weight
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if progress and live_bar:
                bar = "#" * (20 * step // len(batches))
                print(f"\repoch {epoch} [{bar:<20}] {step}/{len(batches)}", end="", flush=True)
        metrics = evaluate()
        if metrics["loss"] < best["loss"]:
            best = {**metrics, "epoch": epoch, "state": {k: v.clone() for k, v in model.state_dict().items()}}
        if progress:
            print(
                ("\r" if live_bar else "")
                + f"epoch {epoch}: validation loss {metrics['loss']:.4f}, precision {metrics['precision']:.3f}, "
                f"recall {metrics['recall']:.3f} (best loss {best['loss']:.4f} at epoch {best['epoch']}), "
                f"{time.monotonic() - start:.0f} s",
                flush=True,
            )
        if epoch - best["epoch"] >= patience:
            break
    # The weighted loss favours recall; a reward needs precision too: the threshold with the
    # best F1 on the validation frames goes with the file (the wrapper's default).
    model.load_state_dict(best["state"])
    probabilities = torch.sigmoid(validation_logits())
    candidates = sorted({round(float(p), 4) for p in probabilities.clamp(0.01, 0.99)} | {0.5})
    threshold = max(candidates, key=lambda t: (_scores(probabilities, val_y > 0.5, t)["f1"], -abs(t - 0.5)))
    best.update(_scores(probabilities, val_y > 0.5, threshold), threshold=threshold)
    torch.save(
        {
            "format": FILE_FORMAT,
            "state_dict": best["state"],
            "observation_space": describe_space(space),
            "space": space,  # rebuilt with weights_only=False below: a gymnasium space, not code
            "latent_dim": latent_dim,
            "image_backbone": image_backbone,
            "threshold": threshold,
            "validation": {k: best[k] for k in ("loss", "precision", "recall", "f1", "accuracy")},
        },
        out,
    )
    return {
        "out": out,
        "epochs": epoch,
        "best_epoch": best["epoch"],
        "threshold": threshold,
        **{f"validation_{k}": best[k] for k in ("loss", "precision", "recall", "f1", "accuracy")},
        "train_frames": len(train_y),
        "validation_frames": len(val_y),
        "train_positives": int(positives),
        "seconds": time.monotonic() - start,
    }


def _scores(probabilities: torch.Tensor, truth: torch.Tensor, threshold: float) -> dict[str, float]:
    predicted = probabilities >= threshold
    tp = float((predicted & truth).sum())
    precision = tp / max(float(predicted.sum()), 1.0)
    recall = tp / max(float(truth.sum()), 1.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    accuracy = float((predicted == truth).float().mean())
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}


def _first_bytes(frames) -> bytes:
    if isinstance(frames, dict):
        return b"".join(_first_bytes(frames[k]) for k in sorted(frames))
    return np.ascontiguousarray(frames[0]).tobytes() + str(len(frames)).encode()


def load_classifier(path: str | Path, observation_space: gym.Space | None = None) -> SuccessClassifier:
    """The classifier saved by ``train_classifier``, in eval mode on CPU.

    Raises:
        ValueError: not such a file, or trained for another observation space than ``observation_space``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"reward_classifier={str(path)!r} is not a file.")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(f"reward_classifier={str(path)!r} is not a classifier file ({error}).") from error
    if not isinstance(saved, dict) or saved.get("format") != FILE_FORMAT:
        raise ValueError(
            f"reward_classifier={str(path)!r} is not a file of "
            "python -m rllib_sac_hybrid.robot.reward_classifier train "
            f"(format {saved.get('format') if isinstance(saved, dict) else type(saved).__name__!r})."
        )
    if observation_space is not None and describe_space(observation_space) != saved["observation_space"]:
        raise ValueError(
            f"reward_classifier={str(path)!r} was trained on observations {saved['observation_space']}, but this env's "
            f"are {describe_space(observation_space)}."
        )
    model = SuccessClassifier(saved["space"], latent_dim=saved["latent_dim"], image_backbone=saved["image_backbone"])
    model.load_state_dict(saved["state_dict"])
    model.threshold = float(saved.get("threshold", 0.5))  # chosen on the validation frames
    return model.eval().requires_grad_(False)


# ---- use ------------------------------------------------------------------------------------------
class RewardClassifierVectorWrapper(gym.vector.VectorWrapper):
    """A vector env whose reward and success flag come from a ``SuccessClassifier``: one batched
    forward over all sub-envs per step. ``mode="replace"``: reward = 1.0 where the probability
    is at least ``threshold``, else 0.0; ``"add"``: that plus the env's reward. ``terminate``: a
    classified success also ends that sub-env's episode (``terminated``). Each step's info
    gets ``is_success`` (the classifier's), ``env_is_success`` (the env's own flag, if it has
    one) and ``reward_classifier_probability``. Infos as a list of dicts (RLlib's
    ``DictInfoToList``) or gymnasium's dict of arrays both work."""

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        path: str | Path,
        threshold: float | None = None,
        mode: str = "replace",
        terminate: bool = True,
    ) -> None:
        super().__init__(env)
        if mode not in MODES:
            raise ValueError(f"reward_classifier_mode={mode!r} is unknown; allowed: {MODES}.")
        if threshold is not None and not 0.0 < threshold < 1.0:
            raise ValueError(f"reward_classifier_threshold={threshold!r} is invalid; allowed: a number in (0, 1).")
        self.classifier = load_classifier(path, env.single_observation_space)
        self.threshold = float(threshold if threshold is not None else self.classifier.threshold)
        self.mode, self.terminate = mode, terminate
        if terminate:
            # Ending a sub-env's episode from outside: a SyncVectorEnv in next-step autoreset mode
            # (RLlib's default) resets a sub-env on the step after the one it marks done. An async
            # vector env keeps that mark in its worker processes, out of reach.
            inner = env.unwrapped
            if not (
                isinstance(inner, gym.vector.SyncVectorEnv)
                and getattr(inner, "autoreset_mode", None) == gym.vector.AutoresetMode.NEXT_STEP
                and isinstance(getattr(inner, "_autoreset_envs", None), np.ndarray)
            ):
                raise ValueError(
                    "reward_classifier_terminates=True needs a gymnasium SyncVectorEnv with next-step autoreset "
                    f"(RLlib's default, gym_env_vectorize_mode='sync'), not {type(inner).__name__}; allowed with "
                    "other vector envs: reward_classifier_terminates=False."
                )
        self._starting = np.zeros(self.num_envs, dtype=bool)  # next-step autoreset: this step only resets

    def step(self, actions):
        obs, reward, terminated, truncated, infos = self.env.step(actions)
        probability = self.classifier.probability(obs)
        success = (probability >= self.threshold) & ~self._starting
        learned = success.astype(np.float32)
        reward = np.where(self._starting, reward, learned if self.mode == "replace" else reward + learned)
        if self.terminate:
            ended = success & ~(np.asarray(terminated) | np.asarray(truncated))
            terminated = np.asarray(terminated) | success
            # The sub-env resets on its next step, as after an end of its own.
            self.env.unwrapped._autoreset_envs |= ended
        self._starting = np.asarray(terminated) | np.asarray(truncated)
        if isinstance(infos, list):
            for i, info in enumerate(infos):
                if success_flag(info) is not None:
                    info["env_is_success"] = bool(success_flag(info))
                info["is_success"] = bool(success[i])  # read before gym-hil's "succeed" (SUCCESS_INFO_KEYS)
                info["reward_classifier_probability"] = float(probability[i])
        else:
            infos = dict(infos)
            if "is_success" in infos:
                infos["env_is_success"] = infos["is_success"]
            infos["is_success"] = success
            infos["reward_classifier_probability"] = probability
        return obs, reward, terminated, truncated, infos


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a success classifier on recorded episodes")
    train.add_argument("--episodes", nargs="+", required=True, help="directories of recorded episodes")
    train.add_argument("--out", required=True, help="the classifier file to write")
    train.add_argument("--labels", default=None, help="JSON: episode id -> first successful step, or 0/1 per step")
    train.add_argument("--epochs", type=int, default=50)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=3e-4)
    train.add_argument("--validation-fraction", type=float, default=0.2)
    train.add_argument(
        "--patience", type=int, default=5, help="epochs without a better validation loss before stopping"
    )
    train.add_argument("--image-backbone", default=None, help="as the policy's image_backbone (default: a small CNN)")
    train.add_argument("--seed", type=int, default=0)
    listing = commands.add_parser("list", help="print the recorded episodes' ids, steps and success")
    listing.add_argument("--episodes", nargs="+", required=True)
    args = parser.parse_args(argv)
    if args.command == "list":
        rows = list_episodes(args.episodes)
        for row in rows:
            print(json.dumps(row))
        return {"episodes": rows}
    summary = train_classifier(
        args.episodes,
        args.out,
        labels=args.labels,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        validation_fraction=args.validation_fraction,
        patience=args.patience,
        image_backbone=args.image_backbone,
        seed=args.seed,
    )
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
