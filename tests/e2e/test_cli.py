"""The CLI's refusals and set-up commands, end to end: no data plane needed (exit codes
from docs/cli.md: 2 bad config or arguments, 4 not found, 6 data plane unreachable)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import Workspace, run_cli
from watchstander.config.loader import load_config
from watchstander.demo.setup import FAULTS

pytestmark = pytest.mark.e2e


def _line_of(path: Path, text: str) -> int:
    """The 1-based number of the only line of `path` that equals `text`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = [n for n, line in enumerate(lines, start=1) if line == text]
    assert len(found) == 1, f"{text!r} occurs {len(found)} times in {path}"
    return found[0]


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite(tmp_path: Path) -> None:
    project = tmp_path / "project"
    config = project / "watchstander.yaml"

    first = run_cli("-C", str(project), "init", cwd=tmp_path)

    assert first.returncode == 0, first
    assert first.stderr == ""
    loaded = load_config(config)
    assert loaded.service.name == "my-service"
    assert any("{port}" in part for part in loaded.target.command)

    config.write_text(config.read_text(encoding="utf-8") + "# my edit\n", encoding="utf-8")
    second = run_cli("-C", str(project), "init", cwd=tmp_path)

    assert second.returncode == 2, second
    assert len(second.err_lines) == 1, second
    assert second.err_lines[0].startswith("error: ")
    assert "exists" in second.stderr and "--force" in second.stderr
    assert config.read_text(encoding="utf-8").endswith("# my edit\n"), "init overwrote the file"

    forced = run_cli("-C", str(project), "init", "--force", cwd=tmp_path)

    assert forced.returncode == 0, forced
    assert "# my edit" not in config.read_text(encoding="utf-8")
    assert load_config(config).service.name == "my-service"


def test_invalid_values_are_reported_with_file_line_and_field(workspace: Workspace) -> None:
    text = workspace.config_path.read_text(encoding="utf-8")
    assert text.count("  replicas: 3\n") == 1 and text.count("  interval: 3s\n") == 1
    text = text.replace("  replicas: 3\n", "  replicas: 0\n")
    text = text.replace("  interval: 3s\n", "  interval: soon\n")
    workspace.config_path.write_text(text, encoding="utf-8")
    replicas_line = _line_of(workspace.config_path, "  replicas: 0")
    interval_line = _line_of(workspace.config_path, "  interval: soon")

    result = workspace.cli("deploy", "1.0.0", "--yes")

    assert result.returncode == 2, result
    assert result.stdout == "", result
    assert len(result.err_lines) == 2, result  # one line per problem
    assert f"watchstander.yaml:{replicas_line}: target.replicas" in result.err_lines[0], result
    assert f"watchstander.yaml:{interval_line}: analysis.interval" in result.err_lines[1], result
    assert "'soon' is not a duration" in result.stderr
    assert not workspace.state_dir.exists(), "a bad config must not create the store"
    assert not (workspace.root / ".aiwg").exists()


def test_invalid_yaml_names_the_line(workspace: Workspace) -> None:
    text = workspace.config_path.read_text(encoding="utf-8")
    workspace.config_path.write_text(
        text.replace("  replicas: 3\n", "\treplicas: 3\n"), encoding="utf-8"
    )
    tab_line = _line_of(workspace.config_path, "\treplicas: 3")

    result = workspace.cli("deploy", "1.0.0", "--yes")

    assert result.returncode == 2, result
    assert len(result.err_lines) == 1, result
    assert re.search(rf"watchstander\.yaml:{tab_line}: invalid YAML", result.stderr), result
    assert not workspace.state_dir.exists()


def test_missing_config_names_the_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()

    result = run_cli("-C", str(empty), "deploy", "1.0.0", "--yes", cwd=tmp_path)

    assert result.returncode == 2, result
    assert len(result.err_lines) == 1, result
    assert str(empty / "watchstander.yaml") in result.stderr, result
    assert list(empty.iterdir()) == [], "nothing may be created next to a missing config"


def test_deploy_refused_when_the_data_plane_is_down(workspace: Workspace) -> None:
    result = workspace.cli("deploy", "1.0.0", "--yes")

    assert result.returncode == 6, result
    assert len(result.err_lines) == 1, result
    assert "not running" in result.stderr and "dataplane up" in result.stderr, result
    assert not (workspace.state_dir / "state.db").exists(), "refused before anything changed"

    status = workspace.cli("rollout", "status")

    assert status.returncode == 4, status
    assert len(status.err_lines) == 1, status
    assert "no rollout of demo" in status.stderr, status


def test_unknown_and_malformed_versions_are_refused(workspace: Workspace) -> None:
    unknown = workspace.cli("deploy", "9.9.9", "--yes")

    assert unknown.returncode == 4, unknown
    assert len(unknown.err_lines) == 1, unknown
    assert "9.9.9" in unknown.stderr
    assert "1.0.0, 1.1.0, 1.2.0, 1.3.0" in unknown.stderr, unknown  # target.versions

    malformed = workspace.cli("deploy", "1.0 ; rm -rf /", "--yes")

    assert malformed.returncode == 2, malformed
    assert len(malformed.err_lines) == 1, malformed
    assert "is not a version" in malformed.stderr, malformed
    assert not workspace.state_dir.exists()


def test_demo_init_writes_the_workspace_and_prints_the_next_commands(tmp_path: Path) -> None:
    result = run_cli("demo", "init", "--workdir", "mydemo", cwd=tmp_path)

    assert result.returncode == 0, result
    config = load_config(tmp_path / "mydemo" / "watchstander.yaml")
    assert config.service.name == "demo"
    assert config.target.listen != config.target.admin
    faults = json.loads((tmp_path / "mydemo" / "faults.json").read_text(encoding="utf-8"))
    assert faults == json.loads(json.dumps(FAULTS))
    assert "watchstander -C mydemo dataplane up" in result.stdout, result
    assert "watchstander -C mydemo deploy 1.0.0 --yes" in result.stdout, result
    assert not (tmp_path / "mydemo" / ".watchstander").exists(), "demo init starts nothing"
