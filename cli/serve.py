"""Running the service: migrate, everything in one process (run), the API, workers, scheduler."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from cli.checks import preflight, refuse_privileged_role
from cli.shared import console, fail, open_engine, operator
from settings import configure_logging, get_settings


def migrate() -> None:
    """Bring the database to the newest schema."""
    from models.db import migrate as upgrade

    configure_logging()
    upgrade(get_settings().migrate_url())
    console.print("[green]数据库已是最新结构 / database schema is up to date[/]")


def run(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000, or PORT)")] = None,
) -> None:
    """Everything in one process with embedded defaults: migrate, load the demo, serve."""
    import uvicorn

    settings = _served_settings(host, port)
    host, port = settings.host, settings.port
    preflight(settings, host, port, allow_empty=True)
    configure_logging(settings)
    try:
        campaign_id, logins = _prepare_demo(settings)
    except Exception as exc:  # noqa: BLE001 - one line, the traceback with --debug
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise fail(
            f"启动准备失败：{first}", f"could not prepare the service: {first}", exc
        ) from exc
    warn_unreached(settings)
    stop, threads, broker = _start_background(settings)
    from api import create_app, freeze_startup_objects

    # One broker for the API (readyz, metrics, retries) and the in-process worker that drains it.
    web = create_app(settings, broker=broker)
    freeze_startup_objects()  # no full GC walks the start-up objects mid-request (api.py)
    server = uvicorn.Server(
        uvicorn.Config(web, host=host, port=port, log_config=None, proxy_headers=True)
    )
    base = settings.public_base
    banner = QuietBanner(lambda: _banner(base, campaign_id, logins, settings.var_dir))
    banner.watch(server)
    try:
        server.run()
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)


def _served_settings(host: str | None, port: int | None):  # noqa: ANN202 - Settings
    """The settings with the address given on the command line, so every part of this process
    (pages, workers' links) knows the address the service really serves."""
    if host:
        os.environ["OPENDAY_HOST"] = host
    if port:
        os.environ["OPENDAY_PORT"] = str(port)
    get_settings.cache_clear()
    return get_settings()


class QuietBanner:
    """Prints the demo's accounts once the start-up burst of log lines is over (the server is
    up and nothing was logged for `quiet` seconds, or `longest` seconds passed), so the
    passwords are the last thing on the screen rather than scrolled away (issue 24)."""

    def __init__(self, show, quiet: float = 1.5, longest: float = 30.0) -> None:  # noqa: ANN001
        self.show = show
        self.quiet = quiet
        self.longest = longest
        self.last = time.monotonic()

    def watch(self, server) -> threading.Thread:  # noqa: ANN001 - uvicorn.Server
        """Stamp every log record; print from a daemon thread when the burst is over."""
        stamp = logging.Handler()
        stamp.emit = self._stamp  # type: ignore[method-assign]
        logging.getLogger().addHandler(stamp)
        thread = threading.Thread(target=self._wait, args=(server, stamp), daemon=True)
        thread.start()
        return thread

    def _stamp(self, record: logging.LogRecord) -> None:
        self.last = time.monotonic()

    def _wait(self, server, stamp: logging.Handler) -> None:  # noqa: ANN001
        started = time.monotonic()
        while time.monotonic() - started < self.longest:
            if server.started and time.monotonic() - self.last >= self.quiet:
                break
            time.sleep(0.1)
        logging.getLogger().removeHandler(stamp)
        self.show()


def _prepare_demo(settings):  # noqa: ANN001, ANN202 - Settings -> (campaign id, logins)
    """Migrate, load the demo campaign, the second district's and the logins (credentials file
    in var/)."""
    from models.db import migrate as upgrade
    from models.db import session_scope
    from workflows.kernel.clock import SystemClock
    from workflows.schedule import demo

    upgrade(settings.migrate_url())
    engine = open_engine()
    now = SystemClock().now()
    with session_scope(engine, tenant=operator()) as session:
        campaign = demo.load_demo_campaign(session, now)
        demo.load_demo_campaign(session, now, demo.SECOND_DISTRICT_CAMPAIGN)
        credentials = settings.var_dir / "demo-credentials.json"
        logins = demo.ensure_demo_logins(session, now, credentials, city=True)
        campaign_id = campaign.id
    engine.dispose()
    return campaign_id, logins


def warn_unreached(settings, engine=None) -> None:  # noqa: ANN001 - Settings, Engine
    """One warning line per escalation level that reaches nobody outside the in-app inbox
    (on `engine`, else the configured database)."""
    import structlog

    from models.db import session_scope
    from workers.runtime import notify_config
    from workflows.escalation.reach import inbox_only_levels

    log = structlog.get_logger("openday.escalation")
    own = engine is None
    engine = engine or open_engine()
    try:
        with session_scope(engine, tenant=operator()) as session:
            unreached = inbox_only_levels(session, notify_config(settings))
    except Exception as exc:  # noqa: BLE001 - a schema not migrated yet: nothing to say
        log.debug("escalation_reach_unknown", error=str(exc).splitlines()[0][:200])
        return
    finally:
        if own:
            engine.dispose()
    for u in unreached:
        log.warning(
            "escalation_level_inbox_only",
            escalation_level=u.level,
            audience=list(u.audience),
            campaigns=list(u.campaigns),
            message=f"第{u.level}级催办除站内信外没有收件人（未配置邮件服务器、群机器人或邮箱）",
            message_en=f"escalation level {u.level} reaches nobody outside the in-app inbox "
            "(no SMTP, robot or address configured)",
        )


def _banner(base: str, campaign_id: int | None, logins, var_dir: Path) -> None:  # noqa: ANN001
    """Short lines that fit a terminal; long commands are never wrapped (soft_wrap), and the
    API tokens stay in the credentials file beside the passwords (the banner says where)."""
    credentials = var_dir / "demo-credentials.json"
    staff = next((x for x in logins if x.role == "unit_staff"), logins[-1])
    body = f'{{"username":"{staff.username}","password":"{staff.password}"}}'
    lines = [
        "",
        f"[bold]政府开放日服务 / Open Day service[/]  {base}   API 文档 / docs: {base}/docs",
        f"演示活动 / demo campaign: {campaign_id}",
        "演示账号 / demo logins (用户名 username · 密码 password · 角色 role · 区县 district):",
        *(
            f"  {x.username} · {x.password} · {x.role} · {x.district}"
            + (f" · {x.unit}" if x.unit else "")
            for x in logins
        ),
        f"密码和完整的 API 令牌保存在 / passwords and full API tokens in: {credentials}",
        f"先打开 / start at: {base}/login  （经办人看“我的活动”，督查人员看“督查看板”，"
        "管理员看“管理”，市级督查看“全市对比”）",
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
        open_engine(),
        dramatiq_sender(),
        clock_from_setting(settings.clock_start),
        batch=settings.scheduler_batch,
        max_sleep=settings.scheduler_max_sleep,
        stuck_after=timedelta(seconds=settings.redrive_after_seconds),
        retention_days=settings.public_retention_days,
        backup_settings=settings,
    )
    sched_thread = threading.Thread(
        target=sched.run, args=(stop, LocalWaiter()), name="scheduler", daemon=True
    )
    sched_thread.start()

    def stop_worker() -> None:
        stop.wait()
        worker.stop()

    stopper = threading.Thread(target=stop_worker, daemon=True)
    stopper.start()
    return stop, [sched_thread, stopper], broker


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
    warn_unreached(settings)
    prom_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if prom_dir:  # prometheus_client's multiprocess mode needs the directory to exist
        Path(prom_dir).mkdir(parents=True, exist_ok=True)
    from serving import serve

    serve("api:app", host, port, workers)


def worker(
    processes: Annotated[int | None, typer.Option(help="worker processes")] = None,
    threads: Annotated[int | None, typer.Option(help="threads per process")] = None,
) -> None:
    """Run dramatiq workers for the actors (broker from OPENDAY_BROKER_URL)."""
    import os
    import tempfile

    settings = get_settings()
    refuse_privileged_role(settings)
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


def scheduler() -> None:
    """Run the scheduler: fire due timers, relay the outbox, re-drive stuck work."""
    import signal
    import threading

    settings = get_settings()
    configure_logging(settings)
    refuse_privileged_role(settings)
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
    engine = open_engine()
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
        backup_settings=settings,
    ).run(stop, waiter)
    engine.dispose()
