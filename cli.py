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


_OPTIONS = {"debug": False}


@app.callback()
def _startup(
    debug: Annotated[
        bool, typer.Option("--debug", help="show tracebacks instead of one-line errors")
    ] = False,
) -> None:
    """Every command that moves timers wakes the schedulers when its transaction commits."""
    from workers.wake import install_wake_hook

    _OPTIONS["debug"] = debug
    install_wake_hook()


# ---- startup checks: before anything runs, each failure is one line naming the fix ---------------


class StartupError(Exception):
    """A reason the service cannot start, in Chinese and English, with what to do about it."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def _fail(zh: str, en: str, exc: BaseException | None = None) -> typer.Exit:
    """Print one line (a traceback too with --debug) and give the Exit to raise."""
    if _OPTIONS["debug"] and exc is not None:
        console.print_exception()
    console.print(f"[red]错误：{zh} / error: {en}[/]", soft_wrap=True, highlight=False)
    return typer.Exit(1)


def check_var_dir(path: Path) -> None:
    """./var (OPENDAY_VAR_DIR) is a folder this process can write to (made when missing)."""
    if path.exists() and not path.is_dir():
        raise StartupError(
            f"{path} 是文件而不是文件夹；请移走它，或用 OPENDAY_VAR_DIR 指向一个文件夹",
            f"{path} is a file, not a folder; move it away or point OPENDAY_VAR_DIR at a folder",
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        import tempfile

        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise StartupError(
            f"数据文件夹 {path} 无法创建或写入（{why}）；请检查其权限及上级路径，"
            "或用 OPENDAY_VAR_DIR 指向可写的文件夹",
            f"cannot create or write the data folder {path} ({why}); fix its permissions and "
            "parents, or point OPENDAY_VAR_DIR at a writable folder",
        ) from exc


def check_port(host: str, port: int) -> None:
    """The port can be bound on host (as uvicorn will: SO_REUSEADDR)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise StartupError(
                f"无法监听 {host}:{port}（{why}）：端口可能已被占用；请用 --port 或 OPENDAY_PORT "
                f"换一个端口，或停止占用它的进程（ss -ltnp 'sport = :{port}'）",
                f"cannot listen on {host}:{port} ({why}): the port may be in use; pick another "
                f"with --port or OPENDAY_PORT, or stop the process holding it",
            ) from exc


def _database_where(url: str) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite {parsed.database or ':memory:'}"
    return f"{parsed.get_backend_name()} {parsed.host or 'localhost'}:{parsed.port or ''}/" + (
        parsed.database or ""
    )


def _migration_heads() -> tuple[set[str], set[str]]:
    """(every known revision, the head revisions) of this service's migrations."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from settings import PROJECT_DIR

    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    script = ScriptDirectory.from_config(config)
    return {r.revision for r in script.walk_revisions()}, set(script.get_heads())


def _read_database(url: str) -> tuple[set[str], str | None]:
    """The table names and the Alembic revision of the database at url."""
    import sqlalchemy as sa

    from models.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            revision = None
            if "alembic_version" in tables:
                revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        return tables, revision
    finally:
        engine.dispose()


def check_database(url: str, *, allow_empty: bool) -> None:
    """The database opens and is this service's (an empty one only where `run` will migrate)."""
    where = _database_where(url)
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if path.is_dir():
            raise StartupError(
                f"数据库路径 {path} 是文件夹；请把 OPENDAY_DATABASE_URL 指向一个文件",
                f"the database path {path} is a folder; point OPENDAY_DATABASE_URL at a file",
            )
        if not allow_empty and not path.exists():  # don't leave an empty file behind
            _check_revision(where, set(), None, allow_empty=False)
    try:
        tables, revision = _read_database(url)
    except Exception as exc:  # noqa: BLE001 - any driver's refusal becomes one line
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0][:160]
        raise StartupError(
            f"无法打开数据库 {where}（{first}）；请检查 OPENDAY_DATABASE_URL、数据库服务是否运行，"
            "SQLite 文件是否损坏（可从备份恢复或移走后重新运行）",
            f"cannot open the database {where} ({first}); check OPENDAY_DATABASE_URL, that the "
            "server runs, or whether the SQLite file is damaged (restore a backup or move it away)",
        ) from exc
    _check_revision(where, tables, revision, allow_empty=allow_empty)


