"""Which district a transaction works for, told to PostgreSQL's row-level security.

The application rule (workflows/kernel/visibility.py) narrows every query; on PostgreSQL the
database narrows them again (docs/tenancy.md): policies on the tenant tables read two settings
of the current transaction, `openday.district` (a district id) and `openday.scope` (one of the
named city-wide scopes below). Neither is ever set per connection: `bind` records the tenant on
the session, and one hook (`after_begin`) sets both with `set_config(..., true)` (bound
parameters, local to the transaction) each time the session opens a transaction, so a pooled
connection never carries a district into the next request. A transaction with neither set sees
no tenant row.

SQLite has no row-level security: there the same code runs with the application rule alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import col

from models import Event, Role, Unit
from models.db import TENANT_KEY
from workflows.kernel.visibility import CITY_READERS, Actor, acting_in

log = structlog.get_logger("openday.tenancy")

INFO_KEY = TENANT_KEY


@dataclass(frozen=True)
class Tenant:
    """What a transaction may see: one district, or a named city-wide scope, or nothing."""

    district_id: int | None = None
    scope: str = ""

    def __post_init__(self) -> None:
        if self.scope and self.scope not in SCOPES:
            raise ValueError(f"unknown tenant scope {self.scope!r}")


# The named city-wide scopes; the policies (migration 0042) accept exactly these. Readers see
# every district and change nothing; writers are jobs and the city's administrators.
CITY_READ = "city:read"  # city supervisors, viewers and the audit administrator
PUBLIC = "city:public"  # citizens' pages: public calendar, registration, receipts (no sign-in)
CITY_ADMIN = "city:admin"  # a city admin (every district)
SWEEP = "city:sweep"  # the scheduler and workers: timers, escalations, digests, deliveries
CLI = "city:cli"  # a command run on the server by its operator
ACCESS = "city:access"  # city-level access lines (sign-ins, duties, refused links)
MIGRATE = "city:migrate"  # migrations (as the owner)
READ_SCOPES = (CITY_READ, PUBLIC)
WRITE_SCOPES = (CITY_ADMIN, SWEEP, CLI, MIGRATE)
# Reads as city:read; writes only city-level rows (no district: migration 0045).
SCOPES = (*READ_SCOPES, *WRITE_SCOPES, ACCESS)

NOBODY = Tenant()


def of(actor: Actor) -> Tenant:
    """The tenant of a signed-in caller: its district, or a city scope by what it may do."""
    if actor.district_id is not None:
        return Tenant(actor.district_id)
    if actor.id is None:  # SYSTEM and the anonymous actors of answer links: the job's scope
        return Tenant(scope=SWEEP)
    # City supervisors, viewers and the audit administrator read; the city's system and
    # security administrators also keep units and accounts.
    return Tenant(scope=CITY_READ if actor.role in CITY_READERS else CITY_ADMIN)


def bind(session: OrmSession, tenant: Tenant) -> None:
    """Work for `tenant` from now on in this session: in the open transaction at once, and in
    every transaction the session opens later."""
    session.info[INFO_KEY] = tenant
    if session.in_transaction():
        _apply(session.connection(), tenant)
    if tenant.scope in (SWEEP, CLI, MIGRATE):
        log.debug("tenant_city_scope", scope=tenant.scope)


@contextmanager
def as_jobs(session: OrmSession) -> Iterator[None]:
    """Work under the jobs' city scope for a block of statements inside a district's job
    transaction, then for the district again: a district's timers attach their items to a
    recipient's digest, a city-level row (one per recipient, items of any district). Only
    job code calls this (workflows/escalation/digests.attach); it is logged."""
    before = session.info.get(INFO_KEY)
    if before is None or before.district_id is None:
        yield  # already city-wide (or unbound): nothing to widen
        return
    log.info("tenant_widened_for_jobs", district=before.district_id, scope=SWEEP)
    _apply(session.connection(), JOBS)
    yield
    _apply(session.connection(), before)  # not on an error: the transaction is rolled back


def set_aside(session: OrmSession) -> Tenant | None:
    """Before a request's first statement when it reads shared tables only (the token's
    account: `account` and `api_token` carry no policy): the session's tenant is taken off, so
    its transaction begins with none bound and no `set_config` round trip is spent on a tenant
    the read does not need. A transaction with no tenant sees no tenant row, so nothing is
    widened; the caller binds the tenant it learns (`bind_actor`), or puts back what this
    returns (`bind`). Inside an open transaction nothing changes (None)."""
    if session.in_transaction():
        return None
    return session.info.pop(INFO_KEY, None)


def bind_actor(session: OrmSession, actor: Actor) -> None:
    """`bind` the caller's tenant."""
    bind(session, of(actor))


def before_lock(session: OrmSession, actor: Actor, unit_of_row: Any) -> None:
    """Before a write's locking read (SELECT … FOR UPDATE, which PostgreSQL holds to the write
    policies, so under `city:read` it finds nothing): a city supervisor has the row's district
    bound first (`act_in`; 403 `district_grant_required` where it holds no grant of it, as on
    SQLite, rather than the 404 the lock would give). `unit_of_row` selects the row's unit id.
    Nothing for anyone else."""
    if not (actor.city and actor.role == Role.supervisor):
        return
    unit_id = session.execute(unit_of_row).scalar()
    if unit_id is not None:
        act_in(session, actor, unit_id)


