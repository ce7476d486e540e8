"""Episodes from the EnvRunners as flat transition arrays (one row per env step), and the
checks and edits on them before they are stored: non-finite rows, dropped rows, concatenation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import gymnasium as gym
import numpy as np

from rllib_sac_hybrid.spaces import ActionLayout, flatten_observation


def episodes_to_transitions(
    episodes: Iterable,
    observation_space: gym.Space,
    layout: ActionLayout,
    penalty_key: str = "discrete_penalty",
    grasp_penalty: float | None = None,
) -> dict[str, np.ndarray | dict[str, np.ndarray]]:
    """Flattens RLlib episode chunks into transition arrays.

    Each chunk of length T holds T+1 observations; step t gives (o_t, a_t, r_t, o_{t+1}).
    ``done`` is 1 only on the last step of a *terminated* episode: a truncated episode (time
    limit) keeps bootstrapping from its true last observation, never from a reset. With
    discrete action parts, ``info[penalty_key]`` of step t (0 when absent) is kept as its
    ``discrete_penalty``: a number applies to every part, a sequence gives each part its own (two
    grippers, each penalised for its own flips). With ``grasp_penalty`` set, every part whose info
    reports a non-zero penalty (a gripper flip) gets ``grasp_penalty`` instead, whatever the env's
    magnitude.
    Where ``info["is_intervention"]`` of step t is true, a human drove the robot: the stored
    action is ``info["teleop_action"]`` (env format), not the policy's.

    Returns:
        dict with ``obs``, ``next_obs`` (array or ``{key: array}``), ``action`` (n, A) float32 in
        env units, ``reward`` (n,) and ``done`` (n,) float32; with a discrete part also
        ``discrete_action`` (n, P) int64 and ``discrete_penalty`` (n, P) float32. Three more arrays
        tell the replay which next observations it need not store twice (see
        ``TensorReplayBuffer.add``): ``next_is_next_row`` (n,) bool, ``episode_id`` (n,) object
        and ``episode_end`` (n,) bool (the last step of a terminated or truncated episode); and
        ``is_intervention`` (n,) bool.
    """
    parts: dict[str, list] = {
        k: [] for k in ("obs", "next_obs", "action", "reward", "done", INTERVENTION_KEY, *CHUNK_KEYS)
    }
    if layout.has_discrete:
        parts.update(discrete_action=[], discrete_penalty=[])
    for episode in episodes:
        steps = len(episode)
        if steps == 0:
            continue
        all_obs = flatten_observation(episode.get_observations(slice(0, steps + 1)), observation_space)
        parts["obs"].append(map_leaves(all_obs, lambda x: x[:-1]))
        parts["next_obs"].append(map_leaves(all_obs, lambda x: x[1:]))
        continuous, discrete = layout.split(episode.get_actions(slice(0, steps)))
        infos = episode.get_infos(slice(1, steps + 1))  # infos[0] belongs to the reset
        intervened = np.array([bool(info and info.get(INTERVENTION_KEY)) for info in infos], dtype=bool)
        if intervened.any():  # copies: split may return views of the episode's (read-only) arrays
            continuous = continuous.copy()
            discrete = None if discrete is None else discrete.copy()
        for t in np.flatnonzero(intervened):
            teleop = infos[t].get(TELEOP_ACTION_KEY)
            if teleop is None:
                raise ValueError(
                    f"episode {episode.id_!r} step {t}: info[{INTERVENTION_KEY!r}] is true but info"
                    f"[{TELEOP_ACTION_KEY!r}] is missing; allowed: the action the human executed, in the env's format."
                )
            continuous[t], index = layout.split_one(teleop)
            if discrete is not None:
                discrete[t] = index
        parts[INTERVENTION_KEY].append(intervened)
        parts["action"].append(continuous)
        parts["reward"].append(np.asarray(episode.get_rewards(slice(0, steps)), dtype=np.float32))
        done = np.zeros(steps, dtype=np.float32)
        done[-1] = float(episode.is_terminated)
        parts["done"].append(done)
        linked = np.ones(steps, dtype=bool)
        linked[-1] = False  # the chunk's last next obs is the first obs of no row of this chunk
        parts["next_is_next_row"].append(linked)
        parts["episode_id"].append(np.full(steps, episode.id_, dtype=object))
        end = np.zeros(steps, dtype=bool)
        end[-1] = bool(episode.is_done)
        parts["episode_end"].append(end)
        if layout.has_discrete:
            parts["discrete_action"].append(discrete)
            penalty = np.stack([_penalty(info, penalty_key, layout.num_parts) for info in infos])
            if grasp_penalty is not None:
                penalty = np.where(penalty != 0.0, np.float32(grasp_penalty), np.float32(0.0))
            parts["discrete_penalty"].append(penalty)
    if not parts["obs"]:
        return {}
    return {name: concat_leaves(values) for name, values in parts.items()}


def _penalty(info: Mapping | None, key: str, parts: int) -> np.ndarray:
    """One step's discrete penalty per part (P,): ``info[key]`` broadcast from a number, or one
    value per part; zeros when absent."""
    value = np.asarray(info.get(key, 0.0) if info else 0.0, dtype=np.float32).reshape(-1)
    if value.size not in (1, parts):
        raise ValueError(
            f"info[{key!r}] holds {value.size} values for {parts} discrete parts; allowed: a number (every part) "
            f"or {parts} values, one per part."
        )
    return np.broadcast_to(value, (parts,)).copy()


CHUNK_KEYS = ("next_is_next_row", "episode_id", "episode_end")
INTERVENTION_KEY = "is_intervention"  # info key: a human drove this step ...
TELEOP_ACTION_KEY = "teleop_action"  # ... with this action (env format)
CHECKED_FIELDS = ("obs", "next_obs", "reward", "action")  # what must be finite for a transition to be used


def non_finite_rows(transitions: Mapping) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rows with a NaN or inf anywhere in their observation, next observation, reward or action.

    Returns the (n,) bad-row mask and, per offending field (``obs/<key>`` for Dict
    observations), its own mask.
    """
    n = len(transitions["reward"])
    fields: dict[str, np.ndarray] = {}
    for name in CHECKED_FIELDS:
        value = transitions[name]
        leaves = {f"{name}/{k}": v for k, v in value.items()} if isinstance(value, Mapping) else {name: value}
        for label, array in leaves.items():
            array = np.asarray(array).reshape(n, -1)  # isfinite works on any numeric dtype: no copy
            bad = ~np.isfinite(array).all(axis=1)
            if bad.any():
                fields[label] = bad
    mask = np.zeros(n, dtype=bool)
    for bad in fields.values():
        mask |= bad
    return mask, fields