def _check_revision(
    where: str, tables: set[str], revision: str | None, *, allow_empty: bool
) -> None:
    if not tables:
        if allow_empty:
            return
        raise StartupError(
            f"数据库 {where} 是空的；请先运行 openday migrate",
            f"the database {where} is empty; run `openday migrate` first",
        )
    known, heads = _migration_heads()
    if revision is None or revision not in known:
        raise StartupError(
            f"数据库 {where} 不是本服务的数据库（没有可识别的 alembic_version）；"
            "请检查 OPENDAY_DATABASE_URL，或换一个空数据库",
            f"the database {where} is not this service's (no known alembic_version); check "
            "OPENDAY_DATABASE_URL or use an empty database",
        )
    if revision not in heads and not allow_empty:
        raise StartupError(
            f"数据库 {where} 的结构版本 {revision} 不是最新；请先运行 openday migrate",
            f"the database {where} is at schema revision {revision}, not the newest; run "
            "`openday migrate` first",
        )


def preflight(settings, host: str, port: int, *, allow_empty: bool) -> None:  # noqa: ANN001
    """Every startup check, in order; the first failure exits with its one line."""
    try:
        check_var_dir(settings.var_dir)
        check_port(host, port)
        check_database(settings.database_url.get_secret_value(), allow_empty=allow_empty)
    except StartupError as exc:
        raise _fail(exc.zh, exc.en, exc) from None


def _engine():  # noqa: ANN202 - SQLAlchemy Engine
    from models.db import make_engine

    return make_engine(get_settings().database_url.get_secret_value())


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    from models.db import migrate as upgrade

    configure_logging()
    upgrade(get_settings().database_url.get_secret_value())
    console.print("[green]数据库已是最新结构 / database schema is up to date[/]")


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000, or PORT)")] = None,
) -> None:
    """Everything in one process with embedded defaults: migrate, load the demo, serve."""
    import uvicorn

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    preflight(settings, host, port, allow_empty=True)
    configure_logging(settings)
    try:
        campaign_id, logins = _prepare_demo(settings)
    except Exception as exc:  # noqa: BLE001 - one line, the traceback with --debug
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise _fail(
            f"启动准备失败：{first}", f"could not prepare the service: {first}", exc
        ) from exc
    _banner(f"http://{host}:{port}", campaign_id, logins, settings.var_dir)
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


def _prepare_demo(settings):  # noqa: ANN001, ANN202 - Settings -> (campaign id, logins)
    """Migrate, load the demo campaign and its two logins (credentials file in var/)."""
    from models.db import migrate as upgrade
    from models.db import session_scope
    from workflows.kernel.clock import SystemClock
    from workflows.schedule.demo import ensure_demo_logins, load_demo_campaign

    upgrade(settings.database_url.get_secret_value())
    engine = _engine()
    now = SystemClock().now()
    with session_scope(engine) as session:
        campaign = load_demo_campaign(session, now)
        logins = ensure_demo_logins(session, now, settings.var_dir / "demo-credentials.json")
        campaign_id = campaign.id
    engine.dispose()
    return campaign_id, logins


def _banner(base: str, campaign_id: int | None, logins, var_dir: Path) -> None:  # noqa: ANN001
    """Short lines that fit a terminal; long commands are never wrapped (soft_wrap), and the
    API tokens stay in the credentials file (the banner says where)."""
    credentials = var_dir / "demo-credentials.json"
    staff = next((x for x in logins if x.role == "unit_staff"), logins[-1])
    body = f'{{"username":"{staff.username}","password":"{staff.password}"}}'
    lines = [
        "",
        f"[bold]政府开放日服务 / Open Day service[/]  {base}   API 文档 / docs: {base}/docs",
        f"演示活动 / demo campaign: {campaign_id}",
        "演示账号 / demo logins (用户名 username · 密码 password · 角色 role):",
        *(
            f"  {x.username} · {x.password} · {x.role}" + (f" · {x.unit}" if x.unit else "")
            for x in logins
        ),
        f"完整的 API 令牌只保存在 / full API tokens only in: {credentials}",
        "登录 / sign in:",
        f"  curl -s -X POST {base}/api/v1/auth/login "
        f"-H 'content-type: application/json' -d '{body}'",
        "",
    ]
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)


def _start_background(settings):  # noqa: ANN001, ANN202 - Settings -> (Event, threads, broker)
    """The dramatiq worker and the scheduler, as threads of this process (embedded mode)."""
    import threading

    import dramatiq

    from workers.broker import install_broker

    broker = install_broker(settings)  # in-process StubBroker unless OPENDAY_REDIS_URL is set
    import workers.actors  # noqa: F401 - declares the actors on that broker
    from workers.scheduler import LocalWaiter, Scheduler, dramatiq_sender
    from workflows.kernel.clock import clock_from_setting

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
        retention_days=settings.public_retention_days,
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

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    preflight(settings, host, port, allow_empty=False)
    configure_logging(settings)
    prom_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if prom_dir:  # prometheus_client's multiprocess mode needs the directory to exist
        Path(prom_dir).mkdir(parents=True, exist_ok=True)
    from serving import serve

    serve("api:app", host, port, workers)


