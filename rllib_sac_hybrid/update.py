"""One HybridSAC update, in plain PyTorch: the UTD loop written once.

An *update* consumes ``utd_ratio`` fresh batches: each gets a critic step (with, for a hybrid
action, the discrete critic's step on the same batch) followed by a Polyak update of the
targets; after the last critic step, every ``policy_update_freq`` updates, come
``policy_update_freq`` actor steps each followed by a temperature step (algorithm.md, "The
update loop"). With ``critic_actor_ratio`` = k instead, an actor + temperature step follows
every k-th critic step on that critic step's batch (HIL-SERL's ``cta_ratio``), however many
critic steps an update has. The RLlib Learner wraps this class; the speed benchmark's floor
runs it bare.

Nothing in the loop syncs with the host: metrics stay tensors until the caller reduces them.
With ``torch_compile_mode="reduce-overhead"`` (or "max-autotune") on CUDA, each compiled loss
forward and its backward replay as CUDA graphs (``CUDA_GRAPH_MODES``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rllib_sac_hybrid import losses
from rllib_sac_hybrid.data.batch import Batch, last_rows

# torch.compile's modes that replay the compiled graphs as CUDA graphs on a CUDA device (on a CPU
# they compile as "default" / "max-autotune-no-cudagraphs" do): https://pytorch.org/docs/stable/torch.compiler_cudagraph_trees.html
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")


@dataclass(frozen=True)
class UpdateSettings:
    """The update-loop settings of ``HybridSACConfig`` (see its docstring for meanings)."""

    utd_ratio: int
    policy_update_freq: int
    discount: float
    tau: float
    num_critics: int
    num_subsample_critics: int | None
    use_backup_entropy: bool
    actor_q_reduction: str
    grad_clip_norm: float | None
    target_entropy: float
    critic_actor_ratio: int | None = None
    discrete_advantage_learning: float = 0.0
    bc_weight: float = 0.0
    bc_q_filter: bool = False
    torch_compile: bool = False
    torch_compile_mode: str = "max-autotune-no-cudagraphs"


def param_groups(module: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Each trainable parameter in exactly one optimizer.

    critic: heads + the (shared) encoder; actor: actor (+ its own encoder); temperature:
    log_alpha; discrete_critic (hybrid actions only): its head - the encoder it reads gets its
    gradient through the critic optimizer, which steps it once per critic step.
    """
    actor = list(module.actor.parameters())
    if not module.shared_encoder:
        actor += list(module.actor_encoder.parameters())
    groups = {
        "critic": list(module.encoder.parameters()) + list(module.critic.parameters()),
        "actor": actor,
        "temperature": [module.log_alpha],
    }
    if module.has_discrete_critic:
        groups["discrete_critic"] = list(module.discrete_critic.parameters())
    # A frozen image backbone's parameters train in no group.
    return {name: [p for p in params if p.requires_grad] for name, params in groups.items()}


