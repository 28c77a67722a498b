"""The second factor: TOTP (RFC 6238, pyotp) with one-time recovery codes.

Enrolment stores a new secret (encrypted with the personal-data key, workflows.public.privacy)
and shows it as a QR code; it counts only once a code from it is confirmed, and then ten
recovery codes are shown once (only their SHA-256 is stored). A code is accepted for its own
30-second step or one either side (clock drift), and each step at most once: the last step
accepted is kept, so a code seen over someone's shoulder cannot be replayed within its window.
Which roles must use it is a setting (OPENDAY_TOTP_REQUIRED_ROLES); anyone may enrol.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Protocol

import pyotp
from sqlmodel import Session, col, select

from models import RecoveryCode, User
from workflows.kernel import audit, tenancy
from workflows.kernel.errors import Conflict, DomainError, InvalidData
from workflows.kernel.visibility import Actor

RECOVERY_CODES = 10
DRIFT_STEPS = 1  # a code of the step before or after is accepted too
CODE_MAX_LENGTH = 32  # longest thing typed into the code field that is looked at


class Cipher(Protocol):
    """What encrypts the secret at rest (workflows.public.privacy.Keys)."""

    def encrypt(self, value: str) -> str: ...

    def decrypt(self, token: str | None) -> str | None: ...


def required_roles(setting: str) -> frozenset[str]:
    """The roles a comma-separated OPENDAY_TOTP_REQUIRED_ROLES names."""
    return frozenset(part.strip() for part in setting.split(",") if part.strip())


def is_enrolled(user: User) -> bool:
    """Whether the account has a confirmed second factor."""
    return user.totp_enabled_at is not None and bool(user.totp_secret_enc)


def is_required(user: User, roles: frozenset[str]) -> bool:
    """Whether the account's role must use a second factor."""
    return user.role in roles


def _refuse(code: str, zh: str, en: str) -> DomainError:
    return DomainError(code, zh, en, status=401)


def begin_enrolment(session: Session, user: User, cipher: Cipher) -> str:
    """A new secret for the account (replacing an unconfirmed one); returned to show once."""
    if is_enrolled(user):
        raise Conflict(
            "second_factor_enrolled",
            "已启用两步验证；如需更换，请先停用",
            "a second factor is already enrolled; disable it first to replace it",
        )
    secret = pyotp.random_base32()
    user.totp_secret_enc = cipher.encrypt(secret)
    user.totp_last_step = None
    session.flush()
    return secret


def pending_secret(user: User, cipher: Cipher) -> str | None:
    """The secret of an enrolment not yet confirmed (to show its QR code again)."""
    if is_enrolled(user):
        return None
    return cipher.decrypt(user.totp_secret_enc)


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=issuer)


def _matching_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The time step (near now, later than `after`) whose code is `code`, or None."""
    totp = pyotp.TOTP(secret)
    here = totp.timecode(now)
    for step in range(here - DRIFT_STEPS, here + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if after is not None and step <= after:
                raise _refuse(
                    "code_replayed",
                    "该验证码已使用过，请等待验证器显示新的验证码",
                    "this code was already used; wait for the next one",
                )
            return step
    return None


def _clean(code: str) -> str:
    return code.strip().replace(" ", "").replace("-", "").lower()[:CODE_MAX_LENGTH]


def confirm_enrolment(
    session: Session, user: User, cipher: Cipher, code: str, now: datetime
) -> list[str]:
    """Turn the pending secret on with a code from it; the recovery codes, shown once."""
    secret = pending_secret(user, cipher)
    if secret is None:
        raise Conflict(
            "no_enrolment", "没有待确认的两步验证，请重新开始", "no enrolment to confirm"
        )
    step = _matching_step(secret, _clean(code), now, None)
    if step is None:
        raise InvalidData(
            "invalid_code",
            "验证码不正确，请输入验证器当前显示的 6 位数字",
            "wrong code; type the 6 digits the authenticator shows now",
        )
    user.totp_enabled_at = now
    user.totp_last_step = step
    codes = _new_recovery_codes(session, user, now)
    tenancy.for_access_line(session, user.district_id)
    audit.record(session, Actor.of(user), entity="account", entity_id=user.id,
                 unit_id=user.unit_id, action="second_factor_enrol", now=now,
                 after={"username": user.username})  # fmt: skip
    return codes


def _hash(code: str) -> str:
    return hashlib.sha256(("openday-recovery:" + _clean(code)).encode()).hexdigest()


def _new_recovery_codes(session: Session, user: User, now: datetime) -> list[str]:
    for old in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(old)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = secrets.token_hex(5)  # 40 bits each, ten of them, each good once
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id or 0, code_hash=_hash(raw), created_at=now))
    session.flush()
    return codes


def check_code(session: Session, user: User, cipher: Cipher, code: str, now: datetime) -> str:
    """Accept a TOTP code (each step once) or an unused recovery code, else 401; which kind
    was used ("totp" or "recovery") is returned. The caller commits (the step or the spent
    recovery code is what makes a replay fail)."""
    cleaned = _clean(code)
    secret = cipher.decrypt(user.totp_secret_enc) if is_enrolled(user) else None
    if secret is None:
        raise _refuse("second_factor_missing", "该账号未启用两步验证", "no second factor enrolled")
    if cleaned.isdigit() and len(cleaned) == 6:
        step = _matching_step(secret, cleaned, now, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            session.flush()
            return "totp"
    else:
        row = session.exec(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _hash(cleaned),
                col(RecoveryCode.used_at).is_(None),
            )
        ).first()
        if row is not None:
            row.used_at = now
            session.flush()
            return "recovery"
    raise _refuse(
        "invalid_code",
        "验证码不正确（或恢复码已用过）",
        "wrong code (or the recovery code was already used)",
    )


def recovery_codes_left(session: Session, user: User) -> int:
    """How many unused recovery codes the account has."""
    rows = session.exec(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, col(RecoveryCode.used_at).is_(None)
        )
    ).all()
    return len(rows)


def disable(
    session: Session, user: User, cipher: Cipher, code: str, now: datetime, roles: frozenset[str]
) -> None:
    """Turn one's own second factor off with a current code; refused where the role needs it."""
    if is_required(user, roles):
        raise Conflict(
            "second_factor_required",
            "您的角色必须使用两步验证，不能停用",
            "your role must use a second factor; it cannot be disabled",
        )
    check_code(session, user, cipher, code, now)
    clear(session, user)
    tenancy.for_access_line(session, user.district_id)
    audit.record(session, Actor.of(user), entity="account", entity_id=user.id,
                 unit_id=user.unit_id, action="second_factor_disable", now=now,
                 after={"username": user.username})  # fmt: skip


def clear(session: Session, user: User) -> None:
    """Forget the account's second factor and recovery codes (the caller audits)."""
    user.totp_secret_enc = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    for old in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(old)
    session.flush()
