"""Stored files: the content-addressed store, what an upload really is (file types),
and the archive guard checked before any parser opens a .docx or .xlsx."""
