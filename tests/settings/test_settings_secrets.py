"""URLs that can carry a password (database, Redis, broker, rate-limit store) are SecretStr:
repr, str, model_dump_json and a settings log line show none of them; connecting still works."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr

from settings import Settings, configure_logging

PASSWORD = "s3cret-Pa55"  # noqa: S105 - a test value
URLS = {
    "database_url": f"postgresql+psycopg://openday:{PASSWORD}@db.example:5432/openday",
    "redis_url": f"redis://:{PASSWORD}@redis.example:6379/0",
    "broker_url": f"amqp://openday:{PASSWORD}@rabbit.example:5672/%2F",
    "ratelimit_url": f"redis://:{PASSWORD}@limits.example:6379/1",
}


def test_password_urls_are_secret_and_never_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, url in URLS.items():
        monkeypatch.setenv(f"OPENDAY_{name.upper()}", url)
    settings = Settings()
    for name, url in URLS.items():
        value = getattr(settings, name)
        assert isinstance(value, SecretStr), name
        assert value.get_secret_value() == url
    for text in (repr(settings), str(settings), settings.model_dump_json(), str(vars(settings))):
        assert PASSWORD not in text
        assert "db.example" not in text  # the whole URL is hidden, not only its password
    assert settings.effective_broker_url == settings.broker_url
    assert settings.effective_ratelimit_url == settings.ratelimit_url
    assert not settings.is_sqlite

    configure_logging(Settings(log_format="json"))
    logging.getLogger("openday.test").warning("settings %s", settings)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert json.loads(line)["event"].startswith("settings ") and PASSWORD not in line


def test_defaults_follow_var_dir_and_the_broker(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    for name in URLS:
        monkeypatch.delenv(f"OPENDAY_{name.upper()}", raising=False)
    settings = Settings(var_dir=tmp_path)
    assert settings.database_url.get_secret_value() == f"sqlite:///{tmp_path / 'openday.db'}"
    assert settings.is_sqlite and settings.effective_broker_url is None
    assert settings.effective_ratelimit_url.get_secret_value() == "memory://"
    redis = Settings(var_dir=tmp_path, redis_url="redis://127.0.0.1:6379/3")
    assert redis.effective_ratelimit_url.get_secret_value() == "redis://127.0.0.1:6379/3"
    amqp = Settings(var_dir=tmp_path, broker_url="amqp://x", redis_url="redis://y")
    assert amqp.effective_broker_url.get_secret_value() == "amqp://x"  # type: ignore[union-attr]
    assert amqp.effective_ratelimit_url.get_secret_value() == "memory://"
