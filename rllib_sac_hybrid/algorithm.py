"""``HybridSAC(Algorithm)``: the training step - sample, store, one UTD round, sync weights."""

from __future__ import annotations

import logging
import time

import numpy as np
import ray
from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core import COMPONENT_RL_MODULE, DEFAULT_MODULE_ID
from ray.rllib.core.rl_module.multi_rl_module import MultiRLModule
from ray.rllib.utils.metrics import (
    ENV_RUNNER_RESULTS,
    ENV_RUNNER_SAMPLING_TIMER,
    EPISODE_RETURN_MAX,
    EPISODE_RETURN_MEAN,
    EPISODE_RETURN_MIN,
    EVALUATION_RESULTS,
    LEARNER_RESULTS,
    LEARNER_UPDATE_TIMER,
    NUM_ENV_STEPS_SAMPLED,
    NUM_ENV_STEPS_SAMPLED_LIFETIME,
    SYNCH_WORKER_WEIGHTS_TIMER,
    TIMERS,
)
from ray.tune.execution.placement_groups import PlacementGroupFactory

from rllib_sac_hybrid.config import NON_FINITE_MODES, HybridSACConfig
from rllib_sac_hybrid.data.demonstrations import demonstration_transitions, read_episodes
from rllib_sac_hybrid.data.transitions import (
    concat_transitions,
    drop_transitions,
    episodes_to_transitions,
    non_finite_rows,
)
from rllib_sac_hybrid.runtime.env_runner import COMPONENT_ENV_STATE
from rllib_sac_hybrid.runtime.episode_window import EpisodeWindow
from rllib_sac_hybrid.runtime.placement import add_runner_resources, placed_env_runner_groups

logger = logging.getLogger(__name__)
NUM_NON_FINITE_DROPPED = "num_non_finite_transitions_dropped"
PROBE_TAG = "hybrid_sac_probe"  # pings to failed EnvRunners
SAMPLE_TAG = "hybrid_sac_sample"  # asynchronous sample calls
EPISODE_WINDOW_STATE = "hybrid_sac_episode_window"  # algorithm-state key
WAITING_UPDATES_STATE = "hybrid_sac_updates_while_waiting"  # algorithm-state key (utd_ratio_max)
NUM_UPDATES_WHILE_WAITING = "num_updates_while_waiting"
SAMPLING_SECONDS_LIFETIME = "env_runner_sampling_seconds_lifetime"  # under "timers"
LEARNER_SECONDS_LIFETIME = "learner_update_seconds_lifetime"  # under "timers"


