"""The public tracking form (issue 24): sent with no code, it says what is missing."""

from __future__ import annotations

from tests.conftest import Walker


def test_an_empty_code_is_answered_with_a_message(walker: Walker) -> None:
    """Opening the page shows the form; sending it empty says to enter the receipt code."""
    first = walker.client.get("/public/track")
    assert first.status_code == 200 and "error-summary" not in first.text
    empty = walker.client.get("/public/track", params={"code": "  "})
    assert empty.status_code == 422
    assert "请填写回执码" in empty.text and 'href="#code"' in empty.text