def _accounts(action):  # noqa: ANN001, ANN202 - run action(session, now) as the CLI's admin
    """Run an account action in one transaction; a refusal is one bilingual line, exit 2."""
    from models.db import session_scope
    from workflows.kernel.clock import SystemClock
    from workflows.kernel.errors import DomainError

    try:
        with session_scope(_engine()) as session:
            return action(session, SystemClock().now())
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]", soft_wrap=True)
        raise typer.Exit(2) from exc


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="username")],
    role: Annotated[str, typer.Option(help="admin | supervisor | unit_staff | viewer")],
    unit: Annotated[str | None, typer.Option(help="unit name (unit_staff only)")] = None,
    password: Annotated[
        bool,
        typer.Option("--password", help="choose the password (asked twice) instead of a one-time"),
    ] = False,
    display_name: Annotated[str, typer.Option(help="full name")] = "",
    email: Annotated[
        str | None, typer.Option(help="e-mail (supervisors receive level-2 escalations)")
    ] = None,
) -> None:
    """Create an account: a one-time password (or --password) and an API token, each shown once;
    the token alone on the last line of standard output."""
    from workflows.accounts.service import check_password_policy, create_user, generate_password
    from workflows.accounts.service import issue_token as issue
    from workflows.kernel.errors import DomainError

    secret, one_time = None, True
    if password:
        secret = typer.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
        one_time = False
        try:
            check_password_policy(secret, name)
        except DomainError as exc:
            console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]", soft_wrap=True)
            raise typer.Exit(2) from exc
    else:
        secret = generate_password()

    def add(session, now):  # noqa: ANN001, ANN202
        user = create_user(
            session,
            username=name,
            role=role,
            unit_name=unit,
            password=secret,
            display_name=display_name,
            email=email,
            now=now,
            one_time=one_time,
        )
        return issue(session, user, kind="api", now=now, name="cli")

    token = _accounts(add)
    console.print(f"已创建账号 / created account {name} ({role}{', ' + unit if unit else ''})")
    if one_time:
        console.print(
            f"一次性密码（只显示这一次，首次登录后请修改）/ one-time password (shown once, "
            f"change it after signing in): {secret}",
            soft_wrap=True,
            highlight=False,
        )
    console.print("API 令牌只显示这一次 / the API token is shown only once:")
    print(token)


@user_app.command("list")
def user_list(
    role: Annotated[str | None, typer.Option(help="only this role")] = None,
    unit: Annotated[str | None, typer.Option(help="only this unit's staff (name)")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="only disabled accounts")] = False,
) -> None:
    """List accounts: id, username, role, unit, active, e-mail (tab-separated)."""
    from sqlmodel import select

    from models import Unit
    from workflows.accounts.service import list_users_query
    from workflows.kernel.visibility import SYSTEM

    def rows(session, now):  # noqa: ANN001, ANN202
        unit_id = None
        if unit:
            found = session.exec(select(Unit).where(Unit.name == unit)).first()
            unit_id = found.id if found else -1
        stmt = list_users_query(
            SYSTEM, role=role, unit_id=unit_id, active=False if disabled else None
        )
        names = dict(session.exec(select(Unit.id, Unit.name)).all())
        return [
            (u.id, u.username, u.role, names.get(u.unit_id, "-"), u.is_active, u.email or "-")
            for u in session.exec(stmt).all()
        ]

    print("id\tusername\trole\tunit\tactive\temail")
    for row in _accounts(rows):
        print("\t".join(str(x) for x in row))


def _by_name(name: str, action):  # noqa: ANN001, ANN202 - action(session, actor, user_id, now)
    """The account action for a username, acted by the CLI's admin (SYSTEM)."""
    from workflows.accounts.service import find_user
    from workflows.kernel.visibility import SYSTEM

    return lambda session, now: action(session, SYSTEM, find_user(session, name).id, now)


UserName = Annotated[str, typer.Argument(help="username")]


@user_app.command("disable")
def user_disable(name: UserName) -> None:
    """Disable an account; every token of it is revoked."""
    from workflows.accounts.service import set_active

    _accounts(_by_name(name, lambda s, a, uid, now: set_active(s, a, uid, False, now)))
    console.print(f"已停用 / disabled {name}")


@user_app.command("enable")
def user_enable(name: UserName) -> None:
    """Re-enable a disabled account."""
    from workflows.accounts.service import set_active

    _accounts(_by_name(name, lambda s, a, uid, now: set_active(s, a, uid, True, now)))
    console.print(f"已启用 / enabled {name}")


