"""What CI can check of the container deployment without a Docker engine: the compose file
validates (Debian's docker-compose, offline), every app service runs a real `openday`
subcommand, the Dockerfile's shape, and that .env.example and docs/configuration.md list every
setting."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from settings import PROJECT_DIR, Settings
from tests.conftest import unavailable

COMPOSE_FILE = PROJECT_DIR / "docker-compose.yml"
DOCKERFILE = PROJECT_DIR / "Dockerfile"
ENV_EXAMPLE = PROJECT_DIR / ".env.example"
CONFIGURATION = PROJECT_DIR / "docs" / "configuration.md"  # linked from the README
OPENDAY = Path(sys.executable).parent / "openday"

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}
_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
_ENV_LINE = re.compile(r"^#?\s*(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def _app_services() -> dict[str, dict[str, Any]]:
    """Services that run the openday image (built from this repository's Dockerfile)."""
    services = _compose()["services"]
    return {name: svc for name, svc in services.items() if "build" in svc}


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose-style ${…} substitution from `env` (the .env file), defaults otherwise."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        current = env.get(name)
        if op.startswith(":") and not current:
            current = None
        if current is not None:
            return current
        if op.endswith("-"):
            return arg
        raise AssertionError(f"${{{name}}} is required but unset: {arg}")

    return _INTERPOLATION.sub(substitute, value)


def _env_example() -> dict[str, str]:
    """The active (uncommented) KEY=value lines of .env.example."""
    out: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def _setting_names() -> dict[str, list[str]]:
    """Field name → the OPENDAY_* environment names pydantic-settings reads it from."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: dict[str, list[str]] = {}
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            candidates = [c for c in alias.choices if isinstance(c, str)]
        elif isinstance(alias, str):
            candidates = [alias]
        else:
            candidates = [f"{prefix}{field_name}"]
        names[field_name] = [c.upper() for c in candidates if c.upper().startswith("OPENDAY_")]
        assert names[field_name], f"setting {field_name} has no OPENDAY_* environment name"
    return names


# ---------------------------------------------------------------------------------------------
# (a) the compose file validates
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", [None, "rabbitmq"])
def test_compose_file_validates_with_docker_compose(tmp_path: Path, profile: str | None) -> None:
    """`docker-compose config` accepts docker-compose.yml with .env copied from .env.example."""
    binary = shutil.which("docker-compose")
    if binary is None:
        unavailable("docker-compose", "not installed (Debian: apt-get install docker-compose)")
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDAY_", "COMPOSE_"))}
    argv = [binary, "-f", "docker-compose.yml"]
    if profile:
        argv += ["--profile", profile]
    result = subprocess.run(
        [*argv, "config", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    resolved = subprocess.run(
        [*argv, "config"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    services = yaml.safe_load(resolved.stdout)["services"]
    assert services["api"]["command"][-2:] == ["--workers", "4"]  # ${OPENDAY_API_WORKERS:-4}
    assert services["api"]["environment"]["OPENDAY_DATABASE_URL"].startswith("postgresql+psycopg")


def test_compose_without_env_file_refuses_to_start(tmp_path: Path) -> None:
    """Without .env the stack refuses to start: neither password has a default."""
    binary = shutil.which("docker-compose")
    if binary is None:
        unavailable("docker-compose", "not installed (Debian: apt-get install docker-compose)")
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    (tmp_path / ".env").write_text("OPENDAY_BROKER_URL=redis://redis:6379/0\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENDAY_", "POSTGRES_"))}
    result = subprocess.run(
        [binary, "-f", "docker-compose.yml", "config", "-q"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "PASSWORD" in result.stderr
    # Each password is required on its own: RabbitMQ's like PostgreSQL's.
    for given, missing in (
        ("POSTGRES_PASSWORD", "RABBITMQ_PASSWORD"),
        ("RABBITMQ_PASSWORD", "POSTGRES_PASSWORD"),
    ):
        (tmp_path / ".env").write_text(f"{given}=s3cret-value\n", encoding="utf-8")
        result = subprocess.run(
            [binary, "-f", "docker-compose.yml", "config", "-q"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode != 0 and missing in result.stderr, result.stderr


# ---------------------------------------------------------------------------------------------
# (b) the topology: every app service runs a real `openday` subcommand
# ---------------------------------------------------------------------------------------------


def test_every_app_service_runs_an_openday_subcommand() -> None:
    """Each app service's command, after ENTRYPOINT ["openday"], parses as `openday … --help`."""
    assert (
        "openday"
        in tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["scripts"]
    ), "the image's entry point is the `openday` console script"
    if not OPENDAY.exists():
        pytest.fail(f"{OPENDAY} missing: install the project (make test does)")
    env_file = _env_example()
    services = _app_services()
    assert services, "no service builds the openday image"
    for name, svc in services.items():
        command = svc.get("command")
        assert isinstance(command, list) and command, f"{name}: command must be an exec-form list"
        argv = [_interpolate(str(part), env_file) for part in command]
        # click parses every option before --help acts, so an unknown option fails here too.
        result = subprocess.run(
            [str(OPENDAY), *argv, "--help"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, f"{name}: openday {' '.join(argv)}: {result.stderr}"
        # --help acts before values are converted; convert them too (e.g. --workers is an int).
        _parse_openday_argv(argv)


def _parse_openday_argv(argv: list[str]) -> None:
    """Parse `openday argv…` with the real command tree (Typer's click), running nothing."""
    import typer.main

    import cli

    command: Any = typer.main.get_command(cli.app)
    ctx = command.make_context("openday", [], resilient_parsing=True)
    args = list(argv)
    while hasattr(command, "list_commands"):  # a group: the next word names a subcommand
        assert args, f"openday {' '.join(argv)}: no subcommand"
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"openday has no subcommand {args[0]!r}"
        command, name, args = sub, args[0], args[1:]
        if hasattr(command, "list_commands"):
            ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
        else:
            ctx = command.make_context(name, args, parent=ctx)  # converts every value
            args = list(ctx.args)
    assert not args, f"openday {' '.join(argv)}: unexpected arguments {args}"


def test_topology_has_the_services_the_issue_asks_for() -> None:
    """migrate once, the api, workers, two schedulers; waits on health; named volumes."""
    compose = _compose()
    services = compose["services"]
    commands = {name: svc["command"][0] for name, svc in _app_services().items()}
    assert sorted(commands.values()).count("scheduler") >= 2, "two scheduler replicas"
    assert {"migrate", "api", "worker"} <= set(commands.values())
    assert services["migrate"]["restart"] == "no"
    for name, svc in _app_services().items():
        depends = svc["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        if commands[name] != "migrate":
            assert depends["migrate"]["condition"] == "service_completed_successfully", name
            assert depends["redis"]["condition"] == "service_healthy", name
            assert svc.get("env_file") == ".env", name
    for backing in ("postgres", "redis", "rabbitmq", "mailsink"):
        assert services[backing].get("healthcheck"), f"{backing} needs a healthcheck"
    assert "--appendonly" in services["redis"]["command"]
    assert services["rabbitmq"]["profiles"] == ["rabbitmq"]
    assert {"pgdata", "redisdata", "uploads"} <= set(compose["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "uploads:/var/lib/openday" in services["api"]["volumes"][0]
    assert any("8025" in str(p) for p in services["mailsink"]["ports"])
    for name in ("worker", *[n for n, c in commands.items() if c == "scheduler"]):
        assert services[name].get("stop_grace_period"), f"{name}: time to finish on SIGTERM"


# ---------------------------------------------------------------------------------------------
# (c) the Dockerfile
# ---------------------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    out = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_is_multi_stage_slim_non_root_with_healthcheck_and_entrypoint() -> None:
    """Builder + runtime on the ARG BASE image (docker/build-base.sh: Debian's packages), a
    non-root USER, a HEALTHCHECK, ENTRYPOINT openday."""
    instructions = _instructions()
    stages = [args for kw, args in instructions if kw == "FROM"]
    assert len(stages) >= 2, "multi-stage: a builder and a runtime"
    assert "BASE=openday-base:bookworm" in [args for kw, args in instructions if kw == "ARG"]
    assert stages[0].split()[0] == "${BASE}", "the base image is the BASE argument"
    assert any("--from=" in args for kw, args in instructions if kw == "COPY")
    runtime = instructions[max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM") :]
    users = [args for kw, args in runtime if kw == "USER"]
    assert users, "the runtime stage sets a USER"
    assert users[-1].split(":")[0] not in ("root", "0"), "runs as a non-root user"
    health = [args for kw, args in runtime if kw == "HEALTHCHECK"]
    assert health and "/healthz" in health[-1] and "NONE" not in health[-1].split()
    entrypoints = [args for kw, args in runtime if kw == "ENTRYPOINT"]
    assert entrypoints and json.loads(entrypoints[-1]) == ["openday"]
    cmds = [args for kw, args in runtime if kw == "CMD"]
    assert cmds and json.loads(cmds[-1])[0] == "api"
    env = " ".join(args for kw, args in runtime if kw == "ENV")
    assert "OPENDAY_VAR_DIR=/var/lib/openday" in env


def test_dockerignore_keeps_secrets_tests_and_local_state_out_of_the_image() -> None:
    """.env, .venv, var/, .git and tests/ never reach the build context."""
    patterns = {
        line.strip()
        for line in (PROJECT_DIR / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", "var", ".git", "tests"} <= patterns
    for needed in ("alembic.ini", "migrations", "data", "README.md", "pyproject.toml"):
        assert needed not in patterns, f"{needed} is needed in the image"


# ---------------------------------------------------------------------------------------------
# (d) every setting is documented
# ---------------------------------------------------------------------------------------------


def test_env_example_lists_every_setting() -> None:
    """Every OPENDAY_* name of settings.Settings appears in .env.example (set or commented)."""
    listed = {
        m["name"]
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if (m := _ENV_LINE.match(line.strip()))
    }
    missing = sorted(
        name for names in _setting_names().values() for name in names if name not in listed
    )
    assert not missing, f".env.example lacks {missing}"


def test_env_example_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The active lines of .env.example load as Settings (types, booleans, numbers)."""
    for key in list(os.environ):
        if key.startswith("OPENDAY_") or key == "PORT":
            monkeypatch.delenv(key)
    values = _env_example()
    for key, value in values.items():
        assert "$" not in value, f"{key}: '$' would be interpolated by docker compose"
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.effective_broker_url.get_secret_value() == "redis://redis:6379/0"  # type: ignore[union-attr]
    assert settings.database_url.get_secret_value().startswith("postgresql+psycopg://")
    assert str(settings.var_dir) == "/var/lib/openday"
    assert settings.smtp_host == "mailsink" and settings.smtp_port == 1025


def test_configuration_table_lists_every_setting() -> None:
    """docs/configuration.md's "## Configuration" table has a row naming every OPENDAY_* setting,
    and the README links to it."""
    assert "(docs/configuration.md)" in (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    text = CONFIGURATION.read_text(encoding="utf-8")
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    documented = set(re.findall(r"`(OPENDAY_[A-Z0-9_]+)`", rows))
    missing = sorted(
        name for names in _setting_names().values() for name in names if name not in documented
    )
    assert not missing, f"docs/configuration.md's table lacks rows for {missing}"
