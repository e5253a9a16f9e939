"""Roster files (watchstander.inputs.roster): loading, validation with file:line: field
messages, warnings for people nobody can reach, the policy section, coverage gaps."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchstander.errors import InputError, NotFoundError
from watchstander.incident.escalation import (
    DEFAULT_POLICY,
    EscalationKind,
    EscalationStep,
    Override,
    Person,
    Roster,
    Rotation,
    StopOn,
    on_call,
)
from watchstander.incident.models import Priority
from watchstander.inputs.roster import RosterFile, coverage_gaps, load_roster, parse_roster

MIN = timedelta(minutes=1)

VALID = """\
people:
  - name: alice
    timezone: Europe/Berlin
    contacts: {email: alice@example.com, slack: "@alice", phone: "+49 30 1234"}
    roles: [incident_commander, tier1]
  - name: bob
    contacts: {email: bob@example.com}
  - name: carol
    timezone: America/New_York
    contacts: {slack: "@carol"}
  - name: dave
    contacts: {pagerduty: PDAVE01}
rotations:
  - name: tier1
    timezone: Europe/Berlin
    start: "2026-10-19T09:00"
    shift: 1w
    members: [alice, bob]
  - name: tier2
    start: "2026-10-19"
    shift: 12h
    members: [carol, dave]
  - {name: tier3, start: "2026-10-19T00:00Z", shift: 1d12h, members: [dave]}
  - {name: management, start: "2026-10-19T00:00", members: [alice]}
  - {name: executive, start: "2026-10-19T00:00", members: [bob]}
  - {name: legal, start: "2026-10-19T00:00", members: [carol]}
  - {name: compliance, start: "2026-10-19T00:00", members: [carol]}
overrides:
  - rotation: tier1
    person: carol
    start: "2026-11-21T18:00"
    end: "2026-11-22T09:00"
    timezone: Europe/Berlin
"""


def write(tmp_path: Path, text: str, name: str = "roster.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def holder(roster: Roster, rotation: str, at: datetime) -> str | None:
    person = on_call(roster, rotation, at)
    return None if person is None else person.name


# -- a valid file -----------------------------------------------------------------------------


def test_a_valid_roster_loads(tmp_path: Path) -> None:
    loaded = load_roster(write(tmp_path, VALID))
    assert isinstance(loaded, RosterFile)
    assert loaded.policy is None
    assert loaded.warnings == ()
    roster = loaded.roster
    assert [p.name for p in roster.people] == ["alice", "bob", "carol", "dave"]
    alice = roster.person("alice")
    assert alice == Person(
        "alice",
        {"email": "alice@example.com", "slack": "@alice", "phone": "+49 30 1234"},
        "Europe/Berlin",
        frozenset({"incident_commander", "tier1"}),
    )
    assert roster.person("bob").timezone == "UTC"
    tier1 = roster.rotation("tier1")
    assert tier1.members == ("alice", "bob")
    assert tier1.timezone == "Europe/Berlin"
    assert tier1.shift == timedelta(weeks=1)
    assert tier1.start == utc(2026, 10, 19, 7, 0)  # 09:00 CEST
    assert roster.rotation("tier2").start == utc(2026, 10, 19)  # a date alone: midnight
    assert roster.rotation("tier2").shift == timedelta(hours=12)
    assert roster.rotation("tier3").shift == timedelta(days=1, hours=12)
    assert roster.rotation("management").shift == timedelta(weeks=1)  # the default
    assert roster.overrides == (
        Override("carol", utc(2026, 11, 21, 17), utc(2026, 11, 22, 8), "tier1"),
    )


def test_on_call_follows_local_handoffs_and_the_override(tmp_path: Path) -> None:
    roster = load_roster(write(tmp_path, VALID)).roster
    # Before the first handoff nobody is on call.
    assert holder(roster, "tier1", utc(2026, 10, 19, 6, 59)) is None
    assert holder(roster, "tier1", utc(2026, 10, 19, 7, 0)) == "alice"
    # Daylight saving time ends on 2026-10-25: the handoff stays at 09:00 Berlin time,
    # which is now 08:00 UTC.
    assert holder(roster, "tier1", utc(2026, 10, 26, 7, 59)) == "alice"
    assert holder(roster, "tier1", utc(2026, 10, 26, 8, 0)) == "bob"
    # Week of 2026-11-16 is alice's; carol's override takes Saturday night.
    assert holder(roster, "tier1", utc(2026, 11, 21, 16, 59)) == "alice"
    assert holder(roster, "tier1", utc(2026, 11, 21, 17, 0)) == "carol"
    assert holder(roster, "tier1", utc(2026, 11, 22, 7, 59)) == "carol"
    assert holder(roster, "tier1", utc(2026, 11, 22, 8, 0)) == "alice"
    # tier2 hands off every 12 hours at 00:00 and 12:00 UTC.
    assert holder(roster, "tier2", utc(2026, 10, 19, 11, 59)) == "carol"
    assert holder(roster, "tier2", utc(2026, 10, 19, 12, 0)) == "dave"


def test_parse_roster_names_its_source() -> None:
    with pytest.raises(InputError, match=r"^team\.yaml:1: people: expected a list"):
        parse_roster("people: alice\n", source="team.yaml")


def test_an_explicit_offset_is_taken_as_written(tmp_path: Path) -> None:
    text = VALID.replace('start: "2026-10-19T09:00"', 'start: "2026-10-19T09:00+00:00"')
    roster = load_roster(write(tmp_path, text)).roster
    assert roster.rotation("tier1").start == utc(2026, 10, 19, 9, 0)


# -- invalid files ----------------------------------------------------------------------------

PEOPLE = """\
people:
  - name: alice
    contacts: {email: alice@example.com}
  - name: bob
    contacts: {email: bob@example.com}
