"""City-level access lines under their own scope, `city:access` (issue 28).

A sign-in (or its failure), a password or second-factor change, an administrator's duty or read,
a refused answer link: each writes an access line in the change log. A city-level account's
line, one about a name no account has, or a forged link's, belongs to no district, and only the
write scopes could insert it: a sign-in's public transaction and a city reader's transaction
(`city:public`, `city:read`) were refused by row-level security when the service ran as its
runtime role. `city:access` (workflows/kernel/tenancy.py `for_access_line`) reads as
`city:read` does and writes rows of no district only: it cannot write any district's row, and
`openday_may_write()` (the child tables' gate) stays false under it.

Revision ID: 0045
Revises: 0044
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0045"
down_revision: str | None = "0044"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SEES = """
CREATE OR REPLACE FUNCTION openday_sees_district(row_district integer, writing boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(
           row_district = nullif(current_setting('openday.district', true), '')::integer,
           false)
      OR coalesce(current_setting('openday.scope', true), '') = ANY (
           CASE WHEN writing THEN ARRAY['city:admin', 'city:sweep', 'city:cli', 'city:migrate']
                ELSE ARRAY['city:read', 'city:public', 'city:access', 'city:admin',
                           'city:sweep', 'city:cli', 'city:migrate'] END)
      OR (writing AND row_district IS NULL
          AND coalesce(current_setting('openday.scope', true), '') = 'city:access')
$$;
"""

_BEFORE = """
CREATE OR REPLACE FUNCTION openday_sees_district(row_district integer, writing boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(
           row_district = nullif(current_setting('openday.district', true), '')::integer,
           false)
      OR coalesce(current_setting('openday.scope', true), '') = ANY (
           CASE WHEN writing THEN ARRAY['city:admin', 'city:sweep', 'city:cli', 'city:migrate']
                ELSE ARRAY['city:read', 'city:public', 'city:admin', 'city:sweep', 'city:cli',
                           'city:migrate'] END)
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_SEES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_BEFORE)
