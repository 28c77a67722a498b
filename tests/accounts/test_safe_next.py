"""`next=` after signing in only ever leads to this service's own paths."""

from __future__ import annotations

import pytest

from pages.auth import safe_next


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "/%0d%0aLocation:x",  # encoded: kept as a path (harmless), see the next cases
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "/tab\there",
        "",
        "/" + "a" * 3000,
    ],
)
def test_foreign_or_odd_targets_go_home(target: str) -> None:
    """Anything that is not a plain path of this site becomes '/'."""
    expected = target if target == "/%0d%0aLocation:x" else "/"
    assert safe_next(target) == expected


def test_own_paths_are_kept() -> None:
    """An ordinary path with a query survives."""
    assert safe_next("/events/3?tab=invitees") == "/events/3?tab=invitees"
