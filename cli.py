"""The `openday` command: one subcommand per part of the service."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from settings import configure_logging, get_settings

app = typer.Typer(
    help="政府开放日 Open Day service: run the API, migrate, manage accounts, import schedules.",
    no_args_is_help=True,
    add_completion=False,
)
user_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
console = Console(stderr=True)


@app.callback()
def _startup() -> None:
    """Every command that moves timers wakes the schedulers when its transaction commits."""
    from workers.wake import install_wake_hook

    install_wake_hook()


def _engine():  # noqa: ANN202 - SQLAlchemy Engine
    from models.db import make_engine

    return make_engine(get_settings().database_url)


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    from models.db import migrate as upgrade

    configure_logging()
    upgrade(get_settings().database_url)
    console.print("[green]数据库已是最新结构 / database schema is up to date[/]")


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000, or PORT)")] = None,
) -> None:
    """Everything in one process with embedded defaults: migrate, load the demo, serve."""
    import uvicorn

    from models.db import migrate as upgrade
    from models.db import session_scope
    from workflows.clock import SystemClock
    from workflows.demo import ensure_demo_logins, load_demo_campaign

    settings = get_settings()
    configure_logging(settings)
    upgrade(settings.database_url)
    engine = _engine()
    now = SystemClock().now()
    with session_scope(engine) as session:
        campaign = load_demo_campaign(session, now)
        logins = ensure_demo_logins(session, now, settings.var_dir / "demo-credentials.json")
        campaign_id = campaign.id
    engine.dispose()
    host = host or settings.host
    port = port or settings.port
    base = f"http://{host}:{port}"
    console.print(f"\n[bold]政府开放日服务 / Open Day service[/] — {base}  (API docs: {base}/docs)")
    console.print(
        f"演示活动 / demo campaign id {campaign_id}: {base}/api/v1/events?campaign_id={campaign_id}"
    )
    table = Table(title="演示账号 / demo accounts (stored in var/demo-credentials.json)")
    for column in ("username", "password", "role", "unit", "API token"):
        table.add_column(column)
    for login in logins:
        table.add_row(login.username, login.password, login.role, login.unit or "-", login.token)
    console.print(table)
    console.print(
        "登录 / log in:  curl -s -X POST "
        f"{base}/api/v1/auth/login -H 'content-type: application/json' "
        f'-d \'{{"username":"{logins[1].username}","password":"{logins[1].password}"}}\'\n'
        f"或直接使用令牌 / or use a token:  curl -H 'Authorization: Bearer {logins[1].token}' "
        f"{base}/api/v1/events\n"
    )
    stop, threads, broker = _start_background(settings)
    from api import create_app

    # One broker for the API (readyz, metrics, retries) and the in-process worker that drains it.
    web = create_app(settings, broker=broker)
    try:
        uvicorn.run(web, host=host, port=port, log_config=None, proxy_headers=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def _start_background(settings):  # noqa: ANN001, ANN202 - Settings -> (Event, threads, broker)
    """The dramatiq worker and the scheduler, as threads of this process (embedded mode)."""
    import threading

    import dramatiq

    from workers.broker import install_broker

    broker = install_broker(settings)  # in-process StubBroker unless OPENDAY_REDIS_URL is set
    import workers.actors  # noqa: F401 - declares the actors on that broker
    from workers.scheduler import LocalWaiter, Scheduler, dramatiq_sender
    from workflows.clock import clock_from_setting

    stop = threading.Event()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=200)
    worker.start()
    sched = Scheduler(
        _engine(),
        dramatiq_sender(),
        clock_from_setting(settings.clock_start),
        batch=settings.scheduler_batch,
        max_sleep=settings.scheduler_max_sleep,
        stuck_after=timedelta(seconds=settings.redrive_after_seconds),
    )
    sched_thread = threading.Thread(
        target=sched.run, args=(stop, LocalWaiter()), name="scheduler", daemon=True
    )
    sched_thread.start()
    stopper = threading.Thread(target=lambda: (stop.wait(), worker.stop()), daemon=True)
    stopper.start()
    return stop, [sched_thread, stopper], broker


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the HTTP API only (production: migrations run separately)."""
    import uvicorn

    settings = get_settings()
    configure_logging(settings)
    prom_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if prom_dir:  # prometheus_client's multiprocess mode needs the directory to exist
        Path(prom_dir).mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        "api:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
    )


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="username")],
    role: Annotated[str, typer.Option(help="admin | supervisor | unit_staff | viewer")],
    unit: Annotated[str | None, typer.Option(help="unit name (unit_staff only)")] = None,
    password: Annotated[
        bool, typer.Option("--password", help="also set a password (asked for, twice)")
    ] = False,
    display_name: Annotated[str, typer.Option(help="full name")] = "",
    email: Annotated[
        str | None, typer.Option(help="e-mail (supervisors receive level-2 escalations)")
    ] = None,
) -> None:
    """Create an account; its API token is printed alone on the last line."""
    from models.db import session_scope
    from workflows.accounts import create_user, issue_token
    from workflows.clock import SystemClock
    from workflows.errors import DomainError

    secret = None
    if password:
        secret = typer.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
    now = SystemClock().now()
    try:
        with session_scope(_engine()) as session:
            user = create_user(
                session,
                username=name,
                role=role,
                unit_name=unit,
                password=secret,
                display_name=display_name,
                email=email,
                now=now,
            )
            token = issue_token(session, user, kind="api", now=now, name="cli")
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]")
        raise typer.Exit(2) from exc
    console.print(f"已创建账号 / created account {name} ({role}{', ' + unit if unit else ''})")
    console.print("API 令牌只显示这一次 / the API token is shown only once:")
    print(token)