"""


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        pytest.param(
            PEOPLE + "rotations:\n  - {name: tier1, start: '2026-11-02', members: [alice, zed]}\n",
            7,
            "rotations[0].members[1]",
            "zed is not in people",
            id="unknown person in a rotation",
        ),
        pytest.param(
            PEOPLE
            + "rotations:\n  - name: tier1\n    start: '2026-11-02'\n    members:\n"
            + "      - alice\n      - zed\n",
            11,
            "rotations[0].members[1]",
            "zed is not in people",
            id="unknown person in a block list",
        ),
        pytest.param(
            "people:\n  - name: alice\n    timezone: Europe/Berlinn\n",
            3,
            "people[0].timezone",
            "unknown time zone 'Europe/Berlinn'",
            id="unknown person time zone",
        ),
        pytest.param(
            PEOPLE
            + "rotations:\n  - name: tier1\n    timezone: Mars/Olympus\n"
            + "    start: '2026-11-02'\n    members: [alice]\n",
            8,
            "rotations[0].timezone",
            "unknown time zone 'Mars/Olympus'",
            id="unknown rotation time zone",
        ),
        pytest.param(
            PEOPLE
            + "rotations:\n  - name: tier1\n    start: '2026-11-02'\n    shift: 1 fortnight\n"
            + "    members: [alice]\n",
            9,
            "rotations[0].shift",
            "'1 fortnight' is not a duration",
            id="bad duration",
        ),
        pytest.param(
            PEOPLE
            + "rotations:\n  - {name: tier1, start: '2026-11-02', shift: 0h, members: [alice]}\n",
            7,
            "rotations[0].shift",
            "must be longer than zero",
            id="zero shift",
        ),
        pytest.param(
            PEOPLE
            + "rotations:\n  - {name: tier1, start: '2026-11-02', members: [alice]}\n"
            + "overrides:\n  - rotation: tier1\n    person: bob\n"
            + "    start: '2026-11-22T18:00'\n    end: '2026-11-22T09:00'\n",
            12,
            "overrides[0].end",
            "must be after start",
            id="override ends before it starts",
        ),
        pytest.param(
            PEOPLE
            + "rotations:\n  - {name: tier1, start: '2026-11-02', members: [alice]}\n"
            + "overrides:\n  - {rotation: tier9, person: bob, start: '2026-11-22', end: '2026-11-23'}\n",
            9,
            "overrides[0].rotation",
            "tier9 is not in rotations",
            id="override of an unknown rotation",
        ),
        pytest.param(
            PEOPLE
            + "rotations:\n  - {name: tier1, start: '2026-11-02', members: [alice]}\n"
            + "overrides:\n  - {rotation: tier1, person: zed, start: '2026-11-22', end: '2026-11-23'}\n",
            9,
            "overrides[0].person",
            "zed is not in people",
            id="override by an unknown person",
        ),
        pytest.param(
            PEOPLE + "  - name: alice\n",
            6,
            "people[2].name",
            "alice is already on line 2",
            id="duplicate person",
        ),
        pytest.param(
            PEOPLE
            + "rotations:\n  - {name: tier1, start: '2026-11-02', members: [alice]}\n"
            + "  - {name: tier1, start: '2026-11-02', members: [bob]}\n",
            8,
            "rotations[1].name",
            "tier1 is already on line 7",
            id="duplicate rotation",
        ),
        pytest.param(
            PEOPLE + "rotation:\n  - {name: tier1, start: '2026-11-02', members: [alice]}\n",
            6,
            "rotation",
            "unknown key 'rotation'",
            id="top-level typo",
        ),
        pytest.param(
            "people:\n  - name: alice\n    timezon: UTC\n",
            3,
            "people[0].timezon",
            "unknown key 'timezon'",
            id="nested typo",
        ),
        pytest.param(
            "people:\n  - name: alice\n    contacts:\n      emial: alice@example.com\n",
            4,
            "people[0].contacts.emial",
            "unknown key 'emial'",
            id="unknown contact kind",
        ),
        pytest.param(
            "people:\n  - name: alice\n    contacts: {email: alice.example.com}\n",
            3,
            "people[0].contacts.email",
            "not an email address",
            id="bad email",
        ),
        pytest.param(
            "people:\n  - name: alice\n    name: bob\n",
            3,
            "people[0].name",
            "given twice (first on line 2)",
            id="duplicate key",
        ),
        pytest.param(
            PEOPLE + "rotations:\n  - name: tier1\n    start: '2026-11-02'\n",
            7,
            "rotations[0].members",
            "missing",
            id="missing members",
        ),
        pytest.param(
            PEOPLE + "rotations:\n  - {name: tier1, start: '2026-11-02', members: []}\n",
            7,
            "rotations[0].members",
            "nobody on the rotation",
            id="empty rotation",
        ),
        pytest.param(
            PEOPLE + "rotations:\n  - {name: tier1, start: 'next monday', members: [alice]}\n",
            7,
            "rotations[0].start",
            "'next monday' is not a date-time",
            id="bad start",
        ),
        pytest.param(
            PEOPLE
            + "rotations:\n  - name: tier1\n    timezone: Europe/Berlin\n"
            + "    start: '2026-03-29T02:30'\n    members: [alice]\n",
            9,
            "rotations[0].start",
            "does not exist in Europe/Berlin",
            id="local time in the spring-forward gap",
        ),
        pytest.param(
            "people:\n  - name: alice\n  - [bob]\n",
            3,
            "people[1]",
            "expected a mapping",
            id="person not a mapping",
        ),
        pytest.param(
            "people: []\n",
            1,
            "people",
            "the roster names nobody",
            id="nobody",
        ),
        pytest.param(
            "rotations: []\n",
            1,
            "people",
            "missing",
            id="no people section",
        ),
        pytest.param(
            "- alice\n- bob\n",
            1,
            "(top level)",
            "expected a mapping",
            id="top level is a list",
        ),
    ],
)
def test_an_invalid_roster_names_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        load_roster(path)
    first = str(caught.value).splitlines()[0]
    assert first.startswith(f"{path}:{line}: {field}: "), first
    assert message in first


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        people:
          - name: alice
            timezone: Nowhere/Special
          - name: alice
        rotations:
          - {name: tier1, start: '2026-11-02', shift: 1x, members: [alice, zed]}
        """,
    )
    with pytest.raises(InputError) as caught:
        load_roster(path)
    lines = str(caught.value).splitlines()
    assert [line.split(": ", 2)[:2] for line in lines] == [
        [f"{path}:3", "people[0].timezone"],
        [f"{path}:4", "people[1].name"],
        [f"{path}:6", "rotations[0].shift"],
        [f"{path}:6", "rotations[0].members[1]"],
    ]


