"""What the command groups share: the console, the --debug switch, the database engine, and
running one action in one transaction with a refusal as one bilingual line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from settings import get_settings

console = Console(stderr=True)
OPTIONS = {"debug": False}  # set by the app's callback (`openday --debug …`)


def fail(zh: str, en: str, exc: BaseException | None = None) -> typer.Exit:
    """Print one line (a traceback too with --debug) and give the Exit to raise."""
    if OPTIONS["debug"] and exc is not None:
        console.print_exception()
    console.print(f"[red]错误：{zh} / error: {en}[/]", soft_wrap=True, highlight=False)
    return typer.Exit(1)


def open_engine():  # noqa: ANN201 - SQLAlchemy Engine
    """An engine on the configured database."""
    from models.db import make_engine

    return make_engine(get_settings().database_url.get_secret_value())


def operator():  # noqa: ANN201 - a workflows.kernel.tenancy.Tenant
    """The tenant of the command line: the server's operator works for the whole city
    (PostgreSQL's row-level security, docs/tenancy.md)."""
    from workflows.kernel import tenancy

    return tenancy.OPERATOR


def run_action(action: Callable[[Any, Any], Any]) -> Any:
    """Run action(session, now) as the CLI's admin in one transaction; a refusal is one
    bilingual line, exit 2."""
    from models.db import session_scope
    from workflows.kernel.clock import SystemClock
    from workflows.kernel.errors import DomainError

    try:
        with session_scope(open_engine(), tenant=operator()) as session:
            return action(session, SystemClock().now())
    except DomainError as exc:
        console.print(f"[red]{exc.message_zh} / {exc.message_en}[/]", soft_wrap=True)
        raise typer.Exit(2) from exc
