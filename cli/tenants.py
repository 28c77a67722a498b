"""`openday verify tenants`: row-level security checked on the database, as the service."""

from __future__ import annotations

import typer

from cli.shared import console, open_engine

verify_app = typer.Typer(help="Self-tests of the deployment.", no_args_is_help=True)


@verify_app.command("tenants")
def verify_tenants() -> None:
    """Connect as the service's runtime role (OPENDAY_DATABASE_URL) and check that PostgreSQL
    keeps each district's rows to itself: no SUPERUSER or BYPASSRLS, every tenant table's
    row-level security enabled and forced, a canary row of one district invisible to another
    and to a transaction with no district set. Exit 1 on any failure."""
    from workflows.kernel.tenant_check import verify

    engine = open_engine()
    try:
        report = verify(engine)
    finally:
        engine.dispose()
    for ok, text in report.lines:
        mark = "[green]通过 / ok[/]" if ok else "[red]失败 / FAILED[/]"
        console.print(f"{mark}  {text}", soft_wrap=True, highlight=False)
    if not report.ok:
        failed = sum(1 for ok, _ in report.lines if not ok)
        console.print(
            f"[red]租户隔离自检未通过：{failed} 项失败 / tenant isolation: {failed} failed[/]"
        )
        raise typer.Exit(1)
    console.print("租户隔离自检通过 / tenant isolation verified", highlight=False)
