"""`openday audit …`: the tamper-evident audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import typer

from cli.shared import console, fail, open_engine, operator
from settings import get_settings

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute every audit row's keyed hash chain and match every event to its chain; name
    the first broken link and every event its chain does not account for, exit 1 if any."""
    from models.db import reading, session_scope
    from workflows.kernel import audit

    with session_scope(reading(open_engine()), tenant=operator()) as session:
        reports = audit.verify(session)
        unmatched = audit.unmatched_events(session)
    for chain in reports:
        if chain.broken is None:
            head = (
                f"{chain.chains} chains (one per event), fingerprint of their heads"
                if chain.table in audit.PER_EVENT
                else f"head seq {chain.head_seq}"
            )
            resumed = f", {chain.anchored} resumed from archive anchors" if chain.anchored else ""
            console.print(
                f"完整 / intact: {chain.table} {chain.rows} rows, {head} {chain.head_hash}"
                f"{resumed}",
                soft_wrap=True,
                highlight=False,
            )
            continue
        b = chain.broken
        where = f"event {b.event_id}, seq {b.seq}" if b.event_id is not None else f"seq {b.seq}"
        if b.what == "anchor":
            console.print(
                f"[red]锚点被篡改 / forged anchor: audit_anchor id {b.row_id} of {b.table} "
                f"({where}): its MAC does not match[/]",
                soft_wrap=True,
                highlight=False,
            )
            continue
        console.print(
            f"[red]断链 / broken: {b.table} row id {b.row_id} ({where}): {b.what} "
            f"expected {b.expected}, found {b.found}; {chain.rows} rows before it intact[/]",
            soft_wrap=True,
            highlight=False,
        )
    for event in unmatched:
        found = (
            "no history at all"
            if event.chain_version is None
            else f"its chain ends at version {event.chain_version}, state {event.chain_state}"
        )
        console.print(
            f"[red]无对应记录 / unmatched: event {event.event_id} is at version "
            f"{event.version}, state {event.state}, but {found}[/]",
            soft_wrap=True,
            highlight=False,
        )
    if unmatched or any(chain.broken is not None for chain in reports):
        raise typer.Exit(1)


@audit_app.command("archive")
def audit_archive(
    before: str | None = typer.Option(
        None,
        help="archive lines older than this local day (YYYY-MM-DD); default: the retention "
        "(OPENDAY_AUDIT_RETENTION_DAYS) before now. A day inside the retention is refused",
    ),
    to: Path | None = typer.Option(
        None, help="directory for the archive (default: var_dir/audit-archives)"
    ),
) -> None:
    """Export the audit lines older than the retention to a verifiable archive (zip: rows,
    manifest, chain heads, MAC'd), check it, then remove those lines, leaving an anchor per
    chain so `openday audit verify` still verifies what remains. Nothing is removed unless
    the archive verifies."""
    from models.db import session_scope
    from workflows.kernel import audit_archive
    from workflows.kernel.clock import SystemClock
    from workflows.kernel.errors import DomainError
    from workflows.kernel.visibility import SYSTEM

    settings = get_settings()
    now = SystemClock().now()
    days = settings.audit_retention_days
    cutoff = _cutoff(before, now, days)
    try:
        with session_scope(open_engine(), tenant=operator()) as session:
            done = audit_archive.archive_and_purge(
                session, SYSTEM, now=now, cutoff=cutoff, retention_days=days,
                directory=to or settings.var_dir / "audit-archives",
            )  # fmt: skip
    except DomainError as exc:
        raise fail(exc.message_zh, exc.message_en, exc) from exc
    if done.path is None:
        console.print(f"没有早于 {cutoff:%Y-%m-%d %H:%M} UTC 的可归档记录 / nothing to archive")
        return
    rows = ", ".join(f"{table} {count}" for table, count in done.rows.items())
    console.print(
        f"已归档并删除 / archived and removed: {rows} rows of {done.chains} chains older than "
        f"{cutoff:%Y-%m-%d %H:%M} UTC\n{done.path}\nsha256 {done.sha256}",
        soft_wrap=True,
        highlight=False,
    )


def _cutoff(before: str | None, now: datetime, days: int) -> datetime:
    """The cut-off a --before day names (local midnight), else the retention before now."""
    from workflows.kernel.clock import LOCAL_TZ

    if before is None:
        return now - timedelta(days=days)
    try:
        day = date.fromisoformat(before)
    except ValueError as exc:
        raise fail(
            f"日期“{before}”格式不对，应为 YYYY-MM-DD", f'"{before}" is not a YYYY-MM-DD day', exc
        ) from exc
    return datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC)


@audit_app.command("verify-archive")
def audit_verify_archive(path: Path) -> None:
    """Verify an archive written by `openday audit archive` on its own (no database; the audit
    key is needed): the manifest's MAC, each file's SHA-256, every row's MAC and link, and each
    chain's head at the cut. Exit 1 if anything does not hold."""
    from workflows.kernel import audit_archive

    check = audit_archive.verify_archive(path)
    if not check.ok:
        for problem in check.problems:
            console.print(f"[red]不通过 / fails: {problem}[/]", soft_wrap=True, highlight=False)
        raise typer.Exit(1)
    rows = ", ".join(f"{table} {count}" for table, count in check.rows.items())
    console.print(
        f"完整 / intact: {path.name}: {rows} rows, {check.chains} chains, cut-off {check.cutoff}, "
        f"sha256 {audit_archive.file_sha256(path)}",
        soft_wrap=True,
        highlight=False,
    )
