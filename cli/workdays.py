"""Working days: `openday calendar load` and `openday workdays`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.shared import console, open_engine, operator
from settings import configure_logging, get_settings

calendar_app = typer.Typer(help="Working-day calendar data.", no_args_is_help=True)


@calendar_app.command("load")
def calendar_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Load a published year or a local override (JSON/YAML); recompute provisional deadlines."""
    from models.db import session_scope
    from workflows.kernel.clock import SystemClock
    from workflows.kernel.errors import DomainError
    from workflows.workdays import loader as work_calendar

    configure_logging()
    try:
        with session_scope(open_engine(), tenant=operator()) as session:
            result = work_calendar.load_file(
                session, file.read_bytes(), file.name, SystemClock().now(), "cli"
            )
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]")
        raise typer.Exit(2) from exc
    console.print(
        f"已导入 / loaded: {result.source}; 整年 / years {result.complete_years or '-'}; "
        f"{result.days} 天 days; 重新计算 / recomputed {result.recomputed} 个期限 deadlines, "
        f"{len(result.moved)} 个计时改期 timers moved"
    )
    for change in result.moved:
        console.print(
            f"  事件 event {change.event_id} {change.rule} {change.kind} {change.level}: "
            f"{change.old_day or '—'} → {change.new_day}"
        )


def workdays(
    start: Annotated[str, typer.Argument(help="ISO date, e.g. 2022-09-16")],
    n: Annotated[int, typer.Argument(min=1, help="working days to add")],
) -> None:
    """Print the date N working days after START (the Nth working day, counting from the next
    day); warns on stderr when it rests on a year without published data."""
    from datetime import date

    from workflows.workdays.deadlines import load_calendar

    try:
        day = date.fromisoformat(start)
    except ValueError as exc:
        console.print(f"[red]日期格式错误“{start}”，应为 YYYY-MM-DD / bad date '{start}'[/]")
        raise typer.Exit(2) from exc
    settings = get_settings()
    calendar = None
    if (
        not settings.is_sqlite
        or Path(settings.database_url.get_secret_value().removeprefix("sqlite:///")).exists()
    ):
        try:
            from models.db import session_scope

            with session_scope(open_engine(), tenant=operator()) as session:
                calendar = load_calendar(session)
        except Exception:  # noqa: BLE001 - no database yet: published data only
            calendar = None
    if calendar is None:
        from workflows.workdays.days import WorkdayCalendar

        calendar = WorkdayCalendar()
    result = calendar.add_workdays(day, n)
    if result.provisional:
        years = ", ".join(str(y) for y in result.missing_years)
        console.print(
            f"warning: provisional — no published working-day data for {years}; counted "
            f"Monday–Friday / 警告：{years} 年尚无工作日安排数据，按周一至周五临时计算"
        )
    print(result.day.isoformat())
