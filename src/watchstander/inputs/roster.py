"""Read an on-call roster file (people, rotations, overrides and an optional escalation
policy) into watchstander.incident.escalation values, and find coverage gaps.

The file::

    people:
      - name: alice
        timezone: Europe/Berlin               # optional, default UTC
        contacts: {email: alice@example.com, slack: "@alice", phone: "+49 30 1234"}
        roles: [incident_commander, tier1]    # optional
    rotations:
      - name: tier1
        timezone: Europe/Berlin               # optional, default UTC
        start: "2026-11-02T09:00"             # the first handoff, local time in `timezone`
        shift: 1w                             # optional, default 1w: 12h, 1d, 1w, 1d12h ...
        members: [alice, bob]                 # handoff order
    overrides:                                # optional; later ones win where they overlap
      - rotation: tier1
        person: carol
        start: "2026-11-21T18:00"
        end: "2026-11-22T09:00"
        timezone: Europe/Berlin               # optional, default: the rotation's zone
    policy:                                   # optional, see below

Times are ISO 8601 date-times ("2026-11-02T09:00", or a date alone for midnight) in the
given zone; one with an explicit offset ("...T09:00+01:00", "...Z") is taken as written. A
local time that does not exist (the spring-forward gap) is an error; one that happens twice
(fall back) means its first occurrence, with a warning.

Contact kinds are email, slack, phone, sms, pagerduty, webhook and teams.

`policy:` replaces parts of escalation.DEFAULT_POLICY::

    policy:
      steps:                     # per priority (P0..P3 or SEV1..SEV4); a priority left out
        P0:                      # keeps the default policy's steps, `P3: []` clears them
          - {after: 0m, target: tier1, repeat: 2, repeat_every: 5m}
          - {after: 15m, target: tier2}
          - {after: 30m, target: management, kind: hierarchical}
        P1:
          - {after: 0m, target: tier1, stop_on: acknowledged}
      immediate:                 # on a security breach, data loss or a major incident
        - {after: 0m, target: executive, kind: hierarchical}
      breach:                    # also, on a security breach or data loss only
        - {after: 0m, target: legal, kind: hierarchical}
        - {after: 0m, target: compliance, kind: hierarchical}
      renotify: true             # remind a quiet acknowledged incident's commander
      renotify_to: [incident_commander, on_call, tier1]

A step's keys are EscalationStep's: `after` (from detection, required), `target` (a roster
rotation or an incident role, required), `kind` (functional | hierarchical, default
functional), `stop_on` (acknowledged | mitigated | resolved, default resolved), `repeat`
(default 0) and `repeat_every` (default 5m). Left-out keys of the section keep the default
policy's value. Durations are written like shifts (0m, 90s, 15m, 2h, 1d).

Every problem is reported at once, one `file:line: field: message` per line, in a single
InputError; unknown keys are errors so typos surface. What is legal but risky comes back as
warnings in the same form: a person nobody can reach (the escalation pages the rotation's
next reachable member instead), a rotation nobody on it can be reached, policy targets with
no rotation to page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from watchstander.errors import InputError
from watchstander.incident.escalation import (
    DEFAULT_POLICY,
    EscalationKind,
    EscalationPolicy,
    EscalationStep,
    Override,
    Person,
    Roster,
    Rotation,
    StopOn,
    on_call,
    shift_at,
)
from watchstander.incident.models import Priority, Role

__all__ = ["CONTACT_KINDS", "RosterFile", "load_roster", "parse_roster", "coverage_gaps"]

CONTACT_KINDS = ("email", "slack", "phone", "sms", "pagerduty", "webhook", "teams")

_NULL = "tag:yaml.org,2002:null"
_DURATION_PART = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}
_ROLES = tuple(r.value for r in Role)
_STEP_KINDS = (EscalationKind.FUNCTIONAL.value, EscalationKind.HIERARCHICAL.value)
_STOP_ON = tuple(s.value for s in StopOn)


@dataclass(frozen=True)
class RosterFile:
    """What a roster file holds. `policy` is None when the file has no `policy:` section
    (use escalation.DEFAULT_POLICY); `warnings` are `file:line: field: message` lines."""

    roster: Roster
    policy: EscalationPolicy | None
    warnings: tuple[str, ...] = ()


def load_roster(path: Path) -> RosterFile:
    """Read and validate the roster file at `path`. InputError (naming the file, and the
    line and field of every problem) when it is missing, unreadable, empty or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a roster file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parse_roster(text, source=str(path))


