"""The HybridSAC TorchLearner: owns the replay buffer, the optimizers and the UTD rounds.

RLlib's own ``Learner.update`` takes one batch through the learner connector pipeline per
call and runs ``after_gradient_based_update`` (where SAC does Polyak) once per call. HybridSAC
instead hands each round's new transitions to ``update_from_transitions``: they go into a
tensor ring buffer kept here, next to the networks, and all updates of the round run in one
call (``update.SACUpdater``), each critic step on a fresh batch and followed by Polyak.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import ray
import torch
from ray.rllib.core.learner.torch.torch_learner import TorchLearner
from ray.rllib.utils.metrics import (
    ALL_MODULES,
    NUM_ENV_STEPS_TRAINED,
    NUM_ENV_STEPS_TRAINED_LIFETIME,
    NUM_MODULE_STEPS_TRAINED,
    NUM_MODULE_STEPS_TRAINED_LIFETIME,
)
from ray.rllib.utils.typing import ModuleID

from rllib_sac_hybrid.data.augment import shift_pad_for
from rllib_sac_hybrid.data.observation_normalization import ObservationMoments
from rllib_sac_hybrid.data.pipeline import batch_stream
from rllib_sac_hybrid.data.replay import TensorReplayBuffer
from rllib_sac_hybrid.data.reward_scale import ReturnScale
from rllib_sac_hybrid.data.transitions import INTERVENTION_KEY, drop_transitions
from rllib_sac_hybrid.robot import warm_start
from rllib_sac_hybrid.runtime import distributed
from rllib_sac_hybrid.runtime.rng import rng_state, set_rng_state
from rllib_sac_hybrid.spaces import image_shapes, observation_dims
from rllib_sac_hybrid.update import SACUpdater, UpdateSettings, make_optimizer, param_groups

REPLAY_SIZE = "replay_size"
DEMO_REPLAY_SIZE = "demo_replay_size"
REWARD_SCALE = "reward_scale"
SKIPPED_SUFFIX = "_steps_skipped"
COMPONENT_HYBRID_SAC = "hybrid_sac"  # learner-state key: update counters, replay buffers, RNG states


class HybridSACTorchLearner(TorchLearner):
    """Learner for HybridSAC: critic, actor and temperature optimizers, replay, UTD rounds.

    Metrics land under ``learners/<module_id>/...``: the three losses, their grad norms, the
    temperature, mean/min/max Q, the ensemble spread, the mean |TD error|; each averaged over
    the steps of a round.

    Several learners (``num_learners > 1``) train data-parallel, as one learner with a batch of
    ``num_learners * train_batch_size_per_learner`` would:

    - every learner receives every transition and keeps the whole replay (a robot's data is
      small next to the cost of its updates, and each learner can then always sample);
    - each learner draws its own batches of ``train_batch_size_per_learner`` rows from it, with
      an RNG stream of its own (seed and rank), and its own policy noise;
    - all learners draw the same target-head subset at each critic step (one generator, one
      seed for all, checkpointed);
    - every optimizer step averages the gradients over the learners (``distributed``), so that
      weights, targets and temperature stay identical everywhere; rank 0's initial weights are
      broadcast at build time.
    """

    def build(self) -> None:
        torch.set_num_threads(learner_torch_threads(self.config))
        distributed.use_timeout(self.config.learner_collective_timeout_s)  # before the first collective
        super().build()
        self._replay: dict[ModuleID, TensorReplayBuffer] = {}
        # Demonstrations and interventions, per module; made when the first rows arrive.
        self._demo_replay: dict[ModuleID, TensorReplayBuffer] = {}
        self._updaters: dict[ModuleID, SACUpdater] = {}
        self._return_scale: dict[ModuleID, ReturnScale] = {}  # modules with reward_scaling="return_std"
        self._obs_moments: dict[ModuleID, ObservationMoments] = {}  # modules with observation_normalization
        self._batch_sizes: dict[ModuleID, int] = {}
        self._image_shift: dict[ModuleID, dict] = {}  # image key -> DrQ random-shift padding
        self._has_images: dict[ModuleID, bool] = {}  # camera observations (utd_ratio="auto")
        # Metrics of the rounds since the last reduce: per module, per step kind, [sum vector, steps].
        self._metric_sums: dict[ModuleID, dict[tuple[str, ...], list]] = {}
        self._rows_trained: dict[ModuleID, int] = {}
        for module_id in self.module.keys():
            self._build_hybrid_sac_parts(module_id)
        if self.distributed:  # from here on, each learner draws its own batches and noise
            distributed.split_rng_streams(distributed.rank())

    def _build_hybrid_sac_parts(self, module_id: ModuleID) -> None:
        config = self.config.get_config_for_module(module_id)
        module = self.module[module_id].unwrapped()
        self._batch_sizes[module_id] = config.train_batch_size_per_learner
        self._has_images[module_id] = bool(image_shapes(module.observation_space))
        shapes = image_shapes(module.observation_space) if config.image_augmentation == "random_shift" else {}
        pads = {key: shift_pad_for(shape, config.image_shift_pad) for key, shape in shapes.items()}
        self._image_shift[module_id] = {key: pad for key, pad in pads.items() if pad}  # pad 0: no shift
        if config.reward_scaling == "return_std":
            self._return_scale[module_id] = ReturnScale(config.discount)
        if config.observation_normalization == "running":
            space = module.observation_space
            self._obs_moments[module_id] = ObservationMoments(observation_dims(space), image_shapes(space))
        has_images = bool(image_shapes(self.module[module_id].unwrapped().observation_space))
        capacity = config.resolved_replay_capacity(has_images)
        self._replay[module_id] = self._new_replay(module_id, capacity)
        settings = UpdateSettings(
            utd_ratio=config.resolved_utd_ratio(mixes_demonstrations=False),  # per round: utd_ratio_for
            policy_update_freq=config.policy_update_freq,
            critic_actor_ratio=config.critic_actor_ratio,
            discount=config.discount,
            tau=config.tau,
            num_critics=config.num_critics,
            num_subsample_critics=config.num_subsample_critics,
            use_backup_entropy=config.use_backup_entropy,
            discrete_advantage_learning=config.discrete_advantage_learning,
            actor_q_reduction=config.actor_q_reduction,
            grad_clip_norm=config.grad_clip_norm,
            bc_weight=config.resolved_bc_weight(),
            bc_q_filter=config.bc_q_filter,
            target_entropy=config.resolved_target_entropy(module.action_space),
            torch_compile=config.torch_compile,
            torch_compile_mode=config.torch_compile_mode,
        )
        optimizers = {name: self.get_optimizer(module_id, name) for name in param_groups(module)}
        grad_hook = head_generator = None
        if self.distributed:
            grad_hook = distributed.average_gradients_
            head_generator = torch.Generator().manual_seed(distributed.shared_seed())
        self._updaters[module_id] = SACUpdater(module, optimizers, settings, grad_hook, head_generator)

    def _make_modules_ddp_if_necessary(self) -> None:
        """No DDP wrapper (the losses call the module's parts, not its forward; gradients are
        averaged per optimizer step instead); with several learners, all start from rank 0's
        weights."""
        if self.distributed:
            for module_id in self.module.keys():
                distributed.broadcast_from_first_(self.module[module_id].state_dict().values())

    def configure_optimizers_for_module(self, module_id: ModuleID, config=None) -> None:
        """One Adam per parameter group; each parameter belongs to exactly one of them."""
        module = self.module[module_id].unwrapped()
        lrs = _learning_rates(config)
        for name, params in param_groups(module).items():
            self.register_optimizer(
                module_id=module_id,
                optimizer_name=name,
                optimizer=make_optimizer(params, lrs[name]),
                params=params,
                lr_or_lr_schedule=lrs[name],
            )

    # ---- checkpoints -----------------------------------------------------------------------------
    def get_state(self, components=None, *, not_components=None, **kwargs) -> dict:
        """RLlib's learner state (module incl. targets and log_alpha, optimizers, metrics) plus the
        update counters, the replay buffers (unless ``checkpoint_replay=False``) and RNG states."""
        state = super().get_state(components, not_components=not_components, **kwargs)
        if self._check_component(COMPONENT_HYBRID_SAC, components, not_components):
            state[COMPONENT_HYBRID_SAC] = {
                "updaters": {mid: updater.get_state() for mid, updater in self._updaters.items()},
                "replay": {
                    mid: replay.get_state()
                    for mid, replay in self._replay.items()
                    if self.config.get_config_for_module(mid).checkpoint_replay
                },
                "demo_replay": {mid: replay.get_state() for mid, replay in self._demo_replay.items()},
                "return_scale": {mid: stats.get_state() for mid, stats in self._return_scale.items()},
                "observation_moments": {mid: stats.get_state() for mid, stats in self._obs_moments.items()},
                "rng": rng_state(),
            }
        return state

    def set_state(self, state: dict) -> None:
        """RLlib's learner state, then ours; the learning rates stay those of this learner's config
        (an optimizer's saved state carries the old ones: Tune's PBT restores a checkpoint into a
        trial whose config has new learning rates)."""
        super().set_state(state)
        for module_id in self._updaters:
            lrs = _learning_rates(self.config.get_config_for_module(module_id))
            for name, optimizer in self._updaters[module_id].optimizers.items():
                for group in optimizer.param_groups:
                    group["lr"] = lrs[name]
        ours = state.get(COMPONENT_HYBRID_SAC)
        if ours is None:
            return
        for mid, updater_state in ours["updaters"].items():
            self._updaters[mid].set_state(updater_state)
        for mid, replay_state in ours["replay"].items():
            self._replay[mid].set_state(replay_state)
        for mid, replay_state in ours.get("demo_replay", {}).items():
            self.demo_replay(mid, create=True).set_state(replay_state)
        for mid, stats_state in ours.get("return_scale", {}).items():
            if mid in self._return_scale:
                self._return_scale[mid].set_state(stats_state)
        for mid, stats_state in ours.get("observation_moments", {}).items():
            if mid in self._obs_moments:
                self._obs_moments[mid].set_state(stats_state)
        set_rng_state(ours["rng"])  # the first learner's (RLlib saves only its state)
        if self.distributed:
            distributed.split_rng_streams(distributed.rank())

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        raise NotImplementedError(
            "HybridSAC does not use Learner.update(); its losses run in update_from_transitions "
            "(see rllib_sac_hybrid.losses)."
        )

    # ---- the round ---------------------------------------------------------------------------
    def replay(self, module_id: ModuleID) -> TensorReplayBuffer:
        """The replay buffer of ``module_id``."""
        return self._replay[module_id]

    def demo_replay(self, module_id: ModuleID, create: bool = False) -> TensorReplayBuffer | None:
        """The demonstration replay of ``module_id`` (None while it has none, unless ``create``)."""
        if create and module_id not in self._demo_replay:
            capacity = self.config.get_config_for_module(module_id).demo_capacity
            self._demo_replay[module_id] = self._new_replay(module_id, capacity)
        return self._demo_replay.get(module_id)

    def _new_replay(self, module_id: ModuleID, capacity: int) -> TensorReplayBuffer:
        """A replay buffer for ``module_id``'s spaces, gathering its n-step returns."""
        config = self.config.get_config_for_module(module_id)
        module = self.module[module_id].unwrapped()
        return TensorReplayBuffer(
            capacity,
            module.observation_space,
            module.layout,
            self._device,
            n_step=config.n_step,
            discount=config.discount,
        )

    def add_demonstrations(
        self, module_id: ModuleID, transitions: Mapping[str, Any], count_returns: bool = True
    ) -> int:
        """Adds transitions (``data.transitions.episodes_to_transitions``) to the demonstration replay;
        returns its size. ``count_returns``: their returns join the reward-scaling statistics
        (False for interventions, which the online data already counted)."""
        replay = self.demo_replay(module_id, create=True)
        replay.add(transitions)
        if count_returns and module_id in self._return_scale:
            self._return_scale[module_id].add(transitions)
        if count_returns and module_id in self._obs_moments:
            self._count_observations(module_id, transitions)
        return len(replay)

    def _count_observations(self, module_id: ModuleID, transitions: Mapping[str, Any]) -> None:
        """Adds the transitions' observations to the running statistics and writes them into the
        module (``observation_normalization="running"``); called between rounds, never within one."""
        if not transitions or len(transitions.get("reward", ())) == 0:
            return
        moments = self._obs_moments[module_id]
        moments.add(transitions["obs"])
        self.module[module_id].unwrapped().obs_normalizer.set_statistics(moments.loc_scale())

    def load_initial_policy(self, module_id: ModuleID, source: str) -> list[str]:
        """``initial_policy``: the actor, its encoder and the discrete critic from ``source``
        (``warm_start.load_initial_policy``); returns the parts loaded."""
        return warm_start.load_initial_policy(self.module[module_id].unwrapped(), source)

    def pretrain_from_demonstrations(self, module_id: ModuleID, steps: int) -> dict[str, float]:
        """``bc_pretrain_steps``: ``steps`` rounds on demonstration batches only, each a critic
        step (TD on the demonstrations, both critics, with its Polyak update) and a behaviour
        cloning step of the actor and discrete critic on the same batch. The critics thus know
        the demonstrated actions' values when online training starts, and its first actor steps
        do not undo the cloned policy. Returns the last tenth's mean metrics."""
        demo = self._demo_replay.get(module_id)
        if demo is None or len(demo) == 0:
            raise ValueError(f"bc_pretrain_steps={steps} needs demonstrations; module {module_id!r} has none.")
        self.module[module_id].unwrapped().train()
        updater = self._updaters[module_id]
        next_batch = batch_stream(
            steps, [(demo, self._batch_sizes[module_id])], self._image_shift[module_id], self._reward_scale(module_id)
        )
        metrics: list[dict[str, torch.Tensor]] = []
        for _ in range(steps):
            metrics += updater.pretrain_update(next_batch)
        self._log_round(module_id, metrics, steps_trained=0)
        self._weights_seq_no += 1
        return warm_start.summary(metrics)

    def updater(self, module_id: ModuleID) -> SACUpdater:
        """The update-loop object of ``module_id``."""
        return self._updaters[module_id]

    def update_from_transitions(
        self,
        transitions: Mapping[ModuleID, Mapping[str, Any]],
        num_updates: int | Mapping[ModuleID, int],
        timesteps: Mapping[str, Any] | None = None,
        reduce_metrics: bool = True,
    ) -> dict | int:
        """Adds new transitions to the replay, then runs ``num_updates`` updates per module.

        Args:
            transitions: module id -> arrays as made by ``data.transitions.episodes_to_transitions``.
            num_updates: update calls to run (each = ``utd_ratio`` critic steps + maybe policy),
                for every module or per module id (multi-agent: each policy's new transitions).
                Modules that ``policies_to_train`` leaves out store their transitions, never train.
            timesteps: RLlib's timestep counters (for learning-rate schedules).
            reduce_metrics: return ``self.metrics.reduce()`` (as ``Learner.update`` does); False
                keeps logging into the open window, for a caller that reduces once per iteration.

        Returns:
            the reduced metrics, or when ``reduce_metrics`` is False the rows trained on (batch
            rows times critic steps, summed over modules).
        """
        timesteps = dict(timesteps or {})
        self.before_gradient_based_update(timesteps=timesteps)
        for module_id, data in transitions.items():
            self._replay[module_id].add(data)
            if data and module_id in self._return_scale:
                self._return_scale[module_id].add(data)
            if module_id in self._obs_moments:
                self._count_observations(module_id, data)
            intervened = data.get(INTERVENTION_KEY) if data else None
            if intervened is not None and np.any(intervened):  # a human drove these: demonstrations too
                selected = drop_transitions(data, np.asarray(intervened, dtype=bool))
                self.add_demonstrations(module_id, selected, count_returns=False)
        updated, rows_trained = False, 0
        for module_id, replay in self._replay.items():
            n = num_updates.get(module_id, 0) if isinstance(num_updates, Mapping) else num_updates
            if n > 0 and len(replay) > 0 and self.should_module_be_updated(module_id):
                module = self.module[module_id].unwrapped()
                if not module.training:
                    module.train()
                rows_trained += self._run_updates(module_id, replay, n)
                updated = True
        if updated:
            self._weights_seq_no += 1
            self.after_gradient_based_update(timesteps=timesteps)
        return self.reduce_metrics() if reduce_metrics else rows_trained

    def reduce_metrics(self) -> dict:
        """Logs the rounds' metrics accumulated since the last call, then ``self.metrics.reduce()``."""
        for module_id, sums in self._metric_sums.items():
            for names, (total, count) in sums.items():
                for name, value in zip(names, total.tolist()):  # one host sync per step kind
                    if name.endswith(SKIPPED_SUFFIX):  # counts: steps skipped for a non-finite gradient
                        self.metrics.log_value((module_id, name), value, reduce="sum")
                        self.metrics.log_value((module_id, f"{name}_lifetime"), value, reduce="lifetime_sum")
                    else:
                        self.metrics.log_value((module_id, name), value / count, reduce="mean")
            trained = self._rows_trained.get(module_id, 0)
            updater = self._updaters[module_id]
            self.metrics.log_value((module_id, "num_critic_steps_lifetime"), updater.num_critic_steps, reduce="max")
            self.metrics.log_value((module_id, "num_policy_steps_lifetime"), updater.num_policy_steps, reduce="max")
            self.metrics.log_value((module_id, NUM_MODULE_STEPS_TRAINED), trained, reduce="sum")
            self.metrics.log_value((module_id, NUM_MODULE_STEPS_TRAINED_LIFETIME), trained, reduce="lifetime_sum")
            self.metrics.log_value((ALL_MODULES, NUM_ENV_STEPS_TRAINED), trained, reduce="sum")
            self.metrics.log_value((ALL_MODULES, NUM_ENV_STEPS_TRAINED_LIFETIME), trained, reduce="lifetime_sum")
        for module_id, replay in self._replay.items():
            self.metrics.log_value((module_id, REPLAY_SIZE), len(replay), reduce="max")
        for module_id, replay in self._demo_replay.items():
            self.metrics.log_value((module_id, DEMO_REPLAY_SIZE), len(replay), reduce="max")
        for module_id in self._updaters:  # what utd_ratio="auto" resolves to now
            self.metrics.log_value((module_id, "utd_ratio"), self.utd_ratio_for(module_id), reduce="max")
        for module_id, stats in self._return_scale.items():
            self.metrics.log_value((module_id, REWARD_SCALE), stats.scale, reduce="mean")
        self._metric_sums.clear()
        self._rows_trained.clear()
        return self.metrics.reduce()

    def batch_sizes(self, module_id: ModuleID) -> tuple[int, int]:
        """(online rows, demonstration rows) of each batch: ``online_ratio`` of the batch from the
        online replay while the demonstration replay holds rows (at least one online row)."""
        batch_size = self._batch_sizes[module_id]
        demo = self._demo_replay.get(module_id)
        if demo is None or len(demo) == 0:
            return batch_size, 0
        online = max(1, round(batch_size * self.config.get_config_for_module(module_id).online_ratio))
        return online, batch_size - online

    def utd_ratio_for(self, module_id: ModuleID, demo_rows: int | None = None) -> int:
        """Critic steps per update of ``module_id`` this round: ``utd_ratio``, or what "auto"
        resolves to while the batches do (or do not) mix in demonstration-replay rows
        (``demo_rows`` of each batch; default: as ``batch_sizes`` says now)."""
        if demo_rows is None:
            demo_rows = self.batch_sizes(module_id)[1]
        config = self.config.get_config_for_module(module_id)
        return config.resolved_utd_ratio(demo_rows > 0, self._has_images[module_id])

    def _run_updates(self, module_id: ModuleID, replay: TensorReplayBuffer, num_updates: int) -> int:
        """``num_updates`` updates of ``module_id``; returns the rows they trained on."""
        updater = self._updaters[module_id]
        online, from_demos = self.batch_sizes(module_id)
        utd_ratio = self.utd_ratio_for(module_id, from_demos)
        num_batches = num_updates * utd_ratio
        # All indices of the round in one draw; each critic step gathers its own fresh rows.
        sources = [(replay, online), (self._demo_replay.get(module_id), from_demos)]
        next_batch = batch_stream(num_batches, sources, self._image_shift[module_id], self._reward_scale(module_id))
        step_metrics: list[dict[str, torch.Tensor]] = []
        for _ in range(num_updates):
            step_metrics += updater.update(next_batch, demo_rows=from_demos, utd_ratio=utd_ratio)
        rows_trained = num_batches * (online + from_demos)
        self._log_round(module_id, step_metrics, steps_trained=rows_trained)
        return rows_trained

    def _reward_scale(self, module_id: ModuleID) -> float | None:
        """The factor of ``reward_scaling="return_std"`` now (fixed within a round), or None."""
        stats = self._return_scale.get(module_id)
        return stats.scale if stats is not None else None

    def _log_round(self, module_id: ModuleID, step_metrics: list[dict[str, torch.Tensor]], steps_trained: int) -> None:
        """Adds the round's step metrics to running sums on the device: no host sync per round.

        Critic and policy steps report different metrics; each kind (its tuple of names) has its
        own sum vector and step count, averaged in ``reduce_metrics``.
        """
        rows: dict[tuple[str, ...], list[torch.Tensor]] = {}
        for metrics in step_metrics:
            rows.setdefault(tuple(metrics), []).append(torch.stack(list(metrics.values())))
        sums = self._metric_sums.setdefault(module_id, {})
        for names, values in rows.items():
            total = torch.stack(values).sum(dim=0)
            if names in sums:
                sums[names][0] += total
                sums[names][1] += len(values)
            else:
                sums[names] = [total, len(values)]
        self._rows_trained[module_id] = self._rows_trained.get(module_id, 0) + steps_trained

    def add_module(self, *, module_id: ModuleID, module_spec, config_overrides=None, new_should_module_be_updated=None):
        spec = super().add_module(
            module_id=module_id,
            module_spec=module_spec,
            config_overrides=config_overrides,
            new_should_module_be_updated=new_should_module_be_updated,
        )
        self._build_hybrid_sac_parts(module_id)
        return spec


def learner_torch_threads(config) -> int:
    """The learner's torch thread count: ``config.learner_torch_threads``, or else the CPUs Ray
    assigned to this process (a remote learner, a Tune trial), or else - a learner in a plain
    driver process - the process's own torch setting (``torch.get_num_threads()``: torch's
    default of every core unless the driver chose fewer, e.g. to leave cores to other jobs).

    Sampling and learning alternate (synchronous rounds), so the learner may take the cores
    that remote EnvRunners reserve; EnvRunners keep 1 thread (docs/research/wall-clock.md).
    """
    if config.learner_torch_threads is not None:
        return int(config.learner_torch_threads)
    if ray.is_initialized():
        context = ray.get_runtime_context()
        if context.get_actor_id() is not None:
            assigned = context.get_assigned_resources().get("CPU", 0)
            if assigned >= 1:
                return int(assigned)
    return torch.get_num_threads()


def _learning_rates(config) -> dict[str, float]:
    """Adam learning rate of each parameter group."""
    return {
        "critic": config.critic_lr,
        "actor": config.actor_lr,
        "temperature": config.temperature_lr,
        "discrete_critic": config.discrete_critic_lr,
    }