@user_app.command("reset-password")
def user_reset_password(name: UserName) -> None:
    """A one-time password for an account (alone on the last line); its tokens are revoked."""
    from workflows.accounts.service import reset_password

    secret = _accounts(_by_name(name, reset_password))
    console.print(
        f"已重置 {name} 的密码并注销其全部令牌；一次性密码只显示这一次 / password of {name} reset, "
        "every token revoked; the one-time password is shown only once:",
        soft_wrap=True,
    )
    print(secret)


@user_app.command("set-role")
def user_set_role(
    name: UserName,
    role: Annotated[str, typer.Argument(help="admin | supervisor | unit_staff | viewer")],
    unit: Annotated[str | None, typer.Option(help="unit name (unit_staff only)")] = None,
) -> None:
    """Change an account's role (and unit: required for unit_staff, dropped otherwise)."""
    from sqlmodel import select

    from models import Unit
    from workflows.accounts.service import update_user
    from workflows.kernel.errors import NotFound

    def change(session, actor, uid, now):  # noqa: ANN001, ANN202
        changes: dict[str, object] = {"role": role}
        if unit:
            found = session.exec(select(Unit).where(Unit.name == unit)).first()
            if found is None:
                raise NotFound("unit_not_found", f"单位“{unit}”不存在", f"no unit named '{unit}'")
            changes["unit_id"] = found.id
        return update_user(session, actor, uid, changes, now)

    _accounts(_by_name(name, change))
    console.print(
        f"{name} 的角色已改为 / role of {name} set to {role}{', ' + unit if unit else ''}"
    )


@user_app.command("revoke-tokens")
def user_revoke_tokens(name: UserName) -> None:
    """Revoke every session and API token of an account."""
    from workflows.accounts.service import revoke_all_tokens

    count = _accounts(_by_name(name, revoke_all_tokens))
    console.print(f"已注销 {count} 个令牌 / revoked {count} tokens of {name}")


@app.command("import-schedule")
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
    from models import Campaign
    from models.db import session_scope
    from workers.runtime import notify_config
    from workflows.kernel.clock import clock_from_setting
    from workflows.kernel.errors import DomainError
    from workflows.kernel.visibility import SYSTEM
    from workflows.schedule.importer import ImportRefused, apply_import, plan_import
    from workflows.schedule.tables import TableError, read_table

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
        settings = get_settings()
        now = clock_from_setting(settings.clock_start).now()
        notify = notify_config(settings)
        report = plan_import(session, target, table, now=now, notify=notify)
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
            if report.past_escalations:
                console.print(
                    f"[yellow]{report.past_events} 个活动的开展期限已过：导入将立即发出 "
                    f"{report.past_escalations} 次催办、共 {report.past_notifications} 条通知"
                    "（需加 --confirm-past-escalations）\n"
                    f"{report.past_events} events are past their date: importing sends "
                    f"{report.past_escalations} escalations ({report.past_notifications} "
                    "notifications) at once (needs --confirm-past-escalations)[/]"
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
                    now=now,
                    confirm_past_escalations=confirm_past_escalations,
                    notify=notify,
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
    from workflows.kernel.clock import SystemClock
    from workflows.schedule.demo import load_demo_campaign

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
    from workflows.kernel.clock import clock_from_setting

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
        PostgresWaiter(settings.database_url.get_secret_value())
        if settings.database_url.get_secret_value().startswith("postgresql")
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
        retention_days=settings.public_retention_days,
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
    from workflows.kernel.clock import SystemClock
    from workflows.kernel.errors import DomainError
    from workflows.workdays import loader as work_calendar

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
        f"{result.days} 天 days; 重新计算 / recomputed {result.recomputed} 个期限 deadlines, "
        f"{len(result.moved)} 个计时改期 timers moved"
    )
    for change in result.moved:
        console.print(
            f"  事件 event {change.event_id} {change.rule} {change.kind} {change.level}: "
            f"{change.old_day or '—'} → {change.new_day}"
        )


@app.command()
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

            with session_scope(_engine()) as session:
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


sample_app = typer.Typer(help="Spot-check sample draws.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")


