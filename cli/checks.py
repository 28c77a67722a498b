"""Startup checks: before anything runs, each failure is one line naming the fix."""

from __future__ import annotations

from pathlib import Path

from cli.shared import fail


class StartupError(Exception):
    """A reason the service cannot start, in Chinese and English, with what to do about it."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


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
    from models.revisions import migrations_chain

    found = migrations_chain()
    return set(found.known), set(found.heads)


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


def check_runtime_role(settings) -> None:  # noqa: ANN001 - Settings
    """On PostgreSQL the service's role has neither SUPERUSER nor BYPASSRLS, which skip every
    row-level security policy (docs/tenancy.md), unless OPENDAY_ALLOW_PRIVILEGED_DB_ROLE says a
    single-district install accepts it. A database that does not answer is not judged here:
    the database check (or the processes' own retries during an outage) speak for it."""
    url = settings.database_url.get_secret_value()
    if not url.startswith("postgresql") or settings.allow_privileged_db_role:
        return
    from models.db import make_engine
    from workflows.kernel.tenant_check import privileges

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            name, powers = privileges(conn)
    except Exception:  # noqa: BLE001 - unreachable: not this check's to report
        return
    finally:
        engine.dispose()
    if powers:
        which = " / ".join(powers)
        raise StartupError(
            f"数据库角色 {name} 具有 {which}，会绕过区县之间的行级安全隔离；请以不具有这些权限的"
            "运行角色连接（见 docs/tenancy.md），单区县部署确需如此时设 "
            "OPENDAY_ALLOW_PRIVILEGED_DB_ROLE=true",
            f"the database role {name} has {which}, which bypasses the row-level security "
            "between districts; connect as a runtime role without it (docs/tenancy.md), or set "
            "OPENDAY_ALLOW_PRIVILEGED_DB_ROLE=true for a single-district install",
        )


def refuse_privileged_role(settings) -> None:  # noqa: ANN001 - Settings
    """`check_runtime_role` as one line and exit 1 (the worker and the scheduler)."""
    try:
        check_runtime_role(settings)
    except StartupError as exc:
        raise fail(exc.zh, exc.en, exc) from None


def preflight(settings, host: str, port: int, *, allow_empty: bool) -> None:  # noqa: ANN001
    """Every startup check, in order; the first failure exits with its one line."""
    try:
        check_var_dir(settings.var_dir)
        check_port(host, port)
        check_database(settings.database_url.get_secret_value(), allow_empty=allow_empty)
        check_runtime_role(settings)
    except StartupError as exc:
        raise fail(exc.zh, exc.en, exc) from None
