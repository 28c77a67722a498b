"""Monitoring in the repository (docker/monitoring/): the compose file's `monitoring` profile
validates and provisions Prometheus, Alertmanager and Grafana from these files, promtool accepts
the alert rules and amtool the rendered Alertmanager configuration (where Debian's prometheus and
prometheus-alertmanager packages provide them), and every metric the rules and the dashboard name
is one the service really exports on /metrics — so a renamed metric breaks here, not silently on a
dashboard. Images are named in the compose file, never pulled here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from dramatiq.brokers.redis import RedisBroker
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import Notification, NotificationState
from settings import PROJECT_DIR, Settings
from tests.conftest import unavailable
from workers.metrics import StateCollector
from workflows.kernel.clock import FixedClock

MONITORING = PROJECT_DIR / "docker" / "monitoring"
RULES = MONITORING / "alerts.yml"
PROMETHEUS = MONITORING / "prometheus.yml"
ALERTMANAGER = MONITORING / "alertmanager.yml"
RENDER = MONITORING / "alertmanager-render.sh"
MONITORS = ("prometheus", "alertmanager", "grafana")
DASHBOARD = MONITORING / "grafana" / "dashboards" / "openday.json"
_METRIC = re.compile(r"\bopenday_[a-z0-9_]+\b")
_TYPE = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ", re.M)
_SERIES = re.compile(r"^(?:# (?:HELP|TYPE) )?([a-zA-Z_:][a-zA-Z0-9_:]*)", re.M)


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def _resolved_compose(tmp_path: Path) -> dict[str, Any]:
    binary = shutil.which("docker-compose")
    if binary is None:
        unavailable("docker-compose", "not installed (Debian: apt-get install docker-compose)")
        raise AssertionError  # unreachable: unavailable() skips or fails
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    shutil.copy(PROJECT_DIR / ".env.example", tmp_path / ".env")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDAY_", "COMPOSE_"))}
    argv = [binary, "-f", "docker-compose.yml", "--profile", "monitoring", "config"]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_the_monitoring_profile_validates_and_provisions_from_the_repository(
    tmp_path: Path,
) -> None:
    services = _resolved_compose(tmp_path)["services"]
    for name in MONITORS:
        svc = services[name]
        assert svc["profiles"] == ["monitoring"], name
        image, _, tag = svc["image"].rpartition(":")
        assert image and tag and tag != "latest", f"{name}: a pinned image tag"
        assert all(str(p).startswith("127.0.0.1:") for p in svc["ports"]), "this host only"
        for volume in svc["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("/"):  # a bind mount of a file in the repository
                in_repo = PROJECT_DIR / Path(source).relative_to(tmp_path)
                assert in_repo.exists(), f"{name} mounts {in_repo}, which is missing"
    # The app services do not depend on monitoring: the default profile starts without it.
    others = [svc for svc in services.values() if svc.get("profiles") != ["monitoring"]]
    assert all(set(MONITORS).isdisjoint(svc.get("depends_on", {})) for svc in others)
    mounts = " ".join(services["prometheus"]["volumes"])
    assert "docker/monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    assert "docker/monitoring/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    alertmanager = " ".join(services["alertmanager"]["volumes"])
    assert (
        "docker/monitoring/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" in alertmanager
    )
    assert "docker/monitoring/alertmanager-render.sh:/etc/alertmanager/render.sh:ro" in alertmanager
    grafana = " ".join(services["grafana"]["volumes"])
    assert "docker/monitoring/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    provider = yaml.safe_load(
        (MONITORING / "grafana/provisioning/dashboards/openday.yml").read_text()
    )
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert f"docker/monitoring/grafana/dashboards:{dashboards_path}:ro" in grafana
    datasource = yaml.safe_load(
        (MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p.get("targets", [])}
    assert uids == {datasource["uid"]}


def test_prometheus_scrapes_the_compose_services_with_the_token() -> None:
    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    assert config["rule_files"] == ["alerts.yml"]  # beside prometheus.yml in /etc/prometheus
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["openday-api"]
    assert api["metrics_path"] == "/metrics"
    token_file = api["authorization"]["credentials_file"]
    prometheus = services["prometheus"]
    assert any(token_file.startswith(t.split(":")[0] + "/") for t in prometheus["tmpfs"])
    assert token_file in " ".join(prometheus["command"])
    assert "OPENDAY_METRICS_TOKEN" in prometheus["environment"]
    targets = [
        t for job in jobs.values() for c in job.get("static_configs", []) for t in c["targets"]
    ]
    targets += [f"{n}:{c['port']}" for job in jobs.values() for c in job.get("dns_sd_configs", [])
                for n in c["names"]]  # fmt: skip
    defaults = Settings.model_fields
    ports = {"api": 8000, "worker": 9191, "scheduler-a": defaults["scheduler_metrics_port"].default}
    ports["scheduler-b"] = ports["scheduler-a"]
    for target in targets:
        host, _, port = target.partition(":")
        assert host in services, f"{target}: no such compose service"
        assert int(port) == ports[host], target
    assert {t.partition(":")[0] for t in targets} == set(ports)
    # Every job an alert watches with up{job=…} is scraped.
    for rule in _rules():
        for job in re.findall(r'job="([^"]+)"', rule["expr"]):
            assert job in jobs, f"{rule['alert']}: no scrape job {job}"


def test_every_rule_is_named_labelled_and_explained() -> None:
    rules = _rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)) and len(names) >= 10
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert _METRIC.search(rule["expr"]) or "up{" in rule["expr"], rule["alert"]


def test_promtool_accepts_the_rules_and_the_config() -> None:
    """Where promtool is installed (Debian's prometheus package; .ci/run takes it from the .deb)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian's prometheus package; .ci/run extracts it)")
    rules = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in rules.stdout
    config = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(PROMETHEUS)],
        capture_output=True,
        text=True,
    )
    assert config.returncode == 0, config.stdout + config.stderr


