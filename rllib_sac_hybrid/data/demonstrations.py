"""Demonstrations: recorded episodes in RLlib's offline format (local directories with pyarrow,
remote URIs such as ``s3://`` with Ray Data), and Minari datasets (optional extra).

RLlib's format is what ``config.offline_data(output=DIR, output_write_episodes=True)`` writes:
Parquet files under DIR with one column, ``item``, each row one episode (or a chunk of one) as
``msgpack.packb(SingleAgentEpisode.get_state(), default=msgpack_numpy.encode)``.
``write_episodes`` writes exactly that; ``read_episodes`` reads it back (and RLlib's own files).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence

import gymnasium as gym
import numpy as np
import ray
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from rllib_sac_hybrid.data.transitions import episodes_to_transitions
from rllib_sac_hybrid.spaces import ActionLayout, flatten_observation, observation_dims

ITEM_COLUMN = "item"  # RLlib's column of packed episodes
FORMATS = ("rllib", "minari")  # values of demonstration_format


def write_episodes(episodes: Iterable[SingleAgentEpisode], path: str) -> int:
    """Writes episodes to ``path`` (a directory) in RLlib's offline episode format. Returns how
    many were written."""
    import msgpack
    import msgpack_numpy as mnp

    packed = [msgpack.packb(episode.get_state(), default=mnp.encode) for episode in episodes]
    if not packed:
        raise ValueError(f"no episodes to write to {path!r}")
    if _is_uri(path):  # s3://, gs://, ...: Ray Data's filesystems
        ray.data.from_items([{ITEM_COLUMN: item} for item in packed]).write_parquet(path)
        return len(packed)
    # A local directory: one Parquet file written by pyarrow. Ray Data would start an executor and
    # tasks for it (8-20 s here) to write what takes milliseconds. A new file next to any already
    # there, as Ray Data does, so that recording twice into one directory appends.
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(path, exist_ok=True)
    table = pa.table({ITEM_COLUMN: pa.array(packed, type=pa.binary())})
    final = os.path.join(path, f"episodes_{uuid.uuid4().hex}.parquet")
    pq.write_table(table, final + ".tmp")
    os.replace(final + ".tmp", final)  # readers never see a half-written file
    return len(packed)


def read_episodes(path: str | Sequence[str], source: str = "rllib") -> list[SingleAgentEpisode]:
    """Episodes from RLlib-format directories / files (``source="rllib"``) or Minari dataset ids
    (``source="minari"``), chunks of one episode joined, in a stable order.

    Raises:
        ValueError: naming the path and what was expected, for a missing path, files that are not
            Parquet, a missing ``item`` column, or rows that are not packed episodes.
    """
    if source not in FORMATS:
        raise ValueError(f"demonstration_format={source!r} is unknown; allowed: {FORMATS}.")
    paths = [path] if isinstance(path, str) else list(path)
    episodes: list[SingleAgentEpisode] = []
    for one in paths:
        episodes += _read_minari(one) if source == "minari" else _read_rllib(one)
    return join_chunks(episodes)


def _read_rllib(path: str) -> list[SingleAgentEpisode]:
    import msgpack
    import msgpack_numpy as mnp

    if not _is_uri(path):
        _check_exists(path)
    try:
        # One path, not a list of files: Ray Data resolves a list in threads, which race on a failing
        # optional import (fsspec's http filesystem without aiohttp) and then raise ImportError.
        rows = ray.data.read_parquet(path).take_all() if _is_uri(path) else _read_local_parquet(path)
    except Exception as error:  # pyarrow / Ray Data errors: not Parquet, unreadable
        raise ValueError(
            f"demonstrations {path!r} could not be read as Parquet ({type(error).__name__}: {error}); allowed: "
            "RLlib's recorded episodes (config.offline_data(output=..., output_write_episodes=True), or "
            "python -m rllib_sac_hybrid.robot.record)."
        ) from error
    episodes = []
    for index, row in enumerate(rows):
        if ITEM_COLUMN not in row:
            raise ValueError(
                f"demonstrations {path!r}: rows have the columns {sorted(row)}, not {ITEM_COLUMN!r}; allowed: RLlib's "
                "recorded episodes (one packed episode per row in the 'item' column), written with "
                "output_write_episodes=True."
            )
        try:
            state = msgpack.unpackb(row[ITEM_COLUMN], object_hook=mnp.decode)
            episodes.append(SingleAgentEpisode.from_state(state))
        except Exception as error:
            raise ValueError(
                f"demonstrations {path!r}: row {index} is not a packed SingleAgentEpisode state "
                f"({type(error).__name__}: {error}); allowed: RLlib's recorded episodes."
            ) from error
    return episodes


def _is_uri(path: str) -> bool:
    """A remote location (``s3://bucket/demos``) rather than a local path."""
    return "://" in path and not path.startswith("file://")


def _read_local_parquet(path: str) -> list[dict]:
    """The rows of a local Parquet file or directory, read in this process with pyarrow (Ray Data
    takes seconds to start its executor for what pyarrow reads in milliseconds). Files whose names
    start with "." or "_" are skipped, as Ray Data and Spark do."""
    import pyarrow.parquet as pq

    path = path.removeprefix("file://")
    if os.path.isdir(path):
        files = sorted(
            os.path.join(root, name)
            for root, _, names in os.walk(path)
            for name in names
            if not name.startswith((".", "_")) and not name.endswith(".tmp")
        )
    else:
        files = [path]
    rows: list[dict] = []
    for file in files:
        rows += pq.read_table(file).to_pylist()
    return rows


def _check_exists(path: str) -> None:
    if not os.path.exists(path):
        raise ValueError(f"demonstrations {path!r}: no such file or directory.")
    if os.path.isdir(path) and not any(f for f in os.listdir(path) if not f.startswith((".", "_"))):
        raise ValueError(f"demonstrations {path!r}: the directory is empty; allowed: a directory of Parquet files.")


def _read_minari(dataset_id: str) -> list[SingleAgentEpisode]:
    try:
        import minari
    except ImportError as error:
        raise ImportError("Minari datasets need the minari extra: pip install 'rllib_sac_hybrid[minari]'") from error
    try:
        dataset = minari.load_dataset(dataset_id)
    except Exception as error:
        raise ValueError(
            f"demonstrations {dataset_id!r}: no local Minari dataset of that id ({error}); allowed: the id of a "
            "dataset in minari's local storage (minari list local)."
        ) from error
    episodes = []
    for data in dataset.iterate_episodes():
        steps = len(data.rewards)
        observations = _unstack(data.observations, steps + 1)
        actions = _unstack(data.actions, steps)
        infos = [{} for _ in range(steps + 1)]
        episode = SingleAgentEpisode(
            id_=f"minari-{dataset_id}-{data.id}",
            observations=observations,
            actions=actions,
            rewards=list(np.asarray(data.rewards, dtype=np.float32)),
            infos=infos,
            terminated=bool(data.terminations[-1]),
            truncated=bool(data.truncations[-1]) and not bool(data.terminations[-1]),
            len_lookback_buffer=0,
        )
        episodes.append(episode)
    return episodes


def _unstack(value, n: int) -> list:
    """Minari's stacked arrays (or dicts / tuples of them) -> one structure per step."""
    if isinstance(value, dict):
        parts = {k: _unstack(v, n) for k, v in value.items()}
        return [{k: parts[k][i] for k in parts} for i in range(n)]
    if isinstance(value, tuple):
        parts = [_unstack(v, n) for v in value]
        return [tuple(p[i] for p in parts) for i in range(n)]
    array = np.asarray(value)
    return [array[i] for i in range(n)]


def join_chunks(episodes: Iterable[SingleAgentEpisode]) -> list[SingleAgentEpisode]:
    """Chunks of one episode (RLlib records chunks of ``rollout_fragment_length`` steps) joined
    into one episode where they are contiguous; episodes sorted by id."""
    by_id: dict[str, list[SingleAgentEpisode]] = {}
    for episode in episodes:
        by_id.setdefault(episode.id_, []).append(episode)
    out = []
    for _, chunks in sorted(by_id.items()):  # by id: the same files give the same order
        chunks.sort(key=lambda chunk: chunk.t_started)
        current = chunks[0]
        for chunk in chunks[1:]:
            if chunk.t_started == current.t and not current.is_done:
                current.concat_episode(chunk)
            else:  # a gap: keep it apart (its first observation starts a new row)
                out.append(current)
                current = chunk
        out.append(current)
    return out


def demonstration_transitions(
    episodes: Sequence[SingleAgentEpisode],
    observation_space: gym.Space,
    layout: ActionLayout,
    penalty_key: str,
    source: str = "demonstrations",
    grasp_penalty: float | None = None,
) -> dict:
    """The episodes as replay transitions, after checking them against the env's spaces.

    Raises:
        ValueError: an episode's observations or actions do not fit the env's spaces (naming the
            episode, the field, and the expected shape).
    """
    expected = {k: int(v) for k, v in observation_dims(observation_space).items()}
    checked = []
    for episode in episodes:
        if len(episode) == 0:
            continue
        try:
            first = flatten_observation(_batch_of_one(episode.get_observations(0)), observation_space)
            found = {k: int(np.asarray(v).reshape(1, -1).shape[1]) for k, v in _items(first)}
        except (KeyError, TypeError, ValueError) as error:
            found = f"unreadable ({type(error).__name__}: {error})"
        if found != expected:
            raise ValueError(
                f"{source}: episode {episode.id_!r} has observations of sizes {found}, but the env's observation "
                f"space {observation_space} has {expected}; allowed: episodes recorded on this env."
            )
        try:
            episode = _as_numpy(episode, observation_space, layout.space)
            layout.split(episode.get_actions(slice(0, len(episode))))
        except Exception as error:
            raise ValueError(
                f"{source}: episode {episode.id_!r} has actions that do not fit the env's action space "
                f"{layout.space} ({type(error).__name__}: {error}); allowed: episodes recorded on this env."
            ) from error
        checked.append(episode)
    return episodes_to_transitions(checked, observation_space, layout, penalty_key, grasp_penalty)


def _as_numpy(episode: SingleAgentEpisode, observation_space: gym.Space, action_space: gym.Space):
    """A numpy episode (batched observations and actions, as EnvRunners return them). msgpack
    turns tuples into lists: the env's spaces give them their structure back first."""
    if episode.is_numpy:
        return episode
    episode.observations.data = [_structured(o, observation_space) for o in episode.observations.data]
    episode.actions.data = [_structured(a, action_space) for a in episode.actions.data]
    return episode.to_numpy()


def _structured(value, space: gym.Space):
    if isinstance(space, gym.spaces.Tuple) and isinstance(value, (list, tuple)):
        return tuple(_structured(v, sub) for v, sub in zip(value, space.spaces))
    if isinstance(space, gym.spaces.Dict) and isinstance(value, dict):
        return {k: _structured(value[k], sub) for k, sub in space.spaces.items() if k in value}
    return value


def _batch_of_one(obs):
    if isinstance(obs, dict):
        return {k: _batch_of_one(v) for k, v in obs.items()}
    return np.asarray(obs)[None]


def _items(obs) -> list[tuple]:
    return list(obs.items()) if isinstance(obs, dict) else [(None, obs)]
