"""Schedule tables and the demo: `openday import-schedule`, `openday demo`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from cli.shared import console, open_engine, operator
from settings import get_settings


def import_schedule(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    campaign: Annotated[int, typer.Option("--campaign", help="campaign id")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be created")] = False,
    accept_warnings: Annotated[
        bool, typer.Option("--accept-warnings", help="import although warnings stand")
    ] = False,
    confirm_past_escalations: Annotated[
        bool,
        typer.Option(
            "--confirm-past-escalations",
            help="import although events are past their date (their escalations go out at once)",
        ),
    ] = False,
) -> None:
    """Import a schedule table (.docx, .xlsx, .csv, .txt) into a campaign, all or nothing."""
    from workflows.kernel.errors import DomainError
    from workflows.schedule.importer import ImportRefused

    try:
        report = _import(
            file,
            campaign,
            dry_run=dry_run,
            accept_warnings=accept_warnings,
            confirm_past_escalations=confirm_past_escalations,
        )
    except ImportRefused as exc:
        console.print(f"[red]{exc.message_zh}\n{exc.message_en}[/]")
        raise typer.Exit(1) from exc
    except DomainError as exc:  # not a schedule table, no such campaign, …
        console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]")
        raise typer.Exit(2) from exc
    if dry_run:
        _print_dry_run(report)
        if report.errors:  # what a real import would refuse
            raise typer.Exit(1)
        return
    console.print(
        f"[green]已导入 / imported: {report.created_events} 个活动 events, "
        f"{report.created_units} 个新单位 new units, "
        f"{report.existing_events} 个已存在 already there[/]"
    )


def _import(  # noqa: ANN202 - ImportReport
    file: Path,
    campaign_id: int,
    *,
    dry_run: bool,
    accept_warnings: bool,
    confirm_past_escalations: bool,
):
    """The import in one transaction as the CLI's admin: the plan printed before anything is
    written, a progress bar while writing."""
    from models.db import session_scope
    from workers.runtime import notify_config
    from workflows.kernel.clock import clock_from_setting
    from workflows.kernel.visibility import SYSTEM
    from workflows.schedule.service import import_schedule as import_file

    settings = get_settings()
    with (
        session_scope(open_engine(), tenant=operator()) as session,
        Progress(console=console, transient=True) as bar,
    ):

        def planned(report) -> None:  # noqa: ANN001 - ImportReport
            _print_report(report)
            if not dry_run:
                bar.add_task("导入 / importing", total=len(report.events))

        return import_file(
            session,
            campaign_id,
            file.read_bytes(),
            file.name,
            actor=SYSTEM,
            now=clock_from_setting(settings.clock_start).now(),
            notify=notify_config(settings),
            dry_run=dry_run,
            accept_warnings=accept_warnings,
            confirm_past_escalations=confirm_past_escalations,
            on_plan=planned,
            progress=lambda n: bar.advance(bar.task_ids[0], n),
        )


def _print_dry_run(report) -> None:  # noqa: ANN001 - ImportReport
    """What a dry run would have done, and what it would set off at once."""
    events = sum(1 for e in report.events if not e.exists and e.duplicate_of is None)
    units = len({e.unit_name for e in report.events if e.new_unit})
    errors, warnings = len(report.errors), len(report.warnings)
    console.print(
        f"试运行，未写入任何数据：将新建 {events} 个活动、{units} 个单位；"
        f"{errors} 处错误，{warnings} 处警告\n"
        f"dry run, nothing written: would create {events} events and {units} units; "
        f"{errors} errors, {warnings} warnings"
    )
    if report.past_escalations:
        from workflows.schedule.importer import past_sends

        zh, en = past_sends(report)
        console.print(
            f"[yellow]{report.past_events} 个活动的开展期限已过：导入将{zh}"
            "（需加 --confirm-past-escalations）\n"
            f"{report.past_events} events are past their date: importing {en} "
            "(needs --confirm-past-escalations)[/]"
        )


def _print_report(report) -> None:  # noqa: ANN001 - ImportReport
    table = Table(title=f"{report.rows} 行 / rows ({report.source_format})")
    for column in ("行 row", "序号", "单位 unit", "主题 theme", "时间 when", "日期 dates", "状态"):
        table.add_column(column, overflow="fold")  # a narrow terminal folds cells, never cuts
    for ev in report.events[:200]:
        status = (
            "已存在 exists" if ev.exists else ("重复 duplicate" if ev.duplicate_of else "新建 new")
        )
        dates = str(ev.earliest) if ev.earliest == ev.latest else f"{ev.earliest} … {ev.latest}"
        unit = ev.unit_name + (" (新 new)" if ev.new_unit else "")
        table.add_row(str(ev.row), str(ev.seq or ""), unit, ev.theme, ev.date_text, dates, status)
    if len(report.events) > 200:
        table.caption = f"… 另有 {len(report.events) - 200} 行 / {len(report.events) - 200} more"
    console.print(table)
    for issue in report.issues:
        colour = "red" if issue.severity == "error" else "yellow"
        console.print(f"[{colour}]{issue.severity}: {issue.message} / {issue.message_en}[/]")


def demo() -> None:
    """Load the founding notice's demo campaign (idempotent)."""
    from models.db import session_scope
    from workflows.kernel.clock import SystemClock
    from workflows.schedule.demo import load_demo_campaign

    with session_scope(open_engine(), tenant=operator()) as session:
        campaign = load_demo_campaign(session, SystemClock().now())
        console.print(f"演示活动 / demo campaign id {campaign.id}")
