"""A notice's campaign: the campaign record (service), its rule settings with the
notice's defaults (rules), the scoring rules of the assessment, reading a new notice into
a campaign (notice_words: numerals, shares, periods, windows; notice_import: the rules with
their sentences; notice_campaign: preview and create), next year's campaign copied from last
year's (rollover), and the guard that keeps a closed campaign read-only (closure, installed on
every session when this package is imported)."""

from workflows.campaign import closure as closure
