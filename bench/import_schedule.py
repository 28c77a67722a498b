"""Benchmark the schedule importer on a generated table (default 10,000 rows, csv and xlsx).

Run from the project root:

    .venv/bin/python bench/import_schedule.py [--rows 10000] [--database-url URL]

Each format is imported into a fresh, migrated database: a SQLite file in a temporary folder by
default, or, with --database-url pointing at a PostgreSQL server, a private database created on
that server and dropped afterwards. The csv is then imported a second time into the same
database ("csv again": everything already exists, nothing is written). Phases, timed separately:

- read+parse: `read_table` (decode the file, find the header, split the rows into cells);
- plan: `plan_import` (parse every date, match units, look up existing events; writes nothing);
- write: `apply_import` plus the commit (new units, events and their audit lines).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

import models  # noqa: E402, F401 - registers tables
from models import Campaign, Event  # noqa: E402
from models.db import make_engine, migrate  # noqa: E402
from workflows.campaign.rules import CampaignRules  # noqa: E402
from workflows.kernel.visibility import SYSTEM  # noqa: E402
from workflows.schedule.importer import apply_import, plan_import  # noqa: E402
from workflows.schedule.tables import read_table  # noqa: E402

HEADER = ["序号", "单位名称", "活动主题", "开展时间"]
# Phrasings from the issue, all inside the campaign window 2022-08-22..2022-09-22.
WHEN = [
    "9月16日",
    "2022年9月16日",
    "9月中旬",
    "9月上旬",
    "9月15日-16日",
    "9月15日至17日",
    "9月16日（暂定）",
    "9月16日上午10:00",
    "9月16日14:20—18:00",
    "2022年9月16日（星期五）",
    "9月16日(周五)",
    "8月30日至9月2日",
]
UNIT_SUFFIXES = ["镇", "街道办事处", "局"]
UNITS = 1000  # distinct responsible units; each holds rows // UNITS events


def generate_rows(count: int) -> list[list[str]]:
    """`count` distinct rows (unit, theme) spread over UNITS units, every phrasing in turn."""
    rows = []
    for i in range(count):
        n = i % UNITS
        unit = f"测试{n:04d}{UNIT_SUFFIXES[n % len(UNIT_SUFFIXES)]}"
        rows.append([str(i + 1), unit, f"开放日活动第{i + 1}场 走进{unit}", WHEN[i % len(WHEN)]])
    return rows


def to_csv(rows: list[list[str]]) -> bytes:
    """A UTF-8 CSV with the header row."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def to_xlsx(rows: list[list[str]]) -> bytes:
    """An .xlsx workbook with a title row above the header, 序号 stored as numbers."""
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("安排表")
    sheet.append(["雁江区“政府开放日”活动安排表（基准测试）"])
    sheet.append(HEADER)
    for seq, unit, theme, when in rows:
        sheet.append([int(seq), unit, theme, when])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@contextmanager
def fresh_database(server_url: str | None, workdir: Path, label: str) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, or a private database on a PostgreSQL server."""
    if server_url is None:
        url = f"sqlite:///{workdir / f'{label}.db'}"
        migrate(url)
        yield url
        return
    server = make_url(server_url)
    name = f"openday_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclass
class Result:
    """Timings of one import."""

    label: str
    rows: int
    read: float
    plan: float
    write: float
    created: int

    @property
    def total(self) -> float:
        """Seconds for the whole import."""
        return self.read + self.plan + self.write


def import_once(url: str, label: str, data: bytes, filename: str, expect: int) -> Result:
    """Import `data` into the campaign at `url` (created if missing), timing each phase."""
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            campaign = session.exec(select(Campaign)).first()
            if campaign is None:
                campaign = Campaign(
                    doc_number="资雁府办发〔2022〕58号",
                    title="关于开展“政府开放日”活动的通知（基准测试）",
                    issuing_office="资阳市雁江区人民政府办公室",
                    starts_on=date(2022, 8, 22),
                    ends_on=date(2022, 9, 22),
                    rules=CampaignRules().model_dump(),
                    created_at=datetime.now(UTC),
                )
                session.add(campaign)
                session.commit()
            t0 = time.perf_counter()
            table = read_table(data, filename)
            t1 = time.perf_counter()
            report = plan_import(session, campaign, table)
            t2 = time.perf_counter()
            apply_import(
                session,
                campaign,
                report,
                accept_warnings=True,
                actor=SYSTEM,
                now=datetime.now(UTC),
                confirm_past_escalations=True,  # the 2022 campaign's dates are past
            )
            session.commit()
            t3 = time.perf_counter()
            stored = session.exec(select(func.count()).select_from(Event)).one()
        if report.errors or report.created_events != expect or stored != len(table.rows):
            raise SystemExit(
                f"{label}: {len(report.errors)} errors, created {report.created_events} "
                f"(expected {expect}), {stored} events stored"
            )
        return Result(label, len(table.rows), t1 - t0, t2 - t1, t3 - t2, report.created_events)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Generate the table, import it per format into fresh databases, print one result table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows to generate (10000)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL (postgresql+psycopg://user@host:port/db); "
        "a private database is created on it and dropped; default: a temporary SQLite file",
    )
    args = parser.parse_args(argv)
    if args.database_url and not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a postgresql URL")
    rows = generate_rows(args.rows)
    files: dict[str, tuple[str, Callable[[list[list[str]]], bytes]]] = {
        "csv": ("bench.csv", to_csv),
        "xlsx": ("bench.xlsx", to_xlsx),
    }
    backend = make_url(args.database_url).get_backend_name() if args.database_url else "sqlite"
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="openday-bench-") as tmp:
        for fmt, (filename, render) in files.items():
            data = render(rows)
            with fresh_database(args.database_url, Path(tmp), fmt) as url:
                results.append(import_once(url, fmt, data, filename, expect=len(rows)))
                if fmt == "csv":
                    results.append(import_once(url, "csv again", data, filename, expect=0))
    table = Table(title=f"schedule import, {args.rows} rows, {backend}")
    for column in ("format", "rows", "read+parse s", "plan s", "write s", "total s", "rows/s"):
        table.add_column(column, justify="left" if column == "format" else "right")
    for r in results:
        table.add_row(
            r.label,
            str(r.rows),
            f"{r.read:.2f}",
            f"{r.plan:.2f}",
            f"{r.write:.2f}",
            f"{r.total:.2f}",
            f"{r.rows / r.total:,.0f}",
        )
    Console(width=100).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
