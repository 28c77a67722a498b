"""Service settings, read once from OPENDAY_* environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent
MIN_AUDIT_RETENTION_DAYS = 180  # 网络安全法 第二十一条: network logs kept no less than six months


class Settings(BaseSettings):
    """Every knob the service reads; the README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_prefix="OPENDAY_", extra="ignore")

    # URLs that can carry a password are SecretStr: repr, str and logs show '**********';
    # the code that connects asks for .get_secret_value().
    database_url: SecretStr = Field(
        default=SecretStr(""),
        description="SQLAlchemy URL; unset: the SQLite file openday.db in var_dir; "
        "postgresql+psycopg://… in production (never printed)",
    )
    migrate_database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL migrations connect with: the tables' owner on PostgreSQL, "
        "while the service connects as a runtime role without SUPERUSER or BYPASSRLS "
        "(docs/tenancy.md); unset: OPENDAY_DATABASE_URL (never printed)",
    )
    allow_privileged_db_role: bool = Field(
        default=False,
        description="Let the API, workers and scheduler start on PostgreSQL although their role "
        "(OPENDAY_DATABASE_URL) is SUPERUSER or has BYPASSRLS, which skip every row-level "
        "security policy: only for a single-district install or a test (docs/tenancy.md)",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis URL for the dramatiq broker; unset means dramatiq's in-process broker "
        "(never printed)",
    )
    broker_url: SecretStr | None = Field(
        default=None,
        description="dramatiq broker, redis://… or amqp://… (RabbitMQ); overrides redis_url "
        "(never printed)",
    )
    host: str = Field(default="127.0.0.1", description="Address the API binds to")
    port: int = Field(
        default=8000,
        validation_alias=AliasChoices("OPENDAY_PORT", "PORT"),
        description="Port the API listens on (PORT also works)",
    )
    var_dir: Path = Field(
        default=PROJECT_DIR / "var", description="Directory for the SQLite file, uploads, demo data"
    )
    upload_max_bytes: int = Field(
        default=20 * 1024 * 1024, description="Largest attachment accepted, in bytes"
    )
    upload_max_files: int = Field(
        default=10, description="Files one photo form of the pages may carry at once"
    )
    json_max_bytes: int = Field(
        default=1024 * 1024,
        description="Largest request body other than an upload (JSON, sign-in and other forms)",
    )
    import_max_rows: int = Field(
        default=5000, description="Rows a schedule-table import may hold (all sheets/tables)"
    )
    import_max_cells: int = Field(
        default=200_000, description="Cells a schedule-table import may hold (all sheets/tables)"
    )
    import_parse_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="Seconds (wall clock, and CPU) a .docx/.xlsx import may take to parse; the "
        "parse runs in a child process killed at the limit (422 parse_time_exceeded). 0: parse "
        "in the API process (no child, no limits)",
    )
    import_parse_memory_mb: int = Field(
        default=512,
        ge=1,
        le=65536,
        description="Memory (MB of address space, RLIMIT_AS) a .docx/.xlsx parse may add to the "
        "child process that runs it (the parsers' own ~250 MB not counted; 422 "
        "parse_memory_exceeded); it returns to the system when the child exits",
    )
    archive_max_members: int = Field(
        default=2000, description="Members a .docx/.xlsx archive may hold"
    )
    archive_max_unpacked_bytes: int = Field(
        default=64 * 1024 * 1024,
        description="Total uncompressed size a .docx/.xlsx may unpack to",
    )
    archive_max_member_bytes: int = Field(
        default=16 * 1024 * 1024,
        description="Uncompressed size one member of a .docx/.xlsx may unpack to",
    )
    archive_max_document_bytes: int = Field(
        default=4 * 1024 * 1024,
        description="Uncompressed size of the part a parser holds whole (a .docx's "
        "word/document.xml, an .xlsx's shared strings): parsing takes ~15 times its size",
    )
    archive_max_ratio: int = Field(
        default=100, description="Largest compression ratio of one .docx/.xlsx member"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics requires; unset: /metrics answers 404 (scrape the "
        "scheduler's port instead)",
    )
    session_hours: int = Field(default=12, description="Lifetime of a password-login token")
    api_token_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Lifetime of an API token, and the longest one may ask for (等保 level 3: "
        "no credential lives for ever); tokens issued without an expiry before it get one "
        "counted from their issue",
    )
    # --- 等保 level 3: second factor, passwords, lockout, sessions (docs/security.md) -----------
    totp_required_roles: str = Field(
        default="system_admin,security_admin,audit_admin",
        max_length=200,
        description="Roles (comma-separated) that must use a second factor (TOTP) to sign in on "
        "the pages; others may enrol on 账号安全. Empty: nobody is required to",
    )
    totp_issuer: str = Field(
        default="政府开放日", max_length=60, description="Issuer name an authenticator app shows"
    )
    password_min_length: int = Field(
        default=10, ge=8, le=64, description="Shortest password accepted"
    )
    password_min_classes: int = Field(
        default=3,
        ge=1,
        le=4,
        description="Character classes a password needs (lower case, upper case, digits, others)",
    )
    password_max_age_days: int = Field(
        default=90,
        ge=0,
        le=3650,
        description="Days a password lives before it must be changed at sign-in; 0: no expiry",
    )
    password_warn_days: int = Field(
        default=14, ge=0, le=90, description="Days before expiry the pages start warning"
    )
    password_history: int = Field(
        default=5, ge=0, le=24, description="Earlier passwords a new one may not repeat"
    )
    lockout_failures: int = Field(
        default=5,
        ge=0,
        le=100,
        description="Wrong passwords or codes in a row that lock an account (on top of the "
        "throttle); 0: no lockout",
    )
    lockout_minutes: int = Field(
        default=30, ge=1, le=1440, description="How long a locked account stays locked"
    )
    session_idle_minutes: int = Field(
        default=30,
        ge=0,
        le=1440,
        description="A page session unused this long ends (OPENDAY_SESSION_HOURS is its "
        "absolute lifetime); 0: no idle timeout",
    )
    ratelimit_url: SecretStr | None = Field(
        default=None,
        description="Where sign-in failures and public requests are counted (limits storage "
        "URL); unset: the Redis broker's URL when the broker is Redis, else memory:// (one "
        "process); while Redis is down, this process's memory (never printed)",
    )
    login_limit_account: str = Field(
        default="10/15 minutes",
        description="Failed sign-ins allowed per account (limits notation) before 429",
    )
    login_limit_address: str = Field(
        default="100/15 minutes",
        description="Failed sign-ins allowed per client address (limits notation) before 429",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Key of the audit hash chain (HMAC-SHA256), kept outside the database; "
        "unset: a key generated once under var_dir as audit.key (keep it with the backups: "
        "`openday audit verify` needs it)",
    )
    audit_retention_days: int = Field(
        default=180,
        description="Days an audit line is kept at least (网络安全法 第二十一条: six months; "
        "values under 180 are refused); `openday audit archive` exports older lines to a "
        "verifiable archive before it removes them",
    )
    crypto: Literal["standard", "sm"] = Field(
        default="standard",
        description="Cryptographic profile for new data: `standard` (audit chain HMAC-SHA256, "
        "personal data Fernet) or `sm` (国密: HMAC-SM3 and SM4-GCM). Each stored hash and "
        "ciphertext names its algorithm, so old rows still verify and decrypt after a switch; "
        "`openday crypto switch` brings stored data over to the profile",
    )
    backup_hour: int | None = Field(
        default=None,
        ge=0,
        le=23,
        description="Local hour (Asia/Shanghai, 0-23) at which the scheduler takes the nightly "
        "backup (`openday backup`); unset: no nightly backup",
    )
    backup_dir: Path | None = Field(
        default=None,
        description="Where backup archives go; unset: var_dir/backups",
    )
    backup_keep: int = Field(
        default=7,
        ge=1,
        le=1000,
        description="Nightly archives kept in backup_dir (older ones are deleted after a success)",
    )
    # --- unified sign-in (统一身份认证, OpenID Connect; docs/identity.md) ------------------------
    oidc_issuer: str | None = Field(
        default=None,
        max_length=300,
        description="Issuer URL of the OpenID provider (its /.well-known/openid-configuration "
        "is read); unset: no unified sign-in. https only, except on a loopback address",
    )
    oidc_client_id: str | None = Field(
        default=None, max_length=200, description="This service's client id at the provider"
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="Client secret (never printed; prefer OPENDAY_OIDC_CLIENT_SECRET_FILE)",
    )
    oidc_client_secret_file: Path | None = Field(
        default=None,
        description="File holding the client secret (a mounted secret); read at start-up",
    )
    oidc_claim: str = Field(
        default="sub",
        max_length=100,
        description="ID-token claim an administrator links to an account (sub, "
        "preferred_username, a staff number claim…); a sign-in with no link is refused",
    )
    oidc_scopes: str = Field(
        default="openid profile", max_length=300, description="Scopes asked for"
    )
    oidc_label: str = Field(
        default="统一身份认证登录", max_length=50, description="The sign-in page's button"
    )
    oidc_leeway_seconds: int = Field(
        default=60, ge=0, le=300, description="Clock skew allowed on ID-token exp/iat/nbf"
    )
    oidc_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="Time allowed for each call to the provider"
    )
    password_off_roles: str = Field(
        default="",
        max_length=200,
        description="Comma-separated roles whose local passwords are refused (they sign in "
        "through the unified identity service only), e.g. `admin,supervisor`; empty: none",
    )
    # --- public pages (citizens) ----------------------------------------------------------------
    privacy_key: SecretStr | None = Field(
        default=None,
        description="Fernet key (urlsafe base64, 32 bytes) encrypting registrants' phone and ID "
        "numbers and keying their hashes; unset: a key generated once under var_dir "
        "(development only; never commit it)",
    )
    public_retention_days: int = Field(
        default=30,
        ge=0,
        description="Days after a campaign ends before `openday privacy purge` erases its "
        "registrants' personal data",
    )
    public_limit_address: str = Field(
        default="20/hour",
        description="Registrations, look-ups and cancellations per client address (limits "
        "notation)",
    )
    public_limit_phone: str = Field(
        default="10/day",
        description="Registrations, look-ups and cancellations per phone number (limits notation)",
    )
    track_limit_address: str = Field(
        default="120/hour", description="Receipt-code look-ups per client address (limits notation)"
    )
    link_refusal_audit_seconds: int = Field(
        default=600,
        ge=1,
        le=86_400,
        description="Refused answer links (forged, expired, unknown) from one client address are "
        "audited once per this many seconds; the rest are counted and the count goes into the "
        "next window's audit line",
    )
    public_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long each API process reuses the rendered public calendar (page and "
        "JSON; its own registration changes clear it at once); 0 renders every request",
    )
    sms_channel: Literal["log", "off"] = Field(
        default="off",
        description="SMS to registrants: `log` writes each message to the log with the phone "
        "masked (no outside service); `off` sends none",
    )
    # --- notifications -----------------------------------------------------------------------
    smtp_host: str | None = Field(default=None, description="SMTP server; unset disables e-mail")
    smtp_port: int = Field(default=25, description="SMTP port")
    smtp_sender: str = Field(
        default="区政府办 政府开放日 <openday@localhost>", description="From address of e-mails"
    )
    smtp_username: str | None = Field(default=None, description="SMTP login (optional)")
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP password (optional; never printed)"
    )
    smtp_starttls: bool = Field(default=False, description="Upgrade with STARTTLS")
    smtp_ssl: bool = Field(default=False, description="Connect with implicit TLS (port 465)")
    supervisor_webhook_url: str | None = Field(
        default=None, description="District office group robot / webhook for level-2 notices"
    )
    supervisor_webhook_format: str = Field(
        default="json", description="json | wecom (企业微信) | dingtalk (钉钉)"
    )
    office_email: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="District office (区政府办) mailbox: what is copied to the office (level 2) is "
        "also e-mailed here (needs OPENDAY_SMTP_HOST)",
    )
    notify_log: bool = Field(default=True, description="Also write every notification to the log")
    public_url: str | None = Field(
        default=None,
        max_length=300,
        description="The service's address as people reach it; digests link to its board, "
        "printed receipt slips (QR codes) to its /public/track. Unset: the address the service "
        "serves (pages: the address the request came to; workers: http://HOST:PORT)",
    )
    delivery_max_attempts: int = Field(
        default=12,
        description="Tries per notification before it is recorded as failed (with backoff "
        "doubling up to 10 minutes, about 40 minutes of retrying)",
    )
    delivery_lease_seconds: int = Field(
        default=60, description="How long a worker may hold a notification while sending"
    )
    # --- scheduler and workers ----------------------------------------------------------------
    scheduler_batch: int = Field(default=500, description="Timers claimed per transaction")
    scheduler_max_sleep: float = Field(
        default=30.0, description="Longest sleep between scans (seconds); woken earlier by NOTIFY"
    )
    redrive_after_seconds: int = Field(
        default=60,
        description="Owed work untouched this long is re-sent by the scheduler's reconciler",
    )
    scheduler_metrics_port: int = Field(
        default=9192, description="Port of the scheduler's Prometheus metrics; 0 turns it off"
    )
    worker_processes: int = Field(default=2, description="`openday worker` processes")
    worker_threads: int = Field(default=8, description="`openday worker` threads per process")
    clock_start: str | None = Field(
        default=None,
        description="Tests and drills only: start this process's clock at an ISO moment",
    )
    log_format: str = Field(
        default="auto", description="'json', 'console', or 'auto' (console on a terminal)"
    )
    log_level: str = Field(default="INFO", description="Root log level")

    @field_validator("audit_retention_days")
    @classmethod
    def _six_months_at_least(cls, value: int) -> int:
        """等保 level 3 / 网络安全法 第二十一条: audit lines are kept at least six months."""
        if value < MIN_AUDIT_RETENTION_DAYS:
            raise ValueError(
                f"OPENDAY_AUDIT_RETENTION_DAYS={value}: 审计记录至少保留 "
                f"{MIN_AUDIT_RETENTION_DAYS} 天 / audit lines must be kept at least "
                f"{MIN_AUDIT_RETENTION_DAYS} days"
            )
        return value

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        """No database URL: the SQLite file in var_dir (./var, or the image's volume)."""
        if not self.database_url.get_secret_value():
            self.database_url = SecretStr(f"sqlite:///{self.var_dir / 'openday.db'}")
        return self

    @property
    def backup_path(self) -> Path:
        """Where backup archives go."""
        return self.backup_dir or self.var_dir / "backups"

    @property
    def upload_dir(self) -> Path:
        """Where summary attachments are stored."""
        return self.var_dir / "uploads"

    @property
    def effective_broker_url(self) -> SecretStr | None:
        """The broker URL in use: OPENDAY_BROKER_URL, else OPENDAY_REDIS_URL, else in-process."""
        for url in (self.broker_url, self.redis_url):
            if url is not None and url.get_secret_value():
                return url
        return None

    @property
    def effective_ratelimit_url(self) -> SecretStr:
        """OPENDAY_RATELIMIT_URL, else the broker's Redis, else this process's memory."""
        if self.ratelimit_url is not None and self.ratelimit_url.get_secret_value():
            return self.ratelimit_url
        broker = self.effective_broker_url
        if broker is not None and broker.get_secret_value().startswith(("redis://", "rediss://")):
            return broker
        return SecretStr("memory://")

    @property
    def public_base(self) -> str:
        """OPENDAY_PUBLIC_URL without its trailing slash, else the address this service serves
        (a wildcard bind address is reached on the loopback address)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def oidc_secret(self) -> str:
        """The OpenID client secret: OPENDAY_OIDC_CLIENT_SECRET, else the secret file's text."""
        if self.oidc_client_secret is not None and self.oidc_client_secret.get_secret_value():
            return self.oidc_client_secret.get_secret_value()
        if self.oidc_client_secret_file is not None:
            return self.oidc_client_secret_file.read_text(encoding="utf-8").strip()
        return ""

    @property
    def password_off(self) -> frozenset[str]:
        """Roles whose local passwords are switched off."""
        return frozenset(r.strip() for r in self.password_off_roles.split(",") if r.strip())

    def migrate_url(self) -> str:
        """The URL migrations run with: the owner's, else the service's own."""
        if self.migrate_database_url is not None and self.migrate_database_url.get_secret_value():
            return self.migrate_database_url.get_secret_value()
        return self.database_url.get_secret_value()

    @property
    def is_sqlite(self) -> bool:
        """True when the embedded SQLite database is in use."""
        return self.database_url.get_secret_value().startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache after changing the environment)."""
    return Settings()


def configure_logging(settings: Settings | None = None) -> None:
    """structlog once per process: JSON when stderr is not a terminal, console otherwise.

    Records from the standard library (uvicorn, dramatiq, SQLAlchemy) go through the same
    processors via ProcessorFormatter; request and message ids come from contextvars.
    """
    import logging
    import sys

    import structlog

    settings = settings or get_settings()
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # transitions logs every callback at INFO ("Executed callback …"): the audit log has the moves.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
