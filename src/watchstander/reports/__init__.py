"""Reports: the `.aiwg/` Markdown artifacts of a rollout, rendered from the store.

`write_rollout_reports` is the one entry point. `views` derives display rows from stored
records (pure), `timeline` reads step times from the event log, `templates/` lays them out
with Jinja2, and `writer` renders and writes atomically.
"""

from __future__ import annotations

from watchstander.reports.writer import write_rollout_reports

__all__ = ["write_rollout_reports"]
