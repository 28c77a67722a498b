"""Migrations that rewrite or backfill a big table say so: their docstring carries a paragraph
`Big tables: <tables>. <what happens to them>` (`Big tables: none.` for a data change on small
tables only), and docs/operations.md's table "Migrations that rewrite big tables" lists exactly
the ones naming a big table. A new migration that UPDATEs, INSERTs or DELETEs rows, or makes
SQLite copy a big table (batch mode), fails here until it says which."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from settings import PROJECT_DIR

VERSIONS = sorted((PROJECT_DIR / "migrations" / "versions").glob("00*.py"))
OPERATIONS = PROJECT_DIR / "docs" / "operations.md"
# Tables that grow with use: every move, edit, opinion, invitee, message and timer adds rows.
BIG = {
    "event", "feedback_item", "invitee", "transition_log", "change_log", "notification",
    "timer", "outbox", "public_registration", "inbox_message", "attachment", "visit_photo",
}  # fmt: skip
_WRITES = re.compile(
    r"\bUPDATE \w+ SET\b|\bINSERT INTO \w+|\bDELETE FROM \w+|\bsa\.(?:update|insert|delete)\("
)
# Batch operations that make SQLite copy the whole table (create, copy, drop, rename).
_COPIES = re.compile(r"batch_op\.(?:alter_column|drop_column|create_foreign_key|drop_constraint|"
                     r"create_unique_constraint|create_check_constraint)\(")  # fmt: skip
_BATCH = re.compile(r'^( *)with op\.batch_alter_table\("(\w+)"[^\n]*\n((?:\1 [^\n]*\n|\n)*)', re.M)
_MARK = re.compile(r"^Big tables: ([a-z_, ()]+?)\.(?: |$)", re.M)


def _upgrade_source(path: Path) -> str:
    """The module without its downgrade(): what `upgrade` may run."""
    text = path.read_text(encoding="utf-8")
    return text.split("\ndef downgrade(", 1)[0]


def _marked(path: Path) -> set[str] | None:
    """The big tables the docstring names (empty for `none`), None when it has no mark."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    found = _MARK.search(docstring)
    if found is None:
        return None
    names = found.group(1).replace("(read)", "")
    return {n.strip() for n in names.split(",")} - {"none"}


def _copied(source: str) -> set[str]:
    return {m.group(2) for m in _BATCH.finditer(source) if _COPIES.search(m.group(3))}


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.name[:4])
def test_a_migration_that_changes_rows_or_copies_a_big_table_says_so(path: Path) -> None:
    source = _upgrade_source(path)
    marked = _marked(path)
    copied = _copied(source) & BIG
    if _WRITES.search(source) or copied:
        assert marked is not None, f"{path.name}: add a 'Big tables: …' paragraph to the docstring"
    if marked:
        assert marked <= BIG, f"{path.name}: {marked - BIG} is not one of the big tables"
    assert copied <= (marked or set()), f"{path.name}: SQLite copies {copied}; name them"


def test_the_operations_guide_lists_the_migrations_that_rewrite_big_tables() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    section = text.split("**Migrations that rewrite big tables.**", 1)[1].split("\n#", 1)[0]
    cells = [re.sub(r"\(.*?\)", "", c) for c in re.findall(r"^\| ([^|]+) \|", section, re.M)]
    listed = {n for cell in cells for n in re.findall(r"\b00\d\d\b", cell)}
    marked = {path.name[:4] for path in VERSIONS if _marked(path)}
    assert listed == marked
    assert "bench/migration_rows.py" in section
