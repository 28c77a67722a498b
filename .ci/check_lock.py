"""Do requirements.lock and requirements-test.lock agree with pyproject.toml?

    python3 .ci/check_lock.py            # exit 1 with one line naming the first disagreement
    python3 .ci/check_lock.py --stamp    # `make lock` only: record pyproject's fingerprint

Standard library only: `make run` / `make test` run it with the system Python before a virtualenv
exists, and tests/ops/test_lock.py imports it. Offline: it reads three files and nothing else.

The locks are made by `make lock` (uv pip compile --generate-hashes): requirements.lock holds the
runtime dependencies (the Docker image installs it), requirements-test.lock those plus the `test`
extra (`make run` / `make test` install it), resolved with the runtime lock as constraints. Checked:
- each lock carries the fingerprint of pyproject.toml's requires-python, dependencies and
  optional dependencies that `make lock` wrote (any edit of them needs a new lock);
- every dependency pyproject.toml names is pinned in the lock, at a version its specifier allows
  (`name==X` in pyproject: exactly X);
- every pin is `name==version` with at least one sha256 hash (pip --require-hashes installs it);
- no package is pinned twice; every package the lock says it is pinned for ("# via") is itself
  pinned (or is the project); what it says comes from pyproject.toml is named there;
- the test lock pins every runtime package at the runtime lock's version.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = "requirements.lock"
TEST_LOCK = "requirements-test.lock"
FIX = "run `make lock` (needs PyPI) and commit pyproject.toml with both lock files"
_FINGERPRINT = re.compile(r"^# pyproject\.toml sha256: ([0-9a-f]{64})\b", re.M)
_REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[(?P<extras>[^\]]*)\])?"
    r"\s*(?P<spec>[^;]*?)\s*(?:;(?P<marker>.*))?$"
)
_CLAUSE = re.compile(r"^(===|==|!=|~=|>=|<=|>|<)\s*(\S+)$")
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;]+)\s*(?:;.*)?$")
PROJECT = "openday (pyproject.toml)"


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of - _ . as one -."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Pin:
    version: str
    hashes: int
    via: list[str] = field(default_factory=list)


def fingerprint(pyproject: dict) -> str:
    """sha256 of what pyproject.toml says to resolve (order and spacing of entries ignored)."""
    project = pyproject["project"]
    spec = {
        "requires-python": project.get("requires-python", ""),
        "dependencies": sorted(d.replace(" ", "") for d in project.get("dependencies", [])),
        "optional": {
            extra: sorted(d.replace(" ", "") for d in deps)
            for extra, deps in sorted(project.get("optional-dependencies", {}).items())
        },
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def parse_lock(text: str) -> tuple[dict[str, Pin], list[str]]:
    """Pins of a uv/pip-compile requirements file with hashes, and what is malformed in it."""
    pins: dict[str, Pin] = {}
    problems: list[str] = []
    current: Pin | None = None
    entry = ""
    in_via = False
    for raw in text.splitlines():
        if entry or (raw and not raw[0].isspace() and not raw.startswith("#")):
            entry += raw.rstrip("\\").strip() + " "
            if raw.endswith("\\"):
                continue
            current, entry, in_via = _add_pin(entry.strip(), pins, problems), "", False
            continue
        comment = raw.strip()
        if current is None or not comment.startswith("#"):
            continue
        body = comment.lstrip("#").strip()
        if body.startswith("via"):
            rest = body[3:].strip()
            in_via = not rest
            if rest:
                current.via.append(rest)
        elif in_via and body:
            current.via.append(body)
    return pins, problems


def _add_pin(entry: str, pins: dict[str, Pin], problems: list[str]) -> Pin | None:
    words = entry.split(" --hash=")
    match = _PIN.match(words[0].strip())
    if match is None:
        problems.append(f"{words[0].strip()!r} is not pinned as name==version")
        return None
    name = normalise(match["name"])
    hashes = [w for w in words[1:] if w.strip().startswith("sha256:")]
    if not hashes:
        problems.append(f"{name}=={match['version']} has no sha256 hash")
    if name in pins:
        problems.append(f"{name} is pinned twice")
    pins[name] = Pin(match["version"], len(hashes))
    return pins[name]


def _release(version: str) -> tuple[tuple[int, ...], str]:
    """A version's numeric release and the rest (pre/post/dev/local), for comparing."""
    match = re.match(r"^v?(\d+(?:\.\d+)*)(.*)$", version.strip())
    if match is None:
        return (), version
    numbers = tuple(int(p) for p in match[1].split("."))
    while numbers and numbers[-1] == 0:
        numbers = numbers[:-1]
    return numbers, match[2]


