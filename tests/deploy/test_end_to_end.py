"""The real processes — `openday api`, `openday scheduler`, `openday worker` — on PostgreSQL and
Redis, with escalation emails landing in a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest
import redis
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import Campaign, FeedbackItem, Notification, Role, Unit
from tests.conftest import REDIS_URL, tiny_jpeg, unavailable
from tests.ports import free_port
from workflows.accounts.service import create_user, issue_token
from workflows.campaign.rules import CampaignRules
from workflows.kernel.clock import FixedClock

OPENDAY = str(Path(sys.executable).parent / "openday")


class Sink:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    """A real SMTP server on a free local port."""
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield sink, port
    controller.stop()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The configured Redis, on a database number of its own, emptied before and after."""
    if not REDIS_URL:
        unavailable("Redis", "OPENDAY_REDIS_URL is not set")
    base = REDIS_URL.rsplit("/", 1)[0] if REDIS_URL.count("/") > 2 else REDIS_URL
    url = f"{base}/13"
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        unavailable("Redis", str(exc))
    yield url
    client.flushdb()
    client.close()


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("wb")
    return subprocess.Popen([OPENDAY, *args], env=env, stdout=handle, stderr=subprocess.STDOUT)


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log.read_text(errors="replace")
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up:\n{log.read_text(errors='replace')}")


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _seed(url: str) -> tuple[int, int, str]:
    """A campaign, 区住建局 with a contact e-mail, and a staffer's token."""
    from models.db import make_engine

    engine = make_engine(url)
    setup = FixedClock(datetime(2022, 9, 1, tzinfo=UTC))
    with Session(engine, expire_on_commit=False) as s:
        campaign = Campaign(
            doc_number="资雁府办发〔2022〕58号",
            title="关于开展“政府开放日”活动的通知",
            issuing_office="资阳市雁江区人民政府办公室",
            starts_on=date(2022, 8, 22),
            ends_on=date(2022, 9, 22),
            rules=CampaignRules().model_dump(),
            created_at=setup.now(),
        )
        unit = Unit(
            name="区住建局",
            kind="department",
            contact_email="contact@zhujian.example",
            created_at=setup.now(),
        )
        s.add(campaign)
        s.add(unit)
        s.flush()
        staff = create_user(
            s, username="housing", role=Role.unit_staff, unit_name="区住建局", now=setup.now()
        )
        token = issue_token(s, staff, kind="api", now=setup.now())
        s.commit()
        ids = (campaign.id, unit.id)
    engine.dispose()
    return ids[0], ids[1], token  # type: ignore[return-value]


