"""The algorithm inventory for the 密评 file (issue 29): each kind of protected data with the
algorithm new values get, how many stored values are under each algorithm (read from the values'
own tags), and where its key comes from — a setting's name or a key file's path, never a key."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import ChangeLog
from settings import PROJECT_DIR, Settings
from tests.conftest import Walker
from tests.crypto.test_switch import _standard_secret
from tests.kernel.test_audit_chain import _rows, _some_history
from tests.kernel.test_audit_sm import _profile
from workflows.crypto.inventory import FERNET, SM4, inventory
from workflows.crypto.switch import switch
from workflows.kernel import audit
from workflows.kernel.clock import FixedClock


def _by_place(engine: Engine, settings: Settings) -> dict[str, dict[str, object]]:
    with Session(engine) as session:
        items = inventory(session.connection(), settings)
    return {item.stored_in: item.__dict__ for item in items}


def test_the_inventory_counts_each_algorithm_before_and_after_a_switch(
    walker: Walker,
    engine: Engine,
    clock: FixedClock,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _profile(monkeypatch, "standard")
    _some_history(walker)
    standard = _standard_secret(engine, walker, settings)
    changes = len(_rows(engine, ChangeLog))
    found = _by_place(engine, settings)
    assert found["change_log.row_hash"]["stored"] == {"HMAC-SHA256": changes}
    assert found["change_log.row_hash"]["algorithm"] == "HMAC-SHA256"
    assert found["account.totp_secret_enc"]["stored"] == {FERNET: 1}
    assert found["api_token.token_hash"]["stored"]  # the World's tokens
    assert found["public_registration.phone_enc"]["stored"] == {}
    assert str(found["public_registration.phone_enc"]["key"]).endswith("privacy.key")
    kinds = {"audit_anchor.anchor_hash", "account.password_hash", "recovery_code.code_hash",
             "public_registration.id_enc", "public_registration.email_enc"}  # fmt: skip
    assert kinds <= found.keys()

    _profile(monkeypatch, "sm")
    sm = replace(standard, profile="sm")
    with Session(engine) as session:
        switch(session, sm, now=clock.now())
        session.commit()
    sm_settings = settings.model_copy(update={"crypto": "sm"})
    found = _by_place(engine, sm_settings)
    assert found["change_log.row_hash"]["stored"] == {"HMAC-SM3": changes + 1}
    assert found["change_log.row_hash"]["algorithm"] == "HMAC-SM3"
    assert found["account.totp_secret_enc"]["stored"] == {SM4: 1}
    assert found["account.totp_secret_enc"]["algorithm"] == SM4


def test_the_command_exports_csv_and_json_without_a_key(walker: Walker, engine: Engine) -> None:
    _some_history(walker)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_")}
    env["OPENDAY_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    env["OPENDAY_PRIVACY_KEY"] = Fernet.generate_key().decode()  # made here, never stored

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli", "crypto", "inventory", *args],
                              env=env, cwd=PROJECT_DIR, capture_output=True, text=True,
                              timeout=120)  # fmt: skip

    table = run("--format", "csv")
    assert table.returncode == 0, table.stderr
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert rows[0].keys() == {"data", "stored_in", "purpose", "algorithm", "stored", "key"}
    chain = next(r for r in rows if r["stored_in"] == "change_log.row_hash")
    assert chain["stored"].startswith("HMAC-SHA256=") and chain["key"].endswith("audit.key")
    phones = next(r for r in rows if r["stored_in"] == "public_registration.phone_enc")
    assert phones["key"] == "setting OPENDAY_PRIVACY_KEY"
    answer = run("--format", "json")
    assert answer.returncode == 0, answer.stderr
    document = json.loads(answer.stdout)
    assert document["profile"] == "standard" and len(document["items"]) == len(rows)
    audit_key = audit.chain_key().decode()  # the key file the command reads too
    for text in (table.stdout, answer.stdout):
        assert env["OPENDAY_PRIVACY_KEY"] not in text and audit_key not in text
    assert run("--format", "xml").returncode == 2  # an unknown format: usage error