@sample_app.command("verify")
def sample_verify(draw_id: Annotated[int, typer.Argument(help="sample draw id")]) -> None:
    """Re-draw a recorded sample from its seed, population snapshot and method; exit 1 if the
    units differ."""
    from workflows.oversight import sampling

    result = _accounts(lambda session, _now: sampling.verify(session, draw_id))
    ids = ", ".join(map(str, result["recorded"]))
    if result["matches"]:
        console.print(f"一致 / reproduced: draw {draw_id} ({result['method']}) → {ids}")
        return
    console.print(
        f"[red]不一致 / mismatch: recorded {ids}; redrawn "
        f"{', '.join(map(str, result['redrawn']))}[/]",
        soft_wrap=True,
    )
    raise typer.Exit(1)


audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute every audit row's hash chain; name the first broken link, exit 1 if any."""
    from models.db import reading, session_scope
    from workflows.kernel import audit

    with session_scope(reading(_engine())) as session:
        reports = audit.verify(session)
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
    if any(chain.broken is not None for chain in reports):
        raise typer.Exit(1)


unit_app = typer.Typer(help="Units and the contacts who receive escalations.", no_args_is_help=True)
app.add_typer(unit_app, name="unit")


@unit_app.command("list")
def unit_list() -> None:
    """Every unit with its contacts (who hears of its reminders and escalations)."""
    from sqlmodel import select

    from models import Unit

    def rows(session, _now):  # noqa: ANN001, ANN202
        return session.exec(select(Unit).order_by(Unit.id)).all()

    table = Table(title="单位 / units")
    for column in (
        "id",
        "名称 name",
        "联系人 contact",
        "联系邮箱",
        "负责人邮箱 head",
        "机器人 robot",
    ):
        table.add_column(column, overflow="fold")
    for u in _accounts(rows):
        robot = u.webhook_format if u.webhook_url else "-"
        table.add_row(
            str(u.id),
            u.name,
            u.contact_name or "-",
            u.contact_email or "-",
            u.head_email or "-",
            robot,
        )
    console.print(table)


@unit_app.command("set")
def unit_set(
    name: Annotated[str, typer.Argument(help="unit name")],
    contact_name: Annotated[str | None, typer.Option(help="联系人")] = None,
    contact_phone: Annotated[str | None, typer.Option(help="联系电话")] = None,
    contact_email: Annotated[str | None, typer.Option(help="联系人邮箱 (level 1)")] = None,
    head_name: Annotated[str | None, typer.Option(help="负责人")] = None,
    head_email: Annotated[str | None, typer.Option(help="负责人邮箱 (level 1)")] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="企业微信/钉钉 robot or JSON webhook")
    ] = None,
    webhook_format: Annotated[str | None, typer.Option(help="json | wecom | dingtalk")] = None,
) -> None:
    """Set a unit's contacts, validated as the API validates them, with an audit line."""
    from pydantic import ValidationError
    from sqlmodel import select

    from models import Unit
    from schemas.units import UnitPatch
    from workflows.accounts import units
    from workflows.kernel.errors import NotFound
    from workflows.kernel.visibility import SYSTEM

    given = {k: v for k, v in locals().items() if k not in ("name",) and v is not None}
    given = {k: v for k, v in given.items() if k in UnitPatch.model_fields}
    try:
        changes = UnitPatch.model_validate(given).model_dump(exclude_unset=True)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        console.print(f"[red]无效 / invalid: {fields}[/]", soft_wrap=True)
        raise typer.Exit(2) from exc

    def apply(session, now):  # noqa: ANN001, ANN202
        unit = session.exec(select(Unit).where(Unit.name == name)).first()
        if unit is None:
            raise NotFound("unit_not_found", f"单位“{name}”不存在", f"unit '{name}' not found")
        return units.update(session, SYSTEM, unit.id, changes, now).name

    console.print(f"已更新 / updated: {_accounts(apply)}")


def main() -> None:
    """Entry point for `python -m cli`."""
    app()


if __name__ == "__main__":
    sys.exit(main())


privacy_app = typer.Typer(help="Registrants' personal data (PIPL).", no_args_is_help=True)
app.add_typer(privacy_app, name="privacy")


@privacy_app.command("purge")
def privacy_purge(
    retention_days: int | None = typer.Option(
        None, help="days after a campaign ends (default: OPENDAY_PUBLIC_RETENTION_DAYS)"
    ),
) -> None:
    """Erase registrants' personal data of campaigns that ended longer ago than the retention."""
    from models.db import session_scope
    from settings import get_settings
    from workflows.kernel.clock import LOCAL_TZ, SystemClock
    from workflows.public import privacy

    days = get_settings().public_retention_days if retention_days is None else retention_days
    now = SystemClock().now()
    with session_scope(_engine()) as session:
        count = privacy.purge(
            session, retention_days=days, today=now.astimezone(LOCAL_TZ).date(), now=now
        )
    console.print(f"已清除 {count} 条报名的个人信息 / purged {count} registration(s)")