def parse_roster(text: str, *, source: str = "roster.yaml") -> RosterFile:
    """The same as load_roster, from the file's text; `source` names it in messages."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{where}: invalid YAML: {problem}") from None
    if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
        raise InputError(f"{source}: the file is empty")
    return _Reader(source).read(node)


# -- coverage ---------------------------------------------------------------------------------


def coverage_gaps(
    roster: Roster, rotation: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The periods within [start, end) in which the schedule puts nobody reachable on
    `rotation`: before the rotation's first handoff, or while the holder (the override
    covering the moment, else the regular shift's member) has no contact address.
    Adjacent periods are merged; times are UTC.

    An escalation in such a gap still falls back to the rotation's other reachable
    members (escalation._resolve); a gap is where the schedule itself is wrong, the
    "gaps" of Grafana OnCall's schedule quality score. Unknown rotation: NotFoundError.
    """
    rot = roster.rotation(rotation)
    for name, when in (("start", start), ("end", end)):
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"coverage_gaps: {name} must be timezone-aware")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return []
    cuts = {start, end}
    for o in roster.overrides:
        if o.rotation == rotation:
            cuts.update(t.astimezone(UTC) for t in (o.start, o.end) if start < t < end)
    first = rot.start.astimezone(UTC)
    if start < first < end:
        cuts.add(first)
    at = max(start, first)
    while at < end:
        shift = shift_at(rot, at)
        if shift is None:  # cannot happen at or after the first handoff
            break
        if shift.end < end:
            cuts.add(shift.end)
        at = shift.end
    points = sorted(cuts)
    gaps: list[tuple[datetime, datetime]] = []
    for a, b in zip(points, points[1:], strict=False):
        holder = on_call(roster, rotation, a)
        if holder is not None and holder.reachable:
            continue
        if gaps and gaps[-1][1] == a:
            gaps[-1] = (gaps[-1][0], b)
        else:
            gaps.append((a, b))
    return gaps


# -- reading ----------------------------------------------------------------------------------


