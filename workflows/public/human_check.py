"""A human check that needs no outside service: an arithmetic question rendered as text.

The token carries no operands: only an expiry, a nonce and a seal, a keyed hash (HMAC, with a key
derived from the privacy key) over the answer, the expiry and the nonce. Whoever holds the token
but not the question cannot learn the answer from it, and the server keeps no question. Each
token is spent on its first answer, right or wrong (`first_use`, a record that outlives the
token's lifetime in the throttle store), so a token cannot be replayed nor the answer guessed by
trying every sum.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Callable
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


def _seal(keys: Keys, answer: str, body: str) -> str:
    return keys.digest("challenge", f"{answer}.{body}")[:32]


def new(keys: Keys, now: datetime, *, a: int | None = None, b: int | None = None) -> Challenge:
    """A fresh question such as 七加五等于多少？ (answered in digits)."""
    a = secrets.randbelow(9) + 1 if a is None else a
    b = secrets.randbelow(9) + 1 if b is None else b
    expires = int(now.timestamp()) + LIFETIME_SECONDS
    body = f"{expires}.{secrets.token_hex(8)}"
    raw = f"{body}.{_seal(keys, str(a + b), body)}".encode()
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return Challenge(f"{_words(a)}加{_words(b)}等于多少？（请填写阿拉伯数字）", token)


def _refuse(code: str, zh: str, en: str) -> DomainError:
    return DomainError(code, zh, en, status=422, details={"field": "challenge_answer"})


def _open(token: str) -> tuple[str, str, int]:
    """(body, seal, deadline) of a token; ValueError if it is not one."""
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    expires, nonce, seal = raw.split(".")
    return f"{expires}.{nonce}", seal, int(expires)


def verify(
    keys: Keys, token: str, answer: str, now: datetime, first_use: Callable[[str, int], bool]
) -> None:
    """Refuse (422) a forged, expired, already used or wrong answer. `first_use(nonce, seconds)`
    records the token as spent for `seconds` and says whether this was its first use."""
    try:
        body, seal, deadline = _open(token)
    except (ValueError, UnicodeDecodeError):
        body, seal, deadline = "", "", 0
    answer = answer.strip()
    if not answer.isdigit() or len(answer) > 3:
        answer = "-"
    right = bool(seal) and hmac.compare_digest(seal, _seal(keys, answer, body))
    # A seal that matches no sum a question can have is a forgery, not a wrong answer.
    if not right and not any(
        hmac.compare_digest(seal, _seal(keys, str(n), body)) for n in range(100)
    ):
        raise _refuse(
            "challenge_invalid", "验证题无效，请刷新页面后重新作答", "the check is invalid"
        )
    if now.timestamp() > deadline:
        raise _refuse(
            "challenge_expired", "验证题已过期，请刷新页面后重新作答", "the check has expired"
        )
    if not first_use(keys.digest("challenge-used", body), LIFETIME_SECONDS + 60):
        raise _refuse(
            "challenge_used",
            "验证题已使用过，请刷新页面后重新作答",
            "the check was already answered; load a new one",
        )
    if not right:
        raise _refuse(
            "challenge_wrong", "验证题答案不正确，请重新计算", "the check's answer is wrong"
        )