class HybridSAC(Algorithm):
    """Soft Actor-Critic with a critic ensemble, subsampled targets and an update-to-data loop.

    Each round: the EnvRunners sample ``rollout_fragment_length``
    env steps each (uniform random actions for the first ``num_random_steps``); the new
    transitions go to the learner's replay buffer; the learner then runs one update per new
    env step, i.e. ``utd_ratio`` critic steps per env step (see ``update.SACUpdater``); the
    new weights go to the EnvRunners (a local EnvRunner beside a local learner shares the
    learner's parameter tensors instead, so it needs no copy). One ``train()`` runs rounds until
    ``min_sample_timesteps_per_iteration`` env steps were sampled (and ``min_time_s_per_iteration``
    passed), then reports the iteration's metrics. With ``async_sampling`` the remote runners step
    on while the learner trains, and each round takes the samples that have arrived.
    """

    config: HybridSACConfig

    @classmethod
    def get_default_config(cls) -> HybridSACConfig:
        return HybridSACConfig()

    @classmethod
    def default_resource_request(cls, config):
        """RLlib's request (a placement group for Tune), with each runner's own
        ``custom_resources_by_env_runner`` in its bundle."""
        request = super().default_resource_request(config)
        if not isinstance(config, HybridSACConfig):
            config = cls.get_default_config().update_from_dict(config)
        return PlacementGroupFactory(add_runner_resources(request.bundles, config), strategy=request.strategy)

    def setup(self, config: HybridSACConfig) -> None:
        with placed_env_runner_groups():  # each remote runner may need resources of its own
            super().setup(config)
        spaces = _first_result(
            self.learner_group.foreach_learner(
                lambda learner: {
                    mid: (learner.module[mid].observation_space, learner.module[mid].action_space)
                    for mid in learner.module.keys()
                }
            )
        )
        # One HybridSAC module per policy (a single-agent run: DEFAULT_MODULE_ID only).
        self._module_ids = sorted(spaces)
        self._observation_spaces = {mid: obs_space for mid, (obs_space, _) in spaces.items()}
        self._action_layouts = {
            mid: self.config.get_config_for_module(mid).validate_action_space(action_space)
            for mid, (_, action_space) in spaces.items()
        }
        if self.config.demonstrations is not None:
            self._load_demonstrations()
        self._warm_start()
        self._runner_shares_weights = self._share_weights_with_local_env_runner()
        self._next_probe_time = 0.0  # of failed EnvRunners (see restore_env_runners)
        self._last_evaluation_return = float("nan")  # see step
        self._rounds_since_push, self._last_push_time = 0, time.monotonic()  # see _weights_due
        # The last metrics_num_episodes_for_smoothing training episodes, across iterations and runners.
        self._episode_window = EpisodeWindow(self.config.metrics_num_episodes_for_smoothing)
        # utd_ratio_max: env steps trained on so far, and the update calls run while waiting.
        self._steps_trained_on, self._waiting_updates = 0, 0

    def _load_demonstrations(self) -> None:
        """Reads ``demonstrations`` (with Ray Data) into every learner's demonstration replay.

        A checkpoint restored after this replaces that replay with its own (which holds these
        demonstrations and the interventions since)."""
        config = self.config
        source = f"demonstrations={config.demonstrations!r}"
        episodes = read_episodes(config.demonstrations, config.demonstration_format)
        transitions = demonstration_transitions(
            episodes,
            self._observation_spaces[DEFAULT_MODULE_ID],
            self._action_layouts[DEFAULT_MODULE_ID],
            config.discrete_penalty_key,
            source,
            grasp_penalty=config.grasp_penalty,
        )
        num = len(transitions.get("reward", ()))
        if num == 0:
            raise ValueError(f"{source} holds no transitions; allowed: recorded episodes with at least one step.")
        if num > config.demo_capacity:
            raise ValueError(
                f"{source} holds {num} transitions, more than demo_capacity={config.demo_capacity}; allowed: "
                f"demo_capacity >= {num} (.training(demo_capacity=...))."
            )
        bad, fields = non_finite_rows(transitions)
        if bad.any():
            raise ValueError(f"{source}: {int(bad.sum())} transitions have non-finite {sorted(fields)}.")
        _all_results(
            self.learner_group.foreach_learner(
                lambda learner, _t=transitions: learner.add_demonstrations(DEFAULT_MODULE_ID, _t)
            )
        )
        logger.info("HybridSAC: %d demonstration transitions (%d episodes) loaded.", num, len(episodes))

    def _warm_start(self) -> None:
        """``initial_policy``, then ``bc_pretrain_steps`` of behaviour cloning, on every learner
        (several learners average the gradients, so they stay identical); the EnvRunners then
        act with the result from their first step. A checkpoint restored afterwards replaces it."""
        config = self.config
        self.bc_pretrain_summary: dict[str, float] | None = None  # the pretraining's last metrics, seconds
        bc_steps = config.resolved_bc_pretrain_steps()
        if config.initial_policy is None and not bc_steps:
            return
        if config.initial_policy is not None:
            parts = _first_result(
                self.learner_group.foreach_learner(
                    lambda learner, _p=str(config.initial_policy): learner.load_initial_policy(DEFAULT_MODULE_ID, _p)
                )
            )
            logger.info("HybridSAC: %s loaded from initial_policy=%r.", ", ".join(parts), str(config.initial_policy))
        if bc_steps:
            start = time.monotonic()
            summary = _first_result(
                self.learner_group.foreach_learner(
                    lambda learner, _n=bc_steps: learner.pretrain_from_demonstrations(DEFAULT_MODULE_ID, _n)
                )
            )
            self.bc_pretrain_summary = {**summary, "seconds": time.monotonic() - start}
            logger.info(
                "HybridSAC: %d behaviour cloning steps in %.1f s: %s.",
                bc_steps,
                self.bc_pretrain_summary["seconds"],
                ", ".join(f"{k} {v:.3g}" for k, v in summary.items() if k.startswith("bc_")),
            )
        self.env_runner_group.sync_weights(
            from_worker_or_learner_group=self.learner_group, policies=self._module_ids, inference_only=True
        )

    def _share_weights_with_local_env_runner(self) -> bool:
        """With only a local EnvRunner and a local learner (one process), let the runner's module
        read the learner's parameter tensors directly, so that each round's weight sync costs nothing.

        Optimizer steps and Polyak updates work in place, so the runner always acts with the
        newest weights - exactly what a sync after each round would give. Returns whether it applied.
        """
        if self.env_runner_group.num_remote_env_runners() > 0 or not self.learner_group.is_local:
            return False
        runner = self.env_runner
        if runner is None or getattr(runner, "module", None) is None:
            return False
        pairs = []  # (runner tensor, learner tensor) of every module
        for mid in self._module_ids:
            learner_module = self.learner_group._learner.module[mid]
            runner_module = runner.module[mid] if isinstance(runner.module, MultiRLModule) else runner.module
            learner_tensors = dict(learner_module.named_parameters()) | dict(learner_module.named_buffers())
            for name, tensor in [*runner_module.named_parameters(), *runner_module.named_buffers()]:
                if name not in learner_tensors or learner_tensors[name].shape != tensor.shape:
                    return False
                pairs.append((tensor, learner_tensors[name]))
        for tensor, learner_tensor in pairs:
            tensor.data = learner_tensor.data
        return True

    def step(self) -> dict:
        """RLlib's iteration, whose results always hold the episode-return metrics a Tune search
        or scheduler may watch: NaN until a first episode has ended (Tune's strict metric check
        would otherwise fail a trial whose first iteration ends none; ASHA and the searchers skip
        NaN). Evaluation returns carry over between evaluation iterations.

        The results also hold the means over the last ``metrics_num_episodes_for_smoothing``
        training episodes, whichever iteration and runner they ended in (``episode_window``):
        ``env_runners/episode_return_windowed``, ``episode_success_rate_windowed``,
        ``episode_len_windowed``, ``num_episodes_windowed``. RLlib's own
        ``episode_return_mean`` covers only the episodes that ended in this iteration."""
        result = super().step()
        runners = result.setdefault(ENV_RUNNER_RESULTS, {})
        for key in (EPISODE_RETURN_MEAN, EPISODE_RETURN_MIN, EPISODE_RETURN_MAX):
            runners.setdefault(key, float("nan"))
        runners.update(self._episode_window.metrics())
        if self.config.evaluation_interval:
            evaluation = result.get(EVALUATION_RESULTS, {}).get(ENV_RUNNER_RESULTS, {})
            if EPISODE_RETURN_MEAN in evaluation:
                self._last_evaluation_return = evaluation[EPISODE_RETURN_MEAN]
            result.setdefault(EVALUATION_RESULTS, {}).setdefault(ENV_RUNNER_RESULTS, {}).setdefault(
                EPISODE_RETURN_MEAN, self._last_evaluation_return
            )
        return result

    def get_state(self, components=None, *, not_components=None, **kwargs) -> dict:
        """RLlib's algorithm state plus the episode window (so that a restored run's windowed
        metrics continue where they were)."""
        state = super().get_state(components, not_components=not_components, **kwargs)
        state[EPISODE_WINDOW_STATE] = self._episode_window.get_state()
        state[WAITING_UPDATES_STATE] = (self._steps_trained_on, self._waiting_updates)
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        if EPISODE_WINDOW_STATE in state:
            self._episode_window.set_state(state[EPISODE_WINDOW_STATE])
        if WAITING_UPDATES_STATE in state:
            self._steps_trained_on, self._waiting_updates = state[WAITING_UPDATES_STATE]

    def restore_env_runners(self, env_runner_group) -> list[int]:
        """Bring restarted EnvRunners back into the rounds without waiting for them; give them the
        learner's newest weights.

        RLlib pings failed runners before every ``training_step`` and waits up to
        ``env_runner_health_probe_timeout_s`` (30 s) for the answer: a runner still restarting
        stalls the healthy ones that long. Here (rounds loop inside ``training_step``, which calls
        this every round) a failed runner gets one ping in flight at a time, and only pings that
        came back are collected. Only while every runner is down does it wait, up to the probe
        timeout, for the first one back: there is nothing to sample meanwhile. RLlib hands
        restarted runners the local EnvRunner's state, whose weights are stale when the runners
        are remote, so the learner's weights follow.
        """
        group = env_runner_group
        if group is not self.env_runner_group or not self.config.is_online or group.num_remote_env_runners() == 0:
            return super().restore_env_runners(group)
        manager = group._worker_manager  # RLlib lists healthy runners only
        failed = [i for i in manager.actor_ids() if not manager.is_actor_healthy(i)]
        if not failed:
            return []
        # Only while every runner is down, wait (up to the probe timeout) for the first one back.
        wait_s = self.config.env_runner_health_probe_timeout_s if len(failed) == group.num_remote_env_runners() else 0.0
        deadline = time.monotonic() + wait_s
        while True:
            if time.monotonic() >= self._next_probe_time:
                # One ping in flight per failed runner; a ping to a runner still restarting fails at
                # once (and is logged by RLlib), hence at most one round of pings per second.
                self._next_probe_time = time.monotonic() + 1.0
                group.foreach_env_runner_async(
                    lambda runner: runner.ping(), tag=PROBE_TAG, healthy_only=False, remote_worker_ids=failed
                )
            answers = group.fetch_ready_async_reqs(tags=PROBE_TAG, timeout_seconds=0.0, mark_healthy=True)
            restored = [index for index, _ in answers]
            if restored or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if not restored:
            return []
        self._counters["total_num_restored_workers"] += len(restored)
        local = group.local_env_runner
        if local is not None:  # connector states, as RLlib does (not the local runner's envs or stale weights)
            state_ref = ray.put(local.get_state(not_components=[COMPONENT_ENV_STATE, COMPONENT_RL_MODULE]))
            group.foreach_env_runner(
                lambda runner, _ref=state_ref: runner.set_state(ray.get(_ref)),
                remote_worker_ids=restored,
                local_env_runner=False,
                timeout_seconds=self.config.env_runner_restore_timeout_s,
            )
        group.sync_weights(
            from_worker_or_learner_group=self.learner_group,
            policies=self._module_ids,
            to_worker_indices=restored,
            inference_only=True,
        )
        return restored

    def training_step(self) -> None:
        """One iteration's rounds, until its minimum time / env steps / trained steps are met.

        RLlib would call ``training_step`` once per round and reduce the EnvRunner and learner
        metrics after each; at one env step per round that bookkeeping costs about as much as a
        small update. Here the rounds loop inside one call and the metrics are fetched and
        reduced once, at the end (RLlib's own stop check then agrees the iteration is done).
        """
        config = self.config
        start = time.time()
        sampled_before = self.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)
        sampled = trained = 0
        try:
            while True:
                # RLlib did it before the first round; a local runner alone has nothing to restore.
                if sampled and self.env_runner_group.num_remote_env_runners():
                    restored = self.restore_env_runners(self.env_runner_group)
                    if restored:
                        self._make_on_env_runners_recreated_callbacks(
                            config=config, env_runner_group=self.env_runner_group, restored_env_runner_indices=restored
                        )
                new_sampled, new_trained = self._round(sampled_before + sampled)
                sampled += new_sampled
                trained += new_trained
                if new_sampled == 0 or (
                    (not config.min_time_s_per_iteration or time.time() - start >= config.min_time_s_per_iteration)
                    and sampled >= (config.min_sample_timesteps_per_iteration or 0)
                    and trained >= (config.min_train_timesteps_per_iteration or 0)
                ):
                    break
        finally:  # also after a failed round: what was sampled and trained so far is reported
            self._collect_metrics()

    def _round(self, sampled_lifetime: int) -> tuple[int, int]:
        """Sample, store, one UTD round, weights to the EnvRunners. Returns (env steps sampled, rows trained)."""
        config = self.config
        began = time.perf_counter()
        with self.metrics.log_time((TIMERS, ENV_RUNNER_SAMPLING_TIMER)):
            samples = self._sample(sampled_lifetime, random_actions=sampled_lifetime < config.num_random_steps)
        # Lifetime totals beside RLlib's smoothed timers: which of sampling and learning bounds a run.
        self.metrics.log_value((TIMERS, SAMPLING_SECONDS_LIFETIME), time.perf_counter() - began, reduce="lifetime_sum")
        for _, episodes in samples:
            self._episode_window.add(episodes)
        parts: dict[str, list] = {}  # module id -> each runner's transitions
        module_steps: dict[str, int] = {}  # module id -> its agents' new steps
        for worker_index, episodes in samples:
            for mid, chunks in self._chunks_by_module(episodes).items():
                parts.setdefault(mid, []).append(self._checked_transitions(worker_index, mid, chunks))
                module_steps[mid] = module_steps.get(mid, 0) + sum(len(chunk) for chunk in chunks)
        transitions = {mid: concat_transitions(runner_parts) for mid, runner_parts in parts.items()}
        transitions = {mid: data for mid, data in transitions.items() if data}
        num_new = sum(sum(len(episode) for episode in episodes) for _, episodes in samples)
        # Counted here, from what arrived: a runner that fails before the iteration's metrics are
        # fetched would otherwise take its steps' count with it (its transitions are stored).
        self.metrics.log_value((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED), num_new, reduce="sum")
        self.metrics.log_value(
            (ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), num_new, reduce="lifetime_sum", with_throughput=True
        )
        learning = sampled_lifetime + num_new >= config.num_random_steps
        # One update per new transition of each policy: a policy shared by k agents gets k per env step.
        num_updates = module_steps if learning else {}
        timesteps = {NUM_ENV_STEPS_SAMPLED_LIFETIME: sampled_lifetime + num_new}
        began = time.perf_counter()
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            rows_trained = _all_results(
                self.learner_group.foreach_learner(
                    lambda learner, _t=transitions, _n=num_updates, _ts=timesteps: learner.update_from_transitions(
                        _t, _n, _ts, reduce_metrics=False
                    )
                )
            )
        self.metrics.log_value((TIMERS, LEARNER_SECONDS_LIFETIME), time.perf_counter() - began, reduce="lifetime_sum")
        total_updates = sum(num_updates.values())
        if learning:
            self._steps_trained_on += num_new
        if total_updates > 0 and not self._runner_shares_weights:
            self._rounds_since_push += 1
            if self._weights_due():
                with self.metrics.log_time((TIMERS, SYNCH_WORKER_WEIGHTS_TIMER)):
                    self.env_runner_group.sync_weights(
                        from_worker_or_learner_group=self.learner_group,
                        policies=self._module_ids,
                        inference_only=True,
                    )  # not waited for: a runner applies them before its next queued sample call
                self._rounds_since_push, self._last_push_time = 0, time.monotonic()
        return num_new, sum(rows_trained)  # every learner's batch rows times critic steps

    def _chunks_by_module(self, episodes: list) -> dict[str, list]:
        """Episode chunks per module: a single-agent run's as they are; a multi-agent run's
        per-agent chunks (``SingleAgentEpisode``, continuing across rounds like a single agent's)
        under the policy their agent maps to."""
        if not self.config.is_multi_agent:
            return {DEFAULT_MODULE_ID: episodes}
        chunks: dict[str, list] = {}
        for episode in episodes:
            for agent_id, agent_episode in episode.agent_episodes.items():
                chunks.setdefault(episode.module_for(agent_id), []).append(agent_episode)
        return chunks

    def _weights_due(self) -> bool:
        """Synchronous: after every round. Asynchronous: every ``weights_push_every_rounds`` rounds
        or ``weights_push_every_s`` seconds, whichever comes first."""
        config = self.config
        if not config.async_sampling:
            return True
        if self._rounds_since_push >= config.weights_push_every_rounds:
            return True
        return (
            config.weights_push_every_s is not None
            and time.monotonic() - self._last_push_time >= config.weights_push_every_s
        )

    def _sample(self, sampled_lifetime: int, random_actions: bool) -> list[tuple[int, list]]:
        """(worker index, episode chunks) of each EnvRunner that returned in time.

        Like RLlib's ``synchronous_parallel_sample`` (remote runners if any, else the local one),
        but keeping track of which runner sent what, for error messages. Each runner first learns
        the env steps sampled so far by all runners: its module's schedules (the discrete part's
        epsilon) run on that count, which RLlib would otherwise only send with connector states.
        """
        group = self.env_runner_group
        if group.num_remote_env_runners() == 0:
            runner = group.local_env_runner
            runner.num_env_steps_sampled_lifetime = sampled_lifetime
            return [(0, runner.sample(random_actions=random_actions))]
        if self.config.async_sampling:
            return self._sample_async(sampled_lifetime, random_actions)
        results = group.foreach_env_runner(
            lambda runner: _sample_at(runner, sampled_lifetime, random_actions),
            local_env_runner=False,
            timeout_seconds=self.config.sample_timeout_s,
        )
        if not results:
            logger.warning(
                "HybridSAC: no EnvRunner returned samples this round (failed or slower than sample_timeout_s)."
            )
        # In runner order, not arrival order: a seeded run then fills its replay the same way each time.
        return sorted(results, key=lambda result: result[0])

    def _sample_async(self, sampled_lifetime: int, random_actions: bool) -> list[tuple[int, list]]:
        """Asynchronous sampling: every healthy runner keeps ``max_requests_in_flight_per_env_runner``
        sample calls queued (2 by default), so it steps on - with the weights it has - while the
        learner trains. Returns the samples that have arrived since the last round, waiting (up to
        ``sample_timeout_s``) only until the first one does."""
        group = self.env_runner_group

        def top_up() -> None:  # RLlib sends at most one call per runner and request
            while group.foreach_env_runner_async(
                lambda runner: _sample_at(runner, sampled_lifetime, random_actions), tag=SAMPLE_TAG
            ):
                pass

        top_up()
        deadline = time.monotonic() + self.config.sample_timeout_s
        while True:
            results = group.fetch_ready_async_reqs(tags=SAMPLE_TAG, timeout_seconds=0.0)
            if results or time.monotonic() >= deadline or group.num_healthy_remote_env_runners() == 0:
                break
            if not self._update_while_waiting(sampled_lifetime):
                time.sleep(0.002)
        top_up()  # refill the calls just answered before the learner trains
        if not results:
            logger.warning("HybridSAC: no EnvRunner returned samples within sample_timeout_s (async sampling).")
        return sorted((result for _, result in results), key=lambda result: result[0])

    def _update_while_waiting(self, sampled_lifetime: int) -> bool:
        """With ``utd_ratio_max``: one more update call (``utd_ratio`` critic steps per module) on
        what the replay holds, if the critic steps so far stay within ``utd_ratio_max`` per env
        step trained on. Returns whether it ran one."""
        config = self.config
        if config.utd_ratio_max is None or self._steps_trained_on == 0:
            return False
        extra_steps = (self._waiting_updates + 1) * config.utd_ratio
        if extra_steps > (config.utd_ratio_max - config.utd_ratio) * self._steps_trained_on:
            return False
        timesteps = {NUM_ENV_STEPS_SAMPLED_LIFETIME: sampled_lifetime}
        updates = dict.fromkeys(self._module_ids, 1)
        began = time.perf_counter()
        with self.metrics.log_time((TIMERS, LEARNER_UPDATE_TIMER)):
            _all_results(
                self.learner_group.foreach_learner(
                    lambda learner, _n=updates, _ts=timesteps: learner.update_from_transitions(
                        {}, _n, _ts, reduce_metrics=False
                    )
                )
            )
        self.metrics.log_value((TIMERS, LEARNER_SECONDS_LIFETIME), time.perf_counter() - began, reduce="lifetime_sum")
        self._waiting_updates += 1
        self.metrics.log_value(NUM_UPDATES_WHILE_WAITING, 1, reduce="sum")
        self.metrics.log_value(f"{NUM_UPDATES_WHILE_WAITING}_lifetime", 1, reduce="lifetime_sum")
        self._rounds_since_push += 1  # new weights: the next round's push counts them
        return True

    def _checked_transitions(self, worker_index: int, module_id: str, episodes: list) -> dict:
        """One runner's episode chunks of one module as transitions; non-finite ones raise or are dropped."""
        config = self.config.get_config_for_module(module_id)
        transitions = episodes_to_transitions(
            episodes,
            self._observation_spaces[module_id],
            self._action_layouts[module_id],
            config.discrete_penalty_key,
            config.grasp_penalty,
        )
        if not transitions:
            return transitions
        bad, fields = non_finite_rows(transitions)
        if not bad.any():
            return transitions
        if config.non_finite_transitions == "raise":
            field, rows = next(iter(fields.items()))
            t = int(np.flatnonzero(rows)[0])
            raise ValueError(
                f"EnvRunner {worker_index} (env {config.env!r}) returned a non-finite {field} "
                f"(fields: {sorted(fields)}; {int(bad.sum())} of {len(bad)} transitions, the first in episode "
                f"{transitions['episode_id'][t]!r}). Fix the env, or set non_finite_transitions='drop' to drop such "
                f"transitions and count them in env_runners/{NUM_NON_FINITE_DROPPED}; allowed: {NON_FINITE_MODES}."
            )
        self.metrics.log_value((ENV_RUNNER_RESULTS, NUM_NON_FINITE_DROPPED), int(bad.sum()), reduce="sum")
        self.metrics.log_value(
            (ENV_RUNNER_RESULTS, f"{NUM_NON_FINITE_DROPPED}_lifetime"), int(bad.sum()), reduce="lifetime_sum"
        )
        return drop_transitions(transitions, ~bad)

    def _collect_metrics(self) -> None:
        """The EnvRunners' and learners' metrics since the last call, reduced once and aggregated."""
        group = self.env_runner_group
        if group.num_remote_env_runners() > 0:
            runner_metrics = group.foreach_env_runner(
                lambda runner: runner.get_metrics(),
                local_env_runner=False,
                timeout_seconds=self.config.sample_timeout_s,
            )
        else:
            runner_metrics = [group.local_env_runner.get_metrics()]
        for metrics in runner_metrics:  # env steps are counted by what arrived (see _round)
            for key in (NUM_ENV_STEPS_SAMPLED, NUM_ENV_STEPS_SAMPLED_LIFETIME):
                metrics.pop(key, None)
        self.metrics.aggregate(runner_metrics, key=ENV_RUNNER_RESULTS)
        learner_metrics = self.learner_group.foreach_learner(lambda learner: learner.reduce_metrics())
        self.metrics.aggregate(_all_results(learner_metrics), key=LEARNER_RESULTS)


def _sample_at(runner, sampled_lifetime: int, random_actions: bool) -> tuple[int, list]:
    runner.num_env_steps_sampled_lifetime = sampled_lifetime
    return runner.worker_index, runner.sample(random_actions=random_actions)


def _all_results(results) -> list:
    out = []
    for result in results:
        if not result.ok:
            raise result.get()
        out.append(result.get())
    return out


def _first_result(results):
    return _all_results(results)[0]
