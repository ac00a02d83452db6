"""What a run tells the outside world: the reporter protocol (``base``), the progress bar
(``bar``), traces (``trace``) and their plots and contact sheets (``plot``)."""

from fuchun.report.base import MultiReporter, Progress, Reporter, RunInfo

__all__ = ["MultiReporter", "Progress", "Reporter", "RunInfo"]
