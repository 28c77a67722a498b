"""A notice's campaign: the campaign record (service), its rule settings with the
notice's defaults (rules), the scoring rules of the assessment, and reading a new notice into
a campaign (notice_words: numerals, shares, periods, windows; notice_import: the rules with
their sentences; notice_campaign: preview and create)."""
