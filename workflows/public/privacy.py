"""Registrants' personal data (PIPL): encryption, keyed hashes, masking, export and purge.

Phone and ID numbers are stored only as Fernet ciphertext beside an HMAC-SHA256 of the
normalised value (finds the same person again without decrypting) and, for the phone, its last
four digits for masking. Nothing here logs a number. The key comes from OPENDAY_PRIVACY_KEY;
without it a development key is generated once as var/privacy.key (0600).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session, col, select

from models import Campaign, Event, Registration
from workflows.kernel.errors import DomainError

log = structlog.get_logger("openday.privacy")

PURGED_NAME = "（已清除）"


@dataclass(frozen=True)
class Keys:
    """The encryption key and the hashing key derived from it."""

    fernet: Fernet
    mac_key: bytes

    @classmethod
    def of(cls, key: bytes) -> Keys:
        """Keys from one Fernet key (the HMAC key is derived, never the same bytes)."""
        return cls(Fernet(key), hashlib.sha256(b"openday-person-hash:" + key).digest())

    def encrypt(self, value: str) -> str:
        """Ciphertext of a value."""
        return self.fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str | None) -> str | None:
        """The value back (None when purged or unreadable with this key)."""
        if not token:
            return None
        try:
            return self.fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None

    def digest(self, kind: str, value: str) -> str:
        """A keyed hash of a normalised value, separated by kind (phone, id, challenge)."""
        return hmac.new(self.mac_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def dev_key_path(var_dir: Path) -> Path:
    """Where the development key lives."""
    return var_dir / "privacy.key"


def load_keys(secret: str | None, var_dir: Path) -> Keys:
    """The configured key, else the development key under var_dir (generated on first use)."""
    if secret:
        try:
            return Keys.of(secret.encode())
        except ValueError as exc:
            raise ValueError("OPENDAY_PRIVACY_KEY is not a Fernet key (urlsafe base64)") from exc
    path = dev_key_path(var_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
        log.warning("privacy_dev_key_generated", path=str(path))
    return Keys.of(path.read_bytes().strip())


_CACHE: dict[tuple[str | None, str], Keys] = {}


def keys_from_settings(settings: Any) -> Keys:
    """Keys for a Settings object (the key file is read once per process)."""
    secret = settings.privacy_key.get_secret_value() if settings.privacy_key else None
    where = (secret, str(settings.var_dir))
    if where not in _CACHE:
        _CACHE[where] = load_keys(secret, settings.var_dir)
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
        "stored_as": "phone, ID number and e-mail encrypted (Fernet), keyed hashes; shown masked",
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
