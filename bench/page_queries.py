"""Every SQL statement a page sends, and its plan: EXPLAIN (ANALYZE, BUFFERS) of each.

    .venv/bin/python bench/page_queries.py --url postgresql+psycopg://…/db --token T /board /
    (bench/pages.py calls `explain_pages` on its seeded database and prints the summary)

The page is asked in-process, straight into the ASGI app (`api.create_app`) with the session
cookie, so the statements captured (by an SQLAlchemy `before_cursor_execute` listener, with
their parameters) are exactly the page's. Each is then explained on a fresh connection inside a
transaction that is rolled back (ANALYZE executes the statement; pages only read, but nothing a
plan does is kept either way). The summary per page: how many statements (round trips), the sum
of their execution times as PostgreSQL measured them, and the costliest few with the plan's
scan nodes (which index, or a sequential scan of which table); the full plans go to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import _common  # noqa: F401  # puts the project root on sys.path

COOKIE = "od_session"
SCAN = re.compile(
    r"((?:Parallel )?(?:Seq Scan|Index Only Scan|Index Scan|Bitmap Heap Scan|Bitmap Index Scan)"
    r"(?: Backward)?(?: using \S+)? on \S+)"
)
EXECUTION = re.compile(r"Execution Time: ([0-9.]+) ms")


@dataclass
class Statement:
    """One statement a page sent, with its plan once explained."""

    sql: str
    params: Any
    plan: str = ""
    ms: float = 0.0  # PostgreSQL's Execution Time

    def scans(self) -> list[str]:
        """The plan's scan nodes, in order, each once."""
        return list(dict.fromkeys(SCAN.findall(self.plan)))


@dataclass
class PageQueries:
    """A page's statements."""

    path: str
    status: int = 0
    statements: list[Statement] = field(default_factory=list)

    @property
    def total_ms(self) -> float:
        """The sum of the statements' execution times."""
        return sum(s.ms for s in self.statements)


async def _get(app: Any, path: str, token: str) -> int:
    """GET `path` into the ASGI app with the session cookie; the status."""
    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"cookie", f"{COOKIE}={token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    out: dict[str, int] = {}
    done = False

    async def receive() -> dict[str, Any]:
        nonlocal done
        if done:
            await asyncio.sleep(3600)
        done = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]

    await app(scope, receive, send)
    return out.get("status", 0)


def capture(app: Any, path: str, token: str) -> PageQueries:
    """The statements one request of the page sends (after one warm-up request)."""
    import sqlalchemy as sa

    page = PageQueries(path)
    asyncio.run(_get(app, path, token))  # warm-up: per-process caches fill on first use

    def log(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            page.statements.append(Statement(statement, parameters))

    engine = app.state.engine
    sa.event.listen(engine, "before_cursor_execute", log)
    try:
        page.status = asyncio.run(_get(app, path, token))
    finally:
        sa.event.remove(engine, "before_cursor_execute", log)
    return page


def explain(engine: Any, page: PageQueries) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) every statement of the page, in a rolled-back transaction."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for s in page.statements:
            if not s.sql.lstrip().upper().startswith(("SELECT", "WITH")):
                s.plan = "(not a query: not explained)"
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + s.sql, s.params)
            s.plan = "\n".join(row[0] for row in cursor.fetchall())
            found = EXECUTION.search(s.plan)
            s.ms = float(found.group(1)) if found else 0.0
        raw.rollback()
    finally:
        raw.close()


def explain_pages(url: str, pages: list[tuple[str, str]]) -> list[PageQueries]:
    """Capture and explain each (path, session token) against the database at `url`."""
    from api import create_app
    from settings import Settings, configure_logging

    settings = Settings(database_url=url, log_format="json", log_level="WARNING")
    configure_logging(settings)
    app = create_app(settings=settings)
    try:
        found = []
        for path, token in pages:
            page = capture(app, path, token)
            explain(app.state.engine, page)
            found.append(page)
        return found
    finally:
        app.state.engine.dispose()


def summary(pages: list[PageQueries], top: int = 4) -> str:
    """Per page: statements, their summed execution time, the costliest with their scans."""
    lines = []
    for page in pages:
        lines.append(
            f"{page.path} (HTTP {page.status}): {len(page.statements)} statements, "
            f"{page.total_ms:.1f} ms summed execution time in PostgreSQL"
        )
        for s in sorted(page.statements, key=lambda s: -s.ms)[:top]:
            head = " ".join(s.sql.split())[:90]
            lines.append(f"  {s.ms:7.2f} ms  {head}")
            scans = s.scans()
            if scans:
                lines.append(f"             {'; '.join(scans)[:200]}")
    return "\n".join(lines)


def full_text(pages: list[PageQueries]) -> str:
    """Every statement with its parameters and its whole plan."""
    parts = []
    for page in pages:
        for n, s in enumerate(page.statements, 1):
            parts.append(
                f"=== {page.path} — statement {n} of {len(page.statements)} ===\n"
                f"{' '.join(s.sql.split())}\nparameters: {s.params!r}\n\n{s.plan}\n"
            )
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Explain the given pages against an existing database."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a seeded database's SQLAlchemy URL")
    parser.add_argument("--token", required=True, help="a session token (supervisor or staff)")
    parser.add_argument("--full", help="write every plan to this file")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    pages = explain_pages(args.url, [(p, args.token) for p in args.paths])
    print(summary(pages))
    if args.full:
        with open(args.full, "w") as f:
            f.write(full_text(pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
