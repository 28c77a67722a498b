"""Every app container of the compose file shares one OPENDAY_VAR_DIR (the `uploads` volume):
the uploaded files, the backups (a scheduler takes the nightly one), and the audit and privacy
keys generated there when none is configured — a container with a key of its own would seal
audit lines that `openday audit verify` calls broken."""

from __future__ import annotations

from typing import Any

import yaml

from settings import PROJECT_DIR


def _services() -> dict[str, Any]:
    compose = yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text(encoding="utf-8"))
    services: dict[str, Any] = compose["services"]
    return services


def test_every_app_container_mounts_the_shared_var_dir() -> None:
    apps = {name: svc for name, svc in _services().items() if "build" in svc}
    assert {"migrate", "api", "worker", "scheduler-a", "scheduler-b"} <= set(apps)
    for name, svc in apps.items():
        assert "uploads:/var/lib/openday" in svc.get("volumes", []), name
        assert svc["environment"]["OPENDAY_VAR_DIR"] == "/var/lib/openday", name


def test_the_database_is_the_major_version_of_the_images_pg_dump() -> None:
    """pg_dump refuses a newer server: the image has Debian bookworm's PostgreSQL 15 client."""
    assert _services()["postgres"]["image"] == "postgres:15"
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text(encoding="utf-8")
    assert "postgresql-client" in dockerfile and "pg_dump --version" in dockerfile
    assert "ARG BASE=openday-base:bookworm" in dockerfile
    base = (PROJECT_DIR / "docker" / "build-base.sh").read_text(encoding="utf-8")
    assert "suite=bookworm" in base and "postgresql-client" in base
