"""What a manifest records of a database and is checked against after a restore: the migration
head, every table's row count, and each audit chain's head (the transition log's fingerprint
over every event's head, the change log's last hash), plus fingerprints of the keys that live
outside the database (the audit key the chains are sealed under, the privacy key registrants'
data is encrypted under) so a restore can tell it is on a machine that can read the data."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import models  # noqa: F401 - registers every table on SQLModel.metadata
from workflows.kernel import audit

FORMAT = "openday-backup/1"


def migration_head(conn: Connection) -> str | None:
    """The alembic revision the database is at (None: not migrated)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def row_counts(conn: Connection) -> dict[str, int]:
    """Rows in every table of the models that the database has."""
    present = set(sa.inspect(conn).get_table_names())
    return {
        table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        for table in SQLModel.metadata.sorted_tables
        if table.name in present
    }


def audit_heads(conn: Connection) -> list[dict[str, Any]]:
    """Each chained table: rows, chains, head seq and head hash (or fingerprint), and whether
    its chain verified intact."""
    reports = [audit.verify_table(conn, model) for model in audit.CHAINED]
    return [
        {
            "table": r.table,
            "rows": r.rows,
            "chains": r.chains,
            "head_seq": r.head_seq,
            "head_hash": r.head_hash,
            "intact": r.broken is None,
        }
        for r in reports
    ]


def of_database(conn: Connection) -> dict[str, Any]:
    """The facts a manifest records of a database (read in one snapshot by the caller)."""
    return {
        "migration_head": migration_head(conn),
        "row_counts": row_counts(conn),
        "audit": audit_heads(conn),
    }


# Rows the migrations themselves write into a new database: migration 0041's default district.
SEEDED_BY_MIGRATIONS = {"district": 1}


def is_empty(conn: Connection) -> bool:
    """No table of the service holds a row beyond what the migrations seed (a database only
    migrated is empty: a restore replaces its schema with the archive's, and nothing is lost)."""
    return all(n <= SEEDED_BY_MIGRATIONS.get(t, 0) for t, n in row_counts(conn).items())


def key_fingerprints(settings: Any) -> dict[str, str]:
    """Short one-way fingerprints of the keys kept outside the database."""
    from workflows.public.privacy import keys_from_settings

    return {
        "audit": _fingerprint(b"audit", audit.chain_key()),
        "privacy": _fingerprint(b"privacy", keys_from_settings(settings).mac_key),
    }


def _fingerprint(label: bytes, key: bytes) -> str:
    return hashlib.sha256(b"openday-key-fingerprint:" + label + b":" + key).hexdigest()[:16]


def sha256_of(path: Path) -> str:
    """A file's sha256, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
