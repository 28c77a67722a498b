"""The locked install: requirements.lock and requirements-test.lock agree with pyproject.toml
(.ci/check_lock.py, which `make run` / `make test` also run before installing), and the Makefile
and the Dockerfile install from them. Offline and fast: three files are read, nothing resolved."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from settings import PROJECT_DIR

FILES = ("pyproject.toml", "requirements.lock", "requirements-test.lock")


def _check_lock() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_lock", PROJECT_DIR / ".ci/check_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_lock"] = module
    spec.loader.exec_module(module)
    return module


check_lock = _check_lock()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """pyproject.toml and both locks, copied to be spoilt."""
    for name in FILES:
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str, count: int = -1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_the_locks_agree_with_pyproject() -> None:
    """The committed locks pass; when they do not, the message says how to refresh them."""
    found = check_lock.problems(PROJECT_DIR)
    assert not found, (
        "requirements.lock / requirements-test.lock disagree with pyproject.toml: run `make lock` "
        "(needs PyPI) and commit the locks. " + "; ".join(found)
    )


def test_every_pin_has_hashes_and_every_pyproject_pin_is_locked_as_is() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]
    pins, malformed = check_lock.parse_lock((PROJECT_DIR / "requirements-test.lock").read_text())
    assert not malformed
    assert all(pin.hashes >= 1 for pin in pins.values())
    exact = [d for deps in project["optional-dependencies"].values() for d in deps if "==" in d]
    exact += [d for d in project["dependencies"] if "==" in d]
    assert exact, "pyproject pins some tools exactly (ruff, mypy, uv)"
    for dep in exact:
        match = re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", dep.replace(" ", ""))
        assert match is not None, dep
        name, version = match.groups()
        assert pins[check_lock.normalise(name)].version == version, dep
    runtime, _ = check_lock.parse_lock((PROJECT_DIR / "requirements.lock").read_text())
    assert "pytest" not in runtime and "fastapi" in runtime  # the image gets no test tools


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        # a dependency added to pyproject.toml without `make lock`
        ("pyproject.toml", '"pyyaml>=6.0",', '"pyyaml>=6.0",\n    "qrcode==8.2",',
         "qrcode (==8.2) is in pyproject.toml, not in requirements.lock"),
        # a pin pyproject no longer allows
        ("pyproject.toml", '"ruff==0.17.6"', '"ruff==0.17.7"',
         "requirements-test.lock pins ruff==0.17.6, pyproject.toml asks ==0.17.7"),
        # a pin edited by hand in one lock only
        ("requirements.lock", "\nalembic==", "\nalembic==1.0.0.dev0\nx==",
         "alembic==1.0.0.dev0 has no sha256 hash"),
        ("requirements-test.lock", "--hash=sha256:", "--hash=md5:",
         "has no sha256 hash"),
        ("requirements.lock", "# pyproject.toml sha256: ", "# pyproject.toml sha256: 0",
         "requirements.lock has no pyproject.toml fingerprint"),
    ],
)  # fmt: skip
def test_a_lock_that_disagrees_is_refused(
    copy: Path, file: str, old: str, new: str, expected: str
) -> None:
    _edit(copy / file, old, new)
    found = check_lock.problems(copy)
    assert any(expected in problem for problem in found), found


def test_a_dependency_dropped_from_pyproject_but_still_locked_is_refused(copy: Path) -> None:
    _edit(copy / "pyproject.toml", '    "segno>=1.6",', "   ")
    found = check_lock.problems(copy)
    assert any("pyproject.toml's dependencies changed" in p for p in found), found
    assert any("pins segno for pyproject.toml, which no longer names it" in p for p in found)


def test_the_locks_disagreeing_with_each_other_is_refused(copy: Path) -> None:
    pins, _ = check_lock.parse_lock((copy / "requirements.lock").read_text())
    version = pins["alembic"].version
    _edit(copy / "requirements-test.lock", f"\nalembic=={version} ", "\nalembic==0.1 ")
    found = check_lock.problems(copy)
    assert (
        f"requirements.lock pins alembic=={version}, requirements-test.lock alembic==0.1" in found
    )


def test_a_parent_the_lock_does_not_pin_is_refused(copy: Path) -> None:
    _edit(copy / "requirements.lock", "\nfastapi==", "\nfastapi-gone==")
    found = check_lock.problems(copy)
    assert any("pins starlette for fastapi, which it does not pin" in p for p in found), found


def test_the_script_refuses_with_one_line_that_says_how_to_refresh(copy: Path) -> None:
    """What `make run` / `make test` print when someone added a dependency and did not lock."""
    (copy / ".ci").mkdir()
    shutil.copy(PROJECT_DIR / ".ci/check_lock.py", copy / ".ci/check_lock.py")
    script = [sys.executable, str(copy / ".ci/check_lock.py")]
    assert subprocess.run(script, capture_output=True, text=True).returncode == 0
    _edit(copy / "pyproject.toml", '"tenacity>=8.3",', '"tenacity>=8.3",\n    "zxcvbn==4.5.0",')
    before = {name: (copy / name).read_bytes() for name in FILES}
    done = subprocess.run(script, capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "zxcvbn (==4.5.0) is in pyproject.toml, not in requirements.lock" in done.stderr
    assert "run `make lock`" in done.stderr
    assert before == {name: (copy / name).read_bytes() for name in FILES}  # nothing written


@pytest.mark.parametrize(
    ("spec", "version", "ok"),
    [
        (">=0.115", "0.120.4", True), (">=3.2", "3.2", True), (">=3.2", "3.2.0", True),
        (">=3.2", "3.1.9", False), ("==0.17.6", "0.17.6", True), ("==0.17.6", "0.17.60", False),
        (">=1.0", "1.0rc1", False), (">=1.0,<2", "1.9.9", True), (">=1.0,<2", "2.0", False),
        ("~=1.4", "1.9", True), ("~=1.4", "2.0", False), ("!=1.2", "1.2.0", False),
        ("==1.*", "1.7", True), ("", "9", True),
    ],
)  # fmt: skip
def test_version_specifiers(spec: str, version: str, ok: bool) -> None:
    assert check_lock.allows(spec, version) is ok


def test_make_and_the_image_install_from_the_locks() -> None:
    """make's install step and the Dockerfile's deps stage: hashes required, the project alone."""
    makefile = (PROJECT_DIR / "Makefile").read_text()
    stamp_rule = makefile.split("$(STAMP): ", 1)[1].split("\n\n", 1)[0]
    assert "$(LOCK) $(TEST_LOCK)" in stamp_rule.splitlines()[0]
    assert ".ci/check_lock.py" in stamp_rule
    assert "pip install --quiet --require-hashes -r $(TEST_LOCK)" in stamp_rule
    assert "pip install --quiet --no-deps -e ." in stamp_rule
    assert "\nlock:" in makefile and "--generate-hashes" in makefile
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text()
    assert "pip install -q --require-hashes -r /tmp/build/requirements.lock" in dockerfile
    assert "pip install -q --no-deps -e ." in dockerfile
