"""Which schema revision a database is at, and whether that is the newest, without loading
Alembic: every start of `openday run` and `openday api` asks this, and importing Alembic and
executing its environment costs ~0.1 s (issue 32's cold start) when the answer is "at head,
nothing to do".

The chain is read from the version files' own `revision = "…"` and `down_revision = "…"`
lines, as Alembic writes them (migrations/script.py.mako). A file that says anything else
(a merge's tuple, branch labels, depends_on, a second assignment) makes `chain()` answer None,
and callers ask Alembic instead; tests/models/test_revisions.py holds the reading to
Alembic's own revision map.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import sqlalchemy as sa

from settings import PROJECT_DIR

VERSIONS = PROJECT_DIR / "migrations" / "versions"
_QUOTED = r"""["']([^"'\n]+)["']"""
_REVISION = re.compile(rf"^revision\s*(?::[^=\n]*)?=\s*{_QUOTED}\s*$", re.MULTILINE)
_DOWN = re.compile(rf"^down_revision\s*(?::[^=\n]*)?=\s*(?:None|{_QUOTED})\s*$", re.MULTILINE)
_ANY_DOWN = re.compile(r"^down_revision\b", re.MULTILINE)
_OTHER = re.compile(r"^(?:branch_labels|depends_on)\s*(?::[^=\n]*)?=(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Chain:
    """Every revision of the service's migrations and the heads (revisions nothing follows)."""

    known: frozenset[str]
    heads: frozenset[str]


@functools.cache
def chain() -> Chain | None:
    """The migrations' revisions and heads from the version files, or None when a file is not
    a plain link of one linear chain (then only Alembic's own reading will do)."""
    known: set[str] = set()
    parents: set[str] = set()
    # Alembic reads every .py file of the folder except __init__ and editor lock files.
    for path in sorted(VERSIONS.glob("*.py")):
        if path.name.startswith(("__init__", ".#")):
            continue
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(text), _DOWN.findall(text)
        plain = len(revision) == 1 and len(down) == 1 and len(_ANY_DOWN.findall(text)) == 1
        unusual = any(value.strip() != "None" for value in _OTHER.findall(text))
        if not plain or unusual or revision[0] in known:
            return None
        known.add(revision[0])
        if down[0]:
            parents.add(down[0])
    if not known or not parents <= known:
        return None
    return Chain(frozenset(known), frozenset(known - parents))


def alembic_chain() -> Chain:
    """The same, from Alembic's revision map (loads every migration module)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    script = ScriptDirectory.from_config(config)
    known = frozenset(r.revision for r in script.walk_revisions())
    return Chain(known, frozenset(script.get_heads()))


def migrations_chain() -> Chain:
    """`chain()`, or Alembic's reading when the files are beyond it."""
    return chain() or alembic_chain()


def database_revisions(conn: sa.Connection) -> frozenset[str] | None:
    """The revisions in the database's alembic_version table (None: there is no such table)."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
    return frozenset(str(r) for r in rows)


def at_head(conn: sa.Connection) -> bool:
    """The database is at the newest revision: `alembic upgrade head` would do nothing. False
    whenever that is not certain (no version table, several heads, files beyond `chain()`)."""
    found = chain()
    if found is None or len(found.heads) != 1:
        return False
    return database_revisions(conn) == found.heads
