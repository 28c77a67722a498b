"""SQLite under contention: reads and sign-in's password check never take the write lock,
writers queue behind a held lock instead of answering 503 (issue 14)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import Walker, World


def _path(engine: Engine) -> str:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite locking only")
    return str(engine.url.database)


@contextmanager
def write_lock_held(path: str) -> Iterator[None]:
    """Another process-like connection holding SQLite's write lock (an open write transaction)."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE campaign SET title = title")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_journal_mode_and_busy_timeout(engine: Engine) -> None:
    _path(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10000


def test_reads_answer_while_a_writer_holds_the_lock(walker: Walker, world: World) -> None:
    path = _path(world.engine)
    event = walker.create_event()
    with write_lock_held(path):
        for url in (f"/api/v1/events/{event['id']}", "/api/v1/events", "/api/v1/me"):
            started = time.perf_counter()
            response = walker.client.get(url, headers=world.headers["viewer"])
            assert response.status_code == 200, response.text
            # Well under the 10 s busy timeout a read would wait if it queued for the lock (a
            # wide margin: `make test` runs other tests beside this one).
            assert time.perf_counter() - started < 5.0


def test_a_writer_queues_behind_the_lock_instead_of_503(walker: Walker, world: World) -> None:
    path = _path(world.engine)
    results: dict[str, int] = {}
    with write_lock_held(path):

        def create() -> None:
            response = walker.client.post(
                "/api/v1/events",
                json={
                    "campaign_id": world.campaign_id,
                    "unit_id": world.units["区住建局"],
                    "theme": "排队",
                    "date": "2022-09-20",
                },
                headers=world.headers["housing"],
            )
            results["status"] = response.status_code

        thread = threading.Thread(target=create)
        thread.start()
        time.sleep(1.0)
        assert thread.is_alive(), "the write should wait for the lock"
    thread.join(10)
    assert results["status"] == 201


def test_sign_in_checks_the_password_without_the_write_lock(walker: Walker, world: World) -> None:
    """A wrong password is answered while another connection holds the write lock; a right one
    waits only for its one INSERT and then succeeds."""
    path = _path(world.engine)
    with write_lock_held(path):
        started = time.perf_counter()
        response = walker.client.post(
            "/api/v1/auth/login", json={"username": "housing", "password": "wrong-password"}
        )
        assert response.status_code == 401
        assert time.perf_counter() - started < 5.0  # not the 10 s busy timeout
        done: dict[str, int] = {}
        thread = threading.Thread(
            target=lambda: done.setdefault(
                "status",
                walker.client.post(
                    "/api/v1/auth/login", json={"username": "housing", "password": "pw-housing"}
                ).status_code,
            )
        )
        thread.start()
        time.sleep(0.5)
    thread.join(10)
    assert done["status"] == 200