def allows(spec: str, version: str) -> bool:
    """Does a PEP 440 specifier (the usual operators, releases compared numerically) allow it?"""
    have, suffix = _release(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = _CLAUSE.match(clause)
        if match is None:
            return False
        op, want_text = match.groups()
        if want_text.endswith(".*"):
            prefix = _release(want_text[:-2])[0]
            same = have[: len(prefix)] == prefix or (not prefix and not have)
            if (op == "==") != same:
                return False
            continue
        want, want_suffix = _release(want_text)
        exact = have == want and suffix == want_suffix
        ok = {
            "==": exact,
            "===": version == want_text,
            "!=": not exact,
            ">=": have > want or (have == want and (not suffix or "post" in suffix or exact)),
            "<=": have < want or exact,
            ">": have > want,
            "<": have < want,
            "~=": have >= want and have[: max(len(want) - 1, 1)] == want[: max(len(want) - 1, 1)],
        }[op]
        if not ok:
            return False
    return True


def _requirements(deps: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for dep in deps:
        match = _REQUIREMENT.match(dep)
        if match is not None:
            out[normalise(match["name"])] = match["spec"].strip()
    return out


def _check_one(lock: str, text: str, fingerprint_: str, wanted: dict[str, str]) -> list[str]:
    found = _FINGERPRINT.search(text)
    if found is None:
        return [f"{lock} has no pyproject.toml fingerprint (not written by `make lock`)"]
    pins, problems = parse_lock(text)
    for name, spec in wanted.items():
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{name} ({spec or 'any version'}) is in pyproject.toml, not in {lock}")
        elif not allows(spec, pin.version):
            problems.append(f"{lock} pins {name}=={pin.version}, pyproject.toml asks {spec}")
    for name, pin in pins.items():
        for parent in pin.via:
            if parent == PROJECT:
                if name not in wanted:
                    problems.append(
                        f"{lock} pins {name} for pyproject.toml, which no longer names it"
                    )
            elif not parent.startswith("-") and normalise(parent) not in pins:
                problems.append(f"{lock} pins {name} for {parent}, which it does not pin")
    if found[1] != fingerprint_:  # last: the lines above say what changed, where they can
        problems.append(f"pyproject.toml's dependencies changed since {lock} was made")
    return problems


def problems(root: Path = ROOT) -> list[str]:
    """Every disagreement between pyproject.toml and the two locks under `root` (none: [])."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    runtime = _requirements(project.get("dependencies", []))
    everything = dict(runtime)
    for deps in project.get("optional-dependencies", {}).values():
        everything.update(_requirements(deps))
    expected = fingerprint(pyproject)
    texts: dict[str, str] = {}
    out: list[str] = []
    for lock in (RUNTIME_LOCK, TEST_LOCK):
        path = root / lock
        if not path.is_file():
            out.append(f"{lock} is missing")
            continue
        texts[lock] = path.read_text(encoding="utf-8")
    if out:
        return out
    out += _check_one(RUNTIME_LOCK, texts[RUNTIME_LOCK], expected, runtime)
    out += _check_one(TEST_LOCK, texts[TEST_LOCK], expected, everything)
    test_pins = parse_lock(texts[TEST_LOCK])[0]
    for name, pin in parse_lock(texts[RUNTIME_LOCK])[0].items():
        other = test_pins.get(name)
        if other is not None and other.version != pin.version:
            out.append(
                f"{RUNTIME_LOCK} pins {name}=={pin.version}, {TEST_LOCK} {name}=={other.version}"
            )
    return out


def stamp(root: Path = ROOT) -> None:
    """Write pyproject.toml's fingerprint into both locks, after their header (`make lock`)."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    line = (
        f"# pyproject.toml sha256: {fingerprint(pyproject)} (written by `make lock`, "
        "checked by .ci/check_lock.py)"
    )
    for lock in (RUNTIME_LOCK, TEST_LOCK):
        path = root / lock
        lines = [
            x for x in path.read_text(encoding="utf-8").splitlines() if not _FINGERPRINT.match(x)
        ]
        header = next((i for i, x in enumerate(lines) if not x.startswith("#")), len(lines))
        lines.insert(header, line)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if argv[1:] == ["--stamp"]:
        stamp()
    found = problems()
    if not found:
        return 0
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    print(f"lock check: {found[0]}{more}; {FIX}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
