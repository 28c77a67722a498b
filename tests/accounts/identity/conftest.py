"""Fixtures of the unified sign-in tests: a real OpenID provider on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.accounts.identity.provider import LocalProvider

ACCOUNTS = {
    "alice": {"preferred_username": "alice", "name": "Alice"},
    "mallory": {"preferred_username": "mallory", "name": "Mallory"},
}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProvider]:
    """A provider shared by a module's tests (they do not change its keys), whose client
    comes back to the TestClient's http://testserver."""
    local = LocalProvider(tmp_path_factory.mktemp("idp"), "http://testserver", ACCOUNTS).start()
    yield local
    local.stop()


@pytest.fixture
def own_provider(tmp_path: Path) -> Iterator[LocalProvider]:
    """A provider of the test's own (it may rotate the keys)."""
    local = LocalProvider(tmp_path, "http://testserver", ACCOUNTS).start()
    yield local
    local.stop()
