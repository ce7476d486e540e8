"""The losses of HybridSAC, written to be read next to ``shared/notes/algorithm.md``.

Soft Actor-Critic (Haarnoja et al. 2018) with an N-head critic ensemble whose target takes the
min over a random subset of M heads (REDQ, Chen et al. 2021; RLPD, Ball et al. 2023), plus a
double-DQN critic (van Hasselt et al. 2016) with a head per discrete action part such as a
gripper (HIL-SERL, Luo et al. 2024). A discrete-only action uses SAC for discrete actions
(Christodoulou 2019): ``discrete_sac_critic_loss`` and ``discrete_sac_actor_loss``.

Each function takes the networks (a ``HybridSACTorchRLModule`` or anything with the same
methods), a batch and its encoded observations, and returns the loss plus a few detached
diagnostics. No optimizer, no RLlib: the learner and the plain-PyTorch speed floor both call
exactly this code.
"""

from __future__ import annotations

from typing import Protocol

import torch

from rllib_sac_hybrid.data.batch import Batch, Latents, Observation
from rllib_sac_hybrid.networks import two_hot


class SACNetworks(Protocol):
    """What the losses need from the networks."""

    def encode(self, obs: Observation) -> torch.Tensor: ...  # (B, D) critic latent

    def actor_latent(self, obs: Observation, critic_latent: torch.Tensor | None = None) -> torch.Tensor: ...

    def sample_action(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...  # (B, A), (B,)

    def q_values(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor: ...  # (N, B)

    value_support: torch.Tensor | None  # (K,) values of categorical critics' bins; None: scalar heads

    def q_logits(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor: ...  # (N, B, K), categorical only

    def target_q_values(self, latent: torch.Tensor, action: torch.Tensor, heads: torch.Tensor | None) -> torch.Tensor:
        """(M, B) from the target heads ``heads`` (None = all N) on a target-encoder latent."""

    def discrete_q_values(self, latent: torch.Tensor, arm: torch.Tensor | None = None) -> torch.Tensor: ...  # (B, K)

    def action_log_prob(self, latent: torch.Tensor, action: torch.Tensor) -> torch.Tensor: ...  # (B,)

    def target_discrete_q_values(self, latent: torch.Tensor, arm: torch.Tensor | None = None) -> torch.Tensor: ...

    discrete_critic: torch.nn.Module  # its split_parts cuts (B, sum K_p) into the parts' (B, K_p)

    # discrete-only actions (SAC for discrete actions):
    def policy_log_probs(self, latent: torch.Tensor) -> torch.Tensor: ...  # (B, K)

    def action_values(self, latent: torch.Tensor) -> torch.Tensor: ...  # (N, B, K)

    def target_action_values(self, latent: torch.Tensor, heads: torch.Tensor | None) -> torch.Tensor: ...  # (M, B, K)

    discrete_critic_reads_arm: bool  # True: Q_d(s, a_c), the step's arm action read too


def bootstrap_discount(batch: Batch, discount: float) -> torch.Tensor | float:
    """gamma for one-step transitions; gamma^k per row for n-step returns spanning k steps
    (``batch.reward`` is then already sum_{i<k} gamma^i r_{t+i})."""
    return discount if batch.discount is None else batch.discount


def critic_loss(
    nets: SACNetworks,
    batch: Batch,
    latents: Latents,
    alpha: torch.Tensor,
    discount: float,
    target_heads: torch.Tensor | None,
    use_backup_entropy: bool,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Soft TD loss of every online head against one target from a random subset of target heads.

    Args:
        alpha: temperature exp(log_alpha), detached.
        target_heads: indices (M,) of the target heads to evaluate, or None for all N.

    The target is y = r + (1 - done) * gamma * q' for a one-step batch; for n-step returns r is
    the discounted sum of up to n rewards and gamma is gamma^k (``bootstrap_discount``).

    Categorical heads (``critic_value_bins``, "Stop Regressing", Farebrother et al. 2024) learn a
    distribution p_n over fixed values z instead, Q_n = sum_k p_nk z_k, by cross-entropy with y
    split between its two neighbouring values (two-hot): a rare large y pulls no harder than any
    other, where its squared error would dominate the gradient.

    Returns:
        loss = sum_n mean_B (Q_n(s, a_c) - y)^2 (categorical: sum_n mean_B -sum_k twohot(y)_k
        log p_nk) and diagnostics.
    """
    with torch.no_grad():
        next_action, next_log_pi = nets.sample_action(latents.next_actor)
        next_q = nets.target_q_values(latents.target_next_obs, next_action, target_heads).min(dim=0).values  # (B,)
        if use_backup_entropy:
            next_q = next_q - alpha * next_log_pi
        td_target = batch.reward + (1.0 - batch.done) * bootstrap_discount(batch, discount) * next_q  # (B,)

    support = nets.value_support  # None: scalar heads
    if support is None:
        q = nets.q_values(latents.obs, batch.action)  # (N, B)
        loss = (q - td_target).pow(2).mean(dim=1).sum()
    else:  # categorical heads (critic_value_bins): cross-entropy to the two-hot target, Q their mean
        log_probs = nets.q_logits(latents.obs, batch.action).log_softmax(dim=-1)  # (N, B, K)
        loss = -(two_hot(td_target, support) * log_probs).sum(-1).mean(dim=1).sum()
        q = log_probs.detach().exp() @ support
    td_error = q - td_target  # (N, B)
    return loss, {"q": q.detach(), "td_error": td_error.detach(), "td_target": td_target, "next_action": next_action}


def discrete_critic_loss(
    nets: SACNetworks,
    batch: Batch,
    latents: Latents,
    discount: float,
    advantage_learning: float = 0.0,
    next_arm: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Double-DQN loss of each discrete part's head; the env's discrete penalty joins its reward.

    For part p, the next choice is the online head's argmax, its value the target head's:
    y_p = (r + penalty_p) + (1 - done) * gamma * Q_targ,p(s')[argmax_k Q_p(s')_k]. Each head
    learns the value of its own choice with the other parts acting as the data did (the
    factorised target of Action Branching, Tavakoli et al. 2018); with one part it is the
    double-DQN critic of HIL-SERL.

    With ``advantage_learning`` beta > 0 (Bellemare et al. 2016, "Increasing the Action Gap"),
    the target of a choice below the head's best in s is lowered by beta times its shortfall,
    y_p - beta * (max_k Q_p(s)_k - Q_p(s)[a_p]), with Q(s) detached. The best choice keeps its
    value and the others settle 1 / (1 - beta) times further below it, so the greedy argmax no
    longer flips on small errors where "act now" and "act next step" differ only by (1 - gamma) V
    (open at the goal, grasp at the object); the greedy choice of the fixed point is unchanged.

    With ``discrete_critic_reads_arm`` the critic is Q_d(s, a_c): Q(s) above reads the stored arm
    action, and Q(s') the arm action the policy samples at s' (``next_arm``: the arm critics'
    target sample, drawn here when not given), since the grippers are chosen after the arm there.

    Returns:
        loss = sum_p mean_B (Q_p(s)[a_p] - y_p)^2 and diagnostics (q: (B, P)).
    """
    reads_arm = nets.discrete_critic_reads_arm
    rows = batch.reward.shape[0]
    chosen = batch.discrete_action.reshape(rows, -1)  # (B, P)
    with torch.no_grad():
        if not reads_arm:
            next_arm = None
        elif next_arm is None:
            next_arm = nets.sample_action(latents.next_actor)[0]
        online_next = nets.discrete_critic.split_parts(nets.discrete_q_values(latents.next_obs, next_arm))
        target_next = nets.discrete_critic.split_parts(nets.target_discrete_q_values(latents.target_next_obs, next_arm))
        next_q = torch.stack(
            [t.gather(-1, o.argmax(dim=-1, keepdim=True)).squeeze(-1) for o, t in zip(online_next, target_next)], -1
        )  # (B, P)
        penalty = 0.0 if batch.discrete_penalty is None else batch.discrete_penalty.reshape(rows, -1)
        not_done = (1.0 - batch.done).unsqueeze(-1)
        discount_ = bootstrap_discount(batch, discount)
        discount_ = discount_.unsqueeze(-1) if isinstance(discount_, torch.Tensor) else discount_
        td_target = (batch.reward.unsqueeze(-1) + penalty) + not_done * discount_ * next_q  # (B, P)

    q_parts = nets.discrete_critic.split_parts(nets.discrete_q_values(latents.obs, batch.action if reads_arm else None))
    q = torch.stack([part.gather(-1, chosen[:, p : p + 1]).squeeze(-1) for p, part in enumerate(q_parts)], -1)
    if advantage_learning:
        best = torch.stack([part.detach().max(dim=-1).values for part in q_parts], -1)
        td_target = td_target - advantage_learning * (best - q.detach())  # shortfall >= 0
    loss = (q - td_target).pow(2).mean(dim=0).sum()
    return loss, {"q": q.detach(), "td_target": td_target}


def discrete_sac_critic_loss(
    nets: SACNetworks,
    batch: Batch,
    latents: Latents,
    alpha: torch.Tensor,
    discount: float,
    target_heads: torch.Tensor | None,
    use_backup_entropy: bool,
    joint_index: torch.Tensor,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """SAC for discrete actions (Christodoulou 2019): every head outputs Q(s, .) over the K
    joint choices, and the soft value of s' is an exact expectation over pi, no sample:

    V(s') = sum_a pi(a|s') (min_{m in M} Q'_m(s', a) - alpha log pi(a|s'))
    y = r + (1 - done) * gamma * V(s')

    Args:
        joint_index: the stored action's joint choice (B,) (``ActionLayout.joint_index``).

    Returns:
        loss = sum_n mean_B (Q_n(s, a) - y)^2 and diagnostics.
    """
    with torch.no_grad():
        next_log_pi = nets.policy_log_probs(latents.next_actor)  # (B, K)
        next_q = nets.target_action_values(latents.target_next_obs, target_heads).min(dim=0).values  # (B, K)
        if use_backup_entropy:
            next_q = next_q - alpha * next_log_pi
        next_v = (next_log_pi.exp() * next_q).sum(-1)
        td_target = batch.reward + (1.0 - batch.done) * bootstrap_discount(batch, discount) * next_v  # (B,)

    q_all = nets.action_values(latents.obs)  # (N, B, K)
    q = q_all.gather(-1, joint_index.expand(q_all.shape[0], -1).unsqueeze(-1)).squeeze(-1)  # (N, B)
    loss = (q - td_target).pow(2).mean(dim=1).sum()
    return loss, {"q": q.detach(), "td_error": (q - td_target).detach(), "td_target": td_target}


def discrete_sac_actor_loss(
    nets: SACNetworks, obs: Observation, alpha: torch.Tensor, q_reduction: str = "min"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Policy loss of SAC for discrete actions, exact over the K choices:
    mean_B sum_a pi(a|s) (alpha log pi(a|s) - Q(s, a)), Q reduced over the N heads by ``min``
    or ``mean`` and detached (the encoder's latent too, as in ``actor_loss``).

    Returns:
        the loss and E_pi[log pi] = -H(pi(.|s)) (B,), which the temperature loss reuses in place
        of a sampled log pi.
    """
    with torch.no_grad():
        critic_latent = nets.encode(obs)
        q = nets.action_values(critic_latent)  # (N, B, K)
        q_pi = q.min(dim=0).values if q_reduction == "min" else q.mean(dim=0)
    log_pi = nets.policy_log_probs(nets.actor_latent(obs, critic_latent))  # (B, K)
    pi = log_pi.exp()
    expected_log_pi = (pi * log_pi).sum(-1)
    return (pi * (alpha * log_pi - q_pi)).sum(-1).mean(), expected_log_pi


def actor_loss(
    nets: SACNetworks,
    obs: Observation,
    alpha: torch.Tensor,
    q_reduction: str = "min",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Policy loss mean_B (alpha * log pi(a_c|s) - Q(s, a_c)), a_c ~ pi reparameterised.

    Q reduces the N online heads by ``min`` (SAC) or ``mean`` (REDQ). Encoder features are
    detached: only the critic losses train a shared encoder. The caller freezes the critic
    parameters so no gradient lands in them.

    Returns:
        the loss and log pi (B,), which the temperature loss reuses (detached).
    """
    with torch.no_grad():  # the critic's view of obs; only the critic losses train its encoder
        critic_latent = nets.encode(obs)
    action, log_pi = nets.sample_action(nets.actor_latent(obs, critic_latent))
    q = nets.q_values(critic_latent, action)  # (N, B)
    q_pi = q.min(dim=0).values if q_reduction == "min" else q.mean(dim=0)
    return (alpha * log_pi - q_pi).mean(), log_pi


def temperature_loss(log_alpha: torch.Tensor, log_pi: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """mean_B (-exp(log_alpha) * (log pi + target_entropy)), log pi detached.

    Minimising it raises alpha when the policy's entropy (-log pi) is below the target.
    """
    return (-log_alpha.exp() * (log_pi.detach() + target_entropy)).mean()


def demonstrated_action_error(
    nets: SACNetworks, obs: Observation, action: torch.Tensor, q_filter: bool = False
) -> torch.Tensor:
    """||tanh(mean(s)) - a_demo||^2 (B,): how far the greedy arm action is from the demonstrated
    one (TD3+BC's term). It leaves the actor's std to the entropy term, where a log-likelihood
    would shrink it towards the demonstrations' (saturated, noiseless) actions and fight the
    temperature; the critic latent is detached.

    With ``q_filter`` a row counts only where the critics value the demonstrated action above
    the greedy one, min_n Q_n(s, a_demo) > min_n Q_n(s, tanh(mean(s))) (Nair et al. 2018's
    Q-filter): demonstrations worse than the policy stop pulling it back; the row's error is 0."""
    with torch.no_grad():
        critic_latent = nets.encode(obs)
    mean, _ = nets.actor(nets.actor_latent(obs, critic_latent))
    greedy = torch.tanh(mean)
    error = (greedy - action).pow(2).sum(-1)
    if q_filter:
        with torch.no_grad():
            both = nets.q_values(critic_latent.repeat(2, 1), torch.cat([action, greedy.detach()]))  # (N, 2B)
            q = both.min(dim=0).values
            demo_better = q[: len(action)] > q[len(action) :]
        error = error * demo_better
    return error


def demonstrated_choice_error(
    nets: SACNetworks, obs: Observation, discrete_action: torch.Tensor, q_filter: bool = False
) -> torch.Tensor:
    """``demonstrated_action_error`` for a discrete-only actor: -log pi(a_demo|s) (B,), the
    demonstrated joint choice's negative log-likelihood. With ``q_filter`` a row counts only where
    min_n Q_n(s, a_demo) > min_n Q_n(s, argmax pi(.|s)) (Nair et al. 2018's Q-filter)."""
    with torch.no_grad():
        critic_latent = nets.encode(obs)
    log_pi = nets.policy_log_probs(nets.actor_latent(obs, critic_latent))  # (B, K)
    joint = nets.layout.joint_index(discrete_action.reshape(len(log_pi), -1))
    error = -log_pi.gather(-1, joint.unsqueeze(-1)).squeeze(-1)
    if q_filter:
        with torch.no_grad():
            q = nets.action_values(critic_latent).min(dim=0).values  # (B, K)
            demo_better = q.gather(-1, joint.unsqueeze(-1)).squeeze(-1) > q.gather(
                -1, log_pi.argmax(-1, keepdim=True)
            ).squeeze(-1)
        error = error * demo_better
    return error


def behaviour_cloning_loss(nets: SACNetworks, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Warm start on demonstrations (``bc_pretrain_steps``): the demonstrated action's negative
    log-likelihood under the tanh-Gaussian actor, mean_B -log pi(a_c|s), plus for discrete parts
    the cross-entropy of each part's discrete-critic values taken as logits against the
    demonstrated index, sum_p mean_B -log softmax(Q_p(s))[a_p] (greedy = argmax Q_p then picks the
    demonstrated choice; DQfD's supervised term on Q has the same aim). A discrete-only actor
    clones the demonstrated joint choice, mean_B -log pi(a|s).

    The critic latent is detached, as in the actor loss: the encoder learns from the critic
    losses, which run on the same demonstrations meanwhile. Actions at the bounds (scripted
    controllers saturate) are pulled in to 1 - 1e-3, where atanh is 3.8, not infinite.
    """
    with torch.no_grad():
        critic_latent = nets.encode(batch.obs)
    if getattr(nets, "discrete_only", False):
        log_pi = nets.policy_log_probs(nets.actor_latent(batch.obs, critic_latent))
        joint = nets.layout.joint_index(batch.discrete_action.reshape(len(log_pi), -1))
        loss = torch.nn.functional.nll_loss(log_pi, joint)
        accuracy = (log_pi.argmax(-1) == joint).float().mean()
        return loss, {"bc_log_likelihood": -loss.detach(), "bc_discrete_accuracy": accuracy}
    action = batch.action.clamp(-1.0 + 1e-3, 1.0 - 1e-3)
    log_likelihood = nets.action_log_prob(nets.actor_latent(batch.obs, critic_latent), action)
    loss = -log_likelihood.mean()
    info = {"bc_log_likelihood": log_likelihood.detach().mean()}
    if batch.discrete_action is not None and getattr(nets, "has_discrete_critic", False):
        chosen = batch.discrete_action.reshape(len(action), -1)
        parts = nets.discrete_critic.split_parts(nets.discrete_q_values(critic_latent, batch.action))
        cross_entropy = sum(torch.nn.functional.cross_entropy(q, chosen[:, p]) for p, q in enumerate(parts))
        loss = loss + cross_entropy
        info["bc_discrete_cross_entropy"] = cross_entropy.detach()
        correct = torch.stack([q.argmax(-1) == chosen[:, p] for p, q in enumerate(parts)], -1).all(-1)
        info["bc_discrete_accuracy"] = correct.float().mean()
    return loss, info
