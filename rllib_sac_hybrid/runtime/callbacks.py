"""EnvRunner callbacks that HybridSAC installs by default."""

from __future__ import annotations

from ray.rllib.callbacks.callbacks import RLlibCallback

SUCCESS_INFO_KEYS = ("is_success", "success", "succeed")
SUCCESS_RATE = "episode_success_rate"
INTERVENTION_RATE = "episode_intervention_rate"


def success_flag(info) -> bool | None:
    """An env step's success flag: the first of ``SUCCESS_INFO_KEYS`` in ``info`` (gym-hil says
    ``"succeed"``), as a bool; None when the info reports none."""
    if not isinstance(info, dict):
        return None
    for key in SUCCESS_INFO_KEYS:
        if key in info:
            return bool(info[key])
    return None


class EpisodeMetricsCallback(RLlibCallback):
    """Logs two per-episode metrics under ``env_runners/``, each a mean over the last
    ``metrics_num_episodes_for_smoothing`` episodes:

    - ``episode_success_rate``: the final step's ``info["is_success"]`` (or ``"success"`` /
      ``"succeed"``, as gym-hil names it); episodes whose last info has none are not counted;
    - ``episode_intervention_rate``: the fraction of the episode's steps a human drove
      (``info["is_intervention"]``); only for envs that report the key.
    """

    def on_episode_end(self, *, episode, metrics_logger=None, env_runner=None, **kwargs) -> None:
        if metrics_logger is None or len(episode) == 0 or hasattr(episode, "agent_episodes"):
            return  # multi-agent episodes: infos are per agent, with no one success flag
        window = getattr(getattr(env_runner, "config", None), "metrics_num_episodes_for_smoothing", 100)
        infos = episode.get_infos(slice(1, len(episode) + 1))  # infos[0] belongs to the reset
        success = success_flag(infos[-1])
        if success is not None:
            metrics_logger.log_value(SUCCESS_RATE, float(success), reduce="mean", window=window)
        flags = [info.get("is_intervention") for info in infos if info and "is_intervention" in info]
        if flags:
            rate = sum(bool(flag) for flag in flags) / len(infos)
            metrics_logger.log_value(INTERVENTION_RATE, rate, reduce="mean", window=window)


SuccessRateCallback = EpisodeMetricsCallback  # its former name
