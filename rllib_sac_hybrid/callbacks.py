"""EnvRunner callbacks that HybridSAC installs by default."""

from __future__ import annotations

from ray.rllib.callbacks.callbacks import RLlibCallback

SUCCESS_INFO_KEYS = ("is_success", "success", "succeed")
SUCCESS_RATE = "episode_success_rate"


class SuccessRateCallback(RLlibCallback):
    """Logs ``env_runners/episode_success_rate``: the mean over recent episodes of the final
    step's ``info["is_success"]`` (or ``"success"`` / ``"succeed"``, as gym-hil names it).

    Episodes whose last info has none of these keys are not counted.
    """

    def on_episode_end(self, *, episode, metrics_logger=None, env_runner=None, **kwargs) -> None:
        if metrics_logger is None or len(episode) == 0:
            return
        info = episode.get_infos(-1) or {}
        for key in SUCCESS_INFO_KEYS:
            if key in info:
                window = getattr(getattr(env_runner, "config", None), "metrics_num_episodes_for_smoothing", 100)
                metrics_logger.log_value(SUCCESS_RATE, float(bool(info[key])), reduce="mean", window=window)
                return