def _run_stack(
    url: str,
    broker_url: str,
    sink: Sink,
    smtp_port: int,
    tmp_path: Path,
    *,
    schedulers: int = 1,
    migrate: bool = False,
) -> None:
    """Start the processes, walk one event through the API, expect exactly one 催办 email."""
    from models.db import make_engine

    base_env = {
        **os.environ,
        "OPENDAY_DATABASE_URL": url,
        "OPENDAY_BROKER_URL": broker_url,
        "OPENDAY_LOG_FORMAT": "json",
        "OPENDAY_SMTP_HOST": "127.0.0.1",
        "OPENDAY_SMTP_PORT": str(smtp_port),
        "OPENDAY_VAR_DIR": str(tmp_path / "var"),
        "OPENDAY_SCHEDULER_METRICS_PORT": "0",
        "OPENDAY_METRICS_TOKEN": "e2e-metrics-token",  # /metrics answers only with it
        "dramatiq_prom_port": str(free_port()),
    }
    base_env.pop("OPENDAY_REDIS_URL", None)
    if migrate:
        done = subprocess.run(
            [OPENDAY, "migrate"], env=base_env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    campaign_id, unit_id, token = _seed(url)
    port = free_port()
    procs: list[subprocess.Popen] = []
    try:
        api_log = tmp_path / "api.log"
        api = _spawn(
            ["api", "--port", str(port), "--workers", "2"],
            {**base_env, "OPENDAY_CLOCK_START": "2022-09-16T10:00:00+08:00"},
            api_log,
        )
        procs.append(api)
        _wait_http(f"http://127.0.0.1:{port}/readyz", api, api_log)
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        event = client.post(
            "/api/v1/events",
            json={
                "campaign_id": campaign_id,
                "unit_id": unit_id,
                "theme": "参观老旧小区改造现场",
                "date": "2022-09-16",
            },
        ).json()
        eid = event["id"]
        people = [{"name": f"代表{i}", "category": "npc_deputy"} for i in range(10)] + [
            {"name": f"市民{i}", "category": "citizen", "invitation": "public"} for i in range(5)
        ]
        invitees = client.post(
            f"/api/v1/events/{eid}/invitees", json=people, params={"expected_version": 1}
        ).json()

        def move(trigger: str, data: dict | None = None) -> None:
            version = client.get(f"/api/v1/events/{eid}").json()["version"]
            r = client.post(
                f"/api/v1/events/{eid}/transitions",
                json={"trigger": trigger, "expected_version": version, "data": data or {}},
            )
            assert r.status_code == 200, r.text

        move("invite")
        move(
            "hold",
            {
                "attendance": {str(i["id"]): True for i in invitees},
                "forms_held": ["site_visit"],
                "met_by": [{"name": "李局长", "post": "principal"}],
            },
        )
        move("collect_feedback", {"items": [{"content": "建议公开老旧小区改造资金明细"}]})
        client.post(
            f"/api/v1/events/{eid}/summary/attachments",
            files={"file": ("现场.jpg", tiny_jpeg(), "image/jpeg")},
            params={"expected_version": client.get(f"/api/v1/events/{eid}").json()["version"]},
        )
        move("submit_summary", {"text": "活动顺利开展"})
        item = client.get(f"/api/v1/events/{eid}/feedback").json()["items"][0]
        assert item["due_on"] == "2022-10-12"
        # The unit signs for it (签收), so the one overdue thing left is the answer itself.
        signed = client.post(
            f"/api/v1/feedback/{item['id']}/sign", json={"expected_version": item["version"]}
        )
        assert signed.status_code == 200, signed.text

        # The deadline has passed (end of 2022-10-12, Shanghai) for the background processes.
        later = {**base_env, "OPENDAY_CLOCK_START": "2022-10-13T00:00:05+08:00"}
        for n in range(schedulers):
            procs.append(_spawn(["scheduler"], later, tmp_path / f"scheduler-{n}.log"))
        procs.append(
            _spawn(["worker", "--processes", "1", "--threads", "2"], later, tmp_path / "worker.log")
        )
        deadline = time.monotonic() + 60
        while not sink.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sink.messages, (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        time.sleep(3)  # anything else that would arrive (a duplicate, a second level) has time to
        assert len(sink.messages) == 1
        mail = sink.messages[0]
        assert mail["To"] == "contact@zhujian.example"
        assert mail["Subject"].startswith("【催办】区住建局")
        text = mail.get_content()
        assert "应于 2022年10月12日（星期三） 前办结" in text
        assert "建议公开老旧小区改造资金明细" in text
        assert mail["X-OpenDay-Key"].startswith(f"feedback_item:{item['id']}:")
        engine = make_engine(url)
        with Session(engine) as s:
            stored = s.get(FeedbackItem, item["id"])
            assert stored is not None
            assert (stored.state, stored.escalation_level) == ("overdue", 1)
            sent = s.exec(select(Notification).where(Notification.channel == "email")).all()
            assert [(n.level, n.state) for n in sent] == [(1, "sent")]
        engine.dispose()
        metrics = httpx.get(
            f"http://127.0.0.1:{port}/metrics",
            headers={"Authorization": "Bearer e2e-metrics-token"},
            timeout=10,
        ).text
        assert 'openday_notifications_total{channel="email",state="sent"} 1.0' in metrics
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.postgresql
def test_one_unanswered_opinion_gives_exactly_one_level_one_email(
    engine: Engine, smtp_sink: tuple[Sink, int], redis_url: str, tmp_path: Path
) -> None:
    """Held 2022-09-16, one opinion unanswered: one 催办 email, due 2022-10-12, exactly once."""
    sink, smtp_port = smtp_sink
    _run_stack(
        engine.url.render_as_string(hide_password=False), redis_url, sink, smtp_port, tmp_path
    )


@pytest.fixture
def rabbitmq_url() -> Iterator[str]:
    """The machine's RabbitMQ with this service's queues purged before and after."""
    import pika

    def purge() -> None:
        connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
        channel = connection.channel()
        for queue in ("timers", "notifications"):
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                try:
                    channel.queue_purge(name)
                except pika.exceptions.ChannelClosedByBroker:
                    channel = connection.channel()  # the queue does not exist yet
        connection.close()

    try:
        purge()
    except pika.exceptions.AMQPConnectionError as exc:
        unavailable("RabbitMQ", str(exc) or "connection refused")
    yield RABBITMQ_URL
    purge()


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """An empty database (no schema): the topology test migrates it with `openday migrate`."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from tests.conftest import DATABASE_URL

    if not DATABASE_URL.startswith("postgresql"):
        unavailable("PostgreSQL", "OPENDAY_DATABASE_URL is not a postgresql URL")
    server = make_url(DATABASE_URL)
    name = f"openday_topology_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_the_compose_topology_as_local_processes(
    broker: str,
    request: pytest.FixtureRequest,
    fresh_database: str,
    smtp_sink: tuple[Sink, int],
    tmp_path: Path,
) -> None:
    """What docker-compose.yml runs — migrate, api (2 workers), two schedulers, a worker — on
    PostgreSQL and Redis or RabbitMQ: one escalation, delivered once."""
    broker_url = request.getfixturevalue("redis_url" if broker == "redis" else "rabbitmq_url")
    sink, smtp_port = smtp_sink
    _run_stack(fresh_database, broker_url, sink, smtp_port, tmp_path, schedulers=2, migrate=True)