@app.command("import-schedule")
def import_schedule(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    campaign: Annotated[int, typer.Option("--campaign", help="campaign id")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be created")] = False,
    accept_warnings: Annotated[
        bool, typer.Option("--accept-warnings", help="import although warnings stand")
    ] = False,
) -> None:
    """Import a schedule table (.docx, .xlsx, .csv, .txt) into a campaign, all or nothing."""
    from models import Campaign
    from models.db import session_scope
    from workflows.accounts import SYSTEM
    from workflows.clock import SystemClock
    from workflows.errors import DomainError
    from workflows.schedule_import import ImportRefused, apply_import, plan_import
    from workflows.schedule_tables import TableError, read_table

    try:
        table = read_table(file.read_bytes(), file.name)
    except TableError as exc:
        console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]")
        raise typer.Exit(2) from exc
    with session_scope(_engine()) as session:
        target = session.get(Campaign, campaign)
        if target is None:
            console.print(f"[red]活动 {campaign} 不存在 / campaign {campaign} not found[/]")
            raise typer.Exit(2)
        report = plan_import(session, target, table)
        report.dry_run = dry_run
        _print_report(report)
        if dry_run:
            events = sum(1 for e in report.events if not e.exists and e.duplicate_of is None)
            units = len({e.unit_name for e in report.events if e.new_unit})
            errors, warnings = len(report.errors), len(report.warnings)
            console.print(
                f"试运行，未写入任何数据：将新建 {events} 个活动、{units} 个单位；"
                f"{errors} 处错误，{warnings} 处警告\n"
                f"dry run, nothing written: would create {events} events and {units} units; "
                f"{errors} errors, {warnings} warnings"
            )
            return
        try:
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("导入 / importing", total=len(report.events))
                apply_import(
                    session,
                    target,
                    report,
                    accept_warnings=accept_warnings,
                    actor=SYSTEM,
                    now=SystemClock().now(),
                    progress=lambda n: bar.advance(task, n),
                )
        except ImportRefused as exc:
            console.print(f"[red]{exc.message_zh}\n{exc.message_en}[/]")
            raise typer.Exit(1) from exc
        except DomainError as exc:
            console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]")
            raise typer.Exit(2) from exc
    console.print(
        f"[green]已导入 / imported: {report.created_events} 个活动 events, "
        f"{report.created_units} 个新单位 new units, "
        f"{report.existing_events} 个已存在 already there[/]"
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


@app.command()
def demo() -> None:
    """Load the founding notice's demo campaign (idempotent)."""
    from models.db import session_scope
    from workflows.clock import SystemClock
    from workflows.demo import load_demo_campaign

    with session_scope(_engine()) as session:
        campaign = load_demo_campaign(session, SystemClock().now())
        console.print(f"演示活动 / demo campaign id {campaign.id}")


@app.command()
def worker(
    processes: Annotated[int | None, typer.Option(help="worker processes")] = None,
    threads: Annotated[int | None, typer.Option(help="threads per process")] = None,
) -> None:
    """Run dramatiq workers for the actors (broker from OPENDAY_BROKER_URL)."""
    import os
    import tempfile

    settings = get_settings()
    if not settings.effective_broker_url:
        console.print(
            "[red]未设置 OPENDAY_BROKER_URL / OPENDAY_REDIS_URL；嵌入模式下 `openday run` "
            "已在进程内运行任务 / no broker URL is set; under `openday run` the workers run "
            "in-process[/]"
        )
        raise typer.Exit(2)
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.actors",
        "--processes",
        str(processes or settings.worker_processes),
        "--threads",
        str(threads or settings.worker_threads),
        "--skip-logging",
    ]
    # dramatiq's Prometheus exporter (:9191, dramatiq_prom_port) in the worker master; every
    # process writes its samples to one multiprocess directory.
    os.environ["OPENDAY_WORKER_METRICS"] = "1"
    prom_dir = os.environ.setdefault(
        "dramatiq_prom_db", str(Path(tempfile.gettempdir()) / f"openday-worker-{os.getpid()}")
    )
    Path(prom_dir).mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = prom_dir
    os.execv(sys.executable, argv)  # dramatiq's own supervisor: signals, restarts, shutdown


