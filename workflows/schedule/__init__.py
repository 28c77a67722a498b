"""The schedule table (活动安排表): reading it (tables), understanding its dates,
importing it atomically (importer), and the embedded demo built from it."""
