"""Short codes people type: confirmation codes of registrations and receipt codes of opinions.

Ten characters of Crockford's base32 letters less Z (31 symbols: no I, L, O, U, Z): nine random
(44 bits from `secrets`) and a check character (weighted sum mod 31, a prime) that catches any
single typo and any swap of neighbours before a lookup.
Shown grouped as XXXXX-XXXXX; lookups accept either form, any case, O for 0 and I/L for 1.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXY"
LENGTH = 10
_FIX = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _check(body: str) -> str:
    total = sum((i + 1) * ALPHABET.index(ch) for i, ch in enumerate(body))
    return ALPHABET[total % 31]


def new_code() -> str:
    """A fresh random code with its check character."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH - 1))
    return body + _check(body)


def normalize(text: str) -> str | None:
    """The stored form of a typed code, or None when it cannot be one (length, letters, check)."""
    code = "".join(ch for ch in text.upper() if ch not in " -").translate(_FIX)
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code if _check(code[:-1]) == code[-1] else None


def grouped(code: str | None) -> str:
    """XXXXX-XXXXX, as printed and shown."""
    return f"{code[:5]}-{code[5:]}" if code else ""