def make_optimizer(params: list[nn.Parameter], lr: float) -> torch.optim.Adam:
    """Adam with the fused implementation (one kernel per step; about 8% faster per update at
    256-wide nets on CPU than the default) where this torch has it for these tensors."""
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError):  # fused not supported for this device / dtype
        return torch.optim.Adam(params, lr=lr)


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Turns off gradients for ``module`` and restores each parameter's own flag afterwards.

    The actor loss backpropagates through the critic into the action; without freezing, the
    critic's parameters would also accumulate (unused) gradients, which costs time and would
    leak into the next critic step if anyone forgot to zero them.
    """
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


class SACUpdater:
    """Runs critic, actor and temperature steps and Polyak updates on a HybridSAC module.

    Args:
        module: a (learner-side) ``HybridSACTorchRLModule``.
        optimizers: ``{"critic", "actor", "temperature"}`` -> optimizer over ``param_groups``.
        settings: the update-loop settings.
        grad_hook: called with the parameters of each optimizer step after the backward pass and
            before clipping; data-parallel learners average the gradients there.
        head_generator: the RNG of the target-head subsets (default: torch's global RNG);
            data-parallel learners share one seed so that all draw the same subset each step.
    """

    def __init__(
        self,
        module: nn.Module,
        optimizers: dict[str, torch.optim.Optimizer],
        settings: UpdateSettings,
        grad_hook: Callable[[list[nn.Parameter]], None] | None = None,
        head_generator: torch.Generator | None = None,
    ) -> None:
        self.module = module
        self.optimizers = optimizers
        self.settings = settings
        self.grad_hook = grad_hook
        self.head_generator = head_generator
        self.params = param_groups(module)
        self._online, self._target = [], []
        for online, target in module.target_pairs():
            for o, t in zip(online.parameters(), target.parameters()):
                if o is not t:  # a frozen backbone is shared by both: nothing to average
                    self._online.append(o)
                    self._target.append(t)
        self.num_updates = 0  # update calls so far: drives policy_update_freq
        self.num_critic_steps = 0
        self.num_policy_steps = 0
        self._critic_optimizers = ["critic", "discrete_critic"] if module.has_discrete_critic else ["critic"]
        if settings.torch_compile:
            # Forward passes and their backward graphs are compiled; backward() calls, clipping
            # and the optimizer steps stay eager (fused Adam is already one kernel per group).
            compile_kwargs = {"mode": settings.torch_compile_mode, "dynamic": False}
            self._critic_losses = torch.compile(self._critic_losses, **compile_kwargs)
            self._policy_losses = torch.compile(self._policy_losses, **compile_kwargs)
        self.cuda_graphs = settings.torch_compile and settings.torch_compile_mode in CUDA_GRAPH_MODES

    def get_state(self) -> dict[str, Any]:
        """The loop's counters (the policy-update phase is ``num_updates % policy_update_freq``)
        and the head generator's state, if it has one."""
        state: dict[str, Any] = {
            "num_updates": self.num_updates,
            "num_critic_steps": self.num_critic_steps,
            "num_policy_steps": self.num_policy_steps,
        }
        if self.head_generator is not None:
            state["head_generator"] = self.head_generator.get_state()
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restores ``get_state()``'s output."""
        self.num_updates = int(state["num_updates"])
        self.num_critic_steps = int(state["num_critic_steps"])
        self.num_policy_steps = int(state["num_policy_steps"])
        if self.head_generator is not None and "head_generator" in state:
            self.head_generator.set_state(state["head_generator"])

    # ---- one update -------------------------------------------------------------------------
    def update(
        self, next_batch: Callable[[], Batch], demo_rows: int = 0, utd_ratio: int | None = None
    ) -> list[dict[str, torch.Tensor]]:
        """One update: ``utd_ratio`` critic steps on fresh batches, and the policy's steps.

        Args:
            next_batch: returns a fresh batch on each call.
            demo_rows: how many of each batch's rows, the last ones, are demonstrations (the
                rows ``bc_weight``'s term clones).
            utd_ratio: critic steps of this update (default: the settings'); the learner passes
                the one that ``utd_ratio="auto"`` resolves to for this round's batches.

        Returns:
            the metrics of each step (dicts of 0-dim tensors).
        """
        s = self.settings
        metrics = []
        for _ in range(s.utd_ratio if utd_ratio is None else utd_ratio):
            batch = self.module.prepare_batch(next_batch())  # normalised obs, frozen-backbone features: once per batch
            metrics.append(self.critic_step(batch))
            self.polyak_update()
            # critic_actor_ratio counts critic steps across updates, so the ratio holds whatever
            # the UTD of each round (and across a checkpoint restore: the count is saved).
            if s.critic_actor_ratio is not None and self.num_critic_steps % s.critic_actor_ratio == 0:
                metrics.append(self.policy_step(batch.obs, self._clone_rows(batch, demo_rows)))
        if s.critic_actor_ratio is None and self.num_updates % s.policy_update_freq == 0:
            for _ in range(s.policy_update_freq):
                metrics.append(self.policy_step(batch.obs, self._clone_rows(batch, demo_rows)))
        self.num_updates += 1
        return metrics

    def pretrain_update(self, next_batch: Callable[[], Batch]) -> list[dict[str, torch.Tensor]]:
        """One behaviour-cloning pretraining step (``bc_pretrain_steps``) on a demonstration batch:
        a critic step and its Polyak update, then ``behaviour_cloning_step`` on the same batch."""
        batch = self.module.prepare_batch(next_batch())
        metrics = [self.critic_step(batch)]
        self.polyak_update()
        metrics.append(self.behaviour_cloning_step(batch))
        return metrics

    def _clone_rows(self, batch: Batch, demo_rows: int) -> Batch | None:
        """The demonstration rows that the actor loss's cloning term uses, or None without one."""
        return last_rows(batch, demo_rows) if self.settings.bc_weight > 0 and demo_rows > 0 else None

    # ---- the steps --------------------------------------------------------------------------
    def critic_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Critic (and discrete-critic) losses on one batch, one backward, each optimizer steps once.

        The shared encoder gets the sum of both critics' gradients and moves once, with the critic
        optimizer (the reference steps it twice, with two Adam states).
        """
        self._graph_step_begins()
        total, metrics = self._critic_losses(batch, self.alpha(), self.choose_target_heads())
        metrics = _copied(metrics)
        names = self._critic_optimizers
        for name, (norm, skipped) in zip(names, self._step(names, total)):
            metrics[f"{name}_grad_norm"] = norm
            metrics[f"{name}_steps_skipped"] = skipped
        self.num_critic_steps += 1
        return metrics

    def _critic_losses(
        self, batch: Batch, alpha: torch.Tensor, target_heads: torch.Tensor | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The summed critic losses of one batch and their diagnostics (compiled when asked)."""
        s = self.settings
        latents = self.module.encode_batch(batch)
        if self.module.discrete_only:  # SAC for discrete actions over the joint choice
            joint = self.module.layout.joint_index(batch.discrete_action.reshape(len(batch.reward), -1))
            loss, info = losses.discrete_sac_critic_loss(
                self.module, batch, latents, alpha, s.discount, target_heads, s.use_backup_entropy, joint
            )
        else:
            loss, info = losses.critic_loss(
                self.module,
                batch,
                latents,
                alpha=alpha,
                discount=s.discount,
                target_heads=target_heads,
                use_backup_entropy=s.use_backup_entropy,
            )
        q = info["q"]  # (N, B)
        metrics = {
            "critic_loss": loss.detach(),
            "q_mean": q.mean(),
            "q_min": q.min(),
            "q_max": q.max(),
            "q_ensemble_std": q.std(dim=0).mean() if q.shape[0] > 1 else torch.zeros((), device=q.device),
            "td_error_mean": info["td_error"].abs().mean(),
            "td_target_mean": info["td_target"].mean(),
        }
        if self.module.has_discrete_critic:
            discrete_loss, discrete_info = losses.discrete_critic_loss(
                self.module, batch, latents, s.discount, s.discrete_advantage_learning, next_arm=info["next_action"]
            )
            loss = loss + discrete_loss
            metrics["discrete_critic_loss"] = discrete_loss.detach()
            metrics["discrete_q_mean"] = discrete_info["q"].mean()
        return loss, metrics

    def policy_step(self, obs, demonstrations: Batch | None = None) -> dict[str, torch.Tensor]:
        """An actor step and a temperature step, from one forward pass and one backward.

        The temperature loss reuses the actor's log pi, detached, and the actor loss uses alpha
        detached, so the summed loss gives each optimizer exactly its own loss's gradient. With
        ``demonstrations`` (``bc_weight`` > 0), the actor loss adds ``bc_weight`` times the
        greedy action's squared distance to the demonstrated one (``losses.demonstrated_action_error``),
        or for a discrete-only actor the demonstrated choice's -log pi (``losses.demonstrated_choice_error``).
        """
        alpha = self.alpha()
        with frozen(self.module.critic):
            self._graph_step_begins()
            loss, temp_loss, log_pi = self._policy_losses(obs, alpha)
            extra = {}
            if demonstrations is not None:
                if self.module.discrete_only:  # -log pi(a_demo | s)
                    error = losses.demonstrated_choice_error(
                        self.module, demonstrations.obs, demonstrations.discrete_action, self.settings.bc_q_filter
                    ).mean()
                else:
                    error = losses.demonstrated_action_error(
                        self.module, demonstrations.obs, demonstrations.action, self.settings.bc_q_filter
                    ).mean()
                loss = loss + self.settings.bc_weight * error
                extra["actor_bc_error"] = error
            losses_now = _copied(
                {**extra, "actor_loss": loss, "temperature_loss": temp_loss, "entropy": -log_pi.mean()}
            )
            (actor_norm, actor_skipped), (temp_norm, temp_skipped) = self._step(
                ["actor", "temperature"], loss + temp_loss
            )
        self.num_policy_steps += 1
        return {
            **losses_now,
            "actor_grad_norm": actor_norm,
            "actor_steps_skipped": actor_skipped,
            "temperature_grad_norm": temp_norm,
            "temperature_steps_skipped": temp_skipped,
            "temperature": alpha,
        }

    def behaviour_cloning_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One step of ``losses.behaviour_cloning_loss`` on the actor (and the discrete critic)."""
        loss, metrics = losses.behaviour_cloning_loss(self.module, batch)
        names = ["actor"] + (["discrete_critic"] if self.module.has_discrete_critic else [])
        for name, (norm, skipped) in zip(names, self._step(names, loss)):
            metrics[f"bc_{name}_grad_norm"] = norm
            metrics[f"bc_{name}_steps_skipped"] = skipped
        return metrics

    def _policy_losses(self, obs, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The actor loss, the temperature loss and log pi (compiled when asked)."""
        s = self.settings
        if self.module.discrete_only:  # log_pi: E_pi[log pi] per row, exact
            loss, log_pi = losses.discrete_sac_actor_loss(self.module, obs, alpha, s.actor_q_reduction)
        else:
            loss, log_pi = losses.actor_loss(self.module, obs, alpha, s.actor_q_reduction)
        return loss, losses.temperature_loss(self.module.log_alpha, log_pi, s.target_entropy), log_pi

    def _graph_step_begins(self) -> None:
        """With CUDA graphs, tells torch that the outputs of the previous replay are done with
        (``_copied`` kept what the metrics need), so the next replay may reuse their memory."""
        if self.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()

    def alpha(self) -> torch.Tensor:
        """The current temperature exp(log_alpha), detached."""
        return self.module.log_alpha.detach().exp()

    def choose_target_heads(self) -> torch.Tensor | None:
        """M distinct target heads drawn uniformly, before any forward pass; None = all N."""
        s = self.settings
        m = s.num_subsample_critics
        if m is None or m >= s.num_critics:
            return None
        device = self.module.log_alpha.device
        if self.head_generator is None:
            return torch.randperm(s.num_critics, device=device)[:m]
        # Drawn on the host (learners share the seed); non_blocking: no stream sync for the copy.
        return torch.randperm(s.num_critics, generator=self.head_generator)[:m].to(device, non_blocking=True)

    @torch.no_grad()
    def polyak_update(self) -> None:
        """target <- tau * online + (1 - tau) * target, fused over all tensors."""
        torch._foreach_lerp_(self._target, self._online, self.settings.tau)

    def _step(self, names: list[str], loss: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Zero, one backward, then per optimizer: clip to ``grad_clip_norm`` and step - unless the
        gradient is not finite (a NaN / inf loss or gradient): then that optimizer's step is
        skipped and no weight, Adam moment or step count changes.

        With fused Adam the skip happens inside the kernel (its ``found_inf`` input), so there is
        no host sync; other optimizers check on the host.

        Returns (pre-clip gradient norm, 1.0 if the step was skipped else 0.0) per optimizer.
        """
        for name in names:
            self.optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        if self.grad_hook is not None:
            self.grad_hook([p for name in names for p in self.params[name]])
        max_norm = self.settings.grad_clip_norm or float("inf")
        out = []
        for name in names:
            norm = torch.nn.utils.clip_grad_norm_(self.params[name], max_norm, foreach=True).detach()
            skipped = (~torch.isfinite(norm)).float()
            optimizer = self.optimizers[name]
            if optimizer.defaults.get("fused"):
                optimizer.found_inf = skipped
                optimizer.step()
            elif not skipped.item():
                optimizer.step()
            out.append((norm, skipped))
        return out


def _copied(metrics: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The 0-dim metrics, detached and copied out of the tensors that produced them, in one
    kernel: a CUDA graph's replay overwrites its outputs in place, and the loop keeps the metrics
    of every step until the caller reduces them."""
    return dict(zip(metrics, torch.stack([m.detach() for m in metrics.values()]).unbind()))
