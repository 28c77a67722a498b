"""Firing a move on a database row: one discipline for every workflow (events, feedback items).

A workflow is a module-level `transitions.Machine` (model=None) plus what the service needs
around it: the data each trigger takes, which triggers need a supervisor or are the system's
own, and Chinese labels for messages. `fire()` checks a move in a fixed order — known trigger,
the caller's role, the version the caller saw, the state — then validates the move's data, runs
the machine (guards collect every broken rule) and appends the audit line, all in the caller's
transaction. The row's version is SQLAlchemy's version counter, bumped by the one flush a move
makes, so a write based on a stale read fails even if it slipped past the check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session
from transitions import Machine

from models import TransitionLog
from workflows.kernel import audit, tenancy
from workflows.kernel.errors import (
    DomainError,
    MoveRefused,
    Violation,
    move_not_allowed,
    stale_version,
)
from workflows.kernel.visibility import Actor, require_write_somewhere


class Row(Protocol):
    """What a workflow row has: a state, a version, an update time."""

    id: int | None
    state: str
    version: int
    updated_at: datetime


class MoveContext(Protocol):
    """What a machine's callbacks share: broken rules and the audit line's data."""

    violations: list[Violation]
    audit: dict[str, Any]


@dataclass(frozen=True)
class Workflow:
    """A machine and the service rules around it."""

    machine: Machine
    triggers: list[str]  # in the order they are offered
    move_data: Mapping[str, type[BaseModel]]
    state_labels_zh: Mapping[str, str]
    trigger_labels_zh: Mapping[str, str]
    what_zh: str  # "活动", "意见"
    what_en: str  # "event", "feedback item"
    audit_prefix: str = ""  # feedback moves are logged as "feedback.<trigger>"
    supervisor_triggers: frozenset[str] = field(default_factory=frozenset)
    system_triggers: frozenset[str] = field(default_factory=frozenset)

    def allowed(self, state: str, actor: Actor | None = None) -> list[str]:
        """Moves the machine allows from a state, for this caller (None: the system)."""
        available = self.machine.get_triggers(state)
        triggers = [t for t in self.triggers if t in available]
        if actor is None:
            return triggers
        if not actor.can_write:
            return []
        return [
            t
            for t in triggers
            if t not in self.system_triggers
            and (actor.is_supervisor or t not in self.supervisor_triggers)
        ]

    def public_triggers(self) -> list[str]:
        """Triggers people may send (the system's own left out)."""
        return [t for t in self.triggers if t not in self.system_triggers]

    def check_role(self, trigger: str, actor: Actor, *, system: bool = False) -> None:
        """Refusals the caller's role alone decides: unknown trigger, read-only, supervisors only.

        Runs before anything about the row or the move's data is looked at.
        """
        known = self.public_triggers()
        if trigger not in self.move_data or (trigger in self.system_triggers and not system):
            known_zh = "、".join(self.trigger_labels_zh.get(k, k) for k in known)
            raise DomainError(
                "unknown_trigger",
                f"未知操作“{trigger}”，可选：{known_zh}",
                f"unknown trigger '{trigger}'; known: {', '.join(known)}",
                status=422,
                details={"known": known},
            )
        require_write_somewhere(actor)  # fire() narrows a city supervisor to the row's district
        if trigger in self.supervisor_triggers and not actor.is_supervisor:
            label = self.trigger_labels_zh.get(trigger, trigger)
            raise MoveRefused(
                trigger,
                "",
                [
                    Violation(
                        f"{trigger}_requires_supervisor",
                        f"仅{actor.office_zh}督查人员可以{label}",
                        f"only district-office supervisors may {trigger.replace('_', '-')}",
                        {"role": actor.role},
                        403,
                    )
                ],
                [],
            )

    def check_state(
        self, row: Row, trigger: str, expected_version: int, allowed: list[str]
    ) -> None:
        """The caller saw the current version, and the machine has this move from this state."""
        if row.version != expected_version:
            raise MoveRefused(
                trigger,
                row.state,
                [stale_version(self.what_zh, self.what_en, row.version, expected_version)],
                allowed,
            )
        if trigger not in self.machine.get_triggers(row.state):
            violation = move_not_allowed(
                trigger,
                self.trigger_labels_zh.get(trigger, trigger),
                row.state,
                self.state_labels_zh.get(row.state, row.state),
                allowed,
                [self.trigger_labels_zh.get(t, t) for t in allowed],
            )
            raise MoveRefused(trigger, row.state, [violation], allowed)

    def parse(self, trigger: str, data: BaseModel | Mapping[str, Any] | None) -> BaseModel:
        """The move's data as the trigger's model (pydantic's ValidationError names the field)."""
        model = self.move_data[trigger]
        if isinstance(data, model):
            return data
        if isinstance(data, BaseModel):
            data = data.model_dump()
        return model.model_validate(data or {})


def fire(
    session: Session,
    flow: Workflow,
    row: Row,
    trigger: str,
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
    make_move: Callable[[BaseModel], MoveContext],
    audit_ids: Mapping[str, Any],
    reason: str | None = None,
    data: BaseModel | Mapping[str, Any] | None = None,
    system: bool = False,
) -> TransitionLog:
    """Apply one move to a row already loaded (and locked) in `session`, with its audit line.

    Nothing is committed here: the caller owns the transaction, so the move, its audit line and
    everything its callbacks wrote commit together or not at all.
    """
    if not system:  # a city supervisor acts only in a district that granted it (docs/tenancy.md)
        actor = tenancy.act_in(session, actor, getattr(row, "unit_id", None))
    flow.check_role(trigger, actor, system=system)
    allowed = flow.allowed(row.state, None if system else actor)
    flow.check_state(row, trigger, expected_version, allowed)
    move = make_move(flow.parse(trigger, data))
    from_state = row.state
    # No autoflush inside the move: the row is written once, at the flush below, so its version
    # goes up by exactly one per move (callbacks flush their own rows explicitly).
    with session.no_autoflush:
        moved = flow.machine.events[trigger].trigger(row, move=move)
    if not moved:
        raise MoveRefused(trigger, from_state, move.violations, allowed)
    row.updated_at = now
    flag_modified(row, "updated_at")  # one UPDATE, so one new version, whatever changed
    session.flush()  # bumps the version; a concurrent writer's version makes this fail
    entry = TransitionLog(
        **audit_ids,
        trigger=flow.audit_prefix + trigger,
        from_state=from_state,
        to_state=row.state,
        version=row.version,
        actor_id=actor.id,
        actor_name=actor.name,
        at=now,
        reason=reason,
        data=move.audit,
    )
    return audit.append(session, entry)  # chained to the log's last row, flushed now
