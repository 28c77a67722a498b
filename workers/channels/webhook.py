"""Webhooks: plain JSON, or the text messages of 企业微信 and 钉钉 group robots.

The message's recipient is the webhook URL. Robot URLs carry their secret in the query string,
so error messages show the URL masked. Robots answer HTTP 200 with `errcode`; their rate-limit
and "system busy" codes are transient, every other non-zero code is permanent.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, date, datetime, time
from decimal import Decimal
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote
from uuid import UUID

from workers.channels.base import (
    Message,
    PermanentChannelError,
    TransientChannelError,
    mask_text,
    mask_url,
)

if TYPE_CHECKING:  # httpx is imported when a webhook is first sent: not at every start
    import httpx

WebhookFormat = Literal["json", "wecom", "dingtalk"]
FORMATS: tuple[str, ...] = ("json", "wecom", "dingtalk")

# errcode values that mean "try again later": 企业微信 45009 (API freq out of limit) and 钉钉
# 130101 (send too fast, 20 per minute); -1 is "系统繁忙" on both platforms.
TRANSIENT_ERRCODES: dict[str, frozenset[int]] = {
    "json": frozenset(),
    "wecom": frozenset({45009, -1}),
    "dingtalk": frozenset({130101, -1}),
}
ROBOT_NAMES = {"json": "webhook 接收方", "wecom": "企业微信机器人", "dingtalk": "钉钉机器人"}
WECOM_CONTENT_MAX_BYTES = 2048  # 企业微信 text.content limit, UTF-8 bytes
WECOM_MARKDOWN_MAX_BYTES = 4096  # 企业微信 markdown.content limit, UTF-8 bytes
DINGTALK_MARKDOWN_MAX_BYTES = 18000  # 钉钉 refuses a body over 20000 bytes; room for the rest


def _json_default(value: Any) -> Any:
    """JSON for the facts workers put in `data`: dates as ISO text, enums by value."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _truncate_utf8(text: str, max_bytes: int) -> str:
    """Text cut to at most max_bytes of UTF-8, ending in an ellipsis when cut."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    ellipsis = "…"
    room = max_bytes - len(ellipsis.encode("utf-8"))
    return raw[:room].decode("utf-8", "ignore") + ellipsis


def _header_key(key: str) -> str:
    """The key as an HTTP header value: unchanged when printable ASCII, else percent-encoded."""
    if key.isascii() and key.isprintable():
        return key
    return quote(key, safe="!#$&'()*+,/:;=?@[]~-._")


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _snippet(response: httpx.Response) -> str:
    """The start of a response body, masked, for an error message."""
    return mask_text(" ".join(response.text.split()))[:200]


class WebhookChannel:
    """POSTs each message as JSON to the URL in its recipient; `name` is `webhook_<format>`."""

    def __init__(
        self,
        format: WebhookFormat = "json",
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown webhook format {format!r}; expected one of {FORMATS}")
        self.format = format
        self.name = f"webhook_{format}"
        self.timeout = timeout
        self._owns_client = client is None
        self._given = client

    @functools.cached_property
    def _client(self) -> httpx.Client:
        """The HTTP client: the one given, else one made when the first message is sent."""
        if self._given is not None:
            return self._given
        import httpx

        return httpx.Client(timeout=self.timeout)

    def close(self) -> None:
        """Close the HTTP client if this channel created it (and it was ever made)."""
        if self._owns_client and "_client" in self.__dict__:
            self._client.close()

    def payload(self, message: Message) -> dict[str, Any]:
        """The JSON body for a message in this channel's format."""
        if self.format == "json":
            return {
                "key": message.key,
                "subject": message.subject,
                "body": message.body,
                "data": message.data,
            }
        if message.data.get("kind") == "digest":
            # A digest's body is markdown already cut to the robot's limit
            # (workflows/escalation/digests.py).
            if self.format == "wecom":
                content = _truncate_utf8(message.body, WECOM_MARKDOWN_MAX_BYTES)
                return {"msgtype": "markdown", "markdown": {"content": content}}
            text = _truncate_utf8(message.body, DINGTALK_MARKDOWN_MAX_BYTES)
            return {"msgtype": "markdown", "markdown": {"title": message.subject, "text": text}}
        # The subject goes first: 钉钉 robots with a keyword filter look for it in the content.
        content = f"{message.subject}\n{message.body}"
        if self.format == "wecom":
            content = _truncate_utf8(content, WECOM_CONTENT_MAX_BYTES)
        return {"msgtype": "text", "text": {"content": content}}

    def send(self, message: Message) -> None:
        """POST one message; refusals, errcodes and network failures become ChannelErrors."""
        import httpx

        url = self._checked_url(message.recipient)
        where = mask_url(str(url))
        try:
            body = json.dumps(self.payload(message), ensure_ascii=False, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise PermanentChannelError(
                f"通知数据无法转换为 JSON：{exc}", code="invalid_payload"
            ) from exc
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": _header_key(message.key),
        }
        try:
            response = self._client.post(
                url, content=body.encode("utf-8"), headers=headers, timeout=self.timeout
            )
        except httpx.TimeoutException as exc:
            raise TransientChannelError(
                f"请求 webhook 超时（{self.timeout:g} 秒）：{where}", code="timeout"
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise PermanentChannelError(
                f"无法向 webhook 发送请求：{where}（{exc}）", code="invalid_request"
            ) from exc
        except httpx.TransportError as exc:
            raise TransientChannelError(
                f"无法连接 webhook：{where}（{type(exc).__name__}: {exc}）", code="connection_error"
            ) from exc
        self._check(response, where)

    def _checked_url(self, recipient: str) -> httpx.URL:
        """The recipient as an absolute http(s) URL, or a permanent error."""
        import httpx

        try:
            url = httpx.URL(recipient.strip())
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise PermanentChannelError(
                f"webhook 地址无效：{mask_url(recipient)}", code="invalid_recipient"
            ) from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise PermanentChannelError(
                f"webhook 地址不是有效的 http(s) 地址：{mask_url(recipient)}",
                code="invalid_recipient",
            )
        return url

    def _check(self, response: httpx.Response, where: str) -> None:
        """Raise unless the answer means the message was accepted."""
        status = response.status_code
        if status == 408 or status == 429 or status >= 500:
            raise TransientChannelError(
                f"webhook 暂时不可用：HTTP {status}（{where}）{_snippet(response)}",
                code=f"http_{status}",
                retry_after=_retry_after(response),
            )
        if not 200 <= status < 300:
            raise PermanentChannelError(
                f"webhook 拒绝了请求：HTTP {status}（{where}）{_snippet(response)}",
                code=f"http_{status}",
            )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        errcode = answer.get("errcode") if isinstance(answer, dict) else None
        robot = ROBOT_NAMES[self.format]
        if errcode is None:
            if self.format == "json":
                return
            raise PermanentChannelError(
                f"{robot}的应答不含 errcode，无法确认已送达（{where}）：{_snippet(response)}",
                code="unexpected_response",
            )
        try:
            code = int(errcode)
        except (TypeError, ValueError):
            code = None
        if code == 0:
            return
        errmsg = mask_text(str(answer.get("errmsg", "")))[:200] if isinstance(answer, dict) else ""
        if code is not None and code in TRANSIENT_ERRCODES[self.format]:
            raise TransientChannelError(
                f"{robot}限流或繁忙，稍后重试：errcode {code} {errmsg}（{where}）",
                code=f"errcode_{code}",
                retry_after=_retry_after(response),
            )
        raise PermanentChannelError(
            f"{robot}拒绝了消息：errcode {errcode} {errmsg}（{where}）", code=f"errcode_{errcode}"
        )
