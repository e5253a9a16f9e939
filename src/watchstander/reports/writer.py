"""Write a rollout's `.aiwg/` artifacts from the store.

The only way reports get written (ARCHITECTURE rule: never from ad-hoc strings in a
command). Everything comes from stored records through `views.build`; the Jinja2
templates use StrictUndefined, so a missing field is an error and never an unfilled
placeholder. Nothing depends on the wall clock, so rendering twice writes the same bytes.
Each file is written to a temporary sibling and renamed over the target, so a reader
never sees half a report.

Layout (handbook section 5), relative to the `.aiwg` root:

    deployment/deployment-execution-log.md
    deployment/slo-monitoring-report.md
    deployment/rollback-execution-log.md          rolled back, aborted or failed
    deployment/rollback-report-{version}.md       rolled back, aborted or failed
    reports/deployment-report-{version}.md
    working/deployment/stakeholder-notification-{version}.md
    working/deployment/production-baseline-snapshot.md, deployment/regression-gate-production.md,
    deployment/regression-verification-post-rollback.md   (reports.gates, when recorded)
    archive/{YYYY-MM-DD}/deployment-{version}/    terminal: copies of the above + audit-trail.md
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import jinja2

from watchstander.reports import views
from watchstander.reports.rows import RolloutReport
from watchstander.store.repository import Store

__all__ = ["write_rollout_reports", "render"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _cell(value: object) -> str:
    """A value safe inside a Markdown table cell: one line, pipes escaped."""
    text = " ".join(str(value).split())
    return text.replace("|", "\\|")


def _code(value: object) -> str:
    """Inline code that survives backticks inside the value and table pipes."""
    text = _cell(value)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("watchstander.reports", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    env.filters["code"] = _code
    return env


def render(env: jinja2.Environment, template: str, **context: object) -> str:
    """One template to text, with runs of blank lines folded to one."""
    text = env.get_template(template).render(**context)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _documents(report: RolloutReport, version: str) -> list[tuple[str, str, str]]:
    """(key, path relative to .aiwg, template) of every document of this rollout."""
    docs = [
        ("execution_log", "deployment/deployment-execution-log.md", "deployment-execution-log"),
        ("slo_report", "deployment/slo-monitoring-report.md", "slo-monitoring-report"),
    ]
    if report.rollback is not None:
        docs += [
            ("rollback_log", "deployment/rollback-execution-log.md", "rollback-execution-log"),
            ("rollback_report", f"deployment/rollback-report-{version}.md", "rollback-report"),
        ]
    docs += [
        ("deployment_report", f"reports/deployment-report-{version}.md", "deployment-report"),
        (
            "stakeholder_notification",
            f"working/deployment/stakeholder-notification-{version}.md",
            "stakeholder-notification",
        ),
    ]
    return [(key, path, f"{template}.md.j2") for key, path, template in docs]


def write_rollout_reports(
    *, store: Store, rollout_id: str, root: Path, project: str | None = None
) -> list[Path]:
    """Render every report of one rollout under `root` (the `.aiwg` directory) and
    return the paths written, in writing order. NotFoundError for an unknown rollout."""
    rollout = store.get_rollout(rollout_id)
    report = views.build(
        rollout=rollout,
        events=store.events(rollout_id),
        measurements=store.measurements(rollout_id),
        smoke=store.smoke_results(rollout_id),
        commands=store.commands(rollout_id),
        stable_now=store.stable_version(rollout.service),
        project=project or rollout.service,
    )
    version = _UNSAFE.sub("-", rollout.version).strip("-") or "unnamed"
    documents = _documents(report, version)
    files = {key: path for key, path, _ in documents}
    env = _environment()
    rendered = [
        (path, render(env, template, r=report, files=files)) for _, path, template in documents
    ]

    written: list[Path] = []
    for path, text in rendered:
        _write(root / path, text)
        written.append(root / path)
    from watchstander.reports.gates import write_production_gate_reports

    written.extend(
        write_production_gate_reports(rollout=rollout, events=store.events(rollout_id), root=root)
    )
    if rollout.finished_at is not None and rollout.terminal:
        archive = root / "archive" / f"{rollout.finished_at:%Y-%m-%d}" / f"deployment-{version}"
        audit = render(env, "audit-trail.md.j2", r=report, files=files)
        for path, text in [*rendered, ("audit-trail.md", audit)]:
            _write(archive / Path(path).name, text)
            written.append(archive / Path(path).name)
    return written
