"""Notification channels against real servers: an aiosmtpd sink and a local HTTP receiver.

No mocks: e-mail goes through smtplib to aiosmtpd on 127.0.0.1, webhooks through httpx to a
ThreadingHTTPServer that records each request and answers as the test tells it to.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope
from structlog.testing import capture_logs

from tests.ports import free_port
from workers.channels import (
    Channel,
    ChannelError,
    LogChannel,
    Message,
    PermanentChannelError,
    SmtpChannel,
    StubChannel,
    TransientChannelError,
    WebhookChannel,
    message_id_for,
)

SUBJECT = "【催办】区住建局：意见建议逾期未办结（已逾期 3 个工作日）"
BODY = (
    "区住建局：\n"
    "市民在 9月16日 政府开放日活动中提出的意见建议（编号 12）应于 2026年3月20日 前办结，\n"
    "目前已逾期 3 个工作日，请尽快办理并在系统中反馈。\n"
    "——区政府办公室"
)
DATA = {"event_id": 14, "unit": "区住建局", "item_id": 12, "due_on": date(2026, 3, 20)}


def make_message(
    recipient: str,
    *,
    channel: str = "email",
    key: str | None = None,
    subject: str = SUBJECT,
    body: str = BODY,
) -> Message:
    """A realistic escalation message."""
    return Message(
        key=key or f"feedback_item:12:escalation:1:{channel}:{recipient}",
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        data=dict(DATA),
    )


# ------------------------------------------------------------------------------------------
# A real SMTP server
# ------------------------------------------------------------------------------------------


class SinkHandler:
    """aiosmtpd handler: collects accepted envelopes; refuses recipients or data on request."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_reply: str | None = None

    def reset(self) -> None:
        """Forget envelopes and configured refusals."""
        self.envelopes.clear()
        self.rcpt_replies.clear()
        self.data_reply = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        if self.data_reply:
            return self.data_reply
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def parsed(self, index: int = -1) -> email.message.EmailMessage:
        """An accepted message, decoded by the email package."""
        return email.message_from_bytes(self.raw(index), policy=email.policy.default)

    def raw(self, index: int = -1) -> bytes:
        """An accepted message exactly as it came over the wire."""
        content = self.envelopes[index].content
        assert isinstance(content, bytes)
        return content


@dataclass
class Sink:
    """The running SMTP server and its handler."""

    handler: SinkHandler
    port: int

    def channel(self, **options: Any) -> SmtpChannel:
        """A channel pointed at this server."""
        return SmtpChannel("127.0.0.1", self.port, "kfr@zfb.example.gov.cn", timeout=5.0, **options)


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[Sink]:
    """One aiosmtpd server for the module, stopped at the end."""
    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield Sink(handler, controller.port)
    finally:
        controller.stop()


@pytest.fixture
def sink(smtp_server: Sink) -> Sink:
    """The SMTP server with a clean handler for this test."""
    smtp_server.handler.reset()
    return smtp_server


# ------------------------------------------------------------------------------------------
# A real HTTP receiver
# ------------------------------------------------------------------------------------------


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class Reply:
    """How the receiver answers one path."""

    status: int = 200
    body: Any = field(default_factory=lambda: {"errcode": 0, "errmsg": "ok"})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver(ThreadingHTTPServer):
    """An HTTP server recording requests and answering per path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.requests: list[Received] = []
        self.replies: dict[str, Reply] = {}
        self.release = threading.Event()

    def url(self, path: str) -> str:
        """The absolute URL of a path on this receiver."""
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def answer(self, path: str, status: int = 200, body: Any = None, **options: Any) -> str:
        """Configure the answer for a path and return its URL."""
        reply = Reply(status=status, **options)
        if body is not None:
            reply.body = body
        self.replies[path] = reply
        return self.url(path)


class ReceiverHandler(BaseHTTPRequestHandler):
    """Records the request, waits if told to, answers with the configured status and body."""

    server: Receiver

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            payload = json.loads(raw.decode("utf-8"))
        except ValueError:
            payload = None
        self.server.requests.append(
            Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, payload)
        )
        reply = self.server.replies.get(urlsplit(self.path).path, Reply())
        if reply.delay:
            self.server.release.wait(reply.delay)  # the only wait: a slow server, kept short
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local HTTP receiver in a thread, shut down after the test."""
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def webhook() -> Iterator[Callable[..., WebhookChannel]]:
    """Build WebhookChannels sharing one injected client that ignores proxy variables."""
    client = httpx.Client(trust_env=False)
    try:
        yield lambda format="json", timeout=5.0: WebhookChannel(format, timeout, client=client)
    finally:
        client.close()


