"""Ray Tune sweeps of HybridSAC's temperature and learning rates: ``python -m rllib_sac_hybrid.tuning.sweep``."""

from rllib_sac_hybrid.tuning.report import SweepReport, write_report
from rllib_sac_hybrid.tuning.space import SearchSpace
from rllib_sac_hybrid.tuning.sweep import SweepSettings, parse_args, run_sweep

__all__ = ["SearchSpace", "SweepReport", "SweepSettings", "parse_args", "run_sweep", "write_report"]
