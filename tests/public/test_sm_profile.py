"""Personal data under the 国密 profile (OPENDAY_CRYPTO=sm, issue 29): new values are SM4-GCM,
the ciphertext names its algorithm, and values written under either profile read under both."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from models import ChangeLog, Registration, User
from settings import Settings
from tests.conftest import Walker, World
from tests.public.test_public import ID_ADULT, PHONE, open_event, register
from workflows.public import privacy
from workflows.public.reencrypt import reencrypt

NOW = datetime(2022, 9, 16, 2, tzinfo=UTC)


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


def test_reencrypt_moves_stored_data_to_the_profile_now_configured(
    walker: Walker, world: World, settings: Settings
) -> None:
    """Registered under sm; switched back to standard and re-encrypted: Fernet, still readable;
    then to sm again. A TOTP secret goes along; a second run changes nothing; each run is an
    audit line."""
    event = open_event(walker, places=2)
    register(walker.client, event["id"], id_number=ID_ADULT)
    sm = privacy.keys_from_settings(settings)
    standard = privacy.keys_from_settings(settings.model_copy(update={"crypto": "standard"}))
    with world.session() as s:
        user = s.exec(select(User)).first()
        assert user is not None
        user.totp_secret_enc = sm.encrypt("JBSWY3DPEHPK3PXP")
        s.add(user)
        s.commit()
    with world.session() as s:
        counts = reencrypt(s, standard, now=NOW)
        s.commit()
    assert counts == {"registrations": 1, "accounts": 1, "values": 3, "unreadable": 0}
    with world.session() as s:
        row = s.exec(select(Registration)).one()
        secret = s.exec(select(User).where(User.totp_secret_enc.is_not(None))).one()  # type: ignore[union-attr]
    assert row.phone_enc is not None and row.phone_enc.startswith("gAAAAA")
    assert sm.decrypt(row.phone_enc) == PHONE and sm.decrypt(row.id_enc) == ID_ADULT
    assert standard.decrypt(secret.totp_secret_enc) == "JBSWY3DPEHPK3PXP"
    with world.session() as s:
        again = reencrypt(s, standard, now=NOW)
        back = reencrypt(s, sm, now=NOW)
        s.commit()
        lines = s.exec(
            select(ChangeLog).where(ChangeLog.action == "personal_data_reencrypted")
        ).all()
    assert again["values"] == 0 and back["values"] == 3
    assert [line.after["algorithm"] for line in lines][-1] == "SM4-GCM" and len(lines) == 3
    with world.session() as s:
        assert s.exec(select(Registration)).one().phone_enc.startswith(privacy.SM4_TAG)  # type: ignore[union-attr]
