"""Ray Tune sweeps of HybridSAC's temperature and learning rates: ``python -m tuning.sweep``."""

from tuning.report import SweepReport, write_report
from tuning.space import SearchSpace
from tuning.sweep import SweepSettings, parse_args, run_sweep

__all__ = ["SearchSpace", "SweepReport", "SweepSettings", "parse_args", "run_sweep", "write_report"]
