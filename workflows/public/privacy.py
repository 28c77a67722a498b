"""Registrants' personal data (PIPL): encryption, keyed hashes, masking, export and purge.

Phone and ID numbers are stored only as ciphertext beside an HMAC-SHA256 of the normalised
value (finds the same person again without decrypting) and, for the phone, its last four digits
for masking. Nothing here logs a number. The key comes from OPENDAY_PRIVACY_KEY; without it a
development key is generated once as var/privacy.key (0600).

The ciphertext names its algorithm: a Fernet token (AES-128-CBC + HMAC-SHA256, the `standard`
profile) or "sm4gcm:" + base64url(nonce, ciphertext, tag) under the 国密 profile
(OPENDAY_CRYPTO=sm: SM4-GCM, its 128-bit key derived from the same secret with SM3). New values
are written under the configured profile; either kind is read under both, so a deployment can
switch without losing what it stored before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlmodel import Session, col, select

from models import Campaign, Event, Registration
from workflows.kernel.errors import DomainError

log = structlog.get_logger("openday.privacy")

PURGED_NAME = "（已清除）"


SM4_TAG = "sm4gcm:"
_SM4_AAD = b"openday-personal-data"  # binds a ciphertext to this use
_NONCE, _TAG = 12, 16


def _sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


@dataclass(frozen=True)
class Keys:
    """The encryption keys (Fernet, SM4) and the hashing key, all derived from one secret."""

    fernet: Fernet
    mac_key: bytes
    sm4_key: bytes = b""
    profile: str = "standard"  # which cipher new values get: standard (Fernet) | sm (SM4-GCM)

    @classmethod
    def of(cls, key: bytes, profile: str = "standard") -> Keys:
        """Keys from one Fernet key (the HMAC and SM4 keys are derived, never the same bytes)."""
        return cls(
            Fernet(key),
            hashlib.sha256(b"openday-person-hash:" + key).digest(),
            _sm3(b"openday-sm4-key:" + key)[:16],
            profile,
        )

    @property
    def algorithm(self) -> str:
        """What new ciphertext is (for the algorithm inventory)."""
        return "SM4-GCM" if self.profile == "sm" else "Fernet (AES-128-CBC + HMAC-SHA256)"

    def encrypt(self, value: str) -> str:
        """Ciphertext of a value, under the profile's cipher (its text says which)."""
        if self.profile != "sm":
            return self.fernet.encrypt(value.encode()).decode()
        nonce = os.urandom(_NONCE)
        encryptor = Cipher(algorithms.SM4(self.sm4_key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(_SM4_AAD)
        sealed = encryptor.update(value.encode()) + encryptor.finalize()
        return SM4_TAG + base64.urlsafe_b64encode(nonce + sealed + encryptor.tag).decode()

    def decrypt(self, token: str | None) -> str | None:
        """The value back, whichever cipher made it (None when purged or unreadable)."""
        if not token:
            return None
        if token.startswith(SM4_TAG):
            return self._sm4_open(token[len(SM4_TAG) :])
        try:
            return self.fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None

    def _sm4_open(self, text: str) -> str | None:
        try:
            raw = base64.urlsafe_b64decode(text.encode())
        except (binascii.Error, ValueError):
            return None
        if len(raw) < _NONCE + _TAG:
            return None
        nonce, sealed, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
        decryptor = Cipher(algorithms.SM4(self.sm4_key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(_SM4_AAD)
        try:
            return (decryptor.update(sealed) + decryptor.finalize()).decode()
        except (InvalidTag, UnicodeDecodeError):
            return None

    def digest(self, kind: str, value: str) -> str:
        """A keyed hash of a normalised value, separated by kind (phone, id, challenge)."""
        return hmac.new(self.mac_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def dev_key_path(var_dir: Path) -> Path:
    """Where the development key lives."""
    return var_dir / "privacy.key"


def load_keys(secret: str | None, var_dir: Path, profile: str = "standard") -> Keys:
    """The configured key, else the development key under var_dir (generated on first use)."""
    if secret:
        try:
            return Keys.of(secret.encode(), profile)
        except ValueError as exc:
            raise ValueError("OPENDAY_PRIVACY_KEY is not a Fernet key (urlsafe base64)") from exc
    path = dev_key_path(var_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
        log.warning("privacy_dev_key_generated", path=str(path))
    return Keys.of(path.read_bytes().strip(), profile)


_CACHE: dict[tuple[str | None, str, str], Keys] = {}


def keys_from_settings(settings: Any) -> Keys:
    """Keys for a Settings object (the key file is read once per process)."""
    secret = settings.privacy_key.get_secret_value() if settings.privacy_key else None
    profile = getattr(settings, "crypto", "standard")
    where = (secret, str(settings.var_dir), profile)
    if where not in _CACHE:
        _CACHE[where] = load_keys(secret, settings.var_dir, profile)
    return _CACHE[where]


def mask_phone(phone: str | None) -> str:
    """138****5678: the first three and last four digits only."""
    return f"{phone[:3]}****{phone[-4:]}" if phone else PURGED_NAME


def mask_name(name: str) -> str:
    """张** : the family name only, for lists others may see."""
    return name[:1] + "*" * max(1, len(name) - 1) if name and name != PURGED_NAME else name


def mask_id(id_number: str | None) -> str:
    """1101**********1234."""
    return f"{id_number[:4]}{'*' * 10}{id_number[-4:]}" if id_number else ""


# ---- a person's data on request, and erasure after the campaign ----------------------------


def export_person(reg: Registration, event: Event, keys: Keys) -> dict[str, Any]:
    """Everything stored about the person behind one registration (PIPL 第四十五条 access)."""
    return {
        "registration_code": reg.code,
        "event": {"id": event.id, "theme": event.theme, "date": event.date_earliest.isoformat()},
        "state": reg.state,
        "name": reg.name,
        "phone": keys.decrypt(reg.phone_enc),
        "id_number": keys.decrypt(reg.id_enc),
        "email": keys.decrypt(reg.email_enc),
        "district": reg.district,
        "consent_at": reg.consent_at.isoformat(),
        "registered_at": reg.created_at.isoformat(),
        "decline_reason": reg.decline_reason,
        "purged_at": reg.purged_at.isoformat() if reg.purged_at else None,
        "stored_as": f"phone, ID number and e-mail encrypted ({keys.algorithm}), keyed hashes; "
        "shown masked",
    }


def erase(reg: Registration, now: datetime) -> None:
    """Drop a registration's personal data; its state and code stay for the counts."""
    reg.name = PURGED_NAME
    reg.district = None
    reg.phone_enc = reg.phone_hash = reg.phone_last4 = None
    reg.id_enc = reg.id_hash = reg.person_key = reg.email_enc = None
    reg.purged_at = now
    reg.updated_at = now


def purge(session: Session, *, retention_days: int, today: date, now: datetime) -> int:
    """Erase registrants' personal data of campaigns that ended more than retention_days ago."""
    if retention_days < 0:
        raise DomainError(
            "invalid_retention",
            "保留天数不能为负数",
            "retention days cannot be negative",
            status=422,
        )
    cutoff = today - timedelta(days=retention_days)
    ended = select(Campaign.id).where(Campaign.ends_on < cutoff)
    rows = session.exec(
        select(Registration)
        .where(col(Registration.campaign_id).in_(ended), col(Registration.purged_at).is_(None))
        .with_for_update(skip_locked=True)  # two schedulers purging at once: disjoint rows
    ).all()
    for reg in rows:
        erase(reg, now)
    session.flush()
    log.info("privacy_purged", registrations=len(rows), cutoff=cutoff.isoformat())
    return len(rows)
