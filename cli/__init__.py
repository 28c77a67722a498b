"""The `openday` command: one subcommand per part of the service, gathered here from the
command groups (serve, schedule, workdays, districts, users, units, oversight, audit, privacy,
crypto, backup)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import (
    audit,
    backup,
    crypto,
    districts,
    oversight,
    privacy,
    schedule,
    serve,
    tenants,
    units,
    users,
    workdays,
)
from cli.shared import OPTIONS

app = typer.Typer(
    help="政府开放日 Open Day service: run the API, migrate, manage accounts, import schedules.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _startup(
    debug: Annotated[
        bool, typer.Option("--debug", help="show tracebacks instead of one-line errors")
    ] = False,
) -> None:
    """Every command that moves timers wakes the schedulers when its transaction commits."""
    from workers.wake import install_wake_hook

    OPTIONS["debug"] = debug
    install_wake_hook()


# The order here is the order `openday --help` lists them in.
app.command()(serve.migrate)
app.command()(serve.run)
app.command()(serve.api)
app.command("import-schedule")(schedule.import_schedule)
app.command()(schedule.demo)
app.command()(serve.worker)
app.command()(serve.scheduler)
app.command()(workdays.workdays)
app.add_typer(districts.district_app, name="district")
app.add_typer(users.user_app, name="user")
app.add_typer(workdays.calendar_app, name="calendar")
app.add_typer(oversight.sample_app, name="sample")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(units.unit_app, name="unit")
app.add_typer(privacy.privacy_app, name="privacy")
app.add_typer(crypto.crypto_app, name="crypto")
app.add_typer(tenants.verify_app, name="verify")
app.command()(backup.backup)
app.command()(backup.restore)


def main() -> None:
    """Entry point for `python -m cli` (named `openday` in its help, as the script is)."""
    app(prog_name="openday")
