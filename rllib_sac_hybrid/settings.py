"""Every HybridSAC setting, once: its name, default, allowed values and one-line meaning, and the
rules that resolve the "auto" defaults.

``HybridSACConfig`` takes its fields and defaults from ``SETTINGS``, its ``validate()`` checks each
value with the setting's ``check`` and names ``allowed`` in the error, and the docs' settings
reference is rendered from the same table (``docs/reference/settings.md``, written by
``make docs``). Why a default is what it is: the research pages linked
from ``research``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rllib_sac_hybrid.data.demonstrations import FORMATS as DEMONSTRATION_FORMATS
from rllib_sac_hybrid.data.observation_normalization import NORMALIZATIONS as OBSERVATION_NORMALIZATIONS
from rllib_sac_hybrid.networks import ACTIVATIONS

Check = Callable[[Any], bool]


@dataclass(frozen=True)
class Setting:
    """One HybridSAC setting of ``HybridSACConfig.training(...)``.

    Attributes:
        name: the keyword of ``.training(...)`` and the config attribute.
        default: the value a new config holds.
        allowed: the values ``validate()`` accepts, as its error message says them.
        meaning: what the setting does, in one line.
        group: the heading it is listed under.
        check: True for an allowed value; None where the value is checked with others (in
            ``HybridSACConfig.validate``) or accepted as it is.
        research: the docs page that measured the default, if one did.
    """

    name: str
    default: Any
    allowed: str
    meaning: str
    group: str
    check: Check | None = None
    research: str | None = None


# ---- checks -------------------------------------------------------------------------------------
def _real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(minimum: int) -> Check:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def number(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False) -> Check:
    """A real number (not bool, not NaN) in the interval; ``high_open`` with ``high=inf``: finite."""

    def check(v: Any) -> bool:
        if not _real(v) or math.isnan(v):
            return False
        above = v > low if low_open else v >= low
        below = v < high if high_open else v <= high
        return above and below

    return check


def finite_number(v: Any) -> bool:
    return _real(v) and math.isfinite(v)


def boolean(v: Any) -> bool:
    return isinstance(v, bool)


def one_of(*choices: Any) -> Check:
    return lambda v: any(v is c or (v == c and type(v) is type(c)) for c in choices)


def integer_or_integers(minimum: int) -> Check:
    one = integer(minimum)
    return lambda v: one(v) or (isinstance(v, (list, tuple)) and len(v) > 0 and all(one(x) for x in v))


def optional(check: Check) -> Check:
    return lambda v: v is None or check(v)


def or_auto(check: Check) -> Check:
    return lambda v: v == "auto" or check(v)


def hidden_dims(v: Any) -> bool:
    return (
        isinstance(v, (list, tuple))
        and len(v) > 0
        and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in v)
    )


def non_empty_str(v: Any) -> bool:
    return isinstance(v, str) and bool(v)


def paths(v: Any) -> bool:
    """A path (or dataset id), or a non-empty list of them."""
    return non_empty_str(v) or (isinstance(v, (list, tuple)) and len(v) > 0 and all(non_empty_str(p) for p in v))


def import_path(v: Any) -> bool:
    return isinstance(v, str) and v.count(":") == 1 and all(v.split(":"))


# ---- choices (named, because code compares with them) -------------------------------------------
ACTOR_Q_REDUCTIONS = ("min", "mean")
REWARD_SCALINGS = ("return_std", None)
# Discrete-only actions: the auto entropy target as a share of log K (see docs/research/discrete-sac.md).
AUTO_DISCRETE_ONLY_ENTROPY_SCALE = 0.5
DISCRETE_EXPLORATIONS = ("epsilon", "boltzmann")
IMAGE_AUGMENTATIONS = ("random_shift", None)
NON_FINITE_MODES = ("raise", "drop")
REWARD_CLASSIFIER_MODES = ("replace", "add")
TORCH_COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

BOOL = "True or False"
R = "research"  # docs/research/<page>.md


def _s(name, default, allowed, meaning, group, check=None, research=None) -> Setting:
    return Setting(name, default, allowed, meaning, group, check, research)


CRITIC, UTD, TEMP, OPT, NETS, CAMS = (
    "Critic ensemble and targets",
    "Update-to-data loop",
    "Temperature (entropy)",
    "Optimisation",
    "Networks",
    "Camera images",
)
HYBRID, REPLAY, DEMOS, REWARD, SPEED, SAMPLING = (
    "Hybrid actions (a discrete part, e.g. a gripper)",
    "Replay and data",
    "Demonstrations, interventions and warm starts",
    "Learned reward (success classifier)",
    "Speed",
    "Sampling and several learners",
)

# fmt: off
SETTINGS: tuple[Setting, ...] = (
    # Critic ensemble and targets.
    _s("num_critics", 2, "an integer >= 1",
       "N, critic heads in the ensemble.", CRITIC, integer(1)),
    _s("num_subsample_critics", None, "None or an integer in [1, num_critics]",
       "M, target heads drawn per critic step for the min (None: all N).", CRITIC),
    _s("discount", 0.97, "a number in [0, 1]",
       "gamma; training(gamma=...) is an alias.", CRITIC, number(0.0, 1.0),
       "defaults.md#from-the-tuned-recipe-to-the-defaults-pick-and-place"),
    _s("n_step", 1, "an integer >= 1",
       "n-step returns: n discounted rewards, then gamma^n times the bootstrap.", CRITIC, integer(1)),
    _s("tau", 0.005, "a number in (0, 1]",
       "Polyak coefficient: target <- tau * online + (1 - tau) * target.", CRITIC, number(0.0, 1.0, low_open=True)),
    _s("use_backup_entropy", True, BOOL,
       "subtract alpha * log pi(a'|s') in the critic target.", CRITIC, boolean),
    _s("critic_value_bins", "auto", 'an integer >= 2 or None or "auto"',
       'None: scalar Q heads; K: categorical heads over K values; "auto": 101 for hybrid actions from vectors.',
       CRITIC, or_auto(optional(integer(2))), "categorical-critics.md"),
    # Update-to-data loop.
    _s("utd_ratio", "auto", 'an integer >= 1 or "auto"',
       'critic steps per env step, each on a fresh batch; "auto": 4 with demonstration rows (vectors), else 1.',
       UTD, or_auto(integer(1)), "defaults.md#the-update-to-data-ratio"),
    _s("policy_update_freq", 1, "an integer >= 1",
       "every this many updates, this many actor + temperature steps.", UTD, integer(1)),
    _s("critic_actor_ratio", None, "an integer >= 1 or None",
       "an actor step after every k-th critic step, counted across updates (HIL-SERL's cta_ratio).", UTD,
       optional(integer(1))),
    # Temperature.
    _s("temperature_init", 0.01, "a finite number > 0",
       "initial alpha; log_alpha starts at its log.", TEMP, number(0.0, low_open=True, high_open=True),
       "defaults.md#from-the-tuned-recipe-to-the-defaults-pick-and-place"),
    _s("target_entropy", None, "None (auto) or a number",
       "entropy target; None: -(dim(a_c) + P) / 2 with a discrete critic over P parts, -dim(a_c) without one, "
       f"{AUTO_DISCRETE_ONLY_ENTROPY_SCALE} log K for K discrete-only choices.", TEMP,
       optional(_real), "wall-clock.md"),
    _s("temperature_lr", 3e-4, "a finite number > 0",
       "Adam learning rate of log_alpha.", TEMP, number(0.0, low_open=True, high_open=True)),
    # Optimisation.
    _s("actor_lr", 3e-4, "a finite number > 0",
       "Adam learning rate of the actor.", OPT, number(0.0, low_open=True, high_open=True)),
    _s("critic_lr", 3e-4, "a finite number > 0",
       "Adam learning rate of the critics and the shared encoder.", OPT, number(0.0, low_open=True, high_open=True)),
    _s("grad_clip_norm", 40.0, "None or a number > 0",
       "max gradient norm of every optimizer step.", OPT, optional(number(0.0, low_open=True))),
    _s("actor_q_reduction", "min", f"one of {ACTOR_Q_REDUCTIONS}",
       'over the heads in the actor loss: "min" (SAC) or "mean" (REDQ).', OPT, one_of(*ACTOR_Q_REDUCTIONS)),
    # Networks.
    _s("encoder_latent_dim", 64, "an integer >= 1",
       "width of the observation encoder's output.", NETS, integer(1)),
    _s("shared_encoder", True, BOOL,
       "the actor reads the critics' encoder (detached) instead of its own.", NETS, boolean),
    _s("actor_hidden_dims", "auto", 'a non-empty list of positive integers or "auto"',
       '"auto": (64, 64) with a discrete critic, (256, 256) for a Box action.', NETS, or_auto(hidden_dims),
       "widths.md"),
    _s("critic_hidden_dims", "auto", 'a non-empty list of positive integers or "auto"',
       '"auto": (64, 64) with a discrete critic, (256, 256) for a Box action.', NETS, or_auto(hidden_dims),
       "widths.md"),
    _s("activation", "silu", f"one of {sorted(ACTIVATIONS)}",
       "the MLPs' activation.", NETS, one_of(*ACTIVATIONS)),
    _s("actor_layer_norm", True, BOOL,
       "LayerNorm after each hidden layer of the actor.", NETS, boolean),
    _s("critic_layer_norm", True, BOOL,
       "LayerNorm after each hidden layer of the critics.", NETS, boolean),
    _s("actor_dropout", 0.0, "a number in [0, 1)",
       "dropout in the actor's hidden layers.", NETS, number(0.0, 1.0, high_open=True)),
    _s("critic_dropout", 0.0, "a number in [0, 1)",
       "dropout in the critics' hidden layers (DroQ).", NETS, number(0.0, 1.0, high_open=True)),
    _s("init_final", None, "None (orthogonal) or a number > 0",
       "uniform(+-x) init of scalar critics' output layer.", NETS, optional(number(0.0, low_open=True))),
    _s("std_min", 1e-5, "0 < std_min < std_max",
       "lower clamp of the actor's standard deviation.", NETS),
    _s("std_max", 10.0, "0 < std_min < std_max",
       "upper clamp of the actor's standard deviation.", NETS),
    # Camera images.
    _s("image_backbone", None,
       "None (a small CNN), a callable of in_channels returning an nn.Module, or 'package.module:function'",
       "each camera's CNN backbone.", CAMS, lambda v: v is None or callable(v) or import_path(v)),
    _s("freeze_image_backbone", False, BOOL,
       "the backbone never trains; its features are computed once per batch.", CAMS, boolean),
    _s("image_backbone_weights", None,
       "None or the path of a file written by python -m rllib_sac_hybrid.robot.pretrain",
       "each camera's backbone starts from these pretrained weights.", CAMS),
    _s("image_spatial_features", 8, "an integer >= 1",
       "learned spatial kernels per backbone channel.", CAMS, integer(1)),
    _s("image_augmentation", "random_shift", f"one of {IMAGE_AUGMENTATIONS}",
       "DrQ's pad-and-crop of camera images when a batch is sampled; None: off.", CAMS, one_of(*IMAGE_AUGMENTATIONS)),
    _s("image_shift_pad", "auto", 'an integer >= 0 or "auto"',
       'pixels of the random shift; "auto": DrQ\'s share of the side (4 at 84x84).', CAMS, or_auto(integer(0))),
    # Hybrid actions.
    _s("discrete_action_in_last_dim", False, BOOL,
       "read a Box action's last component as the discrete index (LeRobot / gym-hil layout).", HYBRID, boolean),
    _s("fixed_discrete_action", None,
       "None, an integer >= 0 (one discrete part) or a list of them (one per part), each below its part's choices",
       "always these discrete choices; no discrete critic.", HYBRID, optional(integer_or_integers(0))),
    _s("discrete_critic_hidden_dims", (64, 64), "a non-empty list of positive integers",
       "the discrete critic's MLP widths.", HYBRID, hidden_dims),
    _s("discrete_critic_lr", 3e-4, "a finite number > 0",
       "Adam learning rate of the discrete critic.", HYBRID, number(0.0, low_open=True, high_open=True)),
    _s("discrete_critic_reads_arm", "several_parts",
       'True, False, "auto" (True with vector observations, False with camera images) or "several_parts" '
       '("auto" with two or more discrete parts, False with one)',
       "True: Q_d(s, a_c), the gripper chosen after the arm; False: Q_d(s) (HIL-SERL's).", HYBRID,
       lambda v: isinstance(v, bool) or v in ("auto", "several_parts"), "discrete-sac.md"),
    _s("discrete_advantage_learning", 0.0, "a number in [0, 1) (0: plain double DQN)",
       "advantage learning's beta in the discrete critic's target (Bellemare et al. 2016).", HYBRID,
       number(0.0, 1.0, high_open=True), "grasp-carry.md"),
    _s("discrete_penalty_key", "discrete_penalty", "a non-empty str",
       "info key of the penalty added to the discrete critic's reward: a number, or one per discrete part.", HYBRID,
       non_empty_str),
    _s("grasp_penalty", None, "None (the env's own penalty) or a finite number, e.g. -0.05",
       "this penalty on every step whose info reports a non-zero one (a gripper flip).", HYBRID,
       optional(finite_number)),
    _s("discrete_exploration", "epsilon", f"one of {DISCRETE_EXPLORATIONS}",
       'how the discrete part explores: "epsilon"-greedy, or "boltzmann" over Q_d / alpha.', HYBRID,
       one_of(*DISCRETE_EXPLORATIONS)),
    _s("epsilon_start", 0.2, "a number in [0, 1]",
       "epsilon at the first env step.", HYBRID, number(0.0, 1.0)),
    _s("epsilon_end", 0.02, "a number in [0, 1]",
       "epsilon after the decay.", HYBRID, number(0.0, 1.0)),
    _s("epsilon_decay_steps", 20_000, "an integer >= 0",
       "env steps of the linear epsilon decay.", HYBRID, integer(0)),
    # Replay and data.
    _s("replay_capacity", "auto", 'an integer >= 1 or "auto"',
       'transitions the online replay keeps; "auto": 1,000,000, or 100,000 with camera images (LeRobot\'s HIL-SERL).',
       REPLAY, or_auto(integer(1))),
    _s("num_random_steps", 1000, "an integer >= 0",
       "env steps of uniform random actions before learning.", REPLAY, integer(0)),
    _s("checkpoint_replay", True, BOOL,
       "save the replay buffers with the learner's state.", REPLAY, boolean),
    _s("non_finite_transitions", "raise", f"one of {NON_FINITE_MODES}",
       "what a NaN or inf in an env's observation, reward or action does.", REPLAY, one_of(*NON_FINITE_MODES)),
    _s("reward_scaling", None, f"one of {REWARD_SCALINGS}",
       '"return_std": rewards divided by the running std of the discounted returns.', REPLAY,
       one_of(*REWARD_SCALINGS)),
    _s("observation_normalization", None, f"one of {OBSERVATION_NORMALIZATIONS}",
       '"running": vector observation keys standardised by running statistics in the module.', REPLAY,
       one_of(*OBSERVATION_NORMALIZATIONS), "defaults.md#observation-normalisation"),
    # Demonstrations, interventions and warm starts.
    _s("demonstrations", None, "None, a path (or Minari dataset id), or a non-empty list of them",
       "recorded episodes loaded into the demonstration replay at start.", DEMOS,
       optional(paths)),
    _s("demonstration_format", "rllib", f"one of {DEMONSTRATION_FORMATS}",
       "RLlib's offline episodes, or Minari dataset ids.", DEMOS, one_of(*DEMONSTRATION_FORMATS)),
    _s("online_ratio", 0.5, "a number in (0, 1] (1: online rows only)",
       "share of each batch from the online replay while the demonstration replay has rows (RLPD: 0.5).", DEMOS,
       number(0.0, 1.0, low_open=True)),
    _s("demo_capacity", 100_000, "an integer >= 1",
       "transitions the demonstration replay keeps (loaded and interventions).", DEMOS, integer(1)),
    _s("initial_policy", None, "None, or the path of a HybridSAC checkpoint or of a state dict file",
       "actor, encoder and discrete critic start from it.", DEMOS,
       lambda v: v is None or isinstance(v, (str, os.PathLike))),
    _s("bc_pretrain_steps", "auto", 'an integer >= 0 or "auto"',
       'cloning steps on the demonstrations before the first online step; "auto": 1000 with them, else 0.',
       DEMOS, or_auto(integer(0)), "demonstrations.md#warm-starts"),
    _s("bc_weight", "auto", 'a number >= 0 (0: off) or "auto"',
       'weight of ||greedy action - demonstrated action||^2 in the actor loss; "auto": 1.0.', DEMOS,
       or_auto(number(0.0)), "demonstrations.md#warm-starts"),
    _s("bc_q_filter", False, BOOL,
       "clone a demonstrated action only where Q says it beats the policy's.", DEMOS, boolean),
    # Learned reward.
    _s("reward_classifier", None, "None, or a file of python -m rllib_sac_hybrid.robot.reward_classifier train",
       "a success classifier that gives the reward, run in each EnvRunner.", REWARD),
    _s("reward_classifier_threshold", None, "None (the file's) or a number in (0, 1)",
       "probability from which a frame counts as success.", REWARD,
       optional(number(0.0, 1.0, low_open=True, high_open=True))),
    _s("reward_classifier_mode", "replace", f"one of {REWARD_CLASSIFIER_MODES}",
       "replace the env's reward by the classifier's 1 / 0, or add it.", REWARD, one_of(*REWARD_CLASSIFIER_MODES)),
    _s("reward_classifier_terminates", True, BOOL,
       "a classified success ends the episode.", REWARD, boolean),
    # Speed.
    _s("torch_compile", False, BOOL,
       "compile the loss forwards with torch.compile.", SPEED, boolean, "wall-clock.md"),
    _s("torch_compile_mode", "max-autotune-no-cudagraphs", f"one of {TORCH_COMPILE_MODES}",
       'torch.compile\'s mode; on a GPU "reduce-overhead" replays the losses as CUDA graphs (guides/gpu.md).', SPEED,
       one_of(*TORCH_COMPILE_MODES)),
    _s("learner_torch_threads", None, "None or an integer >= 1",
       "torch threads of the learner; None: the CPUs Ray gave its process.", SPEED, optional(integer(1))),
    _s("env_runner_torch_threads", 1, "an integer >= 1",
       "torch threads of each remote EnvRunner.", SPEED, integer(1)),
    # Sampling and several learners.
    _s("learner_collective_timeout_s", 300.0, "a finite number of seconds > 0",
       "with several learners, seconds a collective may take before it fails.", SAMPLING,
       number(0.0, low_open=True, high_open=True)),
    _s("async_sampling", False, BOOL,
       "remote runners step on while the learner trains.", SAMPLING, boolean),
    _s("weights_push_every_rounds", 1, "an integer >= 1",
       "async: new weights to the runners every this many rounds ...", SAMPLING, integer(1)),
    _s("weights_push_every_s", None, "None or a number > 0",
       "... or every this many seconds, whichever is first.", SAMPLING, optional(number(0.0, low_open=True))),
    _s("utd_ratio_max", None, "None or an integer >= utd_ratio",
       "async: while waiting for samples, update on up to this many critic steps per env step.", SAMPLING),
)
# fmt: on
SETTINGS_BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
# name -> default, for every HybridSAC-specific setting settable through `.training(...)`.
HYBRID_SAC_DEFAULTS: dict[str, Any] = {s.name: s.default for s in SETTINGS}

# Settings whose default changed after checkpoints were being written, with the value the versions
# before them ran with: a checkpoint saved then lacks the key and restores with that value.
DEFAULTS_BEFORE_THE_SETTING: dict[str, Any] = {"critic_value_bins": None, "discrete_critic_reads_arm": False}


def check_setting(name: str, value: Any) -> None:
    """Raises ValueError naming the setting and its allowed values, if ``value`` is not allowed."""
    setting = SETTINGS_BY_NAME[name]
    if setting.check is not None and not setting.check(value):
        raise ValueError(f"{name}={value!r} is invalid; allowed: {setting.allowed}.")


# ---- the "auto" rules ---------------------------------------------------------------------------
# Each rule's measurements: the research page named in its setting's `research`.
AUTO_UTD_RATIO_ONLINE = 1
AUTO_UTD_RATIO_WITH_DEMONSTRATIONS = 4  # RLPD's regime; no gain measured with camera images
AUTO_BC_PRETRAIN_STEPS = 1000
AUTO_BC_WEIGHT = 1.0
AUTO_CRITIC_VALUE_BINS = 101  # targets that jump with a gripper choice the arm critics do not see
AUTO_HIDDEN_DIMS = {"hybrid": (64, 64), "box": (256, 256)}
AUTO_REPLAY_CAPACITY = {"vectors": 1_000_000, "images": 100_000}  # a million 128x128 frame pairs: ~100 GB


def resolved_replay_capacity(setting: int | str, has_images: bool) -> int:
    """``replay_capacity``, or for "auto" 1,000,000 transitions, 100,000 with camera images."""
    if setting == "auto":
        return AUTO_REPLAY_CAPACITY["images" if has_images else "vectors"]
    return int(setting)


def resolved_utd_ratio(setting: int | str, mixes_demonstrations: bool, has_images: bool = False) -> int:
    """``utd_ratio``, or for "auto" 4 while batches mix in demonstration rows of vector
    observations, else 1 (online only, or camera images)."""
    if setting == "auto":
        if mixes_demonstrations and not has_images:
            return AUTO_UTD_RATIO_WITH_DEMONSTRATIONS
        return AUTO_UTD_RATIO_ONLINE
    return int(setting)


def resolved_target_entropy(
    setting: float | None, continuous_dim: int, learned_discrete_parts: int, discrete_only_choices: int = 0
) -> float:
    """``target_entropy``, or for None: -(dim(a_c) + P) / 2 with a discrete critic over P parts
    (HIL-SERL's, whose flat action counts each gripper as one dimension), -dim(a_c) without one
    (SAC's); for a discrete-only action of K joint choices, a share of the uniform policy's
    entropy log K (the policy's entropy is exact there, and positive)."""
    if setting is not None:
        return float(setting)
    if discrete_only_choices:
        return AUTO_DISCRETE_ONLY_ENTROPY_SCALE * math.log(discrete_only_choices)
    if learned_discrete_parts:
        return -(continuous_dim + learned_discrete_parts) / 2.0
    return -float(continuous_dim)


def resolved_bc_pretrain_steps(setting: int | str, has_demonstrations: bool) -> int:
    """``bc_pretrain_steps``, or for "auto" 1000 with demonstrations and 0 without."""
    if setting == "auto":
        return AUTO_BC_PRETRAIN_STEPS if has_demonstrations else 0
    return int(setting)


def resolved_bc_weight(setting: float | str) -> float:
    """``bc_weight``, or for "auto" 1.0: the term clones only demonstration-replay rows, so
    without demonstrations or interventions it changes nothing."""
    return AUTO_BC_WEIGHT if setting == "auto" else float(setting)


def resolved_critic_value_bins(
    setting: int | str | None,
    has_discrete_critic: bool,
    has_images: bool,
    init_final: float | None = None,
    discrete_only: bool = False,
) -> int | None:
    """``critic_value_bins``, or for "auto" 101 (categorical heads) with a discrete critic and
    vector observations, else None (scalar heads; also when ``init_final``, a scalar head's
    setting, is given, and for discrete-only actions, whose heads output one Q per choice)."""
    if discrete_only:
        return None
    if setting == "auto":
        return AUTO_CRITIC_VALUE_BINS if has_discrete_critic and not has_images and init_final is None else None
    return setting


def resolved_hidden_dims(setting: Sequence[int] | str, has_discrete_critic: bool) -> tuple[int, ...]:
    """``actor_hidden_dims`` / ``critic_hidden_dims``, or for "auto" (64, 64) with a discrete critic
    and (256, 256) without one."""
    if setting == "auto":
        return AUTO_HIDDEN_DIMS["hybrid" if has_discrete_critic else "box"]
    return tuple(setting)


def resolved_discrete_critic_reads_arm(
    setting: bool | str, has_discrete_critic: bool, has_images: bool, discrete_parts: int = 1
) -> bool:
    """``discrete_critic_reads_arm``: "auto" is True with vector observations and False with camera
    images; "several_parts" is "auto" with two or more discrete parts and False with one (one
    gripper learned slower reading the arm on GraspCarry, two stalled without it on the bimanual
    task: docs/research/discrete-sac.md). False without a discrete critic."""
    if not has_discrete_critic:
        return False
    if setting == "several_parts":
        setting = "auto" if discrete_parts >= 2 else False
    return not has_images if setting == "auto" else bool(setting)


# ---- the reference page -------------------------------------------------------------------------
def _show(value: Any) -> str:
    return f"`{value!r}`"


def reference_markdown() -> str:
    """The docs' settings reference: one table per group, rendered from ``SETTINGS``."""
    lines = [
        "# Settings reference",
        "",
        "<!-- Rendered from rllib_sac_hybrid/settings.py by `make docs` (settings.write_reference);"
        " do not edit by hand. -->",
        "",
        "Every HybridSAC setting goes through `HybridSACConfig().training(...)`. RLlib's own settings"
        " (`.environment()`, `.env_runners()`, `.learners()`, `.training(train_batch_size_per_learner=...)`)"
        " work as in any RLlib algorithm; the ones HybridSAC does not read raise a `ValueError` that"
        " names the setting to use instead.",
        "",
    ]
    groups: dict[str, list[Setting]] = {}
    for setting in SETTINGS:
        groups.setdefault(setting.group, []).append(setting)
    for group, settings in groups.items():
        lines += [f"## {group}", "", "| setting | default | allowed | meaning |", "|---|---|---|---|"]
        for s in settings:
            meaning = s.meaning.replace("|", "\\|")
            if s.research:
                meaning += f" [Why]({'../' + R}/{s.research})"
            allowed = s.allowed.replace("|", "\\|")
            lines.append(f"| `{s.name}` | {_show(s.default)} | {allowed} | {meaning} |")
        lines.append("")
    return "\n".join(lines)


def docstring_table() -> str:
    """The settings as the config class's docstring lists them (``help(HybridSACConfig)``)."""
    out = []
    for s in SETTINGS:
        out.append(f"    {s.name} (default {s.default!r}; allowed: {s.allowed}): {s.meaning}")
    return "\n".join(out)


def write_reference(path: str = "docs/reference/settings.md") -> None:
    """Writes the docs' settings reference (``make docs`` does; a test checks it is current)."""
    with open(path, "w") as f:
        f.write(reference_markdown() + "\n")
