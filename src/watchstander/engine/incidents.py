"""Incident response: the IO edge around the pure rules in watchstander.incident.

`IncidentDesk` loads and saves incidents (the record as JSON, with a version counter so
two writers never interleave), fans messages out to the configured notifiers through the
store's outbox (delivered with retries, never dropped), fires due escalations from stored
timestamps (`tick(now)` is idempotent), ingests Alertmanager and PagerDuty payloads with
deduplication, runs regression triage and bisect against the store and the git
repository, mitigates through the deploy engine, and renders `.aiwg/incidents/` after every
change.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from watchstander.clock import Clock
from watchstander.config.models import (
    EmailNotifierConfig,
    NotifierConfig,
    PagerDutyNotifierConfig,
    SlackNotifierConfig,
    WebhookNotifierConfig,
)
from watchstander.engine.operations import Workspace
from watchstander.engine.slo import service_states
from watchstander.errors import ConfigError, NotFoundError, UsageError
from watchstander.gates.serialize import to_data
from watchstander.incident import codec, escalation, models, priority
from watchstander.incident import triage as triage_rules
from watchstander.incident.escalation import EscalationPolicy, Roster
from watchstander.incident.models import (
    Category,
    DetectionMethod,
    Impact,
    Incident,
    IncidentStatus,
    Priority,
    Role,
    TimelineKind,
    Urgency,
)
from watchstander.providers.notify.base import Message, Notifier, retry_schedule
from watchstander.release.models import Rollout, RolloutPhase
from watchstander.store.repository import Store

__all__ = ["IncidentDesk", "Loaded", "TickReport", "ACTOR"]

ACTOR = "watchstander"
_PRIORITY_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
_COMMANDER_ROLES = (Role.INCIDENT_COMMANDER, Role.TECHNICAL_LEAD, Role.COMMUNICATIONS_LEAD)


@dataclass
class Loaded:
    incident: Incident
    extras: dict[str, Any]  # triage, bisect, rca, preventive_actions, mitigation, regressions
    version: int


@dataclass
class TickReport:
    escalations: list[tuple[str, str]] = field(default_factory=list)  # (incident, reason)
    delivered: int = 0
    failed: int = 0
    major: bool = False
    reminders: int = 0


def _env(name: str, where: str) -> str:
    import os

    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"watchstander.yaml: {where}: environment variable {name} is not set")
    return value


def build_notifier(config: NotifierConfig, index: int) -> tuple[str, Notifier]:
    """A configured channel -> (its name, a notifier). Secrets come from env variables."""
    from watchstander.providers.notify.email import SmtpEmail
    from watchstander.providers.notify.webhook import GenericWebhook, PagerDutyEvents, SlackWebhook

    where = f"incidents.notify[{index}]"
    name = config.name or f"{config.type}-{index}"
    if isinstance(config, SlackNotifierConfig):
        return name, SlackWebhook(_env(config.url_env, where))
    if isinstance(config, WebhookNotifierConfig):
        url = config.url or _env(config.url_env or "", where)
        secret = _env(config.secret_env, where) if config.secret_env else None
        return name, GenericWebhook(url, secret)
    if isinstance(config, EmailNotifierConfig):
        return name, SmtpEmail(
            config.host,
            config.port,
            config.sender,
            list(config.to),
            username=_env(config.username_env, where) if config.username_env else None,
            password=_env(config.password_env, where) if config.password_env else None,
            starttls=config.starttls,
        )
    if isinstance(config, PagerDutyNotifierConfig):
        return name, PagerDutyEvents(_env(config.routing_key_env, where), url=config.url)
    raise ConfigError(f"watchstander.yaml: {where}: unknown notifier type")


class IncidentDesk:
    def __init__(
        self,
        ws: Workspace,
        store: Store,
        clock: Clock,
        *,
        notifiers: Mapping[str, Notifier] | None = None,
    ) -> None:
        self.ws = ws
        self.store = store
        self.clock = clock
        self._notifiers = dict(notifiers) if notifiers is not None else None
        self._roster: tuple[Roster, EscalationPolicy] | None = None

    # -- configuration -------------------------------------------------------------------

    @property
    def config(self) -> Any:
        return self.ws.config.incidents

    def roster(self) -> tuple[Roster, EscalationPolicy]:
        if self._roster is None:
            path = self.config.roster
            if path is None:
                self._roster = (Roster(people=(), rotations=()), escalation.DEFAULT_POLICY)
            else:
                from watchstander.inputs.roster import load_roster

                loaded = load_roster(self.ws.config_path.parent / path)
                self._roster = (loaded.roster, loaded.policy or escalation.DEFAULT_POLICY)
        return self._roster

    def regulatory(self, inc: Incident) -> list[dict[str, str]]:
        """The breach-reporting deadlines the incident's flags trigger (incidents.regulatory,
        by default GDPR's 72 h), dated from when the flag was recorded."""
        configured = self.config.regulatory
        rules = (
            escalation.DEFAULT_REGULATORY
            if configured is None
            else tuple(
                escalation.RegulatoryRule(
                    r.name,
                    timedelta(seconds=r.within),
                    on_security_breach="security_breach" in r.applies_to,
                    on_data_loss="data_loss" in r.applies_to,
                )
                for r in configured
            )
        )
        return [
            {"name": rule.name, "due": due.isoformat()}
            for rule, due in escalation.regulatory_deadlines(inc, rules)
        ]

    def notifiers(self) -> dict[str, Notifier]:
        if self._notifiers is None:
            self._notifiers = dict(build_notifier(c, i) for i, c in enumerate(self.config.notify))
        return self._notifiers

    def _channels_for(self, kind: str, prio: Priority) -> list[str]:
        names = []
        for i, c in enumerate(self.config.notify):
            name = c.name or f"{c.type}-{i}"
            if c.kinds and kind not in c.kinds:
                continue
            if _PRIORITY_RANK[prio.value] > _PRIORITY_RANK[c.min_priority]:
                continue
            names.append(name)
        if self._notifiers is not None and not self.config.notify:
            names = list(self._notifiers)  # injected notifiers (tests, the service) get all
        return names

    # -- persistence ---------------------------------------------------------------------

    def load(self, incident_id: str) -> Loaded:
        data = self.store.incident(incident_id)
        extras = {k: v for k, v in data.items() if k not in codec.KEYS}
        return Loaded(codec.from_data(data), extras, int(data.get("version", 0)))

    def save(self, loaded: Loaded, *, new: bool = False) -> Loaded:
        inc = loaded.incident
        version = loaded.version + 1
        data = {**codec.to_data(inc, version=version), **loaded.extras}
        self.store.save_incident(
            id=inc.id,
            service=inc.service,
            priority=inc.priority.value,
            status=inc.status.value,
            title=inc.title,
            detected_at=inc.detected,
            resolved_at=inc.milestones.resolved,
            data=data,
            expect_version=None if new else loaded.version,
        )
        loaded = Loaded(inc, loaded.extras, version)
        self.render(loaded)
        return loaded

    def render(self, loaded: Loaded) -> list[Path]:
        from watchstander.reports.incidents import write_incident_reports

        data: dict[str, Any] = {
            **codec.to_data(loaded.incident, version=loaded.version),
            **loaded.extras,
            "regulatory": self.regulatory(loaded.incident),
            "deliveries": [
                {
                    "channel": d["channel"],
                    "kind": d["kind"],
                    "status": d["status"],
                    "attempts": d["attempts"],
                    "last_result": d["last_result"],
                    "delivered_at": d["delivered_at"].isoformat() if d["delivered_at"] else None,
                }
                for d in self.store.deliveries(loaded.incident.id)
            ],
        }
        # P0/P1 get their post-incident review skeleton from the start, filled as data lands.
        review = loaded.incident.priority in (Priority.P0, Priority.P1)
        written: list[Path] = write_incident_reports(data, self.ws.reports_root, pir=review)
        return written

    def all(self, *, open_only: bool = False, since: datetime | None = None) -> list[Incident]:
        return [
            codec.from_data(d)
            for d in self.store.incidents(service=None, open_only=open_only, since=since)
        ]

    # -- messages ------------------------------------------------------------------------

    def _announce(
        self,
        loaded: Loaded,
        kind: str,
        *,
        extra: Mapping[str, Any] | None = None,
        automatic: bool = False,
    ) -> Loaded:
        """Compose a message from the incident, queue it for every channel that takes it,
        and note it in the timeline."""
        from watchstander.reports.incidents import compose

        inc = loaded.incident
        data = {
            **codec.to_data(inc, version=loaded.version),
            **loaded.extras,
            "regulatory": self.regulatory(inc),
            **(extra or {}),
        }
        subject, text = compose(kind, data)
        now = self.clock.now()
        channels = self._channels_for(kind, inc.priority)
        message = {
            "subject": subject,
            "text": text,
            "severity": inc.priority.value,
            "incident_id": inc.id,
            "kind": kind,
            "dedup_key": inc.id,
        }
        for channel in channels:
            self.store.enqueue_delivery(
                incident_id=inc.id, channel=channel, kind=kind, message=message, at=now
            )
        summary = f"{kind}: {subject}" + (
            f" (to {', '.join(channels)})" if channels else " (no channel configured)"
        )
        # A message the machinery sends by itself (an escalation) is not an update: it
        # must not reset the quiet-incident reminder.
        inc = models.record(
            inc,
            TimelineKind.NOTIFIED if automatic else TimelineKind.MESSAGE,
            now,
            ACTOR,
            summary,
            {"kind": kind, "channels": len(channels)},
        )
        return Loaded(inc, loaded.extras, loaded.version)

    async def deliver(self, now: datetime | None = None) -> tuple[int, int]:
        """Send what the outbox holds that is due; failures are rescheduled with backoff,
        never dropped. Returns (delivered, failed attempts)."""
        now = now or self.clock.now()
        notifiers = self.notifiers()
        delivered = failed = 0
        touched: set[str] = set()
        for item in self.store.due_deliveries(now):
            notifier = notifiers.get(item["channel"])
            if notifier is None:
                self.store.record_attempt(
                    item["id"],
                    ok=False,
                    result=f"channel {item['channel']!r} is not configured any more",
                    at=now,
                    retry_at=now + timedelta(seconds=retry_schedule(item["attempts"] + 1)),
                )
                failed += 1
                continue
            m = item["message"]
            result = await notifier.send(
                Message(
                    # The notifier prefixes [P1] itself (Message.title).
                    subject=re.sub(r"^\[P[0-3]\]\s*", "", m["subject"]),
                    text=m["text"],
                    severity=m["severity"],
                    incident_id=m["incident_id"],
                    kind=m["kind"],
                    dedup_key=m.get("dedup_key"),
                )
            )
            at = self.clock.now()
            retry = (
                None if result.ok else at + timedelta(seconds=retry_schedule(item["attempts"] + 1))
            )
            detail = f"{result.status or ''} {result.detail}".strip()
            self.store.record_attempt(
                item["id"], ok=result.ok, result=detail, at=at, retry_at=retry
            )
            delivered += result.ok
            failed += not result.ok
            touched.add(item["incident_id"])
        for incident_id in touched:
            self.render(self.load(incident_id))
        return delivered, failed

    # -- intake ----------------------------------------------------------------------------

    def declare(
        self,
        *,
        title: str,
        urgency: Urgency,
        impact: Impact | None = None,
        service: str | None = None,
        description: str = "",
        reporter: str = "cli",
        detection_method: DetectionMethod = DetectionMethod.MANUAL,
        category: Category = Category.AVAILABILITY,
        users_affected_pct: float | None = None,
        outage: bool = False,
        data_loss: bool = False,
        security_breach: bool = False,
        rollout_id: str | None = None,
        dedup_keys: Sequence[str] = (),
        started: datetime | None = None,
        detected: datetime | None = None,
    ) -> Loaded:
        if not title.strip():
            raise UsageError("an incident needs a title")
        now = self.clock.now()
        inc = priority.declare(
            id=self.store.next_incident_id(now),
            title=title.strip(),
            service=service or self.ws.config.service.name,
            detected=detected or now,
            started=started,
            reporter=reporter,
            urgency=urgency,
            impact=impact,
            category=category,
            detection_method=detection_method,
            description=description,
            users_affected_pct=users_affected_pct,
            outage=outage,
            data_loss=data_loss,
            security_breach=security_breach,
            dedup_keys=dedup_keys,
            rollout_id=rollout_id,
        )
        loaded = self.save(self._assign_roles(Loaded(inc, {}, 0), now), new=True)
        loaded = self._announce(loaded, "initial-alert")
        loaded = self._announce(loaded, "status-page-update")
        loaded = self.save(loaded)
        self._check_major(now)
        return loaded

    def _assign_roles(self, loaded: Loaded, now: datetime) -> Loaded:
        """P0/P1: incident commander, technical lead and communications lead from the
        roster's rotations of those names (tier1 stands in for the technical lead)."""
        inc = loaded.incident
        if inc.priority not in (Priority.P0, Priority.P1):
            return loaded
        roster, _ = self.roster()
        rotations = {r.name for r in roster.rotations}
        for role in _COMMANDER_ROLES:
            if role in inc.roles:
                continue
            candidates = [role.value] + (["tier1"] if role is Role.TECHNICAL_LEAD else [])
            person = None
            for rotation in candidates:
                if rotation in rotations:
                    person = escalation.on_call(roster, rotation, now)
                    if person is not None:
                        break
            if person is not None:
                inc = models.assign_role(inc, role, person.name, now, ACTOR)
            else:
                inc = models.record(
                    inc,
                    TimelineKind.NOTE,
                    now,
                    ACTOR,
                    f"no {role.value} on call in the roster: assign one with "
                    f"'watchstander incident assign {inc.id} --role {role.value} --person NAME'",
                )
        return Loaded(inc, loaded.extras, loaded.version)

    async def declare_from_rollout(self, rollout: Rollout) -> Loaded | None:
        """A deploy that rolled back: P1 when the rollback was verified, P0 when it failed
        (production impact may remain). Idempotent per rollout."""
        if rollout.phase not in (RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED):
            return None
        if rollout.abort_requested:
            return None  # a person aborted it: no incident of itself
        for existing in self.store.incidents(service=rollout.service):
            if existing.get("rollout_id") == rollout.id:
                return self.load(str(existing["id"]))
        failed = rollout.phase is RolloutPhase.FAILED
        reason = rollout.rollback_reason or rollout.message
        events = self.store.events(rollout.id)
        # Impact began when the new version first took traffic; it was detected when the
        # rollback was decided; it was mitigated when all traffic was back (real stamps).
        began = next(
            (
                e.at
                for e in events
                if e.kind == "weights.set" and (e.data.get("weights") or {}).get(rollout.version)
            ),
            rollout.created_at,
        )
        decided = next((e.at for e in events if e.kind == "rollback.started"), None)
        detected = decided or rollout.finished_at or self.clock.now()
        loaded = self.declare(
            title=f"{rollout.service} {rollout.version} "
            + ("rollback FAILED" if failed else "rolled back")
            + f": {_first(reason)}",
            urgency=Urgency.HIGH,
            impact=Impact.HIGH if failed else Impact.MEDIUM,
            service=rollout.service,
            description=f"Rollout {rollout.id} ({rollout.strategy.value}) of {rollout.version}"
            f" over {rollout.stable_version}: {reason}",
            reporter=ACTOR,
            detection_method=DetectionMethod.AUTOMATED_ALERT,
            category=Category.PERFORMANCE
            if any(word in reason for word in ("latency", "throughput"))
            else Category.AVAILABILITY,
            outage=failed,
            rollout_id=rollout.id,
            started=min(began, detected),
            detected=detected,
        )
        if not failed and rollout.restored_at is not None:
            loaded = self._record_rollback(loaded, rollout, events)
        return await self.triage(loaded.incident.id)

    def _record_rollback(self, loaded: Loaded, rollout: Rollout, events: Sequence[Any]) -> Loaded:
        """The deploy engine already mitigated it: record the verified rollback."""
        restored = rollout.restored_at
        assert restored is not None
        checks = [e.message for e in events if e.kind in ("traffic.restored", "rollback.verified")]
        loaded.extras["mitigation"] = {
            "action": "rollback",
            "rollout_id": rollout.id,
            "outcome": rollout.phase.value,
            "validated": any(e.kind == "rollback.verified" for e in events),
            "checks": checks,
            "at": restored.isoformat(),
            "by": ACTOR,
        }
        at = max(restored, loaded.incident.detected)
        inc = models.set_milestone(loaded.incident, models.Milestone.MITIGATED, at, ACTOR)
        inc = models.record(
            inc,
            TimelineKind.ACTION,
            at,
            ACTOR,
            f"mitigated by the automatic rollback of {rollout.id}: all traffic back on "
            f"{rollout.stable_version}",
        )
        return self.save(Loaded(inc, loaded.extras, loaded.version))

    # -- lifecycle -------------------------------------------------------------------------

    def _change(self, incident_id: str, fn: Any) -> Loaded:
        loaded = self.load(incident_id)
        inc = fn(loaded.incident, self.clock.now())
        return self.save(Loaded(inc, loaded.extras, loaded.version))

    def acknowledge(self, incident_id: str, by: str) -> Loaded:
        return self._change(incident_id, lambda i, now: models.acknowledge(i, now, by))

    def assign(self, incident_id: str, role: Role, person: str, by: str) -> Loaded:
        return self._change(
            incident_id, lambda i, now: models.assign_role(i, role, person, now, by)
        )

    def set_priority(self, incident_id: str, new: Priority, reason: str, by: str) -> Loaded:
        loaded = self._change(
            incident_id, lambda i, now: priority.change_priority(i, new, reason, now, by)
        )
        self._check_major(self.clock.now())
        return loaded

    def set_status(
        self, incident_id: str, status: IncidentStatus, by: str, reason: str = ""
    ) -> Loaded:
        loaded = self.load(incident_id)
        now = self.clock.now()
        inc = models.transition(loaded.incident, status, now, by, reason)
        loaded = Loaded(inc, loaded.extras, loaded.version)
        kind = "resolution-notification" if status is IncidentStatus.RESOLVED else None
        loaded = self._announce(loaded, "status-page-update")
        if kind:
            loaded = self._announce(loaded, kind)
        return self.save(loaded)

    def note(
        self, incident_id: str, text: str, by: str, kind: TimelineKind = TimelineKind.NOTE
    ) -> Loaded:
        return self._change(incident_id, lambda i, now: models.record(i, kind, now, by, text))

    # -- timers ----------------------------------------------------------------------------

    FREEZE_SERVICE = "*"  # a change freeze holds for every service in this store

    def _check_major(self, now: datetime) -> bool:
        """Two or more open P0/P1: a major incident. It declares a change freeze that
        blocks `deploy` until someone lifts it (`incident freeze --lift`)."""
        open_ = [codec.from_data(d) for d in self.store.incidents(open_only=True)]
        state = escalation.major_incident_state(open_)
        if state is None or not state.change_freeze or self.freeze() is not None:
            return state is not None
        records = self.store.gates(service=self.FREEZE_SERVICE, kind="freeze")
        if records and set(state.incidents) <= set(records[-1].data.get("incidents", [])):
            return True  # lifted by a person for these very incidents: stays lifted
        self.store.save_gate(
            service=self.FREEZE_SERVICE,
            version="-",
            kind="freeze",
            decision="ACTIVE",
            at=now,
            data={
                "reason": f"major incident: {len(state.incidents)} open P0/P1 incidents",
                "incidents": list(state.incidents),
                "missing_commander": list(state.missing_commander),
                "shared_commanders": [[p, list(ids)] for p, ids in state.shared_commanders],
                "actions": list(state.actions),
                "by": ACTOR,
            },
        )
        for incident_id in state.incidents:
            loaded = self.load(incident_id)
            inc = models.record(
                loaded.incident,
                TimelineKind.DECISION,
                now,
                ACTOR,
                f"major incident ({', '.join(state.incidents)}): change freeze declared; "
                "each incident needs its own commander",
            )
            self.save(Loaded(inc, loaded.extras, loaded.version))
        return True

    def freeze(self) -> dict[str, Any] | None:
        """The active change freeze, or None."""
        latest = self.store.gates(service=self.FREEZE_SERVICE, kind="freeze")
        if not latest or latest[-1].decision != "ACTIVE":
            return None
        return {"at": latest[-1].at.isoformat(), **latest[-1].data}

    def lift_freeze(self, by: str, reason: str) -> None:
        if self.freeze() is None:
            raise UsageError("there is no active change freeze")
        if not reason.strip():
            raise UsageError("lifting a change freeze needs a reason")
        self.store.save_gate(
            service=self.FREEZE_SERVICE,
            version="-",
            kind="freeze",
            decision="LIFTED",
            at=self.clock.now(),
            data={
                "reason": reason,
                "by": by,
                "incidents": (self.freeze() or {}).get("incidents", []),
            },
        )

    async def tick(self, now: datetime | None = None) -> TickReport:
        """Fire what is due: escalations of open incidents (idempotent: each fires once,
        recorded in the incident), then the outbox."""
        now = now or self.clock.now()
        report = TickReport()
        roster, policy = self.roster()
        open_ = [codec.from_data(d) for d in self.store.incidents(open_only=True)]
        major = escalation.major_incident(open_)
        report.major = major
        if major:
            self._check_major(now)
        for inc in open_:
            due = escalation.due(inc, policy, roster, now, major=major)
            if not due:
                continue
            loaded = self.load(inc.id)
            fired = escalation.apply(loaded.incident, due, now)
            loaded = Loaded(fired, loaded.extras, loaded.version)
            legal_sent = False
            for esc in due:
                kind = {
                    "management": "management-notification",
                    "executive": "executive-notification",
                    "legal": "legal-notification",
                    "compliance": "legal-notification",
                }.get(esc.target, "renotify" if esc.kind.value == "renotify" else "escalation")
                who = f" ({esc.person.name})" if esc.person else f" ({esc.problem})"
                report.escalations.append((inc.id, f"{esc.target}{who}: {esc.reason}"))
                if kind == "legal-notification":
                    # Legal and compliance fire together: one message for the pair.
                    if legal_sent:
                        continue
                    legal_sent = True
                loaded = self._announce(
                    loaded,
                    kind,
                    extra={
                        "escalation": {
                            "kind": esc.kind.value,
                            "target": esc.target,
                            "person": esc.person.name if esc.person else None,
                            "reason": esc.reason,
                            "problem": esc.problem,
                        }
                    },
                    automatic=True,
                )
            self.save(loaded)
        report.reminders = self._remind_actions(now)
        report.delivered, report.failed = await self.deliver(now)
        return report

    # -- preventive actions ------------------------------------------------------------------

    REMIND_BEFORE = timedelta(days=1)

    def _actions(self, loaded: Loaded) -> list[Any]:
        from watchstander.incident import rca

        out = []
        for a in loaded.extras.get("preventive_actions") or []:
            out.append(
                rca.PreventiveAction(
                    id=str(a["id"]),
                    title=str(a["title"]),
                    owner=str(a["owner"]),
                    horizon=rca.Horizon(a["horizon"]),
                    due=datetime.fromisoformat(str(a["due"])),
                    status=rca.ActionStatus(a.get("status", "open")),
                    done_at=datetime.fromisoformat(str(a["done_at"])) if a.get("done_at") else None,
                )
            )
        return out

    def _remind_actions(self, now: datetime) -> int:
        """One reminder when an open preventive action comes within a day of its due time,
        and one when it becomes overdue (recorded, so each is sent once)."""
        from watchstander.incident import rca

        sent = 0
        for data in self.store.incidents():
            if not data.get("preventive_actions"):
                continue
            loaded = self.load(str(data["id"]))
            actions = self._actions(loaded)
            done = dict(loaded.extras.get("reminded") or {})
            batch = []
            for state, hits in (
                ("due soon", rca.due_reminders(actions, now, remind_before=self.REMIND_BEFORE)),
                ("OVERDUE", rca.overdue(actions, now)),
            ):
                for a in hits:
                    key = f"{a.id}:{state}"
                    if key in done:
                        continue
                    done[key] = now.isoformat()
                    batch.append({**to_data(a), "state": state})
            if not batch:
                continue
            loaded.extras["reminded"] = done
            loaded = self._announce(
                loaded, "action-reminder", extra={"reminder": batch}, automatic=True
            )
            self.save(loaded)
            sent += len(batch)
        return sent

    def complete_action(
        self, incident_id: str, action_id: str, by: str, *, not_doing: bool = False
    ) -> Loaded:
        from dataclasses import replace

        from watchstander.incident import rca

        loaded = self.load(incident_id)
        actions = self._actions(loaded)
        if action_id not in {a.id for a in actions}:
            known = ", ".join(a.id for a in actions) or "none"
            raise NotFoundError(
                f"{incident_id} has no preventive action {action_id} (has: {known})"
            )
        now = self.clock.now()
        status = rca.ActionStatus.NOT_DOING if not_doing else rca.ActionStatus.DONE
        loaded.extras["preventive_actions"] = [
            to_data(replace(a, status=status, done_at=now) if a.id == action_id else a)
            for a in actions
        ]
        inc = models.record(
            loaded.incident,
            TimelineKind.ACTION,
            now,
            by,
            f"preventive action {action_id}: {status.value}",
        )
        return self.save(Loaded(inc, loaded.extras, loaded.version))

    # -- triage ----------------------------------------------------------------------------

    async def triage(self, incident_id: str, *, symptoms_started: datetime | None = None) -> Loaded:
        """Regression triage (Step 1.5): recent deployments of the service from the store,
        commits from its repository, the verdict, feasibility, blast radius and the
        immediate action; registers CONFIRMED/LIKELY regressions."""
        loaded = self.load(incident_id)
        inc = loaded.incident
        now = self.clock.now()
        window = timedelta(seconds=self.config.triage_window)
        onset = symptoms_started or inc.milestones.started or inc.detected
        deployments = self._deployments(inc.service, onset - window, now)
        commits = await self._commits(onset - window, now)
        symptoms = triage_rules.Symptoms(
            started_at=onset,
            services=(inc.service,),
            worked_before=True if self.store.stable_version(inc.service) else None,
            seen_in_staging=self._seen_in_staging(inc),
        )
        verdict = triage_rules.regression_verdict(
            symptoms, deployments, commits, now, window=window
        )
        suspect = verdict.suspect
        files = sorted({f for c in commits for f in c.files})
        feasibility = triage_rules.rollback_feasibility(files, [c.message for c in commits])
        radius = triage_rules.blast_radius(symptoms, commits, suspect=suspect)
        action = triage_rules.immediate_action(verdict, inc.priority.value, feasibility)
        loaded.extras["triage"] = {
            "verdict": to_data(verdict),
            "feasibility": to_data(feasibility),
            "blast_radius": to_data(radius),
            "action": to_data(action),
            "deployments": [
                {
                    "service": d.service,
                    "version": d.version,
                    "rollout_id": d.rollout_id,
                    "finished_at": d.finished_at.isoformat() if d.finished_at else None,
                    "outcome": d.outcome,
                    "strategy": d.strategy,
                }
                for d in deployments
            ],
            "commits": [
                {
                    "sha": c.sha,
                    "author": c.author,
                    "date": c.date.isoformat(),
                    "subject": c.message.splitlines()[0] if c.message else "",
                    "files": list(c.files),
                }
                for c in commits[:50]
            ],
            "slos": self._slo_states(inc.service, now),
            "at": now.isoformat(),
        }
        strained = [
            f"{s['name']} {s['status']}" + (f" ({s['alert']} alert)" if s["alert"] else "")
            for s in loaded.extras["triage"]["slos"]
            if s["assessment"] != "HEALTHY" or s["alert"]
        ]
        inc = models.record(
            inc,
            TimelineKind.DECISION,
            now,
            ACTOR,
            f"regression triage: {verdict.verdict.value} ({verdict.confidence.value}); "
            f"immediate action {action.type.value}"
            + (f"; SLOs: {', '.join(strained)}" if strained else ""),
        )
        if inc.status is IncidentStatus.DETECTED:
            inc = models.transition(inc, IncidentStatus.TRIAGED, now, ACTOR, "regression triage")
        loaded = Loaded(inc, loaded.extras, loaded.version)
        if verdict.is_regression:
            loaded = self._register(loaded, verdict, suspect, now)
        return self.save(loaded)

    _SLO_KEYS = (
        "name",
        "target",
        "window",
        "sli_24h",
        "budget_remaining",
        "burn_rate_1h",
        "status",
        "assessment",
        "recommendation",
        "alert",
    )

    def _slo_states(self, service: str, now: datetime) -> list[dict[str, Any]]:
        """The service's SLOs as stored measurements show them now (the watch loop measures
        them): budget left, burn rate, the burn-rate alert firing, the assessment."""
        states = service_states(self.ws.config, self.store, now, service)
        return [{k: s[k] for k in self._SLO_KEYS} for s in states]

    def _seen_in_staging(self, inc: Incident) -> bool | None:
        if inc.rollout_id is None:
            return None
        staged = [
            g
            for g in self.store.gates(service=inc.service, kind="staging")
            if g.rollout_id == inc.rollout_id
        ]
        return None if not staged else staged[-1].decision == "FAIL"

    def _deployments(
        self, service: str, since: datetime, until: datetime
    ) -> list[triage_rules.Deployment]:
        out = []
        for r in self.store.list_rollouts(service=service, limit=200):
            if r.created_at < since or r.created_at > until:
                continue
            out.append(
                triage_rules.Deployment(
                    service=r.service,
                    version=r.version,
                    rollout_id=r.id,
                    finished_at=r.finished_at,
                    started_at=r.created_at,
                    outcome={
                        RolloutPhase.SUCCEEDED: "succeeded",
                        RolloutPhase.ROLLED_BACK: "rolled_back",
                        RolloutPhase.ABORTED: "aborted",
                        RolloutPhase.FAILED: "failed",
                    }.get(r.phase, "in_progress"),
                    strategy=r.strategy.value,
                    previous_version=r.stable_version or "",
                )
            )
        return out

    def _repository(self) -> Path | None:
        repo = self.config.repository
        return None if repo is None else (self.ws.config_path.parent / repo).resolve()

    async def _commits(self, since: datetime, until: datetime) -> list[triage_rules.Commit]:
        repo = self._repository()
        if repo is None:
            return []
        from watchstander.providers.vcs import git

        found = await git.commits(repo, since=since, until=until)
        return [
            triage_rules.Commit(
                sha=c.sha, author=c.author, date=c.date, message=c.message, files=c.files
            )
            for c in found
        ]

    def _register(self, loaded: Loaded, verdict: Any, suspect: Any, now: datetime) -> Loaded:
        from watchstander.incident import register

        existing = loaded.extras.get("regressions") or []
        if existing:
            return loaded
        inc = loaded.incident
        reg_id = self.store.next_regression_id(now)
        entry = register.RegressionEntry.from_data(
            {
                "regression_id": reg_id,
                "incident_id": inc.id,
                "detection_date": now.date().isoformat(),
                "severity": inc.priority.value,
                "introduced_change": {
                    # Known after `incident bisect`; until then, name the deployment.
                    "commit_sha": "not bisected yet"
                    + (f" ({suspect.rollout_id} {suspect.version})" if suspect is not None else ""),
                    "pr_number": None,
                    "author": None,
                    "merge_date": None,
                    "deployment_date": suspect.finished_at.date().isoformat()
                    if suspect is not None and suspect.finished_at
                    else None,
                },
                "regression_category": "performance"
                if inc.category is Category.PERFORMANCE
                else "functional",
                "affected_functionality": {
                    "component": inc.service,
                    "feature": inc.title,
                    "user_facing": "YES",
                },
                "detection_gap": {
                    "escaped_testing": "staging",
                    "detection_time": None,
                    "reason": None,
                },
                "mitigation_action": "rollback" if inc.rollout_id else None,
                "mitigation_time": None,
                "preventive_actions": [],
                "status": "MITIGATED" if inc.rollout_id else "OPEN",
            },
            source=f"{inc.id} triage",
        )
        data = entry.to_data()
        self.store.save_regression(
            id=reg_id, incident_id=inc.id, status=str(data["status"]), detected_at=now, data=data
        )
        loaded.extras["regressions"] = [data]
        self.write_register()
        return loaded

    def write_register(self) -> list[Path]:
        from watchstander.reports.incidents import write_regression_register

        written: list[Path] = write_regression_register(
            self.store.regressions(), self.ws.reports_root
        )
        return written

    # -- bisect ------------------------------------------------------------------------------

    async def bisect(
        self, incident_id: str, *, good: str, bad: str, test: str, timeout: float
    ) -> Loaded:
        from watchstander.providers.vcs import git

        repo = self._repository()
        if repo is None:
            raise UsageError("incidents.repository is not set in watchstander.yaml")
        command = shlex.split(test)
        if not command:
            raise UsageError("--test needs a command")
        result = await git.bisect(repo, good, bad, command, timeout=timeout)
        loaded = self.load(incident_id)
        c = result.commit
        loaded.extras["bisect"] = {
            "good": result.good,
            "bad": result.bad,
            "commit": {
                "sha": c.sha,
                "author": c.author,
                "email": c.email,
                "date": c.date.isoformat(),
                "subject": c.subject,
                "message": c.message,
                "files": list(c.files),
            },
            "tested": result.tested,
            "log": result.log,
            "at": self.clock.now().isoformat(),
        }
        inc = models.record(
            loaded.incident,
            TimelineKind.DECISION,
            self.clock.now(),
            ACTOR,
            f"bisect: introduced by {c.sha[:12]} {c.subject} ({c.author})",
        )
        for reg in loaded.extras.get("regressions") or []:
            reg["introduced_change"]["commit_sha"] = c.sha
            reg["introduced_change"]["author"] = c.author
            reg["introduced_change"]["merge_date"] = c.date.date().isoformat()
            self.store.save_regression(
                id=reg["regression_id"],
                incident_id=incident_id,
                status=reg["status"],
                detected_at=self.clock.now(),
                data=reg,
            )
        loaded = self.save(Loaded(inc, loaded.extras, loaded.version))
        self.write_register()
        return loaded

    # -- alert intake ----------------------------------------------------------------------

    def _for_priority(self, hint: str | None) -> tuple[Impact, Urgency]:
        """Impact x urgency that give the hinted priority (default P2)."""
        prio = next((p for p in Priority if p.value == hint), Priority.P2)
        return priority.cell_for(prio)

    def ingest_alertmanager(self, data: bytes | str, source: str) -> tuple[str, str]:
        """One Alertmanager v4 webhook: deduplicated on groupKey. Firing opens (or updates)
        an incident; resolved resolves it. Returns (incident id, outcome)."""
        from watchstander.inputs.alertmanager import parse_alertmanager, severity_hint

        group = parse_alertmanager(data, source)  # InputError before anything is stored
        now = self.clock.now()
        known = self.store.alert_key("alertmanager", group.group_key)
        if group.status == "resolved":
            if known is None or known[1] == "resolved":
                return (known[0] if known else "", "dropped")
            loaded = self.load(known[0])
            self.store.set_alert_key(
                "alertmanager", group.group_key, incident_id=known[0], state="resolved", at=now
            )
            if loaded.incident.is_open:
                self.set_status(known[0], IncidentStatus.RESOLVED, "alertmanager", group.summary)
            return known[0], "resolved"
        if known is not None and known[1] == "firing":
            loaded = self.load(known[0])
            names = ", ".join(sorted({a.name for a in group.firing}))
            inc = models.record(
                loaded.incident,
                TimelineKind.NOTE,
                now,
                "alertmanager",
                f"still firing: {len(group.firing)} alert(s) ({names})",
            )
            self.save(Loaded(inc, loaded.extras, loaded.version))
            return known[0], "updated"
        impact, urgency = self._for_priority(severity_hint(group))
        service = group.common_labels.get("service") or group.common_labels.get("job")
        loaded = self.declare(
            title=group.summary,
            impact=impact,
            urgency=urgency,
            service=service or None,
            description="\n".join(f"{a.name}: {a.summary}" for a in group.firing),
            reporter=f"alertmanager ({group.receiver})",
            detection_method=DetectionMethod.AUTOMATED_ALERT,
            dedup_keys=[group.group_key],
            started=min((a.starts_at for a in group.firing if a.starts_at), default=None),
        )
        self.store.set_alert_key(
            "alertmanager", group.group_key, incident_id=loaded.incident.id, state="firing", at=now
        )
        return loaded.incident.id, "opened"

    def ingest_pagerduty(self, data: bytes | str, source: str) -> tuple[str, str]:
        """One PagerDuty Events v2 body: trigger opens, acknowledge acknowledges, resolve
        resolves; ack/resolve after resolve are dropped (PagerDuty's dedup rules)."""
        from watchstander.inputs.pagerduty import (
            PagerDutyDedup,
            parse_pagerduty_event,
            severity_hint,
        )

        event = parse_pagerduty_event(data, source)
        now = self.clock.now()
        key = event.dedup_key or f"pd-{now.timestamp():.6f}"
        known = self.store.alert_key("pagerduty", key)
        state = {key: known[1]} if known else {}
        after, outcome = PagerDutyDedup.apply(state, event, new_key=key)  # type: ignore[arg-type]
        if outcome in ("dropped", "duplicate"):
            return (known[0] if known else "", outcome)
        if outcome == "opened":
            assert event.payload is not None
            impact, urgency = self._for_priority(severity_hint(event))
            loaded = self.declare(
                title=event.payload.summary,
                impact=impact,
                urgency=urgency,
                service=event.payload.component or None,
                reporter=f"pagerduty ({event.payload.source})",
                detection_method=DetectionMethod.AUTOMATED_ALERT,
                dedup_keys=[key],
            )
            incident_id = loaded.incident.id
        else:
            assert known is not None
            incident_id = known[0]
            if outcome == "acknowledged":
                self.acknowledge(incident_id, "pagerduty")
            elif outcome == "resolved" and self.load(incident_id).incident.is_open:
                self.set_status(incident_id, IncidentStatus.RESOLVED, "pagerduty", "resolve event")
        self.store.set_alert_key(
            "pagerduty", key, incident_id=incident_id, state=after[key], at=now
        )
        return incident_id, outcome

    # -- mitigation, RCA, review ---------------------------------------------------------

    async def mitigate_by_rollback(self, incident_id: str, by: str) -> Loaded:
        """Step 6 through the deploy engine: abort the rollout in progress, or undo the
        last release; then validate recovery from the rollout's own verification."""
        from watchstander.engine import operations

        loaded = self.load(incident_id)
        if loaded.incident.security_breach and "evidence" not in loaded.extras:
            # Evidence first: a rollback replaces the processes whose logs matter.
            loaded = await self.preserve_evidence(incident_id, by)
        now = self.clock.now()
        inc = loaded.incident
        if inc.status in (
            IncidentStatus.DETECTED,
            IncidentStatus.TRIAGED,
            IncidentStatus.INVESTIGATING,
        ):
            inc = models.transition(inc, IncidentStatus.MITIGATING, now, by, "rollback")
        inc = models.record(inc, TimelineKind.ACTION, now, by, "mitigation: rollback started")
        loaded = self.save(Loaded(inc, loaded.extras, loaded.version))
        active = self.store.active_rollout(inc.service)
        if active is not None:
            rollout, _ = await operations.control(self.ws, "abort", rollout_id=active.id, by=by)
            action = f"abort of rollout {active.id}"
        else:
            rollout = await operations.undo(self.ws, clock=self.clock)
            action = f"undo ({rollout.id}: back to {rollout.version})"
        validated = rollout.phase in (
            RolloutPhase.ABORTED,
            RolloutPhase.ROLLED_BACK,
            RolloutPhase.SUCCEEDED,
        )
        checks = [
            e.message for e in self.store.events(rollout.id) if e.kind.startswith("rollback.")
        ]
        loaded = self.load(incident_id)
        now = self.clock.now()
        loaded.extras["mitigation"] = {
            "action": "rollback",
            "rollout_id": rollout.id,
            "outcome": rollout.phase.value,
            "validated": validated,
            "checks": checks or [rollout.message],
            "at": now.isoformat(),
            "by": by,
        }
        inc = models.record(
            loaded.incident,
            TimelineKind.ACTION,
            now,
            by,
            f"mitigation: {action} -> {rollout.phase.value}"
            + (" (recovery validated)" if validated else " (NOT validated)"),
        )
        if validated:
            inc = models.set_milestone(inc, models.Milestone.MITIGATED, now, by)
        return self.save(Loaded(inc, loaded.extras, loaded.version))

    def record_rca(self, incident_id: str, data: Mapping[str, Any], source: str, by: str) -> Loaded:
        """5 Whys and/or fishbone from a parsed YAML mapping; InputError names the field."""
        from watchstander.errors import InputError
        from watchstander.incident import rca

        if not isinstance(data, Mapping):
            raise InputError(f"{source}: expected a mapping with five_whys and/or fishbone")
        unknown = sorted(set(data) - {"five_whys", "fishbone", "preventive_actions"})
        if unknown:
            raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}")
        whys = (
            rca.FiveWhys.from_yaml_data(data["five_whys"], source, at="five_whys.")
            if "five_whys" in data
            else None
        )
        bone = (
            rca.Fishbone.from_yaml_data(data["fishbone"], source, at="fishbone.")
            if "fishbone" in data
            else None
        )
        if whys is None and bone is None:
            raise InputError(f"{source}: needs five_whys or fishbone")
        loaded = self.load(incident_id)
        now = self.clock.now()
        actions = (
            rca.PreventiveAction.list_from_yaml_data(
                data["preventive_actions"], source, pir_at=now, at="preventive_actions"
            )
            if "preventive_actions" in data
            else None
        )
        root = (
            whys.root_cause
            if whys is not None
            else (bone.primary.text if bone and bone.primary else "")
        )
        loaded.extras["rca"] = {
            "five_whys": to_data(whys) if whys else None,
            "fishbone": to_data(bone) if bone else None,
            "root_cause": root,
            "at": now.isoformat(),
        }
        if actions is not None:
            loaded.extras["preventive_actions"] = [to_data(a) for a in actions]
        inc = models.record(loaded.incident, TimelineKind.DECISION, now, by, f"root cause: {root}")
        return self.save(Loaded(inc, loaded.extras, loaded.version))

    # -- metrics ---------------------------------------------------------------------------

    def stats(self, since: datetime | None = None) -> dict[str, Any]:
        """MTTD/MTTA/MTTE/MTTR by priority and the outcome rates, from stored incidents."""
        from watchstander.incident import metrics

        stored = self.store.incidents(since=since)
        incidents = [codec.from_data(d) for d in stored]
        outcomes = []
        for inc, data in zip(incidents, stored, strict=True):
            verdict = ((data.get("triage") or {}).get("verdict") or {}).get("verdict")
            mitigation = data.get("mitigation") or {}
            rca = data.get("rca") or {}
            outcomes.append(
                metrics.Outcome(
                    incident_id=inc.id,
                    priority=inc.priority,
                    milestones=inc.milestones,
                    deployment_related=bool((data.get("triage") or {}).get("deployments")),
                    regression=verdict in ("CONFIRMED", "LIKELY"),
                    rollback_attempted=mitigation.get("action") == "rollback",
                    rollback_resolved=bool(mitigation.get("validated")),
                    root_cause_id=(rca.get("root_cause") or None),
                )
            )

        def seconds(value: timedelta | None) -> float | None:
            return None if value is None else round(value.total_seconds(), 3)

        out: dict[str, Any] = {"incidents": len(incidents), "by_priority": {}}
        for metric in (
            metrics.Metric.MTTD,
            metrics.Metric.MTTA,
            metrics.Metric.MTTE,
            metrics.Metric.MTTR,
        ):
            for prio, summary in metrics.by_priority(incidents, metric).items():
                row = out["by_priority"].setdefault(prio.value, {})
                row[metric.name.lower()] = {
                    "count": summary.count,
                    "missing": summary.missing,
                    "mean_s": seconds(summary.mean),
                    "median_s": seconds(summary.median),
                }
        for name, rate in (
            ("regression_detection_rate", metrics.regression_detection_rate(outcomes)),
            ("rollback_success_rate", metrics.rollback_success_rate(outcomes)),
            ("recurrence_rate", metrics.recurrence_rate(outcomes)),
            ("pir_completion_rate", metrics.pir_completion_rate(outcomes)),
        ):
            out[name] = {
                "numerator": rate.numerator,
                "denominator": rate.denominator,
                "value": rate.value,
            }
        return out

    # -- security incidents: evidence before mitigation -------------------------------------

    async def preserve_evidence(self, incident_id: str, by: str) -> Loaded:
        """Copy the data plane's logs (production and staging) and a metric snapshot into
        .aiwg/incidents/{id}/evidence/ with a sha256 manifest (sha256sum format, checkable
        with `sha256sum -c`), before a mitigation changes anything."""
        import hashlib
        import json
        import shutil

        from watchstander.analysis.models import MetricQuery
        from watchstander.engine.operations import make_metrics

        loaded = self.load(incident_id)
        now = self.clock.now()
        folder = self.ws.reports_root / "incidents" / incident_id / "evidence"
        folder.mkdir(parents=True, exist_ok=True)
        copied: list[Path] = []
        state = self.ws.state_dir
        sources = [state / "dataplane.log", *sorted((state / "logs").glob("*.log"))]
        staging = state / "staging"
        sources += [staging / "dataplane.log", *sorted((staging / "logs").glob("*.log"))]
        for source in sources:
            if source.is_file():
                dest = folder / str(source.relative_to(state)).replace("/", "__")
                shutil.copyfile(source, dest)
                copied.append(dest)
        service = loaded.incident.service
        version = self.store.stable_version(service)
        snapshot: dict[str, Any] = {"taken_at": now.isoformat(), "version": version, "metrics": {}}
        if version is not None:
            source_metrics = make_metrics(self.ws.config)
            try:
                for metric in ("error_rate", "latency_p99", "throughput", "requests"):
                    sample = await source_metrics.query(
                        MetricQuery(metric, service, version, now - timedelta(hours=1), now)
                    )
                    snapshot["metrics"][metric] = {
                        "value": sample.value,
                        "count": sample.count,
                        "query": sample.query,
                        "error": sample.error,
                    }
            finally:
                await source_metrics.aclose()
        snap = folder / "metrics-snapshot.json"
        snap.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        copied.append(snap)
        lines = [
            f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}"
            for path in sorted(copied)
        ]
        (folder / "manifest.sha256").write_text("\n".join(lines) + "\n", encoding="utf-8")
        loaded.extras["evidence"] = {
            "at": now.isoformat(),
            "by": by,
            "files": [p.name for p in sorted(copied)],
            "manifest": "evidence/manifest.sha256",
        }
        inc = models.record(
            loaded.incident,
            TimelineKind.ACTION,
            now,
            by,
            f"evidence preserved: {len(copied)} file(s) with a sha256 manifest",
        )
        return self.save(Loaded(inc, loaded.extras, loaded.version))


def _first(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if text and text.strip() else "see the rollout"
    return line if len(line) <= 120 else line[:117] + "..."


def find(store: Store, incident_id: str) -> dict[str, Any]:
    try:
        return store.incident(incident_id)
    except NotFoundError:
        raise NotFoundError(
            f"no incident {incident_id} (see 'watchstander incident list')"
        ) from None