# ------------------------------------------------------------------------------------------
# E-mail
# ------------------------------------------------------------------------------------------


def test_email_arrives_with_chinese_subject_and_body_intact(sink: Sink) -> None:
    """Chinese subject, body and sender name survive encoding, SMTP and decoding unchanged."""
    sink.channel().send(make_message("li@example.org"))

    envelope = sink.handler.envelopes[0]
    assert envelope.mail_from == "kfr@zfb.example.gov.cn"
    assert envelope.rcpt_tos == ["li@example.org"]
    assert sink.handler.raw().isascii()  # encoded words and base64: no 8BITMIME needed
    mail = sink.handler.parsed()
    assert mail["Subject"] == SUBJECT
    assert mail.get_content().rstrip("\n") == BODY
    assert mail.get_content_charset() == "utf-8"
    sender = mail["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (
        "区政府办 政府开放日",
        "kfr@zfb.example.gov.cn",
    )
    assert mail["To"].addresses[0].addr_spec == "li@example.org"
    assert mail["Date"].datetime is not None
    assert mail["Auto-Submitted"] == "auto-generated"


def test_message_id_is_deterministic_per_key_and_key_header_is_present(sink: Sink) -> None:
    """The same key gives the same Message-ID on every send; X-OpenDay-Key carries the key."""
    channel = sink.channel()
    long_key = "feedback_item:12:escalation:1:email:li.someone.long@department.example.gov.cn"
    channel.send(make_message("li@example.org", key=long_key))
    channel.send(make_message("li@example.org", key=long_key))
    channel.send(make_message("li@example.org", key="feedback_item:13:escalation:1:email:li"))

    first, again, other = (sink.handler.parsed(i) for i in range(3))
    assert first["Message-ID"] == again["Message-ID"] == message_id_for(long_key)
    assert other["Message-ID"] != first["Message-ID"]
    assert first["Message-ID"].endswith("@openday>") and len(first["Message-ID"]) == 42
    assert first["X-OpenDay-Key"] == long_key
    raw_headers = sink.handler.raw(0).split(b"\r\n\r\n")[0]
    assert f"\r\nX-OpenDay-Key: {long_key}\r\n".encode() in raw_headers  # one raw line
    assert other["X-OpenDay-Key"] == "feedback_item:13:escalation:1:email:li"


def test_unknown_mailbox_550_is_permanent(sink: Sink) -> None:
    """A 550 refusal of the recipient is permanent, and the message says so without the address."""
    sink.handler.rcpt_replies["gone@example.org"] = "550 5.1.1 mailbox unavailable"

    with pytest.raises(PermanentChannelError) as caught:
        sink.channel().send(make_message("gone@example.org"))

    assert caught.value.permanent and caught.value.code == "smtp_550"
    assert "550" in caught.value.message and "gone@example.org" not in caught.value.message
    assert sink.handler.envelopes == []


@pytest.mark.parametrize(
    ("stage", "reply", "expected"),
    [
        ("rcpt", "451 4.7.1 greylisted, try again later", TransientChannelError),
        ("rcpt", "452 4.2.2 mailbox full", TransientChannelError),
        ("data", "451 4.3.0 local error in processing", TransientChannelError),
        ("data", "554 5.7.1 message rejected as spam", PermanentChannelError),
    ],
)
def test_smtp_reply_codes_decide_transient_or_permanent(
    sink: Sink, stage: str, reply: str, expected: type[ChannelError]
) -> None:
    """4xx replies (greylisting at RCPT included) are transient, 5xx replies permanent."""
    if stage == "rcpt":
        sink.handler.rcpt_replies["li@example.org"] = reply
    else:
        sink.handler.data_reply = reply

    with pytest.raises(expected) as caught:
        sink.channel().send(make_message("li@example.org"))

    assert caught.value.code == f"smtp_{reply[:3]}"


