"""A human check that needs no outside service: an arithmetic question rendered as text.

The question's numbers travel in a token signed with a key derived from the privacy key, with
an expiry: the server keeps no state, and only someone who read the question can answer.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from workflows.kernel.errors import DomainError
from workflows.public.privacy import Keys

LIFETIME_SECONDS = 30 * 60
DIGITS = "零一二三四五六七八九十"


@dataclass(frozen=True)
class Challenge:
    """A question and the token the answer goes back with."""

    question: str
    token: str


def _words(n: int) -> str:
    return DIGITS[n] if n <= 10 else f"十{DIGITS[n - 10]}" if n < 20 else str(n)


def _sign(keys: Keys, body: str) -> str:
    return keys.digest("challenge", body)[:24]


def new(keys: Keys, now: datetime, *, a: int | None = None, b: int | None = None) -> Challenge:
    """A fresh question such as 七加五等于多少？ (answered in digits)."""
    a = secrets.randbelow(9) + 1 if a is None else a
    b = secrets.randbelow(9) + 1 if b is None else b
    expires = int(now.timestamp()) + LIFETIME_SECONDS
    body = f"{a}.{b}.{expires}.{secrets.token_hex(4)}"
    raw = f"{body}.{_sign(keys, body)}".encode()
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return Challenge(f"{_words(a)}加{_words(b)}等于多少？（请填写阿拉伯数字）", token)


def _refuse(code: str, zh: str, en: str) -> DomainError:
    return DomainError(code, zh, en, status=422, details={"field": "challenge_answer"})


def verify(keys: Keys, token: str, answer: str, now: datetime) -> None:
    """Refuse (422) a wrong, forged or expired answer."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        a, b, expires, nonce, signature = raw.split(".")
        body = f"{a}.{b}.{expires}.{nonce}"
        genuine = hmac.compare_digest(signature, _sign(keys, body))
        total, deadline = int(a) + int(b), int(expires)
    except (ValueError, UnicodeDecodeError):
        genuine, total, deadline = False, -1, 0
    if not genuine:
        raise _refuse(
            "challenge_invalid", "验证题无效，请刷新页面后重新作答", "the check is invalid"
        )
    if now.timestamp() > deadline:
        raise _refuse(
            "challenge_expired", "验证题已过期，请刷新页面后重新作答", "the check has expired"
        )
    if answer.strip() != str(total):
        raise _refuse(
            "challenge_wrong", "验证题答案不正确，请重新计算", "the check's answer is wrong"
        )
