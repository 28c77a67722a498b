"""The public arithmetic check: the token hides the operands and is spent on first use."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from settings import Settings
from tests.conftest import Walker, error_of
from tests.public.test_public import form, open_event
from workflows.kernel.errors import DomainError
from workflows.public import human_check, privacy


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path / "var", database_url="sqlite://", ratelimit_url="memory://")


def _keys(client: TestClient) -> privacy.Keys:
    return privacy.keys_from_settings(client.app.state.settings)  # type: ignore[attr-defined]


def _ledger() -> object:
    seen: set[str] = set()

    def first_use(key: str, seconds: int) -> bool:
        fresh = key not in seen
        seen.add(key)
        return fresh

    return first_use


def test_the_token_carries_no_operands(walker: Walker, clock) -> None:
    keys = _keys(walker.client)
    found = human_check.new(keys, clock.now(), a=7, b=5)
    raw = base64.urlsafe_b64decode(found.token + "=" * (-len(found.token) % 4)).decode()
    parts = raw.split(".")
    assert "7" not in parts[1:] and "5" not in parts[1:] and "12" not in parts
    assert len(parts) == 3  # expiry, nonce, seal: no numbers of the question
    human_check.verify(keys, found.token, "12", clock.now(), _ledger())  # type: ignore[arg-type]


def test_a_token_is_accepted_once_and_a_wrong_answer_spends_it(walker: Walker, clock) -> None:
    keys, spend = _keys(walker.client), _ledger()
    found = human_check.new(keys, clock.now(), a=3, b=4)
    human_check.verify(keys, found.token, "7", clock.now(), spend)  # type: ignore[arg-type]
    with pytest.raises(DomainError) as again:
        human_check.verify(keys, found.token, "7", clock.now(), spend)  # type: ignore[arg-type]
    assert again.value.code == "challenge_used"
    other = human_check.new(keys, clock.now(), a=3, b=4)
    with pytest.raises(DomainError) as wrong:
        human_check.verify(keys, other.token, "8", clock.now(), spend)  # type: ignore[arg-type]
    assert wrong.value.code == "challenge_wrong"
    with pytest.raises(DomainError) as guessed:
        human_check.verify(keys, other.token, "7", clock.now(), spend)  # type: ignore[arg-type]
    assert guessed.value.code == "challenge_used"


def test_expired_and_forged_tokens_are_refused(walker: Walker, clock) -> None:
    keys, spend = _keys(walker.client), _ledger()
    found = human_check.new(keys, clock.now(), a=1, b=1)
    later = clock.now() + timedelta(seconds=human_check.LIFETIME_SECONDS + 1)
    with pytest.raises(DomainError) as late:
        human_check.verify(keys, found.token, "2", later, spend)  # type: ignore[arg-type]
    assert late.value.code == "challenge_expired"
    raw = base64.urlsafe_b64decode(found.token + "==").decode().split(".")
    forged = base64.urlsafe_b64encode(f"{raw[0]}.{raw[1]}.{'0' * 32}".encode()).decode()
    with pytest.raises(DomainError) as bad:
        human_check.verify(keys, forged, "2", clock.now(), spend)  # type: ignore[arg-type]
    assert bad.value.code == "challenge_invalid"


def test_the_api_refuses_a_replayed_token(walker: Walker, clock) -> None:
    client = walker.client
    event = open_event(walker, places=5)
    body = form(client)
    first = client.post(f"/api/v1/public/events/{event['id']}/registrations", json=body)
    assert first.status_code == 201, first.text
    body = {**body, "phone": "13900000077", "name": "李四"}
    again = client.post(f"/api/v1/public/events/{event['id']}/registrations", json=body)
    assert again.status_code == 422 and error_of(again)["code"] == "challenge_used"
