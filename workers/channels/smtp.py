"""E-mail through an SMTP server: UTF-8 subject and body, a Message-ID derived from the key.

One connection per message (notifications are few). The Message-ID and the `X-OpenDay-Key`
header let a mailbox or sink recognise a redelivery after a timeout that hid a success.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import socket
import ssl
from datetime import datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr

from workers.channels.base import (
    ChannelError,
    Message,
    PermanentChannelError,
    TransientChannelError,
    mask_recipient,
    mask_text,
)
from workflows.kernel.clock import LOCAL_TZ

DEFAULT_SENDER_NAME = "区政府办 政府开放日"
KEY_HEADER = "X-OpenDay-Key"


class _MailPolicy(EmailPolicy):
    """The default policy, except that an ASCII X-OpenDay-Key stays one unfolded raw line.

    Folding would move a long key to a continuation line, which some parsers (Python's among
    them) return with a leading space; a sink comparing keys byte for byte would then miss it.
    """

    def fold(self, name: str, value: str) -> str:
        """Fold as usual, but never the key header when it fits on one line."""
        text = str(value)
        if name.lower() == KEY_HEADER.lower() and text.isascii() and len(name) + len(text) < 996:
            return f"{name}: {text}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        """The binary twin of fold."""
        text = str(value)
        if name.lower() == KEY_HEADER.lower() and text.isascii() and len(name) + len(text) < 996:
            return f"{name}: {text}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


MAIL_POLICY = _MailPolicy()


def message_id_for(key: str) -> str:
    """The Message-ID for a notification key: the same key always yields the same id."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@openday>"


def _recipient_address(recipient: str) -> Address:
    """The recipient as a header Address (IDN domains punycoded), or a permanent error."""
    text = recipient.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "\r" in text or "\n" in text:
        raise PermanentChannelError(
            f"收件人邮箱地址格式不正确：{mask_recipient(text) or '（空）'}",
            code="invalid_recipient",
        )
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
        return Address(addr_spec=f"{local}@{ascii_domain}")
    except (UnicodeError, ValueError, IndexError, MessageError) as exc:
        raise PermanentChannelError(
            f"收件人邮箱地址格式不正确或不受支持：{mask_recipient(text)}",
            code="invalid_recipient",
        ) from exc


def _server_text(raw: bytes | str) -> str:
    """A server reply as text, masked and shortened for storage."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return mask_text(" ".join(text.split()))[:300]


def classify_smtp_error(exc: BaseException, recipient: str) -> ChannelError | None:
    """Map an smtplib/socket exception to a transient or permanent error (None: not ours)."""
    who = mask_recipient(recipient)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values()) or [(550, b"")]
        code, text = max(replies, key=lambda reply: reply[0])
        if all(500 <= reply[0] < 600 for reply in replies):
            return PermanentChannelError(
                f"邮件服务器拒收收件人 {who}：{code} {_server_text(text)}", code=f"smtp_{code}"
            )
        code, text = min(replies, key=lambda reply: reply[0])
        return TransientChannelError(
            f"邮件服务器暂时不接收收件人 {who}：{code} {_server_text(text)}", code=f"smtp_{code}"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentChannelError(
            f"邮件服务器不支持所需功能（请检查 STARTTLS、登录等配置）：{exc}",
            code="smtp_not_supported",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        status, reply = exc.smtp_code, _server_text(exc.smtp_error)
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            what = "邮件服务器拒绝登录（请检查用户名和密码）"
        elif isinstance(exc, smtplib.SMTPSenderRefused):
            what = "邮件服务器拒绝发件人地址"
        elif isinstance(exc, smtplib.SMTPDataError):
            what = f"邮件服务器拒收发给 {who} 的邮件"
        else:
            what = "邮件服务器拒绝会话"
        if 500 <= status < 600:
            return PermanentChannelError(f"{what}：{status} {reply}", code=f"smtp_{status}")
        return TransientChannelError(f"{what}（暂时性）：{status} {reply}", code=f"smtp_{status}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientChannelError(f"邮件服务器意外断开连接：{exc}", code="smtp_disconnected")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentChannelError(
            f"邮件服务器证书校验失败：{exc.verify_message or exc}", code="smtp_tls_certificate"
        )
    if isinstance(exc, smtplib.SMTPException):
        return PermanentChannelError(f"邮件发送配置有误：{exc}", code="smtp_config")
    if isinstance(exc, TimeoutError):
        return TransientChannelError("连接邮件服务器超时", code="timeout")
    if isinstance(exc, ConnectionError):
        return TransientChannelError(f"无法连接邮件服务器：{exc}", code="connection_error")
    if isinstance(exc, socket.gaierror):
        return TransientChannelError(f"无法解析邮件服务器地址：{exc}", code="dns_error")
    if isinstance(exc, OSError):
        return TransientChannelError(f"与邮件服务器通信失败：{exc}", code="network_error")
    return None


class SmtpChannel:
    """Sends each message as one UTF-8 plain-text e-mail through the configured SMTP server."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_ssl: bool = False,
        timeout: float = 10.0,
    ) -> None:
        if starttls and use_ssl:
            raise ValueError("starttls and use_ssl are exclusive: STARTTLS upgrades a plain port")
        display_name, addr_spec = parseaddr(sender)
        if "@" not in addr_spec:
            raise ValueError(f"sender is not an e-mail address: {sender!r}")
        self.host = host
        self.port = port
        self.sender = Address(display_name=display_name or DEFAULT_SENDER_NAME, addr_spec=addr_spec)
        self.username = username
        self.password = password
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.timeout = timeout

    def compose(self, message: Message) -> EmailMessage:
        """The e-mail for a message; a malformed recipient raises PermanentChannelError."""
        mail = EmailMessage(policy=MAIL_POLICY)
        mail["From"] = self.sender
        mail["To"] = _recipient_address(message.recipient)
        mail["Subject"] = re.sub(r"[\r\n]+", " ", message.subject).strip()
        mail["Date"] = format_datetime(datetime.now(LOCAL_TZ))
        mail["Message-ID"] = message_id_for(message.key)
        mail[KEY_HEADER] = message.key
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.body, charset="utf-8", cte="base64")
        for part in message.data.get("attachments") or []:  # an invitation's .ics and QR code
            maintype, subtype = part["type"].split("/", 1)
            mail.add_attachment(
                part["content"], maintype=maintype, subtype=subtype, filename=part["filename"]
            )
        return mail

    def send(self, message: Message) -> None:
        """Deliver one e-mail; refusals and network failures become ChannelErrors."""
        mail = self.compose(message)
        recipient = mail["To"].addresses[0].addr_spec
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(mail, from_addr=self.sender.addr_spec, to_addrs=[recipient])
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None:
                smtp.close()
            error = classify_smtp_error(exc, recipient)
            if error is None:
                raise
            raise error from exc
        # The server has accepted the message; a failed QUIT must not turn that into a retry.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _connect(self) -> smtplib.SMTP:
        """An open session with the server (implicit TLS when use_ssl)."""
        if self.use_ssl:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)