def test_smtp_connection_refused_is_transient() -> None:
    """Nothing listening on the port is transient: the server may come back."""
    channel = SmtpChannel("127.0.0.1", free_port(), "kfr@zfb.example.gov.cn", timeout=2.0)

    with pytest.raises(TransientChannelError) as caught:
        channel.send(make_message("li@example.org"))

    assert not caught.value.permanent and caught.value.code == "connection_error"


def test_rejected_login_is_permanent() -> None:
    """Wrong credentials (535) are permanent: retrying with the same password cannot help."""

    def reject(server, session, envelope, mechanism, auth_data) -> AuthResult:
        return AuthResult(success=False, handled=False)

    controller = Controller(
        SinkHandler(),
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=reject,
        auth_require_tls=False,
    )
    controller.start()
    try:
        channel = SmtpChannel(
            "127.0.0.1", controller.port, "kfr@zfb.example.gov.cn", "kfr", "wrong", timeout=5.0
        )
        with pytest.raises(PermanentChannelError) as caught:
            channel.send(make_message("li@example.org"))
    finally:
        controller.stop()
    assert caught.value.code == "smtp_535"


def test_starttls_against_a_server_without_it_is_permanent(sink: Sink) -> None:
    """Asking for STARTTLS from a server that does not offer it is a configuration error."""
    with pytest.raises(PermanentChannelError) as caught:
        sink.channel(starttls=True).send(make_message("li@example.org"))

    assert caught.value.code == "smtp_not_supported"
    assert sink.handler.envelopes == []


@pytest.mark.parametrize("recipient", ["", "li", "li@", "a b@example.org", "li@x.org, z@y.org"])
def test_malformed_email_recipient_is_permanent_without_connecting(recipient: str) -> None:
    """A malformed address fails permanently before any connection (the port is closed)."""
    channel = SmtpChannel("127.0.0.1", free_port(), "kfr@zfb.example.gov.cn", timeout=2.0)

    with pytest.raises(PermanentChannelError) as caught:
        channel.send(make_message(recipient))

    assert caught.value.code == "invalid_recipient"


# ------------------------------------------------------------------------------------------
# Webhooks
# ------------------------------------------------------------------------------------------


def test_json_webhook_posts_key_subject_body_and_data(receiver: Receiver, webhook) -> None:
    """The JSON format posts exactly key, subject, body and data, with an Idempotency-Key."""
    url = receiver.answer("/hooks/openday", 204, b"")
    message = make_message(url, channel="webhook")

    webhook("json").send(message)

    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/hooks/openday")
    assert request.json == {
        "key": message.key,
        "subject": SUBJECT,
        "body": BODY,
        "data": {"event_id": 14, "unit": "区住建局", "item_id": 12, "due_on": "2026-03-20"},
    }
    assert request.headers["idempotency-key"] == message.key
    assert request.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("fmt", ["wecom", "dingtalk"])
def test_robot_webhooks_post_a_text_message_subject_first(
    receiver: Receiver, webhook, fmt: str
) -> None:
    """企业微信 and 钉钉 robots get {"msgtype":"text","text":{"content":subject\\nbody}}."""
    url = receiver.answer("/cgi-bin/webhook/send") + "?key=0a1b2c3d"
    message = make_message(url, channel="webhook")

    webhook(fmt).send(message)

    (request,) = receiver.requests
    assert request.path == "/cgi-bin/webhook/send?key=0a1b2c3d"
    assert request.json == {"msgtype": "text", "text": {"content": f"{SUBJECT}\n{BODY}"}}
    assert request.headers["idempotency-key"] == message.key


def test_wecom_content_is_cut_to_2048_utf8_bytes(receiver: Receiver, webhook) -> None:
    """企业微信 takes at most 2048 bytes of content: longer text is cut, ending in an ellipsis."""
    url = receiver.answer("/wecom")
    webhook("wecom").send(make_message(url, channel="webhook", body="逾期" * 2000))

    content = receiver.requests[0].json["text"]["content"]
    assert len(content.encode("utf-8")) <= 2048
    assert content.startswith(SUBJECT + "\n") and content.endswith("…")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, TransientChannelError),
        (502, TransientChannelError),
        (503, TransientChannelError),
        (429, TransientChannelError),
        (408, TransientChannelError),
        (400, PermanentChannelError),
        (401, PermanentChannelError),
        (404, PermanentChannelError),
        (410, PermanentChannelError),
        (301, PermanentChannelError),
    ],
)
def test_http_status_decides_transient_or_permanent(
    receiver: Receiver, webhook, status: int, expected: type[ChannelError]
) -> None:
    """408, 429 and 5xx are transient; other non-2xx answers (redirects included) permanent."""
    url = receiver.answer("/hook", status, {"error": "x"})

    with pytest.raises(expected) as caught:
        webhook().send(make_message(url, channel="webhook"))

    assert caught.value.code == f"http_{status}"


