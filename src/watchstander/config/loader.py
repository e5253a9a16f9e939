"""Load watchstander.yaml and report every problem with its file, line and field.

PyYAML's composed node tree keeps the line of every key and value, so a pydantic error
location such as ("target", "replicas") is mapped back to the line the user wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from watchstander.config.models import Config
from watchstander.errors import ConfigError

__all__ = ["load_config", "parse_config", "CONFIG_FILE", "find_config"]

CONFIG_FILE = "watchstander.yaml"


def find_config(directory: Path) -> Path:
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path}: no {CONFIG_FILE} here (run 'watchstander init' or pass --config)"
        )
    return path


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = CONFIG_FILE) -> Config:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from exc
    if data is None:
        raise ConfigError(f"{source}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the top level must be a mapping of sections")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line, used = _locate(node, loc)
            field = ".".join(str(part) for part in used) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{source}:{line}: {field}: {message}")
        raise ConfigError("\n".join(lines)) from exc


# The `type` values of discriminated unions (targets, metric sources, smoke checks).
_TAGS = frozenset({"local", "haproxy", "kubernetes", "builtin", "prometheus", "http", "command"})


def _is_tag(part: Any) -> bool:
    # Discriminated unions add the tag ("local", "http") into the location.
    return isinstance(part, str) and part in _TAGS


def _locate(node: yaml.Node | None, loc: Sequence[Any]) -> tuple[int, list[Any]]:
    """The 1-based line of the deepest node on `loc` in the file, and the field path
    without the union tags pydantic inserts."""
    best = 1 if node is None else node.start_mark.line + 1
    current = node
    used: list[Any] = []
    for index, part in enumerate(loc):
        if current is None:
            used.extend(p for p in loc[index:] if not _is_tag(p))
            break
        if current is None:
            break
        if isinstance(current, yaml.MappingNode):
            if _is_tag(part) and _type_of(current) == part and index + 1 < len(loc):
                continue
            found = None
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    best = key.start_mark.line + 1
                    found = value
                    break
            if found is None and _is_tag(part):
                continue
            used.append(part)
            current = found
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            used.append(part)
            if 0 <= part < len(current.value):
                current = current.value[part]
                best = current.start_mark.line + 1
            else:
                break
        else:
            used.append(part)
            current = None
    if isinstance(current, yaml.ScalarNode):
        best = current.start_mark.line + 1
    return best, used


def _type_of(node: yaml.MappingNode) -> str | None:
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "type":
            return str(value.value) if isinstance(value, yaml.ScalarNode) else None
    return None
