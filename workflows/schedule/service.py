"""Importing a schedule table into a campaign, start to finish, for every door (API, CLI).

Read the file, plan against the campaign, and — unless it is a dry run — write it in the
caller's transaction. The caller commits (or rolls back on `ImportRefused`) and answers in its
own terms: JSON and status codes, or a printed table and an exit code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from workflows.accounts import duties
from workflows.campaign import service as campaigns
from workflows.campaign.closure import require_open
from workflows.escalation.batch import NotifyConfig
from workflows.files.archive_guard import ImportLimits
from workflows.kernel import tenancy
from workflows.kernel.visibility import Actor
from workflows.schedule.importer import ImportReport, apply_import, plan_import
from workflows.schedule.tables import read_table


def require_importer(session: Session | None, actor: Actor, now: datetime | None = None) -> None:
    """Who imports a schedule table: the district office's supervisors and, of the three
    administrators, the system administrator (三员分立: imports are a system duty; with a
    session its import is an audit line); everyone else 403."""
    duties.require_or_supervisor(session, actor, duties.Duty.imports, now)


def import_schedule(
    session: Session,
    campaign_id: int,
    data: bytes,
    filename: str,
    *,
    actor: Actor,
    now: datetime,
    notify: NotifyConfig | None = None,
    limits: ImportLimits | None = None,
    dry_run: bool = False,
    accept_warnings: bool = False,
    confirm_past_escalations: bool = False,
    on_plan: Callable[[ImportReport], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Read `data` as a schedule table, plan it into the campaign and, unless a dry run, write it.

    Raises `TableError` for a file that is not a schedule table, `NotFound` for an unknown
    campaign, and `ImportRefused` (carrying the report) while errors, unaccepted warnings or
    unconfirmed past escalations stand — nothing is written then. `on_plan` sees the report
    before anything is written; `progress` is told how many events each written chunk held.
    """
    require_importer(None if dry_run else session, actor, now)
    campaign = campaigns.get(session, campaign_id, actor)
    if not dry_run:
        # A city supervisor imports where the campaign's district granted it (as that
        # district's supervisor, 403 `district_grant_required` elsewhere); the other city
        # readers may look at a table's plan, not import it.
        actor = tenancy.act_in_district(session, actor, campaign.district_id)
        actor.require_acting()
    table = read_table(data, filename, limits)
    require_open(campaign)  # last year's campaign is read-only (issue 30)
    report = plan_import(session, campaign, table, now=now, notify=notify)
    report.dry_run = dry_run
    if on_plan is not None:
        on_plan(report)
    if dry_run:
        return report
    return apply_import(
        session,
        campaign,
        report,
        accept_warnings=accept_warnings,
        actor=actor,
        now=now,
        confirm_past_escalations=confirm_past_escalations,
        notify=notify,
        progress=progress,
    )
