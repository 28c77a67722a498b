"""The schedule table (活动安排表): reading it (tables), understanding its dates, importing it
atomically (importer; service runs a whole import for the API and the CLI), and the demo."""
