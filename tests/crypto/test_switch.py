"""The 国密 switch (issue 29): `openday crypto switch` verifies every audit chain, re-encrypts
personal data and re-seals the chains under the configured profile's MAC in one transaction,
recording the switch; afterwards `openday audit verify` is intact under the new algorithm and
every row carries it, chains resuming from an archive anchor included. A broken chain refuses
the switch and nothing changes; the append-only guard stands before and after."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import AuditAnchor, ChangeLog, TransitionLog, User
from settings import PROJECT_DIR, Settings
from tests.conftest import Walker
from tests.kernel.test_audit_archive import _archived_history, _later_history
from tests.kernel.test_audit_chain import _behind_its_back, _rows, _some_history
from tests.kernel.test_audit_sm import _profile
from workflows.crypto.switch import switch
from workflows.kernel import audit
from workflows.kernel.clock import FixedClock
from workflows.kernel.errors import DomainError
from workflows.public.privacy import SM4_TAG, Keys, keys_from_settings

SECRET = "JBSWY3DPEHPK3PXP"


def _openday(engine: Engine, *args: str, crypto: str = "sm") -> subprocess.CompletedProcess:
    """This checkout's command on the test database, under a profile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_")}
    env["OPENDAY_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    env["OPENDAY_CRYPTO"] = crypto
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _standard_secret(engine: Engine, walker: Walker, settings: Settings) -> Keys:
    """The security administrator's TOTP secret stored under Fernet; the keys (standard)."""
    keys = replace(keys_from_settings(settings), profile="standard")
    with Session(engine) as session:
        user = session.get(User, walker.world.user_ids["secadmin"])
        assert user is not None
        user.totp_secret_enc = keys.encrypt(SECRET)
        session.commit()
    return keys


def _hashes(engine: Engine) -> list[tuple[int, str, str]]:
    rows = _rows(engine, ChangeLog) + _rows(engine, TransitionLog)
    return [(r.id, r.prev_hash, r.row_hash) for r in rows]


def test_a_switch_to_sm_reseals_every_chain_and_reencrypts(
    walker: Walker,
    engine: Engine,
    clock: FixedClock,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _profile(monkeypatch, "standard")
    _archived_history(walker, engine, clock, tmp_path)  # chains now resume from anchors
    _later_history(walker, "viewer-after")
    standard = _standard_secret(engine, walker, settings)
    with Session(engine) as session:
        assert session.exec(select(AuditAnchor)).first() is not None
    before = _rows(engine, ChangeLog), _rows(engine, TransitionLog)
    assert all(audit.algorithm_of(r.row_hash) == audit.SHA256 for r in before[0] + before[1])

    _profile(monkeypatch, "sm")
    sm = replace(standard, profile="sm")
    with Session(engine) as session:
        done = switch(session, sm, now=clock.now())
        session.commit()
    changes, moves = _rows(engine, ChangeLog), _rows(engine, TransitionLog)
    assert all(r.row_hash.startswith(audit.SM3_TAG) for r in changes + moves)
    assert done.resealed == {"transition_log": len(moves), "change_log": len(changes) - 1}
    assert [(r.id, r.seq) for r in changes[:-1]] == [(r.id, r.seq) for r in before[0]]
    line = changes[-1]  # the switch, itself sealed under SM3 after the re-sealed tail
    assert (line.action, line.actor_name) == ("crypto_switched", "system")
    assert (line.after["from"], line.after["to"]) == ("hmac-sha256", "hmac-sm3")
    assert line.after["personal_data"]["values"] == 1
    assert line.after["resealed"] == done.resealed
    with Session(engine) as session:
        reports = audit.verify(session)
        assert all(r.broken is None for r in reports)
        assert any(r.anchored for r in reports)  # the anchored chains re-sealed from their anchor
        assert audit.unmatched_events(session) == []
        user = session.get(User, walker.world.user_ids["secadmin"])
        assert user is not None and user.totp_secret_enc is not None
        assert user.totp_secret_enc.startswith(SM4_TAG)
        assert sm.decrypt(user.totp_secret_enc) == SECRET
    verified = _openday(engine, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "intact: change_log" in verified.stderr and "intact: transition_log" in verified.stderr
    # The append-only guard is back: an UPDATE is refused as before.
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        conn.execute(sa.text("UPDATE change_log SET actor_name = 'x' WHERE id = :i"),
                     {"i": changes[0].id})  # fmt: skip
    # Run again: nothing left to re-seal.
    with Session(engine) as session:
        again = switch(session, sm, now=clock.now())
        session.commit()
    assert again.resealed == {"transition_log": 0, "change_log": 0}


def test_the_command_switches_and_verify_holds(
    walker: Walker, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`openday crypto switch` under OPENDAY_CRYPTO=sm, then `openday audit verify`."""
    _profile(monkeypatch, "standard")
    _some_history(walker)
    done = _openday(engine, "crypto", "switch")
    assert done.returncode == 0, done.stderr
    assert "switched to hmac-sm3 and SM4-GCM" in done.stderr
    assert all(r.row_hash.startswith("sm3:") for r in _rows(engine, ChangeLog))
    assert all(r.row_hash.startswith("sm3:") for r in _rows(engine, TransitionLog))
    assert _openday(engine, "audit", "verify").returncode == 0


def test_a_broken_chain_refuses_the_switch_and_changes_nothing(
    walker: Walker,
    engine: Engine,
    clock: FixedClock,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _profile(monkeypatch, "standard")
    _some_history(walker)
    standard = _standard_secret(engine, walker, settings)
    target = _rows(engine, ChangeLog)[1]
    with _behind_its_back(engine, "change_log") as conn:
        conn.execute(sa.text("UPDATE change_log SET actor_name = 'someone else' WHERE id = :i"),
                     {"i": target.id})  # fmt: skip
    stored = _hashes(engine)
    _profile(monkeypatch, "sm")
    with Session(engine) as session, pytest.raises(DomainError) as refused:
        switch(session, replace(standard, profile="sm"), now=clock.now())
    assert refused.value.code == "audit_chain_broken" and refused.value.status == 409
    assert f"row id {target.id}" in refused.value.message_en
    done = _openday(engine, "crypto", "switch")
    assert done.returncode == 1
    assert f"the audit chain change_log is broken at row id {target.id}" in done.stderr
    assert "链" in done.stderr
    assert _hashes(engine) == stored  # not one hash re-sealed
    with Session(engine) as session:
        user = session.get(User, walker.world.user_ids["secadmin"])
        assert user is not None and not str(user.totp_secret_enc).startswith(SM4_TAG)
        actions = session.exec(select(ChangeLog.action)).all()
    assert "crypto_switched" not in actions