def test_a_rotation_with_errors_is_still_known_to_overrides(tmp_path: Path) -> None:
    # Only the rotation's own error is reported, not "tier1 is not in rotations" as well.
    path = write(
        tmp_path,
        PEOPLE
        + "rotations:\n  - {name: tier1, start: '2026-11-02', shift: soon, members: [alice]}\n"
        + "overrides:\n  - {rotation: tier1, person: bob, start: '2026-11-22', end: '2026-11-23'}\n",
    )
    with pytest.raises(InputError) as caught:
        load_roster(path)
    assert str(caught.value).splitlines() == [
        f"{path}:7: rotations[0].shift: 'soon' is not a duration (use e.g. 12h, 1d, 1w, 1d12h)"
    ]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "people:\n  - name: alice\n    contacts: {email: [unclosed\n")
    with pytest.raises(InputError, match=rf"^{path}:\d+: invalid YAML"):
        load_roster(path)


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(InputError, match=rf"^{path}: no such file"):
        load_roster(path)


def test_a_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=rf"^{tmp_path}: is a directory"):
        load_roster(tmp_path)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_an_empty_file_is_an_input_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError, match=rf"^{path}: the file is empty"):
        load_roster(path)


# -- warnings ---------------------------------------------------------------------------------


def test_people_without_contacts_are_warned_about_not_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        people:
          - name: alice
            contacts: {email: alice@example.com}
          - name: bob
            contacts: {}
          - name: carol
          - name: dave
        rotations:
          - {name: tier1, start: '2026-11-02', members: [alice, bob]}
          - {name: tier2, start: '2026-11-02', members: [dave]}
          - {name: tier3, start: '2026-11-02', members: [alice]}
          - {name: management, start: '2026-11-02', members: [alice]}
          - {name: executive, start: '2026-11-02', members: [alice]}
          - {name: legal, start: '2026-11-02', members: [alice]}
          - {name: compliance, start: '2026-11-02', members: [alice]}
        overrides:
          - {rotation: tier1, person: carol, start: '2026-11-21', end: '2026-11-22'}
        """,
    )
    loaded = load_roster(path)
    assert loaded.warnings == (
        f"{path}:4: people[1]: bob has no contacts:"
        " pages for bob go to the next reachable member of tier1",
        f"{path}:6: people[2]: carol has no contacts:"
        " pages for carol go to the next reachable member of tier1",
        f"{path}:7: people[3]: dave has no contacts:"
        " pages for dave go to the next reachable member of tier2",
        f"{path}:10: rotations[1]: nobody on tier2 has contacts: its escalations reach nobody",
    )
    # The person is loaded as unreachable, so escalation falls back instead of paging nobody.
    assert not loaded.roster.person("carol").reachable
    assert on_call(loaded.roster, "tier1", utc(2026, 11, 21, 12)) == Person("carol")


def test_a_person_in_no_rotation_gets_a_different_warning(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("rotations:", "  - name: erin\nrotations:", 1))
    assert load_roster(path).warnings == (
        f"{path}:13: people[4]: erin has no contacts:"
        " an escalation to a role erin holds reaches nobody",
    )


def test_missing_rotations_for_the_default_policy_are_warned_about(tmp_path: Path) -> None:
    path = write(
        tmp_path, PEOPLE + "rotations:\n  - {name: tier1, start: '2026-11-02', members: [alice]}\n"
    )
    loaded = load_roster(path)
    assert loaded.warnings == (
        f"{path}: policy: the default escalation policy pages compliance, executive, legal,"
        " management, tier2, tier3, which the roster has no rotation for: those escalations"
        " reach nobody",
    )


def test_an_ambiguous_local_time_takes_the_first_occurrence(tmp_path: Path) -> None:
    text = VALID.replace('start: "2026-10-19T09:00"', 'start: "2026-10-25T02:30"')
    path = write(tmp_path, text)
    loaded = load_roster(path)
    assert loaded.roster.rotation("tier1").start == utc(2026, 10, 25, 0, 30)  # CEST
    assert loaded.warnings == (
        f"{path}:16: rotations[0].start: 2026-10-25T02:30 happens twice in Europe/Berlin"
        " (daylight saving time ends): taken as the first occurrence",
    )


# -- policy -----------------------------------------------------------------------------------

POLICY = """\
policy:
  steps:
    P0:
      - {after: 0m, target: tier1, repeat: 3, repeat_every: 2m, stop_on: acknowledged}
      - {after: 10m, target: tier2}
      - {after: 20m, target: management, kind: hierarchical}
      - {after: 1h, target: incident_commander, kind: Hierarchical, stop_on: mitigated}
    SEV4:
      - {after: 1d, target: tier1}
    P2: []
  immediate:
    - {after: 0s, target: executive, kind: hierarchical}
    - {after: 5m, target: management, kind: hierarchical}
  breach:
    - {after: 0m, target: legal, kind: hierarchical}
    - {after: 1h, target: security_lead, kind: hierarchical}
  renotify: false
  renotify_to: [tier1]
