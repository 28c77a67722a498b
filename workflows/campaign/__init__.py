"""A notice's campaign: the campaign record (service), its rule settings with the
notice's defaults (rules), and the scoring rules of the assessment."""
