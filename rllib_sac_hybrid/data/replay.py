"""Tensor replay: a preallocated ring buffer of transitions living next to the learner.

RLlib's episode replay buffers keep per-step Python episode objects and cost tens of
milliseconds per sample; here a sample is one ``randint`` plus one ``index_select`` per field.
Episodes coming from the EnvRunners are turned into flat transition arrays once, on arrival
(``data.transitions.episodes_to_transitions``), and appended in bulk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rllib_sac_hybrid.data.batch import Batch, Observation
from rllib_sac_hybrid.data.transitions import map_leaves
from rllib_sac_hybrid.spaces import ActionLayout


class TensorReplayBuffer:
    """Fixed-capacity FIFO ring buffer of transitions stored as preallocated torch tensors.

    Each observation is stored once. Row i's observation is frame i of a frame table; its next
    observation is a pointer (``next_frame``) to the frame of the row that continues its episode
    (written later, so also overwritten later) or, when no stored row starts from it (an
    episode's last step, or a chunk whose continuation has not arrived yet), to one of
    ``next_obs_slots`` extra frames. When the continuation arrives, the pointer moves to its row
    and the extra frame is free again; an episode's final frame is reclaimed once its row is
    overwritten. Only if more final frames are needed at once than there are extra frames (on
    average, episodes shorter than capacity / next_obs_slots steps) do the oldest rows drop out
    of the sampled window early; ``len()`` always says how many rows are sampled from.

    Continuous actions are stored in env units (exact round trip) and rescaled to [-1, 1] when
    a batch is gathered; discrete actions are stored as int64 indices, one column per part (n, P),
    and so is the discrete penalty (each part's own).

    n-step returns (``n_step`` > 1) are made when a batch is gathered, from what is stored: each
    row's chain of next-frame pointers to the rows that continue its episode. The return stops
    early at a termination (no bootstrap), at a truncation or at a chunk whose continuation has
    not arrived (a bootstrap from that true next observation, discounted by gamma^k for the k
    steps taken). So nothing extra is stored or checkpointed, chunks of several runners link
    as they do for the one-copy observations, and the demonstration replay works the same way.

    Args:
        capacity: maximum number of transitions; the oldest are overwritten first.
        observation_space: the env's observation space (Box or Dict of Boxes).
        layout: the action layout (continuous size, discrete part, bounds).
        device: where the tensors live (the learner's device).
        next_obs_slots: extra frames for next observations; default capacity // 4 + 4096
            (at most capacity).
        n_step: n of the n-step returns gathered batches hold (1: one-step transitions).
        discount: gamma, for n-step returns.
    """

    def __init__(
        self,
        capacity: int,
        observation_space: gym.Space,
        layout: ActionLayout,
        device: torch.device | str = "cpu",
        next_obs_slots: int | None = None,
        n_step: int = 1,
        discount: float = 0.99,
    ) -> None:
        if not isinstance(n_step, int) or n_step < 1:
            raise ValueError(f"n_step={n_step!r} is invalid; allowed: an integer >= 1.")
        self.n_step, self.discount = n_step, float(discount)
        self.capacity = int(capacity)
        self.device = torch.device(device)
        self.num_next_obs_slots = int(
            next_obs_slots if next_obs_slots is not None else min(self.capacity, self.capacity // 4 + 4096)
        )
        if self.num_next_obs_slots < 1:
            raise ValueError(f"next_obs_slots={next_obs_slots!r} is invalid; allowed: an integer >= 1.")
        num_frames = self.capacity + self.num_next_obs_slots
        self.observation_space = observation_space
        self._obs_shapes = _leaf_shapes(observation_space)
        _check_fits_in_memory(self.capacity, num_frames, self._obs_shapes, layout, self.device)
        # Camera images (uint8 Boxes) stay uint8: a quarter of float32's bytes.
        frames = {
            k: _lazy_zeros((num_frames, *shape), dtype, self.device) for k, (shape, dtype) in self._obs_shapes.items()
        }
        self.frames: Observation = frames[None] if None in frames else frames
        self.next_frame = torch.zeros(self.capacity, dtype=torch.int64, device=self.device)
        self.layout = layout
        self._action_bounds = layout.bounds(torch.float32, self.device)  # made once, used on every gather
        self.action = torch.zeros((self.capacity, layout.continuous_dim), dtype=torch.float32, device=self.device)
        self.reward = torch.zeros(self.capacity, dtype=torch.float32, device=self.device)
        self.done = torch.zeros(self.capacity, dtype=torch.float32, device=self.device)
        self.fields = ["action", "reward", "done"]
        if layout.has_discrete:
            parts = layout.num_parts
            self.discrete_action = torch.zeros((self.capacity, parts), dtype=torch.int64, device=self.device)
            self.discrete_penalty = torch.zeros((self.capacity, parts), dtype=torch.float32, device=self.device)
            self.fields += ["discrete_action", "discrete_penalty"]
        # Host-side bookkeeping of the pointers (cheap: integers per row / slot).
        self._row_serial = np.full(self.capacity, -1, dtype=np.int64)  # lifetime index of the row's transition
        self._row_next = np.zeros(self.capacity, dtype=np.int64)  # host copy of next_frame
        self._slot_owner = np.full(self.num_next_obs_slots, -1, dtype=np.int64)  # serial of the owner, -1 = free
        self._free_slots: list[int] = list(range(self.num_next_obs_slots - 1, -1, -1))
        self._pending: dict[Any, int] = {}  # episode id -> serial of its last stored step awaiting its continuation
        self._valid_from = 0  # rows with a lifetime index below this are not sampled
        self.size = 0
        self.position = 0  # next row to write
        self.num_added = 0  # lifetime count

    def __len__(self) -> int:
        return self.size

    def add(self, transitions: Mapping) -> None:
        """Appends transitions (the dict of ``episodes_to_transitions``), overwriting the oldest.

        Without ``next_is_next_row`` / ``episode_id`` / ``episode_end`` every next observation is
        stored in an extra frame (correct, but each one holds a slot).
        """
        if not transitions or len(transitions["reward"]) == 0:
            return
        transitions = self._newest_that_fit(transitions)
        n = len(transitions["reward"])
        linked = _linked(transitions, n)
        episode_ids = transitions.get("episode_id")
        episode_end = np.asarray(transitions.get("episode_end", np.ones(n, dtype=bool)), dtype=bool)
        first = self.num_added  # lifetime index of this call's first transition
        rows = (self.position + np.arange(n)) % self.capacity
        self._row_serial[rows] = first + np.arange(n)  # marks overwritten rows as gone before linking

        # A chunk that continues a stored episode step: that step's next obs is this chunk's first obs.
        if episode_ids is not None:
            for t in np.flatnonzero(np.concatenate([[True], ~linked[:-1]])):  # chunk starts
                serial = self._pending.pop(episode_ids[t], None)
                if serial is not None and self._is_live(serial):
                    row = serial % self.capacity
                    slot = self._row_next[row] - self.capacity
                    self._slot_owner[slot] = -1  # the extra frame is free again
                    self._free_slots.append(int(slot))
                    self._row_next[row] = rows[t]
                    self.next_frame[row] = int(rows[t])

        # Next observations that are no stored row's observation go to free extra frames.
        next_rows = np.where(linked, np.roll(rows, -1), -1)
        unlinked = np.flatnonzero(~linked)
        slots = self._acquire_slots(len(unlinked))
        self._slot_owner[slots] = first + unlinked
        next_rows[unlinked] = self.capacity + slots
        self._row_next[rows] = next_rows

        rows_t = torch.as_tensor(rows, device=self.device)
        slots_t = torch.as_tensor(self.capacity + slots, device=self.device)
        _write(self.frames, rows_t, transitions["obs"], self.device)
        _write(self.frames, slots_t, map_leaves(transitions["next_obs"], lambda x: x[unlinked]), self.device)
        self.next_frame.index_copy_(0, rows_t, torch.as_tensor(next_rows, device=self.device))
        for name in self.fields:
            _write(getattr(self, name), rows_t, transitions[name], self.device)
        if episode_ids is not None:
            for t in unlinked[~episode_end[unlinked]]:
                self._pending[episode_ids[t]] = first + int(t)

        self.position = int((self.position + n) % self.capacity)
        self.num_added += n
        self._valid_from = max(self._valid_from, self.num_added - self.capacity)
        self.size = self.num_added - self._valid_from
        if len(self._pending) > self.num_next_obs_slots:  # forget episodes that never continued
            self._pending = {k: v for k, v in self._pending.items() if self._is_live(v)}

    def _newest_that_fit(self, transitions: Mapping) -> Mapping:
        """The newest transitions that can all be kept: at most ``capacity`` rows, and at most
        ``next_obs_slots`` of them needing an extra frame."""
        n = len(transitions["reward"])
        unlinked = np.flatnonzero(~_linked(transitions, n))
        start = max(0, n - self.capacity)
        if len(unlinked) > self.num_next_obs_slots:
            start = max(start, int(unlinked[-self.num_next_obs_slots - 1]) + 1)
        if start == 0:
            return transitions
        return {k: map_leaves(v, lambda x, s=start: x[s:]) for k, v in transitions.items()}

    def _acquire_slots(self, k: int) -> np.ndarray:
        """k free extra frames. Frames whose owner row is gone are reclaimed when the free list
        runs short; if that is not enough, the oldest owners lose theirs and drop out of the window."""
        if len(self._free_slots) < k:
            owners = self._slot_owner
            used = owners >= 0
            rows = owners % self.capacity
            dead = used & ((owners < self._valid_from) | (self._row_serial[rows] != owners))
            owners[dead] = -1
            self._free_slots.extend(np.flatnonzero(dead).tolist())
        missing = k - len(self._free_slots)
        if missing > 0:
            live = np.flatnonzero(self._slot_owner >= 0)
            oldest = live[np.argsort(self._slot_owner[live], kind="stable")[:missing]]
            self._valid_from = max(self._valid_from, int(self._slot_owner[oldest].max()) + 1)
            self._slot_owner[oldest] = -1
            self._free_slots.extend(oldest.tolist())
        free = self._free_slots
        return np.asarray([free.pop() for _ in range(k)], dtype=np.int64)

    def _is_live(self, serial: int) -> bool:
        """Whether the transition with lifetime index ``serial`` is stored and in the sampled window."""
        return serial >= self._valid_from and self._row_serial[serial % self.capacity] == serial

    def sample_indices(
        self, num_batches: int, batch_size: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Uniform indices (num_batches, batch_size) over the ``len()`` newest rows, with replacement, in one call."""
        if self.size == 0:
            raise RuntimeError("Cannot sample from an empty replay buffer.")
        age = torch.randint(0, self.size, (num_batches, batch_size), generator=generator, device=self.device)
        return (self.position - 1 - age) % self.capacity

    def gather(self, idx: torch.Tensor) -> Batch:
        """The transitions at ``idx`` (B,) as a ``Batch``, continuous actions in [-1, 1]; with
        ``n_step`` > 1, each row's n-step return (see ``n_step_returns``)."""
        discrete = self.layout.has_discrete
        if self.n_step > 1:
            reward, penalty, done, next_frame, discount = self.n_step_returns(idx)
        else:
            reward, done = self.reward.index_select(0, idx), self.done.index_select(0, idx)
            next_frame, discount = self.next_frame.index_select(0, idx), None
            penalty = self.discrete_penalty.index_select(0, idx) if discrete else None
        return Batch(
            obs=_index(self.frames, idx),
            action=self.layout.normalize(self.action.index_select(0, idx), self._action_bounds),
            reward=reward,
            next_obs=_index(self.frames, next_frame),
            done=done,
            discrete_action=self.discrete_action.index_select(0, idx) if discrete else None,
            discrete_penalty=penalty,
            discount=discount,
        )

    def n_step_returns(self, idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """n-step returns of the rows ``idx`` (B,), following each row's episode through the
        rows that continue it, for at most ``n_step`` steps.

        For a row starting at t that spans k <= n steps: reward = sum_{i<k} gamma^i r_{t+i} (the
        discrete penalty likewise), done = whether step t+k-1 terminated, next frame = the
        observation after step t+k-1, discount = gamma^k. The chain stops before n steps at a
        termination, at an episode's last stored step (truncation: bootstrap from its true
        last observation) and where a chunk's continuation has not arrived yet.

        Returns:
            reward (B,), discrete penalty (B, P) or None, done (B,), next frame index (B,), discount (B,).
        """
        gamma = self.discount
        row = idx
        reward = self.reward.index_select(0, row)
        done = self.done.index_select(0, row)
        penalty = self.discrete_penalty.index_select(0, row) if self.layout.has_discrete else None
        next_frame = self.next_frame.index_select(0, row)
        discount = torch.full_like(reward, gamma)
        for _ in range(self.n_step - 1):
            # Go on where the next observation is the first of a stored row of the same episode.
            going = (next_frame < self.capacity) & (done == 0)
            row = torch.where(going, next_frame, row).clamp_(max=self.capacity - 1)
            scale = torch.where(going, discount, torch.zeros_like(discount))  # gamma^k for the new step
            reward = reward + scale * self.reward.index_select(0, row)
            if penalty is not None:
                penalty = penalty + scale.unsqueeze(-1) * self.discrete_penalty.index_select(0, row)
            done = torch.where(going, self.done.index_select(0, row), done)
            next_frame = torch.where(going, self.next_frame.index_select(0, row), next_frame)
            discount = torch.where(going, discount * gamma, discount)
        return reward, penalty, done, next_frame, discount

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Batch:
        """One uniform batch of ``batch_size`` transitions."""
        return self.gather(self.sample_indices(1, batch_size, generator)[0])

    # ---- checkpoints -----------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly: stored rows, pointers, free frames, counters.

        Only rows written so far are copied (numpy arrays, so the state pickles compactly).
        """
        written = min(self.num_added, self.capacity)
        rows = np.r_[0:written, self.capacity : self.capacity + self.num_next_obs_slots]
        return {
            "capacity": self.capacity,
            "num_next_obs_slots": self.num_next_obs_slots,
            "written": written,
            "frames": (
                {k: t.cpu().numpy()[rows] for k, t in self.frames.items()}
                if isinstance(self.frames, dict)
                else self.frames.cpu().numpy()[rows]
            ),
            "next_frame": self.next_frame[:written].cpu().numpy().copy(),
            "fields": {name: getattr(self, name)[:written].cpu().numpy().copy() for name in self.fields},
            "row_serial": self._row_serial.copy(),
            "row_next": self._row_next.copy(),
            "slot_owner": self._slot_owner.copy(),
            "free_slots": np.asarray(self._free_slots, dtype=np.int64),
            "pending": dict(self._pending),
            "valid_from": self._valid_from,
            "size": self.size,
            "position": self.position,
            "num_added": self.num_added,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores ``get_state()``'s output into a buffer of the same capacity and spaces."""
        if state["capacity"] != self.capacity or state["num_next_obs_slots"] != self.num_next_obs_slots:
            raise ValueError(
                f"replay state of capacity {state['capacity']} (+{state['num_next_obs_slots']} extra frames) "
                f"cannot be loaded into a buffer of capacity {self.capacity} (+{self.num_next_obs_slots}); "
                "allowed: the same replay_capacity as when it was saved."
            )
        written = int(state["written"])
        rows = torch.as_tensor(np.r_[0:written, self.capacity : self.capacity + self.num_next_obs_slots])
        _write(self.frames, rows.to(self.device), state["frames"], self.device)
        self.next_frame[:written] = torch.as_tensor(state["next_frame"], device=self.device)
        for name in self.fields:
            # A field saved (n,) before discrete parts became (n, P) reads as (n, 1).
            stored = getattr(self, name)[:written]
            stored.copy_(torch.as_tensor(state["fields"][name], device=self.device).reshape(stored.shape))
        self._row_serial = np.array(state["row_serial"], dtype=np.int64)
        self._row_next = np.array(state["row_next"], dtype=np.int64)
        self._slot_owner = np.array(state["slot_owner"], dtype=np.int64)
        self._free_slots = [int(x) for x in state["free_slots"]]
        self._pending = dict(state["pending"])
        self._valid_from = int(state["valid_from"])
        self.size = int(state["size"])
        self.position = int(state["position"])
        self.num_added = int(state["num_added"])

    def nbytes(self) -> int:
        """Bytes of all preallocated tensors."""
        tensors = [getattr(self, name) for name in self.fields] + [self.next_frame]
        tensors += list(self.frames.values()) if isinstance(self.frames, dict) else [self.frames]
        return sum(t.element_size() * t.numel() for t in tensors)

    def nbytes_per_transition(self) -> float:
        """Bytes of storage per transition of capacity (observations counted with their extra frames)."""
        return self.nbytes() / self.capacity


def _linked(transitions: Mapping, n: int) -> np.ndarray:
    """next_is_next_row, False where absent and on the last row (nothing after it in this call)."""
    linked = np.array(transitions.get("next_is_next_row", np.zeros(n, dtype=bool)), dtype=bool)
    linked[-1] = False
    return linked


def _lazy_zeros(shape: tuple[int, ...], dtype: torch.dtype, device) -> torch.Tensor:
    """Zeros that take memory only as they are written, on CPU: numpy's zeros come from calloc,
    whose pages the kernel maps on first write, where ``torch.zeros`` writes every byte at once.
    A million 64x64 camera frames are 15 GiB resident from the start with ``torch.zeros``
    (1.5 GiB for 100,000: 0.37 -> 1.86 GiB), and grow with the data this way."""
    if torch.device(device).type != "cpu":
        return torch.zeros(shape, dtype=dtype, device=device)
    return torch.from_numpy(np.zeros(shape, dtype=torch.empty((), dtype=dtype).numpy().dtype))


def _check_fits_in_memory(capacity: int, num_frames: int, shapes: Mapping, layout: ActionLayout, device) -> None:
    """A clear error, before allocating, when a CPU buffer would not fit in the memory available
    (the default capacity of a million transitions is far too much for camera images)."""
    available = _available_memory()
    if torch.device(device).type != "cpu" or available is None:
        return
    frame_bytes = sum(int(np.prod(shape)) * (1 if dtype == torch.uint8 else 4) for shape, dtype in shapes.values())
    row_bytes = 4 * (layout.continuous_dim + 2) + 8 + 12 * layout.num_parts
    needed = num_frames * frame_bytes + capacity * row_bytes
    if needed > available:
        per_transition = needed / capacity
        raise ValueError(
            f"replay_capacity={capacity} needs {needed / 2**30:.1f} GiB for these observations "
            f"({per_transition:,.0f} bytes per transition) but {available / 2**30:.1f} GiB of memory is available; "
            f"allowed: replay_capacity <= {int(available * 0.8 / per_transition):,} on this machine "
            "(.training(replay_capacity=...), and demo_capacity for the demonstration replay)."
        )


def _available_memory() -> int | None:
    """Bytes the kernel says can be allocated without swapping (MemAvailable), if it says."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _leaf_shapes(space: gym.Space) -> dict[str | None, tuple[tuple[int, ...], torch.dtype]]:
    """(shape, storage dtype) per flattened observation key: uint8 for uint8 Boxes, else float32."""
    if isinstance(space, gym.spaces.Box):
        return {None: (tuple(space.shape), torch.uint8 if space.dtype == np.uint8 else torch.float32)}
    shapes = {}
    for key, sub in space.spaces.items():
        for sub_key, leaf in _leaf_shapes(sub).items():
            shapes[key if sub_key is None else f"{key}/{sub_key}"] = leaf
    return shapes


def _write(storage, idx: torch.Tensor, values, device: torch.device) -> None:
    if isinstance(storage, dict):
        for k, t in storage.items():
            t.index_copy_(
                0,
                idx,
                torch.as_tensor(np.asarray(values[k]), dtype=t.dtype, device=device).reshape(len(idx), *t.shape[1:]),
            )
    else:
        storage.index_copy_(
            0,
            idx,
            torch.as_tensor(np.asarray(values), dtype=storage.dtype, device=device).reshape(
                len(idx), *storage.shape[1:]
            ),
        )


def _index(storage, idx: torch.Tensor):
    if isinstance(storage, dict):
        return {k: t.index_select(0, idx) for k, t in storage.items()}
    return storage.index_select(0, idx)
