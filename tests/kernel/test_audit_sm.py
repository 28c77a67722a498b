"""The 国密 profile (OPENDAY_CRYPTO=sm, issue 29): the audit chain's new rows are HMAC-SM3, and a
stored hash names the MAC that made it, so a chain written partly before and partly after a
switch of profile verifies whole, and a tampered SM3 row is found."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import ChangeLog, TransitionLog
from settings import PROJECT_DIR
from tests.conftest import Walker
from tests.kernel.test_audit_chain import _behind_its_back, _rows, _some_history
from workflows.kernel import audit


def _profile(monkeypatch: pytest.MonkeyPatch, profile: str) -> None:
    """Switch the process's chain algorithm, as a restart with OPENDAY_CRYPTO would."""
    monkeypatch.setitem(audit._ALGORITHMS, "new", audit.SM3 if profile == "sm" else audit.SHA256)


def test_hmac_sm3_is_the_standard_one() -> None:
    """The tag carries GB/T 32905 SM3 in HMAC (RFC 2104), as cryptography computes it."""
    signer = crypto_hmac.HMAC(b"key", hashes.SM3())
    signer.update(b"text")
    tagged = audit.mac(b"key", b"text", audit.SM3)
    assert tagged.startswith("sm3:") and len(tagged) <= 64
    import base64

    assert base64.urlsafe_b64decode(tagged[4:] + "=") == signer.finalize()
    assert audit.algorithm_of(tagged) == audit.SM3
    assert audit.algorithm_of(audit.mac(b"key", b"text", audit.SHA256)) == audit.SHA256


def test_a_chain_verifies_across_a_switch_of_profile(
    walker: Walker, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profile(monkeypatch, "standard")
    event_id = _some_history(walker)
    _profile(monkeypatch, "sm")
    walker.move(event_id, "submit_summary", data={"text": "总结", "photos": ["p.jpg"]})
    body = {"username": "viewer-bing", "role": "viewer", "display_name": "丙"}
    headers = walker.world.headers["secadmin"]
    assert walker.client.post("/api/v1/users", json=body, headers=headers).status_code == 201
    changes = _rows(engine, ChangeLog)
    kinds = [audit.algorithm_of(r.row_hash) for r in changes]
    assert kinds[0] == audit.SHA256 and kinds[-1] == audit.SM3  # both in one chain
    assert changes[-1].prev_hash == changes[-2].row_hash
    with Session(engine) as session:
        assert all(r.broken is None for r in audit.verify(session))
    _profile(monkeypatch, "standard")  # and back: the SM3 rows still verify
    with Session(engine) as session:
        assert all(r.broken is None for r in audit.verify(session))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_")}
    env["OPENDAY_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    env["OPENDAY_CRYPTO"] = "sm"
    done = subprocess.run(
        [sys.executable, "-m", "cli", "audit", "verify"],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "intact: change_log" in done.stderr


def test_a_tampered_sm3_line_fails(
    walker: Walker, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _profile(monkeypatch, "sm")
    _some_history(walker)
    rows = _rows(engine, ChangeLog)
    assert all(audit.algorithm_of(r.row_hash) == audit.SM3 for r in rows)
    moves = _rows(engine, TransitionLog)
    assert all(audit.algorithm_of(r.row_hash) == audit.SM3 for r in moves)
    target = rows[1]
    with _behind_its_back(engine, "change_log") as conn:
        conn.execute(
            sa.text("UPDATE change_log SET actor_name = 'someone else' WHERE id = :i"),
            {"i": target.id},
        )
    with Session(engine) as session:
        chain = audit.verify(session, [ChangeLog])[0]
    assert chain.broken is not None
    assert (chain.broken.row_id, chain.broken.what) == (target.id, "row_hash")
    assert chain.broken.expected.startswith("sm3:")


def test_an_sm3_row_relabelled_as_sha256_fails(
    walker: Walker, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changing a row's tag does not help: without the key no MAC of either kind matches."""
    _profile(monkeypatch, "sm")
    _some_history(walker)
    target = _rows(engine, ChangeLog)[-1]
    with _behind_its_back(engine, "change_log") as conn:
        conn.execute(
            sa.text("UPDATE change_log SET row_hash = :h WHERE id = :i"),
            {"h": "f" * 64, "i": target.id},
        )
    with Session(engine) as session:
        chain = audit.verify(session, [ChangeLog])[0]
    assert chain.broken is not None and chain.broken.row_id == target.id