def for_citizen(session: OrmSession, event_id: int) -> None:
    """A citizen's write concerns one event (a registration, its cancellation, an answer to an
    invitation or to a waiting-list offer). The public scope reads every district and writes
    none, and PostgreSQL holds a locking read to the write policies (under it the event is not
    found), so the transaction works for the event's district from here on. Only a session on
    the public scope changes: a signed-in caller keeps its own tenant."""
    if session.info.get(INFO_KEY) != CITIZENS:
        return
    district_id = session.execute(
        sa.select(col(Unit.district_id))
        .join(Event, col(Event.unit_id) == col(Unit.id))
        .where(col(Event.id) == event_id)
    ).scalar()
    if district_id is not None:  # no such event: the caller's own NotFound follows
        bind(session, Tenant(district_id))


def for_access_line(session: OrmSession, district_id: int | None) -> None:
    """Before an access line in the change log (a sign-in or its failure, a password or
    second-factor change, an administrator's duty or read, a refused answer link): the line
    belongs to the account's district (`district_id`), or is city-level (a city account, an
    unknown name, a forged link).
    Where the transaction cannot write it — a sign-in's public transaction, a city reader's —
    it works from here on for that district, or under the access lines' city scope (logged).
    A tenant that may already write it is kept."""
    current = session.info.get(INFO_KEY)
    if current is not None and (
        current.scope in WRITE_SCOPES
        or (district_id is not None and current.district_id == district_id)
        or (district_id is None and current.scope == ACCESS)
    ):
        return
    if district_id is not None:
        bind(session, Tenant(district_id))
        return
    log.info("tenant_city_scope_for_access_line", scope=ACCESS)
    bind(session, Tenant(scope=ACCESS))


def act_in(session: OrmSession, actor: Actor, unit_id: int | None) -> Actor:
    """The actor a write on a row of the unit runs with: `act_in_district` of the unit's
    district (unchanged for everyone but the city's readers; no such unit: unchanged, the
    caller's own NotFound follows)."""
    if not (actor.city and actor.role in CITY_READERS) or unit_id is None:
        return actor
    district_id = session.execute(
        sa.select(col(Unit.district_id)).where(col(Unit.id) == unit_id)
    ).scalar()
    return act_in_district(session, actor, district_id)


def act_in_district(session: OrmSession, actor: Actor, district_id: int | None) -> Actor:
    """The actor a write in the district runs with (visibility.acting_in): a city supervisor
    holding the district's grant acts as that district's supervisor, and the rest of the
    write's transaction (and the request's later ones) works for that district
    (`Tenant(district_id)`: PostgreSQL lets it write that district only); without a grant 403
    `district_grant_required`. Everyone else: unchanged. Rows of a unit go through `act_in`,
    a district's own rows (a campaign, its sample draws, a new campaign) come here."""
    if not (actor.city and actor.role in CITY_READERS) or district_id is None:
        return actor
    found = session.execute(sa.select(col(Unit.id)).where(col(Unit.district_id) == district_id))
    units = frozenset(int(i) for i in found.scalars() if i is not None)
    acting = acting_in(actor, district_id, units)
    bind(session, Tenant(district_id))
    log.info("acting_in_district", account=actor.id, district=district_id)
    return acting


_SET = sa.text(
    "SELECT set_config('openday.district', :district, true), "
    "set_config('openday.scope', :scope, true)"
)


def _apply(connection: Any, tenant: Tenant) -> None:
    if connection.dialect.name != "postgresql":
        return  # SQLite: the application rule alone
    district = "" if tenant.district_id is None else str(int(tenant.district_id))
    connection.execute(_SET, {"district": district, "scope": tenant.scope})


@event.listens_for(OrmSession, "after_begin")
def _on_begin(session: OrmSession, _transaction: Any, connection: Any) -> None:
    """The one place a transaction learns its tenant: each time a session begins one."""
    tenant = session.info.get(INFO_KEY)
    if tenant is not None:
        _apply(connection, tenant)


CITIZENS = Tenant(scope=PUBLIC)
"""The tenant of a request with no sign-in: citizens' pages read what is public everywhere."""
JOBS = Tenant(scope=SWEEP)
"""The scheduler's and workers' tenant: every district (each job's rows carry their own)."""
OPERATOR = Tenant(scope=CLI)
"""The command line's tenant: the server's operator works for the whole city."""


# The tables migration 0042 put under row-level security: those holding `district_id`, then
# those reached through a parent's row. `account` holds a district too but is shared: an account
# is found by its token or name before any district is known (its district is its level).
ROOT_TABLES = ("unit", "campaign")
CHILD_TABLES = (
    "unit_name", "event", "bulletin", "sample_draw", "campaign_unit", "public_registration",
    "attachment", "cancellation_request", "correction_request", "invitee", "site_visit",
    "spot_check", "summary", "feedback_item", "rectification", "event_filing", "extension_request",
    "feedback_transfer", "opinion_reply", "rectification_file", "visit_photo",
)  # fmt: skip
# Migration 0043: tables that carry their own `district_id`, filled at insert from the row they
# concern (on PostgreSQL by a trigger when the writer leaves it unset); NULL is a city-level row
# (a digest, a calendar line, the change log's anchor), seen only by the city scopes. The change
# log is the city's one chain: its tail is read through a function under a city scope
# (audit.CHANGE_LOG_TAIL_FUNCTION), and `openday audit verify` runs under the CLI's scope.
LINE_TABLES = (
    "change_log", "transition_log", "notification", "inbox_message", "timer", "outbox",
    "audit_anchor",
)  # fmt: skip
SHARED_TABLES = ("account", "district_grant")