def test_429_passes_retry_after_to_the_worker(receiver: Receiver, webhook) -> None:
    """A Retry-After header on 429 is exposed as retry_after seconds."""
    url = receiver.answer("/hook", 429, {"error": "slow down"}, headers={"Retry-After": "7"})

    with pytest.raises(TransientChannelError) as caught:
        webhook().send(make_message(url, channel="webhook"))

    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("fmt", "errcode", "expected"),
    [
        ("wecom", 45009, TransientChannelError),
        ("wecom", -1, TransientChannelError),
        ("wecom", 93000, PermanentChannelError),
        ("wecom", 40058, PermanentChannelError),
        ("dingtalk", 130101, TransientChannelError),
        ("dingtalk", 310000, PermanentChannelError),
        ("dingtalk", 300001, PermanentChannelError),
        ("json", 1, PermanentChannelError),
    ],
)
def test_robot_errcode_decides_transient_or_permanent(
    receiver: Receiver, webhook, fmt: str, errcode: int, expected: type[ChannelError]
) -> None:
    """HTTP 200 with a non-zero errcode fails: rate limits and "busy" retry, the rest do not."""
    url = receiver.answer("/robot", 200, {"errcode": errcode, "errmsg": "refused"})

    with pytest.raises(expected) as caught:
        webhook(fmt).send(make_message(url, channel="webhook"))

    assert caught.value.code == f"errcode_{errcode}"


@pytest.mark.parametrize("fmt", ["wecom", "dingtalk"])
def test_robot_answer_without_errcode_is_permanent(receiver: Receiver, webhook, fmt: str) -> None:
    """A robot 200 that is not the robot's JSON cannot confirm delivery and is not retried."""
    url = receiver.answer("/robot", 200, b"<html>portal login</html>")

    with pytest.raises(PermanentChannelError) as caught:
        webhook(fmt).send(make_message(url, channel="webhook"))

    assert caught.value.code == "unexpected_response"


def test_json_webhook_accepts_any_2xx_without_errcode(receiver: Receiver, webhook) -> None:
    """A plain JSON receiver may answer 200 with any body that has no errcode."""
    url = receiver.answer("/hook", 200, {"received": True})
    webhook("json").send(make_message(url, channel="webhook"))
    assert len(receiver.requests) == 1


def test_robot_errors_do_not_reveal_the_webhook_secret(receiver: Receiver, webhook) -> None:
    """Error messages are shown to supervisors: the robot key in the URL is masked."""
    url = receiver.answer("/cgi-bin/webhook/send", 200, {"errcode": 93000, "errmsg": "invalid"})

    with pytest.raises(PermanentChannelError) as caught:
        webhook("wecom").send(make_message(url + "?key=SECRET-633a31f6", channel="webhook"))

    assert "SECRET" not in str(caught.value)
    assert "/cgi-bin/webhook/send?key=***" in caught.value.message


def test_read_timeout_is_transient(receiver: Receiver, webhook) -> None:
    """A receiver slower than the timeout is transient (it may have been busy)."""
    url = receiver.answer("/slow", delay=1.0)

    with pytest.raises(TransientChannelError) as caught:
        webhook(timeout=0.2).send(make_message(url, channel="webhook"))

    assert caught.value.code == "timeout"


def test_webhook_connection_refused_is_transient(webhook) -> None:
    """Nothing listening at the URL is transient."""
    url = f"http://127.0.0.1:{free_port()}/hook"

    with pytest.raises(TransientChannelError) as caught:
        webhook().send(make_message(url, channel="webhook"))

    assert caught.value.code == "connection_error"


@pytest.mark.parametrize(
    "recipient", ["ftp://example.org/hook", "mailto:li@example.org", "not a url", "http://", ""]
)
def test_non_http_url_is_permanent(recipient: str) -> None:
    """A recipient that is not an absolute http(s) URL fails permanently, with no request made."""
    channel = WebhookChannel("json", timeout=1.0)
    try:
        with pytest.raises(PermanentChannelError) as caught:
            channel.send(make_message(recipient, channel="webhook"))
    finally:
        channel.close()
    assert caught.value.code == "invalid_recipient"


