"""`openday crypto …`: the cryptographic profile (OPENDAY_CRYPTO) and its inventory (密评)."""

from __future__ import annotations

import csv
import io
import json
from enum import StrEnum
from pathlib import Path

import typer

from cli.shared import console, fail, operator
from settings import get_settings


class Format(StrEnum):
    """The inventory's file formats."""

    csv = "csv"
    json = "json"


crypto_app = typer.Typer(
    help="The cryptographic profile (OPENDAY_CRYPTO) and the algorithm inventory.",
    no_args_is_help=True,
)


@crypto_app.command("switch")
def crypto_switch() -> None:
    """Bring stored data over to the profile now configured (OPENDAY_CRYPTO: standard or sm):
    verify every audit chain (refused, nothing changed, if any is broken), re-encrypt personal
    data, re-seal the chains under the profile's MAC and record the switch in the audit, in one
    transaction. Connects as the tables' owner (OPENDAY_MIGRATE_DATABASE_URL, else
    OPENDAY_DATABASE_URL): lifting the append-only guard for the transaction needs it."""
    from models.db import make_engine, session_scope
    from workflows.crypto.switch import switch
    from workflows.kernel.clock import SystemClock
    from workflows.kernel.errors import DomainError
    from workflows.public.privacy import keys_from_settings

    settings = get_settings()
    keys = keys_from_settings(settings)
    engine = make_engine(settings.migrate_url())
    try:
        with session_scope(engine, tenant=operator()) as session:
            done = switch(session, keys, now=SystemClock().now())
    except DomainError as exc:
        raise fail(exc.message_zh, exc.message_en, exc) from exc
    finally:
        engine.dispose()
    resealed = ", ".join(f"{table} {n}" for table, n in done.resealed.items())
    console.print(
        f"已切换 / switched to {done.algorithm} and {done.cipher}: re-sealed {resealed} rows; "
        f"re-encrypted {done.personal['values']} value(s) of {done.personal['registrations']} "
        f"registration(s) and {done.personal['accounts']} account(s), "
        f"{done.personal['unreadable']} unreadable with this key (left as they were)",
        soft_wrap=True,
        highlight=False,
    )


@crypto_app.command("inventory")
def crypto_inventory(
    output_format: Format = typer.Option(
        Format.csv, "--format", help="csv (a spreadsheet for the 密评 file) or json"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="file; default stdout"),
) -> None:
    """Which data, which algorithm, which key (its setting or key file, never the key), and
    how many stored values are under each algorithm: for the 密评 (GB/T 39786) file."""
    from dataclasses import asdict

    from cli.shared import open_engine
    from models.db import reading, session_scope
    from workflows.crypto.inventory import FIELDS, inventory

    settings = get_settings()
    with session_scope(reading(open_engine()), tenant=operator()) as session:
        items = inventory(session.connection(), settings)
    if output_format is Format.json:
        text = json.dumps(
            {"profile": settings.crypto, "items": [asdict(item) for item in items]},
            ensure_ascii=False,
            indent=2,
        )
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(item.row() for item in items)
        text = buffer.getvalue()
    if output is None:
        typer.echo(text, nl=output_format is Format.json)
        return
    output.write_text(text, encoding="utf-8-sig" if output_format is Format.csv else "utf-8")
    console.print(f"已导出 / written: {output} ({len(items)} kinds of data)", highlight=False)
