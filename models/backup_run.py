"""Backups taken (`openday backup`, the scheduler's nightly one): when, where, how it went. The
last success is on /readyz and /metrics."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class BackupRun(SQLModel, table=True):
    """One backup: running, then succeeded (with its archive) or failed (with the error)."""

    __tablename__ = "backup_run"

    id: int | None = Field(default=None, primary_key=True)
    # "nightly:<local day>" for the scheduler's (unique: one per day among all schedulers);
    # NULL for one taken by hand.
    claim: str | None = Field(default=None, sa_type=sa.String(40), unique=True)
    state: str = Field(default="running", sa_type=sa.String(20))
    started_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    path: str | None = Field(default=None, sa_type=sa.String(1000))
    size_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    error: str | None = Field(default=None, sa_type=sa.String(2000))