@app.command()
def scheduler() -> None:
    """Run the scheduler: fire due timers, relay the outbox, re-drive stuck work."""
    import signal
    import threading

    settings = get_settings()
    configure_logging(settings)
    import workers.actors  # noqa: F401 - declares the actors the relay sends to
    from workers.metrics import observe_fire
    from workers.scheduler import LocalWaiter, PostgresWaiter, Scheduler, dramatiq_sender
    from workflows.clock import clock_from_setting

    if settings.scheduler_metrics_port:
        from prometheus_client import start_http_server

        try:
            start_http_server(settings.scheduler_metrics_port)
        except OSError as exc:  # another scheduler on this host has the port: run without
            console.print(f"[yellow]metrics port {settings.scheduler_metrics_port}: {exc}[/]")
    engine = _engine()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    waiter = (
        PostgresWaiter(settings.database_url)
        if settings.database_url.startswith("postgresql")
        else LocalWaiter()
    )
    Scheduler(
        engine,
        dramatiq_sender(),
        clock_from_setting(settings.clock_start),
        batch=settings.scheduler_batch,
        max_sleep=settings.scheduler_max_sleep,
        stuck_after=timedelta(seconds=settings.redrive_after_seconds),
        on_fire=observe_fire,
    ).run(stop, waiter)
    engine.dispose()


calendar_app = typer.Typer(help="Working-day calendar data.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")


@calendar_app.command("load")
def calendar_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Load a published year or a local override (JSON/YAML); recompute provisional deadlines."""
    from models.db import session_scope
    from workflows import work_calendar
    from workflows.clock import SystemClock
    from workflows.errors import DomainError

    configure_logging()
    try:
        with session_scope(_engine()) as session:
            result = work_calendar.load_file(
                session, file.read_bytes(), file.name, SystemClock().now(), "cli"
            )
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]")
        raise typer.Exit(2) from exc
    console.print(
        f"已导入 / loaded: {result.source}; 整年 / years {result.complete_years or '-'}; "
        f"{result.days} 天 days; 重新计算 / recomputed {result.recomputed} 个期限 deadlines"
    )


@app.command()
def workdays(
    start: Annotated[str, typer.Argument(help="ISO date, e.g. 2022-09-16")],
    n: Annotated[int, typer.Argument(min=1, help="working days to add")],
) -> None:
    """Print the date N working days after START (the Nth working day, counting from the next
    day); warns on stderr when it rests on a year without published data."""
    from datetime import date

    from workflows.deadlines import load_calendar

    try:
        day = date.fromisoformat(start)
    except ValueError as exc:
        console.print(f"[red]日期格式错误“{start}”，应为 YYYY-MM-DD / bad date '{start}'[/]")
        raise typer.Exit(2) from exc
    settings = get_settings()
    calendar = None
    if not settings.is_sqlite or Path(settings.database_url.removeprefix("sqlite:///")).exists():
        try:
            from models.db import session_scope

            with session_scope(_engine()) as session:
                calendar = load_calendar(session)
        except Exception:  # noqa: BLE001 - no database yet: published data only
            calendar = None
    if calendar is None:
        from workflows.workdays import WorkdayCalendar

        calendar = WorkdayCalendar()
    result = calendar.add_workdays(day, n)
    if result.provisional:
        years = ", ".join(str(y) for y in result.missing_years)
        console.print(
            f"warning: provisional — no published working-day data for {years}; counted "
            f"Monday–Friday / 警告：{years} 年尚无工作日安排数据，按周一至周五临时计算"
        )
    print(result.day.isoformat())


def main() -> None:
    """Entry point for `python -m cli`."""
    app()


if __name__ == "__main__":
    sys.exit(main())