def _render(out_dir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """alertmanager-render.sh as the container runs it, with only these ALERTMANAGER_* set
    (webhook_url=… is ALERTMANAGER_WEBHOOK_URL); it writes out_dir/alertmanager.yml."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTMANAGER_")}
    env.update({f"ALERTMANAGER_{name.upper()}": value for name, value in settings.items()})
    argv = ["sh", str(RENDER), str(ALERTMANAGER), str(out_dir / "alertmanager.yml")]
    return subprocess.run(argv, env=env, capture_output=True, text=True)


def test_alertmanager_sends_where_the_environment_says(tmp_path: Path) -> None:
    url = 'https://robot.example.org/send?key=a&to=b|c"d\\e'  # quoting and sed's specials
    done = _render(tmp_path, webhook_url=url)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load((tmp_path / "alertmanager.yml").read_text())
    assert config["receivers"] == [
        {"name": "operators", "webhook_configs": [{"url": url, "send_resolved": True}]}
    ]
    assert "smtp_smarthost" not in config["global"]
    assert not (tmp_path / "smtp-password").exists()

    done = _render(
        tmp_path, email_to="ops@example.org", smtp_smarthost="mail.example.org:587",
        smtp_from="alerts@example.org", smtp_username="alerts", smtp_password="s3cret&|x",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "alertmanager.yml").read_text()
    assert "s3cret" not in text  # the password only in its own file
    password = tmp_path / "smtp-password"
    assert password.read_text() == "s3cret&|x" and password.stat().st_mode & 0o077 == 0
    config = yaml.safe_load(text)
    assert config["receivers"] == [
        {"name": "operators", "email_configs": [{"to": "ops@example.org", "send_resolved": True}]}
    ]
    assert config["global"] == {
        "resolve_timeout": "5m", "smtp_smarthost": "mail.example.org:587",
        "smtp_from": "alerts@example.org", "smtp_require_tls": True,
        "smtp_auth_username": "alerts", "smtp_auth_password_file": str(password),
    }  # fmt: skip
    # Every route ends at the one receiver; the inhibition names real alerts.
    assert {r["receiver"] for r in [config["route"], *config["route"]["routes"]]} == {"operators"}
    names = {rule["alert"] for rule in _rules()}
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"]:
            inhibiting = re.fullmatch(r'alertname=~"([A-Za-z|]+)"', matcher)
            assert inhibiting and set(inhibiting.group(1).split("|")) <= names, matcher


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({}, "set ALERTMANAGER_WEBHOOK_URL or ALERTMANAGER_EMAIL_TO"),
        ({"webhook_url": "robot.example.org/send"}, "must be an http(s) URL"),
        ({"email_to": "ops@example.org", "smtp_from": "a@example.org"}, "SMTP_SMARTHOST"),
        (
            {
                "email_to": "o@example.org",
                "smtp_smarthost": "m:25",
                "smtp_from": "a@example.org",
                "smtp_username": "alerts",
            },
            "ALERTMANAGER_SMTP_USERNAME is set without ALERTMANAGER_SMTP_PASSWORD",
        ),  # fmt: skip
        ({"webhook_url": "https://x.example", "smtp_require_tls": "yes"}, "true or false"),
    ],
)
def test_alertmanager_refuses_to_start_without_a_usable_receiver(
    tmp_path: Path, settings: dict[str, str], complaint: str
) -> None:
    done = _render(tmp_path, **settings)
    assert done.returncode == 1
    assert done.stderr.startswith("alertmanager: ") and done.stderr.count("\n") == 1
    assert complaint in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_prometheus_sends_alerts_to_the_compose_alertmanager() -> None:
    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text(encoding="utf-8"))
    alertmanager = compose["services"]["alertmanager"]
    config = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    (target,) = [
        t for a in config["alerting"]["alertmanagers"] for c in a["static_configs"]
        for t in c["targets"]
    ]  # fmt: skip
    host, _, port = target.partition(":")
    assert host == "alertmanager" and any(p.endswith(f":{port}") for p in alertmanager["ports"])
    command = " ".join(alertmanager["command"])
    assert "/etc/alertmanager/render.sh /etc/alertmanager/alertmanager.yml" in command
    # Every setting the render script reads is passed through from .env.
    settings = set(re.findall(r"ALERTMANAGER_[A-Z_]+", RENDER.read_text()))
    assert settings == set(alertmanager["environment"])


def test_amtool_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    """With the compose file's defaults (the mail sink) and each kind of receiver; where amtool
    is installed (Debian's prometheus-alertmanager package; .ci/run takes it from the .deb)."""
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool not installed (Debian's prometheus-alertmanager; .ci/run extracts it)")
    (tmp_path / "compose").mkdir()
    environment = _resolved_compose(tmp_path / "compose")["services"]["alertmanager"]["environment"]
    defaults = {k.removeprefix("ALERTMANAGER_").lower(): v for k, v in environment.items() if v}
    cases = [
        {"webhook_url": "https://robot.example.org/hook?key=k&x=1"},
        {"email_to": "ops@example.org"},
        {"webhook_url": "http://relay:8080/", "email_to": "a@example.org, b@example.org",
         "smtp_username": "alerts", "smtp_password": "p", "smtp_require_tls": "true"},
    ]  # fmt: skip
    for i, case in enumerate(cases):
        out = tmp_path / str(i)
        out.mkdir()
        done = _render(out, **{**defaults, **case})
        assert done.returncode == 0, done.stderr
        config = str(out / "alertmanager.yml")
        check = subprocess.run([amtool, "check-config", config], capture_output=True, text=True)
        assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr
        routed = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={config}",
             "severity=critical", "alertname=OpendayTimersLate"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert routed.stdout.strip() == "operators", routed.stdout + routed.stderr


class _Redis:
    """Enough of a Redis client for the queue gauges: every queue holds 2 messages."""

    def hlen(self, key: str) -> int:
        return 2


def _exported(client: TestClient, engine: Engine, clock: FixedClock) -> str:
    """Every metric name the API's /metrics shows, plus the queue gauges a Redis broker adds."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    settings.metrics_token = SecretStr("scrape-me")
    client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x" * 8})
    text = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).text
    broker = RedisBroker.__new__(RedisBroker)  # isinstance RedisBroker, no connection
    broker.client, broker.namespace = _Redis(), "dramatiq"  # type: ignore[assignment]
    registry = CollectorRegistry()
    registry.register(StateCollector(engine, clock, broker))
    text += generate_latest(registry).decode()
    assert "openday_queue_messages" in text
    return text


def test_every_metric_the_rules_and_dashboard_name_is_exported(
    client: TestClient, engine: Engine, clock: FixedClock
) -> None:
    exported_text = _exported(client, engine, clock)
    exported = set(_SERIES.findall(exported_text))
    named = {m for rule in _rules() for m in _METRIC.findall(rule["expr"])}
    shown = {m for expr in _dashboard_exprs() for m in _METRIC.findall(expr)}
    assert named and shown
    missing = sorted(name for name in named | shown if name not in exported)
    assert not missing, f"not on /metrics: {missing}"
    # The dashboard shows every family the service exports (a histogram through its buckets).
    families = {
        n for n in _TYPE.findall(exported_text)
        if n.startswith("openday_") and not n.endswith("_created")  # the client's start times
    }  # fmt: skip
    hidden = sorted(f for f in families if not {f, f + "_bucket"} & shown)
    assert not hidden, f"exported, not on the dashboard: {hidden}"
    # The sign-in alert's routes are the real login routes (route label = the route template).
    assert re.search(
        r'openday_http_requests_total\{[^}]*route="/api/v1/auth/login"', _scrape(client)
    )


def _scrape(client: TestClient) -> str:
    return client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).text


def test_the_outbox_age_is_the_oldest_unsent_notification(
    client: TestClient, engine: Engine, clock: FixedClock
) -> None:
    """openday_notifications_oldest_unsent_seconds: per channel, the oldest pending or sending
    row; sent, failed and held rows do not count."""
    client.app.state.settings.metrics_token = SecretStr("scrape-me")  # type: ignore[attr-defined]
    now = clock.now()
    rows = [
        ("email", NotificationState.pending, timedelta(minutes=40)),
        ("email", NotificationState.sending, timedelta(minutes=5)),
        ("email", NotificationState.sent, timedelta(days=3)),
        ("webhook", NotificationState.failed, timedelta(days=2)),
        ("webhook", NotificationState.held, timedelta(days=1)),
        ("inbox", NotificationState.sending, timedelta(seconds=90)),
    ]
    with Session(engine) as session:
        for i, (channel, state, age) in enumerate(rows):
            session.add(_notification(i, channel, state, now - age))
        session.commit()
    text = _scrape(client)
    assert 'openday_notifications_oldest_unsent_seconds{channel="email"} 2400.0' in text
    assert 'openday_notifications_oldest_unsent_seconds{channel="inbox"} 90.0' in text
    assert 'openday_notifications_oldest_unsent_seconds{channel="webhook"}' not in text
    clock.advance(timedelta(minutes=10))
    assert 'oldest_unsent_seconds{channel="email"} 3000.0' in _scrape(client)


def _notification(i: int, channel: str, state: str, created: Any) -> Notification:
    return Notification(
        key=f"test:outbox:{i}",
        subject_type="event",
        subject_id=i,
        rule="event_hold",
        kind="escalation",
        channel=channel,
        recipient="someone@example.org",
        title="t",
        body="b",
        state=state,
        created_at=created,
    )
