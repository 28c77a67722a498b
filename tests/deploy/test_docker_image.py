"""The production image, built and started for real on a Docker engine.

The engine: one already reachable (DOCKER_HOST or the default socket), else, as root with
dockerd installed, a private dockerd this module starts (its own exec root, pid file and socket
in a temporary folder; host networking only, no bridge, no iptables) and stops at the end. Its
data root is kept in DATA_ROOT (OPENDAY_TEST_DOCKER_ROOT overrides it), so the Debian base
image and the build's layers are reused between runs; a lock file keeps two test runs off that
data root at once.

The build is docker/build.sh: the base from Debian's packages when missing (debootstrap + docker
import), then the Dockerfile with host networking. The container runs against the machine's
PostgreSQL (a database of its own, through the host network) when OPENDAY_DATABASE_URL points at
one, else on SQLite in a volume. Checked: /healthz, /readyz and the npm assets answer, the
process runs as the image's non-root user, `openday backup` writes an archive in the container
(pg_dump is in the image), and every log line is a JSON object.

No engine: skipped with the reason; with OPENDAY_REQUIRE_SERVICES=1, as root with dockerd
installed, a failure to start one fails instead.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from settings import PROJECT_DIR
from tests.conftest import DATABASE_URL, REQUIRE_SERVICES
from tests.ports import free_port

DOCKERD = Path("/usr/sbin/dockerd")
DATA_ROOT = Path(os.environ.get("OPENDAY_TEST_DOCKER_ROOT", "/var/lib/openday-test-docker"))
IMAGE = "openday:test"
BASE = "openday-base:bookworm"
BUILD_TIMEOUT = 1200  # seconds; a cached build takes seconds, a first one a few minutes


def _can_start_engine() -> bool:
    return os.geteuid() == 0 and DOCKERD.exists() and shutil.which("docker") is not None


def _no_engine(why: str) -> None:
    """Skip; but fail where CI must run this (root, dockerd installed, services required)."""
    if REQUIRE_SERVICES and _can_start_engine():
        pytest.fail(f"Docker engine: {why} (OPENDAY_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(f"no Docker engine can run here: {why}")


def _docker(env: dict[str, str], *args: str, timeout: float = 120, check: bool = True) -> str:
    done = subprocess.run(
        ["docker", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])}… failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _engine_answers(env: dict[str, str]) -> bool:
    try:
        return (
            subprocess.run(
                ["docker", "version", "--format", "{{.Server.Version}}"],
                env=env,
                capture_output=True,
                timeout=20,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def _stop(daemon: subprocess.Popen[bytes], grace: float = 60) -> None:
    """SIGTERM the dockerd this module started, then SIGKILL after `grace` seconds."""
    daemon.terminate()
    try:
        daemon.wait(grace)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait(10)


def _unmount_under(folder: Path) -> None:
    """Unmount what is still mounted below `folder` (deepest first)."""
    points = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(f"{folder}/")
    ]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


@pytest.fixture(scope="module")
def docker_env() -> Iterator[dict[str, str]]:
    """Environment for `docker` commands that reach a running engine."""
    if shutil.which("docker") is None:
        _no_engine("the docker client is not installed")
    env = dict(os.environ)
    if _engine_answers(env):
        yield env
        return
    if not _can_start_engine():
        _no_engine("none is reachable, and starting dockerd needs root and /usr/sbin/dockerd")
    DATA_ROOT.mkdir(parents=True, exist_ok=True)
    lock = open(DATA_ROOT.with_name(DATA_ROOT.name + ".lock"), "w")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX)  # another run using the same data root: wait for it
    # Short path: a unix socket path may not exceed 107 bytes.
    run_dir = Path(tempfile.mkdtemp(prefix="odd-", dir="/tmp"))
    env["DOCKER_HOST"] = f"unix://{run_dir}/docker.sock"
    log = open(run_dir / "dockerd.log", "wb")  # noqa: SIM115
    daemon = subprocess.Popen(
        [
            str(DOCKERD),
            f"--data-root={DATA_ROOT}",
            f"--exec-root={run_dir}/exec",
            f"--pidfile={run_dir}/dockerd.pid",
            f"--host={env['DOCKER_HOST']}",
            "--bridge=none",  # containers and builds use the host's network
            "--iptables=false",
            "--ip6tables=false",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not _engine_answers(env):
            if daemon.poll() is not None or time.monotonic() > deadline:
                tail = (run_dir / "dockerd.log").read_text(errors="replace")[-2000:]
                _no_engine(f"dockerd did not start (exit {daemon.poll()}):\n{tail}")
            time.sleep(0.5)
        yield env
    finally:
        _stop(daemon)
        log.close()
        _unmount_under(run_dir)  # dockerd leaves its host-network namespace bind-mounted
        shutil.rmtree(run_dir, ignore_errors=True)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


@pytest.fixture(scope="module")
def image(docker_env: dict[str, str]) -> str:
    """docker/build.sh: the Debian base when missing, then the service image."""
    started = time.monotonic()
    env = dict(docker_env, OPENDAY_BASE_IMAGE=BASE)
    has_base = subprocess.run(
        ["docker", "image", "inspect", BASE], env=env, capture_output=True, timeout=60
    )
    if has_base.returncode != 0 and (os.geteuid() != 0 or shutil.which("debootstrap") is None):
        _no_engine(f"the base image {BASE} is missing, and making it needs root and debootstrap")
    done = subprocess.run(
        ["bash", str(PROJECT_DIR / "docker" / "build.sh"), IMAGE],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    output = done.stdout[-3000:] + "\n" + done.stderr[-3000:]
    assert done.returncode == 0, "image build failed:\n" + output
    print(f"image {IMAGE} built in {time.monotonic() - started:.1f} s")
    # Earlier builds' images, now untagged, would pile up in the kept data root.
    _docker(docker_env, "image", "prune", "--force", check=False)
    return IMAGE


@pytest.fixture
def database_url() -> Iterator[str]:
    """A database of the container's own on the machine's PostgreSQL, else SQLite in the
    container's volume."""
    if not DATABASE_URL.startswith("postgresql"):
        yield "sqlite:////var/lib/openday/openday.db"
        return
    server = make_url(DATABASE_URL)
    name = f"openday_docker_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - local
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_image_serves_as_non_root_with_json_logs(
    docker_env: dict[str, str], image: str, database_url: str
) -> None:
    env = docker_env
    name = f"openday-test-{uuid.uuid4().hex[:8]}"
    volume = f"{name}-var"
    port = free_port()
    common = [
        "--network=host",
        f"--volume={volume}:/var/lib/openday",
        f"--env=OPENDAY_DATABASE_URL={database_url}",
        f"--env=OPENDAY_PORT={port}",
        "--env=OPENDAY_ALLOW_PRIVILEGED_DB_ROLE=true",  # the suite's superuser
    ]
    try:
        # Production order: migrate once (exits 0), then the API.
        _docker(env, "run", "--rm", *common, image, "migrate", timeout=180)
        _docker(env, "run", "--detach", f"--name={name}", *common, image,
                "api", "--host", "127.0.0.1")  # fmt: skip

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        status = 0
        while time.monotonic() < deadline:
            try:
                status, body = _get(base + "/healthz", timeout=2)
            except OSError:
                status = 0
            if status == 200:
                break
            running = _docker(env, "inspect", "--format", "{{.State.Running}}", name).strip()
            assert running == "true", "container exited:\n" + _logs(env, name)
            time.sleep(0.5)
        assert status == 200, "no /healthz within 90 s:\n" + _logs(env, name)
        assert _get(base + "/readyz")[0] == 200
        assert _get(base + "/assets/htmx/htmx.min.js")[0] == 200  # npm assets are in the image
        assert _get(base + "/no-such-page")[0] == 404

        # Not root: the image's user, and the process as the kernel sees it from the host.
        assert _docker(env, "inspect", "--format", "{{.Config.User}}", name).strip() == (
            "openday:openday"
        )
        pid = _docker(env, "inspect", "--format", "{{.State.Pid}}", name).strip()
        uids = next(
            line.split()[1:]
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("Uid:")
        )
        assert set(uids) == {"10001"}, uids
        assert _docker(env, "exec", name, "id", "-u").strip() == "10001"
        # The build's CA bundle stayed in the builder stage.
        leftovers = _docker(env, "exec", name, "sh", "-c",
                            "ls -d /tmp/build /app/docker 2>/dev/null; true")  # fmt: skip
        assert leftovers.strip() == ""

        # Backups run inside the container: pg_dump / pg_restore are in the image (Debian's
        # postgresql-client, the server's major version here), and `openday backup` writes its
        # archive into the volume on either backend (PostgreSQL through pg_dump).
        assert _docker(env, "exec", name, "pg_dump", "--version").startswith("pg_dump (PostgreSQL)")
        assert _docker(env, "exec", name, "pg_restore", "--version").startswith("pg_restore")
        archive = "/var/lib/openday/backups/docker-test.tar"
        written = _docker(env, "exec", name, "openday", "backup", "--output", archive, timeout=300)
        assert written.strip().splitlines()[-1] == archive, written
        _docker(env, "exec", name, "test", "-s", archive)

        # Logs: one JSON object a line, with level, event and timestamp.
        lines = [line for line in _logs(env, name).splitlines() if line.strip()]
        assert len(lines) >= 3, lines
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"log line is not JSON: {line!r}")
        assert all({"event", "level", "timestamp"} <= record.keys() for record in records)
        # The database URL is never printed.
        assert all(database_url not in line for line in lines)
    finally:
        _docker(env, "rm", "--force", name, check=False)
        _docker(env, "volume", "rm", "--force", volume, check=False)


def _logs(env: dict[str, str], name: str) -> str:
    done = subprocess.run(
        ["docker", "logs", name], env=env, capture_output=True, text=True, timeout=30
    )
    return done.stdout + done.stderr
