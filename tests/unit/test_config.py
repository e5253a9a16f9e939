"""watchstander.yaml: defaults, durations and errors that name file, line and field."""

from __future__ import annotations

import pytest

from watchstander.config.duration import format_duration, parse_duration
from watchstander.config.loader import load_config, parse_config
from watchstander.config.template import EXAMPLE_CONFIG
from watchstander.errors import ConfigError

MINIMAL = """\
service:
  name: shop
target:
  type: local
  command: ["./serve", "--port", "{port}"]
"""


def test_minimal_config_gets_the_flows_defaults() -> None:
    c = parse_config(MINIMAL)
    assert c.strategy.canary.steps == [5, 25, 50, 100]
    assert c.strategy.observation == 900
    assert c.rollback.triggers.error_rate_increase_pp == 2
    assert c.rollback.triggers.latency_p99_increase_pct == 20
    assert c.rollback.triggers.throughput_drop_pct == 30
    assert c.rollback.triggers.max_restarts == 3 and c.rollback.triggers.restart_window == 300
    assert c.rollback.on_regression is True
    assert c.target.replicas == 3


def test_the_init_template_is_valid() -> None:
    c = parse_config(EXAMPLE_CONFIG)
    assert c.service.name == "my-service" and c.smoke


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("1h30m", 5400), ("200ms", 0.2), (12, 12), ("2d", 172800)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["5q", "", "m5", -1, True, "1h 5x"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_format_duration() -> None:
    assert [format_duration(x) for x in (45, 300, 330, 5400)] == ["45s", "5m", "5m30s", "1h30m"]


def test_errors_name_file_line_and_field() -> None:
    text = (
        MINIMAL
        + "  replicas: 0\nstrategy:\n  canary:\n    steps: [50, 20]\nanalysis:\n  interval: soon\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="ws.yaml")
    lines = str(info.value).splitlines()
    assert "ws.yaml:6: target.replicas: Input should be greater than or equal to 1" in lines
    assert any(
        line.startswith("ws.yaml:9: strategy.canary.steps:") and "increase" in line
        for line in lines
    )
    assert any(line.startswith("ws.yaml:11: analysis.interval:") for line in lines)


def test_unknown_fields_and_missing_sections() -> None:
    with pytest.raises(ConfigError, match=r"x.yaml:6: target.replicaz: Extra inputs"):
        parse_config(MINIMAL + "  replicaz: 2\n", source="x.yaml")
    with pytest.raises(ConfigError, match=r"x.yaml:1: target: Field required"):
        parse_config("service:\n  name: a\n", source="x.yaml")


def test_command_needs_a_port_placeholder() -> None:
    with pytest.raises(ConfigError, match=r":5: target.command: .*\{port\}"):
        parse_config(MINIMAL.replace('"{port}"', '"8000"'))


def test_yaml_syntax_errors_have_a_line() -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:3: invalid YAML"):
        parse_config("service:\n  name: a\n  - b\n", source="c.yaml")


def test_empty_and_non_mapping_files() -> None:
    with pytest.raises(ConfigError, match="empty"):
        parse_config("")
    with pytest.raises(ConfigError, match="mapping"):
        parse_config("- a\n- b\n")


def test_unreadable_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_smoke_checks_and_slos_validate() -> None:
    text = MINIMAL + "smoke:\n  - name: v\n    type: http\n    json_field: version\n"
    with pytest.raises(ConfigError, match="json_field and json_equals go together"):
        parse_config(text)
    with pytest.raises(ConfigError, match="needs max or min"):
        parse_config(MINIMAL + "slos:\n  - name: a\n    metric: error_rate\n")


def test_per_metric_overrides_must_name_a_judged_metric() -> None:
    ok = (
        MINIMAL
        + "slos:\n  - {name: fast, metric: latency_p99, max: 300}\nanalysis:\n  metrics:\n    error-rate: {no_data: fail}\n    slo:fast: {failure_limit: 2}\n"
    )
    c = parse_config(ok)
    assert c.analysis.metrics["error-rate"].no_data == "fail"
    bad = MINIMAL + "analysis:\n  metrics:\n    error_rate: {no_data: fail}\n"
    with pytest.raises(ConfigError, match="unknown metric.*error_rate.*known: error-rate"):
        parse_config(bad)
    with pytest.raises(ConfigError, match=r":8: analysis.metrics.error-rate.no_data"):
        parse_config(MINIMAL + "analysis:\n  metrics:\n    error-rate: {no_data: never}\n")


def test_regulatory_duties_are_validated_by_field() -> None:
    good = parse_config(
        MINIMAL
        + "incidents:\n  regulatory:\n    - {name: HIPAA, within: 60d, applies_to: [data_loss]}\n"
    )
    (rule,) = good.incidents.regulatory or []
    assert (rule.within, rule.applies_to) == (60 * 86400.0, ("data_loss",))
    assert parse_config(MINIMAL).incidents.regulatory is None  # the default: GDPR 72 h
    bad = MINIMAL + "incidents:\n  regulatory:\n    - {name: X, within: 0s, applies_to: [fire]}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(bad, source="r.yaml")
    text = str(info.value)
    assert "r.yaml:8: incidents.regulatory.0.within: must be positive" in text
    assert "incidents.regulatory.0.applies_to.0:" in text


BACKEND_PATHS = """\
service: {name: shop}
target:
  type: haproxy
  runtime_api: unix:run/haproxy.sock
  backend: shop
  command: ["./serve", "{port}"]
  cwd: app
metrics: {type: prometheus, url: "http://127.0.0.1:9090"}
staging:
  target:
    type: kubernetes
    kubeconfig: kube/staging.yaml
    app: shop
    image: "registry.example.com/shop:{version}"
"""


def test_a_workspace_resolves_target_paths_against_its_root(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from watchstander.engine.operations import Workspace

    root = Path(str(tmp_path)) / "ws"
    root.mkdir()
    (root / "watchstander.yaml").write_text(BACKEND_PATHS, encoding="utf-8")
    monkeypatch.chdir(Path(str(tmp_path)))  # run from elsewhere: the paths must not move
    ws = Workspace.load(root)
    target = ws.config.target
    assert target.type == "haproxy"
    assert target.runtime_api == f"unix:{root.resolve() / 'run/haproxy.sock'}"
    assert target.state_dir == str(root.resolve() / ".watchstander/haproxy")
    assert target.cwd == str(root.resolve() / "app")
    assert ws.config.staging is not None
    staging = ws.config.staging.target
    assert staging.type == "kubernetes"
    assert staging.kubeconfig == str(root.resolve() / "kube/staging.yaml")
    assert staging.native_rolling and not target.native_rolling
    # Absolute paths and tcp addresses stay as written.
    absolute = parse_config(
        BACKEND_PATHS.replace("unix:run/haproxy.sock", "tcp:127.0.0.1:9999").replace(
            "kube/staging.yaml", "/etc/kube.yaml"
        )
    ).with_root(root)
    assert absolute.target.type == "haproxy" and absolute.target.runtime_api == "tcp:127.0.0.1:9999"
    assert absolute.staging is not None and absolute.staging.target.type == "kubernetes"
    assert absolute.staging.target.kubeconfig == "/etc/kube.yaml"


def test_kubernetes_rolling_mode_is_checked() -> None:
    bad = BACKEND_PATHS.replace("    app: shop\n", "    app: shop\n    rolling: batches\n")
    with pytest.raises(ConfigError) as err:
        parse_config(bad, source="ws.yaml")
    assert str(err.value) == (
        "ws.yaml:14: staging.target.rolling: Input should be 'native' or 'versions'"
    )
