"""Argon2 checks are rationed per process: a sign-in flood queues instead of holding 64 MiB per
thread at once, and a wait that never ends is a clear 503."""

from __future__ import annotations

import threading

import pytest

from workflows.accounts import service as accounts
from workflows.kernel.errors import DomainError


class _Recorder:
    """A stand-in hasher that records how many hashes run at once."""

    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0
        self.done = 0

    def hash(self, password: str) -> str:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        self.gate.wait(5)
        with self.lock:
            self.active -= 1
            self.done += 1
        return "hashed:" + password


def test_at_most_two_argon2_checks_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()
    recorder = _Recorder(gate)
    monkeypatch.setattr(accounts, "_hasher", recorder)
    threads = [threading.Thread(target=accounts.hash_password, args=(f"pw-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    # Wait until the slots are taken (the others are queued on the semaphore), then let go.
    for _ in range(500):
        with recorder.lock:
            if recorder.active == accounts.ARGON2_AT_ONCE:
                break
        threading.Event().wait(0.01)
    gate.set()
    for thread in threads:
        thread.join(10)
    assert recorder.done == 8
    assert recorder.most == accounts.ARGON2_AT_ONCE


def test_no_free_slot_in_time_is_a_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "ARGON2_WAIT_SECONDS", 0.05)
    taken = [accounts._argon2_slots.acquire() for _ in range(accounts.ARGON2_AT_ONCE)]
    try:
        with pytest.raises(DomainError) as refused:
            accounts.hash_password("anything")
        assert refused.value.code == "sign_in_busy" and refused.value.status == 503
    finally:
        for _ in taken:
            accounts._argon2_slots.release()
    assert accounts.hash_password("after").startswith("$argon2")