class _Reader:
    """Walks the composed node tree, so every value keeps its line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[str] = []
        self.warnings: list[str] = []
        # Every rotation name the file declares -> its zone (None: the zone is invalid),
        # also for rotations with errors, so references to them do not fail as well.
        self.declared: dict[str, str | None] = {}

    # reporting

    def _at(self, node: yaml.Node | None) -> str:
        return self.source if node is None else f"{self.source}:{node.start_mark.line + 1}"

    def error(self, node: yaml.Node | None, field: str, message: str) -> None:
        self.errors.append(f"{self._at(node)}: {field or '(top level)'}: {message}")

    def warn(self, node: yaml.Node | None, field: str, message: str) -> None:
        self.warnings.append(f"{self._at(node)}: {field}: {message}")

    # node helpers

    def mapping(
        self,
        node: yaml.Node,
        field: str,
        allowed: Sequence[str],
        required: Sequence[str] = (),
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """key -> (key node, value node); unknown, duplicate and missing keys reported."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, field, f"expected a mapping with {', '.join(allowed)}")
            return None
        found: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                self.error(key, field, "keys must be plain names")
                continue
            name = str(key.value)
            where = f"{field}.{name}" if field else name
            if name not in allowed:
                self.error(key, where, f"unknown key {name!r} (expected {', '.join(allowed)})")
                continue
            if name in found:
                line = found[name][0].start_mark.line + 1
                self.error(key, where, f"given twice (first on line {line})")
                continue
            found[name] = (key, value)
        for name in required:
            if name not in found:
                self.error(node, f"{field}.{name}" if field else name, "missing")
        return found

    def sequence(self, node: yaml.Node, field: str) -> list[yaml.Node] | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, field, "expected a list")
            return None
        return list(node.value)

    def string(self, node: yaml.Node, field: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag == _NULL:
            self.error(node, field, "expected a value")
            return None
        text = str(node.value).strip()
        if not text:
            self.error(node, field, "must not be empty")
            return None
        return text

    def zone(self, node: yaml.Node, field: str) -> str | None:
        name = self.string(node, field)
        if name is None:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(node, field, f"unknown time zone {name!r} (an IANA name: Europe/Berlin)")
            return None
        return name

    def duration(self, node: yaml.Node, field: str, *, zero: bool = False) -> timedelta | None:
        text = self.string(node, field)
        if text is None:
            return None
        compact = text.lower().replace(" ", "")
        total, pos = timedelta(0), 0
        for match in _DURATION_PART.finditer(compact):
            if match.start() != pos:
                break
            total += int(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if not compact or pos != len(compact):
            self.error(node, field, f"{text!r} is not a duration (use e.g. 12h, 1d, 1w, 1d12h)")
            return None
        if total <= timedelta(0) and not (zero and total == timedelta(0)):
            self.error(node, field, "must be longer than zero")
            return None
        return total

    def count(self, node: yaml.Node, field: str) -> int | None:
        text = self.string(node, field)
        if text is None:
            return None
        if not text.isdigit():
            self.error(node, field, f"{text!r} is not a whole number >= 0")
            return None
        return int(text)

    def boolean(self, node: yaml.Node, field: str) -> bool | None:
        text = self.string(node, field)
        if text is None:
            return None
        value = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
        if text.lower() not in value:
            self.error(node, field, f"{text!r} is not true or false")
            return None
        return value[text.lower()]

    def local_time(self, node: yaml.Node, field: str, zone_name: str) -> datetime | None:
        text = self.string(node, field)
        if text is None:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            try:
                day = date.fromisoformat(text)
            except ValueError:
                self.error(node, field, f"{text!r} is not a date-time (use e.g. 2026-11-02T09:00)")
                return None
            parsed = datetime(day.year, day.month, day.day)
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
        zone = ZoneInfo(zone_name)
        first = parsed.replace(tzinfo=zone, fold=0)
        if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != parsed:
            self.error(
                node,
                field,
                f"{text} does not exist in {zone_name} (the clocks skip it when daylight"
                " saving time starts)",
            )
            return None
        if first.utcoffset() != parsed.replace(tzinfo=zone, fold=1).utcoffset():
            self.warn(
                node,
                field,
                f"{text} happens twice in {zone_name} (daylight saving time ends): taken as"
                " the first occurrence",
            )
        return first.astimezone(UTC)

    # the file

    def read(self, root: yaml.Node) -> RosterFile:
        top = self.mapping(
            root, "", ("people", "rotations", "overrides", "policy"), required=("people",)
        )
        if top is None:
            raise InputError("\n".join(self.errors))
        people = self.people(top["people"][1]) if "people" in top else []
        known = {p.name: (p, node) for p, node in people}
        rotations = self.rotations(top["rotations"][1], known) if "rotations" in top else []
        rotation_zones = self.declared
        overrides = (
            self.overrides(top["overrides"][1], known, rotation_zones) if "overrides" in top else []
        )
        policy_node = top["policy"][1] if "policy" in top else None
        policy = self.policy(policy_node, set(rotation_zones)) if policy_node is not None else None
        if self.errors:
            raise InputError("\n".join(self.errors))
        self.reachability(people, rotations, overrides)
        self.policy_targets(
            policy or DEFAULT_POLICY, set(rotation_zones), top["policy"][0] if policy else None
        )
        try:
            roster = Roster(
                tuple(p for p, _ in people),
                tuple(r for r, _ in rotations),
                tuple(o for o, _ in overrides),
            )
        except ValueError as exc:  # checked above; kept as a safety net
            raise InputError(f"{self.source}: {exc}") from None
        return RosterFile(roster, policy, tuple(self.warnings))

    def people(self, node: yaml.Node) -> list[tuple[Person, yaml.Node]]:
        items = self.sequence(node, "people")
        if items is None:
            return []
        if not items:
            self.error(node, "people", "the roster names nobody")
        out: list[tuple[Person, yaml.Node]] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            field = f"people[{i}]"
            keys = self.mapping(
                item, field, ("name", "timezone", "contacts", "roles"), required=("name",)
            )
            if keys is None:
                continue
            name = self.string(keys["name"][1], f"{field}.name") if "name" in keys else None
            if name is not None and name in seen:
                self.error(
                    keys["name"][1], f"{field}.name", f"{name} is already on line {seen[name]}"
                )
                name = None
            if name is not None:
                seen[name] = keys["name"][1].start_mark.line + 1
            zone = "UTC"
            if "timezone" in keys:
                zone = self.zone(keys["timezone"][1], f"{field}.timezone") or "UTC"
            contacts: dict[str, str] = {}
            if "contacts" in keys:
                contacts = self.contacts(keys["contacts"][1], f"{field}.contacts")
            roles: list[str] = []
            if "roles" in keys:
                for j, role in enumerate(self.sequence(keys["roles"][1], f"{field}.roles") or []):
                    text = self.string(role, f"{field}.roles[{j}]")
                    if text is not None:
                        roles.append(text)
            if name is not None:
                out.append((Person(name, contacts, zone, frozenset(roles)), item))
        return out

    def contacts(self, node: yaml.Node, field: str) -> dict[str, str]:
        if isinstance(node, yaml.ScalarNode) and node.tag == _NULL:
            return {}
        keys = self.mapping(node, field, CONTACT_KINDS)
        contacts: dict[str, str] = {}
        for kind, (_, value) in (keys or {}).items():
            address = self.string(value, f"{field}.{kind}")
            if address is None:
                continue
            if kind == "email" and "@" not in address:
                self.error(value, f"{field}.{kind}", f"{address!r} is not an email address")
                continue
            contacts[kind] = address
        return contacts

    def rotations(
        self, node: yaml.Node, known: Mapping[str, tuple[Person, yaml.Node]]
    ) -> list[tuple[Rotation, yaml.Node]]:
        out: list[tuple[Rotation, yaml.Node]] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(self.sequence(node, "rotations") or []):
            field = f"rotations[{i}]"
            keys = self.mapping(
                item,
                field,
                ("name", "timezone", "start", "shift", "members"),
                required=("name", "start", "members"),
            )
            if keys is None:
                continue
            bad = False
            name = self.string(keys["name"][1], f"{field}.name") if "name" in keys else None
            if name is not None and name in seen:
                self.error(
                    keys["name"][1], f"{field}.name", f"{name} is already on line {seen[name]}"
                )
                name = None
            if name is not None:
                seen[name] = keys["name"][1].start_mark.line + 1
            zone: str | None = "UTC"
            if "timezone" in keys:
                zone = self.zone(keys["timezone"][1], f"{field}.timezone")
            if name is not None:
                self.declared[name] = zone
            start = None
            if "start" in keys and zone is not None:
                start = self.local_time(keys["start"][1], f"{field}.start", zone)
            shift: timedelta | None = timedelta(weeks=1)
            if "shift" in keys:
                shift = self.duration(keys["shift"][1], f"{field}.shift")
            members: list[str] = []
            if "members" in keys:
                member_nodes = self.sequence(keys["members"][1], f"{field}.members")
                if member_nodes is not None and not member_nodes:
                    self.error(keys["members"][1], f"{field}.members", "nobody on the rotation")
                for j, member in enumerate(member_nodes or []):
                    who = self.string(member, f"{field}.members[{j}]")
                    if who is not None and who not in known:
                        self.error(member, f"{field}.members[{j}]", f"{who} is not in people")
                        bad = True
                    elif who is not None:
                        members.append(who)
            if name and zone and start and shift and members and not bad:
                out.append((Rotation(name, tuple(members), start, shift, zone), item))
        return out

    def overrides(
        self,
        node: yaml.Node,
        known: Mapping[str, tuple[Person, yaml.Node]],
        rotation_zones: Mapping[str, str | None],
    ) -> list[tuple[Override, yaml.Node]]:
        out: list[tuple[Override, yaml.Node]] = []
        for i, item in enumerate(self.sequence(node, "overrides") or []):
            field = f"overrides[{i}]"
            keys = self.mapping(
                item,
                field,
                ("rotation", "person", "start", "end", "timezone"),
                required=("rotation", "person", "start", "end"),
            )
            if keys is None:
                continue
            rotation = None
            if "rotation" in keys:
                rotation = self.string(keys["rotation"][1], f"{field}.rotation")
                if rotation is not None and rotation not in rotation_zones:
                    self.error(
                        keys["rotation"][1],
                        f"{field}.rotation",
                        f"{rotation} is not in rotations",
                    )
                    rotation = None
            person = None
            if "person" in keys:
                person = self.string(keys["person"][1], f"{field}.person")
                if person is not None and person not in known:
                    self.error(keys["person"][1], f"{field}.person", f"{person} is not in people")
                    person = None
            zone = rotation_zones[rotation] if rotation else "UTC"
            if "timezone" in keys:
                zone = self.zone(keys["timezone"][1], f"{field}.timezone")
            start = end = None
            if zone is not None:
                if "start" in keys:
                    start = self.local_time(keys["start"][1], f"{field}.start", zone)
                if "end" in keys:
                    end = self.local_time(keys["end"][1], f"{field}.end", zone)
            if start is not None and end is not None and end <= start:
                self.error(keys["end"][1], f"{field}.end", "must be after start")
                continue
            if rotation and person and start and end:
                out.append((Override(person, start, end, rotation), item))
        return out

    def policy(self, node: yaml.Node, rotations: set[str]) -> EscalationPolicy | None:
        keys = self.mapping(
            node, "policy", ("steps", "immediate", "breach", "renotify", "renotify_to")
        )
        if keys is None:
            return None
        ok = True
        steps: dict[Priority, tuple[EscalationStep, ...]] = dict(DEFAULT_POLICY.steps)
        if "steps" in keys:
            prios = self.mapping(keys["steps"][1], "policy.steps", _PRIORITY_KEYS)
            given: dict[Priority, int] = {}
            for name, (key, value) in (prios or {}).items():
                prio = Priority.parse(name)
                field = f"policy.steps.{name}"
                if prio in given:
                    self.error(key, field, f"{prio} is already on line {given[prio]}")
                    ok = False
                    continue
                given[prio] = key.start_mark.line + 1
                parsed = self.steps(value, field, rotations)
                if parsed is None:
                    ok = False
                else:
                    steps[prio] = parsed
            ok = ok and prios is not None
        immediate = DEFAULT_POLICY.immediate
        if "immediate" in keys:
            parsed = self.steps(keys["immediate"][1], "policy.immediate", rotations)
            ok = ok and parsed is not None
            immediate = parsed or ()
        breach = DEFAULT_POLICY.breach
        if "breach" in keys:
            parsed = self.steps(keys["breach"][1], "policy.breach", rotations)
            ok = ok and parsed is not None
            breach = parsed or ()
        renotify: bool | None = DEFAULT_POLICY.renotify
        if "renotify" in keys:
            renotify = self.boolean(keys["renotify"][1], "policy.renotify")
        renotify_to = DEFAULT_POLICY.renotify_to
        if "renotify_to" in keys:
            targets: list[str] = []
            nodes = self.sequence(keys["renotify_to"][1], "policy.renotify_to")
            for j, item in enumerate(nodes or []):
                target = self.target(item, f"policy.renotify_to[{j}]", rotations)
                if target is None:
                    ok = False
                else:
                    targets.append(target)
            ok = ok and nodes is not None
            renotify_to = tuple(targets)
        if renotify is None or not ok:
            return None
        if renotify and not renotify_to:
            where = keys["renotify_to"][1] if "renotify_to" in keys else node
            self.error(where, "policy.renotify_to", "renotify needs at least one target")
            return None
        return EscalationPolicy(
            MappingProxyType(steps), immediate, renotify, renotify_to, breach=breach
        )

    def steps(
        self, node: yaml.Node, field: str, rotations: set[str]
    ) -> tuple[EscalationStep, ...] | None:
        items = self.sequence(node, field)
        if items is None:
            return None
        out: list[EscalationStep] = []
        lines: dict[str, int] = {}
        ok = True
        for i, item in enumerate(items):
            where = f"{field}[{i}]"
            step = self.step(item, where, rotations)
            if step is None:
                ok = False
                continue
            if step.key in lines:
                self.error(
                    item,
                    where,
                    f"{step.kind.value} escalation to {step.target} is already on line"
                    f" {lines[step.key]}",
                )
                ok = False
                continue
            lines[step.key] = item.start_mark.line + 1
            out.append(step)
        return tuple(out) if ok else None

    def step(self, node: yaml.Node, field: str, rotations: set[str]) -> EscalationStep | None:
        keys = self.mapping(
            node,
            field,
            ("after", "target", "kind", "stop_on", "repeat", "repeat_every"),
            required=("after", "target"),
        )
        if keys is None or "after" not in keys or "target" not in keys:
            return None
        after = self.duration(keys["after"][1], f"{field}.after", zero=True)
        target = self.target(keys["target"][1], f"{field}.target", rotations)
        kind: str | None = EscalationKind.FUNCTIONAL.value
        if "kind" in keys:
            kind = self.choice(keys["kind"][1], f"{field}.kind", _STEP_KINDS)
        stop_on: str | None = StopOn.RESOLVED.value
        if "stop_on" in keys:
            stop_on = self.choice(keys["stop_on"][1], f"{field}.stop_on", _STOP_ON)
        repeat: int | None = 0
        if "repeat" in keys:
            repeat = self.count(keys["repeat"][1], f"{field}.repeat")
        every: timedelta | None = timedelta(minutes=5)
        if "repeat_every" in keys:
            every = self.duration(keys["repeat_every"][1], f"{field}.repeat_every")
        if after is None or target is None or kind is None or stop_on is None:
            return None
        if repeat is None or every is None:
            return None
        return EscalationStep(after, target, EscalationKind(kind), StopOn(stop_on), repeat, every)

    def choice(self, node: yaml.Node, field: str, allowed: Sequence[str]) -> str | None:
        text = self.string(node, field)
        if text is None:
            return None
        if text.lower() in allowed:
            return text.lower()
        self.error(node, field, f"{text!r} is not one of {' | '.join(allowed)}")
        return None

    def target(self, node: yaml.Node, field: str, rotations: set[str]) -> str | None:
        text = self.string(node, field)
        if text is None:
            return None
        if text not in rotations and text not in _ROLES:
            self.error(
                node,
                field,
                f"{text} is neither a rotation here ({', '.join(sorted(rotations)) or 'none'})"
                f" nor an incident role ({', '.join(_ROLES)})",
            )
            return None
        return text

    # warnings

    def reachability(
        self,
        people: list[tuple[Person, yaml.Node]],
        rotations: list[tuple[Rotation, yaml.Node]],
        overrides: list[tuple[Override, yaml.Node]],
    ) -> None:
        reachable = {p.name for p, _ in people if p.reachable}
        for i, (p, node) in enumerate(people):
            if p.name in reachable:
                continue
            covers = sorted(
                {r.name for r, _ in rotations if p.name in r.members}
                | {o.rotation for o, _ in overrides if o.person == p.name}
            )
            if covers:
                fallback = (
                    f"pages for {p.name} go to the next reachable member of {', '.join(covers)}"
                )
            else:
                fallback = f"an escalation to a role {p.name} holds reaches nobody"
            self.warn(node, f"people[{i}]", f"{p.name} has no contacts: {fallback}")
        for i, (r, node) in enumerate(rotations):
            if not any(m in reachable for m in r.members):
                self.warn(
                    node,
                    f"rotations[{i}]",
                    f"nobody on {r.name} has contacts: its escalations reach nobody",
                )

    def policy_targets(
        self, policy: EscalationPolicy, rotations: set[str], key: yaml.Node | None
    ) -> None:
        """Warn about non-role targets the (default) policy pages that have no rotation."""
        wanted = [s.target for steps in policy.steps.values() for s in steps]
        wanted += [s.target for s in (*policy.immediate, *policy.breach)]
        if policy.renotify:
            wanted += list(policy.renotify_to)
        missing = sorted({t for t in wanted if t not in rotations and t not in _ROLES})
        if missing:
            which = "the escalation policy" if key is not None else "the default escalation policy"
            self.warn(
                key,
                "policy",
                f"{which} pages {', '.join(missing)}, which the roster has no rotation for:"
                " those escalations reach nobody",
            )


_PRIORITY_KEYS = tuple(p.value for p in Priority) + tuple(f"SEV{n}" for n in range(1, 5))