"""


def test_a_policy_section_parses(tmp_path: Path) -> None:
    loaded = load_roster(write(tmp_path, VALID + POLICY))
    policy = loaded.policy
    assert policy is not None
    F, H = EscalationKind.FUNCTIONAL, EscalationKind.HIERARCHICAL
    assert policy.steps[Priority.P0] == (
        EscalationStep(0 * MIN, "tier1", F, StopOn.ACKNOWLEDGED, 3, 2 * MIN),
        EscalationStep(10 * MIN, "tier2", F),
        EscalationStep(20 * MIN, "management", H),
        EscalationStep(60 * MIN, "incident_commander", H, StopOn.MITIGATED),
    )
    assert policy.steps[Priority.P1] == DEFAULT_POLICY.steps[Priority.P1]  # left out: kept
    assert policy.steps[Priority.P2] == ()  # cleared
    assert policy.steps[Priority.P3] == (EscalationStep(timedelta(days=1), "tier1", F),)
    assert policy.immediate == (
        EscalationStep(0 * MIN, "executive", H),
        EscalationStep(5 * MIN, "management", H),
    )
    # Only legal on a breach (compliance dropped), and the security lead after an hour.
    assert policy.breach == (
        EscalationStep(0 * MIN, "legal", H),
        EscalationStep(60 * MIN, "security_lead", H),
    )
    assert policy.renotify is False
    assert policy.renotify_to == ("tier1",)
    assert loaded.warnings == ()


def test_a_partial_policy_keeps_the_default_for_the_rest(tmp_path: Path) -> None:
    text = VALID + "policy:\n  renotify_to: [on_call]\n"
    policy = load_roster(write(tmp_path, text)).policy
    assert policy is not None
    assert dict(policy.steps) == dict(DEFAULT_POLICY.steps)
    assert policy.immediate == DEFAULT_POLICY.immediate
    assert policy.renotify is True
    assert policy.renotify_to == ("on_call",)


def test_the_parsed_policy_drives_escalation_targets(tmp_path: Path) -> None:
    # Every target of the parsed policy resolves against the parsed roster.
    loaded = load_roster(write(tmp_path, VALID + POLICY))
    assert loaded.policy is not None
    rotations = {r.name for r in loaded.roster.rotations}
    targets = {s.target for steps in loaded.policy.steps.values() for s in steps}
    assert targets - rotations == {"incident_commander"}


@pytest.mark.parametrize(
    ("policy", "line", "field", "message"),
    [
        pytest.param(
            "policy:\n  steps:\n    P0:\n      - {after: 5m, target: tier4}\n",
            4,
            "policy.steps.P0[0].target",
            "tier4 is neither a rotation here",
            id="unknown target",
        ),
        pytest.param(
            "policy:\n  steps:\n    P0:\n      - {after: 5m, target: tier2, kind: sideways}\n",
            4,
            "policy.steps.P0[0].kind",
            "'sideways' is not one of functional | hierarchical",
            id="bad kind",
        ),
        pytest.param(
            "policy:\n  steps:\n    P0:\n      - {after: 5m, target: tier2, kind: renotify}\n",
            4,
            "policy.steps.P0[0].kind",
            "is not one of functional | hierarchical",
            id="renotify is not a step kind",
        ),
        pytest.param(
            "policy:\n  steps:\n    P0:\n      - {after: soon, target: tier2}\n",
            4,
            "policy.steps.P0[0].after",
            "'soon' is not a duration",
            id="bad after",
        ),
        pytest.param(
            "policy:\n  steps:\n    P0:\n      - {after: 5m, target: tier2, repeat: -1}\n",
            4,
            "policy.steps.P0[0].repeat",
            "'-1' is not a whole number",
            id="bad repeat",
        ),
        pytest.param(
            "policy:\n  steps:\n    P0:\n      - {after: 5m, target: tier2, stop_on: never}\n",
            4,
            "policy.steps.P0[0].stop_on",
            "'never' is not one of acknowledged | mitigated | resolved",
            id="bad stop_on",
        ),
        pytest.param(
            "policy:\n  steps:\n    P0:\n      - {after: 5m}\n",
            4,
            "policy.steps.P0[0].target",
            "missing",
            id="step without target",
        ),
        pytest.param(
            "policy:\n  steps:\n    P0:\n      - {after: 5m, target: tier2, delay: 1m}\n",
            4,
            "policy.steps.P0[0].delay",
            "unknown key 'delay'",
            id="step typo",
        ),
        pytest.param(
            "policy:\n  steps:\n    P0:\n      - {after: 5m, target: tier2}\n"
            "      - {after: 9m, target: tier2}\n",
            5,
            "policy.steps.P0[1]",
            "functional escalation to tier2 is already on line",
            id="two steps to one target",
        ),
        pytest.param(
            "policy:\n  steps:\n    P0: []\n    SEV1: []\n",
            4,
            "policy.steps.SEV1",
            "P0 is already on line 3",
            id="a priority twice",
        ),
        pytest.param(
            "policy:\n  steps:\n    P5: []\n",
            3,
            "policy.steps.P5",
            "unknown key 'P5'",
            id="unknown priority",
        ),
        pytest.param(
            "policy:\n  renotify: sometimes\n",
            2,
            "policy.renotify",
            "'sometimes' is not true or false",
            id="bad renotify",
        ),
        pytest.param(
            "policy:\n  renotify_to: []\n",
            2,
            "policy.renotify_to",
            "renotify needs at least one target",
            id="renotify without targets",
        ),
        pytest.param(
            "policy:\n  escalate: always\n",
            2,
            "policy.escalate",
            "unknown key 'escalate'",
            id="policy typo",
        ),
    ],
)
def test_an_invalid_policy_names_file_line_and_field(
    tmp_path: Path, policy: str, line: int, field: str, message: str
) -> None:
    path = write(tmp_path, VALID + policy)
    offset = VALID.count("\n")
    with pytest.raises(InputError) as caught:
        load_roster(path)
    first = str(caught.value).splitlines()[0]
    assert first.startswith(f"{path}:{offset + line}: {field}: "), first
    assert message in first


# -- coverage gaps ----------------------------------------------------------------------------


def gap_roster(*overrides: Override) -> Roster:
    return Roster(
        (Person("alice", {"email": "a@example.com"}), Person("bob"), Person("carol")),
        (Rotation("tier1", ("alice", "bob"), utc(2026, 11, 2, 9), timedelta(days=1)),),
        overrides,
    )


def test_coverage_gaps_find_unreachable_shifts_and_the_time_before_the_start() -> None:
    roster = gap_roster()
    gaps = coverage_gaps(roster, "tier1", utc(2026, 11, 1), utc(2026, 11, 6))
    assert gaps == [
        (utc(2026, 11, 1), utc(2026, 11, 2, 9)),  # before the first handoff
        (utc(2026, 11, 3, 9), utc(2026, 11, 4, 9)),  # bob's shifts
        (utc(2026, 11, 5, 9), utc(2026, 11, 6)),  # clipped to the end
    ]


def test_coverage_gaps_apply_overrides_and_merge_adjacent_periods() -> None:
    roster = gap_roster(
        # carol (unreachable) takes the end of alice's shift, next to bob's: one gap.
        Override("carol", utc(2026, 11, 4, 20), utc(2026, 11, 5, 9), "tier1"),
        # alice covers the middle of bob's shift: it splits the gap.
        Override("alice", utc(2026, 11, 5, 12), utc(2026, 11, 5, 14), "tier1"),
    )
    gaps = coverage_gaps(roster, "tier1", utc(2026, 11, 4, 9), utc(2026, 11, 6, 9))
    assert gaps == [
        (utc(2026, 11, 4, 20), utc(2026, 11, 5, 12)),
        (utc(2026, 11, 5, 14), utc(2026, 11, 6, 9)),
    ]


def test_coverage_gaps_of_a_fully_reachable_rotation_are_empty(tmp_path: Path) -> None:
    roster = load_roster(write(tmp_path, VALID)).roster
    start = utc(2026, 10, 19, 7)
    assert coverage_gaps(roster, "tier1", start, start + timedelta(days=60)) == []
    assert coverage_gaps(roster, "tier1", start, start) == []


def test_coverage_gaps_refuse_unknown_rotations_and_naive_times() -> None:
    roster = gap_roster()
    with pytest.raises(NotFoundError):
        coverage_gaps(roster, "tier9", utc(2026, 11, 1), utc(2026, 11, 2))
    with pytest.raises(ValueError, match="timezone-aware"):
        coverage_gaps(roster, "tier1", datetime(2026, 11, 1), utc(2026, 11, 2))
