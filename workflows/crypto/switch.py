"""Switching a deployment's stored data to the configured profile (issue 29: 国密 switch).

After OPENDAY_CRYPTO changes (standard → sm, or back), new rows are written under the new
profile while old ones keep theirs (each hash and ciphertext names its algorithm). `switch`
brings the old ones over, in one transaction: it lifts the audit tables' UPDATE guard for this
transaction (PostgreSQL: their exclusive locks, held to the commit, so nothing appends
meanwhile), verifies every audit chain and every archive anchor under the algorithms they were
written with — and refuses, changing nothing, if any link is broken (re-sealing a tampered log
would launder it) — re-encrypts the stored personal data, re-seals each chain under the
profile's MAC, and records the switch as one change-log line (from which algorithms, to which,
how many rows re-sealed and values re-encrypted), itself sealed under the new MAC. Afterwards
`openday audit verify` is intact and every row carries the new MAC. Archive anchors keep the
MAC they were written with (they are append-only and verify under either).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from workflows.crypto import reseal
from workflows.kernel import audit
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import SYSTEM
from workflows.public.privacy import Keys
from workflows.public.reencrypt import reencrypt


@dataclass(frozen=True)
class Switched:
    """What one switch did."""

    algorithm: str  # the chains' MAC now
    cipher: str  # personal data's cipher now
    before: dict[str, dict[str, int]]  # stored MACs per algorithm, per table, before
    resealed: dict[str, int]  # rows whose hash was re-computed, per table
    personal: dict[str, int]  # reencrypt's counts


def _refuse_broken(reports: list[audit.ChainReport]) -> None:
    """409 `audit_chain_broken` naming the first broken link; nothing has been changed."""
    for report in reports:
        b = report.broken
        if b is None:
            continue
        where = f"event {b.event_id}, seq {b.seq}" if b.event_id is not None else f"seq {b.seq}"
        raise DomainError(
            "audit_chain_broken",
            f"审计链 {b.table} 在记录 {b.row_id}（{where}）处断开，未切换算法、未改动任何数据："
            "请先运行 openday audit verify 并从备份恢复",
            f"the audit chain {b.table} is broken at row id {b.row_id} ({where}): nothing was "
            "switched or changed; run `openday audit verify` and restore the log from a backup",
            status=409,
            details={"table": b.table, "row_id": b.row_id, "what": b.what},
        )


def switch(session: Session, keys: Keys, *, now: datetime) -> Switched:
    """Verify, re-encrypt, re-seal and record, in the caller's transaction (the caller commits;
    a refusal leaves everything as it was once the caller rolls back)."""
    algorithm = audit.chain_algorithm()
    session.flush()
    connection = session.connection()
    tables = [audit._table(model).name for model in audit.CHAINED]
    with reseal.guards_lifted(connection, tables):
        _refuse_broken(audit.verify(session))
        before = reseal.census(connection)
        personal = reencrypt(session, keys, now=now, record=False)
        session.flush()
        resealed = {
            audit._table(model).name: reseal.reseal_table(connection, model, algorithm)
            for model in audit.CHAINED
        }
    done = Switched(algorithm, keys.algorithm, before, resealed, personal)
    _record(session, done, now)
    return done


def _record(session: Session, done: Switched, now: datetime) -> None:
    """The switch as one change-log line, chained (under the new MAC) after the re-sealed tail."""
    was = sorted({name for counts in done.before.values() for name in counts})
    after: dict[str, Any] = {
        "from": ", ".join(was) or None,
        "to": done.algorithm,
        "stored_before": done.before,
        "resealed": done.resealed,
        "personal_data": {"cipher": done.cipher, **done.personal},
        "key": "OPENDAY_AUDIT_KEY or var/audit.key; OPENDAY_PRIVACY_KEY or var/privacy.key",
    }
    audit.record(session, SYSTEM, entity="audit", entity_id=None, action="crypto_switched",
                 now=now, after=after)  # fmt: skip
    session.flush()
