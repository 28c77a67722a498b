"""Personal data under the 国密 profile (OPENDAY_CRYPTO=sm, issue 29): new values are SM4-GCM,
the ciphertext names its algorithm, and values written under either profile read under both."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from models import Registration
from settings import Settings
from tests.conftest import Walker, World
from tests.public.test_public import ID_ADULT, PHONE, open_event, register
from workflows.public import privacy


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        database_url="sqlite://",
        ratelimit_url="memory://",
        crypto="sm",
    )


def test_both_profiles_round_trip_and_read_each_other() -> None:
    secret = Fernet.generate_key()
    standard, sm = privacy.Keys.of(secret), privacy.Keys.of(secret, "sm")
    old, new = standard.encrypt("13800138000"), sm.encrypt("13800138000")
    assert old.startswith("gAAAAA") and new.startswith(privacy.SM4_TAG)
    assert new != sm.encrypt("13800138000")  # a fresh nonce each time
    for keys in (standard, sm):
        assert keys.decrypt(old) == keys.decrypt(new) == "13800138000"


def test_a_tampered_or_foreign_sm4_ciphertext_reads_as_nothing() -> None:
    sm = privacy.Keys.of(Fernet.generate_key(), "sm")
    token = sm.encrypt("110105199001011234")
    body = token[len(privacy.SM4_TAG) :]
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    assert sm.decrypt(privacy.SM4_TAG + flipped) is None
    assert sm.decrypt(privacy.SM4_TAG + "!!not base64") is None
    assert sm.decrypt(privacy.SM4_TAG + "AAAA") is None
    other = privacy.Keys.of(Fernet.generate_key(), "sm")
    assert other.decrypt(token) is None


def test_a_registration_is_stored_sm4_and_read_after_switching_back(
    walker: Walker, world: World, settings: Settings
) -> None:
    event = open_event(walker, places=2)
    reg = register(walker.client, event["id"], id_number=ID_ADULT).json()
    with world.session() as s:
        row = s.exec(select(Registration)).one()
    assert row.phone_enc is not None and row.phone_enc.startswith(privacy.SM4_TAG)
    assert row.id_enc is not None and row.id_enc.startswith(privacy.SM4_TAG)
    export = walker.client.post(
        "/api/v1/public/registrations/export", json={"code": reg["code"], "phone": PHONE}
    )
    assert export.status_code == 200, export.text
    assert export.json()["phone"] == PHONE and "SM4-GCM" in export.json()["stored_as"]
    standard = privacy.keys_from_settings(settings.model_copy(update={"crypto": "standard"}))
    assert standard.profile == "standard"
    assert standard.decrypt(row.phone_enc) == PHONE
    assert standard.decrypt(row.id_enc) == ID_ADULT