# ------------------------------------------------------------------------------------------
# Log and stub
# ------------------------------------------------------------------------------------------


def test_log_channel_writes_one_line_with_the_recipient_masked() -> None:
    """notification_sent carries key, channel and subject; e-mail and phone are masked."""
    message = make_message("lisi@example.org")

    with capture_logs() as logs:
        LogChannel().send(message)
        LogChannel().send(make_message("13812345678", channel="log"))

    first, second = logs
    assert first == {
        "event": "notification_sent",
        "log_level": "info",
        "key": "feedback_item:12:escalation:1:email:li***@example.org",
        "channel": "email",
        "recipient": "li***@example.org",
        "subject": SUBJECT,
    }
    assert second["recipient"] == "138****5678"
    assert "lisi@example.org" not in repr(logs) and "13812345678" not in repr(logs)


def test_log_channel_never_logs_a_webhook_secret() -> None:
    """A robot URL in the recipient or key is logged without its query secret."""
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-633a31f6"

    with capture_logs() as logs:
        LogChannel().send(make_message(url, channel="webhook_wecom"))

    assert logs[0]["recipient"] == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
    assert logs[0]["key"].endswith(
        ":webhook_wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"
    )
    assert "SECRET" not in repr(logs)


def test_channels_satisfy_the_protocol() -> None:
    """Every channel is a Channel named like the worker's routing keys (webhook_<format>)."""
    webhooks = [WebhookChannel(fmt) for fmt in ("json", "wecom", "dingtalk")]
    channels: list[Channel] = [SmtpChannel("127.0.0.1", 25, "a@b.org"), *webhooks, LogChannel()]
    assert all(isinstance(channel, Channel) for channel in [*channels, StubChannel()])
    assert [channel.name for channel in channels] == [
        "email",
        "webhook_json",
        "webhook_wecom",
        "webhook_dingtalk",
        "log",
    ]
    for channel in webhooks:
        channel.close()


def test_stub_channel_injects_failures_in_order() -> None:
    """fail_next queues transient and permanent failures; later sends succeed and are recorded."""
    stub = StubChannel("email")
    stub.fail_next(2)
    stub.fail_next(1, permanent=True)
    message = make_message("li@example.org")

    with pytest.raises(TransientChannelError):
        stub.send(message)
    with pytest.raises(TransientChannelError):
        stub.send(message)
    with pytest.raises(PermanentChannelError):
        stub.send(message)
    stub.send(message)

    assert stub.name == "email"
    assert stub.sent == [message]
    assert len(stub.attempts) == 4 and stub.pending_failures == 0


def test_stub_channel_is_thread_safe() -> None:
    """Concurrent senders see exactly the injected number of failures and lose no message."""
    stub = StubChannel()
    stub.fail_next(100)
    failures: list[Exception] = []
    lock = threading.Lock()

    def sender(worker: int) -> None:
        for n in range(50):
            try:
                stub.send(make_message(f"w{worker}-{n}@example.org"))
            except TransientChannelError as exc:
                with lock:
                    failures.append(exc)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(failures) == 100
    assert len(stub.sent) == 300 and len(stub.attempts) == 400


def test_an_invitation_email_carries_its_ics_and_qr_code_as_attachments() -> None:
    channel = SmtpChannel("127.0.0.1", 25, "kfr@zfb.example.gov.cn")
    files = [
        {"filename": "invitation.ics", "type": "text/calendar", "content": b"BEGIN:VCALENDAR"},
        {"filename": "checkin-qr.png", "type": "image/png", "content": b"\x89PNG"},
    ]
    mail = channel.compose(
        Message(key="invitee:1:invitation:2022-09-16:email", channel="email",
                recipient="li@example.org", subject="邀请", body="正文",
                data={"attachments": files})
    )  # fmt: skip
    parts = [(p.get_filename(), p.get_content_type()) for p in mail.iter_attachments()]
    assert parts == [("invitation.ics", "text/calendar"), ("checkin-qr.png", "image/png")]
    assert mail.get_body(("plain",)).get_content().strip() == "正文"  # type: ignore[union-attr]
