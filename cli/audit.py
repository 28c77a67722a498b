"""`openday audit …`: the tamper-evident audit log."""

from __future__ import annotations

import typer

from cli.shared import console, open_engine

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute every audit row's keyed hash chain and match every event to its chain; name
    the first broken link and every event its chain does not account for, exit 1 if any."""
    from models.db import reading, session_scope
    from workflows.kernel import audit

    with session_scope(reading(open_engine())) as session:
        reports = audit.verify(session)
        unmatched = audit.unmatched_events(session)
    for chain in reports:
        if chain.broken is None:
            head = (
                f"{chain.chains} chains (one per event), fingerprint of their heads"
                if chain.table in audit.PER_EVENT
                else f"head seq {chain.head_seq}"
            )
            console.print(
                f"完整 / intact: {chain.table} {chain.rows} rows, {head} {chain.head_hash}",
                soft_wrap=True,
                highlight=False,
            )
            continue
        b = chain.broken
        where = f"event {b.event_id}, seq {b.seq}" if b.event_id is not None else f"seq {b.seq}"
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