def drop_transitions(transitions: Mapping, keep: np.ndarray) -> dict:
    """The rows where ``keep`` is True, with the chunk bookkeeping mended around the gaps.

    A kept row whose successor was dropped no longer points at it (its next observation is
    stored on its own) and links no further; rows after a gap get a fresh episode id, so no
    pending step of an earlier call links to them across the gap.
    """
    n = len(keep)
    out = dict(transitions)
    if "next_is_next_row" in transitions:
        linked = np.asarray(transitions["next_is_next_row"], dtype=bool)
        next_kept = np.append(keep[1:], True)
        gap_after = linked & ~next_kept
        out["next_is_next_row"] = linked & next_kept
        if "episode_end" in transitions:
            out["episode_end"] = np.asarray(transitions["episode_end"], dtype=bool) | gap_after
        if "episode_id" in transitions:
            ids = np.asarray(transitions["episode_id"], dtype=object).copy()
            gaps = 0
            for t in range(n):
                if t == 0 or not linked[t - 1]:
                    gaps = 0  # a new chunk
                elif not keep[t - 1]:
                    gaps += 1
                if gaps:
                    ids[t] = f"{ids[t]}#gap{gaps}"
            out["episode_id"] = ids
    return {k: map_leaves(v, lambda x: np.asarray(x)[keep]) for k, v in out.items()}


def concat_transitions(parts: list[Mapping]) -> dict:
    """One transitions dict from several (e.g. one per EnvRunner); empty parts are skipped."""
    parts = [p for p in parts if p and len(p["reward"]) > 0]
    if not parts:
        return {}
    return {name: concat_leaves([p[name] for p in parts]) for name in parts[0]}


def map_leaves(x, fn):
    """``fn`` on an array, or on every array of a dict of them."""
    return {k: fn(np.asarray(v)) for k, v in x.items()} if isinstance(x, Mapping) else fn(np.asarray(x))


def concat_leaves(parts: list):
    """Arrays (or dicts of arrays) concatenated along the rows."""
    if isinstance(parts[0], Mapping):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)
